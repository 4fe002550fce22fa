//! Every SQL statement about contacts and their interactions, as named functions. Each takes the caller's
//! transaction and the [`WorkspaceCtx`] it was checked against, and every statement names the tenant key
//! (`workspace_id = $1`, and `org_id` on inserts), so row-level security is the second wall, not the only one.
//! Writes that change what a score reads re-score the contact in the same transaction.
//!
//! These are the functions the `/api` handlers and the dashboard both call: one implementation of each rule.

use super::model::{Contact, ContactFilter, ContactPage, Interaction, Sort, ValidContact, ValidInteraction};
use crate::context::WorkspaceCtx;
use crate::error::ResultExt;
use crate::input::{Checked, Invalid};
use crate::intelligence;
use crate::scoring::Score;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kith_db::tokio_postgres::Row;
use kith_db::tokio_postgres::types::ToSql;
use kith_db::{CallerTx, DbError};
use kith_http::{ApiError, ApiResult};
use serde_json::{Value, json};
use uuid::Uuid;

/// Columns every contact query returns.
pub const COLUMNS: &str = "id, workspace_id, first_name, last_name, email, phone, company, job_title, tags, status, \
     score, tier, last_interaction_at, created_at, updated_at";

/// Columns every interaction query returns.
const INTERACTION_COLUMNS: &str = "id, contact_id, workspace_id, kind, occurred_at, summary, created_at";

/// What the name order sorts by: the name, else the email (a contact has one or the other).
const NAME_KEY: &str = "lower(coalesce(nullif(concat_ws(' ', first_name, last_name), ''), email, ''))";

/// Longest cursor accepted (a name key is at most about 1,300 hex digits).
const MAX_CURSOR: usize = 2048;

/// Most contacts one listing page holds.
pub const MAX_PAGE: i64 = 200;

fn duplicate_email() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "conflict",
        "A contact with this email already exists in this workspace",
    )
}

/// The unique index that keeps one contact per address and workspace.
const EMAIL_KEY: &str = "contacts_workspace_email_key";

/// Runs `sql` with `keys` followed by the contact's writable fields (first name … status), the order in which
/// the insert and the update both name them.
async fn write(
    tx: &mut CallerTx,
    sql: &str,
    keys: &[&(dyn ToSql + Sync)],
    contact: &ValidContact,
) -> Result<Vec<Row>, DbError> {
    let status = contact.status().as_str();
    let fields: [&(dyn ToSql + Sync); 8] = [
        &contact.first_name,
        &contact.last_name,
        &contact.email,
        &contact.phone,
        &contact.company,
        &contact.job_title,
        &contact.tags,
        &status,
    ];
    let params: Vec<&(dyn ToSql + Sync)> = keys.iter().copied().chain(fields).collect();
    tx.query(sql, &params).await
}

/// Creates a contact in `ctx`'s workspace, scores it and returns it (409 `conflict` when the email is taken).
pub async fn create(tx: &mut CallerTx, ctx: &WorkspaceCtx, contact: &ValidContact) -> ApiResult<Contact> {
    let rows = write(
        tx,
        "insert into public.contacts (id, org_id, workspace_id, first_name, last_name, email, phone, company,
                                      job_title, tags, status)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
        &[&Uuid::new_v4(), &ctx.org_id, &ctx.workspace_id],
        contact,
    )
    .await
    .on_constraint(EMAIL_KEY, duplicate_email)?;
    let id: Uuid = rows
        .first()
        .map(|row| row.get("id"))
        .ok_or_else(|| ApiError::internal(&"the contact insert returned no row"))?;
    intelligence::rescore(tx, ctx, Some(id)).await?;
    get(tx, ctx, id).await
}

