//! The error pages: 404, 403 and 500 in the site's look.

use crate::render::Chrome;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    message: String,
}

/// An error page with `status`, a title and one sentence.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    let template = ErrorPage {
        chrome: Chrome::new(title, message, ""),
        status: status.as_u16(),
        message: message.to_owned(),
    };
    match template.render() {
        Ok(body) => (status, Html(body)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "error page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><main><h1>Something went wrong</h1></main>"),
            )
                .into_response()
        }
    }
}

/// The 404 page.
pub fn not_found_response() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no page at this address. It may have moved, or the link may be mistyped.",
    )
}

/// The 500 page.
pub fn internal_error_response() -> Response {
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Kith could not show this page because of an error on our side. It has been logged; please try again.",
    )
}

/// The 403 page for a refused form (CSRF or cross-site request).
pub fn forbidden_response() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was sent from another site or without its security token, so nothing was changed. Reload the page and try again.",
    )
}
