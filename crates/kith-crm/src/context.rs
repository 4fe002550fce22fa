//! Workspace validation, once: every org-, workspace- or item-scoped route turns its request into a
//! [`WorkspaceCtx`] (or [`OrgCtx`]) here, or answers with DESIGN §4's errors.
//!
//! Guarantees: the lookup runs inside the caller's own transaction, so row-level security alone decides whether the
//! workspace, organization or item is visible; the role check here only chooses the precise error (RLS refuses the
//! write anyway). Errors, in order: 403 `no_organization` when the caller belongs to no organization,
//! 403 `workspace_forbidden` (workspace in none of the caller's organizations) or 404 `not_found` (organization or
//! item not visible), then 403 `insufficient_role`. Logs carry ids only.

use axum::http::StatusCode;
use kith_db::{Access, CallerTx, Db};
use kith_http::{ApiError, ApiResult, AuthUser};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A member's role in an organization, weakest first (the order `Ord` and Postgres' enum agree on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrgRole {
    /// Reads.
    Viewer,
    /// Also writes contacts, interactions and events.
    Member,
    /// Also manages workspaces, members below admin and invitations.
    Admin,
    /// Also manages the organization, admins and owners.
    Owner,
}

impl OrgRole {
    /// The name in Postgres and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Viewer => "viewer",
            OrgRole::Member => "member",
            OrgRole::Admin => "admin",
            OrgRole::Owner => "owner",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "viewer" => Some(OrgRole::Viewer),
            "member" => Some(OrgRole::Member),
            "admin" => Some(OrgRole::Admin),
            "owner" => Some(OrgRole::Owner),
            _ => None,
        }
    }
}

/// Who is acting in which workspace, with which role.
#[derive(Debug, Clone, Copy)]
pub struct WorkspaceCtx {
    /// The caller.
    pub user_id: Uuid,
    /// The workspace's organization.
    pub org_id: Uuid,
    /// The workspace.
    pub workspace_id: Uuid,
    /// The caller's role in the organization.
    pub role: OrgRole,
}

/// Who is acting in which organization, with which role.
#[derive(Debug, Clone, Copy)]
pub struct OrgCtx {
    /// The caller.
    pub user_id: Uuid,
    /// The organization.
    pub org_id: Uuid,
    /// The caller's role in it.
    pub role: OrgRole,
}

/// Tables whose rows item routes address by id.
#[derive(Debug, Clone, Copy)]
pub enum Item {
    /// `public.contacts`.
    Contact,
    /// `public.calendar_events`.
    Event,
    /// `public.interactions`.
    Interaction,
}

impl Item {
    fn table(self) -> &'static str {
        match self {
            Item::Contact => "public.contacts",
            Item::Event => "public.calendar_events",
            Item::Interaction => "public.interactions",
        }
    }
}

/// 403 `no_organization`, DESIGN §4's exact message.
pub fn no_organization() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "no_organization",
        "Forbidden: No organization found for user",
    )
}

/// 403 `workspace_forbidden`.
pub fn workspace_forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "workspace_forbidden",
        "Forbidden: this workspace belongs to none of your organizations",
    )
}

/// 403 `mfa_required`: the caller belongs to an organization that requires a second factor and signed in with
/// one factor only, so Postgres shows it nothing of that organization.
pub fn mfa_required() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "mfa_required",
        "Your organization requires a second factor: verify one to reach its data",
    )
}

/// Whether the caller belongs to an organization that requires a second factor this session lacks (Postgres
/// then shows it nothing of that organization).
pub async fn needs_mfa(tx: &mut CallerTx) -> Result<bool, kith_db::DbError> {
    let row = tx.query_one("select private.caller_needs_mfa() as needs", &[]).await?;
    Ok(row.get("needs"))
}

/// The refusal `fallback`, or 403 `mfa_required` when the caller's own memberships explain it.
async fn refusal(tx: &mut CallerTx, fallback: ApiError) -> ApiError {
    match needs_mfa(tx).await {
        Ok(true) => mfa_required(),
        Ok(false) => fallback,
        Err(err) => err.into(),
    }
}

