//! Password hashing with argon2id at OWASP's recommended parameters (19 MiB, 2 passes, 1 lane), run off the
//! async runtime so a sign-in never stalls other requests.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};

/// Why hashing failed (never the password itself).
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The hasher refused the input.
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The blocking task was cancelled.
    #[error("password hashing was interrupted")]
    Interrupted,
}

fn hasher() -> Argon2<'static> {
    // Params::DEFAULT is OWASP's argon2id recommendation: m = 19456 KiB, t = 2, p = 1.
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::DEFAULT)
}

/// Hashes `password` into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| PasswordError::Hash(err.to_string()))
    })
    .await
    .map_err(|_| PasswordError::Interrupted)?
}

/// Whether `password` matches the stored PHC `hash`.
pub async fn verify(password: String, hash: String) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|err| PasswordError::Hash(err.to_string()))?;
        Ok(hasher().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|_| PasswordError::Interrupted)?
}

/// Checks `password` against an argon2id PHC string or a bcrypt hash (users imported from Supabase).
pub async fn verify_any(password: String, hash: String) -> Result<bool, PasswordError> {
    if hash.starts_with("$2") {
        return tokio::task::spawn_blocking(move || bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false))
            .await
            .map_err(|_| PasswordError::Interrupted);
    }
    verify(password, hash).await
}

/// Whether a stored hash should be replaced by a fresh argon2id hash at the next successful sign-in.
pub fn needs_rehash(hash: &str) -> bool {
    !hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn hashes_with_argon2id_owasp_parameters_and_verifies() {
        let hashed = hash("correct horse battery staple".into()).await.unwrap();
        assert!(hashed.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hashed}");
        assert!(
            verify("correct horse battery staple".into(), hashed.clone())
                .await
                .unwrap()
        );
        assert!(!verify("correct horse battery stapl".into(), hashed).await.unwrap());
    }

    #[tokio::test]
    async fn bcrypt_hashes_verify_and_ask_for_a_rehash() {
        let imported = bcrypt::hash("supabase-era-password", 4).unwrap();
        assert!(
            verify_any("supabase-era-password".into(), imported.clone())
                .await
                .unwrap()
        );
        assert!(!verify_any("wrong".into(), imported.clone()).await.unwrap());
        assert!(needs_rehash(&imported));
        assert!(!needs_rehash(&hash("x".repeat(8)).await.unwrap()));
    }

    #[tokio::test]
    async fn long_passwords_are_not_truncated() {
        let long = "x".repeat(100);
        let hashed = hash(long.clone()).await.unwrap();
        assert!(verify(long.clone(), hashed.clone()).await.unwrap());
        assert!(!verify(long[..72].to_owned(), hashed).await.unwrap());
    }
}
