//! Account administration shared by the admin API (`/auth/v1/admin/*`, `/invite`) and `kith user create`:
//! creating, changing, banning and deleting users, each change recorded in the audit trail with its actor.

use crate::audit::{self, Actor};
use crate::error::{AuthError, AuthResult};
use crate::password;
use crate::store::{self, USER_COLUMNS, User};
use axum::http::StatusCode;
use kith_db::CallerTx;
use kith_db::tokio_postgres::error::SqlState;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// The body of `POST /admin/users` and `PUT /admin/users/{id}` (GoTrue's `AdminUserParams`).
#[derive(Debug, Default, Deserialize)]
pub struct UserParams {
    /// A chosen id (create only).
    pub id: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Phone number: Kith has no phone sign-in, so any value is refused.
    pub phone: Option<String>,
    /// New password.
    pub password: Option<String>,
    /// An existing bcrypt or argon2 hash (create only), instead of a password.
    pub password_hash: Option<String>,
    /// Mark the email confirmed.
    #[serde(default)]
    pub email_confirm: bool,
    /// Mark the phone confirmed (refused: no phones).
    #[serde(default)]
    pub phone_confirm: bool,
    /// `user_metadata`, merged key by key (a null value removes the key).
    pub user_metadata: Option<Value>,
    /// `app_metadata`, merged key by key.
    pub app_metadata: Option<Value>,
    /// A Go duration (`"24h"`, `"1h30m"`), or `"none"` to lift a ban.
    pub ban_duration: Option<String>,
    /// The role of the user's tokens; only `authenticated` exists in Kith.
    pub role: Option<String>,
}

const DUPLICATE_EMAIL: &str = "A user with this email address has already been registered";

fn email_exists() -> AuthError {
    AuthError::new(StatusCode::UNPROCESSABLE_ENTITY, "email_exists", DUPLICATE_EMAIL)
}

/// A ban change: `None` lifts the ban, `Some(d)` bans until now + `d`.
pub type BanChange = Option<chrono::Duration>;

/// Parses `ban_duration` as GoTrue does (Go's `time.ParseDuration`, or `none`); a zero duration lifts the ban.
pub fn parse_ban_duration(text: &str) -> AuthResult<BanChange> {
    if text == "none" {
        return Ok(None);
    }
    let nanos = parse_go_duration(text)
        .map_err(|err| AuthError::validation(format!("invalid format for ban duration: {err}")))?;
    Ok((nanos != 0).then(|| chrono::Duration::nanoseconds(nanos)))
}

/// Go's `time.ParseDuration`: `[-+]` then one or more `<decimal><unit>` with units ns, us, µs, ms, s, m, h.
pub fn parse_go_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: f64 = match unit {
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        total += value * scale;
        if total > i64::MAX as f64 {
            return Err(invalid());
        }
    }
    let nanos = total as i64;
    Ok(if negative { -nanos } else { nanos })
}

/// Checks a metadata value: absent or null is `None`; anything but an object is 400.
fn metadata(name: &str, value: Option<&Value>) -> AuthResult<Option<Map<String, Value>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(AuthError::validation(format!("{name} must be an object"))),
    }
}

/// GoTrue's metadata update: each key is set, or removed when its value is null.
fn merge(base: &Value, changes: &Map<String, Value>) -> Value {
    let mut merged = base.as_object().cloned().unwrap_or_default();
    for (key, value) in changes {
        if value.is_null() {
            merged.remove(key);
        } else {
            merged.insert(key.clone(), value.clone());
        }
    }
    Value::Object(merged)
}

/// What a create or update request asks for, checked before any transaction opens (hashing is slow).
#[derive(Debug)]
pub struct Checked {
    email: Option<String>,
    password_hash: Option<String>,
    user_metadata: Option<Map<String, Value>>,
    app_metadata: Option<Map<String, Value>>,
    ban: Option<BanChange>,
    email_confirm: bool,
    id: Option<Uuid>,
}