/// 403 `insufficient_role`.
pub fn insufficient_role(needed: OrgRole) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "insufficient_role",
        format!("Forbidden: this needs the {} role or higher", needed.as_str()),
    )
}

fn parse_role(name: Option<String>) -> ApiResult<Option<OrgRole>> {
    match name {
        None => Ok(None),
        Some(name) => OrgRole::parse(&name)
            .map(Some)
            .ok_or_else(|| ApiError::internal(&format!("unknown role {name:?} in the database"))),
    }
}

fn authenticated(user_id: Uuid, org_id: Uuid, workspace_id: Option<Uuid>) {
    let span = tracing::Span::current();
    span.record("org_id", tracing::field::display(org_id));
    tracing::debug!(%user_id, %org_id, workspace_id = ?workspace_id, "user authenticated");
}

/// Whether the caller belongs to any organization, then the workspace's organization and the caller's role there
/// (none when the workspace is not visible): the one lookup behind [`workspace_ctx`] and the workspace admin routes.
pub(crate) async fn workspace_membership(
    tx: &mut CallerTx,
    user: &AuthUser,
    workspace_id: Uuid,
) -> ApiResult<(bool, Option<Uuid>, Option<OrgRole>)> {
    let row = tx
        .query_one(
            "select exists (select 1 from public.user_organizations where user_id = $1) as has_org,
                    w.org_id, uo.role::text as role
             from (select 1) as one
             left join public.workspaces w on w.id = $2
             left join public.user_organizations uo on uo.org_id = w.org_id and uo.user_id = $1",
            &[&user.user_id, &workspace_id],
        )
        .await?;
    Ok((row.get("has_org"), row.get("org_id"), parse_role(row.get("role"))?))
}

/// Resolves `workspace_id` for the caller, requiring at least `min_role`.
pub async fn workspace_ctx(
    tx: &mut CallerTx,
    user: &AuthUser,
    workspace_id: Uuid,
    min_role: OrgRole,
) -> ApiResult<WorkspaceCtx> {
    let (has_org, org_id, role) = workspace_membership(tx, user, workspace_id).await?;
    if !has_org {
        return Err(refusal(tx, no_organization()).await);
    }
    let (Some(org_id), Some(role)) = (org_id, role) else {
        return Err(refusal(tx, workspace_forbidden()).await);
    };
    if role < min_role {
        return Err(insufficient_role(min_role));
    }
    authenticated(user.user_id, org_id, Some(workspace_id));
    Ok(WorkspaceCtx {
        user_id: user.user_id,
        org_id,
        workspace_id,
        role,
    })
}

/// Resolves an item (by id) to its workspace for the caller, requiring at least `min_role`. An item the caller
/// cannot see is 404, whether it exists or not.
pub async fn item_ctx(
    tx: &mut CallerTx,
    user: &AuthUser,
    item: Item,
    id: Uuid,
    min_role: OrgRole,
) -> ApiResult<WorkspaceCtx> {
    let row = tx
        .query_one(
            &format!(
                "select exists (select 1 from public.user_organizations where user_id = $1) as has_org,
                        i.org_id, i.workspace_id, uo.role::text as role
                 from (select 1) as one
                 left join {} i on i.id = $2
                 left join public.user_organizations uo on uo.org_id = i.org_id and uo.user_id = $1",
                item.table()
            ),
            &[&user.user_id, &id],
        )
        .await?;
    if !row.get::<_, bool>("has_org") {
        return Err(refusal(tx, no_organization()).await);
    }
    let org_id: Option<Uuid> = row.get("org_id");
    let workspace_id: Option<Uuid> = row.get("workspace_id");
    let (Some(org_id), Some(workspace_id), Some(role)) = (org_id, workspace_id, parse_role(row.get("role"))?) else {
        return Err(refusal(tx, ApiError::not_found()).await);
    };
    if role < min_role {
        return Err(insufficient_role(min_role));
    }
    authenticated(user.user_id, org_id, Some(workspace_id));
    Ok(WorkspaceCtx {
        user_id: user.user_id,
        org_id,
        workspace_id,
        role,
    })
}

