//! RFC 5545 output: CRLF line ends, lines folded at 75 octets (never inside a UTF-8 character), TEXT values
//! escaped (`\\`, `;`, `,`, newlines), parameter values quoted, one VEVENT per event with UID and DTSTAMP.
//!
//! Timed events are written in UTC (`…Z`), so no VTIMEZONE is needed; all-day events as `VALUE=DATE` with an
//! exclusive DTEND. A recurring event carries its RRULE; its DTSTART is in UTC too, so clients expand it in UTC
//! (an event recurring in a zone with daylight saving shifts by an hour across the change in such clients).

use super::model::Event;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// Escapes a TEXT value (RFC 5545 §3.3.11).
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("\\n");
            }
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, with characters a quoted value cannot hold removed (RFC 5545 §3.1).
fn param_value(value: &str) -> String {
    let clean: String = value.chars().filter(|c| *c != '"' && !c.is_control()).collect();
    format!("\"{clean}\"")
}

/// Appends one content line, folded at 75 octets, ending in CRLF. Control characters are dropped: a stored
/// value must never end a line (and so start a forged property or event) on its own.
pub fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars().filter(|c| !c.is_control()) {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local_date(t: DateTime<Utc>, zone: &str) -> String {
    let tz: Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    t.with_timezone(&tz).format("%Y%m%d").to_string()
}

/// The whole calendar.
pub fn calendar(events: &[Event], now: DateTime<Utc>) -> String {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Kith//Kith CRM//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        push_line(&mut out, line);
    }
    for e in events {
        push_line(&mut out, "BEGIN:VEVENT");
        push_line(&mut out, &format!("UID:{}@kith", e.id));
        push_line(&mut out, &format!("DTSTAMP:{}", utc(e.updated_at.min(now))));
        push_line(&mut out, &format!("SEQUENCE:{}", e.sequence.max(0)));
        if e.all_day {
            push_line(
                &mut out,
                &format!("DTSTART;VALUE=DATE:{}", local_date(e.starts_at, &e.timezone)),
            );
            push_line(
                &mut out,
                &format!("DTEND;VALUE=DATE:{}", local_date(e.ends_at, &e.timezone)),
            );
        } else {
            push_line(&mut out, &format!("DTSTART:{}", utc(e.starts_at)));
            push_line(&mut out, &format!("DTEND:{}", utc(e.ends_at)));
        }
        push_line(&mut out, &format!("SUMMARY:{}", escape_text(&e.title)));
        if let Some(description) = &e.description {
            push_line(&mut out, &format!("DESCRIPTION:{}", escape_text(description)));
        }
        if let Some(location) = &e.location {
            push_line(&mut out, &format!("LOCATION:{}", escape_text(location)));
        }
        if let Some(rule) = &e.rrule {
            // Stored rules were parsed on the way in; keep only the characters an RRULE value uses.
            let rule: String = rule
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | ';' | ',' | '-' | '+' | ':'))
                .collect();
            push_line(&mut out, &format!("RRULE:{rule}"));
        }
        // Stored rows may come from the data API: an attendee that is not a plain address is left out.
        for a in e
            .attendees
            .iter()
            .filter(|a| kith_auth::users::looks_like_email(&a.email))
        {
            let mut line = String::from("ATTENDEE");
            if let Some(name) = &a.name {
                line.push_str(&format!(";CN={}", param_value(name)));
            }
            line.push_str(&format!(";PARTSTAT={}:mailto:{}", a.status.partstat(), a.email));
            push_line(&mut out, &line);
        }
        push_line(&mut out, "END:VEVENT");
    }
    push_line(&mut out, "END:VCALENDAR");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape_text("a,b;c\\d\ne\r\nf"), "a\\,b\\;c\\\\d\\ne\\nf");
    }

    #[test]
    fn long_lines_fold_at_75_octets_without_splitting_characters() {
        let mut out = String::new();
        push_line(&mut out, &format!("SUMMARY:{}", "é".repeat(100)));
        assert!(out.ends_with("\r\n"));
        for line in out.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= 75, "{} octets", line.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}", "é".repeat(100)));
    }

    #[test]
    fn the_output_parses_back_with_the_icalendar_crate() {
        #![allow(clippy::unwrap_used)]
        use crate::calendar::{Attendee, AttendeeStatus};
        use icalendar::{Component, EventLike};
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let event = Event {
            id: uuid::Uuid::nil(),
            workspace_id: uuid::Uuid::nil(),
            title: "Plan; review, and \\ more".into(),
            description: Some("line one\nline two ".repeat(10)),
            starts_at: at("2026-03-02T09:00:00Z"),
            ends_at: at("2026-03-02T10:00:00Z"),
            all_day: false,
            timezone: "Europe/Berlin".into(),
            location: Some("Room 1, HQ".into()),
            attendees: vec![Attendee {
                email: "ada@acme.io".into(),
                name: Some("Ada, Countess".into()),
                status: AttendeeStatus::Accepted,
            }],
            contact_ids: vec![],
            rrule: Some("FREQ=WEEKLY;COUNT=3".into()),
            sequence: 2,
            updated_at: at("2026-03-01T00:00:00Z"),
        };
        let text = calendar(std::slice::from_ref(&event), Utc::now());
        let parsed: icalendar::Calendar = text.parse().unwrap();
        let parsed = parsed.components[0].as_event().unwrap();
        assert_eq!(parsed.get_summary(), Some(event.title.as_str()));
        assert_eq!(parsed.get_description(), event.description.as_deref());
        assert_eq!(parsed.get_location(), Some("Room 1, HQ"));
        assert_eq!(parsed.property_value("RRULE"), Some("FREQ=WEEKLY;COUNT=3"));
        assert_eq!(parsed.property_value("SEQUENCE"), Some("2"));
    }

    #[test]
    fn parameter_values_are_quoted() {
        assert_eq!(param_value("Ada \"The\" L; x:y"), "\"Ada The L; x:y\"");
    }

    #[test]
    fn stored_values_cannot_forge_lines_or_events() {
        #![allow(clippy::unwrap_used)]
        use crate::calendar::{Attendee, AttendeeStatus};
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let forged = "x@y.io\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Pay invoice at http://evil.example\r\nDTSTART:20260101T000000Z";
        let event = Event {
            id: uuid::Uuid::nil(),
            workspace_id: uuid::Uuid::nil(),
            title: "Standup\r\nX-INJECTED:1".into(),
            description: None,
            starts_at: at("2026-03-02T09:00:00Z"),
            ends_at: at("2026-03-02T10:00:00Z"),
            all_day: false,
            timezone: "UTC".into(),
            location: None,
            attendees: vec![
                Attendee {
                    email: forged.into(),
                    name: Some("Mallory\r\nEND:VCALENDAR".into()),
                    status: AttendeeStatus::Accepted,
                },
                Attendee {
                    email: "ada@acme.io".into(),
                    name: None,
                    status: AttendeeStatus::Accepted,
                },
            ],
            contact_ids: vec![],
            rrule: None,
            sequence: 0,
            updated_at: at("2026-03-01T00:00:00Z"),
        };
        let text = calendar(std::slice::from_ref(&event), Utc::now());
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 1, "{text}");
        assert!(!text.contains("evil"), "{text}");
        assert!(!text.contains("\r\nX-INJECTED"), "{text}");
        assert!(text.contains("mailto:ada@acme.io"));
        // Every line ends in CRLF and no bare CR or LF is left inside one.
        for line in text.split("\r\n") {
            assert!(!line.contains(['\r', '\n']), "{line:?}");
        }
    }
}
