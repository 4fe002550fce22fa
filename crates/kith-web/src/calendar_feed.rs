//! `GET /calendar/feed/{token}.ics`: a calendar subscription's feed, for calendar apps that cannot sign in. The
//! auth service turns the URL's token into the subscription's user as a short-lived caller, and the feed is the
//! very `.ics` that user's `GET /api/calendar/events.ics` answers, called in process as them (`api.rs`): one
//! implementation of what an `.ics` holds, and row-level security deciding it. Route logs carry the route
//! template, never the token.

use crate::WebState;
use crate::api;
use crate::errors::{error_page, not_found_response};
use crate::session::unavailable;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The feed of the subscription whose token `file` carries (`<token>.ics`).
pub async fn feed(State(state): State<WebState>, Path(file): Path<String>) -> Response {
    let Some(token) = file.strip_suffix(".ics") else {
        return not_found_response();
    };
    let reader = match state.auth().calendar_feed_reader(token).await {
        Ok(Some(reader)) => reader,
        Ok(None) => return gone(),
        Err(err) => {
            tracing::warn!(error = %err.code(), "calendar feed lookup failed");
            return unavailable();
        }
    };
    let path = format!("/api/calendar/events.ics?workspace_id={}", reader.workspace_id);
    match api::call_raw_as(&state, &reader.caller, Method::GET, &path, None).await {
        Ok((_, ics)) => (
            [
                (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "inline; filename=\"kith.ics\""),
                // Calendar apps poll; a revoked URL must stop working at their next poll.
                (header::CACHE_CONTROL, "private, no-cache"),
            ],
            ics,
        )
            .into_response(),
        // The user left the organization, the workspace went, or the organization now requires a second factor.
        Err(refusal) if refusal.status.is_client_error() => gone(),
        Err(refusal) if refusal.status == StatusCode::SERVICE_UNAVAILABLE => unavailable(),
        Err(_) => crate::errors::internal_error_response(),
    }
}

/// The answer for a URL that does not (or no longer) lead to a feed; it does not say which.
fn gone() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "No such calendar",
        "This calendar address does not exist or was turned off. Make a new one on the Calendar page.",
    )
}
