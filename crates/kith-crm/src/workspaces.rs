//! Workspaces of an organization: members list them, admins create them.

use crate::context::{OrgRole, org_ctx};
use crate::input::{self, ApiQuery};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, response::IntoResponse};
use chrono::{DateTime, Utc};
use kith_db::Access;
use kith_db::tokio_postgres::Row;
use kith_http::{ApiJson, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A workspace.
#[derive(Debug, Serialize)]
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

/// `GET /api/workspaces` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
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
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    org_id: Uuid,
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
