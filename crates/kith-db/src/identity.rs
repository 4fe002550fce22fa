//! Turning a bearer token into a [`Caller`].
//!
//! Guarantees: the algorithm is pinned by the key (HS256 for the project secret when the header names no `kid`,
//! the configured algorithm of the key a `kid` names), never taken from the token header, so `alg: none`, key
//! confusion and algorithm switching fail; `jku`/`x5u`/embedded `jwk` headers are ignored; `exp` is required and
//! `exp`/`nbf`/`iat` are checked with at most 30 s of leeway; the `role` claim must name one of the three request
//! roles; an `authenticated` token must carry a UUID `sub`, the audience `authenticated` and (when configured)
//! Kith's issuer.

use crate::caller::{Caller, DbRole};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header, errors::ErrorKind};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// The shortest HS256 secret Kith accepts.
pub const MIN_SECRET_LEN: usize = 32;

/// Why a token was refused. Each surface maps the variants to its own wire dialect (`/api`'s codes, GoTrue's
/// `bad_jwt`, PostgREST's PGRST301/PGRST303) by matching on them, never on the message text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token's `exp` has passed (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// The token's `nbf` lies in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// The signature does not verify with the key the token names (or the project secret).
    #[error("token signature is invalid")]
    BadSignature,
    /// The token's header names a `kid` that is not among the active keys.
    #[error("token signing key is unknown")]
    UnknownKey,
    /// The token is not a well-formed JWT of an accepted algorithm.
    #[error("{0}")]
    Malformed(Malformed),
    /// The token verifies, but its claims are not acceptable.
    #[error("{0}")]
    Claims(ClaimsError),
}

/// How a token fails to be a well-formed JWT that Kith accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    /// Longer than [`MAX_TOKEN_BYTES`]; refused before any parsing.
    #[error("token is too large")]
    TooLarge,
    /// Not three base64url parts with a JSON header and payload.
    #[error("token is malformed")]
    Structure,
    /// The header names an algorithm other than the one its key is bound to.
    #[error("token algorithm is not accepted")]
    Algorithm,
}

/// Which claim of a verified token is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// A claim every token must carry (`exp`) is missing.
    #[error("token lacks a required claim")]
    MissingRequired,
    /// `iat` lies in the future (beyond the leeway).
    #[error("token is issued in the future")]
    IssuedInFuture,
    /// No `role` claim.
    #[error("token has no role claim")]
    NoRole,
    /// The `role` claim names a role other than the three request roles.
    #[error("token role is not allowed")]
    RoleNotAllowed,
    /// The `sub` claim is not a user id.
    #[error("token subject is not a user id")]
    SubjectNotUserId,
    /// An `authenticated` token without `sub`.
    #[error("token has no subject")]
    NoSubject,
    /// An `authenticated` token whose `aud` does not include `authenticated`.
    #[error("token audience is not accepted")]
    Audience,
    /// An `authenticated` token from another issuer.
    #[error("token issuer is not accepted")]
    Issuer,
}

impl TokenError {
    /// Whether the token is refused only for its time window (expired or not yet valid): PostgREST answers
    /// these with PGRST303, every other refusal with PGRST301.
    pub fn is_time_window(self) -> bool {
        matches!(self, TokenError::Expired | TokenError::NotYetValid)
    }
}

impl From<ClaimsError> for TokenError {
    fn from(err: ClaimsError) -> Self {
        TokenError::Claims(err)
    }
}

/// A public key that verifies tokens whose header names its `kid`; bound to exactly one algorithm.
#[derive(Clone)]
pub struct VerifyingKey {
    /// The key id tokens name in their header.
    pub kid: String,
    /// The one algorithm this key verifies.
    pub algorithm: Algorithm,
    /// The key material.
    pub key: DecodingKey,
}

/// How many verified tokens are remembered; the cache is emptied when it fills.
const CACHE_CAPACITY: usize = 4096;

