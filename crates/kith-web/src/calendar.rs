//! `/dashboard/calendar`: the week (Monday to Sunday) in the user's time zone — seven columns on wide screens, a
//! day list on narrow ones, from the same markup — with recurring occurrences expanded and all-day events marked;
//! "New event" (title, date, times or all day, time zone, recurrence presets or a custom RRULE, attendees, linked
//! contacts) and `/dashboard/calendar/events/{id}` to edit or delete an event (the whole series: the API has no
//! per-occurrence exceptions yet); the workspace's `.ics` file and the user's subscription URL for calendar apps.
//!
//! Reads: one read-only caller transaction (`calendar::window`, the `/api` listing's own query; expansion after
//! commit with the same budget). Writes: the `/api` handlers in process (`api.rs`).

use crate::WebState;
use crate::api;
use crate::auth_pages::{form, see_other};
use crate::current::{self, Current, refused_write};
use crate::errors::{forbidden_response, internal_error_response, not_found_response};
use crate::render::{Chrome, page};
use crate::session::Visitor;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use kith_auth::browser::BrowserSession;
use kith_crm::calendar::Event;
use kith_crm::calendar::{expand, store as calendar_store, window};
use kith_crm::context::{Item, OrgRole, item_ctx};
use kith_crm::pages;
use kith_db::Access;
use kith_http::{ApiError, AuthUser};
use serde_json::{Value, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Contacts offered for linking in the event form.
const CONTACT_CHOICES: i64 = 200;

/// Recurrence presets: (value, label, RRULE).
const PRESETS: [(&str, &str, &str); 6] = [
    ("", "Does not repeat", ""),
    ("daily", "Every day", "FREQ=DAILY"),
    (
        "weekdays",
        "Every weekday (Monday to Friday)",
        "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
    ),
    ("weekly", "Every week", "FREQ=WEEKLY"),
    ("monthly", "Every month", "FREQ=MONTHLY"),
    ("yearly", "Every year", "FREQ=YEARLY"),
];

fn chrome(visitor: &mut Visitor, session: &BrowserSession, title: &str) -> Chrome {
    let mut chrome = Chrome::new(title, "Your calendar.", "");
    chrome.csrf = visitor.csrf();
    chrome.user_email = Some(session.email.clone());
    chrome.dashboard = "calendar";
    chrome
}

fn query_map(query: Option<&str>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Midnight of `date` in `tz`, as UTC (the first instant of the day where midnight falls in a DST gap).
fn midnight(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let local = date.and_time(NaiveTime::MIN);
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(local + Duration::hours(1))).earliest())
        .map_or_else(|| Utc.from_utc_datetime(&local), |t| t.with_timezone(&Utc))
}

/// The Monday of the week holding `date`.
fn monday_of(date: NaiveDate) -> NaiveDate {
    date - Duration::days(i64::from(date.weekday().num_days_from_monday()))
}

/// The event form's values and the API's refusal.
#[derive(Default, Clone)]
struct EventForm {
    title: String,
    date: String,
    start: String,
    end: String,
    all_day: bool,
    timezone: String,
    repeat: String,
    rrule: String,
    attendees: String,
    location: String,
    description: String,
    contact_ids: Vec<Uuid>,
    error: Option<(String, String)>,
}

impl EventForm {
    fn blank(tz: Tz, date: NaiveDate) -> Self {
        EventForm {
            date: date.to_string(),
            start: "09:00".into(),
            end: "10:00".into(),
            timezone: tz.name().to_owned(),
            ..EventForm::default()
        }
    }

