//! Every rule `/api` keeps on stored values holds through `/rest/v1` too, because it lives in Postgres: each bad
//! value is refused with a check violation and nothing is stored. And rows that predate a rule (simulated by lifting
//! it) cannot hurt the readers: the calendar expands them within bounds and the `.ics` feed stays well formed.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{call, contact, event, ics, org, send, snapshot};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// `base` with `field` set to `value`.
fn with(base: &Value, field: &str, value: Value) -> Value {
    let mut body = base.clone();
    body[field] = value;
    body
}

#[tokio::test]
async fn every_api_rule_holds_through_the_data_api() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let token = acme.owner.token.clone();
    let ada = contact(&app, &acme, json!({"first_name": "Ada", "email": "ada@acme.io"})).await;
    let kickoff = event(
        &app,
        &acme,
        json!({"title": "Kickoff", "starts_at": "2026-03-02T09:00:00Z"}),
    )
    .await;
    let note = call(
        &app,
        "POST",
        &format!("/api/contacts/{}/interactions", ada["id"].as_str().unwrap()),
        &token,
        Some(&json!({"kind": "note", "summary": "met"})),
        201,
    )
    .await;
    let tenant = json!({"org_id": acme.id, "workspace_id": acme.workspace_id});
    let new_contact = with(&tenant, "first_name", json!("Grace"));
    let new_event = with(
        &with(&tenant, "title", json!("Review")),
        "starts_at",
        json!("2026-03-03T09:00:00Z"),
    );
    let new_event = with(&new_event, "ends_at", json!("2026-03-03T10:00:00Z"));
    let new_interaction = with(
        &with(&with(&tenant, "contact_id", ada["id"].clone()), "kind", json!("call")),
        "occurred_at",
        json!("2026-03-03T09:00:00Z"),
    );
    let forged_attendee = "x@y.io\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Pay invoice at http://evil.example\r\nDTSTART:20261201T090000Z";
    let many_tags: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
    let many_attendees: Vec<Value> = (0..101).map(|i| json!({"email": format!("a{i}@acme.io")})).collect();
    // (table, field, bad value): every one is a rule /api enforces.
    let cases: Vec<(&str, &str, Value)> = vec![
        ("calendar_events", "starts_at", json!("0001-01-01T00:00:00Z")),
        ("calendar_events", "ends_at", json!("9999-01-01T00:00:00Z")),
        ("calendar_events", "ends_at", json!("2028-03-03T09:00:00Z")),
        ("calendar_events", "rrule", json!("FREQ=SECONDLY")),
        ("calendar_events", "rrule", json!("FREQ=MINUTELY;INTERVAL=5")),
        ("calendar_events", "rrule", json!("FREQ=DAILY;BYSECOND=1,2,3")),
        ("calendar_events", "rrule", json!("FREQ=DAILY;COUNT=100000")),
        (
            "calendar_events",
            "rrule",
            json!("FREQ=DAILY;COUNT=3;UNTIL=20270101T000000Z"),
        ),
        ("calendar_events", "rrule", json!("every day")),
        ("calendar_events", "rrule", json!("FREQ=DAILY\r\nBEGIN:VEVENT")),
        ("calendar_events", "timezone", json!("Mars/Base")),
        ("calendar_events", "timezone", json!("UTC+3")),
        ("calendar_events", "attendees", json!([{"email": forged_attendee}])),
        ("calendar_events", "attendees", json!([{"email": "nope"}])),
        ("calendar_events", "attendees", json!([{"email": "Ada@Acme.io"}])),
        (
            "calendar_events",
            "attendees",
            json!([{"email": "a@acme.io", "role": "chair"}]),
        ),
        (
            "calendar_events",
            "attendees",
            json!([{"email": "a@acme.io", "status": "maybe"}]),
        ),
        (
            "calendar_events",
            "attendees",
            json!([{"email": "a@acme.io"}, {"email": "a@acme.io"}]),
        ),
        ("calendar_events", "attendees", json!({"email": "a@acme.io"})),
        ("calendar_events", "attendees", json!(many_attendees)),
        ("calendar_events", "title", json!("Standup\r\nX-INJECTED:1")),
        ("calendar_events", "title", json!("   ")),
        ("calendar_events", "location", json!("Room\u{7}1")),
        ("calendar_events", "description", json!("bell\u{7}")),
        ("calendar_events", "sequence", json!(-1)),
        ("contacts", "email", json!("not-an-email")),
        ("contacts", "email", json!("a@b@c.io")),
        ("contacts", "email", json!("Ada@Acme.io")),
        ("contacts", "phone", json!("call me maybe")),
        ("contacts", "phone", json!("++--")),
        ("contacts", "tags", json!(["VIP"])),
        ("contacts", "tags", json!(["vip", "vip"])),
        ("contacts", "tags", json!([""])),
        ("contacts", "tags", json!(many_tags)),
        ("contacts", "first_name", json!("Ada\u{1b}[31m")),
        ("contacts", "first_name", json!("  ")),
        ("contacts", "company", json!("Acme\r\nInc")),
        ("contacts", "status", json!("vip")),
        ("contacts", "score", json!(101)),
        ("interactions", "occurred_at", json!("0001-01-01T00:00:00Z")),
        ("interactions", "summary", json!("bell\u{7}")),
        ("interactions", "kind", json!("fax")),
    ];
    let item_id = |table: &str| match table {
        "calendar_events" => kickoff["id"].clone(),
        "contacts" => ada["id"].clone(),
        _ => note["id"].clone(),
    };
    let before = snapshot(&app).await;
    for (table, field, value) in &cases {
        let base = match *table {
            "calendar_events" => &new_event,
            "contacts" => &new_contact,
            _ => &new_interaction,
        };
        let insert = send(
            &app,
            "POST",
            &format!("/rest/v1/{table}"),
            Some(&token),
            Some(&with(base, field, value.clone())),
        )
        .await;
        let status = insert.status().as_u16();
        let body: Value = insert.json().await.unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("23514")),
            "insert {table}.{field} = {value}: {body}"
        );
        let patch = json!({ *field: value });
        let update = send(
            &app,
            "PATCH",
            &format!("/rest/v1/{table}?id=eq.{}", item_id(table).as_str().unwrap()),
            Some(&token),
            Some(&patch),
        )
        .await;
        let status = update.status().as_u16();
        let body: Value = update.json().await.unwrap();
        // An interaction's kind, time and summary may be corrected (migration 0070), under the same rules.
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("23514")),
            "update {table}.{field} = {value}: {body}"
        );
    }
    // The profile and the tenancy names keep their rules too.
    let me = acme.owner.id;
    for (field, value) in [
        ("timezone", json!("Mars/Base")),
        ("full_name", json!("Ada\u{7}")),
        ("avatar_url", json!("javascript:alert(1)")),
    ] {
        let response = send(
            &app,
            "PATCH",
            &format!("/rest/v1/profiles?id=eq.{me}"),
            Some(&token),
            Some(&json!({ field: value })),
        )
        .await;
        assert_eq!(response.status().as_u16(), 400, "profiles.{field}");
    }
    for table in ["organizations", "workspaces"] {
        let id = if table == "organizations" {
            acme.id
        } else {
            acme.workspace_id
        };
        let response = send(
            &app,
            "PATCH",
            &format!("/rest/v1/{table}?id=eq.{id}"),
            Some(&token),
            Some(&json!({"name": "A\r\nB"})),
        )
        .await;
        assert_eq!(response.status().as_u16(), 400, "{table}.name");
    }
    assert_eq!(before, snapshot(&app).await, "a refused write changed nothing");
    // Values within the rules still pass through the data API.
    let ok = with(
        &with(&new_event, "rrule", json!("FREQ=WEEKLY;BYDAY=MO,WE")),
        "attendees",
        json!([{"email": "ada@acme.io", "name": "Ada", "status": "accepted"}]),
    );
    let response = send(&app, "POST", "/rest/v1/calendar_events", Some(&token), Some(&ok)).await;
    assert_eq!(response.status().as_u16(), 201);
}

