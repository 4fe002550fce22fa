//! `/dashboard/settings`: the caller's profile (name, time zone, password), their organization (name, members
//! with role changes and removal, invitations sent, sent again and revoked), its workspaces, and for admins the
//! anon API key and the data API's URL.
//!
//! The page is read in one read-only caller transaction (`kith_crm::pages`); every form goes through the `/api`
//! or `/auth/v1` handler a bearer client would call (`api.rs`), so the role rules are the API's own. Controls a
//! role may not use are left out of the page, not disabled; a forged post is refused by the API all the same.

use crate::WebState;
use crate::api::{self, Refusal};
use crate::auth_pages::{form, see_other};
use crate::errors::{error_page, forbidden_response, internal_error_response, not_found_response};
use crate::render::{Chrome, page};
use crate::session::{Visitor, unavailable};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use kith_auth::browser::BrowserSession;
use kith_crm::context::{OrgRole, mfa_required, needs_mfa};
use kith_crm::pages::{self as store, InvitationView, MemberView, OrgSummary};
use kith_db::Access;
use kith_http::ApiError;
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Where a form's error is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Profile,
    Password,
    Organization,
    Members,
    Invitations,
    Workspaces,
}

impl Form {
    fn parse(action: &str) -> Option<Self> {
        Some(match action {
            "profile" => Form::Profile,
            "password" => Form::Password,
            "organization" => Form::Organization,
            "members" | "members/remove" => Form::Members,
            "invitations" | "invitations/resend" | "invitations/revoke" => Form::Invitations,
            "workspaces" | "workspaces/rename" | "workspaces/delete" => Form::Workspaces,
            _ => return None,
        })
    }

    fn id(self) -> &'static str {
        match self {
            Form::Profile => "profile",
            Form::Password => "password",
            Form::Organization => "organization",
            Form::Members => "members",
            Form::Invitations => "invitations",
            Form::Workspaces => "workspaces",
        }
    }
}

/// What the page says after a successful form (a fixed list: nothing from the request is echoed).
fn notice(done: &str) -> Option<&'static str> {
    Some(match done {
        "profile" => "Your profile was saved.",
        "password" => "Your password was changed. Other devices were signed out.",
        "organization" => "The organization was renamed.",
        "members" => "The member's role was changed.",
        "members/remove" => "The member was removed.",
        "invitations" => "The invitation was sent.",
        "invitations/resend" => "The invitation was sent again with a new link; the old link no longer works.",
        "invitations/revoke" => "The invitation was revoked.",
        "workspaces" => "The workspace was created.",
        "workspaces/rename" => "The workspace was renamed.",
        "workspaces/delete" => "The workspace was deleted.",
        _ => return None,
    })
}

struct OrgOption {
    id: Uuid,
    name: String,
    selected: bool,
}

struct MemberRow {
    user_id: Uuid,
    label: String,
    email: String,
    role: &'static str,
    /// Roles the caller may give this member (empty: no control).
    roles: Vec<(&'static str, bool)>,
    can_remove: bool,
    is_self: bool,
}

struct InvitationRow {
    id: Uuid,
    email: String,
    role: &'static str,
    expires: String,
}

struct WorkspaceRow {
    id: Uuid,
    name: String,
}

struct FormError {
    form: &'static str,
    field: Option<String>,
    message: String,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    email: String,
    notice: Option<&'static str>,
    error: Option<FormError>,
    full_name: String,
    timezone: String,
    timezones: &'static [chrono_tz::Tz],
    min_password: usize,
    orgs: Vec<OrgOption>,
    org_id: Option<Uuid>,
    org_name: String,
    role: &'static str,
    /// Owners rename the organization.
    is_owner: bool,
    /// Admins manage members below admin, invitations and workspaces, and see the API key.
    is_admin: bool,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    invite_roles: Vec<&'static str>,
    workspaces: Vec<WorkspaceRow>,
    anon_key: Option<String>,
    project_url: String,
}

impl SettingsPage {
    fn error_for(&self, form: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.form == form)
            .map(|e| e.message.as_str())
    }

    fn field_is(&self, form: &str, field: &str) -> bool {
        self.error
            .as_ref()
            .is_some_and(|e| e.form == form && e.field.as_deref() == Some(field))
    }
}

