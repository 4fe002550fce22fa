//! Creating accounts in `auth.users`, through the auth service's privileged handle.

use crate::password;
use kith_db::tokio_postgres::error::SqlState;
use kith_db::{Db, DbError};
use uuid::Uuid;

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The email is taken.
    #[error("a user with this email already exists")]
    AlreadyExists,
    /// The email or password is not acceptable.
    #[error("{0}")]
    Invalid(&'static str),
    /// Hashing failed.
    #[error(transparent)]
    Password(#[from] password::PasswordError),
    /// The database refused.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Creates a user whose email is already confirmed (for operators: `kith user create`), with a profile.
pub async fn create_confirmed(db: &Db, email: &str, password: &str) -> Result<Uuid, CreateUserError> {
    let email = email.trim().to_lowercase();
    if email.len() > 255 || !looks_like_email(&email) {
        return Err(CreateUserError::Invalid("the email address is not valid"));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(CreateUserError::Invalid(
            "the password must be at least 8 characters long",
        ));
    }
    let hash = password::hash(password.to_owned()).await?;
    let mut tx = db.begin_privileged("create a confirmed user").await?;
    let row = tx
        .query_one(
            "insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                                     raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
             values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated',
                     $1, $2, now(), '{\"provider\":\"email\",\"providers\":[\"email\"]}', '{}', now(), now())
             returning id",
            &[&email, &hash],
        )
        .await
        .map_err(|err| match err.sql_state() {
            Some(state) if *state == SqlState::UNIQUE_VIOLATION => CreateUserError::AlreadyExists,
            _ => CreateUserError::Db(err),
        })?;
    tx.commit().await?;
    let id: Uuid = row.get(0);
    tracing::info!(user_id = %id, "user created");
    Ok(id)
}

/// A deliberately loose check: one `@`, a non-empty local part, a dotted domain without empty labels, and none
/// of the characters that would let an address smuggle a second one into a mail header.
pub fn looks_like_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !domain.contains("..")
                && !email
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        }
        None => false,
    }
}
