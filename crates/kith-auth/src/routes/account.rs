//! `GET /user` and `PUT /user`.

use crate::error::{AuthError, AuthResult};
use crate::mailer::MailKind;
use crate::service::{AuthJson, AuthState, current_user, parse_email, user_metadata};
use crate::store;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::Value;

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
}

pub(super) async fn update_user(
    State(state): State<AuthState>,
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

    if let (Some(password), Some(hash)) = (body.password.as_deref(), new_hash) {
        let after_recovery = current.amr_methods.iter().any(|m| m == "recovery");
        if state.settings().password_change_requires_current && !after_recovery && user.encrypted_password.is_some() {
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
        state
            .send_link(
                &mut tx,
                user.id,
                MailKind::EmailChange,
                &email,
                None,
                query.redirect_to.as_deref(),
            )
            .await?;
    }

    let user = store::user_by_id(&mut tx, user.id).await?.unwrap_or(user);
    let body = state.user_json(&mut tx, &user).await?;
    tx.commit().await?;
    Ok(Json(body))
}
