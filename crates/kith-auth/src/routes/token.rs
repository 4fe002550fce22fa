//! `POST /signup`, `POST /token?grant_type=password|refresh_token|pkce`, `POST /logout`.

use crate::error::{AuthError, AuthResult};
use crate::secrets;
use crate::service::{AuthJson, AuthState, Client, Registration, current_user, parse_email, user_metadata};
use crate::store::{self, User};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub(super) struct RedirectQuery {
    redirect_to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SignupBody {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    #[serde(default)]
    data: Option<Value>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// `signInAnonymously()`: a user with no email, password or identity (`is_anonymous: true` in the user and its
/// tokens, amr `anonymous`), convertible to a permanent one by confirming an email address (`updateUser({email})`).
async fn anonymous_sign_in(state: &AuthState, client: &Client, data: Option<Value>) -> AuthResult<Json<Value>> {
    if state.settings().disable_signup {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    state.rate_limit("anonymous", client, None).await?;
    let metadata = user_metadata(data)?.unwrap_or_else(|| json!({}));
    let mut tx = state.tx("sign in anonymously").await?;
    let sql = format!(
        "insert into auth.users (instance_id, id, aud, role, is_anonymous, raw_app_meta_data, raw_user_meta_data,
                                 created_at, updated_at)
         values ('00000000-0000-0000-0000-000000000000', gen_random_uuid(), 'authenticated', 'authenticated', true,
                 '{{\"provider\":\"anonymous\",\"providers\":[\"anonymous\"]}}', $1, now(), now())
         returning {}",
        store::USER_COLUMNS
    );
    let user = User::from_row(&tx.query_one(&sql, &[&metadata]).await?);
    let session = state.sign_in(&mut tx, &user, "anonymous", client).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "anonymous user signed in");
    Ok(Json(session))
}

pub(super) async fn signup(
    State(state): State<AuthState>,
    client: Client,
    Query(query): Query<RedirectQuery>,
    AuthJson(body): AuthJson<SignupBody>,
) -> AuthResult<Json<Value>> {
    let settings = state.settings();
    let present = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
    if !present(&body.email) && !present(&body.phone) {
        // Supabase Auth routes a sign-up without email and phone to anonymous sign-in before anything else.
        if !settings.anonymous {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "anonymous_provider_disabled",
                "Anonymous sign-ins are disabled",
            ));
        }
        return anonymous_sign_in(&state, &client, body.data).await;
    }
    if settings.disable_signup {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "signup_disabled",
            "Signups not allowed for this instance",
        ));
    }
    let email = match (body.email.as_deref().filter(|e| !e.is_empty()), body.phone.as_deref()) {
        (Some(_), Some(phone)) if !phone.is_empty() => {
            return Err(AuthError::validation(
                "Only an email address or phone number should be provided on signup.",
            ));
        }
        (Some(email), _) => parse_email(email)?,
        (None, _) => {
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "phone_provider_disabled",
                "Phone signups are disabled",
            ));
        }
    };
    let password = body.password.unwrap_or_default();
    let pkce = state.pkce(body.code_challenge.as_deref(), body.code_challenge_method.as_deref())?;
    let metadata = user_metadata(body.data)?.unwrap_or_else(|| json!({}));
    match state
        .register(
            &client,
            &email,
            &password,
            &metadata,
            pkce.as_ref(),
            query.redirect_to.as_deref(),
        )
        .await?
    {
        Registration::Confirmed(mut tx, user) => {
            let session = state.sign_in(&mut tx, &user, "password", &client).await?;
            tx.commit().await?;
            Ok(Json(session))
        }
        Registration::MailSent(mut tx, user, mail) => {
            let body = state.user_json(&mut tx, &user).await?;
            state.commit_and_send(tx, Some(mail)).await?;
            Ok(Json(body))
        }
        // Confirmation required: answer like a new sign-up, so the address's existence stays secret.
        Registration::AlreadyRegistered => Ok(Json(obfuscated_user(&email, &metadata))),
    }
}

