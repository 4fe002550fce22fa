//! The project's API keys: long-lived HS256 JWTs with Supabase's claim shape (`iss`, `ref`, `role`, `iat`,
//! `exp`, and no `sub` or `aud`), signed with the JWT secret. The anon key is safe to ship to browsers; the
//! service-role key bypasses RLS and belongs on servers only.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

/// API keys are valid for ten years, as Supabase's are.
const KEY_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;

/// The two keys of a project.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    /// `role: anon`.
    pub anon: String,
    /// `role: service_role`.
    pub service_role: String,
}

/// Signs the anon and service-role keys for `secret`, issued at `now` (Unix seconds).
pub fn mint(secret: &[u8], now: i64) -> Result<ApiKeys, jsonwebtoken::errors::Error> {
    let key = EncodingKey::from_secret(secret);
    let sign = |role: &str| {
        let claims = json!({"iss": "kith", "ref": "kith", "role": role, "iat": now, "exp": now + KEY_LIFETIME_SECS});
        encode(&Header::new(Algorithm::HS256), &claims, &key)
    };
    Ok(ApiKeys {
        anon: sign("anon")?,
        service_role: sign("service_role")?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use kith_db::{DbRole, identity::JwtVerifier};

    #[test]
    fn keys_verify_as_their_roles() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let keys = mint(secret, chrono_now()).unwrap();
        let verifier = JwtVerifier::hs256(secret);
        assert_eq!(verifier.verify(&keys.anon).unwrap().role(), DbRole::Anon);
        assert_eq!(verifier.verify(&keys.service_role).unwrap().role(), DbRole::ServiceRole);
        assert!(verifier.verify(&keys.anon).unwrap().user_id().is_none());
    }

    fn chrono_now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }
}
