//! The signed-in shell under `/dashboard`: without a session every path redirects to the sign-in page (and back
//! after signing in); `/dashboard/overview` is the page a session lands on.

use crate::WebState;
use crate::errors::not_found_response;
use crate::session::Visitor;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

fn to_login(uri: &Uri) -> Response {
    let here = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    let next: String = url::form_urlencoded::byte_serialize(here.as_bytes()).collect();
    let location = HeaderValue::from_str(&format!("/login?next={next}")).unwrap_or(HeaderValue::from_static("/login"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// `GET /dashboard` and `GET /dashboard/{*rest}`.
pub async fn dashboard(State(state): State<WebState>, mut visitor: Visitor, uri: Uri) -> Response {
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
            let response = crate::overview::show(&state, &mut visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        "/dashboard/contacts" => {
            let response = crate::contacts::list(&state, &mut visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        "/dashboard/contacts/new" => {
            let response = crate::contacts::new_form(&state, &mut visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        "/dashboard/contacts/import" => {
            let response = crate::contacts::import_form(&state, &mut visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        "/dashboard/contacts/export.csv" => {
            let response = crate::contacts::export(&state, &visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        path if path.starts_with("/dashboard/contacts/") => {
            let rest = &path["/dashboard/contacts/".len()..];
            match rest.split_once('/') {
                // A contact's form action opened directly: back to the contact.
                Some((id, _)) => visitor.finish(
                    (
                        StatusCode::SEE_OTHER,
                        [(
                            header::LOCATION,
                            HeaderValue::from_str(&format!(
                                "/dashboard/contacts/{}",
                                url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
                            ))
                            .unwrap_or(HeaderValue::from_static("/dashboard/contacts")),
                        )],
                    )
                        .into_response(),
                ),
                None => {
                    let response = crate::contacts::show(&state, &mut visitor, &session, rest, uri.query()).await;
                    visitor.finish(response)
                }
            }
        }
        "/dashboard/calendar" => {
            let response = crate::calendar::show(&state, &mut visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        "/dashboard/calendar/events.ics" => {
            let response = crate::calendar::ics(&state, &visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        // A calendar form's action, opened directly: back to the page that holds the form.
        "/dashboard/calendar/events" | "/dashboard/calendar/subscription" => visitor.finish(
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, HeaderValue::from_static("/dashboard/calendar"))],
            )
                .into_response(),
        ),
        path if path.starts_with("/dashboard/calendar/events/") => {
            let rest = &path["/dashboard/calendar/events/".len()..];
            let id = rest.split('/').next().unwrap_or_default().to_owned();
            let response = crate::calendar::edit(&state, &mut visitor, &session, &id, uri.query()).await;
            visitor.finish(response)
        }
        "/dashboard/settings" => {
            let response = crate::settings::show(&state, &mut visitor, &session, uri.query()).await;
            visitor.finish(response)
        }
        // A form action opened directly: back to the page that holds the form.
        path if path.starts_with("/dashboard/settings/") => visitor.finish(
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, HeaderValue::from_static("/dashboard/settings"))],
            )
                .into_response(),
        ),
        // The first step's form action, opened directly: back to the page that holds the form.
        "/dashboard/organizations" => visitor.finish(
            (
                StatusCode::SEE_OTHER,
                [(header::LOCATION, HeaderValue::from_static("/dashboard/overview"))],
            )
                .into_response(),
        ),
        _ => visitor.finish(not_found_response()),
    }
}
