//! Organizations, members and invitations. Creating an organization runs as the caller (no service role): the
//! insert policy lets anyone signed in create one, and a trigger makes them its owner and adds a default workspace,
//! all in the request's one transaction.

use crate::context::{OrgRole, insufficient_role, open_org};
use crate::error::ResultExt;
use crate::input;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, response::IntoResponse};
use chrono::{DateTime, Duration, Utc};
use kith_db::Access;
use kith_db::tokio_postgres::Row;
use kith_db::tokio_postgres::error::SqlState;
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use kith_mail::{Mail, MailKind, Mailer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use uuid::Uuid;

/// An organization as the caller sees it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Organization {
    id: Uuid,
    name: String,
    slug: String,
    role: OrgRole,
    created_at: DateTime<Utc>,
}

fn organization(row: &Row) -> ApiResult<Organization> {
    let role: String = row.get("role");
    Ok(Organization {
        id: row.get("id"),
        name: row.get("name"),
        slug: row.get("slug"),
        role: OrgRole::parse(&role).ok_or_else(|| ApiError::internal(&"unknown role in the database"))?,
        created_at: row.get("created_at"),
    })
}

const ORG_SELECT: &str = "select o.id, o.name, o.slug, uo.role::text as role, o.created_at
    from public.organizations o join public.user_organizations uo on uo.org_id = o.id and uo.user_id = $1";

/// `GET /api/organizations`.
pub async fn list(State(state): State<AppState>, user: AuthUser) -> ApiResult<Json<Vec<Organization>>> {
    let rows = state
        .db
        .read_as(
            &user.caller,
            &format!("{ORG_SELECT} order by o.created_at, o.id"),
            &[&user.user_id],
        )
        .await?;
    Ok(Json(rows.iter().map(organization).collect::<ApiResult<_>>()?))
}

/// `POST /api/organizations` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    name: Option<String>,
    /// Lower-case letters, digits and dashes; derived from the name when absent.
    #[schema(max_length = 64, pattern = "^([a-z0-9]+(-[a-z0-9]+)*)?$")]
    slug: Option<String>,
}

fn slug(raw: Option<String>) -> ApiResult<Option<String>> {
    let Some(slug) = input::text("slug", raw, 64, false)? else {
        return Ok(None);
    };
    let valid = slug
        .split('-')
        .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    if valid {
        Ok(Some(slug))
    } else {
        Err(ApiError::validation(
            "slug",
            "must be lowercase letters and digits separated by single hyphens",
        ))
    }
}

/// `POST /api/organizations`: 201 with the organization; the caller is its owner.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NewOrganization>,
) -> ApiResult<impl IntoResponse> {
    let created = create_as(&state.db, &user.caller, body.name, body.slug).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Creates an organization named `name` as the caller, who becomes its owner (with a default workspace): what
/// `POST /api/organizations` and the dashboard's first step both do.
pub async fn create_as(
    db: &kith_db::Db,
    caller: &kith_db::Caller,
    name: Option<String>,
    slug_raw: Option<String>,
) -> ApiResult<Organization> {
    let user_id = caller.user_id().ok_or_else(ApiError::missing_token)?;
    let name = input::required_text("name", name, 200)?;
    let slug = slug(slug_raw)?;
    let id = Uuid::new_v4();
    let mut tx = db.begin_as(caller, Access::ReadWrite).await?;
    // No RETURNING: the row becomes visible to its creator only once the trigger has made them its owner.
    tx.query(
        "insert into public.organizations (id, name, slug) values ($1, $2, $3)",
        &[&id, &name, &slug],
    )
    .await?;
    let row = tx
        .query_one(&format!("{ORG_SELECT} where o.id = $2"), &[&user_id, &id])
        .await?;
    tx.commit().await?;
    tracing::info!(%user_id, org_id = %id, "organization created");
    organization(&row)
}

/// `PATCH /api/organizations/{org_id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationPatch {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 200)]
    name: Option<String>,
}

/// `PATCH /api/organizations/{org_id}` (owners): rename.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<OrganizationPatch>,
) -> ApiResult<Json<Organization>> {
    let org_id = org_id(&org)?;
    let name = input::required_text("name", body.name, 200)?;
    let (mut tx, _) = open_org(&state.db, &user, org_id, Access::ReadWrite, OrgRole::Owner).await?;
    tx.query(
        "update public.organizations set name = $2 where id = $1",
        &[&org_id, &name],
    )
    .await?;
    let row = tx
        .query_one(&format!("{ORG_SELECT} where o.id = $2"), &[&user.user_id, &org_id])
        .await?;
    tx.commit().await?;
    Ok(Json(organization(&row)?))
}

