//! The caller of a storage request: verified like every Kith request (`Authorization: Bearer`, else the
//! `apikey` header, as Supabase's gateway forwards it), and tagged with the request's method and path so that
//! `request.path` is set in its transaction. Tokens are never logged.

use crate::error::{StorageError, StorageResult};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, Uri};
use kith_db::Caller;
use kith_db::identity::JwtVerifier;
use kith_http::AppState;

/// The token a request carries, if any.
fn token(headers: &HeaderMap) -> StorageResult<Option<&str>> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| StorageError::bad_token("Invalid Authorization header"))?;
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(StorageError::bad_token("Invalid Authorization header"));
        }
        return Ok(Some(token.trim()));
    }
    match headers.get("apikey") {
        Some(value) => {
            let key = value
                .to_str()
                .map_err(|_| StorageError::bad_token("Invalid apikey header"))?
                .trim();
            Ok((!key.is_empty()).then_some(key))
        }
        None => Ok(None),
    }
}

/// The verified caller of a request (anonymous without a token).
pub fn caller(headers: &HeaderMap, verifier: &JwtVerifier, method: &Method, uri: &Uri) -> StorageResult<Caller> {
    let caller = match token(headers)? {
        None => Caller::anonymous(),
        Some(token) => verifier.verify(token).map_err(|err| {
            tracing::info!(reason = %err, "storage token refused");
            StorageError::bad_token(err.to_string())
        })?,
    };
    Ok(caller.for_request(method.as_str(), uri.path()))
}

/// The verified caller as an extractor, so that every handler gets it the same way (and none forgets the
/// request's method and path).
pub(crate) struct StorageCaller(pub(crate) Caller);

impl FromRequestParts<AppState> for StorageCaller {
    type Rejection = StorageError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> StorageResult<Self> {
        caller(&parts.headers, &app.verifier, &parts.method, &parts.uri).map(StorageCaller)
    }
}
