//! PostgREST's error answer: `{"code", "message", "details", "hint"}` with its status rules (SQLSTATE → HTTP,
//! PGRSTxxx codes). Internal failures are logged once and answered without server internals.

use crate::parser::ParseError;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kith_db::{DbError, DbRole};
use kith_http::metrics::ErrorTag;
use serde_json::{Value, json};

/// An error answer of the data API (boxed: errors are rare, results are common).
#[derive(Debug, Clone)]
pub struct RestError(Box<ErrorBody>);

impl std::ops::Deref for RestError {
    type Target = ErrorBody;
    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for RestError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

/// The parts of an error answer.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    /// HTTP status.
    pub status: StatusCode,
    /// `PGRSTxxx` or a SQLSTATE.
    pub code: String,
    /// Message.
    pub message: String,
    /// Details (string, or JSON for PGRST201).
    pub details: Value,
    /// Hint.
    pub hint: Value,
    /// `WWW-Authenticate` value for 401s.
    pub challenge: Option<String>,
    /// The metrics tag of a refused credential (`invalid_token`, `token_expired`), set where it is refused.
    pub auth_failure: Option<&'static str>,
}

/// Result of the data API's internals.
pub type RestResult<T> = Result<T, RestError>;

impl RestError {
    /// Any error.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        RestError(Box::new(ErrorBody {
            status,
            code: code.to_owned(),
            message: message.into(),
            details: Value::Null,
            hint: Value::Null,
            challenge: None,
            auth_failure: None,
        }))
    }

    /// With details.
    pub fn details(mut self, details: impl Into<String>) -> Self {
        self.details = Value::String(details.into());
        self
    }

    /// With a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Value::String(hint.into());
        self
    }

    /// 400 PGRST100.
    pub fn parse(err: ParseError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PGRST100", err.message).details(err.details)
    }

    /// 400 PGRST102: the body is not acceptable.
    pub fn body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PGRST102", message)
    }

    /// 404 PGRST205.
    pub fn unknown_table(schema: &str, name: &str, similar: Option<String>) -> Self {
        let error = Self::new(
            StatusCode::NOT_FOUND,
            "PGRST205",
            format!("Could not find the table '{schema}.{name}' in the schema cache"),
        );
        match similar {
            Some(other) => error.hint(format!("Perhaps you meant the table '{schema}.{other}'")),
            None => error,
        }
    }

    /// 400 42703, as Postgres words it.
    pub fn unknown_column(table: &str, column: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "42703",
            format!("column {table}.{column} does not exist"),
        )
    }

    /// 400 PGRST204: a payload, `columns` or `on_conflict` name that is not a column.
    pub fn unknown_payload_column(table: &str, column: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "PGRST204",
            format!("Could not find the '{column}' column of '{table}' in the schema cache"),
        )
    }

    /// 401 PGRST301/PGRST303 with the RFC 6750 challenge.
    pub fn jwt(code: &str, message: &str) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, code, message);
        error.challenge = Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            message.replace(['"', '\\'], "")
        ));
        error.auth_failure = Some("invalid_token");
        error
    }

    /// 401 PGRST303 `JWT expired`.
    pub fn jwt_expired() -> Self {
        let mut error = Self::jwt("PGRST303", "JWT expired");
        error.auth_failure = Some("token_expired");
        error
    }

    /// 406 PGRST116.
    pub fn singular(rows: i64) -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "PGRST116",
            "JSON object requested, multiple (or no) rows returned",
        )
        .details(format!("The result contains {rows} rows"))
    }

    /// 503 PGRST002 while the schema cache cannot be read.
    pub fn cache_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "PGRST002",
            "Could not query the database for the schema cache. Retrying.",
        )
    }

    /// 500, logged here and hidden from the client.
    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %err, "data API internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "PGRST000", "Internal server error")
    }

    /// Maps a database error for a caller of `role` (PostgREST's `mapSQLtoHTTP`).
    pub fn from_db(err: &DbError, role: DbRole) -> Self {
        if err.is_unavailable() {
            tracing::warn!(error = %err, "database unavailable");
            return Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PGRST000",
                "Could not connect to the database",
            );
        }
        let DbError::Query(query) = err else {
            return Self::internal(err);
        };
        let Some(db) = query.as_db_error() else {
            return Self::internal(err);
        };
        let code = db.code().code().to_owned();
        let status = sqlstate_status(&code, db.message(), role);
        if status.is_server_error() {
            tracing::error!(sqlstate = %code, error = %db.message(), "data API statement failed");
        }
        let mut error = Self::new(status, &code, db.message());
        if let Some(detail) = db.detail() {
            error.details = Value::String(detail.to_owned());
        }
        if let Some(hint) = db.hint() {
            error.hint = Value::String(hint.to_owned());
        }
        if status == StatusCode::UNAUTHORIZED {
            error.challenge = Some("Bearer".to_owned());
        }
        error
    }
}