/// `DELETE /api/organizations/{org_id}` (owners): the organization and everything in it.
pub async fn remove(State(state): State<AppState>, user: AuthUser, Path(org): Path<String>) -> ApiResult<StatusCode> {
    let org_id = org_id(&org)?;
    let (mut tx, _) = open_org(&state.db, &user, org_id, Access::ReadWrite, OrgRole::Owner).await?;
    let rows = tx
        .query(
            "delete from public.organizations where id = $1 returning id",
            &[&org_id],
        )
        .await?;
    if rows.is_empty() {
        return Err(ApiError::not_found());
    }
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, %org_id, "organization deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A member of an organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Member {
    user_id: Uuid,
    email: Option<String>,
    full_name: Option<String>,
    role: String,
    created_at: DateTime<Utc>,
}

fn ids(path: &(String, String)) -> ApiResult<(Uuid, Uuid)> {
    let org_id = Uuid::parse_str(&path.0).map_err(|_| ApiError::validation("org_id", "must be a UUID"))?;
    let id = input::path_id(&path.1)?;
    Ok((org_id, id))
}

fn org_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw).map_err(|_| ApiError::validation("org_id", "must be a UUID"))
}

const MEMBER_SELECT: &str = "select uo.user_id, p.email, p.full_name, uo.role::text as role, uo.created_at
    from public.user_organizations uo left join public.profiles p on p.id = uo.user_id";

fn member(row: &Row) -> Member {
    Member {
        user_id: row.get("user_id"),
        email: row.get("email"),
        full_name: row.get("full_name"),
        role: row.get("role"),
        created_at: row.get("created_at"),
    }
}

/// `GET /api/organizations/{org_id}/members`.
pub async fn members(
    State(state): State<AppState>,
    user: AuthUser,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Member>>> {
    let org_id = org_id(&org)?;
    let (mut tx, _) = open_org(&state.db, &user, org_id, Access::ReadOnly, OrgRole::Viewer).await?;
    let rows = tx
        .query(
            &format!("{MEMBER_SELECT} where uo.org_id = $1 order by uo.created_at, uo.user_id"),
            &[&org_id],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(rows.iter().map(member).collect()))
}

/// `PATCH /api/organizations/{org_id}/members/{user_id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleChange {
    role: OrgRole,
}

/// The trigger's check that an organization keeps an owner.
const LAST_OWNER: &str = "last_owner";

fn last_owner() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        "An organization must keep at least one owner",
    )
}

/// `PATCH /api/organizations/{org_id}/members/{user_id}`: admins change viewers and members (to at most member);
/// owners change anyone; the last owner stays an owner.
pub async fn change_role(
    State(state): State<AppState>,
    user: AuthUser,
    Path(path): Path<(String, String)>,
    ApiJson(body): ApiJson<RoleChange>,
) -> ApiResult<Json<Member>> {
    let (org_id, member_id) = ids(&path)?;
    let (mut tx, ctx) = open_org(&state.db, &user, org_id, Access::ReadWrite, OrgRole::Admin).await?;
    let current = tx
        .query_opt(
            "select role::text as role from public.user_organizations where org_id = $1 and user_id = $2",
            &[&org_id, &member_id],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    let current = OrgRole::parse(&current.get::<_, String>("role")).unwrap_or(OrgRole::Owner);
    if ctx.role < OrgRole::Owner && (current > OrgRole::Member || body.role > OrgRole::Member) {
        return Err(insufficient_role(OrgRole::Owner));
    }
    tx.query(
        "update public.user_organizations set role = $3::text::public.org_role where org_id = $1 and user_id = $2",
        &[&org_id, &member_id, &body.role.as_str()],
    )
    .await
    .on_constraint(LAST_OWNER, last_owner)?;
    let row = tx
        .query_one(
            &format!("{MEMBER_SELECT} where uo.org_id = $1 and uo.user_id = $2"),
            &[&org_id, &member_id],
        )
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, %org_id, member_id = %member_id, role = body.role.as_str(), "member role changed");
    Ok(Json(member(&row)))
}

