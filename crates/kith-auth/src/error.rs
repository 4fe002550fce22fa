//! Errors in Supabase Auth's shapes.
//!
//! A request that sends `X-Supabase-Api-Version: 2024-01-01` (supabase-js always does) gets
//! `{"code": "<error_code>", "message": "…"}` and the header echoed; one without it gets the legacy
//! `{"code": <status>, "error_code": "…", "msg": "…"}`. Both carry `x-sb-error-code`. OAuth-style errors
//! (`{"error", "error_description"}`) are used where Supabase Auth uses them.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kith_db::DbError;
use serde_json::json;
use std::borrow::Cow;

/// The API version supabase-js sends and Kith answers.
pub const API_VERSION: &str = "2024-01-01";
const API_VERSION_HEADER: &str = "x-supabase-api-version";

/// Result of an auth handler.
pub type AuthResult<T> = Result<T, AuthError>;

/// An auth error: status, Supabase error code and message.
#[derive(Debug, Clone)]
pub struct AuthError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    weak_password_reasons: Option<Vec<&'static str>>,
    oauth: bool,
    retry_after: Option<u64>,
}

/// Stashed in the response so the version middleware can re-render the legacy shape.
#[derive(Debug, Clone)]
struct RenderedError {
    status: StatusCode,
    code: &'static str,
    message: String,
    weak_password_reasons: Option<Vec<&'static str>>,
}

impl AuthError {
    /// An error with the given status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        AuthError {
            status,
            code,
            message: message.into(),
            weak_password_reasons: None,
            oauth: false,
            retry_after: None,
        }
    }

    /// 400 `validation_failed`.
    pub fn validation(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", message)
    }

    /// 400 `invalid_credentials` "Invalid login credentials".
    pub fn invalid_credentials() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
            "Invalid login credentials",
        )
    }

    /// 422 `weak_password`, with the reasons supabase-js surfaces.
    pub fn weak_password(min: usize) -> Self {
        AuthError {
            weak_password_reasons: Some(vec!["length"]),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "weak_password",
                format!("Password should be at least {min} characters."),
            )
        }
    }

    /// 422 `phone_provider_disabled`: Kith signs in by email only.
    pub fn phone_disabled() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone_provider_disabled",
            "Phone logins are disabled",
        )
    }

    /// 429 `over_email_send_rate_limit`: Supabase Auth mails one address at most once per interval.
    pub fn mail_too_soon(seconds: i64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "over_email_send_rate_limit",
            format!(
                "For security purposes, you can only request this after {} seconds.",
                seconds.max(1)
            ),
        )
    }

    /// 403 `bad_jwt`.
    pub fn bad_jwt(reason: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "bad_jwt",
            format!("invalid JWT: unable to parse or verify signature, {reason}"),
        )
    }

    /// 429 `over_request_rate_limit` with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        AuthError {
            retry_after: Some(retry_after.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "over_request_rate_limit",
                "Request rate limit reached",
            )
        }
    }

    /// 400 in the OAuth shape `{"error", "error_description"}`.
    pub fn oauth(error: &'static str, description: impl Into<Cow<'static, str>>) -> Self {
        AuthError {
            oauth: true,
            ..Self::new(StatusCode::BAD_REQUEST, error, description)
        }
    }

    /// 500 `unexpected_failure`; logs `err` in the request span and hides it.
    pub fn unexpected(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "auth request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Unexpected failure, please try again",
        )
    }

    /// The error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Seconds to wait, for a rate-limit refusal.
    pub fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for AuthError {}

impl From<DbError> for AuthError {
    fn from(err: DbError) -> Self {
        if err.is_unavailable() {
            tracing::warn!(error = %err, "database unavailable");
            let mut error = Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "The service is temporarily unavailable",
            );
            error.retry_after = Some(5);
            return error;
        }
        Self::unexpected(&err)
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        if self.oauth {
            return (
                self.status,
                axum::Json(json!({"error": self.code, "error_description": self.message})),
            )
                .into_response();
        }
        let mut body = json!({"code": self.code, "message": self.message});
        if let Some(reasons) = &self.weak_password_reasons {
            body["weak_password"] = json!({ "reasons": reasons });
        }
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert("x-sb-error-code", HeaderValue::from_static(self.code));
        if let Some(seconds) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            headers.insert("retry-after", value);
        }
        response.extensions_mut().insert(RenderedError {
            status: self.status,
            code: self.code,
            message: self.message.into_owned(),
            weak_password_reasons: self.weak_password_reasons,
        });
        response
    }
}

/// Answers axum makes itself under `/auth/v1` — a method the path does not take, a query string it cannot read —
/// in Supabase Auth's error shape (so clients show the message, not `[object Object]`), keeping `Allow`.
pub async fn router_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() || is_json || response.extensions().get::<RenderedError>().is_some() {
        return response;
    }
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let (_, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let error = match status {
        StatusCode::NOT_FOUND => not_found(),
        StatusCode::METHOD_NOT_ALLOWED => AuthError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "Method Not Allowed",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => AuthError::new(status, "request_too_large", "Request body too large"),
        _ => AuthError::new(
            StatusCode::BAD_REQUEST,
            "validation_failed",
            String::from_utf8_lossy(&text)
                .trim()
                .chars()
                .take(300)
                .collect::<String>(),
        ),
    };
    let mut response = error.into_response();
    if let Some(allow) = allow {
        response.headers_mut().insert(axum::http::header::ALLOW, allow);
    }
    response
}

/// 404 `not_found` for a path Supabase Auth does not have.
pub fn not_found() -> AuthError {
    AuthError::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
}

/// Answers in the error shape the request's API version asks for, and echoes the version it understood.
pub async fn api_versions(request: Request, next: Next) -> Response {
    let versioned = request
        .headers()
        .get(API_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() >= API_VERSION);
    let mut response = next.run(request).await;
    if versioned {
        response
            .headers_mut()
            .insert(API_VERSION_HEADER, HeaderValue::from_static(API_VERSION));
        return response;
    }
    let Some(error) = response.extensions_mut().remove::<RenderedError>() else {
        return response;
    };
    let mut body = json!({"code": error.status.as_u16(), "error_code": error.code, "msg": error.message});
    if let Some(reasons) = error.weak_password_reasons {
        body["weak_password"] = json!({ "reasons": reasons });
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let mut legacy = (error.status, axum::Json(body)).into_response();
    for (name, value) in &parts.headers {
        legacy.headers_mut().entry(name).or_insert_with(|| value.clone());
    }
    legacy
}
