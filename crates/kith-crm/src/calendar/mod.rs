//! `/api/calendar/events`: events of a workspace with attendees, linked contacts, all-day events, IANA time zones
//! and RRULE recurrences (expanded inside the asked window with the `rrule` crate), plus an `.ics` export.

pub mod ics;
pub mod recurrence;

use crate::context::{Item, ItemQuery, OrgRole, WorkspaceCtx, delete_item, item_ctx, same_workspace, workspace_ctx};
use crate::input::{self, ApiQuery, Checked, Invalid};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::{Json, response::IntoResponse};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use kith_db::tokio_postgres::Row;
use kith_db::{Access, CallerTx};
use kith_http::{ApiError, ApiJson, ApiResult, AppState, AuthUser};
use recurrence::{Budget, Expansion, Series};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Instant;
use uuid::Uuid;

/// Longest window a query may ask for.
const MAX_WINDOW_DAYS: i64 = 366;
/// Most occurrences one listing returns.
const MAX_LISTED: usize = 5_000;
/// Occurrences one listing may generate while expanding (inside the window or not): about 10 ms of work.
const EXPANSION_STEPS: u32 = 50_000;
/// Wall-clock bound on one listing's expansion, whatever the steps cost.
const EXPANSION_DEADLINE: std::time::Duration = std::time::Duration::from_millis(500);
/// Set on a listing that was cut off by the bounds above.
pub const TRUNCATED_HEADER: &str = "x-kith-truncated";
const MAX_ATTENDEES: usize = 100;
const MAX_LINKED_CONTACTS: usize = 100;

/// An attendee's answer (RFC 5545 PARTSTAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttendeeStatus {
    /// No answer yet.
    #[default]
    NeedsAction,
    /// Coming.
    Accepted,
    /// Not coming.
    Declined,
    /// Maybe.
    Tentative,
}

impl AttendeeStatus {
    /// The PARTSTAT value.
    pub fn partstat(self) -> &'static str {
        match self {
            AttendeeStatus::NeedsAction => "NEEDS-ACTION",
            AttendeeStatus::Accepted => "ACCEPTED",
            AttendeeStatus::Declined => "DECLINED",
            AttendeeStatus::Tentative => "TENTATIVE",
        }
    }
}

/// An attendee.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attendee {
    /// Email address.
    #[schema(min_length = 1, max_length = 255)]
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Their answer.
    #[serde(default)]
    pub status: AttendeeStatus,
}

/// An event as stored.
#[derive(Debug, Clone)]
pub struct Event {
    /// Id.
    pub id: Uuid,
    /// Workspace.
    pub workspace_id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Start (for all-day events, midnight of the first day in `timezone`).
    pub starts_at: DateTime<Utc>,
    /// End (exclusive).
    pub ends_at: DateTime<Utc>,
    /// All-day.
    pub all_day: bool,
    /// IANA zone.
    pub timezone: String,
    /// Location.
    pub location: Option<String>,
    /// Attendees.
    pub attendees: Vec<Attendee>,
    /// Linked contacts.
    pub contact_ids: Vec<Uuid>,
    /// RRULE (without `RRULE:`).
    pub rrule: Option<String>,
    /// Bumped on every change (iCalendar SEQUENCE).
    pub sequence: i32,
    /// Last change (iCalendar DTSTAMP).
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "e.id, e.workspace_id, e.title, e.description, e.starts_at, e.ends_at, e.all_day, e.timezone,
    e.location, e.attendees, e.rrule, e.sequence, e.updated_at,
    coalesce((select array_agg(ec.contact_id order by ec.contact_id) from public.event_contacts ec
              where ec.event_id = e.id and ec.workspace_id = e.workspace_id), '{}') as contact_ids";

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
    }
}

