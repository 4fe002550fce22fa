//! MFA with TOTP, as Supabase Auth serves it to `supabase.auth.mfa.*`: `POST /factors` (enroll),
//! `POST /factors/{id}/challenge`, `POST /factors/{id}/verify` (a new session at `aal2`), `DELETE /factors/{id}`
//! (unenroll), and for admins `GET /admin/users/{id}/factors` and `DELETE /admin/users/{id}/factors/{factor_id}`
//! (recovery for a user who lost their device). A code is accepted once (its time step is remembered), failed
//! codes lock the factor for a while, and every step is audited.

use super::admin::require_admin;
use crate::admin as accounts;
use crate::audit::{self, Actor};
use crate::error::{AuthError, AuthResult};
use crate::mfa;
use crate::service::{AuthJson, AuthState, Client, current_user};
use crate::store::{self, Session, User};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use kith_db::CallerTx;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr};
use uuid::Uuid;

/// How long a challenge may be verified (Supabase Auth's default).
const CHALLENGE_EXPIRY_SECS: i64 = 300;
/// Unverified factors older than this are dropped at the next enrolment (Supabase Auth's default).
const UNVERIFIED_FACTOR_EXPIRY_SECS: f64 = 300.0;
/// Factors a user may have (Supabase Auth's default).
const MAX_FACTORS: i64 = 10;
/// Wrong codes in a row before a factor is locked.
const MAX_FAILED_ATTEMPTS: i32 = 5;
/// How long a locked factor refuses codes.
const LOCKOUT_SECS: f64 = 300.0;

/// The signed-in user and their session, which MFA endpoints need (403 `session_not_found` without one).
async fn signed_in(state: &AuthState, tx: &mut CallerTx, headers: &HeaderMap) -> AuthResult<(User, Session)> {
    let current = current_user(state, tx, headers).await?;
    let missing = || {
        AuthError::new(
            StatusCode::FORBIDDEN,
            "session_not_found",
            "Session from session_id claim in JWT does not exist",
        )
    };
    let session_id = current.session_id.ok_or_else(missing)?;
    let session = store::session_for_update(tx, session_id).await?.ok_or_else(missing)?;
    Ok((current.user, session))
}

/// A row of `auth.mfa_factors`.
struct Factor {
    id: Uuid,
    friendly_name: Option<String>,
    factor_type: String,
    status: String,
    secret: Option<String>,
    last_used_step: Option<i64>,
    locked_until: Option<DateTime<Utc>>,
}

impl Factor {
    fn verified(&self) -> bool {
        self.status == "verified"
    }
}

fn parse_factor_id(id: &str) -> AuthResult<Uuid> {
    Uuid::parse_str(id)
        .map_err(|_| AuthError::new(StatusCode::NOT_FOUND, "validation_failed", "factor_id must be an UUID"))
}

