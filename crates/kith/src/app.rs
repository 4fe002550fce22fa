//! Assembles Kith's services into one router behind the shared middleware.

use axum::{Extension, Router};
use kith_auth::AuthState;
use kith_crm::organizations::InvitationMail;
use kith_http::AppState;
use kith_http::middleware::{self, HttpSettings};
use kith_rest::RestConfig;
use std::sync::Arc;

/// The whole HTTP surface: health checks, auth (`/auth/v1`), the CRM API (`/api`) and the data API (`/rest/v1`).
pub fn router(state: AppState, auth: &AuthState, rest: &RestConfig, http: &HttpSettings) -> Router {
    let routes = Router::new()
        .merge(kith_http::ops::routes())
        .merge(kith_auth::routes(auth.clone()))
        .merge(kith_crm::routes().layer(Extension(Arc::new(InvitationMail {
            mailer: auth.mailer().clone(),
            site_url: auth.settings().site_url.clone(),
        }))))
        .merge(kith_rest::routes(rest.clone()));
    middleware::apply(routes, http).with_state(state)
}
