//! Kith's web layer: the public site (docs, blog, API reference, changelog…), browser sign-in with cookie
//! sessions and CSRF protection, and the signed-in shell, rendered on the server from askama templates that
//! escape by default. Pages need no JavaScript; the Content-Security-Policy allows scripts from this origin only.
//!
//! A signed-in page builds its [`kith_db::Caller`] from the cookie session (through the auth service) and reaches
//! data only through `begin_as`, exactly like `/api`. The cookie is never a credential for `/api`, `/auth/v1` or
//! `/rest/v1`: those routers never read it.

mod api;
pub mod api_reference;
pub mod assets;
mod auth_pages;
mod calendar;
mod calendar_feed;
mod contacts;
pub mod content;
mod current;
mod dashboard;
pub mod errors;
pub mod markdown;
mod overview;
mod pages;
mod render;
pub mod session;
mod settings;

pub use content::Site;
pub use render::Chrome;

use axum::Router;
use axum::routing::get;
use kith_auth::AuthState;
use kith_crm::organizations::InvitationMail;
use kith_db::Db;
use kith_http::AppState;
use session::CookieNames;
use std::sync::Arc;

/// What the web layer is configured with.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Public URL of the site (links in the feed, the origin unsafe requests must come from).
    pub site_url: url::Url,
}

/// The web layer's state.
#[derive(Debug, Clone)]
pub struct WebState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: WebSettings,
    site: Site,
    api: api_reference::ApiReference,
    auth: AuthState,
    db: Db,
    cookies: CookieNames,
    /// `/api` and `/auth/v1`, for the dashboard's writes (see `api.rs`).
    api_router: Router,
}

impl WebState {
    /// Loads and renders the site's content once; sessions go through `auth`, data through `begin_as` on the
    /// application's pool, writes through the `/api` handlers (`app`) in process.
    pub fn new(settings: WebSettings, auth: AuthState, app: AppState) -> Result<Self, String> {
        let site = Site::load()?;
        let api = api_reference::ApiReference::from_openapi(&kith_crm::openapi::build());
        let cookies = CookieNames::for_site(&settings.site_url);
        let db = app.db.clone();
        let api_router = Router::new()
            .merge(kith_crm::routes(kith_crm::CrmState {
                app: app.clone(),
                invitations: Arc::new(InvitationMail {
                    mailer: auth.mailer().clone(),
                    site_url: settings.site_url.clone(),
                }),
            }))
            .merge(kith_auth::routes(auth.clone()))
            .with_state(app);
        Ok(WebState {
            inner: Arc::new(Inner {
                settings,
                site,
                api,
                auth,
                db,
                cookies,
                api_router,
            }),
        })
    }

    /// The auth service (browser sessions, passwords, rate limits).
    pub fn auth(&self) -> &AuthState {
        &self.inner.auth
    }

    /// The request pool: tenant data only through `begin_as(&caller)`.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The in-process `/api` and `/auth/v1` router the dashboard's writes go through.
    pub(crate) fn api_router(&self) -> &Router {
        &self.inner.api_router
    }

    /// The cookie names of this site.
    pub fn cookies(&self) -> &CookieNames {
        &self.inner.cookies
    }

    /// Where mailed links for this browser come back to.
    pub fn callback_url(&self) -> String {
        format!(
            "{}/auth/callback",
            self.inner.settings.site_url.as_str().trim_end_matches('/')
        )
    }

    /// The settings.
    pub fn settings(&self) -> &WebSettings {
        &self.inner.settings
    }

    /// The rendered content.
    pub fn site(&self) -> &Site {
        &self.inner.site
    }

    /// The API reference.
    pub fn api(&self) -> &api_reference::ApiReference {
        &self.inner.api
    }
}

/// Every page route, with its own state; merge the result into the application router and install
/// [`fallback`] as its fallback.
pub fn routes<S: Clone + Send + Sync + 'static>(state: WebState) -> Router<S> {
    Router::new()
        .route("/", get(pages::home))
        .route("/docs", get(pages::docs_index))
        .route("/docs/{slug}", get(pages::doc))
        .route("/blog", get(pages::blog_index))
        .route("/blog/feed.xml", get(pages::feed))
        .route("/blog/{slug}", get(pages::post))
        .route("/api", get(pages::api_reference))
        .route("/changelog", get(pages::changelog))
        .route("/support", get(pages::support))
        .route("/integrations", get(pages::integrations))
        .route("/privacy", get(pages::privacy))
        .route("/terms", get(pages::terms))
        .route("/assets/{hash}/{name}", get(assets::serve))
        .route("/login", get(auth_pages::login_form).post(auth_pages::login))
        .route("/signup", get(auth_pages::signup_form).post(auth_pages::signup))
        .route("/logout", get(auth_pages::logout_form).post(auth_pages::logout))
        .route(
            "/forgot-password",
            get(auth_pages::forgot_form).post(auth_pages::forgot),
        )
        .route("/auth/callback", get(auth_pages::callback))
        .route("/reset-password", get(auth_pages::reset_form).post(auth_pages::reset))
        .route(
            "/invitations/{token}",
            get(auth_pages::invitation_form).post(auth_pages::accept_invitation),
        )
        .route("/calendar/feed/{file}", get(calendar_feed::feed))
        .route("/dashboard", get(dashboard::dashboard))
        .route(
            "/dashboard/organizations",
            get(dashboard::dashboard).post(overview::create_organization),
        )
        .route("/dashboard/contacts", get(dashboard::dashboard).post(contacts::create))
        .route(
            "/dashboard/contacts/import",
            get(dashboard::dashboard).post(contacts::import),
        )
        .route(
            "/dashboard/contacts/{*rest}",
            get(dashboard::dashboard).post(contacts::item_action),
        )
        .route(
            "/dashboard/calendar/events",
            get(dashboard::dashboard).post(calendar::submit_new),
        )
        .route(
            "/dashboard/calendar/subscription",
            get(dashboard::dashboard).post(calendar::subscription),
        )
        .route(
            "/dashboard/calendar/events/{*rest}",
            get(dashboard::dashboard).post(calendar::submit),
        )
        .route(
            "/dashboard/settings/{*action}",
            get(dashboard::dashboard).post(settings::submit),
        )
        .route("/dashboard/{*rest}", get(dashboard::dashboard))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::same_origin_only,
        ))
        .layer(axum::middleware::from_fn(render::html_headers))
        .with_state(state)
}

async fn method_not_allowed() -> axum::response::Response {
    errors::error_page(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "This page cannot be used that way.",
    )
}

/// Paths that belong to the JSON services: their unknown routes stay JSON 404s, never the HTML page.
pub fn is_api_path(path: &str) -> bool {
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
    path.starts_with("/api/") || under("/auth/v1") || under("/rest/v1") || under("/health") || under("/ready")
}

/// The fallback of the whole application: the HTML 404 page, except under the JSON services, whose unknown
/// routes get an empty 404 that the middleware turns into their JSON error.
pub async fn fallback(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if is_api_path(uri.path()) {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    render::with_html_headers(errors::not_found_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_recognized() {
        for path in [
            "/api/profile",
            "/api/",
            "/auth/v1",
            "/auth/v1/x",
            "/rest/v1/t",
            "/health",
            "/ready",
        ] {
            assert!(is_api_path(path), "{path}");
        }
        for path in ["/api", "/apis", "/", "/docs", "/healthz", "/readyness", "/auth/v10"] {
            assert!(!is_api_path(path), "{path}");
        }
    }
}
