//! Turning templates into responses: the chrome every page shares (title, assets, who is signed in, the CSRF
//! token), and the headers every HTML answer carries (a strict CSP, `no-cache`).

use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// The Content-Security-Policy of every page: nothing inline, scripts and styles from this origin only.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// What the shared layout needs: the page title and description, the asset URLs, the section for the navigation,
/// and the signed-in user (with the CSRF token of their session) if any.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page title (also its `<h1>` on most pages).
    pub title: String,
    /// Meta description.
    pub description: String,
    /// Which main-navigation entry is current (`docs`, `api`, …) or empty.
    pub section: &'static str,
    /// Versioned stylesheet URL.
    pub css: String,
    /// Versioned icon URL.
    pub icon: String,
    /// Versioned URL of the dashboard's script (keyboard shortcuts).
    pub js: String,
    /// The signed-in user's email.
    pub user_email: Option<String>,
    /// The CSRF token of the visitor's forms.
    pub csrf: String,
    /// A public page seen with a session cookie: the header links to the dashboard.
    pub maybe_signed_in: bool,
    /// Which dashboard page this is (`overview`, `settings`, …), empty outside the dashboard: the dashboard's
    /// own navigation is shown when set.
    pub dashboard: &'static str,
    /// Kith's version.
    pub version: &'static str,
}

impl Chrome {
    /// The chrome of a page titled `title`.
    pub fn new(title: impl Into<String>, description: impl Into<String>, section: &'static str) -> Self {
        Chrome {
            title: title.into(),
            description: description.into(),
            section,
            css: crate::assets::url("site.css"),
            icon: crate::assets::url("icon.svg"),
            js: crate::assets::url("dashboard.js"),
            user_email: None,
            csrf: String::new(),
            maybe_signed_in: false,
            dashboard: "",
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

/// Renders a template into an HTML response with `status`; a template failure becomes the 500 page.
pub fn page<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "template failed to render");
            crate::errors::internal_error_response()
        }
    }
}

/// Adds the page headers to an HTML response (the fallback runs outside the page router's layer).
pub fn with_html_headers(mut response: Response) -> Response {
    set_html_headers(&mut response);
    response
}

fn set_html_headers(response: &mut Response) {
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return;
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-cache"));
    headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
}

/// Middleware of the page router: every HTML answer gets the CSP and `Cache-Control: no-cache` (pages with a
/// session set `no-store` themselves).
pub async fn html_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    set_html_headers(&mut response);
    response
}
