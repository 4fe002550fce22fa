//! The data API's caller: verified like every Kith request, but refused with PostgREST's JWT errors
//! (PGRST301/PGRST303, `WWW-Authenticate: Bearer error="invalid_token"`). Tokens are never logged.

use crate::error::{RestError, RestResult};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use kith_db::Caller;
use kith_db::identity::{JwtVerifier, TokenError};
use kith_http::AppState;
use serde_json::{Map, Value};

/// The caller of a `/rest/v1` request, as an extractor: anonymous without a token, refused with PostgREST's
/// JWT errors when a token fails verification. The path it carries (`request.path`) is the one below
/// `/rest/v1`, as PostgREST sees it behind Supabase's gateway.
#[derive(Debug, Clone)]
pub struct RestCaller(pub Caller);

impl<S> FromRequestParts<S> for RestCaller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = RestError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        // Nested under `/rest/v1`, the router hands over the path below it.
        let path = parts.uri.path().strip_prefix("/rest/v1").unwrap_or(parts.uri.path());
        caller(&parts.headers, &app.verifier, parts.method.as_str(), path).map(RestCaller)
    }
}

/// The token a request carries: `Authorization: Bearer`, else the `apikey` header (as Supabase's gateway
/// forwards it).
fn token(headers: &HeaderMap) -> RestResult<Option<String>> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| RestError::jwt("PGRST301", "Invalid Authorization header"))?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(RestError::jwt("PGRST301", "Invalid Authorization header"));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(RestError::jwt("PGRST301", "Empty JWT is sent in Authorization header"));
        }
        return Ok(Some(token.to_owned()));
    }
    match headers.get("apikey") {
        Some(value) => {
            let key = value
                .to_str()
                .map_err(|_| RestError::jwt("PGRST301", "Invalid apikey header"))?
                .trim();
            Ok((!key.is_empty()).then(|| key.to_owned()))
        }
        None => Ok(None),
    }
}

/// The caller of a data API request, tagged with its method, path and headers (`request.*` settings).
pub fn caller(headers: &HeaderMap, verifier: &JwtVerifier, method: &str, path: &str) -> RestResult<Caller> {
    let caller = match token(headers)? {
        None => Caller::anonymous(),
        Some(token) => {
            let parts = token.split('.').count();
            if parts != 3 {
                return Err(RestError::jwt(
                    "PGRST301",
                    &format!("Expected 3 parts in JWT; got {parts}"),
                ));
            }
            verifier.verify(&token).map_err(|err| {
                tracing::info!(reason = %err, "data API token refused");
                match err {
                    TokenError::Expired => RestError::jwt("PGRST303", "JWT expired"),
                    TokenError::NotYetValid => RestError::jwt("PGRST303", "JWT not yet valid"),
                    TokenError::BadSignature => RestError::jwt("PGRST301", "JWT cryptographic operation failed"),
                    refused => RestError::jwt("PGRST301", &format!("Invalid JWT: {refused}")),
                }
            })?
        }
    };
    Ok(caller
        .for_request(method, path)
        .with_request_headers(headers_json(headers)))
}

/// The request's headers as PostgREST exposes them in `request.headers`: lower-cased names, no cookies.
/// Unlike PostgREST, the credentials (`authorization`, `apikey`) are left out too: policies read the verified
/// claims from `request.jwt.claims`, and a raw token has no business in a setting that statement logging could
/// expose.
pub fn headers_json(headers: &HeaderMap) -> String {
    let mut map = Map::new();
    for (name, value) in headers {
        if name == axum::http::header::COOKIE || name == axum::http::header::AUTHORIZATION || name == "apikey" {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        let key = name.as_str().to_owned();
        match map.get_mut(&key) {
            Some(Value::String(existing)) => {
                existing.push_str(", ");
                existing.push_str(value);
            }
            _ => {
                map.insert(key, Value::String(value.to_owned()));
            }
        }
    }
    Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_are_left_out_of_request_headers() {
        let mut headers = HeaderMap::new();
        headers.insert("cookie", HeaderValue::from_static("session=secret"));
        headers.insert("authorization", HeaderValue::from_static("Bearer secret"));
        headers.insert("apikey", HeaderValue::from_static("secret"));
        headers.insert("x-client-info", HeaderValue::from_static("supabase-js/2"));
        let json: Value = serde_json::from_str(&headers_json(&headers)).unwrap();
        assert!(json.get("cookie").is_none());
        assert!(json.get("authorization").is_none());
        assert!(json.get("apikey").is_none());
        assert!(!json.to_string().contains("secret"));
        assert_eq!(json["x-client-info"], "supabase-js/2");
    }

    #[test]
    fn bad_authorization_headers_are_refused() {
        let verifier = JwtVerifier::hs256(b"0123456789abcdef0123456789abcdef");
        for value in ["Bearer ", "Basic abc", "Bearer a.b", "Bearer a.b.c"] {
            let mut headers = HeaderMap::new();
            headers.insert("authorization", HeaderValue::from_str(value).unwrap());
            let err = caller(&headers, &verifier, "GET", "/rest/v1/t").unwrap_err();
            assert_eq!(err.status, axum::http::StatusCode::UNAUTHORIZED, "{value}");
        }
        assert!(caller(&HeaderMap::new(), &verifier, "GET", "/rest/v1/t").is_ok());
    }
}