/// Roles `actor` may give a member who now has `current` (the API's rule, here only to choose the controls).
fn assignable(actor: OrgRole, current: OrgRole) -> Vec<OrgRole> {
    use OrgRole::{Admin, Member, Owner, Viewer};
    match actor {
        Owner => vec![Viewer, Member, Admin, Owner],
        Admin if current <= Member => vec![Viewer, Member],
        _ => Vec::new(),
    }
}

fn removable(actor: OrgRole, current: OrgRole, is_self: bool) -> bool {
    is_self || actor == OrgRole::Owner || (actor == OrgRole::Admin && current <= OrgRole::Member)
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The anon key for integrations: the same claims `kith keys` signs, issued at the start of the current day so
/// the page shows one key a day rather than a new one per visit.
fn anon_key(state: &WebState) -> Option<String> {
    let now = Utc::now().timestamp();
    let iat = now - now.rem_euclid(86_400);
    let claims = json!({"iss": "kith", "ref": "kith", "role": "anon", "iat": iat, "exp": iat + 10 * 365 * 86_400});
    state.auth().signer().sign(&claims).ok()
}

/// The page for an error met while loading (never a 500 for what the caller cannot see).
fn load_refused(err: &ApiError) -> Response {
    if err.code() == "mfa_required" {
        return error_page(
            StatusCode::FORBIDDEN,
            "Second factor required",
            "Your organization requires a second factor, and this session was signed in with a password only.",
        );
    }
    match err.status() {
        StatusCode::NOT_FOUND => not_found_response(),
        StatusCode::FORBIDDEN => forbidden_response(),
        StatusCode::SERVICE_UNAVAILABLE => unavailable(),
        _ => internal_error_response(),
    }
}

/// Reads everything the page shows in one read-only caller transaction; `None` when `asked` is not one of the
/// caller's organizations.
async fn load(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    asked: Option<&str>,
) -> Result<Option<SettingsPage>, ApiError> {
    let mut chrome = Chrome::new("Settings", "Your profile, organization and workspaces.", "");
    chrome.csrf = visitor.csrf();
    chrome.user_email = Some(session.email.clone());
    chrome.dashboard = "settings";
    let mut tx = state.db().begin_as(&session.caller, Access::ReadOnly).await?;
    let profile = store::my_profile(&mut tx, session.user_id).await?;
    let orgs = store::my_organizations(&mut tx, session.user_id).await?;
    let remembered = visitor.workspace.as_deref().and_then(|raw| Uuid::parse_str(raw).ok());
    let chosen: Option<&OrgSummary> = match asked {
        Some(raw) => match Uuid::parse_str(raw.trim())
            .ok()
            .and_then(|id| orgs.iter().find(|o| o.id == id))
        {
            Some(org) => Some(org),
            None => return Ok(None),
        },
        None => {
            let of_workspace = match remembered {
                Some(w) => store::workspace_org(&mut tx, w).await?,
                None => None,
            };
            of_workspace
                .and_then(|id| orgs.iter().find(|o| o.id == id))
                .or(orgs.first())
        }
    };
    if orgs.is_empty() && needs_mfa(&mut tx).await? {
        return Err(mfa_required());
    }
    let mut template = SettingsPage {
        chrome,
        email: session.email.clone(),
        notice: None,
        error: None,
        full_name: profile.full_name.unwrap_or_default(),
        timezone: profile.timezone,
        timezones: &chrono_tz::TZ_VARIANTS,
        min_password: state.auth().settings().min_password_length,
        orgs: orgs
            .iter()
            .map(|o| OrgOption {
                id: o.id,
                name: o.name.clone(),
                selected: chosen.is_some_and(|c| c.id == o.id),
            })
            .collect(),
        org_id: None,
        org_name: String::new(),
        role: "",
        is_owner: false,
        is_admin: false,
        members: Vec::new(),
        invitations: Vec::new(),
        invite_roles: Vec::new(),
        workspaces: Vec::new(),
        anon_key: None,
        project_url: state.settings().site_url.as_str().trim_end_matches('/').to_owned(),
    };
    if let Some(org) = chosen {
        let members: Vec<MemberView> = store::members(&mut tx, org.id).await?;
        let invitations: Vec<InvitationView> = if org.role >= OrgRole::Admin {
            store::pending_invitations(&mut tx, org.id).await?
        } else {
            Vec::new()
        };
        let workspaces = store::org_workspaces(&mut tx, org.id).await?;
        template.org_id = Some(org.id);
        template.org_name = org.name.clone();
        template.role = org.role.as_str();
        template.is_owner = org.role == OrgRole::Owner;
        template.is_admin = org.role >= OrgRole::Admin;
        template.members = members
            .into_iter()
            .map(|m| {
                let is_self = m.user_id == session.user_id;
                let roles = if is_self && org.role != OrgRole::Owner {
                    Vec::new()
                } else {
                    assignable(org.role, m.role)
                };
                MemberRow {
                    user_id: m.user_id,
                    label: m
                        .full_name
                        .clone()
                        .filter(|n| !n.is_empty())
                        .or_else(|| m.email.clone())
                        .unwrap_or_else(|| "Unnamed member".into()),
                    email: m.email.unwrap_or_default(),
                    role: m.role.as_str(),
                    roles: roles.into_iter().map(|r| (r.as_str(), r == m.role)).collect(),
                    can_remove: removable(org.role, m.role, is_self),
                    is_self,
                }
            })
            .collect();
        let now = Utc::now();
        template.invitations = invitations
            .into_iter()
            .map(|i| InvitationRow {
                id: i.id,
                email: i.email,
                role: i.role.as_str(),
                expires: if i.expires_at <= now {
                    "expired".to_owned()
                } else {
                    format!("expires {}", i.expires_at.format("%Y-%m-%d"))
                },
            })
            .collect();
        template.invite_roles = match org.role {
            OrgRole::Owner => vec!["viewer", "member", "admin", "owner"],
            OrgRole::Admin => vec!["viewer", "member"],
            _ => Vec::new(),
        };
        template.workspaces = workspaces
            .into_iter()
            .map(|w| WorkspaceRow { id: w.id, name: w.name })
            .collect();
        if template.is_admin {
            template.anon_key = anon_key(state);
        }
    }
    tx.commit().await?;
    Ok(Some(template))
}

/// `GET /dashboard/settings[?org_id=][&done=]`.
pub async fn show(state: &WebState, visitor: &mut Visitor, session: &BrowserSession, query: Option<&str>) -> Response {
    let asked = query_value(query, "org_id");
    match load(state, visitor, session, asked.as_deref()).await {
        Ok(Some(mut template)) => {
            template.notice = query_value(query, "done").as_deref().and_then(notice);
            page(StatusCode::OK, &template)
        }
        Ok(None) => not_found_response(),
        Err(err) => load_refused(&err),
    }
}

fn value<'a>(fields: &'a HashMap<String, String>, name: &str) -> &'a str {
    fields.get(name).map_or("", String::as_str)
}

