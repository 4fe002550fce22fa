//! The one reader of a request's credentials: `Authorization: Bearer <token>`, else the `apikey` header (as
//! Supabase's gateway forwards it).
//!
//! Every surface (`/api`, `/auth/v1`, `/rest/v1`, the web pages' API calls) reads the token here, with one set of
//! rules, and maps a [`BearerProblem`] to its own wire dialect. The token is held as a [`SecretString`]: neither
//! `Debug` nor a log line can print it, and it is read only where it is verified.

use axum::http::{HeaderMap, header};
use kith_db::Caller;
use kith_db::identity::{JwtVerifier, TokenError};
use secrecy::{ExposeSecret, SecretString};

/// Which header a token (or a problem) came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Authorization,
    /// `apikey: <token>`, read only when `Authorization` is absent.
    ApiKey,
}

/// Why the credential headers could not be read. Each surface words these in its own dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BearerProblem {
    /// The header's value is not visible ASCII text.
    #[error("the {0} header is not valid text")]
    NotText(TokenSource),
    /// `Authorization` is not exactly `Bearer <token>`: another scheme, no scheme, or more than one word after it.
    #[error("the Authorization header must be `Bearer <token>`")]
    NotBearer,
    /// The header names no token: `Bearer` with nothing after it, or an empty `apikey`.
    #[error("the {0} header carries no token")]
    Empty(TokenSource),
}

impl std::fmt::Display for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenSource::Authorization => "Authorization",
            TokenSource::ApiKey => "apikey",
        })
    }
}

/// A token a request presented, not yet verified.
pub struct BearerToken {
    token: SecretString,
    source: TokenSource,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken")
            .field("token", &"[REDACTED]")
            .field("source", &self.source)
            .finish()
    }
}

impl BearerToken {
    /// Reads the request's token: `Authorization` when present (it must then be `Bearer <token>`, the scheme in
    /// any case, one word after it), else `apikey`; `Ok(None)` when neither header is sent.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<BearerToken>, BearerProblem> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let source = TokenSource::Authorization;
            let value = value.to_str().map_err(|_| BearerProblem::NotText(source))?.trim();
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(BearerProblem::NotBearer);
            }
            let token = token.trim();
            if token.is_empty() {
                return Err(BearerProblem::Empty(source));
            }
            if token.contains(|c: char| c.is_ascii_whitespace()) {
                return Err(BearerProblem::NotBearer);
            }
            return Ok(Some(BearerToken::new(token, source)));
        }
        let Some(value) = headers.get("apikey") else {
            return Ok(None);
        };
        let source = TokenSource::ApiKey;
        let key = value.to_str().map_err(|_| BearerProblem::NotText(source))?.trim();
        if key.is_empty() {
            return Err(BearerProblem::Empty(source));
        }
        Ok(Some(BearerToken::new(key, source)))
    }

    fn new(token: &str, source: TokenSource) -> Self {
        BearerToken {
            token: SecretString::from(token),
            source,
        }
    }

    /// The header the token came from.
    pub fn source(&self) -> TokenSource {
        self.source
    }

    /// Verifies the token into the caller it identifies.
    pub fn verify(&self, verifier: &JwtVerifier) -> Result<Caller, TokenError> {
        verifier.verify(self.token.expose_secret())
    }

    /// The token's text, for checks that need it beyond verification (its header, its number of parts). Keep it
    /// out of logs, errors and responses.
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn read(pairs: &[(&'static str, &[u8])]) -> Result<Option<BearerToken>, BearerProblem> {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_bytes(value).unwrap());
        }
        BearerToken::from_headers(&headers)
    }

    fn token(pairs: &[(&'static str, &[u8])]) -> (String, TokenSource) {
        let token = read(pairs).unwrap().unwrap();
        (token.expose().to_owned(), token.source())
    }

    #[test]
    fn reads_bearer_then_apikey() {
        assert!(read(&[]).unwrap().is_none());
        assert_eq!(
            token(&[("authorization", b"Bearer a.b.c")]),
            ("a.b.c".into(), TokenSource::Authorization)
        );
        assert_eq!(
            token(&[("authorization", b"bearer  a.b.c ")]),
            ("a.b.c".into(), TokenSource::Authorization)
        );
        assert_eq!(token(&[("apikey", b" k.e.y ")]), ("k.e.y".into(), TokenSource::ApiKey));
        // Authorization wins over apikey, as at Supabase's gateway.
        assert_eq!(
            token(&[("apikey", b"k.e.y"), ("authorization", b"Bearer a.b.c")]),
            ("a.b.c".into(), TokenSource::Authorization)
        );
    }

    #[test]
    fn names_each_problem() {
        for (value, problem) in [
            (&b"Basic abc"[..], BearerProblem::NotBearer),
            (b"abc", BearerProblem::NotBearer),
            (b"Bearer a b", BearerProblem::NotBearer),
            (b"Bearer", BearerProblem::Empty(TokenSource::Authorization)),
            (b"Bearer   ", BearerProblem::Empty(TokenSource::Authorization)),
            (b"Bearer \xff", BearerProblem::NotText(TokenSource::Authorization)),
        ] {
            assert_eq!(read(&[("authorization", value)]).unwrap_err(), problem, "{value:?}");
        }
        // A broken Authorization header is not rescued by a good apikey.
        assert_eq!(
            read(&[("authorization", b"Basic abc"), ("apikey", b"k.e.y")]).unwrap_err(),
            BearerProblem::NotBearer
        );
        assert_eq!(
            read(&[("apikey", b"  ")]).unwrap_err(),
            BearerProblem::Empty(TokenSource::ApiKey)
        );
        assert_eq!(
            read(&[("apikey", b"\xff")]).unwrap_err(),
            BearerProblem::NotText(TokenSource::ApiKey)
        );
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = read(&[("authorization", b"Bearer super-secret-token")])
            .unwrap()
            .unwrap();
        let printed = format!("{token:?}");
        assert!(!printed.contains("super-secret-token"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }
}
