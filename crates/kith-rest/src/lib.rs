//! Kith's data API: a PostgREST-compatible `/rest/v1` so supabase-js `.from(…)` and `.rpc(…)` queries run
//! unchanged, as their caller, under row-level security.
//!
//! A request goes through PostgREST's stages, one module each:
//! 1. [`auth`]: the caller, verified like every Kith request and refused with PostgREST's JWT errors;
//! 2. [`request`]: the request read into an [`ApiRequest`](request::ApiRequest) — profile, `Prefer`, `Accept`,
//!    `Range`, query pairs, body — plain data;
//! 3. [`parser`] and [`plan`]: the query string parsed into a syntax tree, then checked against the schema
//!    cache ([`schema`]): media type, page, target table, write columns and upsert target, RPC overload,
//!    embed relationships;
//! 4. [`sql`]: one parameterized statement built from the plan (all SQL text lives there);
//! 5. [`exec`]: the statement run in a transaction opened with [`kith_db::Db::begin_as`] (read-only for GET
//!    and HEAD);
//! 6. [`response`]: status, headers and the JSON or CSV Postgres rendered.
//!
//! [`handlers`] strings the stages together. The schema cache ([`state`]) is read from the catalogs on first
//! use and reloaded on `NOTIFY pgrst, 'reload schema'` (sent by `kith migrate`), listened for on a dedicated
//! connection, never on the request path.

pub mod auth;
pub mod error;
mod exec;
mod handlers;
mod openapi;
pub mod parser;
pub mod plan;
pub mod request;
mod response;
pub mod schema;
pub mod sql;
mod state;

pub use state::{RestConfig, RestState};

use axum::routing::any;
use axum::{Extension, Router};
use kith_http::AppState;
use std::sync::Arc;

/// The `/rest/v1` routes.
pub fn routes(config: RestConfig) -> Router<AppState> {
    let state = Arc::new(RestState::new(config));
    Router::new()
        .route("/rest/v1", any(handlers::root))
        .route("/rest/v1/", any(handlers::root))
        .route("/rest/v1/rpc/{function}", any(handlers::rpc))
        .route("/rest/v1/{table}", any(handlers::table))
        .route("/rest/v1/{table}/", any(handlers::invalid_path))
        .route("/rest/v1/{table}/{*rest}", any(handlers::invalid_path))
        .layer(Extension(state))
}