fn to_json(e: &Event, occurrence: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Value {
    let (starts_at, ends_at) = occurrence.unwrap_or((e.starts_at, e.ends_at));
    json!({
        "id": e.id,
        "workspace_id": e.workspace_id,
        "title": e.title,
        "description": e.description,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "all_day": e.all_day,
        "timezone": e.timezone,
        "location": e.location,
        "attendees": e.attendees,
        "contact_ids": e.contact_ids,
        "rrule": e.rrule,
        "occurrence_start": occurrence.map(|o| o.0),
    })
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

/// Parses and checks an RRULE against its start; `Invalid` names the `rrule` field.
pub fn parse_rrule(rule: &str, starts_at: DateTime<Utc>, tz: Tz) -> Checked<rrule::RRuleSet> {
    recurrence::build(rule, starts_at, tz).map_err(|e| Invalid::new("rrule", e.0))
}

/// The occurrences of `e` that overlap `[from, to)`, as (start, end), within what `budget` allows.
pub fn occurrences(e: &Event, from: DateTime<Utc>, to: DateTime<Utc>, budget: &mut Budget) -> Expansion {
    match &e.rrule {
        None => {
            let duration = e.ends_at - e.starts_at;
            let overlaps = e.starts_at < to && (e.ends_at > from || (duration.is_zero() && e.starts_at >= from));
            Expansion {
                occurrences: if overlaps {
                    vec![(e.starts_at, e.ends_at)]
                } else {
                    vec![]
                },
                truncated: false,
            }
        }
        Some(rule) => Series {
            rule,
            starts_at: e.starts_at,
            duration: e.ends_at - e.starts_at,
            tz: zone(&e.timezone),
        }
        .expand(from, to, budget),
    }
}

/// One occurrence of an event inside a window.
#[derive(Debug, Clone)]
pub struct Occurrence {
    /// The event (shared by all its occurrences).
    pub event: std::sync::Arc<Event>,
    /// This occurrence's start.
    pub starts_at: DateTime<Utc>,
    /// This occurrence's end (exclusive).
    pub ends_at: DateTime<Utc>,
}

impl Occurrence {
    fn to_json(&self) -> Value {
        let shown = self.event.rrule.is_some().then_some((self.starts_at, self.ends_at));
        to_json(&self.event, shown)
    }
}

/// The occurrences of a window, sorted by start.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Occurrences overlapping the window.
    pub occurrences: Vec<Occurrence>,
    /// Whether the expansion budget or the listing cap cut something off.
    pub truncated: bool,
}

/// One listing's events expanded into the window, sorted by start.
fn expand_listing(events: Vec<Event>, from: DateTime<Utc>, to: DateTime<Utc>) -> Window {
    let mut budget = Budget::new(EXPANSION_STEPS, Instant::now() + EXPANSION_DEADLINE);
    let mut truncated = false;
    let mut out: Vec<Occurrence> = Vec::new();
    for e in events {
        let expansion = occurrences(&e, from, to, &mut budget);
        truncated |= expansion.truncated;
        let event = std::sync::Arc::new(e);
        for (starts_at, ends_at) in expansion.occurrences {
            out.push(Occurrence {
                event: event.clone(),
                starts_at,
                ends_at,
            });
            if out.len() >= MAX_LISTED {
                truncated = true;
                break;
            }
        }
        if out.len() >= MAX_LISTED {
            break;
        }
    }
    out.sort_by_key(|o| o.starts_at);
    Window {
        occurrences: out,
        truncated,
    }
}

/// The stored events of `ctx`'s workspace that may overlap `[from, to)` (recurring ones from any start): what
/// `GET /api/calendar/events` and the dashboard both read, to be expanded with [`expand`] once committed.
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

/// `events` as occurrences inside `[from, to)`, sorted by start. Expansion is CPU work whose size the events
/// decide: it runs on a blocking thread, after the caller's transaction has given its connection back.
pub async fn expand(events: Vec<Event>, from: DateTime<Utc>, to: DateTime<Utc>) -> ApiResult<Window> {
    tokio::task::spawn_blocking(move || expand_listing(events, from, to))
        .await
        .map_err(|e| ApiError::internal(&e))
}

/// `GET /api/calendar/events` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    #[param(value_type = Uuid, required = true)]
    workspace_id: Option<String>,
    /// Window start: an RFC 3339 time or a `YYYY-MM-DD` date (default now).
    from: Option<String>,
    /// Window end, after `from`, at most 366 days later (default `from` + 7 days).
    to: Option<String>,
}

