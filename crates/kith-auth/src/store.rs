//! Reading and writing the `auth` schema. Every function takes the auth service's privileged transaction.

use chrono::{DateTime, Utc};
use kith_db::tokio_postgres::Row;
use kith_db::{CallerTx, DbError};
use serde_json::{Value, json};
use uuid::Uuid;

/// A row of `auth.users` with the columns the API uses.
#[derive(Debug, Clone)]
pub struct User {
    /// The user id.
    pub id: Uuid,
    /// Audience (`authenticated`).
    pub aud: String,
    /// Database role of the user's tokens (`authenticated`).
    pub role: String,
    /// Email address (lowercase).
    pub email: Option<String>,
    /// PHC string (argon2id) or bcrypt hash.
    pub encrypted_password: Option<String>,
    /// When the email was confirmed.
    pub email_confirmed_at: Option<DateTime<Utc>>,
    /// When a confirmation mail was sent.
    pub confirmation_sent_at: Option<DateTime<Utc>>,
    /// When a recovery mail was sent.
    pub recovery_sent_at: Option<DateTime<Utc>>,
    /// A pending new email address.
    pub email_change: Option<String>,
    /// When the email-change mail was sent.
    pub email_change_sent_at: Option<DateTime<Utc>>,
    /// Last sign-in.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// `app_metadata`.
    pub app_metadata: Value,
    /// `user_metadata`.
    pub user_metadata: Value,
    /// Banned until.
    pub banned_until: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Anonymous user.
    pub is_anonymous: bool,
    /// When an admin invited the user.
    pub invited_at: Option<DateTime<Utc>>,
    /// When an admin soft-deleted the user.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The column list [`User::from_row`] reads.
pub const USER_COLUMNS: &str = "id, coalesce(aud, 'authenticated') aud, coalesce(role, 'authenticated') role, email,
  encrypted_password, email_confirmed_at, confirmation_sent_at, recovery_sent_at, nullif(email_change, '') email_change,
  email_change_sent_at, last_sign_in_at, coalesce(raw_app_meta_data, '{}') raw_app_meta_data,
  coalesce(raw_user_meta_data, '{}') raw_user_meta_data, banned_until, coalesce(created_at, now()) created_at,
  coalesce(updated_at, now()) updated_at, is_anonymous, invited_at, deleted_at";

impl User {
    /// Reads a row selected with [`USER_COLUMNS`].
    pub fn from_row(row: &Row) -> Self {
        User {
            id: row.get("id"),
            aud: row.get("aud"),
            role: row.get("role"),
            email: row.get("email"),
            encrypted_password: row.get("encrypted_password"),
            email_confirmed_at: row.get("email_confirmed_at"),
            confirmation_sent_at: row.get("confirmation_sent_at"),
            recovery_sent_at: row.get("recovery_sent_at"),
            email_change: row.get("email_change"),
            email_change_sent_at: row.get("email_change_sent_at"),
            last_sign_in_at: row.get("last_sign_in_at"),
            app_metadata: row.get("raw_app_meta_data"),
            user_metadata: row.get("raw_user_meta_data"),
            banned_until: row.get("banned_until"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
            is_anonymous: row.get("is_anonymous"),
            invited_at: row.get("invited_at"),
            deleted_at: row.get("deleted_at"),
        }
    }

    /// Whether the user is banned now.
    pub fn is_banned(&self) -> bool {
        self.banned_until.is_some_and(|until| until > Utc::now())
    }

    /// The user as Supabase Auth serializes it (fields that are null are left out).
    pub fn to_json(&self, identities: &[Value]) -> Value {
        let mut user = json!({
            "id": self.id, "aud": self.aud, "role": self.role,
            "email": self.email.clone().unwrap_or_default(), "phone": "",
            "app_metadata": self.app_metadata, "user_metadata": self.user_metadata,
            "identities": identities, "created_at": self.created_at, "updated_at": self.updated_at,
            "is_anonymous": self.is_anonymous,
        });
        let optional = [
            ("email_confirmed_at", self.email_confirmed_at),
            ("confirmed_at", self.email_confirmed_at),
            ("confirmation_sent_at", self.confirmation_sent_at),
            ("recovery_sent_at", self.recovery_sent_at),
            ("email_change_sent_at", self.email_change_sent_at),
            ("last_sign_in_at", self.last_sign_in_at),
            ("banned_until", self.banned_until),
            ("invited_at", self.invited_at),
            ("deleted_at", self.deleted_at),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                user[name] = json!(value);
            }
        }
        if let Some(new_email) = &self.email_change {
            user["new_email"] = json!(new_email);
        }
        user
    }
}

/// The user with this (lowercase) email, if any.
pub async fn user_by_email(tx: &mut CallerTx, email: &str) -> Result<Option<User>, DbError> {
    let sql = format!("select {USER_COLUMNS} from auth.users where email = $1 and is_sso_user = false");
    Ok(tx.query_opt(&sql, &[&email]).await?.map(|r| User::from_row(&r)))
}

/// The user with this id, if any, locked for update when `lock`.
pub async fn user_by_id(tx: &mut CallerTx, id: Uuid) -> Result<Option<User>, DbError> {
    let sql = format!("select {USER_COLUMNS} from auth.users where id = $1");
    Ok(tx.query_opt(&sql, &[&id]).await?.map(|r| User::from_row(&r)))
}

/// The user's identities as Supabase Auth serializes them.
pub async fn identities(tx: &mut CallerTx, user_id: Uuid) -> Result<Vec<Value>, DbError> {
    let rows = tx
        .query(
            "select json_build_object('identity_id', id, 'id', provider_id, 'user_id', user_id,
                    'identity_data', identity_data, 'provider', provider, 'last_sign_in_at', last_sign_in_at,
                    'created_at', created_at, 'updated_at', updated_at, 'email', email)::jsonb
             from auth.identities where user_id = $1 order by created_at",
            &[&user_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The user's MFA factors as Supabase Auth serializes them (never the secret).
pub async fn factors(tx: &mut CallerTx, user_id: Uuid) -> Result<Vec<Value>, DbError> {
    let rows = tx
        .query(
            "select jsonb_strip_nulls(jsonb_build_object('id', id, 'friendly_name', nullif(friendly_name, ''),
                    'factor_type', factor_type, 'status', status, 'created_at', created_at,
                    'updated_at', updated_at)) || jsonb_build_object('last_challenged_at', last_challenged_at)
             from auth.mfa_factors where user_id = $1 order by created_at, id",
            &[&user_id],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Inserts an email user with its `email` identity; `confirmed` sets `email_confirmed_at`.
pub async fn insert_user(
    tx: &mut CallerTx,
    email: &str,
    password_hash: Option<&str>,
    metadata: &Value,
    confirmed: bool,
) -> Result<User, DbError> {
    let sql = format!(
        "insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
                                 raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
         values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', $1, $2,
                 case when $3 then now() end, '{{\"provider\":\"email\",\"providers\":[\"email\"]}}', $4, now(), now())
         returning {USER_COLUMNS}"
    );
    let user = User::from_row(
        &tx.query_one(&sql, &[&email, &password_hash, &confirmed, metadata])
            .await?,
    );
    tx.query(
        "insert into auth.identities (provider_id, user_id, identity_data, provider)
         values ($1::uuid::text, $1, jsonb_build_object('sub', $1::uuid::text, 'email', $2::text,
                 'email_verified', $3::bool, 'phone_verified', false), 'email')",
        &[&user.id, &email, &confirmed],
    )
    .await?;
    Ok(user)
}

/// Records a sign-in: `last_sign_in_at` on the user and its email identity.
pub async fn touch_sign_in(tx: &mut CallerTx, user_id: Uuid) -> Result<(), DbError> {
    tx.query(
        "with u as (update auth.users set last_sign_in_at = now(), updated_at = now() where id = $1)
         update auth.identities set last_sign_in_at = now() where user_id = $1 and provider = 'email'",
        &[&user_id],
    )
    .await?;
    Ok(())
}

/// A session row.
#[derive(Debug, Clone)]
pub struct Session {
    /// Session id (the `session_id` claim).
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Authentication methods: `[{"method", "timestamp"}]`.
    pub amr: Value,
    /// `aal1`.
    pub aal: String,
    /// Hard expiry, if any.
    pub not_after: Option<DateTime<Utc>>,
}

/// Opens a session for a sign-in by `method`.
pub async fn create_session(
    tx: &mut CallerTx,
    user_id: Uuid,
    method: &str,
    user_agent: Option<&str>,
    ip: Option<std::net::IpAddr>,
) -> Result<Session, DbError> {
    let amr = json!([{ "method": method, "timestamp": Utc::now().timestamp() }]);
    let row = tx
        .query_one(
            "insert into auth.sessions (user_id, amr, user_agent, ip) values ($1, $2, $3, $4)
             returning id, user_id, amr, aal, not_after",
            &[&user_id, &amr, &user_agent, &ip],
        )
        .await?;
    Ok(session_from_row(&row))
}

fn session_from_row(row: &Row) -> Session {
    Session {
        id: row.get("id"),
        user_id: row.get("user_id"),
        amr: row.get("amr"),
        aal: row.get("aal"),
        not_after: row.get("not_after"),
    }
}

/// The session with this id, locked so concurrent refreshes of one session run one at a time.
pub async fn session_for_update(tx: &mut CallerTx, id: Uuid) -> Result<Option<Session>, DbError> {
    Ok(tx
        .query_opt(
            "select id, user_id, amr, aal, not_after from auth.sessions where id = $1 for update",
            &[&id],
        )
        .await?
        .map(|r| session_from_row(&r)))
}

/// Whether the session exists.
pub async fn session_exists(tx: &mut CallerTx, id: Uuid) -> Result<bool, DbError> {
    Ok(tx
        .query_opt("select 1 from auth.sessions where id = $1", &[&id])
        .await?
        .is_some())
}

/// Issues a refresh token for `session` (child of `parent_hash`), returning the token itself.
pub async fn issue_refresh_token(
    tx: &mut CallerTx,
    session: &Session,
    parent_hash: Option<&str>,
) -> Result<String, DbError> {
    let token = crate::secrets::random_token();
    tx.query(
        "insert into auth.refresh_tokens (token, user_id, parent, session_id) values ($1, $2, $3, $4)",
        &[
            &crate::secrets::hash(&token),
            &session.user_id,
            &parent_hash,
            &session.id,
        ],
    )
    .await?;
    tx.query(
        "update auth.sessions set refreshed_at = now(), updated_at = now() where id = $1",
        &[&session.id],
    )
    .await?;
    Ok(token)
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// The hash (the stored form).
    pub hash: String,
    /// Whether it has been used.
    pub revoked: bool,
    /// When it was last changed (its revocation time once revoked).
    pub updated_at: DateTime<Utc>,
    /// Its session.
    pub session_id: Uuid,
}

/// Finds a refresh token by its hash.
pub async fn refresh_token(tx: &mut CallerTx, hash: &str) -> Result<Option<RefreshToken>, DbError> {
    Ok(tx
        .query_opt(
            "select token, revoked, updated_at, session_id from auth.refresh_tokens where token = $1",
            &[&hash],
        )
        .await?
        .map(|r| RefreshToken {
            hash: r.get(0),
            revoked: r.get(1),
            updated_at: r.get(2),
            session_id: r.get(3),
        }))
}

/// The newest unrevoked token of a session: `(hash, parent hash)`.
pub async fn active_refresh_token(
    tx: &mut CallerTx,
    session_id: Uuid,
) -> Result<Option<(String, Option<String>)>, DbError> {
    Ok(tx
        .query_opt(
            "select token, parent from auth.refresh_tokens where session_id = $1 and not revoked order by id desc limit 1",
            &[&session_id],
        )
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// Marks a token used.
pub async fn revoke_refresh_token(tx: &mut CallerTx, hash: &str) -> Result<(), DbError> {
    tx.query(
        "update auth.refresh_tokens set revoked = true, updated_at = now() where token = $1",
        &[&hash],
    )
    .await?;
    Ok(())
}

/// Ends sessions of `user_id`: one, all, or all but one.
pub async fn delete_sessions(
    tx: &mut CallerTx,
    user_id: Uuid,
    only: Option<Uuid>,
    except: Option<Uuid>,
) -> Result<u64, DbError> {
    let rows = tx
        .query(
            "delete from auth.sessions where user_id = $1
               and ($2::uuid is null or id = $2) and ($3::uuid is null or id <> $3)
             returning id",
            &[&user_id, &only, &except],
        )
        .await?;
    Ok(rows.len() as u64)
}
