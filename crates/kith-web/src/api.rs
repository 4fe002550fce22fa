//! The dashboard's writes go through the very `/api` (and `/auth/v1`) handlers a bearer client calls, in process:
//! the same input checks, role rules, constraint wording and caller transaction, so a page can never apply a rule
//! differently from the API. The request carries a short-lived access token re-signed from the browser session's
//! own verified claims (the auth service does the same for every page); it never leaves the process and is never
//! logged.

use crate::WebState;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kith_auth::browser::BrowserSession;
use kith_db::Caller;
use serde_json::Value;
use tower::ServiceExt;

/// Largest answer read back from an internal call (a workspace's CSV export is the largest).
const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// An `/api` or `/auth/v1` refusal, as a page shows it.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status the API answered.
    pub status: StatusCode,
    /// Its error code (`validation_failed`, `insufficient_role`, `weak_password`, …).
    pub code: String,
    /// The field it names, if any.
    pub field: Option<String>,
    /// Its message, meant for people.
    pub message: String,
}

impl Refusal {
    fn internal() -> Self {
        Refusal {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "internal".into(),
            field: None,
            message: "Something went wrong on our side.".into(),
        }
    }

    /// Reads the error out of an answer in either dialect: `/api`'s `{"error": {code, message, field}}` or
    /// Supabase Auth's `{code, error_code, msg}`.
    fn from_answer(status: StatusCode, body: &Value) -> Self {
        let error = &body["error"];
        let (code, message, field) = if error.is_object() {
            (
                error["code"].as_str(),
                error["message"].as_str(),
                error["field"].as_str().map(str::to_owned),
            )
        } else {
            (
                body["error_code"].as_str(),
                body["msg"].as_str().or(body["message"].as_str()),
                None,
            )
        };
        Refusal {
            status,
            code: code.unwrap_or("error").to_owned(),
            field,
            message: message.unwrap_or("The request was refused.").to_owned(),
        }
    }
}

/// Calls `method path` with a JSON `body` as the session's user; the answer's JSON (`null` for 204).
pub async fn call(
    state: &WebState,
    session: &BrowserSession,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, Refusal> {
    let body = body.map(|json| ("application/json", json.to_string().into_bytes()));
    let (_, bytes) = call_raw(state, session, method, path, body).await?;
    Ok(if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    })
}

/// `GET path` as the session's user, answered as a file download named `filename`.
pub async fn download(
    state: &WebState,
    session: &BrowserSession,
    path: &str,
    content_type: &'static str,
    filename: &'static str,
) -> Result<axum::response::Response, Refusal> {
    use axum::response::IntoResponse;
    let (_, bytes) = call_raw(state, session, Method::GET, path, None).await?;
    let disposition = format!("attachment; filename=\"{filename}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// Calls `method path` with a body of the given content type; the answer's headers and bytes on success.
pub async fn call_raw(
    state: &WebState,
    session: &BrowserSession,
    method: Method,
    path: &str,
    body: Option<(&'static str, Vec<u8>)>,
) -> Result<(axum::http::HeaderMap, axum::body::Bytes), Refusal> {
    call_raw_as(state, &session.caller, method, path, body).await
}

/// [`call_raw`] as `caller` (a browser session's, or a calendar feed's reader).
pub async fn call_raw_as(
    state: &WebState,
    caller: &Caller,
    method: Method,
    path: &str,
    body: Option<(&'static str, Vec<u8>)>,
) -> Result<(axum::http::HeaderMap, axum::body::Bytes), Refusal> {
    let claims: Value = serde_json::from_str(caller.claims_json()).map_err(|_| Refusal::internal())?;
    let token = state.auth().signer().sign(&claims).map_err(|err| {
        tracing::error!(error = %err, "cannot sign the page's access token");
        Refusal::internal()
    })?;
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some((content_type, bytes)) => {
            request = request.header(header::CONTENT_TYPE, content_type);
            Body::from(bytes)
        }
        None => Body::empty(),
    };
    let request = request.body(body).map_err(|_| Refusal::internal())?;
    let response = match state.api_router().clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ANSWER_BYTES)
        .await
        .map_err(|_| Refusal::internal())?;
    if status.is_success() {
        return Ok((parts.headers, bytes));
    }
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Err(Refusal::from_answer(status, &json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_error_dialects_are_read() {
        let api = Refusal::from_answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"error": {"code": "validation_failed", "message": "must be an email", "field": "email"}}),
        );
        assert_eq!(
            (api.code.as_str(), api.field.as_deref(), api.message.as_str()),
            ("validation_failed", Some("email"), "must be an email")
        );
        let auth = Refusal::from_answer(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"code": 422, "error_code": "weak_password", "msg": "Password should be at least 8 characters."}),
        );
        assert_eq!(
            (auth.code.as_str(), auth.field, auth.message.as_str()),
            ("weak_password", None, "Password should be at least 8 characters.")
        );
    }
}