/// The user's factor `id`, locked for update (404 `mfa_factor_not_found` when it is not theirs).
async fn owned_factor(tx: &mut CallerTx, user_id: Uuid, id: &str) -> AuthResult<Factor> {
    let id = parse_factor_id(id)?;
    let row = tx
        .query_opt(
            "select id, friendly_name, factor_type, status, secret, last_used_step, locked_until
               from auth.mfa_factors where id = $1 and user_id = $2 for update",
            &[&id, &user_id],
        )
        .await?
        .ok_or_else(|| AuthError::new(StatusCode::NOT_FOUND, "mfa_factor_not_found", "Factor not found"))?;
    Ok(Factor {
        id: row.get(0),
        friendly_name: row.get(1),
        factor_type: row.get(2),
        status: row.get(3),
        secret: row.get(4),
        last_used_step: row.get(5),
        locked_until: row.get(6),
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct EnrollBody {
    #[serde(default)]
    factor_type: String,
    friendly_name: Option<String>,
    issuer: Option<String>,
}

/// `POST /factors` (`mfa.enroll({factorType: 'totp', friendlyName, issuer})`): an unverified factor and what an
/// authenticator app needs. `totp.qr_code` is the SVG document itself; supabase-js turns it into a data URI.
pub(super) async fn enroll(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    AuthJson(body): AuthJson<EnrollBody>,
) -> AuthResult<Json<Value>> {
    match body.factor_type.as_str() {
        "totp" => {}
        "phone" => {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mfa_phone_enroll_not_enabled",
                "MFA enroll is disabled for Phone",
            ));
        }
        "webauthn" => {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "mfa_webauthn_enroll_not_enabled",
                "MFA enroll is disabled for WebAuthn",
            ));
        }
        _ => {
            return Err(AuthError::validation(
                "factor_type needs to be totp, phone, or webauthn",
            ));
        }
    }
    let friendly_name = body.friendly_name.unwrap_or_default();
    if friendly_name.chars().count() > 255 {
        return Err(AuthError::validation("friendly_name is too long"));
    }
    let issuer = match body.issuer.filter(|i| !i.is_empty()) {
        Some(issuer) => issuer,
        None => state.settings().site_url.host_str().unwrap_or("kith").to_owned(),
    };
    if issuer.contains(':') || issuer.chars().count() > 255 || issuer.chars().any(char::is_control) {
        return Err(AuthError::validation("issuer must not contain ':'"));
    }
    let mut tx = state.tx("enroll an MFA factor").await?;
    let (user, session) = signed_in(&state, &mut tx, &headers).await?;
    tx.query(
        "delete from auth.mfa_factors where user_id = $1 and status = 'unverified'
            and created_at < now() - make_interval(secs => $2)",
        &[&user.id, &UNVERIFIED_FACTOR_EXPIRY_SECS],
    )
    .await?;
    let row = tx
        .query_one(
            "select count(*), count(*) filter (where status = 'verified'),
                    count(*) filter (where $2 <> '' and friendly_name = $2)
               from auth.mfa_factors where user_id = $1",
            &[&user.id, &friendly_name],
        )
        .await?;
    let (count, verified, same_name): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    if same_name > 0 {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mfa_factor_name_conflict",
            format!("A factor with the friendly name {friendly_name:?} for this user already exists"),
        ));
    }
    if count >= MAX_FACTORS {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_many_enrolled_mfa_factors",
            "Maximum number of verified factors reached, unenroll to continue",
        ));
    }
    if verified > 0 && session.aal != "aal2" {
        return Err(AuthError::new(
            StatusCode::FORBIDDEN,
            "insufficient_aal",
            "AAL2 required to enroll a new factor",
        ));
    }
    let factor_id = Uuid::new_v4();
    let secret = mfa::new_secret();
    let account = user.email.clone().unwrap_or_default();
    let enrolment = mfa::enrolment(&secret, &issuer, &account).map_err(|err| {
        tracing::error!(error = %err, "QR code generation failed");
        AuthError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_failure",
            "Error generating QR Code",
        )
    })?;
    let sealed = state
        .mfa_box()
        .seal(factor_id, &secret)
        .map_err(|err| AuthError::unexpected(&err))?;
    tx.query(
        "insert into auth.mfa_factors (id, user_id, friendly_name, factor_type, status, secret)
         values ($1, $2, $3, 'totp', 'unverified', $4)",
        &[&factor_id, &user.id, &friendly_name, &sealed],
    )
    .await?;
    let actor = Actor::user(user.id, user.email.as_deref(), client.ip);
    audit::record(&mut tx, &actor, "factor_in_progress", json!({"factor_id": factor_id})).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, factor_id = %factor_id, "MFA factor enrolment started");
    Ok(Json(json!({
        "id": factor_id, "type": "totp", "friendly_name": friendly_name,
        "totp": {"qr_code": enrolment.qr_svg, "secret": enrolment.secret, "uri": enrolment.uri},
    })))
}

