//! Extractors: the request's verified identity, and JSON bodies whose rejections use the `/api` error shape.

use crate::bearer::{BearerProblem, BearerToken, TokenSource};
use crate::{ApiError, AppState};
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::{StatusCode, header, request::Parts};
use kith_db::identity::TokenError;
use kith_db::{Caller, DbRole};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A signed-in user: the request carried a verified token with role `authenticated`.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The caller to open transactions for.
    pub caller: Caller,
    /// The user's id (`auth.uid()` inside the transaction).
    pub user_id: Uuid,
}

/// The request's caller: anonymous without a token; a token that cannot be read or verified is refused in the
/// `/api` dialect.
fn caller_of(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let caller = match BearerToken::from_headers(&parts.headers).map_err(bearer_problem)? {
        None => Caller::anonymous(),
        Some(token) => token.verify(&state.verifier).map_err(|err| {
            tracing::info!(reason = %err, "token refused");
            match err {
                TokenError::Expired => ApiError::token_expired(),
                refused => ApiError::invalid_token(refused.to_string()),
            }
        })?,
    };
    Ok(caller.for_request(parts.method.as_str(), parts.uri.path()))
}

/// A credential header `/api` cannot read: 401 `invalid_token` saying what is wrong with it.
fn bearer_problem(problem: BearerProblem) -> ApiError {
    ApiError::invalid_token(match problem {
        BearerProblem::NotText(TokenSource::Authorization) => "The Authorization header is not valid text",
        BearerProblem::NotText(TokenSource::ApiKey) => "The apikey header is not valid text",
        BearerProblem::NotBearer | BearerProblem::Empty(TokenSource::Authorization) => {
            "The Authorization header must be `Bearer <token>`"
        }
        BearerProblem::Empty(TokenSource::ApiKey) => "The apikey header is empty",
    })
}

/// Works under any service state that embeds the shared [`AppState`] (`FromRef`), so each service keeps its own
/// typed state.
impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = caller_of(parts, &AppState::from_ref(state))?;
        match (caller.role(), caller.user_id()) {
            (DbRole::Authenticated, Some(user_id)) => {
                tracing::Span::current().record("user_id", tracing::field::display(user_id));
                tracing::debug!(%user_id, "token auth successful");
                Ok(AuthUser { caller, user_id })
            }
            (DbRole::Anon, _) => Err(ApiError::missing_token()),
            _ => Err(ApiError::invalid_token(
                "This route needs a user's access token, not an API key",
            )),
        }
    }
}

/// A JSON body; malformed JSON is a 400, a wrong shape (unknown field, wrong type) a 422 naming the field.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                ApiError::invalid_request("The request body could not be read")
            }
        })?;
        // serde accepts a JSON array for a struct (fields by position); an `/api` body is always an object.
        match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'{') => {}
            Some(b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9') => {
                return Err(ApiError::validation("body", "must be a JSON object"));
            }
            _ => return Err(ApiError::invalid_request("Malformed JSON: expected a JSON object")),
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    let text = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => {
            // "Failed to deserialize the JSON body into the target type: <path>: <problem> at line L column C"
            let detail = text.split_once("target type: ").map_or(text.as_str(), |(_, rest)| rest);
            let (field, problem) = match detail.split_once(": ") {
                Some((path, problem)) if !path.contains(' ') && path != "." => (path.to_owned(), problem),
                _ => ("body".to_owned(), detail),
            };
            ApiError::validation(field, problem.to_owned())
        }
        JsonRejection::JsonSyntaxError(_) => {
            ApiError::invalid_request(format!("Malformed JSON: {}", syntax_detail(&text)))
        }
        _ => ApiError::invalid_request("The request body could not be read"),
    }
}

fn syntax_detail(text: &str) -> &str {
    text.split_once("as JSON: ").map_or(text, |(_, rest)| rest)
}

/// 413 with the `/api` shape.
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "The request body is too large",
    )
}
