//! Contacts of a workspace (CRUD, search, cursor pages, CSV import and export) and their interactions.

use crate::context::{Item, ItemQuery, OrgRole, WorkspaceCtx, delete_item, item_ctx, same_workspace, workspace_ctx};
use crate::input::{self, ApiQuery, Checked, Invalid};
use crate::intelligence;
use crate::scoring::{ContactFacts, InteractionKind};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::{Json, response::IntoResponse};
use chrono::{DateTime, Utc};
use kith_db::tokio_postgres::Row;
use kith_db::{Access, CallerTx};
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use uuid::Uuid;

/// Longest name, company or title.
const MAX_TEXT: usize = 200;
/// Most tags on a contact, and longest tag.
const MAX_TAGS: usize = 50;
const MAX_TAG_CHARS: usize = 50;

/// A contact's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Not qualified yet.
    Lead,
    /// Has an open deal.
    Opportunity,
    /// Bought.
    Customer,
    /// No longer pursued.
    Inactive,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Lead => "lead",
            Status::Opportunity => "opportunity",
            Status::Customer => "customer",
            Status::Inactive => "inactive",
        }
    }

    pub(crate) fn parse(raw: &str) -> Option<Self> {
        [Status::Lead, Status::Opportunity, Status::Customer, Status::Inactive]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A contact as the API returns it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Contact {
    id: Uuid,
    workspace_id: Uuid,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    company: Option<String>,
    job_title: Option<String>,
    tags: Vec<String>,
    status: String,
    score: i32,
    tier: String,
    last_interaction_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Columns every contact query returns.
pub const COLUMNS: &str = "id, workspace_id, first_name, last_name, email, phone, company, job_title, tags, status, \
     score, tier, last_interaction_at, created_at, updated_at";

impl From<&Row> for Contact {
    fn from(row: &Row) -> Self {
        Contact {
            id: row.get("id"),
            workspace_id: row.get("workspace_id"),
            first_name: row.get("first_name"),
            last_name: row.get("last_name"),
            email: row.get("email"),
            phone: row.get("phone"),
            company: row.get("company"),
            job_title: row.get("job_title"),
            tags: row.get("tags"),
            status: row.get("status"),
            score: row.get("score"),
            tier: row.get("tier"),
            last_interaction_at: row.get("last_interaction_at"),
            created_at: row.get("created_at"),
            updated_at: row.get("updated_at"),
        }
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

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

/// A contact's writable fields, as given.
#[derive(Debug, Default, Clone)]
pub struct RawContact {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) company: Option<String>,
    pub(crate) job_title: Option<String>,
    pub(crate) tags: Option<Vec<String>>,
    pub(crate) status: Option<Status>,
}

/// A contact's writable fields, checked.
#[derive(Debug, Default, Clone)]
pub struct ValidContact {
    pub(crate) first_name: Option<String>,
    pub(crate) last_name: Option<String>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) company: Option<String>,
    pub(crate) job_title: Option<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) status: Option<Status>,
}

fn phone(value: Option<String>) -> Checked<Option<String>> {
    let value = input::text("phone", value, 50, false)?;
    if let Some(phone) = &value {
        let ok = phone.chars().any(|c| c.is_ascii_digit())
            && phone.chars().all(|c| c.is_ascii_digit() || " +-().x/".contains(c));
        if !ok {
            return Err(Invalid::new(
                "phone",
                "must be a phone number (digits, spaces and + - ( ) . x /)",
            ));
        }
    }
    Ok(value)
}

fn tags(value: Vec<String>) -> Checked<Vec<String>> {
    if value.len() > MAX_TAGS {
        return Err(Invalid::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tag in value {
        let tag = input::text("tags", Some(tag), MAX_TAG_CHARS, false)?
            .ok_or_else(|| Invalid::new("tags", "tags must not be empty"))?
            .to_lowercase();
        if seen.insert(tag.clone()) {
            out.push(tag);
        }
    }
    Ok(out)
}

impl ValidContact {
    /// What the scorer reads of this contact.
    pub(crate) fn facts(&self) -> ContactFacts {
        ContactFacts {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: self.email.clone(),
            phone: self.phone.clone(),
            company: self.company.clone(),
            job_title: self.job_title.clone(),
            status: self.status.unwrap_or(Status::Lead).as_str().to_owned(),
        }
    }

    /// Checks every field of a contact; a contact needs a name or an email.
    pub fn check(raw: RawContact) -> Checked<Self> {
        let contact = ValidContact {
            first_name: input::text("first_name", raw.first_name, MAX_TEXT, false)?,
            last_name: input::text("last_name", raw.last_name, MAX_TEXT, false)?,
            email: input::email("email", raw.email)?,
            phone: phone(raw.phone)?,
            company: input::text("company", raw.company, MAX_TEXT, false)?,
            job_title: input::text("job_title", raw.job_title, MAX_TEXT, false)?,
            tags: tags(raw.tags.unwrap_or_default())?,
            status: raw.status,
        };
        if contact.first_name.is_none() && contact.last_name.is_none() && contact.email.is_none() {
            return Err(Invalid::new(
                "first_name",
                "a contact needs a first name, a last name or an email",
            ));
        }
        Ok(contact)
    }
}

async fn insert(tx: &mut CallerTx, ctx: &WorkspaceCtx, contact: &ValidContact) -> ApiResult<Row> {
    tx.query_one(
        &format!(
            "insert into public.contacts (id, org_id, workspace_id, first_name, last_name, email, phone, company,
                                              job_title, tags, status)
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning {COLUMNS}"
        ),
        &[
            &Uuid::new_v4(),
            &ctx.org_id,
            &ctx.workspace_id,
            &contact.first_name,
            &contact.last_name,
            &contact.email,
            &contact.phone,
            &contact.company,
            &contact.job_title,
            &contact.tags,
            &contact.status.unwrap_or(Status::Lead).as_str(),
        ],
    )
    .await
    .map_err(duplicate_email)
}

fn duplicate_email(err: kith_db::DbError) -> ApiError {
    if err.constraint() == Some("contacts_workspace_email_key") {
        return ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "A contact with this email already exists in this workspace",
        );
    }
    err.into()
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
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = workspace_ctx(&mut tx, &user, body.workspace_id, OrgRole::Member).await?;
    let row = insert(&mut tx, &ctx, &contact).await?;
    let id: Uuid = row.get("id");
    intelligence::rescore(&mut tx, &ctx, Some(id)).await?;
    let row = read_row(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(Contact::from(&row))))
}