/// Resolves an organization for the caller, requiring at least `min_role`. An organization the caller does not
/// belong to is 404.
pub async fn org_ctx(tx: &mut CallerTx, user: &AuthUser, org_id: Uuid, min_role: OrgRole) -> ApiResult<OrgCtx> {
    let row = tx
        .query_one(
            "select exists (select 1 from public.user_organizations where user_id = $1) as has_org,
                    (select role::text from public.user_organizations where user_id = $1 and org_id = $2) as role",
            &[&user.user_id, &org_id],
        )
        .await?;
    if !row.get::<_, bool>("has_org") {
        return Err(refusal(tx, no_organization()).await);
    }
    let Some(role) = parse_role(row.get("role"))? else {
        return Err(refusal(tx, ApiError::not_found()).await);
    };
    if role < min_role {
        return Err(insufficient_role(min_role));
    }
    authenticated(user.user_id, org_id, None);
    Ok(OrgCtx {
        user_id: user.user_id,
        org_id,
        role,
    })
}

/// Opens the caller's transaction on a workspace's route and resolves the workspace ([`workspace_ctx`]).
pub async fn open_workspace(
    db: &Db,
    user: &AuthUser,
    workspace_id: Uuid,
    access: Access,
    min_role: OrgRole,
) -> ApiResult<(CallerTx, WorkspaceCtx)> {
    let mut tx = db.begin_as(&user.caller, access).await?;
    let ctx = workspace_ctx(&mut tx, user, workspace_id, min_role).await?;
    Ok((tx, ctx))
}

/// Opens the caller's transaction on an item's route and resolves the item to its workspace ([`item_ctx`]).
pub async fn open_item(
    db: &Db,
    user: &AuthUser,
    item: Item,
    id: Uuid,
    access: Access,
    min_role: OrgRole,
) -> ApiResult<(CallerTx, WorkspaceCtx)> {
    let mut tx = db.begin_as(&user.caller, access).await?;
    let ctx = item_ctx(&mut tx, user, item, id, min_role).await?;
    Ok((tx, ctx))
}

/// `DELETE` of an item, the same for every kind: a member's transaction on it, the workspace the request names
/// checked, `delete` run and committed; 204.
pub async fn remove_item(
    db: &Db,
    user: &AuthUser,
    item: Item,
    raw_id: &str,
    given_workspace: Option<&str>,
    delete: impl AsyncFnOnce(&mut CallerTx, &WorkspaceCtx, Uuid) -> ApiResult<()>,
) -> ApiResult<StatusCode> {
    let id = crate::input::path_id(raw_id)?;
    let (mut tx, ctx) = open_item(db, user, item, id, Access::ReadWrite, OrgRole::Member).await?;
    same_workspace(&ctx, given_workspace)?;
    delete(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opens the caller's transaction on an organization's route and resolves the organization ([`org_ctx`]).
pub async fn open_org(
    db: &Db,
    user: &AuthUser,
    org_id: Uuid,
    access: Access,
    min_role: OrgRole,
) -> ApiResult<(CallerTx, OrgCtx)> {
    let mut tx = db.begin_as(&user.caller, access).await?;
    let ctx = org_ctx(&mut tx, user, org_id, min_role).await?;
    Ok((tx, ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_like_the_database_enum() {
        assert!(OrgRole::Viewer < OrgRole::Member);
        assert!(OrgRole::Member < OrgRole::Admin);
        assert!(OrgRole::Admin < OrgRole::Owner);
        for role in [OrgRole::Viewer, OrgRole::Member, OrgRole::Admin, OrgRole::Owner] {
            assert_eq!(OrgRole::parse(role.as_str()), Some(role));
        }
        assert_eq!(OrgRole::parse("superuser"), None);
    }
}

/// Query of item routes: an optional `workspace_id`, which must then be the item's.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// The workspace the caller expects the item in.
    #[param(value_type = Option<Uuid>)]
    pub workspace_id: Option<String>,
}

/// Checks an optional `workspace_id` against the item's: a mismatch is 404, as for any item not in that workspace.
pub fn same_workspace(ctx: &WorkspaceCtx, given: Option<&str>) -> ApiResult<()> {
    match given {
        None => Ok(()),
        Some(raw) if crate::input::uuid("workspace_id", Some(raw))? == ctx.workspace_id => Ok(()),
        Some(_) => Err(ApiError::not_found()),
    }
}
