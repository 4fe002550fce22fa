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

/// The titles and starts of the workspace's listing for March 2026.
async fn march(app: &TestApp, acme: &crate::support::Org) -> Vec<(String, String)> {
    let path = format!(
        "/api/calendar/events?workspace_id={}&from=2026-03-01&to=2026-04-01",
        acme.workspace_id
    );
    let list = call(app, "GET", &path, &acme.owner.token, None, 200).await;
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["title"].as_str().unwrap().to_owned(),
                e["starts_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn one_occurrence_is_changed_or_cancelled_without_touching_the_series() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    // Mondays 09:00 Berlin (08:00 UTC before the switch to summer time on 2026-03-29, 07:00 after).
    let series = event(
        &app,
        &acme,
        json!({"title": "Standup", "starts_at": "2026-03-02T08:00:00Z", "ends_at": "2026-03-02T08:30:00Z",
               "timezone": "Europe/Berlin", "rrule": "FREQ=WEEKLY;COUNT=5"}),
    )
    .await;
    let id = series["id"].as_str().unwrap();
    let starts = |list: &[(String, String)]| list.iter().map(|e| e.1.clone()).collect::<Vec<_>>();
    assert_eq!(
        starts(&march(&app, &acme).await),
        [
            "2026-03-02T08:00:00Z",
            "2026-03-09T08:00:00Z",
            "2026-03-16T08:00:00Z",
            "2026-03-23T08:00:00Z",
            "2026-03-30T07:00:00Z"
        ]
    );

    // Move the second one to Tuesday and retitle it: listed in its place as an event of its own.
    let one = format!("/api/calendar/events/{id}?occurrence=2026-03-09T08:00:00Z");
    let moved = call(
        &app,
        "PATCH",
        &one,
        &acme.owner.token,
        Some(&json!({"title": "Standup (moved)", "starts_at": "2026-03-10T10:00:00Z"})),
        200,
    )
    .await;
    assert_eq!(moved["series_id"], series["id"]);
    assert_eq!(moved["recurrence_id"], "2026-03-09T08:00:00Z");
    assert_eq!(
        moved["ends_at"], "2026-03-10T10:30:00Z",
        "the occurrence keeps its length"
    );
    assert_eq!(moved["rrule"], serde_json::Value::Null);
    let list = march(&app, &acme).await;
    assert!(
        list.contains(&("Standup (moved)".into(), "2026-03-10T10:00:00Z".into())),
        "{list:?}"
    );
    assert!(!starts(&list).contains(&"2026-03-09T08:00:00Z".to_owned()), "{list:?}");
    assert_eq!(list.len(), 5);
    // Changing it again changes the same occurrence, not a second copy.
    call(
        &app,
        "PATCH",
        &one,
        &acme.owner.token,
        Some(&json!({"title": "Standup (moved again)"})),
        200,
    )
    .await;
    let list = march(&app, &acme).await;
    assert_eq!(list.len(), 5, "{list:?}");
    assert!(list.iter().any(|e| e.0 == "Standup (moved again)"));

    // Cancel the third one.
    let third = format!("/api/calendar/events/{id}?occurrence=2026-03-16T08:00:00Z");
    call(&app, "DELETE", &third, &acme.owner.token, None, 204).await;
    assert!(!starts(&march(&app, &acme).await).contains(&"2026-03-16T08:00:00Z".to_owned()));
    // The .ics says the same: one EXDATE, one RECURRENCE-ID of the same UID.
    let text = ics(&app, &acme, &acme.owner.token).await.text().await.unwrap();
    assert!(text.contains("EXDATE;TZID=Europe/Berlin:20260316T090000\r\n"), "{text}");
    assert!(
        text.contains("RECURRENCE-ID;TZID=Europe/Berlin:20260309T090000\r\n"),
        "{text}"
    );
    assert_eq!(text.matches(&format!("UID:{id}@kith")).count(), 2, "{text}");

    // Deleting the changed occurrence cancels it; the series does not bring the original back.
    call(
        &app,
        "DELETE",
        &format!("/api/calendar/events/{}", moved["id"].as_str().unwrap()),
        &acme.owner.token,
        None,
        204,
    )
    .await;
    assert_eq!(
        starts(&march(&app, &acme).await),
        ["2026-03-02T08:00:00Z", "2026-03-23T08:00:00Z", "2026-03-30T07:00:00Z"]
    );

    // Refusals: no such occurrence, not a time, an occurrence that repeats, an event that does not repeat.
    for (path, body, field) in [
        (
            format!("/api/calendar/events/{id}?occurrence=2026-03-03T08:00:00Z"),
            json!({"title": "x"}),
            "occurrence",
        ),
        (
            format!("/api/calendar/events/{id}?occurrence=monday"),
            json!({"title": "x"}),
            "occurrence",
        ),
        (
            format!("/api/calendar/events/{id}?occurrence=2026-03-23T08:00:00Z"),
            json!({"rrule": "FREQ=DAILY"}),
            "rrule",
        ),
    ] {
        let body = call(&app, "PATCH", &path, &acme.owner.token, Some(&body), 422).await;
        assert_error(&body, "validation_failed", Some(field));
    }
    let single = event(
        &app,
        &acme,
        json!({"title": "Once", "starts_at": "2026-03-05T08:00:00Z"}),
    )
    .await;
    let path = format!(
        "/api/calendar/events/{}?occurrence=2026-03-05T08:00:00Z",
        single["id"].as_str().unwrap()
    );
    let body = call(&app, "DELETE", &path, &acme.owner.token, None, 422).await;
    assert_error(&body, "validation_failed", Some("occurrence"));

    // Moving the series undoes its exceptions (they named starts that no longer exist).
    call(
        &app,
        "PATCH",
        &format!("/api/calendar/events/{id}"),
        &acme.owner.token,
        Some(&json!({"starts_at": "2026-03-03T08:00:00Z"})),
        200,
    )
    .await;
    let list = march(&app, &acme).await;
    assert_eq!(list.iter().filter(|e| e.0 == "Standup").count(), 5, "{list:?}");
}

#[tokio::test]
async fn postgres_keeps_the_occurrence_rules_for_every_writer() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let single = event(
        &app,
        &acme,
        json!({"title": "Once", "starts_at": "2026-03-05T08:00:00Z"}),
    )
    .await;
    let series = event(
        &app,
        &acme,
        json!({"title": "Weekly", "starts_at": "2026-03-02T08:00:00Z", "rrule": "FREQ=WEEKLY"}),
    )
    .await;
    let caller = app.caller(&acme.owner.token);
    let id = |v: &serde_json::Value| uuid::Uuid::parse_str(v["id"].as_str().unwrap()).unwrap();
    let at: DateTime<Utc> = "2026-03-09T08:00:00Z".parse().unwrap();
    let insert = "insert into public.calendar_events (org_id, workspace_id, title, starts_at, ends_at, series_id, recurrence_id, rrule)
                  values ($1, $2, 'x', $3, $3, $4, $5, $6)";
    type Case<'a> = (&'a str, Option<uuid::Uuid>, Option<DateTime<Utc>>, Option<&'a str>);
    let cases: [Case<'_>; 4] = [
        (
            "an occurrence of an event that does not repeat",
            Some(id(&single)),
            Some(at),
            None,
        ),
        ("an occurrence without its start", Some(id(&series)), None, None),
        (
            "an occurrence that repeats",
            Some(id(&series)),
            Some(at),
            Some("FREQ=DAILY"),
        ),
        (
            "a start out of range",
            Some(id(&series)),
            Some("1800-01-01T00:00:00Z".parse().unwrap()),
            None,
        ),
    ];
    for (what, series_id, recurrence_id, rrule) in cases {
        let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
        let result = tx
            .query(
                insert,
                &[&acme.id, &acme.workspace_id, &at, &series_id, &recurrence_id, &rrule],
            )
            .await;
        assert!(result.is_err(), "{what} was stored");
    }
    let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
    let too_many: Vec<DateTime<Utc>> = (0..1001).map(|i| at + Duration::weeks(i)).collect();
    let result = tx
        .query(
            "update public.calendar_events set exdates = $2 where id = $1",
            &[&id(&series), &too_many],
        )
        .await;
    assert!(result.is_err(), "1001 cancelled occurrences were stored");
    drop(tx);
    let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
    let result = tx
        .query(
            "update public.calendar_events set exdates = array[$2::timestamptz] where id = $1",
            &[&id(&single), &at],
        )
        .await;
    assert!(
        result.is_err(),
        "a cancelled occurrence on an event that does not repeat"
    );
}
