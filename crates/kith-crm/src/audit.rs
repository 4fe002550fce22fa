//! `GET /api/audit?org_id=&limit=&before=`: the organization's audit log, newest first, for its admins. The log
//! is written only by database triggers; no role can change or delete it. The SQL is in [`store`].

pub mod store;

use crate::context::{OrgRole, open_org};
use crate::input::{self, ApiQuery};
use axum::Json;
use axum::extract::State;
use kith_db::Access;
use kith_http::{ApiResult, AppState, AuthUser};
use serde::Deserialize;
use serde_json::{Value, json};

/// Query of `GET /api/audit`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[param(value_type = Uuid, required = true)]
    org_id: Option<String>,
    /// Entries per page (default 100).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// Only entries with a smaller id (the previous page's `next_before`).
    #[param(value_type = Option<i64>, minimum = 1)]
    before: Option<String>,
}

/// `GET /api/audit`: `{"entries": [...], "next_before": id | null}`.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> ApiResult<Json<Value>> {
    let org_id = input::uuid("org_id", query.org_id.as_deref())?;
    let limit = input::int("limit", query.limit.as_deref(), 100, 1, 500)?;
    let before = input::int("before", query.before.as_deref(), i64::MAX, 1, i64::MAX)?;
    let (mut tx, ctx) = open_org(&state.db, &user, org_id, Access::ReadOnly, OrgRole::Admin).await?;
    let entries = store::page(&mut tx, &ctx, before, limit).await?;
    tx.commit().await?;
    let next_before = if entries.len() as i64 == limit {
        entries.last().and_then(|e| e["id"].as_i64())
    } else {
        None
    };
    Ok(Json(json!({"entries": entries, "next_before": next_before})))
}
