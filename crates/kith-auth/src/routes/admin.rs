//! The admin API for server-side code: `/admin/users` (list, create, get, update, delete), `/admin/generate_link`
//! and `/invite`, with GoTrue's bodies, headers and errors. Only the service-role key gets in; every call is
//! recorded in `auth.audit_log_entries` with its caller.

use crate::admin::{self, UserParams};
use crate::audit::{self, Actor};
use crate::error::{AuthError, AuthResult};
use crate::mailer::MailKind;
use crate::service::{AuthJson, AuthState, Client, bearer, parse_email};
use crate::store::{self, USER_COLUMNS, User};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kith_db::DbRole;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Checks that the request carries the service-role key, with GoTrue's errors: no token 401 `no_authorization`,
/// a token that does not verify 403 `bad_jwt`, any other caller (a user, the anon key, a user token claiming
/// `service_role`) 403 `not_admin`.
pub(super) fn require_admin(state: &AuthState, headers: &HeaderMap, client: &Client) -> AuthResult<Actor> {
    let token = bearer(headers)?;
    let caller = token.verify(state.verifier()).map_err(|err| {
        tracing::info!(reason = %err, "admin token refused");
        AuthError::bad_jwt(err)
    })?;
    // The service-role key is an API key: signed with the project secret (no `kid`), no subject, no session.
    // A verified token that claims the role but has the shape of a user token is not the key.
    let api_key_shaped = jsonwebtoken::decode_header(token.expose()).is_ok_and(|h| h.kid.is_none())
        && caller.user_id().is_none()
        && caller.session_id().is_none();
    if caller.role() != DbRole::ServiceRole || !api_key_shaped {
        tracing::info!(role = caller.role().as_str(), "admin route refused");
        return Err(AuthError::new(StatusCode::FORBIDDEN, "not_admin", "User not allowed"));
    }
    Ok(Actor::service_role(client.ip))
}

fn parse_user_id(id: &str) -> AuthResult<Uuid> {
    Uuid::parse_str(id)
        .map_err(|_| AuthError::new(StatusCode::NOT_FOUND, "validation_failed", "user_id must be an UUID"))
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
    filter: Option<String>,
}

const MAX_PER_PAGE: i64 = 1000;

fn page_number(name: &str, value: Option<&str>, default: i64) -> AuthResult<i64> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(text) => text.parse::<u32>().map(i64::from).map_err(|err| {
            AuthError::validation(format!(
                "Bad Pagination Parameters: strconv.ParseUint: parsing {text:?}: {err} ({name})"
            ))
        }),
    }
}