/// Validates `params` and hashes the password (at least `min_password_length` characters).
pub async fn check(params: &UserParams, min_password_length: usize, creating: bool) -> AuthResult<Checked> {
    if params.phone.as_deref().is_some_and(|p| !p.is_empty()) || params.phone_confirm {
        return Err(AuthError::phone_disabled());
    }
    let email = match params.email.as_deref().filter(|e| !e.is_empty()) {
        Some(email) => Some(crate::service::parse_email(email)?),
        None if creating => {
            return Err(AuthError::validation(
                "Cannot create a user without either an email or phone",
            ));
        }
        None => None,
    };
    if let Some(role) = params.role.as_deref().filter(|r| !r.is_empty())
        && role != "authenticated"
    {
        return Err(AuthError::validation(
            "role must be authenticated: Kith's tokens carry no other user role",
        ));
    }
    let ban = params
        .ban_duration
        .as_deref()
        .filter(|b| !b.is_empty())
        .map(parse_ban_duration)
        .transpose()?;
    let user_metadata = metadata("user_metadata", params.user_metadata.as_ref())?;
    let app_metadata = metadata("app_metadata", params.app_metadata.as_ref())?;
    let password = params.password.as_deref().filter(|p| !p.is_empty() || !creating);
    let given_hash = params.password_hash.as_deref().filter(|h| !h.is_empty());
    let password_hash = match (password, given_hash) {
        (Some(_), Some(_)) if creating => {
            return Err(AuthError::validation(
                "Only a password or a password hash should be provided",
            ));
        }
        (Some(password), _) => {
            if password.chars().count() < min_password_length {
                return Err(AuthError::weak_password(min_password_length));
            }
            Some(
                password::hash(password.to_owned())
                    .await
                    .map_err(|err| AuthError::unexpected(&err))?,
            )
        }
        (None, Some(hash)) if creating => {
            if !(hash.starts_with("$argon2")
                || hash.starts_with("$2a$")
                || hash.starts_with("$2b$")
                || hash.starts_with("$2y$"))
            {
                return Err(AuthError::validation("password_hash must be a bcrypt or argon2 hash"));
            }
            Some(hash.to_owned())
        }
        _ => None,
    };
    let id = match params.id.as_deref().filter(|i| !i.is_empty()) {
        Some(id) if creating => {
            let id = Uuid::parse_str(id).map_err(|_| AuthError::validation("ID must conform to the uuid v4 format"))?;
            if id.is_nil() {
                return Err(AuthError::validation("ID cannot be a nil uuid"));
            }
            Some(id)
        }
        _ => None,
    };
    Ok(Checked {
        email,
        password_hash,
        user_metadata,
        app_metadata,
        ban,
        email_confirm: params.email_confirm,
        id,
    })
}

async fn apply_ban(tx: &mut CallerTx, user_id: Uuid, ban: BanChange) -> AuthResult<()> {
    let until = ban.map(|d| chrono::Utc::now() + d);
    tx.query(
        "update auth.users set banned_until = $2, updated_at = now() where id = $1",
        &[&user_id, &until],
    )
    .await?;
    Ok(())
}

/// Creates a user as `POST /admin/users` does; `invited` marks an invitation (`invited_at`).
pub async fn create_user(tx: &mut CallerTx, checked: &Checked, actor: &Actor, invited: bool) -> AuthResult<User> {
    let Some(email) = checked.email.as_deref() else {
        return Err(AuthError::validation(
            "Cannot create a user without either an email or phone",
        ));
    };
    if store::user_by_email(tx, email).await?.is_some() {
        return Err(email_exists());
    }
    let mut app_metadata = json!({"provider": "email", "providers": ["email"]});
    if let Some(changes) = &checked.app_metadata {
        app_metadata = merge(&app_metadata, changes);
    }
    let user_metadata = checked.user_metadata.clone().map_or_else(|| json!({}), Value::Object);
    let sql = format!(
        "insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, invited_at,
                                 raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
         values ('00000000-0000-0000-0000-000000000000', coalesce($1, gen_random_uuid()), 'authenticated',
                 'authenticated', $2, $3, case when $4 then now() end, case when $5 then now() end, $6, $7, now(), now())
         returning {USER_COLUMNS}"
    );
    let row = tx
        .query_one(
            &sql,
            &[
                &checked.id,
                &email,
                &checked.password_hash,
                &checked.email_confirm,
                &invited,
                &app_metadata,
                &user_metadata,
            ],
        )
        .await
        .map_err(|err| match err.sql_state() {
            Some(state) if *state == SqlState::UNIQUE_VIOLATION => {
                if err.to_string().contains("users_pkey") {
                    AuthError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "user_already_exists",
                        "User already exists",
                    )
                } else {
                    email_exists()
                }
            }
            _ => AuthError::from(err),
        })?;
    let mut user = User::from_row(&row);
    tx.query(
        "insert into auth.identities (provider_id, user_id, identity_data, provider)
         values ($1::uuid::text, $1, jsonb_build_object('sub', $1::uuid::text, 'email', $2::text,
                 'email_verified', $3::bool, 'phone_verified', false), 'email')",
        &[&user.id, &email, &checked.email_confirm],
    )
    .await?;
    if let Some(ban) = checked.ban {
        apply_ban(tx, user.id, ban).await?;
        user = reload(tx, user.id).await?;
    }
    let action = if invited { "user_invited" } else { "user_signedup" };
    audit::record(
        tx,
        actor,
        action,
        json!({"user_id": user.id, "user_email": email, "user_phone": ""}),
    )
    .await?;
    tracing::info!(user_id = %user.id, actor = %actor.username, via = actor.via, "user created by an admin");
    Ok(user)
}

async fn reload(tx: &mut CallerTx, id: Uuid) -> AuthResult<User> {
    store::user_by_id(tx, id)
        .await?
        .ok_or_else(|| AuthError::unexpected(&"user vanished"))
}

/// Loads a user for an admin route: 404 `user_not_found` when there is none.
pub async fn load_user(tx: &mut CallerTx, id: Uuid) -> AuthResult<User> {
    store::user_by_id(tx, id)
        .await?
        .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "user_not_found", "User not found"))
}