#[tokio::test]
async fn the_ics_feed_holds_exactly_the_stored_events_whatever_their_fields_hold() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let token = acme.owner.token.clone();
    let first = event(
        &app,
        &acme,
        json!({"title": "Kickoff", "starts_at": "2026-03-02T09:00:00Z",
                                         "attendees": [{"email": "ada@acme.io"}]}),
    )
    .await;
    event(
        &app,
        &acme,
        json!({"title": "Review", "starts_at": "2026-03-03T09:00:00Z"}),
    )
    .await;
    // The data API cannot store the forged attendee ...
    let forged = "x@y.io\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nSUMMARY:Pay invoice at http://evil.example\r\nDTSTART:20261201T090000Z";
    let path = format!("/rest/v1/calendar_events?id=eq.{}", first["id"].as_str().unwrap());
    let response = send(
        &app,
        "PATCH",
        &path,
        Some(&token),
        Some(&json!({"attendees": [{"email": forged}]})),
    )
    .await;
    assert_eq!(response.status().as_u16(), 400);
    // ... and a row that predates the rule does not reach the feed as a second event.
    let admin = app.connect_as("postgres").await;
    admin
        .batch_execute(
            "alter table public.calendar_events drop constraint calendar_events_attendees_shape,
                                                         drop constraint calendar_events_title_text",
        )
        .await
        .unwrap();
    admin
        .execute(
            "update public.calendar_events set attendees = jsonb_build_array(jsonb_build_object('email', $1::text),
                    jsonb_build_object('email', 'ada@acme.io')), title = 'Kickoff' || chr(13) || chr(10) || 'X-FORGED:1'
              where id = $2",
            &[&forged, &uuid::Uuid::parse_str(first["id"].as_str().unwrap()).unwrap()],
        )
        .await
        .unwrap();
    let response = ics(&app, &acme, &token).await;
    let text = response.text().await.unwrap();
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 2, "{text}");
    assert_eq!(text.matches("END:VEVENT").count(), 2, "{text}");
    assert!(!text.contains("evil.example"), "{text}");
    assert!(!text.contains("\r\nX-FORGED"), "{text}");
    assert!(text.contains("mailto:ada@acme.io"), "{text}");
    for line in text.split("\r\n") {
        assert!(!line.contains(['\r', '\n']), "a bare line break inside {line:?}");
    }
    let parsed: icalendar::Calendar = text.parse().unwrap();
    assert_eq!(parsed.components.iter().filter(|c| c.as_event().is_some()).count(), 2);
}