/// `POST /factors/{id}/challenge`: `{id, type, expires_at}`; the challenge is bound to the client's address.
pub(super) async fn challenge(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(_body): AuthJson<Value>,
) -> AuthResult<Json<Value>> {
    state.rate_limit("mfa_challenge", &client, None).await?;
    let mut tx = state.tx("challenge an MFA factor").await?;
    let (user, _) = signed_in(&state, &mut tx, &headers).await?;
    let factor = owned_factor(&mut tx, user.id, &id).await?;
    if factor.factor_type != "totp" {
        return Err(AuthError::validation(
            "factor_type needs to be totp, phone, or webauthn",
        ));
    }
    let ip = client.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let row = tx
        .query_one(
            "insert into auth.mfa_challenges (factor_id, ip_address) values ($1, $2) returning id, created_at",
            &[&factor.id, &ip],
        )
        .await?;
    let (challenge_id, created_at): (Uuid, DateTime<Utc>) = (row.get(0), row.get(1));
    tx.query(
        "update auth.mfa_factors set last_challenged_at = now(), updated_at = now() where id = $1",
        &[&factor.id],
    )
    .await?;
    let actor = Actor::user(user.id, user.email.as_deref(), client.ip);
    audit::record(
        &mut tx,
        &actor,
        "challenge_created",
        json!({"factor_id": factor.id, "factor_status": factor.status}),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(json!({
        "id": challenge_id, "type": factor.factor_type,
        "expires_at": created_at.timestamp() + CHALLENGE_EXPIRY_SECS,
    })))
}

#[derive(Debug, Deserialize)]
pub(super) struct VerifyBody {
    challenge_id: Option<String>,
    #[serde(default)]
    code: String,
}

fn verification_failed() -> AuthError {
    AuthError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "mfa_verification_failed",
        "Invalid TOTP code entered",
    )
}