fn path_id(fields: &HashMap<String, String>, name: &str) -> Result<Uuid, Refusal> {
    Uuid::parse_str(value(fields, name).trim()).map_err(|_| Refusal {
        status: StatusCode::NOT_FOUND,
        code: "not_found".into(),
        field: Some(name.to_owned()),
        message: "Not found".into(),
    })
}

/// Runs one form's `/api` call(s).
async fn perform(
    state: &WebState,
    session: &BrowserSession,
    action: &str,
    fields: &HashMap<String, String>,
) -> Result<(), Refusal> {
    let text = |name: &str| Value::String(value(fields, name).to_owned());
    match action {
        "profile" => {
            let name = value(fields, "full_name").trim();
            let body = json!({"full_name": if name.is_empty() { Value::Null } else { json!(name) },
                              "timezone": text("timezone")});
            api::call(state, session, Method::PATCH, "/api/profile", Some(&body)).await?;
        }
        "password" => {
            let body = json!({"password": text("password"), "current_password": text("current_password")});
            api::call(state, session, Method::PUT, "/auth/v1/user", Some(&body)).await?;
        }
        "organization" => {
            let org = path_id(fields, "org_id")?;
            let body = json!({"name": text("name")});
            api::call(
                state,
                session,
                Method::PATCH,
                &format!("/api/organizations/{org}"),
                Some(&body),
            )
            .await?;
        }
        "members" => {
            let (org, user) = (path_id(fields, "org_id")?, path_id(fields, "user_id")?);
            let body = json!({"role": text("role")});
            let path = format!("/api/organizations/{org}/members/{user}");
            api::call(state, session, Method::PATCH, &path, Some(&body)).await?;
        }
        "members/remove" => {
            let (org, user) = (path_id(fields, "org_id")?, path_id(fields, "user_id")?);
            let path = format!("/api/organizations/{org}/members/{user}");
            api::call(state, session, Method::DELETE, &path, None).await?;
        }
        "invitations" => {
            let org = path_id(fields, "org_id")?;
            let body = json!({"email": text("email"), "role": text("role")});
            let path = format!("/api/organizations/{org}/invitations");
            api::call(state, session, Method::POST, &path, Some(&body)).await?;
        }
        "invitations/resend" => {
            // Only the token's hash is stored, so sending again means a new invitation (a new link) for the same
            // address and role, then revoking the old one: its link stops working.
            let (org, id) = (path_id(fields, "org_id")?, path_id(fields, "id")?);
            let old = read_invitation(state, session, org, id).await?;
            let body = json!({"email": old.email, "role": old.role.as_str()});
            let path = format!("/api/organizations/{org}/invitations");
            api::call(state, session, Method::POST, &path, Some(&body)).await?;
            let path = format!("/api/organizations/{org}/invitations/{id}");
            api::call(state, session, Method::DELETE, &path, None).await?;
        }
        "invitations/revoke" => {
            let (org, id) = (path_id(fields, "org_id")?, path_id(fields, "id")?);
            let path = format!("/api/organizations/{org}/invitations/{id}");
            api::call(state, session, Method::DELETE, &path, None).await?;
        }
        "workspaces" => {
            let org = path_id(fields, "org_id")?;
            let body = json!({"org_id": org, "name": text("name")});
            api::call(state, session, Method::POST, "/api/workspaces", Some(&body)).await?;
        }
        "workspaces/rename" => {
            let id = path_id(fields, "id")?;
            let body = json!({"name": text("name")});
            api::call(
                state,
                session,
                Method::PATCH,
                &format!("/api/workspaces/{id}"),
                Some(&body),
            )
            .await?;
        }
        "workspaces/delete" => {
            let id = path_id(fields, "id")?;
            api::call(state, session, Method::DELETE, &format!("/api/workspaces/{id}"), None).await?;
        }
        _ => {
            return Err(Refusal {
                status: StatusCode::NOT_FOUND,
                code: "not_found".into(),
                field: None,
                message: "Not found".into(),
            });
        }
    }
    Ok(())
}