/// `GET /api/calendar/events?workspace_id=&from=&to=`: events overlapping the window (default now → +7 days),
/// one entry per occurrence for recurring events, sorted by start.
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<WindowQuery>,
) -> ApiResult<axum::response::Response> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let from = match query.from.as_deref() {
        Some(raw) => input::time_or_date("from", raw)?,
        None => Utc::now(),
    };
    let to = match query.to.as_deref() {
        Some(raw) => input::time_or_date("to", raw)?,
        None => from + Duration::days(7),
    };
    if to <= from {
        return Err(ApiError::validation("to", "must be after from"));
    }
    if to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::validation(
            "to",
            format!("the window may span at most {MAX_WINDOW_DAYS} days"),
        ));
    }
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    let ctx = workspace_ctx(&mut tx, &user, workspace_id, OrgRole::Viewer).await?;
    let events = window(&mut tx, &ctx, from, to).await?;
    tx.commit().await?;
    let listed = expand(events, from, to).await?;
    let json: Vec<Value> = listed.occurrences.iter().map(Occurrence::to_json).collect();
    let mut response = Json(json).into_response();
    if listed.truncated {
        response
            .headers_mut()
            .insert(TRUNCATED_HEADER, header::HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// `POST /api/calendar/events` body and `PATCH` body (absent fields stay; `null` clears optional ones).
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    workspace_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 300)]
    title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 5000)]
    description: Option<Option<String>>,
    /// RFC 3339 (a `YYYY-MM-DD` date for all-day events), between 1900 and 2200.
    #[schema(format = DateTime)]
    starts_at: Option<String>,
    /// After `starts_at` (default: an hour, or a day when all-day, later).
    #[schema(format = DateTime)]
    ends_at: Option<String>,
    all_day: Option<bool>,
    /// An IANA time zone name (default UTC).
    #[schema(examples("Europe/Berlin"))]
    timezone: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 500)]
    location: Option<Option<String>>,
    #[schema(max_items = 100)]
    attendees: Option<Vec<Attendee>>,
    /// Contacts of the same workspace.
    #[schema(max_items = 100)]
    contact_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "present")]
    /// An RFC 5545 RRULE, hourly or coarser, such as `FREQ=WEEKLY;BYDAY=MO`.
    #[schema(max_length = 500)]
    rrule: Option<Option<String>>,
}

/// A checked event (before it has an id).
#[derive(Debug, Clone)]
struct ValidEvent {
    title: String,
    description: Option<String>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    all_day: bool,
    timezone: Tz,
    location: Option<String>,
    attendees: Vec<Attendee>,
    contact_ids: Vec<Uuid>,
    rrule: Option<String>,
}

/// Midnight of the local date of `t` in `tz`, as UTC.
fn local_midnight(t: DateTime<Utc>, tz: Tz) -> Checked<DateTime<Utc>> {
    let date: NaiveDate = t.with_timezone(&tz).date_naive();
    date.and_hms_opt(0, 0, 0)
        .and_then(|naive| tz.from_local_datetime(&naive).earliest())
        .map(|local| local.with_timezone(&Utc))
        .ok_or_else(|| Invalid::new("starts_at", "has no midnight in this time zone"))
}

/// For all-day events a bare date means that day in the event's zone.
fn when(field: &str, raw: &str, tz: Tz) -> Checked<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
        let t = date
            .and_hms_opt(0, 0, 0)
            .and_then(|naive| tz.from_local_datetime(&naive).earliest())
            .map(|local| local.with_timezone(&Utc))
            .ok_or_else(|| Invalid::new(field, "has no midnight in this time zone"))?;
        return input::in_range(field, t);
    }
    input::time(field, raw)
}

