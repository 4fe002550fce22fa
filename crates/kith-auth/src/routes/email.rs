//! Mail-based flows: `POST /recover`, `POST /otp` (magic link), `POST /verify` and the `GET /verify` link.

use crate::error::{AuthError, AuthResult};
use crate::mailer::MailKind;
use crate::secrets;
use crate::service::{AuthJson, AuthState, Client, amr_method, parse_email, user_metadata};
use crate::store::{self, User};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kith_db::CallerTx;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

#[derive(Debug, Deserialize)]
pub(super) struct RedirectQuery {
    redirect_to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct RecoverBody {
    email: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

/// Always 200 `{}` for a well-formed address, whether or not it has an account.
pub(super) async fn recover(
    State(state): State<AuthState>,
    client: Client,
    Query(query): Query<RedirectQuery>,
    AuthJson(body): AuthJson<RecoverBody>,
) -> AuthResult<Json<Value>> {
    let pkce = state.pkce(body.code_challenge.as_deref(), body.code_challenge_method.as_deref())?;
    state
        .send_recovery(
            &client,
            body.email.as_deref().unwrap_or_default(),
            pkce.as_ref(),
            query.redirect_to.as_deref(),
        )
        .await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
pub(super) struct OtpBody {
    email: Option<String>,
    phone: Option<String>,
    create_user: Option<bool>,
    data: Option<Value>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

pub(super) async fn otp(
    State(state): State<AuthState>,
    client: Client,
    Query(query): Query<RedirectQuery>,
    AuthJson(body): AuthJson<OtpBody>,
) -> AuthResult<Json<Value>> {
    if body.phone.as_deref().is_some_and(|p| !p.is_empty()) && body.email.as_deref().is_none_or(str::is_empty) {
        // Supabase Auth's SMS one-time codes with the phone provider off.
        return Err(AuthError::new(
            StatusCode::BAD_REQUEST,
            "phone_provider_disabled",
            "Unsupported phone provider",
        ));
    }
    let email = parse_email(body.email.as_deref().unwrap_or_default())?;
    state.rate_limit("otp", &client, Some(&email)).await?;
    let pkce = state.pkce(body.code_challenge.as_deref(), body.code_challenge_method.as_deref())?;
    let metadata = user_metadata(body.data)?;
    let mut tx = state.tx("magic link").await?;
    let user = match store::user_by_email(&mut tx, &email).await? {
        Some(user) => user,
        None if body.create_user.unwrap_or(true) && !state.settings().disable_signup => {
            let metadata = metadata.unwrap_or_else(|| json!({}));
            let user = store::insert_user(&mut tx, &email, None, &metadata, false).await?;
            tracing::info!(user_id = %user.id, "user signed up by magic link");
            user
        }
        None => {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "otp_disabled",
                "Signups not allowed for otp",
            ));
        }
    };
    let flow = state.start_flow(&mut tx, pkce.as_ref(), user.id, "magiclink").await?;
    let mail = state
        .link_mail(
            &mut tx,
            user.id,
            MailKind::MagicLink,
            &email,
            flow,
            query.redirect_to.as_deref(),
        )
        .await?;
    state.commit_and_send(tx, Some(mail)).await?;
    Ok(Json(json!({})))
}

/// Supabase Auth mails one address at most once a minute (`SMTP_MAX_FREQUENCY`).
pub(super) const MAIL_INTERVAL_SECS: i64 = 60;

/// 429 `over_email_send_rate_limit` when the last mail of this kind went out less than a minute ago.
pub(super) fn mail_interval(sent_at: Option<chrono::DateTime<chrono::Utc>>) -> AuthResult<()> {
    if let Some(sent_at) = sent_at {
        let next = sent_at + chrono::Duration::seconds(MAIL_INTERVAL_SECS);
        let now = chrono::Utc::now();
        if next > now {
            return Err(AuthError::mail_too_soon((next - now).num_seconds()));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
pub(super) struct ResendBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

/// `POST /resend` (`auth.resend`): mails a new sign-up confirmation or email-change link. Like Supabase Auth it
/// answers 200 `{}` when there is nothing to send (unknown address, already confirmed, no pending change), so
/// it does not reveal accounts. The mail goes out after the new token is committed.
pub(super) async fn resend(
    State(state): State<AuthState>,
    client: Client,
    Query(query): Query<RedirectQuery>,
    AuthJson(body): AuthJson<ResendBody>,
) -> AuthResult<Json<Value>> {
    let kind = body.kind.as_deref().unwrap_or_default();
    if !matches!(kind, "signup" | "email_change" | "sms" | "phone_change") {
        return Err(AuthError::validation(
            "Missing one of these types: signup, email_change, sms, phone_change",
        ));
    }
    let email = body.email.as_deref().filter(|e| !e.is_empty());
    let phone = body.phone.as_deref().filter(|p| !p.is_empty());
    if email.is_none() && kind == "signup" {
        return Err(AuthError::validation("Type provided requires an email address"));
    }
    if phone.is_none() && kind == "sms" {
        return Err(AuthError::validation("Type provided requires a phone number"));
    }
    let email = match (email, phone) {
        (Some(_), Some(_)) => {
            return Err(AuthError::validation(
                "Only an email address or phone number should be provided.",
            ));
        }
        (Some(email), None) => parse_email(email)?,
        (None, Some(_)) => {
            return Err(AuthError::new(
                StatusCode::BAD_REQUEST,
                "phone_provider_disabled",
                "Phone logins are disabled",
            ));
        }
        (None, None) => return Err(AuthError::validation("Missing email address or phone number")),
    };
    state.rate_limit("resend", &client, Some(&email)).await?;
    let mut tx = state.tx("resend a confirmation mail").await?;
    let Some(user) = store::user_by_email(&mut tx, &email).await? else {
        return Ok(Json(json!({})));
    };
    let mail = match kind {
        "signup" if user.email_confirmed_at.is_none() => {
            mail_interval(user.confirmation_sent_at)?;
            tx.query(
                "update auth.users set confirmation_sent_at = now() where id = $1",
                &[&user.id],
            )
            .await?;
            state
                .link_mail(
                    &mut tx,
                    user.id,
                    MailKind::Confirmation,
                    &email,
                    None,
                    query.redirect_to.as_deref(),
                )
                .await?
        }
        "email_change" if user.email_change.is_some() => {
            let new_email = user.email_change.clone().unwrap_or_default();
            mail_interval(user.email_change_sent_at)?;
            tx.query(
                "update auth.users set email_change_sent_at = now() where id = $1",
                &[&user.id],
            )
            .await?;
            state
                .link_mail(
                    &mut tx,
                    user.id,
                    MailKind::EmailChange,
                    &new_email,
                    None,
                    query.redirect_to.as_deref(),
                )
                .await?
        }
        _ => return Ok(Json(json!({}))),
    };
    state.commit_and_send(tx, Some(mail)).await?;
    tracing::info!(user_id = %user.id, kind, "confirmation mail sent again");
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
pub(super) struct VerifyBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    token: Option<String>,
    token_hash: Option<String>,
    email: Option<String>,
}

/// The token types a `/verify` type accepts.
fn token_types(kind: &str) -> AuthResult<&'static [&'static str]> {
    Ok(match kind {
        "signup" => &["confirmation_token"],
        "recovery" => &["recovery_token"],
        "magiclink" => &["magiclink_token"],
        "email" => &["magiclink_token", "confirmation_token"],
        "email_change" => &["email_change_token"],
        "invite" => &["invite_token"],
        _ => {
            return Err(AuthError::validation(format!(
                "Verify requires a verification type, got {kind:?}"
            )));
        }
    })
}

/// Wrong codes an address may send before its outstanding codes are withdrawn.
const MAX_CODE_ATTEMPTS: i32 = 5;

fn expired() -> AuthError {
    AuthError::new(StatusCode::FORBIDDEN, "otp_expired", "Token has expired or is invalid")
}

/// A consumed one-time token.
struct Verified {
    user: User,
    token_type: String,
    flow_state: Option<Uuid>,
}

/// Finds and consumes the one-time token (by link token, or by emailed code and address) and applies it.
async fn consume(
    tx: &mut CallerTx,
    kind: &str,
    link_token: Option<&str>,
    code: Option<(&str, &str)>,
) -> AuthResult<Verified> {
    let types: Vec<String> = token_types(kind)?.iter().map(|t| (*t).to_owned()).collect();
    let row = match (link_token, code) {
        (Some(token), _) => {
            tx.query_opt(
                "delete from auth.one_time_tokens where token_hash = $1 and token_type = any($2)
                 returning user_id, token_type, relates_to, flow_state_id, expires_at < now() as expired",
                &[&secrets::hash(token), &types],
            )
            .await?
        }
        (None, Some((email, code))) => {
            let found = tx
                .query_opt(
                    "delete from auth.one_time_tokens where otp_hash = $1 and token_type = any($2)
                     returning user_id, token_type, relates_to, flow_state_id, expires_at < now() as expired",
                    &[&secrets::code_hash(email, code), &types],
                )
                .await?;
            if found.is_none() {
                // A wrong guess: count it against the address's outstanding codes; withdraw them at the limit.
                // (Two statements: a row updated in a CTE cannot be deleted by the same statement.)
                tx.query(
                    "update auth.one_time_tokens set failed_attempts = failed_attempts + 1
                      where relates_to = $1 and token_type = any($2)",
                    &[&email, &types],
                )
                .await?;
                tx.query(
                    "delete from auth.one_time_tokens
                      where relates_to = $1 and token_type = any($2) and failed_attempts >= $3",
                    &[&email, &types, &MAX_CODE_ATTEMPTS],
                )
                .await?;
            }
            found
        }
        (None, None) => return Err(AuthError::validation("Verify requires a token or a token hash")),
    };
    let row = row.ok_or_else(expired)?;
    if row.get::<_, bool>("expired") {
        return Err(expired());
    }
    let user_id: Uuid = row.get("user_id");
    let token_type: String = row.get("token_type");
    let relates_to: String = row.get("relates_to");
    match token_type.as_str() {
        "email_change_token" => {
            // Confirming an address also makes an anonymous user permanent (Supabase Auth's conversion).
            tx.query(
                "update auth.users set email = $2, email_change = '', email_change_sent_at = null, updated_at = now(),
                        email_confirmed_at = coalesce(email_confirmed_at, now()), is_anonymous = false,
                        raw_app_meta_data = case when is_anonymous
                          then coalesce(raw_app_meta_data, '{}') || '{\"provider\":\"email\",\"providers\":[\"email\"]}'
                          else raw_app_meta_data end
                 where id = $1",
                &[&user_id, &relates_to],
            )
            .await?;
            tx.query(
                "insert into auth.identities (provider_id, user_id, identity_data, provider)
                 values ($1::uuid::text, $1, jsonb_build_object('sub', $1::uuid::text, 'email', $2::text,
                         'email_verified', true, 'phone_verified', false), 'email')
                 on conflict (provider_id, provider) do nothing",
                &[&user_id, &relates_to],
            )
            .await?;
            tx.query(
                "update auth.identities set identity_data = identity_data || jsonb_build_object('email', $2::text),
                        updated_at = now() where user_id = $1 and provider = 'email'",
                &[&user_id, &relates_to],
            )
            .await?;
        }
        _ => {
            // Following any emailed link proves the address.
            tx.query(
                "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()
                 where id = $1",
                &[&user_id],
            )
            .await?;
        }
    }
    let user = store::user_by_id(tx, user_id).await?.ok_or_else(expired)?;
    Ok(Verified {
        user,
        token_type,
        flow_state: row.get("flow_state_id"),
    })
}

fn method_of(token_type: &str) -> &'static str {
    match token_type {
        "recovery_token" => "recovery",
        "email_change_token" => "email_change",
        "invite_token" => "invite",
        _ => "otp",
    }
}

pub(super) async fn verify(
    State(state): State<AuthState>,
    client: Client,
    AuthJson(body): AuthJson<VerifyBody>,
) -> AuthResult<Json<Value>> {
    // Normalize first: every spelling of an address shares one rate-limit counter.
    let email = body.email.as_deref().map(parse_email).transpose()?;
    state.rate_limit("verify", &client, email.as_deref()).await?;
    let kind = body.kind.as_deref().unwrap_or_default();
    let code = match (email.as_deref(), body.token.as_deref()) {
        (Some(email), Some(token)) => Some((email, token)),
        _ => None,
    };
    let mut tx = state.tx("verify a one-time token").await?;
    let verified = match consume(&mut tx, kind, body.token_hash.as_deref(), code).await {
        Ok(verified) => verified,
        Err(err) => {
            tx.commit().await?;
            tracing::info!(reason = err.code(), "verification failed");
            return Err(err);
        }
    };
    let session = state
        .sign_in(&mut tx, &verified.user, method_of(&verified.token_type), &client)
        .await?;
    tx.commit().await?;
    Ok(Json(session))
}

#[derive(Debug, Deserialize)]
pub(super) struct VerifyLinkQuery {
    token: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    redirect_to: Option<String>,
}

/// The link in mail: verifies, then redirects (303) to `redirect_to` with `?code=` (PKCE) or the session in the
/// fragment (implicit flow), or with the error in the fragment.
pub(super) async fn verify_link(
    State(state): State<AuthState>,
    client: Client,
    Query(query): Query<VerifyLinkQuery>,
) -> Response {
    let mut target = state.settings().redirect_target(query.redirect_to.as_deref());
    match verify_link_inner(&state, &client, &query).await {
        Ok(LinkOutcome::Code(code)) => {
            target.query_pairs_mut().append_pair("code", &code);
        }
        Ok(LinkOutcome::Session(session)) => {
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("access_token", session["access_token"].as_str().unwrap_or_default())
                .append_pair("expires_at", &session["expires_at"].to_string())
                .append_pair("expires_in", &session["expires_in"].to_string())
                .append_pair("refresh_token", session["refresh_token"].as_str().unwrap_or_default())
                .append_pair("token_type", "bearer")
                .append_pair("type", query.kind.as_deref().unwrap_or_default())
                .finish();
            target.set_fragment(Some(&fragment));
        }
        Err(err) => {
            let fragment = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("error", "access_denied")
                .append_pair("error_code", err.code())
                .append_pair("error_description", "Email link is invalid or has expired")
                .finish();
            target.set_fragment(Some(&fragment));
        }
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, target.to_string())]).into_response()
}

enum LinkOutcome {
    Code(String),
    Session(Value),
}

async fn verify_link_inner(state: &AuthState, client: &Client, query: &VerifyLinkQuery) -> AuthResult<LinkOutcome> {
    state.rate_limit("verify", client, None).await?;
    let kind = query.kind.as_deref().unwrap_or_default();
    let token = query.token.as_deref().filter(|t| !t.is_empty()).ok_or_else(expired)?;
    let mut tx = state.tx("verify an emailed link").await?;
    let verified = match consume(&mut tx, kind, Some(token), None).await {
        Ok(verified) => verified,
        Err(err) => {
            tx.commit().await?;
            return Err(err);
        }
    };
    if let Some(flow) = verified.flow_state {
        let row = tx
            .query_one(
                "update auth.flow_state set auth_code_issued_at = now(), user_id = $2, updated_at = now()
                 where id = $1 returning auth_code",
                &[&flow, &verified.user.id],
            )
            .await?;
        tx.commit().await?;
        return Ok(LinkOutcome::Code(row.get(0)));
    }
    let method = amr_method(method_of(&verified.token_type));
    let session = state.sign_in(&mut tx, &verified.user, method, client).await?;
    tx.commit().await?;
    Ok(LinkOutcome::Session(session))
}