async fn read_row(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<Row> {
    tx.query_opt(
        &format!("select {COLUMNS} from public.contacts where workspace_id = $1 and id = $2"),
        &[&ctx.workspace_id, &id],
    )
    .await?
    .ok_or_else(ApiError::not_found)
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
    /// Contacts per page (default 50).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

fn encode_cursor(created_at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}.{}", created_at.timestamp_micros(), id.simple())
}

fn decode_cursor(raw: &str) -> ApiResult<(DateTime<Utc>, Uuid)> {
    let bad = || ApiError::validation("cursor", "is not a cursor this API returned");
    let (micros, id) = raw.split_once('.').ok_or_else(bad)?;
    let micros: i64 = micros.parse().map_err(|_| bad())?;
    let at = DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(bad)?;
    let id = Uuid::parse_str(id).map_err(|_| bad())?;
    Ok((at, id))
}

/// Escapes `%`, `_` and `\` for LIKE.
fn like_pattern(q: &str) -> String {
    let mut out = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `GET /api/contacts?workspace_id=&q=&limit=&cursor=`: newest first.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let limit = input::int("limit", query.limit.as_deref(), 50, 1, 200)?;
    let q = input::text("q", query.q, 200, false)?.map(|q| like_pattern(&q));
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let (after_at, after_id) = (cursor.map(|c| c.0), cursor.map(|c| c.1));
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    let ctx = workspace_ctx(&mut tx, &user, workspace_id, OrgRole::Viewer).await?;
    let rows = tx
        .query(
            &format!(
                "select {COLUMNS} from public.contacts
                 where workspace_id = $1
                   and ($2::text is null or search like $2)
                   and ($3::timestamptz is null or (created_at, id) < ($3, $4))
                 order by created_at desc, id desc
                 limit $5"
            ),
            &[&ctx.workspace_id, &q, &after_at, &after_id, &(limit + 1)],
        )
        .await?;
    tx.commit().await?;
    let more = rows.len() as i64 > limit;
    let contacts: Vec<Contact> = rows.iter().take(limit as usize).map(Contact::from).collect();
    let next_cursor = if more {
        contacts.last().map(|c| encode_cursor(c.created_at, c.id))
    } else {
        None
    };
    Ok(Json(json!({"contacts": contacts, "next_cursor": next_cursor})))
}

/// `GET /api/contacts/{id}`.
pub async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<Json<Contact>> {
    let id = input::path_id(&id)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    let ctx = item_ctx(&mut tx, &user, Item::Contact, id, OrgRole::Viewer).await?;
    same_workspace(&ctx, query.workspace_id.as_deref())?;
    let row = read_row(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(Json(Contact::from(&row)))
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

/// `PATCH /api/contacts/{id}`.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> ApiResult<Json<Contact>> {
    let id = input::path_id(&id)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = item_ctx(&mut tx, &user, Item::Contact, id, OrgRole::Member).await?;
    same_workspace(&ctx, patch.workspace_id.map(|w| w.to_string()).as_deref())?;
    let current = Contact::from(&read_row(&mut tx, &ctx, id).await?);
    let pick = |new: Option<Option<String>>, old: Option<String>| new.unwrap_or(old);
    let merged = ValidContact::check(RawContact {
        first_name: pick(patch.first_name, current.first_name),
        last_name: pick(patch.last_name, current.last_name),
        email: pick(patch.email, current.email),
        phone: pick(patch.phone, current.phone),
        company: pick(patch.company, current.company),
        job_title: pick(patch.job_title, current.job_title),
        tags: Some(patch.tags.unwrap_or(current.tags)),
        status: Some(
            patch
                .status
                .unwrap_or(Status::parse(&current.status).unwrap_or(Status::Lead)),
        ),
    })?;
    tx.query(
        "update public.contacts set first_name = $3, last_name = $4, email = $5, phone = $6, company = $7,
                job_title = $8, tags = $9, status = $10
         where workspace_id = $1 and id = $2",
        &[
            &ctx.workspace_id,
            &id,
            &merged.first_name,
            &merged.last_name,
            &merged.email,
            &merged.phone,
            &merged.company,
            &merged.job_title,
            &merged.tags,
            &merged.status.unwrap_or(Status::Lead).as_str(),
        ],
    )
    .await
    .map_err(duplicate_email)?;
    intelligence::rescore(&mut tx, &ctx, Some(id)).await?;
    let row = read_row(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(Json(Contact::from(&row)))
}

/// `DELETE /api/contacts/{id}`: 204; its interactions and event links go with it.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<StatusCode> {
    delete_item(&state, &user, Item::Contact, &id, &query).await
}

/// An interaction.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Interaction {
    id: Uuid,
    contact_id: Uuid,
    workspace_id: Uuid,
    kind: String,
    occurred_at: DateTime<Utc>,
    summary: Option<String>,
    created_at: DateTime<Utc>,
}

const INTERACTION_COLUMNS: &str = "id, contact_id, workspace_id, kind, occurred_at, summary, created_at";

impl From<&Row> for Interaction {
    fn from(row: &Row) -> Self {
        Interaction {
            id: row.get("id"),
            contact_id: row.get("contact_id"),
            workspace_id: row.get("workspace_id"),
            kind: row.get("kind"),
            occurred_at: row.get("occurred_at"),
            summary: row.get("summary"),
            created_at: row.get("created_at"),
        }
    }
}

/// `GET /api/contacts/{id}/interactions`: newest first (at most 500).
pub async fn list_interactions(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<Json<Vec<Interaction>>> {
    let id = input::path_id(&id)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    let ctx = item_ctx(&mut tx, &user, Item::Contact, id, OrgRole::Viewer).await?;
    same_workspace(&ctx, query.workspace_id.as_deref())?;
    let rows = tx
        .query(
            &format!(
                "select {INTERACTION_COLUMNS} from public.interactions
                 where workspace_id = $1 and contact_id = $2 order by occurred_at desc, id limit 500"
            ),
            &[&ctx.workspace_id, &id],
        )
        .await?;
    tx.commit().await?;
    Ok(Json(rows.iter().map(Interaction::from).collect()))
}

/// `POST /api/contacts/{id}/interactions` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewInteraction {
    workspace_id: Option<Uuid>,
    kind: InteractionKind,
    /// When it happened (RFC 3339, not in the future; default now).
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
    #[schema(max_length = 2000)]
    summary: Option<String>,
}

/// `POST /api/contacts/{id}/interactions`: 201; the contact is re-scored in the same transaction.
pub async fn add_interaction(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewInteraction>,
) -> ApiResult<impl IntoResponse> {
    let id = input::path_id(&id)?;
    let occurred_at = match body.occurred_at.as_deref() {
        Some(raw) => input::time("occurred_at", raw)?,
        None => Utc::now(),
    };
    if occurred_at > Utc::now() + chrono::Duration::days(1) {
        return Err(ApiError::validation("occurred_at", "must not be in the future"));
    }
    let summary = input::text("summary", body.summary, 2000, true)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = item_ctx(&mut tx, &user, Item::Contact, id, OrgRole::Member).await?;
    same_workspace(&ctx, body.workspace_id.map(|w| w.to_string()).as_deref())?;
    let row = tx
        .query_one(
            &format!(
                "insert into public.interactions (id, org_id, workspace_id, contact_id, kind, occurred_at, summary)
                 values ($1, $2, $3, $4, $5, $6, $7) returning {INTERACTION_COLUMNS}"
            ),
            &[
                &Uuid::new_v4(),
                &ctx.org_id,
                &ctx.workspace_id,
                &id,
                &body.kind.as_str(),
                &occurred_at,
                &summary,
            ],
        )
        .await?;
    intelligence::rescore(&mut tx, &ctx, Some(id)).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(Interaction::from(&row))))
}