fn attendees(list: Vec<Attendee>) -> Checked<Vec<Attendee>> {
    if list.len() > MAX_ATTENDEES {
        return Err(Invalid::new("attendees", format!("at most {MAX_ATTENDEES} attendees")));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for a in list {
        let email = input::email("attendees.email", Some(a.email))?
            .ok_or_else(|| Invalid::new("attendees.email", "is required"))?;
        let name = input::text("attendees.name", a.name, 200, false)?;
        if seen.insert(email.clone()) {
            out.push(Attendee {
                email,
                name,
                status: a.status,
            });
        }
    }
    Ok(out)
}

impl ValidEvent {
    /// Checks `input` over `base` (the stored event for a PATCH).
    fn check(input: EventInput, base: Option<&Event>) -> Checked<Self> {
        let title = match (input.title, base) {
            (Some(title), _) => input::required_text("title", Some(title), 300)?,
            (None, Some(b)) => b.title.clone(),
            (None, None) => return Err(Invalid::new("title", "is required")),
        };
        let description = match input.description {
            Some(d) => input::text("description", d, 5000, true)?,
            None => base.and_then(|b| b.description.clone()),
        };
        let location = match input.location {
            Some(l) => input::text("location", l, 500, false)?,
            None => base.and_then(|b| b.location.clone()),
        };
        let timezone = match (input.timezone, base) {
            (Some(tz), _) => input::timezone("timezone", Some(tz))?,
            (None, Some(b)) => zone(&b.timezone),
            (None, None) => chrono_tz::UTC,
        };
        let all_day = input.all_day.or(base.map(|b| b.all_day)).unwrap_or(false);
        let mut starts_at = match (input.starts_at.as_deref(), base) {
            (Some(raw), _) => when("starts_at", raw, timezone)?,
            (None, Some(b)) => b.starts_at,
            (None, None) => return Err(Invalid::new("starts_at", "is required")),
        };
        let mut ends_at = match (input.ends_at.as_deref(), base) {
            (Some(raw), _) => when("ends_at", raw, timezone)?,
            (None, Some(b)) if input.starts_at.is_none() => b.ends_at,
            (None, Some(b)) => starts_at + (b.ends_at - b.starts_at),
            (None, None) if all_day => starts_at + Duration::days(1),
            (None, None) => starts_at + Duration::hours(1),
        };
        if all_day {
            starts_at = local_midnight(starts_at, timezone)?;
            let end = local_midnight(ends_at, timezone)?;
            ends_at = if end <= starts_at {
                starts_at + Duration::days(1)
            } else {
                end
            };
        }
        if ends_at < starts_at {
            return Err(Invalid::new("ends_at", "must not be before starts_at"));
        }
        if ends_at - starts_at > Duration::days(366) {
            return Err(Invalid::new("ends_at", "an event may last at most 366 days"));
        }
        let attendees = match input.attendees {
            Some(list) => attendees(list)?,
            None => base.map(|b| b.attendees.clone()).unwrap_or_default(),
        };
        let contact_ids = match input.contact_ids {
            Some(ids) => {
                if ids.len() > MAX_LINKED_CONTACTS {
                    return Err(Invalid::new(
                        "contact_ids",
                        format!("at most {MAX_LINKED_CONTACTS} linked contacts"),
                    ));
                }
                let mut ids = ids;
                ids.sort();
                ids.dedup();
                ids
            }
            None => base.map(|b| b.contact_ids.clone()).unwrap_or_default(),
        };
        let rrule = match input.rrule {
            Some(r) => input::text("rrule", r, 500, false)?,
            None => base.and_then(|b| b.rrule.clone()),
        };
        let rrule = match rrule {
            Some(rule) => {
                parse_rrule(&rule, starts_at, timezone)?;
                Some(rule.trim().trim_start_matches("RRULE:").to_owned())
            }
            None => None,
        };
        Ok(ValidEvent {
            title,
            description,
            starts_at,
            ends_at,
            all_day,
            timezone,
            location,
            attendees,
            contact_ids,
            rrule,
        })
    }
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

async fn read_event(tx: &mut CallerTx, ctx: &WorkspaceCtx, id: Uuid) -> ApiResult<Event> {
    tx.query_opt(
        &format!("select {COLUMNS} from public.calendar_events e where e.workspace_id = $1 and e.id = $2"),
        &[&ctx.workspace_id, &id],
    )
    .await?
    .map(|row| event(&row))
    .ok_or_else(ApiError::not_found)
}

fn attendees_json(list: &[Attendee]) -> Value {
    json!(list)
}

/// `POST /api/calendar/events`: 201 with the event.
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ApiJson(body): ApiJson<EventInput>,
) -> ApiResult<impl IntoResponse> {
    let workspace_id = body
        .workspace_id
        .ok_or_else(|| ApiError::validation("workspace_id", "is required"))?;
    let valid = ValidEvent::check(body, None)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = workspace_ctx(&mut tx, &user, workspace_id, OrgRole::Member).await?;
    let id = Uuid::new_v4();
    tx.query(
        "insert into public.calendar_events (id, org_id, workspace_id, title, description, starts_at, ends_at,
                                             all_day, timezone, location, attendees, rrule)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &id,
            &ctx.org_id,
            &ctx.workspace_id,
            &valid.title,
            &valid.description,
            &valid.starts_at,
            &valid.ends_at,
            &valid.all_day,
            &valid.timezone.name(),
            &valid.location,
            &attendees_json(&valid.attendees),
            &valid.rrule,
        ],
    )
    .await?;
    link_contacts(&mut tx, &ctx, id, &valid.contact_ids).await?;
    let e = read_event(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(to_json(&e, None))))
}

