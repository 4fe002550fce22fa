//! Turning a bearer token into a [`Caller`].
//!
//! Guarantees: the algorithm is pinned by the key (never taken from the token header, so `alg: none` and
//! algorithm switching fail); `exp` is required and `exp`/`nbf` are checked with at most 30 s of leeway; the
//! `role` claim must name one of the three request roles; an `authenticated` token must carry a UUID `sub`.

use crate::caller::{Caller, DbRole};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, errors::ErrorKind};
use serde_json::Value;
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The shortest HS256 secret Kith accepts.
pub const MIN_SECRET_LEN: usize = 32;

/// Why a token was refused; each maps to one 401 code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token's `exp` has passed.
    #[error("token has expired")]
    Expired,
    /// Anything else: malformed, bad signature, not yet valid, bad claims.
    #[error("{0}")]
    Invalid(&'static str),
}

/// Verifies HS256 tokens signed with the project's JWT secret.
#[derive(Clone)]
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtVerifier { .. }")
    }
}

impl JwtVerifier {
    /// A verifier for tokens signed with `secret` (HS256).
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        // API keys carry no `aud`; user tokens' audience is checked by the auth service.
        validation.validate_aud = false;
        JwtVerifier {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Verifies `token` and returns the caller it identifies.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid("token is too large"));
        }
        let data = decode::<Value>(token, &self.key, &self.validation).map_err(|err| match err.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::Invalid("token is not valid yet"),
            ErrorKind::InvalidSignature => TokenError::Invalid("token signature is invalid"),
            ErrorKind::InvalidAlgorithm => TokenError::Invalid("token algorithm is not accepted"),
            ErrorKind::MissingRequiredClaim(_) => TokenError::Invalid("token lacks a required claim"),
            _ => TokenError::Invalid("token is malformed"),
        })?;
        caller_from_claims(&data.claims)
    }
}

fn caller_from_claims(claims: &Value) -> Result<Caller, TokenError> {
    let role = claims
        .get("role")
        .and_then(Value::as_str)
        .ok_or(TokenError::Invalid("token has no role claim"))?;
    let role = DbRole::from_claim(role).ok_or(TokenError::Invalid("token role is not allowed"))?;
    let user_id = match claims.get("sub") {
        None | Some(Value::Null) => None,
        Some(Value::String(sub)) => {
            Some(Uuid::parse_str(sub).map_err(|_| TokenError::Invalid("token subject is not a user id"))?)
        }
        Some(_) => return Err(TokenError::Invalid("token subject is not a user id")),
    };
    if role == DbRole::Authenticated && user_id.is_none() {
        return Err(TokenError::Invalid("token has no subject"));
    }
    let session_id = claims
        .get("session_id")
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok());
    Ok(Caller::from_verified(role, user_id, session_id, claims))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const SECRET: &[u8] = b"a-test-secret-that-is-long-enough-for-hs256";

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    fn sign(claims: &Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    fn verify(token: &str) -> Result<Caller, TokenError> {
        JwtVerifier::hs256(SECRET).verify(token)
    }

    #[test]
    fn accepts_a_user_token() {
        let sub = Uuid::new_v4();
        let caller = verify(&sign(&json!({"sub": sub, "role": "authenticated", "exp": now() + 60}))).unwrap();
        assert_eq!(caller.role(), DbRole::Authenticated);
        assert_eq!(caller.user_id(), Some(sub));
    }

    #[test]
    fn accepts_an_api_key_without_subject() {
        let caller = verify(&sign(&json!({"role": "anon", "iss": "kith", "exp": now() + 60}))).unwrap();
        assert_eq!(caller.role(), DbRole::Anon);
        assert_eq!(caller.user_id(), None);
    }

    #[test]
    fn refuses_expired_beyond_leeway_but_not_within() {
        let sub = Uuid::new_v4();
        let old = sign(&json!({"sub": sub, "role": "authenticated", "exp": now() - 31 - LEEWAY_SECS as i64}));
        assert_eq!(verify(&old).unwrap_err(), TokenError::Expired);
        let recent = sign(&json!({"sub": sub, "role": "authenticated", "exp": now() - 5}));
        assert!(verify(&recent).is_ok());
    }

    #[test]
    fn refuses_not_yet_valid() {
        let token =
            sign(&json!({"sub": Uuid::new_v4(), "role": "authenticated", "exp": now() + 600, "nbf": now() + 300}));
        assert!(matches!(verify(&token), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn refuses_roles_outside_the_three() {
        for role in ["postgres", "kith_authenticator", "", "ANON"] {
            let token = sign(&json!({"role": role, "exp": now() + 60}));
            assert!(verify(&token).is_err(), "role {role:?} must be refused");
        }
        let token = sign(&json!({"exp": now() + 60}));
        assert!(verify(&token).is_err());
    }

    #[test]
    fn refuses_missing_exp_and_bad_subject() {
        assert!(verify(&sign(&json!({"role": "anon"}))).is_err());
        assert!(verify(&sign(&json!({"role": "authenticated", "exp": now() + 60}))).is_err());
        assert!(
            verify(&sign(
                &json!({"role": "authenticated", "sub": "1 or 1=1", "exp": now() + 60})
            ))
            .is_err()
        );
    }

    #[test]
    fn refuses_alg_none_and_wrong_key() {
        use base64::Engine;
        let encode_segment = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        let claims = json!({"role": "service_role", "exp": now() + 60});
        let unsigned = format!(
            "{}.{}.",
            encode_segment(r#"{"alg":"none","typ":"JWT"}"#),
            encode_segment(&claims.to_string())
        );
        assert!(verify(&unsigned).is_err());
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"another-secret-of-sufficient-length!!"),
        )
        .unwrap();
        assert!(verify(&forged).is_err());
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(verify(&hs512).is_err());
    }

    #[test]
    fn refuses_oversize_and_garbage() {
        assert!(verify(&"a".repeat(MAX_TOKEN_BYTES + 1)).is_err());
        for junk in ["", "abc", "a.b.c", "....", "eyJ.eyJ.sig"] {
            assert!(verify(junk).is_err());
        }
    }
}
