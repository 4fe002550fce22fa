//! RFC 5545 output: CRLF line ends, lines folded at 75 octets (never inside a UTF-8 character), TEXT values
//! escaped (`\\`, `;`, `,`, newlines), parameter values quoted, one VEVENT per event with UID and DTSTAMP.
//!
//! One-off timed events are written in UTC (`…Z`); all-day events as `VALUE=DATE` with an exclusive DTEND. A
//! recurring timed event outside UTC is written in its zone's local time (`DTSTART;TZID=Europe/Berlin:…`) with
//! a VTIMEZONE for that zone, so a calendar app repeats it at the same wall-clock time across daylight-saving
//! changes, as Kith expands it. A VTIMEZONE holds the zone's rules of the current year as yearly rules (the
//! form calendar apps write themselves); zones without changes get one fixed observance.

use super::model::Event;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc, Weekday};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use std::collections::BTreeMap;

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

/// The zone a recurring timed event (or a changed occurrence of one) is written in, when it is not UTC (see the
/// module header).
fn local_zone(e: &Event) -> Option<Tz> {
    if e.all_day || (e.rrule.is_none() && e.exceptions.replaces.is_none()) {
        return None;
    }
    let tz: Tz = e.timezone.parse().ok()?;
    (tz != chrono_tz::UTC).then_some(tz)
}

/// What `tz` is at the instant `t`: its offset from UTC in seconds, whether daylight saving is on, its name.
fn offset_at(tz: Tz, t: NaiveDateTime) -> (i32, bool, String) {
    let offset = tz.offset_from_utc_datetime(&t);
    let name = offset.abbreviation().unwrap_or(tz.name()).to_owned();
    (offset.fix().local_minus_utc(), !offset.dst_offset().is_zero(), name)
}

/// One change of a zone's offset.
#[derive(Debug, Clone, PartialEq)]
struct Transition {
    /// The instant (UTC) it happens.
    at: NaiveDateTime,
    /// Offset before, in seconds.
    from: i32,
    /// Offset after, in seconds.
    to: i32,
    /// Whether daylight saving is on after.
    dst: bool,
    /// The zone's name after (`CEST`).
    name: String,
}

