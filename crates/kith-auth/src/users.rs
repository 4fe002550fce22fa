//! Creating accounts in `auth.users`, through the auth service's privileged handle.

use crate::admin;
use crate::audit::Actor;
use crate::error::AuthError;
use crate::password;
use kith_db::{DbError, PrivilegedDb};
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
    /// The auth service refused (the message of its error).
    #[error("{0}")]
    Auth(String),
}

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Creates a user whose email is already confirmed (for operators: `kith user create`, the demo seeder), through
/// the same code path as the admin API's `POST /admin/users` with `email_confirm`, audited as `actor` `cli`.
pub async fn create_confirmed(db: &PrivilegedDb, email: &str, password: &str) -> Result<Uuid, CreateUserError> {
    let email = email.trim().to_lowercase();
    if email.len() > 255 || !looks_like_email(&email) {
        return Err(CreateUserError::Invalid("the email address is not valid"));
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(CreateUserError::Invalid(
            "the password must be at least 8 characters long",
        ));
    }
    let params = admin::UserParams {
        email: Some(email),
        password: Some(password.to_owned()),
        email_confirm: true,
        ..admin::UserParams::default()
    };
    let checked = admin::check(&params, MIN_PASSWORD_LEN, true)
        .await
        .map_err(|err| from_auth(&err))?;
    let mut tx = db.begin("create a confirmed user").await?;
    let user = admin::create_user(&mut tx, &checked, &Actor::cli("kith user create"), false)
        .await
        .map_err(|err| from_auth(&err))?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "user created");
    Ok(user.id)
}

/// The id of the user with `email` (lower-cased), if there is one: for operator commands such as the demo
/// seeder, which find their users here rather than reading `auth.users` themselves.
pub async fn id_by_email(db: &PrivilegedDb, email: &str) -> Result<Option<Uuid>, DbError> {
    let mut tx = db.begin("find a user by email").await?;
    let user = crate::store::user_by_email(&mut tx, &email.trim().to_lowercase()).await?;
    tx.commit().await?;
    Ok(user.map(|u| u.id))
}

fn from_auth(err: &AuthError) -> CreateUserError {
    match err.code() {
        "email_exists" | "user_already_exists" => CreateUserError::AlreadyExists,
        "email_address_invalid" => CreateUserError::Invalid("the email address is not valid"),
        "weak_password" => CreateUserError::Invalid("the password must be at least 8 characters long"),
        _ => CreateUserError::Auth(err.to_string()),
    }
}

pub use kith_mail::looks_like_email;