/// `POST /factors/{id}/verify`: checks the code against the challenge and answers with the session raised to
/// `aal2` (amr `totp` first, then the earlier methods), as Supabase Auth does. The first verification also
/// verifies the factor; other `aal1` sessions of the user end, and other unverified TOTP factors are dropped.
pub(super) async fn verify(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(body): AuthJson<VerifyBody>,
) -> AuthResult<Json<Value>> {
    if body.code.is_empty() {
        return Err(AuthError::validation("Code needs to be non-empty"));
    }
    let mut tx = state.tx("verify an MFA factor").await?;
    let (user, session) = signed_in(&state, &mut tx, &headers).await?;
    state
        .rate_limit("mfa_verify", &client, Some(&user.id.to_string()))
        .await?;
    let factor = owned_factor(&mut tx, user.id, &id).await?;
    let actor = Actor::user(user.id, user.email.as_deref(), client.ip);
    let not_found = || {
        AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mfa_factor_not_found",
            "MFA factor with the provided challenge ID not found",
        )
    };
    let challenge_id = body
        .challenge_id
        .as_deref()
        .and_then(|c| Uuid::parse_str(c).ok())
        .ok_or_else(not_found)?;
    let challenge = tx
        .query_opt(
            "select verified_at is not null, ip_address, created_at + make_interval(secs => $3) < now()
               from auth.mfa_challenges where id = $1 and factor_id = $2 for update",
            &[&challenge_id, &factor.id, &(CHALLENGE_EXPIRY_SECS as f64)],
        )
        .await?
        .ok_or_else(not_found)?;
    let (used, challenge_ip, expired): (bool, IpAddr, bool) = (challenge.get(0), challenge.get(1), challenge.get(2));
    let ip = client.ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if used || challenge_ip != ip {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mfa_ip_address_mismatch",
            "Challenge and verify IP addresses mismatch.",
        ));
    }
    if expired {
        tx.query("delete from auth.mfa_challenges where id = $1", &[&challenge_id])
            .await?;
        tx.commit().await?;
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "mfa_challenge_expired",
            format!(
                "MFA challenge {challenge_id} has expired, verify against another challenge or create a new challenge."
            ),
        ));
    }
    if let Some(until) = factor.locked_until.filter(|until| *until > Utc::now()) {
        let seconds = (until - Utc::now()).num_seconds().max(1);
        tracing::info!(user_id = %user.id, factor_id = %factor.id, "MFA verification refused: factor locked");
        return Err(AuthError::rate_limited(seconds as u64));
    }
    let secret = factor
        .secret
        .as_deref()
        .ok_or_else(|| AuthError::unexpected(&"TOTP factor without a secret"))
        .and_then(|sealed| {
            state
                .mfa_box()
                .open(factor.id, sealed)
                .map_err(|err| AuthError::unexpected(&err))
        })?;
    let now = u64::try_from(Utc::now().timestamp()).unwrap_or_default();
    let step = mfa::matching_step(&secret, body.code.trim(), now)
        .and_then(|s| i64::try_from(s).ok())
        .filter(|s| factor.last_used_step.is_none_or(|used| *s > used));
    let Some(step) = step else {
        // Count the miss and commit it, whatever the answer: a failed guess must cost something.
        tx.query(
            "update auth.mfa_factors set
                    locked_until = case when failed_attempts + 1 >= $2 then now() + make_interval(secs => $3)
                                        else locked_until end,
                    failed_attempts = case when failed_attempts + 1 >= $2 then 0 else failed_attempts + 1 end,
                    updated_at = now()
              where id = $1",
            &[&factor.id, &MAX_FAILED_ATTEMPTS, &LOCKOUT_SECS],
        )
        .await?;
        audit::record(
            &mut tx,
            &actor,
            "verification_attempted",
            json!({"factor_id": factor.id, "challenge_id": challenge_id, "factor_type": "totp", "success": false}),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(user_id = %user.id, factor_id = %factor.id, reason = "mfa_verification_failed", "MFA verification failed");
        return Err(verification_failed());
    };
    tx.query(
        "update auth.mfa_challenges set verified_at = now() where id = $1",
        &[&challenge_id],
    )
    .await?;
    tx.query(
        "update auth.mfa_factors set status = 'verified', last_used_step = $2, failed_attempts = 0,
                locked_until = null, updated_at = now() where id = $1",
        &[&factor.id, &step],
    )
    .await?;
    let row = tx
        .query_one(
            "update auth.sessions set aal = 'aal2', factor_id = $2, updated_at = now(),
                    amr = jsonb_build_array(jsonb_build_object('method', 'totp', 'timestamp', $3::bigint))
                          || coalesce((select jsonb_agg(e) from jsonb_array_elements(amr) e
                                        where e ->> 'method' <> 'totp'), '[]'::jsonb)
              where id = $1 returning id, user_id, amr, aal, not_after",
            &[&session.id, &factor.id, &Utc::now().timestamp()],
        )
        .await?;
    let upgraded = Session {
        id: row.get("id"),
        user_id: row.get("user_id"),
        amr: row.get("amr"),
        aal: row.get("aal"),
        not_after: row.get("not_after"),
    };
    tx.query(
        "delete from auth.sessions where user_id = $1 and id <> $2 and aal = 'aal1'",
        &[&user.id, &session.id],
    )
    .await?;
    tx.query(
        "delete from auth.mfa_factors where user_id = $1 and factor_type = 'totp' and status = 'unverified'
            and id <> $2",
        &[&user.id, &factor.id],
    )
    .await?;
    audit::record(
        &mut tx,
        &actor,
        "verification_attempted",
        json!({"factor_id": factor.id, "challenge_id": challenge_id, "factor_type": "totp", "success": true}),
    )
    .await?;
    // The session continues with a new refresh token; the one it replaces stays its parent, so a client that
    // retries with it gets the same session back (the refresh rules' "parent of the active token").
    let parent = store::active_refresh_token(&mut tx, session.id)
        .await?
        .map(|(hash, _)| hash);
    if let Some(parent) = &parent {
        store::revoke_refresh_token(&mut tx, parent).await?;
    }
    let refresh = store::issue_refresh_token(&mut tx, &upgraded, parent.as_deref()).await?;
    let user = store::user_by_id(&mut tx, user.id)
        .await?
        .ok_or_else(|| AuthError::unexpected(&"user vanished"))?;
    let body = state.session_response(&mut tx, &user, &upgraded, refresh).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, factor_id = %factor.id, session_id = %session.id, "MFA verified: session at aal2");
    Ok(Json(body))
}

