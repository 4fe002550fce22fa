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

pub use state::{RestConfig, RestService, RestState};

use axum::Router;
use axum::routing::get;
use kith_http::AppState;
use std::sync::Arc;

/// The `/rest/v1` routes, nested under their prefix with their own state, fallback (404 PGRST125) and
/// method-not-allowed answers (405 PGRST117, PGRST101 for RPC), all in PostgREST's error shape.
pub fn routes<S: Clone + Send + Sync + 'static>(app: AppState, config: RestConfig) -> Router<S> {
    let state = RestService {
        app,
        rest: Arc::new(RestState::new(config)),
    };
    let root = || get(handlers::root).fallback(handlers::unsupported_method);
    let api = Router::new()
        .route("/", root())
        .route(
            "/rpc/{function}",
            get(handlers::rpc)
                .post(handlers::rpc)
                .options(handlers::options)
                .fallback(handlers::unsupported_rpc_method),
        )
        .route(
            "/{table}",
            get(handlers::table)
                .post(handlers::table)
                .patch(handlers::table)
                .delete(handlers::table)
                .options(handlers::options)
                .fallback(handlers::unsupported_method),
        )
        .fallback(handlers::invalid_path)
        .with_state(state.clone());
    // A nested router's `/` is the prefix itself; the root with its trailing slash is routed beside it.
    Router::new()
        .nest("/rest/v1", api)
        .route("/rest/v1/", root().with_state(state))
}