/// Query of the CSV routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    #[param(value_type = Uuid, required = true)]
    pub(crate) workspace_id: Option<String>,
}

/// The CSV columns, in export order; import accepts any subset in any order.
pub(crate) const CSV_COLUMNS: [&str; 8] = [
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "tags",
    "status",
];

/// Keeps spreadsheet programs from running a cell as a formula.
fn csv_cell(value: &str) -> String {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    }
}

/// `GET /api/contacts/export.csv?workspace_id=`.
pub async fn export_csv(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<CsvQuery>,
) -> ApiResult<impl IntoResponse> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    let ctx = workspace_ctx(&mut tx, &user, workspace_id, OrgRole::Viewer).await?;
    let rows = tx
        .query(
            &format!("select {COLUMNS} from public.contacts where workspace_id = $1 order by created_at, id"),
            &[&ctx.workspace_id],
        )
        .await?;
    tx.commit().await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let internal = |err: &dyn std::fmt::Display| ApiError::internal(err);
    writer.write_record(CSV_COLUMNS).map_err(|e| internal(&e))?;
    for row in &rows {
        let c = Contact::from(row);
        let fields = [
            c.first_name.unwrap_or_default(),
            c.last_name.unwrap_or_default(),
            c.email.unwrap_or_default(),
            c.phone.unwrap_or_default(),
            c.company.unwrap_or_default(),
            c.job_title.unwrap_or_default(),
            c.tags.join(";"),
            c.status,
        ];
        writer
            .write_record(fields.iter().map(|f| csv_cell(f)))
            .map_err(|e| internal(&e))?;
    }
    let body = writer.into_inner().map_err(|e| internal(&e))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"contacts.csv\""),
        ],
        body,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let at = Utc::now();
        let id = Uuid::new_v4();
        let (a, i) = decode_cursor(&encode_cursor(at, id)).unwrap();
        assert_eq!((a.timestamp_micros(), i), (at.timestamp_micros(), id));
        for bad in ["", "x", "1.2", "abc.00000000000000000000000000000000"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_A"), "%50\\%\\_a%");
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        assert_eq!(
            tags(vec![" VIP ".into(), "vip".into(), "b".into()]).unwrap(),
            vec!["vip", "b"]
        );
        assert!(tags(vec!["".into()]).is_err());
        assert!(tags((0..51).map(|i| i.to_string()).collect()).is_err());
    }

    #[test]
    fn formula_cells_are_defused() {
        assert_eq!(csv_cell("=cmd()"), "'=cmd()");
    }
}
