//! Every SQL statement about calendar events, as named functions taking the caller's transaction and the
//! [`WorkspaceCtx`]; each names the tenant key (`workspace_id`, and `org_id` on inserts). What the `/api`
//! handlers and the dashboard both call.

use super::model::{Event, Exceptions, NewSubscription, Subscription, ValidEvent, feed_token};
use crate::context::WorkspaceCtx;
use chrono::{DateTime, Utc};
use kith_db::tokio_postgres::Row;
use kith_db::tokio_postgres::types::ToSql;
use kith_db::{CallerTx, DbError};
use kith_http::{ApiError, ApiResult};
use serde_json::{Value, json};
use uuid::Uuid;

/// Columns every event query returns (`e` is `public.calendar_events`), linked contacts included.
pub const COLUMNS: &str = "e.id, e.workspace_id, e.title, e.description, e.starts_at, e.ends_at, e.all_day, e.timezone,
    e.location, e.attendees, e.rrule, e.sequence, e.updated_at, e.series_id, e.recurrence_id, e.exdates,
    coalesce((select array_agg(ec.contact_id order by ec.contact_id) from public.event_contacts ec
              where ec.event_id = e.id and ec.workspace_id = e.workspace_id), '{}') as contact_ids,
    case when e.rrule is null then '{}' else
      coalesce((select array_agg(o.recurrence_id order by o.recurrence_id) from public.calendar_events o
                where o.series_id = e.id and o.workspace_id = e.workspace_id), '{}') end as changed";

fn event(row: &Row) -> Event {
    let attendees: Value = row.get("attendees");
    Event {
        id: row.get("id"),
        workspace_id: row.get("workspace_id"),
        title: row.get("title"),
        description: row.get("description"),
        starts_at: row.get("starts_at"),
        ends_at: row.get("ends_at"),
        all_day: row.get("all_day"),
        timezone: row.get("timezone"),
        location: row.get("location"),
        attendees: serde_json::from_value(attendees).unwrap_or_default(),
        contact_ids: row.get("contact_ids"),
        rrule: row.get("rrule"),
        sequence: row.get("sequence"),
        updated_at: row.get("updated_at"),
        exceptions: Exceptions {
            replaces: row
                .get::<_, Option<Uuid>>("series_id")
                .zip(row.get::<_, Option<DateTime<Utc>>>("recurrence_id")),
            cancelled: row.get("exdates"),
            changed: row.get("changed"),
        },
    }
}

