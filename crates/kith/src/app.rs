//! Assembles Kith's services into one router behind the shared middleware.

use axum::Router;
use kith_auth::AuthState;
use kith_crm::CrmState;
use kith_crm::organizations::InvitationMail;
use kith_http::AppState;
use kith_http::middleware::{self, HttpSettings};
use kith_rest::RestConfig;
use kith_storage::StorageConfig;
use kith_web::{WebSettings, WebState};
use std::sync::Arc;

/// The whole HTTP surface: health checks, auth (`/auth/v1`), the CRM API (`/api`), the data API (`/rest/v1`)
/// and, for every other path, the web pages (whose 404 page is the fallback outside the JSON services).
pub fn router(state: AppState, auth: &AuthState, rest: &RestConfig, http: &HttpSettings) -> anyhow::Result<Router> {
    router_with_storage(state, auth, rest, None, http)
}

/// [`router`], plus the Storage API (`/storage/v1`) when `storage` is given.
pub fn router_with_storage(
    state: AppState,
    auth: &AuthState,
    rest: &RestConfig,
    storage: Option<&StorageConfig>,
    http: &HttpSettings,
) -> anyhow::Result<Router> {
    let web = WebState::new(
        WebSettings {
            site_url: auth.settings().site_url.clone(),
        },
        auth.clone(),
        state.clone(),
    )
    .map_err(|err| anyhow::anyhow!("the site's content cannot be loaded: {err}"))?;
    let routes = Router::new()
        .merge(kith_http::ops::routes())
        .merge(kith_auth::routes(auth.clone()))
        .merge(kith_crm::routes(CrmState {
            app: state.clone(),
            invitations: Arc::new(InvitationMail {
                mailer: auth.mailer().clone(),
                site_url: auth.settings().site_url.clone(),
            }),
        }))
        .merge(kith_rest::routes(state.clone(), rest.clone()))
        .merge(storage.map(kith_storage::routes).unwrap_or_default())
        .merge(kith_web::routes(web))
        .fallback(kith_web::fallback);
    Ok(middleware::apply(routes, http).with_state(state))
}
