//! The `/api` error type: `{"error": {"code", "message", "field"?}}` with the status and headers of DESIGN §4.
//!
//! Use [`ApiError`] in every `/api` handler (`ApiResult<T>`). Internal failures are logged once, inside the
//! request span, and answered with a generic message: nothing about the server's internals reaches a client.

use crate::metrics::ErrorTag;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kith_db::DbError;
use kith_db::tokio_postgres::error::SqlState;
use serde_json::json;
use std::borrow::Cow;

/// Result of an `/api` handler.
pub type ApiResult<T> = Result<T, ApiError>;

/// An error answer with a stable snake_case code.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    field: Option<String>,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    /// 401: the request carries no token.
    pub fn missing_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "Authentication required: send Authorization: Bearer <token>",
        )
    }

    /// 401: the token could not be verified.
    pub fn invalid_token(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", reason)
    }

    /// 401: the token is past its `exp`.
    pub fn token_expired() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "token_expired",
            "The token has expired; refresh it and try again",
        )
    }

    /// 400: the request cannot be understood.
    pub fn invalid_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 422: a field's value is not acceptable.
    pub fn validation(field: impl Into<String>, message: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
        }
    }

    /// 404: the item does not exist, or belongs to someone else (never say which).
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found")
    }

    /// 503: the database cannot be reached.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "The service is temporarily unavailable; try again shortly",
        )
    }

    /// 500: logs `err` in the current request span and hides it from the client.
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on our side",
        )
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The snake_case code.
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"code": self.code, "message": self.message});
        if let Some(field) = self.field {
            body["field"] = json!(field);
        }
        let mut response = (self.status, axum::Json(json!({ "error": body }))).into_response();
        let auth_failure = match self.code {
            "missing_token" => Some("missing_token"),
            "invalid_token" => Some("invalid_token"),
            "token_expired" => Some("token_expired"),
            _ => None,
        };
        ErrorTag::attach(&mut response, self.code, auth_failure);
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: name the problem only when a token was presented.
            let challenge = if self.code == "missing_token" {
                HeaderValue::from_static("Bearer")
            } else {
                HeaderValue::from_static("Bearer error=\"invalid_token\"")
            };
            response.headers_mut().insert(header::WWW_AUTHENTICATE, challenge);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        if err.is_unavailable() {
            tracing::warn!(error = %err, "database unavailable");
            return ApiError::unavailable();
        }
        match err.sql_state() {
            Some(state) if *state == SqlState::INSUFFICIENT_PRIVILEGE => ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_role",
                "Your role does not allow this",
            ),
            Some(state) if *state == SqlState::UNIQUE_VIOLATION => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "This conflicts with an existing item")
            }
            Some(state) if *state == SqlState::CHECK_VIOLATION || *state == SqlState::STRING_DATA_RIGHT_TRUNCATION => {
                let field = err.violated_field().unwrap_or("value").to_owned();
                ApiError::validation(field, "The value is not acceptable")
            }
            Some(state) if *state == SqlState::READ_ONLY_SQL_TRANSACTION => ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This request may not write",
            ),
            _ => ApiError::internal(&err),
        }
    }
}