/// The pending invitation to send again, read as the caller (admins only, by RLS and the role check).
async fn read_invitation(
    state: &WebState,
    session: &BrowserSession,
    org: Uuid,
    id: Uuid,
) -> Result<InvitationView, Refusal> {
    let to_refusal = |err: ApiError| Refusal {
        status: err.status(),
        code: err.code().to_owned(),
        field: None,
        message: "The invitation could not be read.".into(),
    };
    let mut tx = state
        .db()
        .begin_as(&session.caller, Access::ReadOnly)
        .await
        .map_err(|e| to_refusal(e.into()))?;
    let found = store::invitation(&mut tx, org, id)
        .await
        .map_err(|e| to_refusal(e.into()))?;
    tx.commit().await.map_err(|e| to_refusal(e.into()))?;
    found.ok_or(Refusal {
        status: StatusCode::NOT_FOUND,
        code: "not_found".into(),
        field: None,
        message: "Not found".into(),
    })
}

/// `POST /dashboard/settings/{action}`: one form, then back to the page (303) with a notice, or the page again
/// with the API's refusal next to the form.
pub async fn submit(
    State(state): State<WebState>,
    mut visitor: Visitor,
    Path(action): Path<String>,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let Some(session) = visitor.session.clone() else {
        return visitor.finish(see_other("/login?next=%2Fdashboard%2Fsettings"));
    };
    let Some(which) = Form::parse(&action) else {
        return visitor.finish(not_found_response());
    };
    let org_query = fields
        .get("org_id")
        .and_then(|raw| Uuid::parse_str(raw.trim()).ok())
        .map(|id| format!("org_id={id}&"))
        .unwrap_or_default();
    match perform(&state, &session, &action, &fields).await {
        Ok(()) if which == Form::Password => {
            // A new password ends every session of the user, this one included: sign this browser in again with
            // it, as the reset page does.
            match state
                .auth()
                .browser_sign_in(&visitor.client, &session.email, value(&fields, "password"), None)
                .await
            {
                Ok(new) => {
                    let cookies = &visitor.cookies;
                    let mut response = see_other("/dashboard/settings?done=password");
                    response.headers_mut().append(
                        header::SET_COOKIE,
                        cookies.set(cookies.session, &new.id, visitor.session_max_age),
                    );
                    visitor.finish(response)
                }
                Err(_) => visitor.finish(see_other("/login?next=%2Fdashboard%2Fsettings")),
            }
        }
        Ok(()) => {
            let encoded: String = url::form_urlencoded::byte_serialize(action.as_bytes()).collect();
            visitor.finish(see_other(&format!("/dashboard/settings?{org_query}done={encoded}")))
        }
        Err(refusal) => {
            let response = refused_form(&state, &mut visitor, &session, which, &fields, refusal).await;
            visitor.finish(response)
        }
    }
}