/// Verifies tokens: HS256 with the project secret (no `kid`), or an asymmetric key chosen by `kid`.
///
/// A token is verified once: the caller it yields is remembered, keyed by the whole token, and `exp` is checked
/// again on every later use. The memory is emptied whenever the keys change.
pub struct JwtVerifier {
    secret: DecodingKey,
    issuer: Option<String>,
    keys: RwLock<HashMap<String, (DecodingKey, Validation)>>,
    hs256: Validation,
    verified: Mutex<HashMap<String, (Caller, u64)>>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn validation(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp"]);
    // API keys carry no `aud`; user tokens' audience and issuer are checked in `caller_from_claims`.
    validation.validate_aud = false;
    validation
}

impl JwtVerifier {
    /// A verifier for HS256 tokens signed with `secret`, accepting user tokens from any issuer.
    pub fn hs256(secret: &[u8]) -> Self {
        JwtVerifier {
            secret: DecodingKey::from_secret(secret),
            issuer: None,
            keys: RwLock::new(HashMap::new()),
            hs256: validation(Algorithm::HS256),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Also requires user tokens (role `authenticated`) to name `issuer` as their `iss`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Replaces the asymmetric keys (after a rotation, or when another node rotated). The keys are reloaded
    /// every minute, so the set usually is the one in place: then nothing changes and the memory of verified
    /// tokens is kept. Returns whether the set changed. A `kid` names one key for good (they are random and
    /// never reused), so the set is compared by `kid` and algorithm.
    pub fn set_keys(&self, keys: Vec<VerifyingKey>) -> bool {
        let map: HashMap<String, (DecodingKey, Validation)> = keys
            .into_iter()
            .map(|k| (k.kid, (k.key, validation(k.algorithm))))
            .collect();
        let mut guard = match self.keys.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let unchanged = guard.len() == map.len()
            && map
                .iter()
                .all(|(kid, (_, new))| guard.get(kid).is_some_and(|(_, old)| old.algorithms == new.algorithms));
        if unchanged {
            return false;
        }
        *guard = map;
        drop(guard);
        // A token verified by a key that is now retired must not stay accepted.
        if let Ok(mut verified) = self.verified.lock() {
            verified.clear();
        }
        true
    }

    /// Verifies `token` and returns the caller it identifies.
    pub fn verify(&self, token: &str) -> Result<Caller, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Malformed(Malformed::TooLarge));
        }
        let now = unix_now();
        if let Ok(mut verified) = self.verified.lock()
            && let Some((caller, exp)) = verified.get(token)
        {
            if now <= exp + LEEWAY_SECS {
                return Ok(caller.clone());
            }
            verified.remove(token);
            return Err(TokenError::Expired);
        }
        let caller = self.verify_uncached(token)?;
        if let Some(exp) = caller.expires_at()
            && let Ok(mut verified) = self.verified.lock()
        {
            if verified.len() >= CACHE_CAPACITY {
                verified.clear();
            }
            verified.insert(token.to_owned(), (caller.clone(), exp));
        }
        Ok(caller)
    }

    fn verify_uncached(&self, token: &str) -> Result<Caller, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Malformed(Malformed::Structure))?;
        // The key, and with it the algorithm, comes from configuration: never from the token's own header.
        let claims = match header.kid {
            Some(kid) => {
                let keys = self.keys.read().map_err(|_| TokenError::UnknownKey)?;
                let (key, validation) = keys.get(&kid).ok_or(TokenError::UnknownKey)?;
                decode::<Value>(token, key, validation)
                    .map_err(|e| map_error(&e))?
                    .claims
            }
            None => {
                decode::<Value>(token, &self.secret, &self.hs256)
                    .map_err(|e| map_error(&e))?
                    .claims
            }
        };
        caller_from_claims(&claims, self.issuer.as_deref())
    }
}