/// The stored events of `ctx`'s workspace that may overlap `[from, to)` (recurring ones from any start): what
/// `GET /api/calendar/events` and the dashboard both read, to be expanded with [`super::expand`] once committed.
pub async fn window(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<Event>> {
    let rows = tx
        .query(
            &format!(
                "select {COLUMNS} from public.calendar_events e
                 where e.workspace_id = $1 and e.starts_at < $3 and (e.rrule is not null or e.ends_at >= $2)
                 order by e.starts_at, e.id"
            ),
            &[&ctx.workspace_id, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(event).collect())
}

/// Links the event to its contacts, which must be in its workspace (as the caller sees it).
async fn link_contacts(tx: &mut CallerTx, ctx: &WorkspaceCtx, event_id: Uuid, ids: &[Uuid]) -> ApiResult<()> {
    tx.query(
        "delete from public.event_contacts where workspace_id = $1 and event_id = $2",
        &[&ctx.workspace_id, &event_id],
    )
    .await?;
    if ids.is_empty() {
        return Ok(());
    }
    let inserted = tx
        .query(
            "insert into public.event_contacts (event_id, contact_id, org_id, workspace_id)
             select $3, c.id, $2, $1 from public.contacts c where c.workspace_id = $1 and c.id = any($4)
             returning contact_id",
            &[&ctx.workspace_id, &ctx.org_id, &event_id, &ids],
        )
        .await?;
    if inserted.len() != ids.len() {
        return Err(ApiError::validation(
            "contact_ids",
            "every linked contact must be a contact of this workspace",
        ));
    }
    Ok(())
}

/// One event of `ctx`'s workspace, or 404.
pub async fn get(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<Event> {
    tx.query_opt(
        &format!("select {COLUMNS} from public.calendar_events e where e.workspace_id = $1 and e.id = $2"),
        &[&ctx.workspace_id, &id],
    )
    .await?
    .map(|row| event(&row))
    .ok_or_else(ApiError::not_found)
}

/// The changed occurrence of the series `series_id` that replaces its start `occurrence`, if there is one.
pub async fn occurrence(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    series_id: Uuid,
    occurrence: DateTime<Utc>,
) -> ApiResult<Option<Event>> {
    let row = tx
        .query_opt(
            &format!(
                "select {COLUMNS} from public.calendar_events e
                  where e.workspace_id = $1 and e.series_id = $2 and e.recurrence_id = $3"
            ),
            &[&ctx.workspace_id, &series_id, &occurrence],
        )
        .await?;
    Ok(row.map(|row| event(&row)))
}

/// Every event of `ctx`'s workspace, by start: what the `.ics` export and feed write.
pub async fn all(tx: &mut CallerTx, ctx: &WorkspaceCtx) -> ApiResult<Vec<Event>> {
    let rows = tx
        .query(
            &format!(
                "select {COLUMNS} from public.calendar_events e where e.workspace_id = $1 order by e.starts_at, e.id"
            ),
            &[&ctx.workspace_id],
        )
        .await?;
    Ok(rows.iter().map(event).collect())
}

/// The events linked to a contact of `ctx`'s workspace that may overlap `[from, to)`, to be expanded with
/// [`super::expand`] (a contact page's upcoming events).
pub async fn for_contact(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    contact_id: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<Event>> {
    let rows = tx
        .query(
            &format!(
                "select {COLUMNS} from public.calendar_events e
                 where e.workspace_id = $1 and e.starts_at < $4 and (e.rrule is not null or e.ends_at >= $3)
                   and exists (select 1 from public.event_contacts ec
                               where ec.workspace_id = $1 and ec.event_id = e.id and ec.contact_id = $2)
                 order by e.starts_at, e.id"
            ),
            &[&ctx.workspace_id, &contact_id, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(event).collect())
}

/// Runs `sql` with `keys` followed by the event's fields (title … rrule), the order in which the insert and the
/// update both name them.
async fn write(
    tx: &mut CallerTx,
    sql: &str,
    keys: &[&(dyn ToSql + Sync)],
    valid: &ValidEvent,
) -> Result<Vec<Row>, DbError> {
    let timezone = valid.timezone.name();
    let attendees = json!(valid.attendees);
    let fields: [&(dyn ToSql + Sync); 9] = [
        &valid.title,
        &valid.description,
        &valid.starts_at,
        &valid.ends_at,
        &valid.all_day,
        &timezone,
        &valid.location,
        &attendees,
        &valid.rrule,
    ];
    let params: Vec<&(dyn ToSql + Sync)> = keys.iter().copied().chain(fields).collect();
    tx.query(sql, &params).await
}

/// Creates an event in `ctx`'s workspace with its contact links (422 `contact_ids` when one is not a contact of
/// the workspace) and returns it.
pub async fn create(tx: &mut CallerTx, ctx: &WorkspaceCtx, valid: &ValidEvent) -> ApiResult<Event> {
    let id = Uuid::new_v4();
    write(
        tx,
        "insert into public.calendar_events (id, org_id, workspace_id, title, description, starts_at, ends_at,
                                             all_day, timezone, location, attendees, rrule)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[&id, &ctx.org_id, &ctx.workspace_id],
        valid,
    )
    .await?;
    link_contacts(tx, ctx, id, &valid.contact_ids).await?;
    get(tx, ctx, id).await
}

/// Replaces an event's fields (its contact links too when `relink`), bumps its SEQUENCE and returns it; 404 when
/// it is not in the workspace.
pub async fn update(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    id: Uuid,
    valid: &ValidEvent,
    relink: bool,
) -> ApiResult<Event> {
    let updated = write(
        tx,
        "update public.calendar_events
            set title = $3, description = $4, starts_at = $5, ends_at = $6, all_day = $7, timezone = $8,
                location = $9, attendees = $10, rrule = $11, sequence = sequence + 1
          where workspace_id = $1 and id = $2 returning id",
        &[&ctx.workspace_id, &id],
        valid,
    )
    .await?;
    if updated.is_empty() {
        return Err(ApiError::not_found());
    }
    if relink {
        link_contacts(tx, ctx, id, &valid.contact_ids).await?;
    }
    get(tx, ctx, id).await
}

/// Changes one occurrence of the series `series_id` (the one that starts at `occurrence`): a changed occurrence
/// is an event of its own in the series' place for that start, made on the first change and replaced on the
/// next. Returns it.
pub async fn change_occurrence(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    series_id: Uuid,
    occurrence: DateTime<Utc>,
    valid: &ValidEvent,
    relink: bool,
) -> ApiResult<Event> {
    let id = Uuid::new_v4();
    let saved = write(
        tx,
        "insert into public.calendar_events (id, org_id, workspace_id, series_id, recurrence_id, title, description,
                                             starts_at, ends_at, all_day, timezone, location, attendees, rrule)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         on conflict (series_id, recurrence_id) do update
            set title = excluded.title, description = excluded.description, starts_at = excluded.starts_at,
                ends_at = excluded.ends_at, all_day = excluded.all_day, timezone = excluded.timezone,
                location = excluded.location, attendees = excluded.attendees,
                sequence = public.calendar_events.sequence + 1
         returning id, (xmax = 0) as made",
        &[&id, &ctx.org_id, &ctx.workspace_id, &series_id, &occurrence],
        valid,
    )
    .await?;
    let row = saved.first().ok_or_else(ApiError::not_found)?;
    let (id, made): (Uuid, bool) = (row.get("id"), row.get("made"));
    if made || relink {
        link_contacts(tx, ctx, id, &valid.contact_ids).await?;
    }
    get(tx, ctx, id).await
}

/// Cancels the occurrence of the series `series_id` that starts at `occurrence` (a changed one goes too), or 404.
pub async fn cancel_occurrence(
    tx: &mut CallerTx,
    ctx: &WorkspaceCtx,
    series_id: Uuid,
    occurrence: DateTime<Utc>,
) -> ApiResult<()> {
    let updated = tx
        .query(
            "update public.calendar_events
                set exdates = case when $3 = any(exdates) then exdates else array_append(exdates, $3) end,
                    sequence = sequence + 1
              where workspace_id = $1 and id = $2 and rrule is not null returning id",
            &[&ctx.workspace_id, &series_id, &occurrence],
        )
        .await?;
    if updated.is_empty() {
        return Err(ApiError::not_found());
    }
    tx.query(
        "delete from public.calendar_events where workspace_id = $1 and series_id = $2 and recurrence_id = $3",
        &[&ctx.workspace_id, &series_id, &occurrence],
    )
    .await?;
    Ok(())
}

/// Deletes an event (its contact links go with it, a series its changed occurrences), or 404. Deleting a
/// changed occurrence cancels that occurrence: the series does not bring back what it replaced.
pub async fn delete(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<()> {
    let deleted = tx
        .query(
            "with gone as (
               delete from public.calendar_events where workspace_id = $1 and id = $2
               returning id, series_id, recurrence_id
             ), cancelled as (
               update public.calendar_events s
                  set exdates = array_append(s.exdates, gone.recurrence_id), sequence = s.sequence + 1
                 from gone
                where s.workspace_id = $1 and s.id = gone.series_id and not (gone.recurrence_id = any(s.exdates))
             )
             select id from gone",
            &[&ctx.workspace_id, &id],
        )
        .await?;
    if deleted.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// The caller's calendar subscription to `ctx`'s workspace.
pub async fn subscription(tx: &mut CallerTx, ctx: &WorkspaceCtx) -> ApiResult<Subscription> {
    let row = tx
        .query_opt(
            "select created_at from public.calendar_subscriptions where workspace_id = $1 and user_id = $2",
            &[&ctx.workspace_id, &ctx.user_id],
        )
        .await?;
    Ok(Subscription {
        workspace_id: ctx.workspace_id,
        active: row.is_some(),
        created_at: row.map(|row| row.get("created_at")),
    })
}

/// Makes the caller's subscription URL for `ctx`'s workspace, or a new one in place of the old (which stops
/// working at once): the token is returned this once, only its hash is stored. 403 `insufficient_role` in an
/// organization that requires a second factor (the policy refuses: a calendar app cannot show one).
pub async fn subscribe(tx: &mut CallerTx, ctx: &WorkspaceCtx) -> ApiResult<NewSubscription> {
    let (token, hash) = feed_token();
    let row = tx
        .query_one(
            "insert into public.calendar_subscriptions (org_id, workspace_id, user_id, token_hash)
             values ($1, $2, $3, $4)
             on conflict (user_id, workspace_id) do update set token_hash = excluded.token_hash, created_at = now()
             returning created_at",
            &[&ctx.org_id, &ctx.workspace_id, &ctx.user_id, &hash],
        )
        .await?;
    Ok(NewSubscription {
        workspace_id: ctx.workspace_id,
        created_at: row.get("created_at"),
        path: format!("/calendar/feed/{token}.ics"),
        token,
    })
}

/// Revokes the caller's subscription URL for `ctx`'s workspace, or 404 when there is none.
pub async fn unsubscribe(tx: &mut CallerTx, ctx: &WorkspaceCtx) -> ApiResult<()> {
    let deleted = tx
        .query(
            "delete from public.calendar_subscriptions where workspace_id = $1 and user_id = $2 returning id",
            &[&ctx.workspace_id, &ctx.user_id],
        )
        .await?;
    if deleted.is_empty() {
        return Err(ApiError::not_found());
    }
    Ok(())
}