/// The answer to a refused form: the page again with the message next to the form for what the user can fix; the
/// 403 or 404 page for what they may not do or cannot see.
async fn refused_form(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    which: Form,
    fields: &HashMap<String, String>,
    refusal: Refusal,
) -> Response {
    match refusal.status {
        StatusCode::UNAUTHORIZED => return see_other("/login?next=%2Fdashboard%2Fsettings"),
        StatusCode::NOT_FOUND => return not_found_response(),
        StatusCode::FORBIDDEN if refusal.code != "reauthentication_needed" => {
            return error_page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                &format!("{} Nothing was changed.", sentence(&refusal.message)),
            );
        }
        StatusCode::SERVICE_UNAVAILABLE => return unavailable(),
        status if status.is_server_error() => return internal_error_response(),
        _ => {}
    }
    let asked = fields.get("org_id").map(String::as_str);
    match load(
        state,
        visitor,
        session,
        asked.filter(|a| Uuid::parse_str(a.trim()).is_ok()),
    )
    .await
    {
        Ok(Some(mut template)) => {
            if which == Form::Profile {
                template.full_name = value(fields, "full_name").to_owned();
            }
            template.error = Some(FormError {
                form: which.id(),
                field: refusal.field.clone(),
                message: sentence(&refusal.message),
            });
            page(refusal.status, &template)
        }
        Ok(None) => not_found_response(),
        Err(err) => load_refused(&err),
    }
}

/// The API's message as a sentence.
fn sentence(message: &str) -> String {
    let mut text = message.trim().to_owned();
    if let Some(first) = text.get(0..1) {
        let upper = first.to_uppercase();
        text.replace_range(0..1, &upper);
    }
    if !text.ends_with('.') {
        text.push('.');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_follow_the_api_role_rules() {
        use OrgRole::{Admin, Member, Owner, Viewer};
        assert_eq!(assignable(Owner, Owner).len(), 4);
        assert_eq!(assignable(Admin, Member), vec![Viewer, Member]);
        assert!(assignable(Admin, Admin).is_empty());
        assert!(assignable(Member, Viewer).is_empty());
        assert!(assignable(Viewer, Viewer).is_empty());
        assert!(removable(Viewer, Viewer, true), "anyone may leave");
        assert!(!removable(Viewer, Member, false));
        assert!(removable(Admin, Member, false));
        assert!(!removable(Admin, Owner, false));
        assert!(removable(Owner, Admin, false));
    }

    #[test]
    fn notices_come_from_a_fixed_list() {
        assert!(notice("profile").is_some());
        assert!(notice("<script>").is_none());
        assert_eq!(sentence("must be an email"), "Must be an email.");
        assert_eq!(sentence(""), ".");
    }
}