/// `GET /admin/users?page=&per_page=&filter=`: `{"users": [...], "aud": "authenticated"}`, newest first, with
/// GoTrue's `X-Total-Count` and `Link` (`rel="next"`, `rel="last"`) headers, which supabase-js reads.
pub(super) async fn list_users(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> AuthResult<Response> {
    let actor = require_admin(&state, &headers, &client)?;
    let page = page_number("page", query.page.as_deref(), 1)?.max(1);
    let per_page = page_number("per_page", query.per_page.as_deref(), 50)?.clamp(1, MAX_PER_PAGE);
    let filter = query
        .filter
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(|f| format!("%{}%", f.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let mut tx = state.tx("admin: list users").await?;
    let total: i64 = tx
        .query_one(
            "select count(*) from auth.users where coalesce(aud, 'authenticated') = 'authenticated'
               and ($1::text is null or email ilike $1 or raw_user_meta_data ->> 'full_name' ilike $1)",
            &[&filter],
        )
        .await?
        .get(0);
    let sql = format!(
        "select {USER_COLUMNS} from auth.users where coalesce(aud, 'authenticated') = 'authenticated'
           and ($1::text is null or email ilike $1 or raw_user_meta_data ->> 'full_name' ilike $1)
         order by created_at desc, id limit $2 offset $3"
    );
    let rows = tx.query(&sql, &[&filter, &per_page, &((page - 1) * per_page)]).await?;
    let mut users = Vec::with_capacity(rows.len());
    for row in &rows {
        let user = User::from_row(row);
        users.push(state.user_json(&mut tx, &user).await?);
    }
    audit::record(
        &mut tx,
        &actor,
        "users_listed",
        json!({"page": page, "per_page": per_page}),
    )
    .await?;
    tx.commit().await?;

    let last_page = ((total + per_page - 1) / per_page).max(0);
    let link = |p: i64| format!("</auth/v1/admin/users?page={p}&per_page={per_page}>");
    let mut links = Vec::new();
    if last_page > page {
        links.push(format!("{}; rel=\"next\"", link(page + 1)));
    }
    links.push(format!("{}; rel=\"last\"", link(last_page)));
    let mut response = Json(json!({"users": users, "aud": "authenticated"})).into_response();
    let response_headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        response_headers.insert("link", value);
    }
    response_headers.insert("x-total-count", HeaderValue::from(total));
    Ok(response)
}

/// `POST /admin/users`: creates a user (200, the user).
pub(super) async fn create_user(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    AuthJson(params): AuthJson<UserParams>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let checked = admin::check(&params, state.settings().min_password_length, true).await?;
    let mut tx = state.tx("admin: create a user").await?;
    let user = admin::create_user(&mut tx, &checked, &actor, false).await?;
    let body = state.user_json(&mut tx, &user).await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// `GET /admin/users/{id}`.
pub(super) async fn get_user(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let id = parse_user_id(&id)?;
    let mut tx = state.tx("admin: read a user").await?;
    let user = admin::load_user(&mut tx, id).await?;
    let body = state.user_json(&mut tx, &user).await?;
    audit::record(&mut tx, &actor, "user_read", json!({"user_id": id})).await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// `PUT /admin/users/{id}`: email, password, metadata, `email_confirm`, `ban_duration` (`"none"` lifts a ban).
pub(super) async fn update_user(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(params): AuthJson<UserParams>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let id = parse_user_id(&id)?;
    let checked = admin::check(&params, state.settings().min_password_length, false).await?;
    let mut tx = state.tx("admin: update a user").await?;
    let user = admin::load_user(&mut tx, id).await?;
    let user = admin::update_user(&mut tx, &user, &checked, &actor).await?;
    let body = state.user_json(&mut tx, &user).await?;
    tx.commit().await?;
    Ok(Json(body))
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct DeleteBody {
    #[serde(default)]
    should_soft_delete: bool,
}

/// `DELETE /admin/users/{id}` (body `{"should_soft_delete": bool}`, optional): 200 `{}`.
pub(super) async fn delete_user(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(body): AuthJson<DeleteBody>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let id = parse_user_id(&id)?;
    let mut tx = state.tx("admin: delete a user").await?;
    let user = admin::load_user(&mut tx, id).await?;
    admin::delete_user(&mut tx, &user, body.should_soft_delete, &actor).await?;
    tx.commit().await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
pub(super) struct RedirectQuery {
    redirect_to: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct GenerateLinkBody {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    email: String,
    new_email: Option<String>,
    password: Option<String>,
    data: Option<Value>,
    redirect_to: Option<String>,
}

/// `POST /admin/generate_link`: creates the one-time token a mail would carry, sends nothing, and answers with
/// the user plus `action_link`, `email_otp`, `hashed_token` (what `verifyOtp({token_hash})` takes),
/// `verification_type` and `redirect_to`, as GoTrue does. A magic link for an unknown address signs it up.
pub(super) async fn generate_link(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
    AuthJson(body): AuthJson<GenerateLinkBody>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let email = parse_email(&body.email)?;
    let redirect_to = query.redirect_to.or(body.redirect_to);
    let data = crate::service::user_metadata(body.data)?;
    let mut kind = body.kind.clone();
    let mut tx = state.tx("admin: generate a link").await?;
    let existing = store::user_by_email(&mut tx, &email).await?;
    if existing.is_none() {
        match kind.as_str() {
            "magiclink" => kind = "signup".to_owned(),
            "recovery" | "email_change_current" | "email_change_new" => {
                return Err(AuthError::new(
                    StatusCode::NOT_FOUND,
                    "user_not_found",
                    "User with this email not found",
                ));
            }
            _ => {}
        }
    }
    let new_user = |password: Option<&str>| admin::UserParams {
        email: Some(email.clone()),
        password: password.map(str::to_owned),
        user_metadata: data.clone(),
        ..UserParams::default()
    };
    let (user, mail_kind, to, action) = match kind.as_str() {
        "signup" => {
            let user = match existing {
                Some(user) if user.email_confirmed_at.is_some() => {
                    return Err(AuthError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "email_exists",
                        "A user with this email address has already been registered",
                    ));
                }
                Some(user) => user,
                None => {
                    let checked = admin::check(
                        &new_user(body.password.as_deref()),
                        state.settings().min_password_length,
                        true,
                    )
                    .await?;
                    admin::create_user(&mut tx, &checked, &actor, false).await?
                }
            };
            (
                user,
                MailKind::Confirmation,
                email.clone(),
                "user_confirmation_requested",
            )
        }
        "invite" => {
            let user = match existing {
                Some(user) if user.email_confirmed_at.is_some() => {
                    return Err(AuthError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "email_exists",
                        "A user with this email address has already been registered",
                    ));
                }
                Some(user) => user,
                None => {
                    let checked = admin::check(&new_user(None), state.settings().min_password_length, true).await?;
                    admin::create_user(&mut tx, &checked, &actor, true).await?
                }
            };
            (user, MailKind::Invite, email.clone(), "user_invited")
        }
        "magiclink" | "recovery" => {
            let user = existing.ok_or_else(|| AuthError::unexpected(&"user vanished"))?;
            let mail_kind = if kind == "magiclink" {
                MailKind::MagicLink
            } else {
                MailKind::Recovery
            };
            (user, mail_kind, email.clone(), "user_recovery_requested")
        }
        "email_change_current" | "email_change_new" => {
            let user = existing.ok_or_else(|| AuthError::unexpected(&"user vanished"))?;
            let new_email = parse_email(body.new_email.as_deref().unwrap_or_default())?;
            if let Some(other) = store::user_by_email(&mut tx, &new_email).await?
                && other.id != user.id
            {
                return Err(AuthError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "email_exists",
                    "A user with this email address has already been registered",
                ));
            }
            tx.query(
                "update auth.users set email_change = $2, email_change_sent_at = now(), updated_at = now()
                 where id = $1",
                &[&user.id, &new_email],
            )
            .await?;
            (user, MailKind::EmailChange, new_email, "user_modified")
        }
        other => {
            return Err(AuthError::validation(format!(
                "Invalid email action link type requested: {other}"
            )));
        }
    };
    let issued = state
        .issue_link(&mut tx, user.id, mail_kind, &to, None, redirect_to.as_deref())
        .await?;
    match mail_kind {
        MailKind::Confirmation | MailKind::Invite => {
            tx.query(
                "update auth.users set confirmation_sent_at = now(),
                        invited_at = case when $2 then now() else invited_at end where id = $1",
                &[&user.id, &(mail_kind == MailKind::Invite)],
            )
            .await?;
        }
        MailKind::Recovery | MailKind::MagicLink => {
            tx.query(
                "update auth.users set recovery_sent_at = now() where id = $1",
                &[&user.id],
            )
            .await?;
        }
        _ => {}
    }
    audit::record(
        &mut tx,
        &actor,
        action,
        json!({"user_id": user.id, "user_email": user.email, "link_type": kind}),
    )
    .await?;
    let user = admin::load_user(&mut tx, user.id).await?;
    let mut response = state.user_json(&mut tx, &user).await?;
    tx.commit().await?;
    response["action_link"] = json!(issued.link.as_str());
    response["email_otp"] = json!(issued.code);
    response["hashed_token"] = json!(issued.token);
    response["verification_type"] = json!(kind);
    response["redirect_to"] = json!(issued.redirect_to.as_str());
    tracing::info!(user_id = %user.id, link_type = %kind, "admin generated a link");
    Ok(Json(response))
}

#[derive(Debug, Deserialize)]
pub(super) struct InviteBody {
    #[serde(default)]
    email: String,
    data: Option<Value>,
}

/// `POST /invite` (`auth.admin.inviteUserByEmail`): creates the user (or re-invites one who has not accepted)
/// and mails an invite link; 422 `email_exists` for a confirmed address.
pub(super) async fn invite(
    State(state): State<AuthState>,
    client: Client,
    headers: HeaderMap,
    Query(query): Query<RedirectQuery>,
    AuthJson(body): AuthJson<InviteBody>,
) -> AuthResult<Json<Value>> {
    let actor = require_admin(&state, &headers, &client)?;
    let email = parse_email(&body.email)?;
    let data = crate::service::user_metadata(body.data)?;
    let mut tx = state.tx("admin: invite a user").await?;
    let user = match store::user_by_email(&mut tx, &email).await? {
        Some(user) if user.email_confirmed_at.is_some() => {
            return Err(AuthError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "email_exists",
                "A user with this email address has already been registered",
            ));
        }
        Some(user) => {
            audit::record(
                &mut tx,
                &actor,
                "user_invited",
                json!({"user_id": user.id, "user_email": email}),
            )
            .await?;
            user
        }
        None => {
            let params = UserParams {
                email: Some(email.clone()),
                user_metadata: data,
                ..UserParams::default()
            };
            let checked = admin::check(&params, state.settings().min_password_length, true).await?;
            admin::create_user(&mut tx, &checked, &actor, true).await?
        }
    };
    let mail = state
        .link_mail(
            &mut tx,
            user.id,
            MailKind::Invite,
            &email,
            None,
            query.redirect_to.as_deref(),
        )
        .await?;
    tx.query(
        "update auth.users set invited_at = now(), confirmation_sent_at = now(), updated_at = now() where id = $1",
        &[&user.id],
    )
    .await?;
    let user = admin::load_user(&mut tx, user.id).await?;
    let body = state.user_json(&mut tx, &user).await?;
    state.commit_and_send(tx, Some(mail)).await?;
    Ok(Json(body))
}
