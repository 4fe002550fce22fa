//! What an event is: attendees, the stored event, the input of create and update and its checks (a
//! [`ValidEvent`] can only be made by [`ValidEvent::check`]), and the JSON an event is answered as.

use super::recurrence;
use crate::input::{self, Checked, Invalid, present};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;
use uuid::Uuid;

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
    /// How it takes part in a series' exceptions.
    pub exceptions: Exceptions,
}

/// A series' changed and cancelled occurrences, or the occurrence a changed one replaces (RFC 5545 EXDATE and
/// RECURRENCE-ID).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exceptions {
    /// For a changed occurrence: its series and the start of the occurrence it replaces.
    pub replaces: Option<(Uuid, DateTime<Utc>)>,
    /// For a series: starts of cancelled occurrences.
    pub cancelled: Vec<DateTime<Utc>>,
    /// For a series: starts of occurrences replaced by changed ones (listed as events of their own).
    pub changed: Vec<DateTime<Utc>>,
}

impl Exceptions {
    /// Whether the series' occurrence starting at `start` is listed in its place (neither cancelled nor changed).
    pub fn keeps(&self, start: DateTime<Utc>) -> bool {
        !self.cancelled.contains(&start) && !self.changed.contains(&start)
    }
}

pub(crate) fn to_json(e: &Event, occurrence: Option<(DateTime<Utc>, DateTime<Utc>)>) -> Value {
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
        "series_id": e.exceptions.replaces.map(|r| r.0),
        "recurrence_id": e.exceptions.replaces.map(|r| r.1),
    })
}

pub(crate) fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(chrono_tz::UTC)
}

/// Parses and checks an RRULE against its start; `Invalid` names the `rrule` field.
pub fn parse_rrule(rule: &str, starts_at: DateTime<Utc>, tz: Tz) -> Checked<rrule::RRuleSet> {
    recurrence::build(rule, starts_at, tz).map_err(|e| Invalid::new("rrule", e.0))
}

/// `POST /api/calendar/events` body and `PATCH` body (absent fields stay; `null` clears optional ones).
#[derive(Debug, Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The workspace (required on create; on update, must be the event's).
    pub workspace_id: Option<Uuid>,
    /// Title.
    #[schema(min_length = 1, max_length = 300)]
    pub title: Option<String>,
    /// Description.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 5000)]
    pub description: Option<Option<String>>,
    /// RFC 3339 (a `YYYY-MM-DD` date for all-day events), between 1900 and 2200.
    #[schema(format = DateTime)]
    pub starts_at: Option<String>,
    /// After `starts_at` (default: an hour, or a day when all-day, later).
    #[schema(format = DateTime)]
    pub ends_at: Option<String>,
    /// Whether it spans whole days in `timezone`.
    pub all_day: Option<bool>,
    /// An IANA time zone name (default UTC).
    #[schema(examples("Europe/Berlin"))]
    pub timezone: Option<String>,
    /// Location.
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 500)]
    pub location: Option<Option<String>>,
    /// Attendees.
    #[schema(max_items = 100)]
    pub attendees: Option<Vec<Attendee>>,
    /// Contacts of the same workspace.
    #[schema(max_items = 100)]
    pub contact_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "present")]
    /// An RFC 5545 RRULE, hourly or coarser, such as `FREQ=WEEKLY;BYDAY=MO`.
    #[schema(max_length = 500)]
    pub rrule: Option<Option<String>>,
}

/// A checked event (before it has an id).
#[derive(Debug, Clone)]
pub struct ValidEvent {
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) starts_at: DateTime<Utc>,
    pub(crate) ends_at: DateTime<Utc>,
    pub(crate) all_day: bool,
    pub(crate) timezone: Tz,
    pub(crate) location: Option<String>,
    pub(crate) attendees: Vec<Attendee>,
    pub(crate) contact_ids: Vec<Uuid>,
    pub(crate) rrule: Option<String>,
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
    pub fn check(input: EventInput, base: Option<&Event>) -> Checked<Self> {
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

/// A user's calendar subscription to a workspace, as `GET /api/calendar/subscription` shows it (the token is
/// shown once, when made; only its SHA-256 is kept).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    /// The workspace.
    pub workspace_id: Uuid,
    /// Whether the caller has a live subscription URL for it.
    pub active: bool,
    /// When the live URL was made (`null` when there is none).
    pub created_at: Option<DateTime<Utc>>,
}

/// A subscription just made (or remade, which revokes the previous URL).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NewSubscription {
    /// The workspace.
    pub workspace_id: Uuid,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// The secret of the subscription URL, shown this once: 64 hex digits (256 random bits).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub token: String,
    /// The feed's path on this server (`/calendar/feed/{token}.ics`): calendar apps fetch it without signing in.
    pub path: String,
}

/// A fresh subscription token and the SHA-256 that is stored in its place.
pub fn feed_token() -> (String, Vec<u8>) {
    use sha2::Digest;
    let token: String = rand::random::<[u8; 32]>().iter().map(|b| format!("{b:02x}")).collect();
    let hash = sha2::Sha256::digest(token.as_bytes()).to_vec();
    (token, hash)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
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

    #[test]
    fn feed_tokens_are_random_and_stored_hashed() {
        let (a, hash) = feed_token();
        let (b, _) = feed_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(hash.len(), 32);
        assert!(!hash.iter().map(|b| format!("{b:02x}")).collect::<String>().contains(&a));
    }
}