/// `DELETE /api/organizations/{org_id}/members/{user_id}`: admins remove viewers and members, owners anyone,
/// anyone themselves; never the last owner.
pub async fn remove_member(
    State(state): State<AppState>,
    user: AuthUser,
    Path(path): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (org_id, member_id) = ids(&path)?;
    let (mut tx, ctx) = open_org(&state.db, &user, org_id, Access::ReadWrite, OrgRole::Viewer).await?;
    let current = tx
        .query_opt(
            "select role::text as role from public.user_organizations where org_id = $1 and user_id = $2",
            &[&org_id, &member_id],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    let current = OrgRole::parse(&current.get::<_, String>("role")).unwrap_or(OrgRole::Owner);
    if member_id != user.user_id {
        if ctx.role < OrgRole::Admin {
            return Err(insufficient_role(OrgRole::Admin));
        }
        if ctx.role < OrgRole::Owner && current > OrgRole::Member {
            return Err(insufficient_role(OrgRole::Owner));
        }
    }
    tx.query(
        "delete from public.user_organizations where org_id = $1 and user_id = $2",
        &[&org_id, &member_id],
    )
    .await
    .on_constraint(LAST_OWNER, last_owner)?;
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, %org_id, member_id = %member_id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}

/// How long an invitation stays valid.
const INVITATION_DAYS: i64 = 7;

fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn invitation(row: &Row) -> Value {
    json!({
        "id": row.get::<_, Uuid>("id"),
        "org_id": row.get::<_, Uuid>("org_id"),
        "email": row.get::<_, String>("email"),
        "role": row.get::<_, String>("role"),
        "expires_at": row.get::<_, DateTime<Utc>>("expires_at"),
        "accepted_at": row.get::<_, Option<DateTime<Utc>>>("accepted_at"),
        "created_at": row.get::<_, DateTime<Utc>>("created_at"),
    })
}

const INVITATION_COLUMNS: &str = "id, org_id, email, role::text as role, expires_at, accepted_at, created_at";

/// `GET /api/organizations/{org_id}/invitations` (admins).
pub async fn list_invitations(
    State(state): State<AppState>,
    user: AuthUser,
    Path(org): Path<String>,
) -> ApiResult<Json<Vec<Value>>> {
    let org_id = org_id(&org)?;
    let (mut tx, _) = open_org(&state.db, &user, org_id, Access::ReadOnly, OrgRole::Admin).await?;
    let rows = tx
        .query(
            &format!("select {INVITATION_COLUMNS} from public.invitations where org_id = $1 order by created_at desc"),
            &[&org_id],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(rows.iter().map(invitation).collect()))
}

/// `POST /api/organizations/{org_id}/invitations` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInvitation {
    /// An email address, checked as the auth service checks addresses (lower-cased).
    #[schema(value_type = String, required = true, min_length = 1, max_length = 255)]
    email: Option<String>,
    /// Defaults to `member`.
    #[serde(default)]
    role: Option<OrgRole>,
}

/// `POST /api/organizations/{org_id}/invitations`: 201 with the invitation and its token, shown this once (only
/// its SHA-256 is stored). Admins invite viewers and members; owners also admins and owners.
pub async fn invite(
    State(state): State<AppState>,
    State(mail): State<Arc<InvitationMail>>,
    user: AuthUser,
    Path(org): Path<String>,
    ApiJson(body): ApiJson<NewInvitation>,
) -> ApiResult<impl IntoResponse> {
    let org_id = org_id(&org)?;
    let email = input::email("email", body.email)?.ok_or_else(|| ApiError::validation("email", "is required"))?;
    let role = body.role.unwrap_or(OrgRole::Member);
    let (mut tx, ctx) = open_org(&state.db, &user, org_id, Access::ReadWrite, OrgRole::Admin).await?;
    if role > OrgRole::Member && ctx.role < OrgRole::Owner {
        return Err(insufficient_role(OrgRole::Owner));
    }
    let token = hex(&rand::random::<[u8; 32]>());
    let expires_at = Utc::now() + Duration::days(INVITATION_DAYS);
    let row = tx
        .query_one(
            &format!(
                "insert into public.invitations (id, org_id, email, role, token_hash, expires_at)
                 values ($1, $2, $3, $4::text::public.org_role, $5, $6) returning {INVITATION_COLUMNS}"
            ),
            &[
                &Uuid::new_v4(),
                &org_id,
                &email,
                &role.as_str(),
                &hash_token(&token),
                &expires_at,
            ],
        )
        .await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.user_id, %org_id, "invitation created");
    // The invitation stands even if delivery fails: the token is in the answer for the admin to pass on.
    if let Err(err) = mail.send(&email, &token).await {
        tracing::error!(error = %err, %org_id, "invitation mail failed");
    }
    let mut body = invitation(&row);
    body["token"] = json!(token);
    Ok((StatusCode::CREATED, Json(body)))
}

