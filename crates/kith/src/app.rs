//! Assembles Kith's services into one router behind the shared middleware.

use axum::Router;
use kith_http::AppState;
use kith_http::middleware::{self, HttpSettings};

/// The whole HTTP surface: health checks, the CRM API and (as they land) auth, the data API and pages.
pub fn router(state: AppState, http: &HttpSettings) -> Router {
    let routes = Router::new()
        .merge(kith_http::ops::routes())
        .merge(kith_crm::routes())
        .merge(kith_rest::routes());
    middleware::apply(routes, http).with_state(state)
}