/// One contact of `ctx`'s workspace, or 404.
pub async fn get(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<Contact> {
    tx.query_opt(
        &format!("select {COLUMNS} from public.contacts where workspace_id = $1 and id = $2"),
        &[&ctx.workspace_id, &id],
    )
    .await?
    .map(|row| Contact::from(&row))
    .ok_or_else(ApiError::not_found)
}

/// Replaces a contact's writable fields, re-scores it and returns it (404 when not in the workspace, 409 when
/// the email is taken).
pub async fn update(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid, contact: &ValidContact) -> ApiResult<Contact> {
    let updated = write(
        tx,
        "update public.contacts set first_name = $3, last_name = $4, email = $5, phone = $6, company = $7,
                job_title = $8, tags = $9, status = $10
         where workspace_id = $1 and id = $2 returning id",
        &[&ctx.workspace_id, &id],
        contact,
    )
    .await
    .on_constraint(EMAIL_KEY, duplicate_email)?;
    if updated.is_empty() {
        return Err(ApiError::not_found());
    }
    intelligence::rescore(tx, ctx, Some(id)).await?;
    get(tx, ctx, id).await
}

/// Deletes a contact (its interactions and event links go with it), or 404.
pub async fn delete(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<()> {
    let deleted = tx
        .query(
            "delete from public.contacts where workspace_id = $1 and id = $2 returning id",
            &[&ctx.workspace_id, &id],
        )
        .await?;
    if deleted.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// A sort order's key: the SQL expression, the cast of the cursor's key parameter, the comparison that means
/// "after" and the ORDER BY. Static text only: nothing here comes from a request.
struct Order {
    key: &'static str,
    param: &'static str,
    after: &'static str,
    order_by: &'static str,
}

fn order(sort: Sort) -> Order {
    match sort {
        Sort::Newest => Order {
            key: "created_at",
            param: "$9::timestamptz",
            after: "<",
            order_by: "created_at desc, id desc",
        },
        Sort::Score => Order {
            key: "score",
            param: "$9::int4",
            after: "<",
            order_by: "score desc, id desc",
        },
        Sort::Name => Order {
            key: NAME_KEY,
            param: "$9::text",
            after: ">",
            order_by: "name_key, id",
        },
        Sort::LastInteraction => Order {
            key: "coalesce(last_interaction_at, '-infinity'::timestamptz)",
            param: "coalesce($9::timestamptz, '-infinity'::timestamptz)",
            after: "<",
            order_by: "last_interaction_at desc nulls last, id desc",
        },
    }
}

/// The listing statement for `sort`: filters `$2`–`$7`, a cursor `$8` (whether there is one), `$9` (its key),
/// `$10` (its id), and `$11` the limit.
fn list_sql(sort: Sort) -> String {
    let Order {
        key,
        param,
        after,
        order_by,
    } = order(sort);
    format!(
        "select {COLUMNS}, {NAME_KEY} as name_key from public.contacts
         where workspace_id = $1
           and ($2::text is null or search like $2)
           and (cardinality($3::text[]) = 0 or tier = any($3))
           and ($4::text is null or tags @> array[$4::text])
           and ($5::text is null or status = $5)
           and ($6::timestamptz is null or last_interaction_at is null or last_interaction_at < $6)
           and ($7::timestamptz is null or last_interaction_at >= $7)
           and (not $8::boolean or ({key}, id) {after} ({param}, $10::uuid))
         order by {order_by}
         limit $11"
    )
}

/// Where a page ends: the last contact's sort key and id.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Time(Option<DateTime<Utc>>),
    Int(i32),
    Text(String),
}

/// A position in a listing, in the form the API hands out (`next_cursor`) and takes back (`cursor`).
#[derive(Debug, Clone, PartialEq)]
struct Cursor {
    key: Key,
    id: Uuid,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(raw: &str) -> Option<Vec<u8>> {
    if !raw.len().is_multiple_of(2) {
        return None;
    }
    (0..raw.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(raw.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Cursor {
    /// The cursor after `row` of a listing in `sort` order.
    fn after(sort: Sort, row: &Row) -> Self {
        let id = row.get("id");
        let key = match sort {
            Sort::Newest => Key::Time(Some(row.get("created_at"))),
            Sort::Score => Key::Int(row.get("score")),
            Sort::Name => Key::Text(row.get("name_key")),
            Sort::LastInteraction => Key::Time(row.get("last_interaction_at")),
        };
        Cursor { key, id }
    }

    /// Newest-first cursors keep the form they had before other orders existed (`<micros>.<id>`); the others
    /// start with a letter naming their order, so a cursor cannot be replayed against another one.
    fn encode(&self, sort: Sort) -> String {
        let id = self.id.simple();
        let micros = |t: &Option<DateTime<Utc>>| t.map_or("-".to_owned(), |t| t.timestamp_micros().to_string());
        match (&self.key, sort) {
            (Key::Time(t), Sort::LastInteraction) => format!("l{}.{id}", micros(t)),
            (Key::Time(t), _) => format!("{}.{id}", micros(t)),
            (Key::Int(n), _) => format!("s{n}.{id}"),
            (Key::Text(s), _) => format!("n{}.{id}", hex(s.as_bytes())),
        }
    }

    fn decode(raw: &str, sort: Sort) -> Checked<Self> {
        let bad = || Invalid::new("cursor", "is not a cursor this API returned for this sort order");
        if raw.len() > MAX_CURSOR {
            return Err(bad());
        }
        let (key, id) = raw.rsplit_once('.').ok_or_else(bad)?;
        let id = Uuid::parse_str(id).map_err(|_| bad())?;
        let time = |raw: &str| -> Checked<Option<DateTime<Utc>>> {
            if raw == "-" {
                return Ok(None);
            }
            let micros: i64 = raw.parse().map_err(|_| bad())?;
            DateTime::<Utc>::from_timestamp_micros(micros).map(Some).ok_or_else(bad)
        };
        let key = match sort {
            Sort::Newest => match time(key)? {
                Some(t) => Key::Time(Some(t)),
                None => return Err(bad()),
            },
            Sort::LastInteraction => Key::Time(time(key.strip_prefix('l').ok_or_else(bad)?)?),
            Sort::Score => Key::Int(key.strip_prefix('s').and_then(|n| n.parse().ok()).ok_or_else(bad)?),
            Sort::Name => {
                let bytes = key.strip_prefix('n').and_then(unhex).ok_or_else(bad)?;
                Key::Text(String::from_utf8(bytes).map_err(|_| bad())?)
            }
        };
        Ok(Cursor { key, id })
    }
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

/// Runs the listing statement for `filter`, from `cursor`, at most `limit` rows (`None`: all).
async fn select(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    filter: &ContactFilter,
    cursor: Option<&Cursor>,
    limit: Option<i64>,
) -> ApiResult<Vec<Row>> {
    let q = filter.q.as_deref().map(like_pattern);
    let tiers: Vec<&str> = filter.tiers.iter().map(|t| t.as_str()).collect();
    let status = filter.status.map(|s| s.as_str());
    let (time, int, text) = match cursor.map(|c| &c.key) {
        Some(Key::Time(t)) => (*t, None, None),
        Some(Key::Int(n)) => (None, Some(*n), None),
        Some(Key::Text(s)) => (None, None, Some(s.as_str())),
        None => (None, None, None),
    };
    let key: &(dyn ToSql + Sync) = match filter.sort {
        Sort::Newest | Sort::LastInteraction => &time,
        Sort::Score => &int,
        Sort::Name => &text,
    };
    // Postgres' bigint limit: `None` lists everything.
    let limit = limit.unwrap_or(i64::MAX);
    Ok(tx
        .query(
            &list_sql(filter.sort),
            &[
                &ctx.workspace_id,
                &q,
                &tiers,
                &filter.tag,
                &status,
                &filter.last_interaction_before,
                &filter.last_interaction_after,
                &cursor.is_some(),
                key,
                &cursor.map(|c| c.id),
                &limit,
            ],
        )
        .await?)
}

/// One page of `ctx`'s contacts matching `filter`, in its order, after `cursor` (a `next_cursor` this function
/// returned for the same order; anything else is 422 naming `cursor`), at most `limit` (1–200).
pub async fn list(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    filter: &ContactFilter,
    cursor: Option<&str>,
    limit: i64,
) -> ApiResult<ContactPage> {
    let limit = limit.clamp(1, MAX_PAGE);
    let cursor = cursor.map(|raw| Cursor::decode(raw, filter.sort)).transpose()?;
    let rows = select(tx, ctx, filter, cursor.as_ref(), Some(limit + 1)).await?;
    let more = rows.len() as i64 > limit;
    let page = &rows[..rows.len().min(limit as usize)];
    let next_cursor = match page.last() {
        Some(last) if more => Some(Cursor::after(filter.sort, last).encode(filter.sort)),
        _ => None,
    };
    Ok(ContactPage {
        contacts: page.iter().map(Contact::from).collect(),
        next_cursor,
    })
}

/// Every contact of `ctx`'s workspace matching `filter`, in its order: what an export writes.
pub async fn export(tx: &mut CallerTx, ctx: &WorkspaceCtx, filter: &ContactFilter) -> ApiResult<Vec<Contact>> {
    let rows = select(tx, ctx, filter, None, None).await?;
    Ok(rows.iter().map(Contact::from).collect())
}

/// Inserts checked, scored contacts in one statement; an address already in the workspace (or earlier in the
/// batch) is skipped. Returns how many rows were inserted.
pub async fn import_batch(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    contacts: &[(ValidContact, Score)],
    now: DateTime<Utc>,
) -> ApiResult<usize> {
    let column = |f: fn(&ValidContact) -> Option<&str>| contacts.iter().map(|(c, _)| f(c)).collect::<Vec<_>>();
    let first_names = column(|c| c.first_name.as_deref());
    let last_names = column(|c| c.last_name.as_deref());
    let emails = column(|c| c.email.as_deref());
    let phones = column(|c| c.phone.as_deref());
    let companies = column(|c| c.company.as_deref());
    let job_titles = column(|c| c.job_title.as_deref());
    let tags: Vec<Value> = contacts.iter().map(|(c, _)| json!(c.tags)).collect();
    let statuses: Vec<&str> = contacts.iter().map(|(c, _)| c.status().as_str()).collect();
    let scores: Vec<i32> = contacts.iter().map(|(_, s)| s.score).collect();
    let tiers: Vec<&str> = contacts.iter().map(|(_, s)| s.tier.as_str()).collect();
    let reasons: Vec<Value> = contacts.iter().map(|(_, s)| json!(s.reasons)).collect();
    let inserted = tx
        .query(
            "insert into public.contacts (org_id, workspace_id, first_name, last_name, email, phone, company,
                                          job_title, tags, status, score, tier, score_reasons, scored_at)
             select $1, $2, r.first_name, r.last_name, r.email, r.phone, r.company, r.job_title,
                    array(select jsonb_array_elements_text(r.tags)), r.status, r.score, r.tier, r.reasons, $14
               from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::jsonb[],
                           $10::text[], $11::int[], $12::text[], $13::jsonb[])
                    as r(first_name, last_name, email, phone, company, job_title, tags, status, score, tier, reasons)
             on conflict (workspace_id, email) where email is not null do nothing
             returning 1",
            &[
                &ctx.org_id,
                &ctx.workspace_id,
                &first_names,
                &last_names,
                &emails,
                &phones,
                &companies,
                &job_titles,
                &tags,
                &statuses,
                &scores,
                &tiers,
                &reasons,
                &now,
            ],
        )
        .await?;
    Ok(inserted.len())
}

/// A contact's interactions, newest first, at most `limit`.
pub async fn list_interactions(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    contact_id: Uuid,
    limit: i64,
) -> ApiResult<Vec<Interaction>> {
    let rows = tx
        .query(
            &format!(
                "select {INTERACTION_COLUMNS} from public.interactions
                 where workspace_id = $1 and contact_id = $2 order by occurred_at desc, id limit $3"
            ),
            &[&ctx.workspace_id, &contact_id, &limit],
        )
        .await?;
    Ok(rows.iter().map(Interaction::from).collect())
}

/// One interaction of `ctx`'s workspace, or 404.
pub async fn get_interaction(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<Interaction> {
    tx.query_opt(
        &format!("select {INTERACTION_COLUMNS} from public.interactions where workspace_id = $1 and id = $2"),
        &[&ctx.workspace_id, &id],
    )
    .await?
    .map(|row| Interaction::from(&row))
    .ok_or_else(ApiError::not_found)
}

/// The foreign key that keeps an interaction's contact in the interaction's workspace.
const INTERACTION_CONTACT_KEY: &str = "interactions_contact_id_workspace_id_fkey";

/// Records an interaction with a contact of `ctx`'s workspace (404 when it is not one) and re-scores it.
pub async fn create_interaction(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    contact_id: Uuid,
    interaction: &ValidInteraction,
) -> ApiResult<Interaction> {
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
                &contact_id,
                &interaction.kind.as_str(),
                &interaction.occurred_at,
                &interaction.summary,
            ],
        )
        .await
        .on_constraint(INTERACTION_CONTACT_KEY, ApiError::not_found)?;
    intelligence::rescore(tx, ctx, Some(contact_id)).await?;
    Ok(Interaction::from(&row))
}

/// Replaces an interaction's kind, time and summary (404 when not in the workspace) and re-scores its contact.
pub async fn update_interaction(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    id: Uuid,
    interaction: &ValidInteraction,
) -> ApiResult<Interaction> {
    let row = tx
        .query_opt(
            &format!(
                "update public.interactions set kind = $3, occurred_at = $4, summary = $5
                 where workspace_id = $1 and id = $2 returning {INTERACTION_COLUMNS}"
            ),
            &[
                &ctx.workspace_id,
                &id,
                &interaction.kind.as_str(),
                &interaction.occurred_at,
                &interaction.summary,
            ],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    let updated = Interaction::from(&row);
    intelligence::rescore(tx, ctx, Some(updated.contact_id)).await?;
    Ok(updated)
}

/// Deletes an interaction (404 when not in the workspace) and re-scores its contact.
pub async fn delete_interaction(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<()> {
    let row = tx
        .query_opt(
            "delete from public.interactions where workspace_id = $1 and id = $2 returning contact_id",
            &[&ctx.workspace_id, &id],
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    intelligence::rescore(tx, ctx, Some(row.get("contact_id"))).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_per_order_and_garbage_is_refused() {
        let id = Uuid::new_v4();
        let at = DateTime::<Utc>::from_timestamp_micros(1_780_000_000_123_456).unwrap();
        for (sort, key) in [
            (Sort::Newest, Key::Time(Some(at))),
            (Sort::LastInteraction, Key::Time(Some(at))),
            (Sort::LastInteraction, Key::Time(None)),
            (Sort::Score, Key::Int(87)),
            (Sort::Name, Key::Text("zoë o'brien.x".into())),
        ] {
            let cursor = Cursor { key, id };
            let encoded = cursor.encode(sort);
            assert_eq!(Cursor::decode(&encoded, sort).unwrap(), cursor, "{encoded}");
            for other in [Sort::Newest, Sort::Name, Sort::Score, Sort::LastInteraction] {
                if other != sort {
                    assert!(Cursor::decode(&encoded, other).is_err(), "{encoded} as {other:?}");
                }
            }
        }
        // The newest-first form is the one clients already hold.
        assert_eq!(
            Cursor::decode(&format!("{}.{}", at.timestamp_micros(), id.simple()), Sort::Newest).unwrap(),
            Cursor {
                key: Key::Time(Some(at)),
                id
            }
        );
        for bad in [
            "",
            "x",
            "1.2",
            "abc.00000000000000000000000000000000",
            "-.00000000000000000000000000000000",
        ] {
            assert!(Cursor::decode(bad, Sort::Newest).is_err(), "{bad}");
        }
        assert!(Cursor::decode("nzz.00000000000000000000000000000000", Sort::Name).is_err());
        assert!(
            Cursor::decode("nc3.00000000000000000000000000000000", Sort::Name).is_err(),
            "not UTF-8"
        );
        assert!(Cursor::decode(&"n00".repeat(1000), Sort::Name).is_err(), "too long");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_A"), "%50\\%\\_a%");
    }
}
