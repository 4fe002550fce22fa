//! The data API's caller: verified like every Kith request, but refused with PostgREST's JWT errors
//! (PGRST301/PGRST303, `WWW-Authenticate: Bearer error="invalid_token"`). Tokens are never logged.

use crate::error::{RestError, RestResult};
use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use kith_db::Caller;
use kith_db::identity::{JwtVerifier, TokenError};
use kith_http::AppState;
use kith_http::bearer::{BearerProblem, BearerToken, TokenSource};
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

/// A credential header problem in PostgREST's words (all PGRST301).
fn bearer_problem(problem: BearerProblem) -> RestError {
    let message = match problem {
        BearerProblem::NotText(TokenSource::Authorization) | BearerProblem::NotBearer => "Invalid Authorization header",
        BearerProblem::NotText(TokenSource::ApiKey) => "Invalid apikey header",
        BearerProblem::Empty(_) => "Empty JWT is sent in Authorization header",
    };
    RestError::jwt("PGRST301", message)
}

/// A refused token in PostgREST's words: PGRST303 for its time window, PGRST301 otherwise.
fn token_error(err: TokenError) -> RestError {
    tracing::info!(reason = %err, "data API token refused");
    match err {
        TokenError::Expired => RestError::jwt_expired(),
        TokenError::NotYetValid => RestError::jwt("PGRST303", "JWT not yet valid"),
        TokenError::BadSignature => RestError::jwt("PGRST301", "JWT cryptographic operation failed"),
        TokenError::UnknownKey | TokenError::Malformed(_) | TokenError::Claims(_) => {
            RestError::jwt("PGRST301", &format!("Invalid JWT: {err}"))
        }
    }
}

/// The caller of a data API request, tagged with its method, path and headers (`request.*` settings). The
/// token is read by the one bearer parser ([`BearerToken`]); an empty `apikey` is anonymous, as Supabase's
/// gateway passes it on.
pub fn caller(headers: &HeaderMap, verifier: &JwtVerifier, method: &str, path: &str) -> RestResult<Caller> {
    let token = match BearerToken::from_headers(headers) {
        Ok(token) => token,
        Err(BearerProblem::Empty(TokenSource::ApiKey)) => None,
        Err(problem) => return Err(bearer_problem(problem)),
    };
    let caller = match token {
        None => Caller::anonymous(),
        Some(token) => {
            let parts = token.expose().split('.').count();
            if parts != 3 {
                return Err(RestError::jwt(
                    "PGRST301",
                    &format!("Expected 3 parts in JWT; got {parts}"),
                ));
            }
            token.verify(verifier).map_err(token_error)?
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

    #[test]
    fn header_problems_are_worded_as_postgrest_does() {
        let verifier = JwtVerifier::hs256(b"0123456789abcdef0123456789abcdef");
        let refusal = |name: &'static str, value: &[u8]| {
            let mut headers = HeaderMap::new();
            headers.insert(name, HeaderValue::from_bytes(value).unwrap());
            caller(&headers, &verifier, "GET", "/t").map(|_| ()).unwrap_err()
        };
        let cases: [(&str, &[u8], &str); 5] = [
            ("authorization", b"Basic abc", "Invalid Authorization header"),
            ("authorization", b"Bearer a b", "Invalid Authorization header"),
            ("authorization", b"Bearer ", "Empty JWT is sent in Authorization header"),
            ("authorization", b"Bearer \xff", "Invalid Authorization header"),
            ("apikey", b"\xff", "Invalid apikey header"),
        ];
        for (name, value, message) in cases {
            let err = refusal(name, value);
            assert_eq!(
                (err.code.as_str(), err.message.as_str()),
                ("PGRST301", message),
                "{name}"
            );
        }
        assert_eq!(
            refusal("authorization", b"Bearer a.b").message,
            "Expected 3 parts in JWT; got 2"
        );
        // An empty apikey is no credential at all.
        let mut headers = HeaderMap::new();
        headers.insert("apikey", HeaderValue::from_static(" "));
        let anonymous = caller(&headers, &verifier, "GET", "/t").unwrap();
        assert_eq!(anonymous.role(), kith_db::DbRole::Anon);
    }

    #[test]
    fn token_errors_map_by_variant() {
        use kith_db::identity::{ClaimsError, Malformed};
        let expected = [
            (TokenError::Expired, "PGRST303", "JWT expired"),
            (TokenError::NotYetValid, "PGRST303", "JWT not yet valid"),
            (
                TokenError::BadSignature,
                "PGRST301",
                "JWT cryptographic operation failed",
            ),
            (
                TokenError::UnknownKey,
                "PGRST301",
                "Invalid JWT: token signing key is unknown",
            ),
            (
                TokenError::Malformed(Malformed::Structure),
                "PGRST301",
                "Invalid JWT: token is malformed",
            ),
            (
                TokenError::Claims(ClaimsError::NoRole),
                "PGRST301",
                "Invalid JWT: token has no role claim",
            ),
        ];
        for (err, code, message) in expected {
            let refused = token_error(err);
            assert_eq!((refused.code.as_str(), refused.message.as_str()), (code, message));
            assert_eq!(refused.status, axum::http::StatusCode::UNAUTHORIZED);
            assert!(
                refused
                    .challenge
                    .as_deref()
                    .is_some_and(|c| c.starts_with("Bearer error=\"invalid_token\""))
            );
        }
    }
}
