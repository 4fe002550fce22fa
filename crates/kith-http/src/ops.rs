//! Liveness and readiness.

use crate::{ApiError, AppState};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::time::Duration;

/// `/health` (the process answers) and `/ready` (the database answers and its schema is current).
pub fn routes() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready))
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let version = readiness(&state).await?;
    Ok(Json(json!({"status": "ready", "schema_version": version})))
}

/// The schema version when the database answers within 2 s and its schema is current; else a 503 saying why.
pub async fn readiness(state: &AppState) -> Result<i32, ApiError> {
    let expected = kith_db::migrate::latest_version();
    let version = tokio::time::timeout(Duration::from_secs(2), state.db.schema_version())
        .await
        .map_err(|_| ApiError::unavailable())?
        .map_err(|err| {
            tracing::warn!(error = %err, "readiness check failed");
            ApiError::unavailable()
        })?;
    if version != expected {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("The database schema is at migration {version}, expected {expected}"),
        ));
    }
    Ok(version)
}