    /// The form of `e`, or of its occurrence that starts at `occurrence`.
    fn from_event(e: &Event, occurrence: Option<DateTime<Utc>>) -> Self {
        let tz: Tz = e.timezone.parse().unwrap_or(chrono_tz::UTC);
        let (starts_at, ends_at) = match occurrence {
            Some(at) => (at, at + (e.ends_at - e.starts_at)),
            None => (e.starts_at, e.ends_at),
        };
        let start = starts_at.with_timezone(&tz);
        let end = ends_at.with_timezone(&tz);
        let preset = PRESETS
            .iter()
            .find(|p| !p.2.is_empty() && e.rrule.as_deref() == Some(p.2))
            .map(|p| p.0);
        EventForm {
            title: e.title.clone(),
            date: start.date_naive().to_string(),
            start: start.format("%H:%M").to_string(),
            end: end.format("%H:%M").to_string(),
            all_day: e.all_day,
            timezone: e.timezone.clone(),
            repeat: match (&e.rrule, preset) {
                (None, _) => String::new(),
                (Some(_), Some(p)) => p.to_owned(),
                (Some(_), None) => "custom".into(),
            },
            rrule: if preset.is_none() {
                e.rrule.clone().unwrap_or_default()
            } else {
                String::new()
            },
            attendees: e
                .attendees
                .iter()
                .map(|a| a.email.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            location: e.location.clone().unwrap_or_default(),
            description: e.description.clone().unwrap_or_default(),
            contact_ids: e.contact_ids.clone(),
            error: None,
        }
    }

    fn from_fields(body: &Bytes) -> Self {
        let mut f = EventForm::default();
        for (k, v) in url::form_urlencoded::parse(body) {
            let v = v.into_owned();
            match k.as_ref() {
                "title" => f.title = v,
                "date" => f.date = v,
                "start" => f.start = v,
                "end" => f.end = v,
                "all_day" => f.all_day = !v.is_empty(),
                "timezone" => f.timezone = v,
                "repeat" => f.repeat = v,
                "rrule" => f.rrule = v,
                "attendees" => f.attendees = v,
                "location" => f.location = v,
                "description" => f.description = v,
                // Repeated: one value per linked contact (bounded by the API's 100).
                "contact_ids" if f.contact_ids.len() <= 100 => {
                    if let Ok(id) = Uuid::parse_str(v.trim()) {
                        f.contact_ids.push(id);
                    }
                }
                _ => {}
            }
        }
        f
    }

    /// The `/api/calendar/events` body: local date and times in the event's zone become RFC 3339 instants; what
    /// cannot be read is passed on as written, so the API names the field.
    fn json(&self) -> Value {
        let tz: Option<Tz> = self.timezone.parse().ok();
        let at = |time: &str| -> String {
            let parsed = NaiveDate::parse_from_str(self.date.trim(), "%Y-%m-%d")
                .ok()
                .zip(NaiveTime::parse_from_str(time.trim(), "%H:%M").ok())
                .zip(tz)
                .and_then(|((d, t), tz)| tz.from_local_datetime(&d.and_time(t)).earliest());
            match parsed {
                Some(t) => t.with_timezone(&Utc).to_rfc3339(),
                None => format!("{}T{}", self.date.trim(), time.trim()),
            }
        };
        let rrule = match self.repeat.as_str() {
            "custom" => self.rrule.trim().to_owned(),
            preset => PRESETS
                .iter()
                .find(|p| p.0 == preset)
                .map(|p| p.2.to_owned())
                .unwrap_or_default(),
        };
        let attendees: Vec<Value> = self
            .attendees
            .split([',', ';', '\n'])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .take(101)
            .map(|email| json!({"email": email}))
            .collect();
        let optional = |text: &str| {
            if text.trim().is_empty() {
                Value::Null
            } else {
                json!(text.trim())
            }
        };
        let mut body = json!({
            "title": self.title,
            "all_day": self.all_day,
            "timezone": self.timezone,
            "rrule": if rrule.is_empty() { Value::Null } else { json!(rrule) },
            "attendees": attendees,
            "contact_ids": self.contact_ids,
            "location": optional(&self.location),
            "description": optional(&self.description),
        });
        if self.all_day {
            body["starts_at"] = json!(self.date.trim());
        } else {
            body["starts_at"] = json!(at(&self.start));
            body["ends_at"] = json!(at(&self.end));
        }
        body
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|(f, _)| {
                f == field
                    || (field == "start" && f == "starts_at")
                    || (field == "end" && f == "ends_at")
                    || (field == "attendees" && f.starts_with("attendees"))
            })
            .map(|(_, m)| m.as_str())
    }

    fn general_error(&self) -> Option<&str> {
        const SHOWN: [&str; 10] = [
            "title",
            "starts_at",
            "ends_at",
            "timezone",
            "rrule",
            "location",
            "description",
            "contact_ids",
            "all_day",
            "attendees",
        ];
        self.error
            .as_ref()
            .filter(|(f, _)| !SHOWN.iter().any(|s| f == s || f.starts_with("attendees")))
            .map(|(_, m)| m.as_str())
    }

    fn linked(&self, id: &Uuid) -> bool {
        self.contact_ids.contains(id)
    }

