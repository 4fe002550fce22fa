//! Kith's CRM API under `/api`. Every handler reaches data only through a transaction opened for its caller
//! (`Db::begin_as`); Postgres row-level security decides what that caller sees.

pub mod profile;

use axum::Router;
use kith_http::AppState;

/// Every `/api` route.
pub fn routes() -> Router<AppState> {
    Router::new().merge(profile::routes())
}