/// Downgrades the sessions that `factor_id` raised to `aal2` (their `totp` amr entry goes too).
async fn downgrade_sessions(tx: &mut CallerTx, factor_id: Uuid) -> AuthResult<()> {
    tx.query(
        "update auth.sessions set aal = 'aal1', factor_id = null, updated_at = now(),
                amr = coalesce((select jsonb_agg(e) from jsonb_array_elements(amr) e where e ->> 'method' <> 'totp'),
                               '[]'::jsonb)
          where factor_id = $1",
        &[&factor_id],
    )
    .await?;
    Ok(())
}

/// `DELETE /factors/{id}` (`mfa.unenroll`): a verified factor needs an `aal2` session; answers `{id}`.
pub(super) async fn unenroll(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AuthResult<Json<Value>> {
    let mut tx = state.tx("unenroll an MFA factor").await?;
    let (user, session) = signed_in(&state, &mut tx, &headers).await?;
    let factor = owned_factor(&mut tx, user.id, &id).await?;
    if factor.verified() && session.aal != "aal2" {
        return Err(AuthError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "insufficient_aal",
            "AAL2 required to unenroll verified factor",
        ));
    }
    downgrade_sessions(&mut tx, factor.id).await?;
    tx.query("delete from auth.mfa_factors where id = $1", &[&factor.id])
        .await?;
    let actor = Actor::user(user.id, user.email.as_deref(), client.ip);
    audit::record(
        &mut tx,
        &actor,
        "factor_unenrolled",
        json!({"factor_id": factor.id, "factor_status": factor.status, "session_id": session.id}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, factor_id = %factor.id, "MFA factor unenrolled");
    Ok(Json(json!({ "id": factor.id })))
}

/// `GET /admin/users/{id}/factors` (`auth.admin.mfa.listFactors`): the user's factors.
pub(super) async fn admin_list(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path(user_id): Path<String>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let user_id = Uuid::parse_str(&user_id)
        .map_err(|_| AuthError::new(StatusCode::NOT_FOUND, "validation_failed", "user_id must be an UUID"))?;
    let mut tx = state.tx("admin: list MFA factors").await?;
    let user = accounts::load_user(&mut tx, user_id).await?;
    let factors = store::factors(&mut tx, user.id).await?;
    audit::record(&mut tx, &actor, "factors_listed", json!({"user_id": user.id})).await?;
    tx.commit().await?;
    Ok(Json(Value::Array(factors)))
}

/// `DELETE /admin/users/{id}/factors/{factor_id}` (`auth.admin.mfa.deleteFactor`): recovery for a user who lost
/// their authenticator. Their sessions raised by it drop to `aal1`. Answers the deleted factor.
pub(super) async fn admin_delete(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path((user_id, factor_id)): Path<(String, String)>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let user_id = Uuid::parse_str(&user_id)
        .map_err(|_| AuthError::new(StatusCode::NOT_FOUND, "validation_failed", "user_id must be an UUID"))?;
    let mut tx = state.tx("admin: delete an MFA factor").await?;
    let user = accounts::load_user(&mut tx, user_id).await?;
    let factor = owned_factor(&mut tx, user.id, &factor_id).await?;
    let body = store::factors(&mut tx, user.id)
        .await?
        .into_iter()
        .find(|f| f["id"] == json!(factor.id))
        .unwrap_or_else(|| json!({"id": factor.id}));
    downgrade_sessions(&mut tx, factor.id).await?;
    tx.query("delete from auth.mfa_factors where id = $1", &[&factor.id])
        .await?;
    audit::record(
        &mut tx,
        &actor,
        "factor_deleted",
        json!({"user_id": user.id, "factor_id": factor.id, "friendly_name": factor.friendly_name}),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, factor_id = %factor.id, "MFA factor deleted by an admin");
    Ok(Json(body))
}