    fn presets(&self) -> Vec<(&'static str, &'static str, bool)> {
        let mut out: Vec<_> = PRESETS.iter().map(|p| (p.0, p.1, p.0 == self.repeat)).collect();
        out.push(("custom", "Custom rule (RRULE)", self.repeat == "custom"));
        out
    }
}

struct Slot {
    /// The page that edits it: the event, or this occurrence of a series.
    href: String,
    when: String,
    title: String,
    all_day: bool,
    /// "repeats", "changed" (one occurrence of a series, changed), or empty.
    note: &'static str,
}

struct Day {
    label: String,
    today: bool,
    slots: Vec<Slot>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    workspace_label: String,
    workspace_id: Uuid,
    timezone: String,
    timezones: &'static [Tz],
    week_label: String,
    previous: String,
    next: String,
    days: Vec<Day>,
    truncated: bool,
    can_write: bool,
    form: EventForm,
    contacts: Vec<(Uuid, String)>,
    /// The edit page of one event (`None`: the week with "New event").
    editing: Option<Uuid>,
    /// On the edit page of one occurrence of a series: its start (RFC 3339) and, for people, its date.
    occurrence: Option<(String, String)>,
    /// On the edit page of a changed occurrence: its series.
    series_id: Option<Uuid>,
    /// When the user's subscription URL for this workspace was made, if there is one.
    subscribed_at: Option<String>,
    /// A subscription URL just made: shown this once.
    feed_url: Option<String>,
}

/// What an edit page edits: an event, or one occurrence (by its start) of a series.
#[derive(Debug, Clone, Copy)]
struct Editing {
    id: Uuid,
    occurrence: Option<DateTime<Utc>>,
}

