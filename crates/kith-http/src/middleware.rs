//! The middleware every route runs behind: request metrics, request id, a tracing span per request keyed on the
//! route template, one log line per request, body size limit, request timeout, security headers, CORS, and JSON error bodies
//! for the answers axum and tower produce themselves (unknown route, wrong method, body too large, timeout).

use crate::ApiError;
use crate::extract::payload_too_large;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

/// Settings of the middleware stack.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Longest a request may take before it is answered 503.
    pub request_timeout: Duration,
    /// Origins allowed by CORS; `None` allows any origin (without credentials), like Supabase.
    pub cors_origins: Option<Vec<HeaderValue>>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            cors_origins: None,
        }
    }
}

/// Wraps `router` in Kith's middleware stack.
pub fn apply<S: Clone + Send + Sync + 'static>(router: Router<S>, settings: &HttpSettings) -> Router<S> {
    let x_request_id = HeaderName::from_static("x-request-id");
    let security_headers = ServiceBuilder::new()
        .layer(header_if_missing(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header_if_missing(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header_if_missing(
            header::REFERRER_POLICY,
            "strict-origin-when-cross-origin",
        ))
        .layer(header_if_missing(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        ))
        .layer(header_if_missing(
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ))
        .layer(header_if_missing(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ));

    crate::metrics::handle();
    router.layer(
        ServiceBuilder::new()
            // Outermost, so the duration and status are the client's, timeouts and error bodies included.
            .layer(axum::middleware::from_fn(crate::metrics::track))
            .layer(SetRequestIdLayer::new(x_request_id.clone(), MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(request_span)
                    .on_request(())
                    .on_response(log_response)
                    .on_failure(()),
            )
            .layer(PropagateRequestIdLayer::new(x_request_id))
            .layer(security_headers)
            .layer(cors(settings))
            .layer(axum::middleware::map_response(json_error_bodies))
            .layer(TimeoutLayer::with_status_code(
                StatusCode::SERVICE_UNAVAILABLE,
                settings.request_timeout,
            ))
            .layer(DefaultBodyLimit::max(settings.body_limit)),
    )
}

fn header_if_missing(name: HeaderName, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
}

fn cors(settings: &HttpSettings) -> CorsLayer {
    let origins = match &settings.cors_origins {
        None => AllowOrigin::any(),
        Some(list) => AllowOrigin::list(list.clone()),
    };
    CorsLayer::new()
        .allow_origin(origins)
        .allow_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::RANGE,
            HeaderName::from_static("apikey"),
            HeaderName::from_static("prefer"),
            HeaderName::from_static("x-client-info"),
            HeaderName::from_static("x-supabase-api-version"),
            HeaderName::from_static("accept-profile"),
            HeaderName::from_static("content-profile"),
            // storage-js' uploads.
            header::CACHE_CONTROL,
            HeaderName::from_static("x-upsert"),
            HeaderName::from_static("x-metadata"),
        ])
        .expose_headers([
            header::CONTENT_RANGE,
            header::LOCATION,
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("x-supabase-api-version"),
            header::CONTENT_DISPOSITION,
            header::ETAG,
            header::LAST_MODIFIED,
        ])
        .max_age(Duration::from_secs(3600))
}

fn request_span(request: &Request<Body>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id,
        user_id = tracing::field::Empty,
        org_id = tracing::field::Empty,
    )
}

fn log_response(response: &Response, latency: Duration, _span: &Span) {
    let status = response.status().as_u16();
    let latency_ms = latency.as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(status, latency_ms, "request finished");
    } else {
        tracing::info!(status, latency_ms, "request finished");
    }
}

/// Error answers made outside the handlers (by axum's router or tower layers) get the `/api` JSON shape.
async fn json_error_bodies(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if content_type.starts_with("application/json") || content_type.starts_with("text/html") {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::new(status, "not_found", "No such route"),
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::new(status, "method_not_allowed", "This route does not accept that method")
        }
        StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(),
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::REQUEST_TIMEOUT => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "timeout", "The request took too long")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(status, "unsupported_media_type", text.into_owned()),
        _ if status.is_client_error() => {
            let message = if text.trim().is_empty() {
                "Bad request".to_owned()
            } else {
                text.into_owned()
            };
            ApiError::new(status, "invalid_request", message)
        }
        _ => ApiError::new(status, "internal", "Something went wrong on our side"),
    };
    let mut response = error.into_response();
    // Keep headers such as Allow (405) that the original answer carried.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().entry(name).or_insert_with(|| value.clone());
        }
    }
    response
}
