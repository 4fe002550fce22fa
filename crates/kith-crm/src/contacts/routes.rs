//! `/api/contacts` and `/api/contacts/{id}`: list (search, filters, sort, cursor pages), create, read, update,
//! delete. Each handler parses its input, opens the caller's transaction, resolves the context and calls
//! [`super::store`].

use super::model::{Contact, ContactFilter, RawContact, RawFilter, Status, ValidContact};
use super::store;
use crate::context::{Item, ItemQuery, OrgRole, open_item, open_workspace, remove_item, same_workspace};
use crate::input::{self, ApiQuery, present};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, response::IntoResponse};
use kith_db::Access;
use kith_http::{ApiJson, ApiResult, AppState, AuthUser};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// `POST /api/contacts` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    workspace_id: Uuid,
    #[schema(max_length = 200)]
    first_name: Option<String>,
    #[schema(max_length = 200)]
    last_name: Option<String>,
    /// An email address (lower-cased).
    #[schema(max_length = 255)]
    email: Option<String>,
    #[schema(max_length = 50)]
    phone: Option<String>,
    #[schema(max_length = 200)]
    company: Option<String>,
    #[schema(max_length = 200)]
    job_title: Option<String>,
    /// At most 50 tags of at most 50 characters; stored lower-cased, duplicates dropped.
    #[schema(max_items = 50)]
    tags: Option<Vec<String>>,
    status: Option<Status>,
}

/// `POST /api/contacts`: 201 with the contact (scored).
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<NewContact>,
) -> ApiResult<impl IntoResponse> {
    let contact = ValidContact::check(RawContact {
        first_name: body.first_name,
        last_name: body.last_name,
        email: body.email,
        phone: body.phone,
        company: body.company,
        job_title: body.job_title,
        tags: body.tags,
        status: body.status,
    })?;
    let (mut tx, ctx) = open_workspace(&state.db, &user, body.workspace_id, Access::ReadWrite, OrgRole::Member).await?;
    let created = store::create(&mut tx, &ctx, &contact).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `GET /api/contacts` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    #[param(value_type = Uuid, required = true)]
    workspace_id: Option<String>,
    /// Matches names, email and company.
    #[param(max_length = 200)]
    q: Option<String>,
    /// Comma-separated tiers to list, of `hot`, `warm` and `cold` (default all).
    #[param(pattern = r"^\s*(hot|warm|cold)\s*(,\s*(hot|warm|cold)\s*)*$", example = "hot,warm")]
    tier: Option<String>,
    /// Only contacts with this tag.
    #[param(max_length = 50)]
    tag: Option<String>,
    /// Only contacts with this status.
    /// `lead`, `opportunity`, `customer` or `inactive`.
    #[param(pattern = "^(lead|opportunity|customer|inactive)$")]
    status: Option<String>,
    /// Only contacts with no interaction since then (never touched included): RFC 3339 or `YYYY-MM-DD`.
    last_interaction_before: Option<String>,
    /// Only contacts with an interaction since then: RFC 3339 or `YYYY-MM-DD`.
    last_interaction_after: Option<String>,
    /// `newest` (default), `name`, `score` or `last_interaction`.
    #[param(pattern = "^(newest|name|score|last_interaction)$")]
    sort: Option<String>,
    /// Contacts per page (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The previous page's `next_cursor` (for the same `sort`).
    cursor: Option<String>,
}

/// `GET /api/contacts?workspace_id=&q=&tier=&tag=&status=&last_interaction_before=&last_interaction_after=&sort=
/// &limit=&cursor=`: `{contacts, next_cursor}`.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let limit = input::int("limit", query.limit.as_deref(), 50, 1, store::MAX_PAGE)?;
    let filter = ContactFilter::parse(RawFilter {
        q: query.q,
        tier: query.tier,
        tag: query.tag,
        status: query.status,
        last_interaction_before: query.last_interaction_before,
        last_interaction_after: query.last_interaction_after,
        sort: query.sort,
    })?;
    let (mut tx, ctx) = open_workspace(&state.db, &user, workspace_id, Access::ReadOnly, OrgRole::Viewer).await?;
    let page = store::list(&mut tx, &ctx, &filter, query.cursor.as_deref(), limit).await?;
    tx.commit().await?;
    Ok(Json(
        json!({"contacts": page.contacts, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /api/contacts/{id}`.
pub async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<Json<Contact>> {
    let id = input::path_id(&id)?;
    let (mut tx, ctx) = open_item(&state.db, &user, Item::Contact, id, Access::ReadOnly, OrgRole::Viewer).await?;
    same_workspace(&ctx, query.workspace_id.as_deref())?;
    let contact = store::get(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(Json(contact))
}

/// `PATCH /api/contacts/{id}` body: absent fields stay, `null` clears.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    workspace_id: Option<Uuid>,
    #[schema(max_length = 200)]
    #[serde(default, deserialize_with = "present")]
    first_name: Option<Option<String>>,
    #[schema(max_length = 200)]
    #[serde(default, deserialize_with = "present")]
    last_name: Option<Option<String>>,
    /// An email address (lower-cased).
    #[schema(max_length = 255)]
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[schema(max_length = 50)]
    #[serde(default, deserialize_with = "present")]
    phone: Option<Option<String>>,
    #[schema(max_length = 200)]
    #[serde(default, deserialize_with = "present")]
    company: Option<Option<String>>,
    #[schema(max_length = 200)]
    #[serde(default, deserialize_with = "present")]
    job_title: Option<Option<String>>,
    /// At most 50 tags of at most 50 characters; stored lower-cased, duplicates dropped.
    #[schema(max_items = 50)]
    tags: Option<Vec<String>>,
    status: Option<Status>,
}

impl ContactPatch {
    /// The patch laid over the stored contact.
    fn merge(self, current: Contact) -> RawContact {
        let base = RawContact::from(current);
        RawContact {
            first_name: self.first_name.unwrap_or(base.first_name),
            last_name: self.last_name.unwrap_or(base.last_name),
            email: self.email.unwrap_or(base.email),
            phone: self.phone.unwrap_or(base.phone),
            company: self.company.unwrap_or(base.company),
            job_title: self.job_title.unwrap_or(base.job_title),
            tags: self.tags.or(base.tags),
            status: self.status.or(base.status),
        }
    }
}

/// `PATCH /api/contacts/{id}`.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> ApiResult<Json<Contact>> {
    let id = input::path_id(&id)?;
    let (mut tx, ctx) = open_item(&state.db, &user, Item::Contact, id, Access::ReadWrite, OrgRole::Member).await?;
    same_workspace(&ctx, patch.workspace_id.map(|w| w.to_string()).as_deref())?;
    let current = store::get(&mut tx, &ctx, id).await?;
    let merged = ValidContact::check(patch.merge(current))?;
    let updated = store::update(&mut tx, &ctx, id, &merged).await?;
    tx.commit().await?;
    Ok(Json(updated))
}

/// `DELETE /api/contacts/{id}`: 204; its interactions and event links go with it.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<StatusCode> {
    remove_item(
        &state.db,
        &user,
        Item::Contact,
        &id,
        query.workspace_id.as_deref(),
        store::delete,
    )
    .await
}