/// Loads the week starting `monday` (and, when `editing`, that event's form).
async fn load(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    query: Option<&str>,
    editing: Option<Editing>,
) -> Result<Option<CalendarPage>, ApiError> {
    let mut tx = state.db().begin_as(&session.caller, Access::ReadOnly).await?;
    let (current, event) = match editing {
        None => match current::resolve(&mut tx, session, current::asked(query), visitor.workspace.as_deref()).await? {
            Some(current) => (current, None),
            None => return Ok(None),
        },
        Some(Editing { id, .. }) => {
            let user = AuthUser {
                caller: session.caller.clone(),
                user_id: session.user_id,
            };
            let ctx = match item_ctx(&mut tx, &user, Item::Event, id, OrgRole::Viewer).await {
                Ok(ctx) => ctx,
                Err(err) if err.status() == StatusCode::NOT_FOUND => return Ok(None),
                Err(err) => return Err(err),
            };
            let asked = Some(Some(ctx.workspace_id));
            let Some(current) = current::resolve(&mut tx, session, asked, None).await? else {
                return Ok(None);
            };
            let event = match calendar_store::get(&mut tx, &ctx, id).await {
                Ok(event) => event,
                Err(err) if err.status() == StatusCode::NOT_FOUND => return Ok(None),
                Err(err) => return Err(err),
            };
            (current, Some(event))
        }
    };
    let Current { ctx, label, tz } = current;
    let params = query_map(query);
    let today = Utc::now().with_timezone(&tz).date_naive();
    // An occurrence is edited on its own only where the event is a series.
    let occurrence = editing
        .and_then(|e| e.occurrence)
        .filter(|_| event.as_ref().is_some_and(|e| e.rrule.is_some()));
    let anchor = match (&event, occurrence) {
        (Some(_), Some(at)) => at.with_timezone(&tz).date_naive(),
        (Some(e), None) => e.starts_at.with_timezone(&tz).date_naive().max(today),
        (None, _) => params
            .get("week")
            .and_then(|w| NaiveDate::parse_from_str(w.trim(), "%Y-%m-%d").ok())
            .filter(|d| d.year() > 1900 && d.year() < 2200)
            .unwrap_or(today),
    };
    let monday = monday_of(if event.is_some() && occurrence.is_none() {
        today
    } else {
        anchor
    });
    let dates: Vec<NaiveDate> = (0..7).map(|i| monday + Duration::days(i)).collect();
    let from = midnight(monday, tz);
    let to = midnight(monday + Duration::days(7), tz);
    let events = window(&mut tx, &ctx, from, to).await?;
    let subscription = calendar_store::subscription(&mut tx, &ctx).await?;
    let contacts = if ctx.role >= OrgRole::Member {
        pages::contact_choices(&mut tx, &ctx, CONTACT_CHOICES).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let listed = expand(events, from, to).await?;
    let days = dates
        .iter()
        .map(|date| {
            let slots = listed
                .occurrences
                .iter()
                .filter(|o| {
                    let day = if o.event.all_day {
                        let zone: Tz = o.event.timezone.parse().unwrap_or(tz);
                        o.starts_at.with_timezone(&zone).date_naive()
                    } else {
                        o.starts_at.with_timezone(&tz).date_naive()
                    };
                    // Something that began before the week is shown on its first day.
                    day == *date || (*date == monday && day < monday)
                })
                .map(|o| Slot {
                    href: match o.event.rrule {
                        Some(_) => format!(
                            "/dashboard/calendar/events/{}?occurrence={}",
                            o.event.id,
                            url::form_urlencoded::byte_serialize(o.starts_at.to_rfc3339().as_bytes())
                                .collect::<String>()
                        ),
                        None => format!("/dashboard/calendar/events/{}", o.event.id),
                    },
                    when: if o.event.all_day {
                        "All day".into()
                    } else {
                        format!(
                            "{}–{}",
                            o.starts_at.with_timezone(&tz).format("%H:%M"),
                            o.ends_at.with_timezone(&tz).format("%H:%M")
                        )
                    },
                    title: o.event.title.clone(),
                    all_day: o.event.all_day,
                    note: match (&o.event.rrule, o.event.exceptions.replaces) {
                        (Some(_), _) => "repeats",
                        (None, Some(_)) => "changed",
                        (None, None) => "",
                    },
                })
                .collect();
            Day {
                label: format!("{} {} {}", date.format("%A"), date.day(), date.format("%B")),
                today: *date == today,
                slots,
            }
        })
        .collect();
    let sunday = monday + Duration::days(6);
    let form = match &event {
        Some(e) => EventForm::from_event(e, occurrence),
        None => EventForm::blank(tz, if anchor == today { today } else { monday }),
    };
    Ok(Some(CalendarPage {
        chrome: chrome(
            visitor,
            session,
            match (&event, occurrence) {
                (Some(_), Some(_)) => "Edit one occurrence",
                (Some(_), None) => "Edit event",
                (None, _) => "Calendar",
            },
        ),
        workspace_label: label,
        workspace_id: ctx.workspace_id,
        timezone: tz.name().to_owned(),
        timezones: &chrono_tz::TZ_VARIANTS,
        week_label: format!("{} – {}", monday.format("%-d %B"), sunday.format("%-d %B %Y")),
        previous: (monday - Duration::days(7)).to_string(),
        next: (monday + Duration::days(7)).to_string(),
        days,
        truncated: listed.truncated,
        can_write: ctx.role >= OrgRole::Member,
        form,
        contacts,
        occurrence: occurrence.map(|at| {
            let day = at.with_timezone(&tz).format("%A %-d %B %Y").to_string();
            (at.to_rfc3339(), day)
        }),
        series_id: event.as_ref().and_then(|e| e.exceptions.replaces).map(|r| r.0),
        editing: event.map(|e| e.id),
        subscribed_at: subscription
            .created_at
            .map(|t| t.with_timezone(&tz).format("%-d %B %Y, %H:%M").to_string()),
        feed_url: None,
    }))
}

/// `GET /dashboard/calendar[?week=YYYY-MM-DD&workspace_id=]`.
pub async fn show(state: &WebState, visitor: &mut Visitor, session: &BrowserSession, query: Option<&str>) -> Response {
    match load(state, visitor, session, query, None).await {
        Ok(Some(template)) => page(StatusCode::OK, &template),
        Ok(None) => not_found_response(),
        Err(err) => current::refused(&err),
    }
}

/// `GET /dashboard/calendar/events/{id}`: the week with the event's edit form.
pub async fn edit(
    state: &WebState,
    visitor: &mut Visitor,
    session: &BrowserSession,
    raw_id: &str,
    query: Option<&str>,
) -> Response {
    let Ok(id) = Uuid::parse_str(raw_id) else {
        return not_found_response();
    };
    let occurrence = query_map(query).get("occurrence").and_then(|t| parse_instant(t));
    match load(state, visitor, session, None, Some(Editing { id, occurrence })).await {
        Ok(Some(template)) => page(StatusCode::OK, &template),
        Ok(None) => not_found_response(),
        Err(err) => current::refused(&err),
    }
}

/// An RFC 3339 instant, as an occurrence's start is written in links and forms.
fn parse_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn sentence(message: &str) -> String {
    let mut text = message.trim().to_owned();
    if let Some(first) = text.get(0..1) {
        let upper = first.to_uppercase();
        text.replace_range(0..1, &upper);
    }
    if !text.is_empty() && !text.ends_with('.') {
        text.push('.');
    }
    text
}

/// `POST /dashboard/calendar/events`: a new event.
pub async fn submit_new(state: State<WebState>, visitor: Visitor, body: Bytes) -> Response {
    submit(state, visitor, Path(String::new()), body).await
}

/// `POST /dashboard/calendar/events/{id}` (edit) and `/dashboard/calendar/events/{id}/delete`.
pub async fn submit(
    State(state): State<WebState>,
    mut visitor: Visitor,
    Path(rest): Path<String>,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let Some(session) = visitor.session.clone() else {
        return visitor.finish(see_other("/login?next=%2Fdashboard%2Fcalendar"));
    };
    let event_form = EventForm::from_fields(&body);
    let (target, action) = match rest.split_once('/') {
        Some((id, action)) => (Some(id.to_owned()), action.to_owned()),
        None if rest.is_empty() => (None, String::new()),
        None => (Some(rest.clone()), String::new()),
    };
    let id = match target.as_deref().map(Uuid::parse_str) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => return visitor.finish(not_found_response()),
    };
    // One occurrence of a series rather than the event: the API's `occurrence`, checked there.
    let occurrence = fields.get("occurrence").filter(|t| !t.trim().is_empty());
    let scope = occurrence.map_or_else(String::new, |t| {
        format!(
            "?occurrence={}",
            url::form_urlencoded::byte_serialize(t.trim().as_bytes()).collect::<String>()
        )
    });
    let result = match (id, action.as_str()) {
        (None, "") => {
            let raw = fields.get("workspace_id").cloned().unwrap_or_default();
            let Ok(workspace_id) = Uuid::parse_str(raw.trim()) else {
                return visitor.finish(not_found_response());
            };
            let mut body = event_form.json();
            body["workspace_id"] = json!(workspace_id);
            api::call(&state, &session, Method::POST, "/api/calendar/events", Some(&body)).await
        }
        (Some(id), "") => {
            api::call(
                &state,
                &session,
                Method::PATCH,
                &format!("/api/calendar/events/{id}{scope}"),
                Some(&event_form.json()),
            )
            .await
        }
        (Some(id), "delete") => {
            api::call(
                &state,
                &session,
                Method::DELETE,
                &format!("/api/calendar/events/{id}{scope}"),
                None,
            )
            .await
        }
        _ => return visitor.finish(not_found_response()),
    };
    match result {
        Ok(saved) => {
            // Back to the week the event (or the cancelled occurrence) is in.
            let week = saved["starts_at"]
                .as_str()
                .or(occurrence.map(String::as_str))
                .and_then(parse_instant)
                .map(|t| format!("?week={}", t.date_naive()))
                .unwrap_or_default();
            visitor.finish(see_other(&format!("/dashboard/calendar{week}")))
        }
        Err(refusal) => {
            if let Some(response) = refused_write(&refusal) {
                return visitor.finish(response);
            }
            let query = fields.get("workspace_id").map(|w| {
                format!(
                    "workspace_id={}",
                    url::form_urlencoded::byte_serialize(w.as_bytes()).collect::<String>()
                )
            });
            let editing = id.map(|id| Editing {
                id,
                occurrence: occurrence.and_then(|t| parse_instant(t)),
            });
            let response = match load(&state, &mut visitor, &session, query.as_deref(), editing).await {
                Ok(Some(mut template)) => {
                    template.form = event_form;
                    template.form.error = Some((refusal.field.clone().unwrap_or_default(), sentence(&refusal.message)));
                    page(refusal.status, &template)
                }
                Ok(None) => not_found_response(),
                Err(err) => current::refused(&err),
            };
            visitor.finish(response)
        }
    }
}

