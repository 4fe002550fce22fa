//! Every SQL statement about workspaces, as named functions taking the caller's transaction and the
//! organization (or user) they are scoped to.

use super::{Reachable, Workspace, workspace};
use crate::context::{OrgCtx, OrgRole, insufficient_role, no_organization, workspace_membership};
use axum::http::StatusCode;
use kith_db::CallerTx;
use kith_http::{ApiError, ApiResult, AuthUser};
use uuid::Uuid;

/// The workspaces of `ctx`'s organization, oldest first.
pub async fn list(tx: &mut CallerTx, ctx: &OrgCtx) -> ApiResult<Vec<Workspace>> {
    let rows = tx
        .query(
            "select id, org_id, name, created_at from public.workspaces where org_id = $1 order by created_at, id",
            &[&ctx.org_id],
        )
        .await?;
    Ok(rows.iter().map(workspace).collect())
}

/// Creates a workspace named `name` in `ctx`'s organization.
pub async fn create(tx: &mut CallerTx, ctx: &OrgCtx, name: &str) -> ApiResult<Workspace> {
    let row = tx
        .query_one(
            "insert into public.workspaces (id, org_id, name) values ($1, $2, $3)
             returning id, org_id, name, created_at",
            &[&Uuid::new_v4(), &ctx.org_id, &name],
        )
        .await?;
    Ok(workspace(&row))
}

/// Resolves a workspace by id for its organization's admins: 403 `no_organization`, 404 when not visible,
/// 403 `insufficient_role` below admin.
pub async fn admin_of(tx: &mut CallerTx, user: &AuthUser, id: Uuid) -> ApiResult<Uuid> {
    let (has_org, org_id, role) = workspace_membership(tx, user, id).await?;
    if !has_org {
        return Err(no_organization());
    }
    let (Some(org_id), Some(role)) = (org_id, role) else {
        return Err(ApiError::not_found());
    };
    if role < OrgRole::Admin {
        return Err(insufficient_role(OrgRole::Admin));
    }
    Ok(org_id)
}

/// Renames a workspace of `org_id`, or 404.
pub async fn rename(tx: &mut CallerTx, org_id: Uuid, id: Uuid, name: &str) -> ApiResult<Workspace> {
    let row = tx
        .query_opt(
            "update public.workspaces set name = $3 where org_id = $1 and id = $2
             returning id, org_id, name, created_at",
            &[&org_id, &id, &name],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(workspace(&row))
}

/// Deletes a workspace of `org_id` and everything in it; 409 when it is the organization's last one.
pub async fn delete(tx: &mut CallerTx, org_id: Uuid, id: Uuid) -> ApiResult<()> {
    let others: i64 = tx
        .query_one(
            "select count(*) from public.workspaces where org_id = $1 and id <> $2",
            &[&org_id, &id],
        )
        .await?
        .get(0);
    if others == 0 {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "An organization keeps at least one workspace",
        ));
    }
    tx.query(
        "delete from public.workspaces where org_id = $1 and id = $2",
        &[&org_id, &id],
    )
    .await?;
    Ok(())
}

/// Every workspace of the caller's organizations, the first organization's first workspace first (by creation):
/// the dashboard's switcher and its default.
pub async fn reachable(tx: &mut CallerTx, user_id: Uuid) -> Result<Vec<Reachable>, kith_db::DbError> {
    let rows = tx
        .query(
            "select w.id, w.name, o.name as org_name
               from public.user_organizations uo
               join public.organizations o on o.id = uo.org_id
               join public.workspaces w on w.org_id = o.id
              where uo.user_id = $1
              order by o.created_at, o.id, w.created_at, w.id",
            &[&user_id],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Reachable {
            id: row.get("id"),
            name: row.get("name"),
            org_name: row.get("org_name"),
        })
        .collect())
}
