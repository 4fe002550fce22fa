//! `GET /user`, `PUT /user` and `GET /reauthenticate`.

use super::email::mail_interval;
use crate::error::{AuthError, AuthResult};
use crate::mailer::{Mail, MailKind};
use crate::secrets;
use crate::service::{AuthJson, AuthState, Client, current_user, parse_email, user_metadata};
use crate::store::{self, User};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use kith_db::CallerTx;
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) async fn get_user(State(state): State<AuthState>, headers: HeaderMap) -> AuthResult<Json<Value>> {
    let mut tx = state.tx("read the signed-in user").await?;
    let current = current_user(&state, &mut tx, &headers).await?;
    let body = state.user_json(&mut tx, &current.user).await?;
    tx.commit().await?;
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
pub(super) struct UpdateQuery {
    redirect_to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct UpdateBody {
    email: Option<String>,
    password: Option<String>,
    current_password: Option<String>,
    data: Option<Value>,
    phone: Option<String>,
    nonce: Option<String>,
}

/// The stored form of a reauthentication nonce: bound to the address it was mailed to.
fn nonce_hash(email: &str, nonce: &str) -> String {
    secrets::hash(&format!("reauthentication:{}:{}", email.to_lowercase(), nonce.trim()))
}

/// `GET /reauthenticate` (`auth.reauthenticate()`): mails the signed-in user a six-digit nonce that `PUT /user`
/// accepts (with `nonce`) in place of the current password. One nonce at a time, at most one mail a minute; the
/// mail goes out after the nonce is committed.
pub(super) async fn reauthenticate(State(state): State<AuthState>, headers: HeaderMap) -> AuthResult<Json<Value>> {
    let mut tx = state.tx("send a reauthentication nonce").await?;
    let user = current_user(&state, &mut tx, &headers).await?.user;
    let Some(email) = user.email.clone().filter(|e| !e.is_empty()) else {
        return Err(AuthError::validation(
            "Reauthentication requires the user to have an email or a phone number",
        ));
    };
    if user.email_confirmed_at.is_none() {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "email_not_confirmed",
            "Please verify your email first.",
        ));
    }
    let row = tx
        .query_one(
            "select reauthentication_sent_at from auth.users where id = $1 for update",
            &[&user.id],
        )
        .await?;
    mail_interval(row.get(0))?;
    let nonce = secrets::random_code();
    tx.query(
        "update auth.users set reauthentication_token = $2, reauthentication_sent_at = now() where id = $1",
        &[&user.id, &nonce_hash(&email, &nonce)],
    )
    .await?;
    let mail = Mail {
        to: email,
        subject: "Confirm reauthentication".to_owned(),
        text: format!("Enter the code {nonce} to confirm the change to your account.\n"),
        kind: MailKind::Reauthentication,
        link: String::new(),
        code: Some(nonce),
    };
    state.commit_and_send(tx, Some(mail)).await?;
    tracing::info!(user_id = %user.id, "reauthentication nonce sent");
    Ok(Json(json!({})))
}

/// Checks and spends the user's reauthentication nonce (422 `reauthentication_not_valid` when it is wrong,
/// spent or older than the one-time-code lifetime). Guesses count against the per-address rate limit.
async fn use_nonce(state: &AuthState, tx: &mut CallerTx, client: &Client, user: &User, nonce: &str) -> AuthResult<()> {
    let invalid = || {
        AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "reauthentication_not_valid",
            "Nonce has expired or is invalid",
        )
    };
    let email = user.email.clone().unwrap_or_default();
    state.rate_limit("reauthenticate", client, Some(&email)).await?;
    let row = tx
        .query_one(
            "select coalesce(reauthentication_token, ''),
                    coalesce(reauthentication_sent_at + make_interval(secs => $2) > now(), false)
               from auth.users where id = $1 for update",
            &[&user.id, &state.settings().otp_expiry.as_secs_f64()],
        )
        .await?;
    let stored: String = row.get(0);
    let fresh: bool = row.get(1);
    if stored.is_empty() || !fresh || stored != nonce_hash(&email, nonce) {
        tracing::info!(user_id = %user.id, reason = "reauthentication_not_valid", "nonce refused");
        return Err(invalid());
    }
    tx.query(
        "update auth.users set reauthentication_token = '', reauthentication_sent_at = null where id = $1",
        &[&user.id],
    )
    .await?;
    Ok(())
}