/// `POST /dashboard/calendar/subscription` (`action` = `make` or `stop`): makes the user's subscription URL for
/// the workspace (a new one revokes the old; the page shows it this once) or turns it off
/// (`/api/calendar/subscription`).
pub async fn subscription(State(state): State<WebState>, mut visitor: Visitor, body: Bytes) -> Response {
    let fields = form(&body);
    if !visitor.csrf_ok(fields.get("csrf").map(String::as_str)) {
        return visitor.finish(forbidden_response());
    }
    let Some(session) = visitor.session.clone() else {
        return visitor.finish(see_other("/login?next=%2Fdashboard%2Fcalendar"));
    };
    let Some(workspace_id) = fields.get("workspace_id").and_then(|w| Uuid::parse_str(w.trim()).ok()) else {
        return visitor.finish(not_found_response());
    };
    let week = format!("/dashboard/calendar?workspace_id={workspace_id}");
    let result = match fields.get("action").map(String::as_str) {
        Some("make") => {
            let body = json!({ "workspace_id": workspace_id });
            api::call(
                &state,
                &session,
                Method::POST,
                "/api/calendar/subscription",
                Some(&body),
            )
            .await
        }
        Some("stop") => {
            let path = format!("/api/calendar/subscription?workspace_id={workspace_id}");
            api::call(&state, &session, Method::DELETE, &path, None).await
        }
        _ => return visitor.finish(not_found_response()),
    };
    let made = match result {
        Ok(made) => made,
        // Turning off a URL that is already off leaves what was asked for.
        Err(refusal)
            if refusal.status == StatusCode::NOT_FOUND && fields.get("action").is_some_and(|a| a == "stop") =>
        {
            Value::Null
        }
        Err(refusal) => {
            let response = refused_write(&refusal).unwrap_or_else(|| {
                crate::errors::error_page(refusal.status, "Not changed", &sentence(&refusal.message))
            });
            return visitor.finish(response);
        }
    };
    let Some(path) = made["path"].as_str() else {
        return visitor.finish(see_other(&week));
    };
    let query = format!("workspace_id={workspace_id}");
    let response = match load(&state, &mut visitor, &session, Some(&query), None).await {
        Ok(Some(mut template)) => {
            template.feed_url = state.settings().site_url.join(path).ok().map(String::from);
            page(StatusCode::OK, &template)
        }
        Ok(None) => not_found_response(),
        Err(err) => current::refused(&err),
    };
    visitor.finish(response)
}