/// Sends invitations through the auth service's mailer (SMTP or the outbox folder).
#[derive(Debug, Clone)]
pub struct InvitationMail {
    /// The mailer.
    pub mailer: Mailer,
    /// The public URL the accept link points at.
    pub site_url: url::Url,
}

impl InvitationMail {
    async fn send(&self, to: &str, token: &str) -> Result<(), kith_mail::MailError> {
        let mut link = self
            .site_url
            .join("invitations/accept")
            .map_err(|err| kith_mail::MailError::Setting(err.to_string()))?;
        link.query_pairs_mut().append_pair("token", token);
        let mail = Mail {
            to: to.to_owned(),
            subject: "You have been invited to Kith".into(),
            text: format!(
                "You have been invited to an organization on Kith.\n\nSign in as {to} and accept with this link:\n{link}\n\n\
                 (or POST the token to /api/invitations/accept). The invitation expires in {INVITATION_DAYS} days.\n"
            ),
            kind: MailKind::Invite,
            link: link.to_string(),
            code: None,
        };
        self.mailer.send(&mail).await
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `DELETE /api/organizations/{org_id}/invitations/{id}` (admins).
pub async fn revoke_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    Path(path): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (org_id, id) = ids(&path)?;
    let (mut tx, _) = open_org(&state.db, &user, org_id, Access::ReadWrite, OrgRole::Admin).await?;
    let rows = tx
        .query(
            "delete from public.invitations where org_id = $1 and id = $2 returning id",
            &[&org_id, &id],
        )
        .await?;
    if rows.is_empty() {
        return Err(ApiError::not_found());
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/invitations/accept` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acceptance {
    /// The token from the invitation.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    token: String,
}

/// Accepts the invitation `token` as `caller` (the web pages' door to the same rule): the organization's id, or
/// 404 when the token is invalid, used, expired or addressed to another email, 409 when already a member.
pub async fn accept_as(db: &kith_db::Db, caller: &kith_db::Caller, token: &str) -> ApiResult<Uuid> {
    let user_id = caller.user_id().ok_or_else(ApiError::missing_token)?;
    let (org_id, _) = accept_in(db, caller, user_id, token).await?;
    tracing::info!(%user_id, %org_id, "invitation accepted");
    Ok(org_id)
}

async fn accept_in(db: &kith_db::Db, caller: &kith_db::Caller, user_id: Uuid, token: &str) -> ApiResult<(Uuid, Row)> {
    let token = token.trim();
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::validation("token", "must be an invitation token"));
    }
    let mut tx = db.begin_as(caller, Access::ReadWrite).await?;
    let row = tx
        .query_one("select private.accept_invitation($1) as org_id", &[&hash_token(token)])
        .await
        .map_err(|err| match err.sql_state() {
            Some(state) if *state == SqlState::NO_DATA_FOUND => ApiError::not_found(),
            Some(state) if *state == SqlState::UNIQUE_VIOLATION => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "You are already a member of this organization",
            ),
            _ => err.into(),
        })?;
    let org_id: Uuid = row.get("org_id");
    let row = tx
        .query_one(&format!("{ORG_SELECT} where o.id = $2"), &[&user_id, &org_id])
        .await?;
    tx.commit().await?;
    Ok((org_id, row))
}

/// `POST /api/invitations/accept`: joins the organization when the token is valid, unused, unexpired and
/// addressed to the caller's email; otherwise 404 (never saying which).
pub async fn accept_invitation(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<Acceptance>,
) -> ApiResult<Json<Organization>> {
    let (org_id, row) = accept_in(&state.db, &user.caller, user.user_id, &body.token).await?;
    tracing::info!(user_id = %user.user_id, %org_id, "invitation accepted");
    Ok(Json(organization(&row)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked() {
        assert!(slug(Some("acme-2".into())).is_ok());
        for bad in ["Acme", "acme--x", "-acme", "acme_x", "a b"] {
            assert!(slug(Some(bad.into())).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_stored_hashed() {
        assert_eq!(hash_token("abc").len(), 32);
        assert_ne!(hash_token("abc"), hash_token("abd"));
        assert_eq!(hex(&[0, 255]), "00ff");
    }
}