/// `PATCH /api/calendar/events/{id}`.
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EventInput>,
) -> ApiResult<Json<Value>> {
    let id = input::path_id(&id)?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadWrite).await?;
    let ctx = item_ctx(&mut tx, &user, Item::Event, id, OrgRole::Member).await?;
    same_workspace(&ctx, body.workspace_id.map(|w| w.to_string()).as_deref())?;
    let current = read_event(&mut tx, &ctx, id).await?;
    let relink = body.contact_ids.is_some();
    let valid = ValidEvent::check(body, Some(&current))?;
    tx.query(
        "update public.calendar_events
            set title = $3, description = $4, starts_at = $5, ends_at = $6, all_day = $7, timezone = $8,
                location = $9, attendees = $10, rrule = $11, sequence = sequence + 1
          where workspace_id = $1 and id = $2",
        &[
            &ctx.workspace_id,
            &id,
            &valid.title,
            &valid.description,
            &valid.starts_at,
            &valid.ends_at,
            &valid.all_day,
            &valid.timezone.name(),
            &valid.location,
            &attendees_json(&valid.attendees),
            &valid.rrule,
        ],
    )
    .await?;
    if relink {
        link_contacts(&mut tx, &ctx, id, &valid.contact_ids).await?;
    }
    let e = read_event(&mut tx, &ctx, id).await?;
    tx.commit().await?;
    Ok(Json(to_json(&e, None)))
}

/// `DELETE /api/calendar/events/{id}`: 204.
pub async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<StatusCode> {
    delete_item(&state, &user, Item::Event, &id, &query).await
}