/// The changes of `tz`'s offset during `year` (UTC), to the minute: a day-by-day scan, then a binary search
/// inside the day of each change (about 400 offset lookups per zone).
fn transitions(tz: Tz, year: i32) -> Vec<Transition> {
    let Some(start) = NaiveDate::from_ymd_opt(year, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut day = start;
    let (mut before, _, _) = offset_at(tz, day);
    while day.year() == year {
        let next = day + Duration::days(1);
        let (after, _, _) = offset_at(tz, next);
        if after != before {
            // Minutes into the day: the offset at `lo` is still `before`; at `hi` it is already `after`.
            let (mut lo, mut hi) = (0i64, 24 * 60);
            while hi - lo > 1 {
                let mid = (lo + hi) / 2;
                if offset_at(tz, day + Duration::minutes(mid)).0 == before {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let hi = day + Duration::minutes(hi);
            let (to, dst, name) = offset_at(tz, hi);
            out.push(Transition {
                at: hi,
                from: before,
                to,
                dst,
                name,
            });
            before = after;
        }
        day = next;
    }
    out
}

/// `+HHMM` (or `+HHMMSS` for the odd historical offset).
fn utc_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

/// The `n`th (or, for `n == -1`, the last) `weekday` of `month` in `year`.
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: i32) -> Option<NaiveDate> {
    let days: Vec<NaiveDate> = (1..=31)
        .filter_map(|d| NaiveDate::from_ymd_opt(year, month, d))
        .filter(|d| d.weekday() == weekday)
        .collect();
    if n < 0 {
        days.last().copied()
    } else {
        days.get(usize::try_from(n - 1).ok()?).copied()
    }
}

fn byday(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

/// The VTIMEZONE of `tz` with the rules it follows in `year`.
fn vtimezone(out: &mut String, tz: Tz, year: i32) {
    push_line(out, "BEGIN:VTIMEZONE");
    push_line(out, &format!("TZID:{}", tz.name()));
    let changes = transitions(tz, year);
    if changes.is_empty() {
        let at = NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or_default();
        let (offset, _, name) = offset_at(tz, at);
        for line in [
            "BEGIN:STANDARD".to_owned(),
            "DTSTART:19700101T000000".to_owned(),
            format!("TZOFFSETFROM:{}", utc_offset(offset)),
            format!("TZOFFSETTO:{}", utc_offset(offset)),
            format!("TZNAME:{}", escape_text(&name)),
            "END:STANDARD".to_owned(),
        ] {
            push_line(out, &line);
        }
    }
    for change in changes {
        // The onset in the local time before the change, as RFC 5545 §3.6.5 wants it.
        let onset = change.at + Duration::seconds(i64::from(change.from));
        let (month, day, weekday) = (onset.month(), onset.day(), onset.weekday());
        let last_day = (28..=31)
            .filter(|d| NaiveDate::from_ymd_opt(onset.year(), month, *d).is_some())
            .max()
            .unwrap_or(28);
        let n: i32 = if day + 7 > last_day {
            -1
        } else {
            i32::try_from((day - 1) / 7 + 1).unwrap_or(1)
        };
        let first = nth_weekday(1970, month, weekday, n)
            .map(|d| d.and_time(onset.time()))
            .unwrap_or(onset);
        let kind = if change.dst { "DAYLIGHT" } else { "STANDARD" };
        for line in [
            format!("BEGIN:{kind}"),
            format!("DTSTART:{}", first.format("%Y%m%dT%H%M%S")),
            format!("TZOFFSETFROM:{}", utc_offset(change.from)),
            format!("TZOFFSETTO:{}", utc_offset(change.to)),
            format!("TZNAME:{}", escape_text(&change.name)),
            format!("RRULE:FREQ=YEARLY;BYMONTH={month};BYDAY={n}{}", byday(weekday)),
            format!("END:{kind}"),
        ] {
            push_line(out, &line);
        }
    }
    push_line(out, "END:VTIMEZONE");
}

/// A date-time property of `e` at `t`, written as its DTSTART is: a date for all-day events, local time with
/// TZID in a named zone, else UTC.
fn time_property(name: &str, e: &Event, t: DateTime<Utc>) -> String {
    if e.all_day {
        format!("{name};VALUE=DATE:{}", local_date(t, &e.timezone))
    } else if let Some(tz) = local_zone(e) {
        format!(
            "{name};TZID={}:{}",
            tz.name(),
            t.with_timezone(&tz).format("%Y%m%dT%H%M%S")
        )
    } else {
        format!("{name}:{}", utc(t))
    }
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
    let zones: BTreeMap<&str, Tz> = events.iter().filter_map(local_zone).map(|tz| (tz.name(), tz)).collect();
    for tz in zones.into_values() {
        vtimezone(&mut out, tz, now.year());
    }
    for e in events {
        push_line(&mut out, "BEGIN:VEVENT");
        // A changed occurrence is its series' VEVENT again, for one RECURRENCE-ID.
        let uid = e.exceptions.replaces.map_or(e.id, |(series, _)| series);
        push_line(&mut out, &format!("UID:{uid}@kith"));
        push_line(&mut out, &format!("DTSTAMP:{}", utc(e.updated_at.min(now))));
        push_line(&mut out, &format!("SEQUENCE:{}", e.sequence.max(0)));
        push_line(&mut out, &time_property("DTSTART", e, e.starts_at));
        push_line(&mut out, &time_property("DTEND", e, e.ends_at));
        if let Some((_, replaced)) = e.exceptions.replaces {
            push_line(&mut out, &time_property("RECURRENCE-ID", e, replaced));
        }
        for &cancelled in &e.exceptions.cancelled {
            push_line(&mut out, &time_property("EXDATE", e, cancelled));
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
        for a in e.attendees.iter().filter(|a| kith_mail::looks_like_email(&a.email)) {
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
    use crate::calendar::model::Exceptions;

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
            exceptions: Default::default(),
        };
        let text = calendar(std::slice::from_ref(&event), Utc::now());
        let parsed: icalendar::Calendar = text.parse().unwrap();
        let parsed = parsed.components.iter().find_map(|c| c.as_event()).unwrap();
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
            exceptions: Default::default(),
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

    #[test]
    fn recurring_events_keep_their_local_time_with_a_vtimezone() {
        #![allow(clippy::unwrap_used)]
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let weekly = Event {
            id: uuid::Uuid::nil(),
            workspace_id: uuid::Uuid::nil(),
            title: "Standup".into(),
            description: None,
            starts_at: at("2026-03-23T08:00:00Z"),
            ends_at: at("2026-03-23T08:30:00Z"),
            all_day: false,
            timezone: "Europe/Berlin".into(),
            location: None,
            attendees: vec![],
            contact_ids: vec![],
            rrule: Some("FREQ=WEEKLY".into()),
            sequence: 0,
            updated_at: at("2026-03-01T00:00:00Z"),
            exceptions: Default::default(),
        };
        let one_off = Event {
            rrule: None,
            ..weekly.clone()
        };
        let text = calendar(&[weekly.clone(), one_off, weekly], at("2026-06-01T00:00:00Z"));
        assert!(
            text.contains("DTSTART;TZID=Europe/Berlin:20260323T090000\r\n"),
            "{text}"
        );
        assert!(text.contains("DTEND;TZID=Europe/Berlin:20260323T093000\r\n"), "{text}");
        assert!(
            text.contains("DTSTART:20260323T080000Z\r\n"),
            "a one-off event stays in UTC"
        );
        assert_eq!(text.matches("BEGIN:VTIMEZONE").count(), 1, "one per zone");
        let zone = &text[text.find("BEGIN:VTIMEZONE").unwrap()..text.find("END:VTIMEZONE").unwrap()];
        for line in [
            "TZID:Europe/Berlin",
            "BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST",
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "BEGIN:STANDARD\r\nDTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET",
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        ] {
            assert!(zone.contains(line), "{line} in {zone}");
        }
        // The zone block sits before the events, and the whole still parses.
        assert!(text.find("END:VTIMEZONE").unwrap() < text.find("BEGIN:VEVENT").unwrap());
        let parsed: icalendar::Calendar = text.parse().unwrap();
        assert_eq!(parsed.components.iter().filter(|c| c.as_event().is_some()).count(), 3);
    }

    #[test]
    fn a_series_lists_its_cancelled_starts_and_a_changed_occurrence_names_the_one_it_replaces() {
        #![allow(clippy::unwrap_used)]
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let series_id = uuid::Uuid::from_u128(7);
        let series = Event {
            id: series_id,
            workspace_id: uuid::Uuid::nil(),
            title: "Standup".into(),
            description: None,
            starts_at: at("2026-03-23T08:00:00Z"),
            ends_at: at("2026-03-23T08:30:00Z"),
            all_day: false,
            timezone: "Europe/Berlin".into(),
            location: None,
            attendees: vec![],
            contact_ids: vec![],
            rrule: Some("FREQ=WEEKLY".into()),
            sequence: 2,
            updated_at: at("2026-03-01T00:00:00Z"),
            exceptions: Exceptions {
                replaces: None,
                cancelled: vec![at("2026-04-06T07:00:00Z")],
                changed: vec![at("2026-03-30T07:00:00Z")],
            },
        };
        let moved = Event {
            id: uuid::Uuid::from_u128(8),
            starts_at: at("2026-03-31T12:00:00Z"),
            ends_at: at("2026-03-31T12:30:00Z"),
            rrule: None,
            exceptions: Exceptions {
                replaces: Some((series_id, at("2026-03-30T07:00:00Z"))),
                ..Exceptions::default()
            },
            ..series.clone()
        };
        let text = calendar(&[series, moved], at("2026-06-01T00:00:00Z"));
        assert!(text.contains("EXDATE;TZID=Europe/Berlin:20260406T090000\r\n"), "{text}");
        let second = &text[text.rfind("BEGIN:VEVENT").unwrap()..];
        assert!(second.contains(&format!("UID:{series_id}@kith\r\n")), "{second}");
        assert!(
            second.contains("RECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\r\n"),
            "{second}"
        );
        assert!(
            second.contains("DTSTART;TZID=Europe/Berlin:20260331T140000\r\n"),
            "{second}"
        );
        assert!(!second.contains("RRULE") && !second.contains("EXDATE"), "{second}");
        let parsed: icalendar::Calendar = text.parse().unwrap();
        assert_eq!(parsed.components.iter().filter(|c| c.as_event().is_some()).count(), 2);
    }

    #[test]
    fn zones_are_described_by_their_rules() {
        #![allow(clippy::unwrap_used)]
        // New York: second Sunday of March, first Sunday of November.
        let mut out = String::new();
        vtimezone(&mut out, chrono_tz::America::New_York, 2026);
        assert!(out.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU"), "{out}");
        assert!(out.contains("RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU"), "{out}");
        assert!(
            out.contains("DTSTART:19700308T020000\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400"),
            "{out}"
        );
        // A zone without daylight saving: one fixed observance.
        let mut out = String::new();
        vtimezone(&mut out, chrono_tz::Asia::Kolkata, 2026);
        assert!(out.contains("TZOFFSETFROM:+0530\r\nTZOFFSETTO:+0530"), "{out}");
        assert!(!out.contains("RRULE"), "{out}");
        // The southern hemisphere: daylight saving starts in spring (October) and ends in April.
        let transitions = transitions(chrono_tz::Australia::Sydney, 2026);
        assert_eq!(transitions.len(), 2);
        assert!(!transitions[0].dst && transitions[1].dst);
        assert_eq!(utc_offset(-34_200), "-0930");
    }
}
