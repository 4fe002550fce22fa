//! Storage errors in Supabase Storage's wire shape: `{"statusCode":"404","code":"NoSuchKey","error":"not_found",
//! "message":"Object not found"}`, with the same number as the HTTP status.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kith_db::DbError;
use serde_json::json;

/// A refused or failed storage request.
#[derive(Debug)]
pub struct StorageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Supabase's error code (`NoSuchKey`, `Duplicate`, …).
    pub code: &'static str,
    /// Supabase's short error name (`not_found`, `Duplicate`, …).
    pub error: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

/// The result type of storage handlers.
pub type StorageResult<T> = Result<T, StorageError>;

impl StorageError {
    /// An error with every field given.
    pub fn new(status: StatusCode, code: &'static str, error: &'static str, message: impl Into<String>) -> Self {
        StorageError {
            status,
            code,
            error,
            message: message.into(),
        }
    }

    /// 400: the request itself is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "InvalidRequest", "Invalid Request", message)
    }

    /// 400: a bad object name.
    pub fn invalid_key(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidKey",
            "Invalid Input",
            format!("Invalid key: {}", printable(name)),
        )
    }

    /// 400: a bad bucket name.
    pub fn invalid_bucket(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            "Invalid Input",
            format!("Bucket name invalid: {}", printable(name)),
        )
    }

    /// 404: no such object, or the caller may not see it (the two are not told apart).
    pub fn object_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NoSuchKey", "not_found", "Object not found")
    }

    /// 404: no such bucket, or the caller may not see it.
    pub fn bucket_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "Bucket not found",
            "Bucket not found",
        )
    }

    /// 413: larger than the bucket's or the server's limit.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "EntityTooLarge",
            "Payload too large",
            "The object exceeded the maximum allowed size",
        )
    }

    /// 403: row-level security refused the operation.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "AccessDenied", "Unauthorized", message)
    }

    /// 401/403: the token is not acceptable.
    pub fn bad_token(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "InvalidJWT", "Unauthorized", message)
    }

    /// 500: something failed on Kith's side; the detail goes to the log, not the client.
    pub fn internal(context: &str, err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "storage: {context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "Internal",
            "Something went wrong on our side",
        )
    }

    /// Words a database refusal the way Supabase Storage does.
    pub fn from_db(err: &DbError) -> Self {
        if err.is_unavailable() {
            tracing::warn!(error = %err, "storage: database unavailable");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "DatabaseTimeout",
                "unavailable",
                "The database is unavailable, try again",
            );
        }
        let code = err.sql_state().map(|s| s.code().to_owned()).unwrap_or_default();
        let message = match err {
            DbError::Query(e) => e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default(),
            _ => String::new(),
        };
        match code.as_str() {
            "42501" => Self::forbidden(if message.contains("row-level security") {
                "new row violates row-level security policy".to_owned()
            } else {
                message
            }),
            "23505" => Self::new(
                StatusCode::CONFLICT,
                "Duplicate",
                "Duplicate",
                "The resource already exists",
            ),
            "23503" => Self::bucket_not_found(),
            "KS413" => Self::too_large(),
            "KS415" => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "InvalidMimeType",
                "invalid_mime_type",
                message,
            ),
            "23514" | "23502" | "22P02" | "22001" | "22003" => Self::invalid(match err.constraint() {
                Some(constraint) => format!("The value breaks the rule {constraint}"),
                None => "A value is not valid".to_owned(),
            }),
            "57014" => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "DatabaseTimeout",
                "timeout",
                "The request took too long",
            ),
            _ => Self::internal("database error", err),
        }
    }
}

impl From<DbError> for StorageError {
    fn from(err: DbError) -> Self {
        Self::from_db(&err)
    }
}

/// A name as it may be echoed: control characters escaped, at most 200 characters.
fn printable(name: &str) -> String {
    name.chars().take(200).flat_map(char::escape_debug).collect()
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        let body = json!({
            "statusCode": self.status.as_u16().to_string(),
            "code": self.code,
            "error": self.error,
            "message": self.message,
        });
        (self.status, Json(body)).into_response()
    }
}