/// Whether the user has a verified factor while the session is below `aal2`.
async fn mfa_enabled_without_aal2(tx: &mut CallerTx, user: &User, session_id: Option<uuid::Uuid>) -> AuthResult<bool> {
    let row = tx
        .query_one(
            "select exists (select 1 from auth.mfa_factors where user_id = $1 and status = 'verified'),
                    coalesce((select aal = 'aal2' from auth.sessions where id = $2), false)",
            &[&user.id, &session_id],
        )
        .await?;
    Ok(row.get::<_, bool>(0) && !row.get::<_, bool>(1))
}

pub(super) async fn update_user(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<UpdateQuery>,
    AuthJson(body): AuthJson<UpdateBody>,
) -> AuthResult<Json<Value>> {
    if body.phone.is_some() {
        return Err(AuthError::phone_disabled());
    }
    let data = user_metadata(body.data)?;
    let new_email = body.email.as_deref().map(parse_email).transpose()?;
    let new_hash = match body.password.as_deref() {
        Some(password) => Some(state.new_password_hash(password).await?),
        None => None,
    };

    let mut tx = state.tx("update the signed-in user").await?;
    let current = current_user(&state, &mut tx, &headers).await?;
    let user = current.user;
    // With a verified factor, changing the password or the address needs the second factor too: otherwise a
    // stolen password would be enough to take the account over (Supabase Auth's rule).
    let changes_credentials = body.password.as_deref().is_some_and(|p| !p.is_empty())
        || new_email.as_ref().is_some_and(|e| Some(e) != user.email.as_ref());
    if changes_credentials && mfa_enabled_without_aal2(&mut tx, &user, current.session_id).await? {
        return Err(AuthError::new(
            StatusCode::UNAUTHORIZED,
            "insufficient_aal",
            "AAL2 session is required to update email or password when MFA is enabled.",
        ));
    }
    if user.is_anonymous && body.password.is_some() && user.email.is_none() && new_email.is_none() {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "Updating password of an anonymous user without an email or phone is not allowed",
        ));
    }

    if let (Some(password), Some(hash)) = (body.password.as_deref(), new_hash) {
        let after_recovery = current.amr_methods.iter().any(|m| m == "recovery");
        // A mailed reauthentication nonce proves the user as the current password does.
        let reauthenticated = match body.nonce.as_deref().filter(|n| !n.trim().is_empty()) {
            Some(nonce) => {
                use_nonce(&state, &mut tx, &client, &user, nonce).await?;
                true
            }
            None => false,
        };
        if state.settings().password_change_requires_current
            && !after_recovery
            && !reauthenticated
            && user.encrypted_password.is_some()
        {
            let current_password = body
                .current_password
                .as_deref()
                .filter(|p| !p.is_empty())
                .ok_or_else(|| {
                    AuthError::new(
                        StatusCode::BAD_REQUEST,
                        "current_password_required",
                        "Current password required when setting new password.",
                    )
                })?;
            if !state.check_password(&mut tx, Some(&user), current_password).await? {
                tracing::info!(user_id = %user.id, reason = "current_password_mismatch", "password change refused");
                return Err(AuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_credentials",
                    "Current password is incorrect.",
                ));
            }
        }
        if state.check_password(&mut tx, Some(&user), password).await? {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "same_password",
                "New password should be different from the old password.",
            ));
        }
        tx.query(
            "update auth.users set encrypted_password = $2, updated_at = now() where id = $1",
            &[&user.id, &hash],
        )
        .await?;
        tracing::info!(user_id = %user.id, "password changed");
    }

    if let Some(data) = data {
        // Keys set to null are removed, as Supabase Auth does.
        tx.query(
            "update auth.users set raw_user_meta_data = jsonb_strip_nulls(coalesce(raw_user_meta_data, '{}') || $2),
                                   updated_at = now() where id = $1",
            &[&user.id, &data],
        )
        .await?;
    }

    let mut mail = None;
    if let Some(email) = new_email.filter(|e| Some(e) != user.email.as_ref()) {
        if store::user_by_email(&mut tx, &email).await?.is_some() {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email_exists",
                "A user with this email address has already been registered",
            ));
        }
        tx.query(
            "update auth.users set email_change = $2, email_change_sent_at = now(), updated_at = now() where id = $1",
            &[&user.id, &email],
        )
        .await?;
        mail = Some(
            state
                .link_mail(
                    &mut tx,
                    user.id,
                    MailKind::EmailChange,
                    &email,
                    None,
                    query.redirect_to.as_deref(),
                )
                .await?,
        );
    }

    let user = store::user_by_id(&mut tx, user.id).await?.unwrap_or(user);
    let body = state.user_json(&mut tx, &user).await?;
    state.commit_and_send(tx, mail).await?;
    Ok(Json(body))
}
