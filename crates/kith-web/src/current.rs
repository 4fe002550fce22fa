//! The workspace a dashboard page works in: `?workspace_id=` when given (another tenant's, or not an id: the 404
//! page), else the one remembered from the switcher when it is still the caller's, else the first one. Checked in
//! the caller's own transaction with the same `workspace_ctx` every `/api` workspace route uses.

use crate::api::Refusal;
use crate::auth_pages::see_other;
use crate::errors::{error_page, forbidden_response, internal_error_response, not_found_response};
use crate::session::unavailable;
use axum::http::StatusCode;
use axum::response::Response;
use chrono_tz::Tz;
use kith_auth::browser::BrowserSession;
use kith_crm::context::{OrgRole, WorkspaceCtx, mfa_required, needs_mfa, no_organization, workspace_ctx};
use kith_crm::workspaces::{Reachable, reachable};
use kith_db::CallerTx;
use kith_http::{ApiError, AuthUser};
use uuid::Uuid;

/// The caller's workspace for this page.
pub struct Current {
    /// The checked context (organization, workspace, role).
    pub ctx: WorkspaceCtx,
    /// The workspace's name with its organization's.
    pub label: String,
    /// The caller's time zone.
    pub tz: Tz,
}

impl Current {
    /// Whether the caller may write (members and up).
    pub fn can_write(&self) -> bool {
        self.ctx.role >= OrgRole::Member
    }
}

/// The `workspace_id` of a query string: `None` when absent, `Some(None)` when not a UUID.
pub fn asked(query: Option<&str>) -> Option<Option<Uuid>> {
    let raw = url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "workspace_id")
        .map(|(_, v)| v.into_owned())?;
    Some(Uuid::parse_str(raw.trim()).ok())
}

/// Resolves the page's workspace inside `tx`; `Ok(None)` when the asked one is not the caller's.
pub async fn resolve(
    tx: &mut CallerTx,
    session: &BrowserSession,
    asked: Option<Option<Uuid>>,
    remembered: Option<&str>,
) -> Result<Option<Current>, ApiError> {
    let user = AuthUser {
        caller: session.caller.clone(),
        user_id: session.user_id,
    };
    let mine: Vec<Reachable> = reachable(tx, user.user_id).await?;
    if mine.is_empty() {
        if needs_mfa(tx).await? {
            return Err(mfa_required());
        }
        return Err(no_organization());
    }
    let remembered = remembered.and_then(|raw| Uuid::parse_str(raw).ok());
    let chosen = match asked {
        None => remembered
            .filter(|id| mine.iter().any(|w| w.id == *id))
            .unwrap_or(mine[0].id),
        Some(Some(id)) if mine.iter().any(|w| w.id == id) => id,
        Some(_) => return Ok(None),
    };
    let ctx = workspace_ctx(tx, &user, chosen, OrgRole::Viewer).await?;
    let label = mine
        .iter()
        .find(|w| w.id == chosen)
        .map(|w| format!("{} — {}", w.org_name, w.name))
        .unwrap_or_default();
    let tz = kith_crm::profile::timezone(tx, user.user_id).await?;
    Ok(Some(Current { ctx, label, tz }))
}

/// The page for an `/api` error met while loading a dashboard page (never a 500 for what the caller cannot see);
/// a user in no organization is sent to the overview's first step.
pub fn refused(err: &ApiError) -> Response {
    match err.code() {
        "mfa_required" => error_page(
            StatusCode::FORBIDDEN,
            "Second factor required",
            "Your organization requires a second factor, and this session was signed in with a password only.",
        ),
        "no_organization" => crate::auth_pages::see_other("/dashboard/overview"),
        _ => match err.status() {
            StatusCode::NOT_FOUND => not_found_response(),
            StatusCode::FORBIDDEN => forbidden_response(),
            StatusCode::SERVICE_UNAVAILABLE => unavailable(),
            _ => internal_error_response(),
        },
    }
}

/// A refused write (`None`: a refusal the form shows itself, such as a field error): the 403 page for what the role may not do, the 404 page for what the caller cannot see.
pub fn refused_write(refusal: &Refusal) -> Option<Response> {
    Some(match refusal.status {
        StatusCode::UNAUTHORIZED => see_other("/login"),
        StatusCode::NOT_FOUND => not_found_response(),
        StatusCode::FORBIDDEN => error_page(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &format!("{} Nothing was changed.", refusal.message.trim_end_matches('.')),
        ),
        StatusCode::SERVICE_UNAVAILABLE => unavailable(),
        s if s.is_server_error() => internal_error_response(),
        _ => return None,
    })
}
