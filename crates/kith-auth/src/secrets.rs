//! Random tokens, their hashes, and PKCE.
//!
//! Guarantees: refresh tokens and link tokens carry 192 bits from the OS generator and are stored only as
//! SHA-256 hashes; emailed codes are six digits stored as a hash bound to the address; PKCE S256 is checked by
//! recomputing the challenge.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;
use sha2::{Digest, Sha256};

/// A fresh opaque token: 24 random bytes, base64url (32 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 24]>())
}

/// A six-digit code for email OTP.
pub fn random_code() -> String {
    format!("{:06}", rand::rng().random_range(0..1_000_000u32))
}

/// Hex SHA-256 of `value`: how tokens are stored.
pub fn hash(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stored form of an emailed code: bound to the (lowercased) address it was sent to.
pub fn code_hash(email: &str, code: &str) -> String {
    hash(&format!("{}:{}", email.to_lowercase(), code.trim()))
}

/// A PKCE challenge method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkceMethod {
    /// `code_challenge = base64url(sha256(verifier))`.
    S256,
    /// `code_challenge = verifier` (only when enabled).
    Plain,
}

impl PkceMethod {
    /// Parses a method name case-insensitively.
    pub fn parse(method: &str) -> Option<Self> {
        match method.to_ascii_lowercase().as_str() {
            "s256" => Some(PkceMethod::S256),
            "plain" => Some(PkceMethod::Plain),
            _ => None,
        }
    }

    /// The name stored in `auth.flow_state`.
    pub fn as_str(self) -> &'static str {
        match self {
            PkceMethod::S256 => "s256",
            PkceMethod::Plain => "plain",
        }
    }

    /// The challenge of `verifier` under this method.
    pub fn challenge(self, verifier: &str) -> String {
        match self {
            PkceMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            PkceMethod::Plain => verifier.to_owned(),
        }
    }

    /// Whether `verifier` matches `challenge`.
    pub fn verifies(self, challenge: &str, verifier: &str) -> bool {
        let expected = self.challenge(verifier);
        // Compare digests so the time taken does not depend on where the strings differ.
        Sha256::digest(expected.as_bytes()) == Sha256::digest(challenge.as_bytes())
    }
}

/// Whether `challenge` has PKCE's shape: 43–128 characters of `[A-Za-z0-9._~-]`.
pub fn valid_challenge(challenge: &str) -> bool {
    (43..=128).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(random_code().len(), 6);
    }

    #[test]
    fn s256_matches_rfc_7636_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(PkceMethod::S256.verifies(challenge, verifier));
        assert!(!PkceMethod::S256.verifies(challenge, "x"));
        assert!(valid_challenge(challenge));
        assert!(!valid_challenge("short"));
        assert!(!valid_challenge(&format!("{challenge}!")));
    }

    #[test]
    fn codes_are_bound_to_the_address() {
        assert_eq!(code_hash("A@x.io", "123456"), code_hash("a@x.io", " 123456"));
        assert_ne!(code_hash("a@x.io", "123456"), code_hash("b@x.io", "123456"));
    }
}
