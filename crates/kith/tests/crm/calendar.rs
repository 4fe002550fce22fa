//! Calendar: CRUD, window queries, all-day events, time zones, attendees, linked contacts, recurrences and .ics.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{assert_error, call, contact, event, ics, org};
use chrono::{DateTime, Duration, Utc};
use icalendar::{Component, EventLike};
use serde_json::json;

#[tokio::test]
async fn events_crud_window_and_recurrence() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let ada = contact(&app, &acme, json!({"first_name": "Ada"})).await;
    let created = event(
        &app,
        &acme,
        json!({"title": "Kickoff", "starts_at": "2026-03-02T09:00:00Z", "ends_at": "2026-03-02T10:00:00Z",
               "timezone": "Europe/Berlin", "location": "Room 1",
               "attendees": [{"email": "Ada@Acme.io", "name": "Ada", "status": "accepted"}, {"email": "bob@acme.io"}],
               "contact_ids": [ada["id"]]}),
    )
    .await;
    for field in [
        "id",
        "workspace_id",
        "title",
        "description",
        "starts_at",
        "ends_at",
        "all_day",
        "timezone",
        "location",
        "attendees",
        "contact_ids",
        "rrule",
    ] {
        assert!(created.get(field).is_some(), "missing {field}");
    }
    assert_eq!(created["attendees"][0]["email"], "ada@acme.io");
    assert_eq!(created["attendees"][1]["status"], "needs_action");
    assert_eq!(created["contact_ids"], json!([ada["id"]]));
    event(
        &app,
        &acme,
        json!({"title": "Standup", "starts_at": "2026-03-02T08:00:00Z", "ends_at": "2026-03-02T08:15:00Z",
                              "rrule": "FREQ=DAILY;COUNT=10"}),
    )
    .await;
    event(
        &app,
        &acme,
        json!({"title": "Offsite", "starts_at": "2026-03-04", "all_day": true, "timezone": "America/New_York"}),
    )
    .await;

    let window = |from: &str, to: &str| {
        format!(
            "/api/calendar/events?workspace_id={}&from={from}&to={to}",
            acme.workspace_id
        )
    };
    let list = call(
        &app,
        "GET",
        &window("2026-03-02T00:00:00Z", "2026-03-05T00:00:00Z"),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    let titles: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        ["Standup", "Kickoff", "Standup", "Offsite", "Standup"],
        "{list}"
    );
    let standups: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["title"] == "Standup")
        .collect();
    assert_eq!(standups[1]["occurrence_start"], "2026-03-03T08:00:00Z");
    assert_eq!(standups[1]["starts_at"], "2026-03-03T08:00:00Z");
    let offsite = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["title"] == "Offsite")
        .unwrap();
    assert_eq!(offsite["all_day"], true);
    assert_eq!(offsite["starts_at"], "2026-03-04T05:00:00Z");
    assert_eq!(offsite["ends_at"], "2026-03-05T05:00:00Z");

    // Outside the window: nothing; default window is now → +7 days.
    let later = call(
        &app,
        "GET",
        &window("2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(later, json!([]));
    let soon = (Utc::now() + Duration::days(2)).to_rfc3339();
    event(&app, &acme, json!({"title": "Soon", "starts_at": soon})).await;
    let default = call(
        &app,
        "GET",
        &format!("/api/calendar/events?workspace_id={}", acme.workspace_id),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(default.as_array().unwrap().len(), 1);

    let body = call(
        &app,
        "GET",
        &window("2026-03-05T00:00:00Z", "2026-03-01T00:00:00Z"),
        &acme.owner.token,
        None,
        422,
    )
    .await;
    assert_error(&body, "validation_failed", Some("to"));

    let path = format!("/api/calendar/events/{}", created["id"].as_str().unwrap());
    let patched = call(
        &app,
        "PATCH",
        &path,
        &acme.owner.token,
        Some(&json!({"title": "Kickoff v2", "contact_ids": []})),
        200,
    )
    .await;
    assert_eq!(patched["title"], "Kickoff v2");
    assert_eq!(patched["contact_ids"], json!([]));
    assert_eq!(patched["location"], "Room 1");
    call(&app, "DELETE", &path, &acme.owner.token, None, 204).await;
    call(
        &app,
        "PATCH",
        &path,
        &acme.owner.token,
        Some(&json!({"title": "x"})),
        404,
    )
    .await;

    // Linking another tenant's contact is refused.
    let other = org(&app, "Other").await;
    let theirs = contact(&app, &other, json!({"first_name": "T"})).await;
    let body = call(
        &app,
        "POST",
        "/api/calendar/events",
        &acme.owner.token,
        Some(&json!({"workspace_id": acme.workspace_id, "title": "x", "starts_at": "2026-03-02T09:00:00Z", "contact_ids": [theirs["id"]]})),
        422,
    )
    .await;
    assert_error(&body, "validation_failed", Some("contact_ids"));
}

#[tokio::test]
async fn the_ics_export_parses_back_with_an_independent_parser() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let long = "A very long description, with commas; semicolons \\ backslashes and\nnewlines — and ünïcödé ".repeat(3);
    let timed = event(
        &app,
        &acme,
        json!({"title": "Review, Q1; final", "description": long, "starts_at": "2026-03-02T09:00:00Z",
               "ends_at": "2026-03-02T10:30:00Z", "location": "HQ, Floor 2",
               "attendees": [{"email": "ada@acme.io", "name": "Ada \"Countess\" Lovelace", "status": "tentative"}]}),
    )
    .await;
    event(
        &app,
        &acme,
        json!({"title": "Offsite", "starts_at": "2026-03-04", "all_day": true}),
    )
    .await;
    event(
        &app,
        &acme,
        json!({"title": "Standup", "starts_at": "2026-03-02T08:00:00Z", "rrule": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"}),
    )
    .await;

    let response = ics(&app, &acme, &acme.owner.token).await;
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/calendar")
    );
    let text = response.text().await.unwrap();
    // RFC 5545 framing: CRLF everywhere, no line over 75 octets.
    assert!(text.ends_with("\r\n"));
    assert!(!text.replace("\r\n", "").contains('\n'), "bare LF");
    assert!(text.split("\r\n").all(|line| line.len() <= 75));
    assert!(text.contains("VERSION:2.0") && text.contains("PRODID:"));

    let calendar: icalendar::Calendar = text.parse().unwrap();
    let events: Vec<&icalendar::Event> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
    assert_eq!(events.len(), 3);
    let review = events
        .iter()
        .find(|e| e.get_summary() == Some("Review, Q1; final"))
        .unwrap();
    assert_eq!(review.get_description(), Some(long.trim()));
    assert_eq!(review.get_location(), Some("HQ, Floor 2"));
    assert_eq!(
        review.get_uid(),
        Some(format!("{}@kith", timed["id"].as_str().unwrap()).as_str())
    );
    assert!(review.get_timestamp().is_some(), "DTSTAMP");
    let start = review.get_start().unwrap();
    let icalendar::DatePerhapsTime::DateTime(icalendar::CalendarDateTime::Utc(start)) = start else {
        panic!("a timed event starts at a UTC date-time")
    };
    let start: DateTime<Utc> = start;
    assert_eq!(start.to_rfc3339(), "2026-03-02T09:00:00+00:00");
    let offsite = events.iter().find(|e| e.get_summary() == Some("Offsite")).unwrap();
    assert!(matches!(offsite.get_start(), Some(icalendar::DatePerhapsTime::Date(_))));
    assert!(matches!(offsite.get_end(), Some(icalendar::DatePerhapsTime::Date(_))));
    let standup = events.iter().find(|e| e.get_summary() == Some("Standup")).unwrap();
    assert_eq!(standup.property_value("RRULE"), Some("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=6"));
    assert!(text.contains("PARTSTAT=TENTATIVE"));
}