/// `GET /dashboard/calendar/events.ics[?workspace_id=]`: the workspace's `.ics` file (`GET /api/calendar/events.ics`).
pub async fn ics(state: &WebState, visitor: &Visitor, session: &BrowserSession, query: Option<&str>) -> Response {
    let found = async {
        let mut tx = state.db().begin_as(&session.caller, Access::ReadOnly).await?;
        let found = current::resolve(&mut tx, session, current::asked(query), visitor.workspace.as_deref()).await?;
        tx.commit().await?;
        Ok::<_, ApiError>(found)
    }
    .await;
    let current = match found {
        Ok(Some(current)) => current,
        Ok(None) => return not_found_response(),
        Err(err) => return current::refused(&err),
    };
    let path = format!("/api/calendar/events.ics?workspace_id={}", current.ctx.workspace_id);
    match api::download(state, session, &path, "text/calendar; charset=utf-8", "kith.ics").await {
        Ok(file) => file,
        Err(refusal) => refused_write(&refusal).unwrap_or_else(internal_error_response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_form_times_become_instants_in_the_events_zone() {
        let form = EventForm {
            title: "Standup".into(),
            date: "2026-07-01".into(),
            start: "09:30".into(),
            end: "09:45".into(),
            timezone: "Europe/Berlin".into(),
            repeat: "weekdays".into(),
            attendees: "a@x.io, b@x.io".into(),
            ..EventForm::default()
        };
        let body = form.json();
        assert_eq!(body["starts_at"], "2026-07-01T07:30:00+00:00");
        assert_eq!(body["ends_at"], "2026-07-01T07:45:00+00:00");
        assert_eq!(body["rrule"], "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR");
        assert_eq!(body["attendees"].as_array().map(Vec::len), Some(2));
        let all_day = EventForm {
            all_day: true,
            repeat: "custom".into(),
            rrule: "FREQ=DAILY;COUNT=3".into(),
            ..form
        };
        let body = all_day.json();
        assert_eq!(
            (body["starts_at"].as_str(), body["rrule"].as_str()),
            (Some("2026-07-01"), Some("FREQ=DAILY;COUNT=3"))
        );
        assert!(body.get("ends_at").is_none());
    }

    #[test]
    fn weeks_start_on_monday() {
        let thursday = NaiveDate::from_ymd_opt(2026, 3, 5).unwrap_or_default();
        assert_eq!(
            monday_of(thursday),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default()
        );
        assert_eq!(monday_of(monday_of(thursday)), monday_of(thursday));
    }
}