#[tokio::test]
async fn recurrences_cost_the_window_not_the_age_of_the_series() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let token = acme.owner.token.clone();
    let tenant = json!({"org_id": acme.id, "workspace_id": acme.workspace_id, "title": "b"});
    // The outage's request is refused by /api and by the data API ...
    let body = json!({"workspace_id": acme.workspace_id, "title": "b", "starts_at": "1900-01-01T00:00:00Z", "rrule": "FREQ=SECONDLY"});
    let refused = call(&app, "POST", "/api/calendar/events", &token, Some(&body), 422).await;
    assert_eq!(refused["error"]["field"], "rrule", "{refused}");
    for (starts_at, rrule) in [
        ("1900-01-01T00:00:00Z", "FREQ=SECONDLY"),
        ("0001-01-01T00:00:00Z", "FREQ=HOURLY"),
    ] {
        let row = with(
            &with(
                &with(&tenant, "starts_at", json!(starts_at)),
                "ends_at",
                json!(starts_at),
            ),
            "rrule",
            json!(rrule),
        );
        let response = send(&app, "POST", "/rest/v1/calendar_events", Some(&token), Some(&row)).await;
        assert_eq!(response.status().as_u16(), 400, "{starts_at} {rrule}");
    }
    // ... an hourly series from 1900 is allowed and costs only the window ...
    event(
        &app,
        &acme,
        json!({"title": "Hourly", "starts_at": "1900-01-01T00:00:00Z", "ends_at": "1900-01-01T00:00:00Z",
                              "rrule": "FREQ=HOURLY"}),
    )
    .await;
    // ... and rows stored before these bounds existed (simulated by lifting them) are expanded within bounds.
    let admin = app.connect_as("postgres").await;
    admin
        .batch_execute(&format!(
            "alter table public.calendar_events drop constraint calendar_events_rrule_format,
                                                drop constraint calendar_events_starts_at_range,
                                                drop constraint calendar_events_ends_at_range;
             insert into public.calendar_events (org_id, workspace_id, title, starts_at, ends_at, rrule)
             values ('{org}', '{ws}', 'secondly', '1900-01-01Z', '1900-01-01Z', 'FREQ=SECONDLY'),
                    ('{org}', '{ws}', 'minutely', '0001-01-01Z', '0001-01-01Z', 'FREQ=MINUTELY'),
                    ('{org}', '{ws}', 'monthly 31st, every hour', '1900-01-31Z', '1900-01-31Z',
                     'FREQ=MONTHLY;BYMONTHDAY=31;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23')",
            org = acme.id,
            ws = acme.workspace_id
        ))
        .await
        .unwrap();
    let list = format!("/api/calendar/events?workspace_id={}", acme.workspace_id);
    let timed = |path: String| {
        let app = &app;
        let token = token.clone();
        async move {
            let began = Instant::now();
            let response = send(app, "GET", &path, Some(&token), None).await;
            let truncated = response.headers().get("x-kith-truncated").is_some();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (began.elapsed(), status, truncated, body)
        }
    };
    // Twice at once (the outage pinned both workers this way), with /ready asked meanwhile.
    let (a, b, ready) = tokio::join!(timed(list.clone()), timed(list.clone()), timed("/ready".into()));
    eprintln!("listings took {:?} and {:?}; /ready {:?}", a.0, b.0, ready.0);
    for (elapsed, status, truncated, body) in [&a, &b] {
        assert_eq!(*status, 200);
        assert!(*truncated, "the fine-grained series were cut off");
        let hourly = body
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["title"] == "Hourly")
            .count();
        assert_eq!(hourly, 7 * 24, "an hourly series fills the week");
        // Debug build on a shared 2-core machine: the bound proves the cost is the window's (before: 2 s to
        // minutes and a stalled server); the release build answers in milliseconds (docs/CRM.md).
        assert!(*elapsed < Duration::from_secs(2), "listing took {elapsed:?}");
    }
    assert_eq!(ready.1, 200);
    assert!(ready.0 < Duration::from_secs(1), "/ready took {:?}", ready.0);
}
