//! The signed-in shell under `/dashboard`: without a session every path redirects to the sign-in page (and back
//! after signing in); `/dashboard/overview` is the page a session lands on.

use crate::WebState;
use crate::errors::not_found_response;
use crate::render::{Chrome, page};
use crate::session::Visitor;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    chrome: Chrome,
    email: String,
}

fn to_login(uri: &Uri) -> Response {
    let here = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    let location = HeaderValue::from_str(&format!("/login?next={next}")).unwrap_or(HeaderValue::from_static("/login"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// `GET /dashboard` and `GET /dashboard/{*rest}`.
pub async fn dashboard(State(_): State<WebState>, mut visitor: Visitor, uri: Uri) -> Response {
    let Some(session) = visitor.session.clone() else {
        return visitor.finish(to_login(&uri));
    };
    match uri.path().trim_end_matches('/') {
        "/dashboard" => visitor.finish(
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, HeaderValue::from_static("/dashboard/overview"))],
            )
                .into_response(),
        ),
        "/dashboard/overview" => {
            let mut chrome = Chrome::new("Overview", "Your Kith overview.", "");
            chrome.csrf = visitor.csrf();
            chrome.user_email = Some(session.email.clone());
            let template = Dashboard {
                chrome,
                email: session.email,
            };
            visitor.finish(page(StatusCode::OK, &template))
        }
        _ => visitor.finish(not_found_response()),
    }
}
