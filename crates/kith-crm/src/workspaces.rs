//! Workspaces of an organization: members list them, admins create them.

use crate::context::{OrgRole, insufficient_role, no_organization, org_ctx};
use crate::input::{self, ApiQuery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, response::IntoResponse};
use chrono::{DateTime, Utc};
use kith_db::Access;
use kith_db::CallerTx;
use kith_db::tokio_postgres::Row;
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A workspace.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Workspace {
    id: Uuid,
    org_id: Uuid,
    name: String,
    created_at: DateTime<Utc>,
}

fn workspace(row: &Row) -> Workspace {
    Workspace {
        id: row.get("id"),
        org_id: row.get("org_id"),
        name: row.get("name"),
        created_at: row.get("created_at"),
    }
}

/// A workspace the caller can open, with its organization's name.
#[derive(Debug, Clone)]
pub struct Reachable {
    /// The workspace.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its organization's name.
    pub org_name: String,
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

/// `GET /api/workspaces` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Uuid, required = true)]
    org_id: Option<String>,
}

/// `GET /api/workspaces?org_id=`.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Vec<Workspace>>> {
    let org_id = input::uuid("org_id", query.org_id.as_deref())?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    org_ctx(&mut tx, &user, org_id, OrgRole::Viewer).await?;
    let rows = tx
        .query(
            "select id, org_id, name, created_at from public.workspaces where org_id = $1 order by created_at, id",
            &[&org_id],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(rows.iter().map(workspace).collect()))
}

/// `POST /api/workspaces` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    org_id: Uuid,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    name: Option<String>,
}

/// `POST /api/workspaces` (admins): 201 with the workspace.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NewWorkspace>,
) -> ApiResult<impl IntoResponse> {
    let name = input::required_text("name", body.name, 200)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    org_ctx(&mut tx, &user, body.org_id, OrgRole::Admin).await?;
    let row = tx
        .query_one(
            "insert into public.workspaces (id, org_id, name) values ($1, $2, $3)
             returning id, org_id, name, created_at",
            &[&Uuid::new_v4(), &body.org_id, &name],
        )
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(workspace(&row))))
}

/// Resolves a workspace by id for its organization's admins: 403 `no_organization`, 404 when not visible,
/// 403 `insufficient_role` below admin.
async fn admin_of(tx: &mut CallerTx, user: &AuthUser, id: Uuid) -> ApiResult<Uuid> {
    let row = tx
        .query_one(
            "select exists (select 1 from public.user_organizations where user_id = $1) as has_org,
                    w.org_id, uo.role::text as role
             from (select 1) as one
             left join public.workspaces w on w.id = $2
             left join public.user_organizations uo on uo.org_id = w.org_id and uo.user_id = $1",
            &[&user.user_id, &id],
        )
        .await?;
    if !row.get::<_, bool>("has_org") {
        return Err(no_organization());
    }
    let org_id: Option<Uuid> = row.get("org_id");
    let role: Option<String> = row.get("role");
    let (Some(org_id), Some(role)) = (org_id, role.as_deref().and_then(OrgRole::parse)) else {
        return Err(ApiError::not_found());
    };
    if role < OrgRole::Admin {
        return Err(insufficient_role(OrgRole::Admin));
    }
    Ok(org_id)
}

/// `PATCH /api/workspaces/{id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspacePatch {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    name: Option<String>,
}

/// `PATCH /api/workspaces/{id}` (admins): rename.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<WorkspacePatch>,
) -> ApiResult<Json<Workspace>> {
    let id = input::path_id(&id)?;
    let name = input::required_text("name", body.name, 200)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let org_id = admin_of(&mut tx, &user, id).await?;
    let row = tx
        .query_opt(
            "update public.workspaces set name = $3 where org_id = $1 and id = $2
             returning id, org_id, name, created_at",
            &[&org_id, &id, &name],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    Ok(Json(workspace(&row)))
}

/// `DELETE /api/workspaces/{id}` (admins): the workspace and everything in it. An organization keeps at least one
/// workspace (409).
pub async fn remove(State(state): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = input::path_id(&id)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let org_id = admin_of(&mut tx, &user, id).await?;
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
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