fn map_error(err: &jsonwebtoken::errors::Error) -> TokenError {
    match err.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidSignature => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm => TokenError::Malformed(Malformed::Algorithm),
        ErrorKind::MissingRequiredClaim(_) => TokenError::Claims(ClaimsError::MissingRequired),
        _ => TokenError::Malformed(Malformed::Structure),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn caller_from_claims(claims: &Value, issuer: Option<&str>) -> Result<Caller, TokenError> {
    let now = unix_now();
    if claims
        .get("iat")
        .and_then(Value::as_u64)
        .is_some_and(|iat| iat > now + LEEWAY_SECS)
    {
        return Err(ClaimsError::IssuedInFuture.into());
    }
    let role = claims.get("role").and_then(Value::as_str).ok_or(ClaimsError::NoRole)?;
    let role = DbRole::from_claim(role).ok_or(ClaimsError::RoleNotAllowed)?;
    let user_id = match claims.get("sub") {
        None | Some(Value::Null) => None,
        Some(Value::String(sub)) => Some(Uuid::parse_str(sub).map_err(|_| ClaimsError::SubjectNotUserId)?),
        Some(_) => return Err(ClaimsError::SubjectNotUserId.into()),
    };
    if role == DbRole::Authenticated {
        if user_id.is_none() {
            return Err(ClaimsError::NoSubject.into());
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => aud == "authenticated",
            Some(Value::Array(auds)) => auds.iter().any(|a| a == "authenticated"),
            _ => false,
        };
        if !audience_ok {
            return Err(ClaimsError::Audience.into());
        }
        if let Some(issuer) = issuer
            && claims.get("iss").and_then(Value::as_str) != Some(issuer)
        {
            return Err(ClaimsError::Issuer.into());
        }
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
        let caller = verify(&sign(
            &json!({"sub": sub, "role": "authenticated", "aud": "authenticated", "exp": now() + 60}),
        ))
        .unwrap();
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
        let old = sign(
            &json!({"sub": sub, "role": "authenticated", "aud": "authenticated", "exp": now() - 31 - LEEWAY_SECS as i64}),
        );
        assert_eq!(verify(&old).unwrap_err(), TokenError::Expired);
        let recent = sign(&json!({"sub": sub, "role": "authenticated", "aud": "authenticated", "exp": now() - 5}));
        assert!(verify(&recent).is_ok());
    }

    #[test]
    fn refuses_not_yet_valid() {
        let token =
            sign(&json!({"sub": Uuid::new_v4(), "role": "authenticated", "exp": now() + 600, "nbf": now() + 300}));
        assert_eq!(verify(&token).unwrap_err(), TokenError::NotYetValid);
    }

    #[test]
    fn refuses_roles_outside_the_three() {
        for role in ["postgres", "kith_authenticator", "", "ANON"] {
            let token = sign(&json!({"role": role, "exp": now() + 60}));
            assert_eq!(
                verify(&token).unwrap_err(),
                TokenError::Claims(ClaimsError::RoleNotAllowed),
                "role {role:?} must be refused"
            );
        }
        let token = sign(&json!({"exp": now() + 60}));
        assert_eq!(verify(&token).unwrap_err(), TokenError::Claims(ClaimsError::NoRole));
    }

    #[test]
    fn refuses_missing_exp_and_bad_subject() {
        assert_eq!(
            verify(&sign(&json!({"role": "anon"}))).unwrap_err(),
            TokenError::Claims(ClaimsError::MissingRequired)
        );
        assert_eq!(
            verify(&sign(&json!({"role": "authenticated", "exp": now() + 60}))).unwrap_err(),
            TokenError::Claims(ClaimsError::NoSubject)
        );
        assert_eq!(
            verify(&sign(
                &json!({"role": "authenticated", "sub": "1 or 1=1", "exp": now() + 60})
            ))
            .unwrap_err(),
            TokenError::Claims(ClaimsError::SubjectNotUserId)
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
        assert!(matches!(verify(&unsigned), Err(TokenError::Malformed(_))));
        let forged = encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"another-secret-of-sufficient-length!!"),
        )
        .unwrap();
        assert_eq!(verify(&forged).unwrap_err(), TokenError::BadSignature);
        let hs512 = encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(verify(&hs512).unwrap_err(), TokenError::Malformed(Malformed::Algorithm));
    }

    #[test]
    fn checks_audience_issuer_and_issued_at_of_user_tokens() {
        let verifier = JwtVerifier::hs256(SECRET).with_issuer("https://kith.test/auth/v1");
        let base = json!({"sub": Uuid::new_v4(), "role": "authenticated", "aud": "authenticated",
                          "iss": "https://kith.test/auth/v1", "exp": now() + 60, "iat": now()});
        assert!(verifier.verify(&sign(&base)).is_ok());
        for (claim, value, error) in [
            ("aud", json!("anon"), ClaimsError::Audience),
            ("iss", json!("https://evil.test/auth/v1"), ClaimsError::Issuer),
            ("iat", json!(now() + 3600), ClaimsError::IssuedInFuture),
        ] {
            let mut claims = base.clone();
            claims[claim] = value;
            assert_eq!(
                verifier.verify(&sign(&claims)).unwrap_err(),
                TokenError::Claims(error),
                "{claim}"
            );
        }
        // API keys carry neither `aud` nor Kith's issuer.
        assert!(
            verifier
                .verify(&sign(&json!({"role": "anon", "iss": "kith", "exp": now() + 60})))
                .is_ok()
        );
    }

    #[test]
    fn refuses_unknown_kid_and_key_confusion() {
        let verifier = JwtVerifier::hs256(SECRET);
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("nope".into());
        let token = encode(
            &header,
            &json!({"role": "anon", "exp": now() + 60}),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert_eq!(verifier.verify(&token).unwrap_err(), TokenError::UnknownKey);
    }

    #[test]
    fn a_remembered_token_still_expires_and_is_forgotten_when_keys_change() {
        let verifier = JwtVerifier::hs256(SECRET);
        let token = sign(&json!({"role": "anon", "exp": now() - LEEWAY_SECS as i64 + 1}));
        assert!(verifier.verify(&token).is_ok());
        assert!(verifier.verify(&token).is_ok(), "served from memory");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        assert_eq!(verifier.verify(&token).unwrap_err(), TokenError::Expired);
        let fresh = sign(&json!({"role": "anon", "exp": now() + 60}));
        assert!(verifier.verify(&fresh).is_ok());
        // The minute's reload of an unchanged key set keeps what was verified.
        assert!(!verifier.set_keys(Vec::new()));
        assert_eq!(verifier.verified.lock().unwrap().len(), 1);
        let key = || VerifyingKey {
            kid: "k1".into(),
            algorithm: Algorithm::HS256,
            key: DecodingKey::from_secret(SECRET),
        };
        assert!(verifier.set_keys(vec![key()]));
        assert!(verifier.verified.lock().unwrap().is_empty());
        assert!(verifier.verify(&fresh).is_ok());
        assert!(!verifier.set_keys(vec![key()]), "the same set again");
        assert_eq!(verifier.verified.lock().unwrap().len(), 1);
        assert!(verifier.set_keys(Vec::new()), "a key retired");
        assert!(verifier.verified.lock().unwrap().is_empty());
    }

    #[test]
    fn refuses_oversize_and_garbage() {
        assert_eq!(
            verify(&"a".repeat(MAX_TOKEN_BYTES + 1)).unwrap_err(),
            TokenError::Malformed(Malformed::TooLarge)
        );
        for junk in ["", "abc", "a.b.c", "....", "eyJ.eyJ.sig"] {
            assert_eq!(
                verify(junk).unwrap_err(),
                TokenError::Malformed(Malformed::Structure),
                "{junk}"
            );
        }
    }
}
