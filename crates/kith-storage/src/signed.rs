//! Signed URLs: `/object/sign/<bucket>/<name>?token=…`, where the token is a JWT (as Supabase's) holding the
//! object's path, its version and what the download needs to answer, signed with a key derived from the JWT
//! secret for this purpose alone, so a signed-URL token is never a valid access token, nor the other way round.
//! A download through it needs no database round trip; once the object is overwritten or removed, its old
//! version's file is gone and the URL answers 404.

use crate::error::{StorageError, StorageResult};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest lifetime of a signed URL: one year (Supabase does not cap it; Kith does, so tokens expire).
pub const MAX_EXPIRES_IN: i64 = 365 * 24 * 3600;

/// What a signed URL grants.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    /// `<bucket>/<name>`, as Supabase puts it.
    pub url: String,
    /// Issued at (Unix seconds).
    pub iat: i64,
    /// Expires at (Unix seconds).
    pub exp: i64,
    /// The object version the URL serves.
    pub version: String,
    /// Its content type.
    pub mimetype: String,
    /// Its `Cache-Control`.
    pub cache_control: String,
    /// Its ETag.
    pub etag: String,
    /// Its last modification (RFC 3339).
    pub last_modified: String,
}

/// Signs and verifies signed-URL tokens.
#[derive(Clone)]
pub struct UrlSigner {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UrlSigner(..)")
    }
}

impl UrlSigner {
    /// A signer whose key is derived from the JWT secret.
    pub fn new(jwt_secret: &[u8]) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"kith storage signed urls\0");
        hash.update(jwt_secret);
        let key = hash.finalize();
        UrlSigner {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
        }
    }

    /// The token of a grant.
    pub fn sign(&self, grant: &Grant) -> StorageResult<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), grant, &self.encoding)
            .map_err(|err| StorageError::internal("cannot sign a URL", &err))
    }

    /// The grant of a token, if it is ours, unexpired and for `url`.
    pub fn verify(&self, token: &str, url: &str) -> StorageResult<Grant> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        let grant = jsonwebtoken::decode::<Grant>(token, &self.decoding, &validation)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => StorageError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "InvalidSignature",
                    "InvalidJWT",
                    "jwt expired",
                ),
                _ => StorageError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "InvalidSignature",
                    "InvalidJWT",
                    "invalid signature",
                ),
            })?
            .claims;
        if grant.url != url {
            return Err(StorageError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "InvalidSignature",
                "InvalidSignature",
                "The url do not match the signature",
            ));
        }
        Ok(grant)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn grant(exp: i64) -> Grant {
        Grant {
            url: "b/a.txt".into(),
            iat: 0,
            exp,
            version: "0".repeat(32),
            mimetype: "text/plain".into(),
            cache_control: "max-age=3600".into(),
            etag: "\"x\"".into(),
            last_modified: String::new(),
        }
    }

    #[test]
    fn tokens_are_bound_to_their_path_key_and_lifetime() {
        let signer = UrlSigner::new(b"0123456789abcdef0123456789abcdef");
        let now = chrono::Utc::now().timestamp();
        let token = signer.sign(&grant(now + 60)).unwrap();
        assert!(signer.verify(&token, "b/a.txt").is_ok());
        assert!(signer.verify(&token, "b/other.txt").is_err());
        assert!(
            UrlSigner::new(b"another secret, another key......")
                .verify(&token, "b/a.txt")
                .is_err()
        );
        let expired = signer.sign(&grant(now - 1)).unwrap();
        assert!(signer.verify(&expired, "b/a.txt").is_err());
    }
}
