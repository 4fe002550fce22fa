//! Workspaces of an organization: members list them, admins create, rename and delete them. The SQL is in
//! [`store`].

pub mod store;

pub use store::reachable;

use crate::context::{OrgRole, open_org};
use crate::input::{self, ApiQuery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, response::IntoResponse};
use chrono::{DateTime, Utc};
use kith_db::Access;
use kith_db::tokio_postgres::Row;
use kith_http::{ApiJson, ApiResult, AppState, AuthUser};
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
    let (mut tx, ctx) = open_org(&state.db, &user, org_id, Access::ReadOnly, OrgRole::Viewer).await?;
    let workspaces = store::list(&mut tx, &ctx).await?;
    tx.commit().await?;
    Ok(Json(workspaces))
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
    let (mut tx, ctx) = open_org(&state.db, &user, body.org_id, Access::ReadWrite, OrgRole::Admin).await?;
    let created = store::create(&mut tx, &ctx, &name).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
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
    let org_id = store::admin_of(&mut tx, &user, id).await?;
    let renamed = store::rename(&mut tx, org_id, id, &name).await?;
    tx.commit().await?;
    Ok(Json(renamed))
}

/// `DELETE /api/workspaces/{id}` (admins): the workspace and everything in it. An organization keeps at least one
/// workspace (409).
pub async fn remove(State(state): State<AppState>, user: AuthUser, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let id = input::path_id(&id)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let org_id = store::admin_of(&mut tx, &user, id).await?;
    store::delete(&mut tx, org_id, id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