/// SQLSTATE → HTTP status, after PostgREST.
pub fn sqlstate_status(code: &str, message: &str, role: DbRole) -> StatusCode {
    let class = code.get(..2).unwrap_or("");
    match code {
        "23503" | "23505" => return StatusCode::CONFLICT,
        "25006" => return StatusCode::METHOD_NOT_ALLOWED,
        "42883" | "42P01" => return StatusCode::NOT_FOUND,
        "42P17" | "53400" => return StatusCode::INTERNAL_SERVER_ERROR,
        "57P01" => return StatusCode::SERVICE_UNAVAILABLE,
        // statement_timeout: the request's own cost, not a server fault (PostgREST answers 500).
        "57014" => return StatusCode::GATEWAY_TIMEOUT,
        "P0001" => return StatusCode::BAD_REQUEST,
        "21000" if message.ends_with("requires a WHERE clause") => return StatusCode::BAD_REQUEST,
        "21000" => return StatusCode::INTERNAL_SERVER_ERROR,
        "22023" if message.starts_with("role") && message.ends_with("does not exist") => {
            return StatusCode::UNAUTHORIZED;
        }
        "42501" => {
            return if role == DbRole::Anon {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::FORBIDDEN
            };
        }
        _ => {}
    }
    if let Some(custom) = code.strip_prefix("PT")
        && let Ok(number) = custom.parse::<u16>()
        && let Ok(status) = StatusCode::from_u16(number)
    {
        return status;
    }
    match class {
        "08" | "53" => StatusCode::SERVICE_UNAVAILABLE,
        "09" | "25" | "2D" | "38" | "39" | "3B" | "40" | "54" | "55" | "57" | "58" | "F0" | "HV" | "XX" | "P0" => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
        "0L" | "0P" | "28" => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let auth_failure = match this.code.as_str() {
            "PGRST302" => Some("missing_token"),
            _ => this.auth_failure,
        };
        let body = json!({
            "code": this.code,
            "message": this.message,
            "details": this.details,
            "hint": this.hint,
        });
        let mut response = (this.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(challenge) = this.challenge
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Ok(value) = HeaderValue::from_str(&format!("PostgREST; error={}", this.code)) {
            headers.insert(HeaderName::from_static("proxy-status"), value);
        }
        if this.status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        ErrorTag::attach(&mut response, this.code, auth_failure);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_table() {
        assert_eq!(sqlstate_status("42501", "", DbRole::Anon), StatusCode::UNAUTHORIZED);
        assert_eq!(
            sqlstate_status("42501", "", DbRole::Authenticated),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            sqlstate_status("23505", "", DbRole::Authenticated),
            StatusCode::CONFLICT
        );
        assert_eq!(
            sqlstate_status("23503", "", DbRole::Authenticated),
            StatusCode::CONFLICT
        );
        assert_eq!(sqlstate_status("22P02", "", DbRole::Anon), StatusCode::BAD_REQUEST);
        assert_eq!(
            sqlstate_status("25006", "", DbRole::Anon),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(sqlstate_status("42P01", "", DbRole::Anon), StatusCode::NOT_FOUND);
        assert_eq!(
            sqlstate_status("08006", "", DbRole::Anon),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(sqlstate_status("PT402", "", DbRole::Anon), StatusCode::PAYMENT_REQUIRED);
        assert_eq!(
            sqlstate_status("XX000", "", DbRole::Anon),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            sqlstate_status("21000", "DELETE requires a WHERE clause", DbRole::Anon),
            StatusCode::BAD_REQUEST
        );
    }
}