/// Changes a user as `PUT /admin/users/{id}` does.
pub async fn update_user(tx: &mut CallerTx, user: &User, checked: &Checked, actor: &Actor) -> AuthResult<User> {
    let id = user.id;
    if let Some(email) = checked.email.as_deref()
        && user.email.as_deref() != Some(email)
    {
        if store::user_by_email(tx, email).await?.is_some() {
            return Err(email_exists());
        }
        tx.query(
            "update auth.users set email = $2, email_change = '', email_change_sent_at = null, updated_at = now()
             where id = $1",
            &[&id, &email],
        )
        .await
        .map_err(|err| match err.sql_state() {
            Some(state) if *state == SqlState::UNIQUE_VIOLATION => email_exists(),
            _ => AuthError::from(err),
        })?;
        tx.query(
            "update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text,
                    'email_verified', $3::bool), updated_at = now() where user_id = $1 and provider = 'email'",
            &[&id, &email, &checked.email_confirm],
        )
        .await?;
    }
    if checked.email_confirm {
        tx.query(
            "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()
             where id = $1",
            &[&id],
        )
        .await?;
    }
    if let Some(hash) = &checked.password_hash {
        tx.query(
            "update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
            &[&id, hash],
        )
        .await?;
    }
    if let Some(changes) = &checked.app_metadata {
        tx.query(
            "update auth.users set raw_app_meta_data = $2, updated_at = now() where id = $1",
            &[&id, &merge(&user.app_metadata, changes)],
        )
        .await?;
    }
    if let Some(changes) = &checked.user_metadata {
        tx.query(
            "update auth.users set raw_user_meta_data = $2, updated_at = now() where id = $1",
            &[&id, &merge(&user.user_metadata, changes)],
        )
        .await?;
    }
    if let Some(ban) = checked.ban {
        apply_ban(tx, id, ban).await?;
    }
    let updated = reload(tx, id).await?;
    audit::record(
        tx,
        actor,
        "user_modified",
        json!({"user_id": id, "user_email": updated.email, "user_phone": "",
               "banned_until": updated.banned_until}),
    )
    .await?;
    tracing::info!(user_id = %id, actor = %actor.username, via = actor.via, "user changed by an admin");
    Ok(updated)
}

/// Deletes a user as `DELETE /admin/users/{id}` does. A soft delete keeps the row (and what refers to it) but
/// frees the address, drops the password, identities, factors and sessions, and marks it `deleted_at`.
pub async fn delete_user(tx: &mut CallerTx, user: &User, soft: bool, actor: &Actor) -> AuthResult<()> {
    audit::record(
        tx,
        actor,
        "user_deleted",
        json!({"user_id": user.id, "user_email": user.email, "user_phone": "", "soft": soft}),
    )
    .await?;
    if soft {
        if user.deleted_at.is_some() {
            return Ok(());
        }
        tx.query(
            "update auth.users set email = null, encrypted_password = null, email_change = '',
                    raw_user_meta_data = '{}', deleted_at = now(), updated_at = now() where id = $1",
            &[&user.id],
        )
        .await?;
        tx.query("delete from auth.identities where user_id = $1", &[&user.id])
            .await?;
        tx.query("delete from auth.one_time_tokens where user_id = $1", &[&user.id])
            .await?;
        tx.query("delete from auth.mfa_factors where user_id = $1", &[&user.id])
            .await?;
        store::delete_sessions(tx, user.id, None, None).await?;
    } else {
        tx.query("delete from auth.users where id = $1", &[&user.id]).await?;
    }
    tracing::info!(user_id = %user.id, soft, actor = %actor.username, via = actor.via, "user deleted by an admin");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn go_durations_parse_as_go_does() {
        assert_eq!(parse_go_duration("24h").unwrap(), 24 * 3600 * 1_000_000_000);
        assert_eq!(parse_go_duration("1h30m").unwrap(), 5400 * 1_000_000_000);
        assert_eq!(parse_go_duration("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_go_duration("-2m").unwrap(), -120 * 1_000_000_000);
        assert_eq!(parse_go_duration("0").unwrap(), 0);
        assert_eq!(parse_go_duration("100ms").unwrap(), 100_000_000);
        assert_eq!(
            parse_go_duration("1").unwrap_err(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_go_duration("1d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("h").is_err());
        assert!(parse_go_duration("1..2h").is_err());
        assert!(parse_go_duration("99999999999999999999h").is_err());
    }

    #[test]
    fn ban_none_and_zero_lift_the_ban() {
        assert_eq!(parse_ban_duration("none").unwrap(), None);
        assert_eq!(parse_ban_duration("0s").unwrap(), None);
        assert_eq!(parse_ban_duration("1h").unwrap(), Some(chrono::Duration::hours(1)));
        assert_eq!(parse_ban_duration("soon").unwrap_err().code(), "validation_failed");
    }

    #[test]
    fn metadata_merges_and_null_removes() {
        let merged = merge(
            &json!({"a": 1, "b": 2}),
            json!({"b": null, "c": 3}).as_object().unwrap(),
        );
        assert_eq!(merged, json!({"a": 1, "c": 3}));
    }
}