/// `GET /api/calendar/events.ics?workspace_id=`: every event of the workspace (recurring ones as one VEVENT with
/// their RRULE).
pub async fn export_ics(
    State(state): State<AppState>,
    user: AuthUser,
    ApiQuery(query): ApiQuery<ItemQuery>,
) -> ApiResult<impl IntoResponse> {
    let workspace_id = input::uuid("workspace_id", query.workspace_id.as_deref())?;
    let mut tx = state.db.begin_as(&user.caller, Access::ReadOnly).await?;
    let ctx = workspace_ctx(&mut tx, &user, workspace_id, OrgRole::Viewer).await?;
    let rows = tx
        .query(
            &format!(
                "select {COLUMNS} from public.calendar_events e where e.workspace_id = $1 order by e.starts_at, e.id"
            ),
            &[&ctx.workspace_id],
        )
        .await?;
    tx.commit().await?;
    let events: Vec<Event> = rows.iter().map(event).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "text/calendar; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"calendar.ics\""),
        ],
        ics::calendar(&events, Utc::now()),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn occurrences(e: &Event, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        let mut budget = Budget::new(u32::MAX, Instant::now() + std::time::Duration::from_secs(60));
        super::occurrences(e, from, to, &mut budget).occurrences
    }

    fn sample(rrule: Option<&str>, tz: &str) -> Event {
        Event {
            id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            title: "Standup".into(),
            description: None,
            starts_at: t("2026-03-02T09:00:00Z"),
            ends_at: t("2026-03-02T09:30:00Z"),
            all_day: false,
            timezone: tz.into(),
            location: None,
            attendees: vec![],
            contact_ids: vec![],
            rrule: rrule.map(str::to_owned),
            sequence: 0,
            updated_at: t("2026-03-01T00:00:00Z"),
        }
    }

    #[test]
    fn recurrences_expand_inside_the_window_only() {
        let e = sample(Some("FREQ=DAILY;COUNT=10"), "UTC");
        let got = occurrences(&e, t("2026-03-04T00:00:00Z"), t("2026-03-07T00:00:00Z"));
        let starts: Vec<String> = got.iter().map(|o| o.0.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-03-04T09:00:00+00:00",
                "2026-03-05T09:00:00+00:00",
                "2026-03-06T09:00:00+00:00"
            ]
        );
        assert!(got.iter().all(|(s, e)| *e - *s == Duration::minutes(30)));
        // An occurrence already running at the window's start overlaps it.
        let got = occurrences(&e, t("2026-03-04T09:15:00Z"), t("2026-03-04T10:00:00Z"));
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn recurrences_follow_the_events_time_zone_across_dst() {
        // 09:00 in Berlin: 08:00Z in winter, 07:00Z after the switch on 2026-03-29.
        let mut e = sample(Some("FREQ=WEEKLY;COUNT=3"), "Europe/Berlin");
        e.starts_at = t("2026-03-23T08:00:00Z");
        e.ends_at = t("2026-03-23T09:00:00Z");
        let got = occurrences(&e, t("2026-03-01T00:00:00Z"), t("2026-05-01T00:00:00Z"));
        let starts: Vec<String> = got.iter().map(|o| o.0.to_rfc3339()).collect();
        assert_eq!(
            starts,
            [
                "2026-03-23T08:00:00+00:00",
                "2026-03-30T07:00:00+00:00",
                "2026-04-06T07:00:00+00:00"
            ]
        );
    }

    #[test]
    fn bad_rrules_are_refused() {
        for bad in [
            "FREQ=SOMETIMES",
            "DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY",
            "hello",
            "FREQ=DAILY;COUNT=x",
        ] {
            assert_eq!(
                parse_rrule(bad, Utc::now(), chrono_tz::UTC).unwrap_err().field,
                "rrule",
                "{bad}"
            );
        }
        assert!(parse_rrule("RRULE:FREQ=WEEKLY;BYDAY=MO,WE", Utc::now(), chrono_tz::UTC).is_ok());
    }

    #[test]
    fn all_day_events_span_whole_local_days() {
        let input = EventInput {
            title: Some("Offsite".into()),
            starts_at: Some("2026-05-04".into()),
            all_day: Some(true),
            timezone: Some("America/New_York".into()),
            ..EventInput::default()
        };
        let v = ValidEvent::check(input, None).unwrap();
        assert_eq!(v.starts_at, t("2026-05-04T04:00:00Z"));
        assert_eq!(v.ends_at, t("2026-05-05T04:00:00Z"));
    }

    #[test]
    fn event_input_is_checked() {
        let base = || EventInput {
            title: Some("x".into()),
            starts_at: Some("2026-05-04T10:00:00Z".into()),
            ..EventInput::default()
        };
        let field = |input: EventInput| ValidEvent::check(input, None).unwrap_err().field;
        assert_eq!(
            field(EventInput {
                ends_at: Some("2026-05-04T09:00:00Z".into()),
                ..base()
            }),
            "ends_at"
        );
        assert_eq!(
            field(EventInput {
                timezone: Some("Mars/Base".into()),
                ..base()
            }),
            "timezone"
        );
        assert_eq!(field(EventInput { title: None, ..base() }), "title");
        assert_eq!(
            field(EventInput {
                starts_at: Some("soon".into()),
                ..base()
            }),
            "starts_at"
        );
        assert_eq!(
            field(EventInput {
                attendees: Some(vec![Attendee {
                    email: "nope".into(),
                    name: None,
                    status: AttendeeStatus::Accepted
                }]),
                ..base()
            }),
            "attendees.email"
        );
        let ok = ValidEvent::check(base(), None).unwrap();
        assert_eq!(ok.ends_at - ok.starts_at, Duration::hours(1));
    }
}