fn obfuscated_user(email: &str, metadata: &Value) -> Value {
    let now = chrono::Utc::now();
    json!({
        "id": uuid::Uuid::new_v4(), "aud": "authenticated", "role": "authenticated", "email": email, "phone": "",
        "confirmation_sent_at": now, "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": metadata, "identities": [], "created_at": now, "updated_at": now, "is_anonymous": false,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct GrantQuery {
    grant_type: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenBody {
    email: Option<String>,
    phone: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    auth_code: Option<String>,
    code_verifier: Option<String>,
    id_token: Option<String>,
    provider: Option<String>,
    client_id: Option<String>,
    issuer: Option<String>,
}

pub(super) async fn token(
    State(state): State<AuthState>,
    client: Client,
    Query(query): Query<GrantQuery>,
    AuthJson(body): AuthJson<TokenBody>,
) -> AuthResult<Json<Value>> {
    match query.grant_type.as_deref() {
        Some("password") => password_grant(&state, &client, body).await,
        Some("refresh_token") => refresh_grant(&state, body).await,
        Some("pkce") => pkce_grant(&state, &client, body).await,
        Some("id_token") => Err(super::disabled::id_token_grant(
            body.id_token.as_deref(),
            body.provider.as_deref(),
            body.client_id.as_deref(),
            body.issuer.as_deref(),
        )),
        _ => Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_credentials",
            "unsupported_grant_type",
        )),
    }
}

async fn password_grant(state: &AuthState, client: &Client, body: TokenBody) -> AuthResult<Json<Value>> {
    if body.phone.is_some() && body.email.is_none() {
        return Err(AuthError::phone_disabled());
    }
    let password = body.password.unwrap_or_default();
    let (mut tx, user) = state
        .check_credentials(client, body.email.as_deref().unwrap_or_default(), &password)
        .await?;
    let mut session = state.sign_in(&mut tx, &user, "password", client).await?;
    tx.commit().await?;
    let min = state.settings().min_password_length;
    if password.chars().count() < min {
        session["weak_password"] =
            json!({"reasons": ["length"], "message": format!("Password should be at least {min} characters.")});
    }
    Ok(Json(session))
}

/// Rotation with reuse detection (Supabase Auth's rules): a token is single use; presenting the parent of the
/// session's active token, or a token rotated less than the reuse interval ago, yields a fresh token; any other
/// reuse ends the whole session.
async fn refresh_grant(state: &AuthState, body: TokenBody) -> AuthResult<Json<Value>> {
    let presented = body
        .refresh_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::oauth("invalid_request", "refresh_token required"))?;
    let hash = secrets::hash(&presented);
    let not_found = || {
        AuthError::new(
            StatusCode::BAD_REQUEST,
            "refresh_token_not_found",
            "Invalid Refresh Token: Refresh Token Not Found",
        )
    };
    let mut tx = state.tx("refresh a session").await?;
    let token = store::refresh_token(&mut tx, &hash).await?.ok_or_else(not_found)?;
    let session = store::session_for_update(&mut tx, token.session_id)
        .await?
        .ok_or_else(|| {
            AuthError::new(
                StatusCode::BAD_REQUEST,
                "session_not_found",
                "Invalid Refresh Token: Session Not Found",
            )
        })?;
    // Re-read under the session lock: a concurrent refresh may just have rotated it.
    let token = store::refresh_token(&mut tx, &hash).await?.ok_or_else(not_found)?;
    if session.not_after.is_some_and(|t| t < chrono::Utc::now()) {
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "session_expired",
            "Invalid Refresh Token: Session Expired",
        ));
    }
    let user: User = store::user_by_id(&mut tx, session.user_id)
        .await?
        .ok_or_else(not_found)?;
    if user.is_banned() {
        return Err(AuthError::new(StatusCode::BAD_REQUEST, "user_banned", "User is banned"));
    }
    let parent = if !token.revoked {
        store::revoke_refresh_token(&mut tx, &token.hash).await?;
        token.hash.clone()
    } else {
        let active = store::active_refresh_token(&mut tx, session.id).await?;
        let parent_of_active = active
            .as_ref()
            .is_some_and(|(_, parent)| parent.as_deref() == Some(token.hash.as_str()));
        let age = chrono::Utc::now() - token.updated_at;
        let within_interval = age
            .to_std()
            .is_ok_and(|age| age < state.settings().refresh_reuse_interval);
        if let Some((active_hash, _)) = active.filter(|_| parent_of_active || within_interval) {
            // The client lost the answer to a refresh (or retried one): continue from the active token, so the
            // session never forks into two live branches that reuse detection could not see.
            store::revoke_refresh_token(&mut tx, &active_hash).await?;
            active_hash
        } else {
            tracing::warn!(user_id = %user.id, session_id = %session.id, reason = "refresh_token_reused", "session revoked");
            store::delete_sessions(&mut tx, user.id, Some(session.id), None).await?;
            tx.commit().await?;
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "refresh_token_already_used",
                "Invalid Refresh Token: Already Used",
            ));
        }
    };
    let refresh = store::issue_refresh_token(&mut tx, &session, Some(&parent)).await?;
    let response = state.session_response(&mut tx, &user, &session, refresh).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, session_id = %session.id, "session refreshed");
    Ok(Json(response))
}

async fn pkce_grant(state: &AuthState, client: &Client, body: TokenBody) -> AuthResult<Json<Value>> {
    let (mut tx, user, method) = state
        .exchange_code(
            body.auth_code.as_deref().unwrap_or_default(),
            body.code_verifier.as_deref().unwrap_or_default(),
        )
        .await?;
    let session = state.sign_in(&mut tx, &user, method, client).await?;
    tx.commit().await?;
    Ok(Json(session))
}

#[derive(Debug, Deserialize)]
pub(super) struct LogoutQuery {
    scope: Option<String>,
}

pub(super) async fn logout(
    State(state): State<AuthState>,
    headers: HeaderMap,
    Query(query): Query<LogoutQuery>,
) -> AuthResult<Response> {
    let scope = query.scope.as_deref().unwrap_or("global");
    if !matches!(scope, "global" | "local" | "others") {
        return Err(AuthError::validation(format!("Unsupported logout scope {scope:?}")));
    }
    let mut tx = state.tx("sign out").await?;
    let current = current_user(&state, &mut tx, &headers).await?;
    let ended = match (scope, current.session_id) {
        ("global", _) => store::delete_sessions(&mut tx, current.user.id, None, None).await?,
        ("local", Some(session)) => store::delete_sessions(&mut tx, current.user.id, Some(session), None).await?,
        ("others", Some(session)) => store::delete_sessions(&mut tx, current.user.id, None, Some(session)).await?,
        _ => 0,
    };
    tx.commit().await?;
    tracing::info!(user_id = %current.user.id, scope, sessions = ended, "signed out");
    Ok(StatusCode::NO_CONTENT.into_response())
}
