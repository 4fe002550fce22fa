//! `/dashboard/calendar`: the week in the user's time zone with a weekly series expanded, "New event" with field
//! errors, edit and delete, the `.ics` download; a viewer without controls, another tenant's event → 404, forged
//! posts change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::TestApp;
use crate::html::csrf_for;
use crate::world::{api, snapshot, world};
use chrono::{Datelike, Duration, FixedOffset, Utc};
use serde_json::json;

#[tokio::test]
async fn events_are_created_shown_in_the_users_week_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    api(
        &app,
        "PATCH",
        "/api/profile",
        &w.owner.token,
        Some(&json!({"timezone": "Asia/Tokyo"})),
        200,
    )
    .await;
    let contact = api(
        &app,
        "POST",
        "/api/contacts",
        &w.owner.token,
        Some(&json!({"workspace_id": w.workspace, "first_name": "Ada", "email": "ada@engines.io"})),
        201,
    )
    .await;
    let contact_id = contact["id"].as_str().unwrap().to_owned();
    let b = &mut w.owner.browser;
    let week = b.get("/dashboard/calendar").await;
    assert_eq!(week.status, 200, "{}", week.body);
    assert!(week.body.contains("times in Asia/Tokyo"));
    assert_eq!(week.body.matches("class=\"week-day").count(), 7);
    assert!(week.body.contains(">New event</h2>") && week.body.contains("data-shortcut-new"));

    // A bad rule is named beside its field; nothing is written.
    let before = snapshot(&app).await;
    let today = Utc::now()
        .with_timezone(&FixedOffset::east_opt(9 * 3600).unwrap())
        .date_naive();
    let date = today.to_string();
    let bad = b
        .submit(
            "/dashboard/calendar",
            "/dashboard/calendar/events",
            &[
                ("workspace_id", &w.workspace),
                ("title", "Call"),
                ("date", &date),
                ("start", "09:00"),
                ("end", "09:30"),
                ("timezone", "Asia/Tokyo"),
                ("repeat", "custom"),
                ("rrule", "FREQ=SECONDLY"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"e-rrule-error\""), "{}", bad.body);
    assert_eq!(snapshot(&app).await, before);

    // A weekly series linked to the contact, at 09:00 Tokyo time.
    let created = b
        .submit(
            "/dashboard/calendar",
            "/dashboard/calendar/events",
            &[
                ("workspace_id", &w.workspace),
                ("title", "Weekly sync"),
                ("date", &date),
                ("start", "09:00"),
                ("end", "09:30"),
                ("timezone", "Asia/Tokyo"),
                ("repeat", "weekly"),
                ("attendees", "grace@navy.mil"),
                ("contact_ids", &contact_id),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let events = api(
        &app,
        "GET",
        &format!(
            "/api/calendar/events?workspace_id={}&from={}&to={}",
            w.workspace,
            today,
            today + Duration::days(1)
        ),
        &w.owner.token,
        None,
        200,
    )
    .await;
    let event = &events[0];
    assert_eq!(event["rrule"], "FREQ=WEEKLY");
    assert_eq!(event["contact_ids"], json!([contact_id]));
    assert_eq!(event["timezone"], "Asia/Tokyo");
    let event_id = event["id"].as_str().unwrap().to_owned();

    // The week shows it on today's column at 09:00–09:30 local; next week shows the next occurrence.
    let week = b.get(created.location.as_deref().unwrap()).await;
    let today_label = format!("{} {} {}", today.format("%A"), today.day(), today.format("%B"));
    let day = &week.body[week.body.find(&today_label).unwrap()..];
    let day = &day[..day
        .find("</li>\n      \n")
        .unwrap_or(day.len())
        .min(day.find("class=\"week-day").unwrap_or(day.len()))];
    assert!(
        day.contains("09:00–09:30") && day.contains("Weekly sync") && day.contains("(repeats)"),
        "{day}"
    );
    let next_week = b
        .get(&format!("/dashboard/calendar?week={}", today + Duration::days(7)))
        .await;
    assert_eq!(next_week.body.matches("Weekly sync").count(), 1);
    // The contact page lists it among upcoming events.
    let contact_page = b.get(&format!("/dashboard/contacts/{contact_id}")).await;
    assert!(contact_page.body.contains("Weekly sync"));

    // Edit (the series), then delete.
    let edit_page = format!("/dashboard/calendar/events/{event_id}");
    let form = b.get(&edit_page).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("value=\"Weekly sync\"") && form.body.contains("<option value=\"weekly\" selected>"));
    let edited = b
        .submit(
            &edit_page,
            &edit_page,
            &[
                ("workspace_id", &w.workspace),
                ("title", "Weekly pipeline sync"),
                ("date", &date),
                ("start", "10:00"),
                ("end", "10:30"),
                ("timezone", "Asia/Tokyo"),
                ("repeat", "weekly"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    let week = b.get("/dashboard/calendar").await;
    assert!(week.body.contains("Weekly pipeline sync") && week.body.contains("10:00–10:30"));
    let ics = b.get("/dashboard/calendar/events.ics").await;
    assert_eq!(ics.status, 200);
    assert!(ics.body.contains("BEGIN:VCALENDAR") && ics.body.contains("Weekly pipeline sync"));
    let deleted = b.submit(&edit_page, &format!("{edit_page}/delete"), &[]).await;
    assert_eq!(deleted.status, 303);
    assert!(!b.get("/dashboard/calendar").await.body.contains("Weekly pipeline sync"));
}

#[tokio::test]
async fn a_viewer_reads_the_calendar_and_nobody_else_changes_it() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let start = Utc::now() + Duration::hours(2);
    let event = api(
        &app,
        "POST",
        "/api/calendar/events",
        &w.owner.token,
        Some(&json!({"workspace_id": w.workspace, "title": "Board meeting", "starts_at": start.to_rfc3339()})),
        201,
    )
    .await;
    let id = event["id"].as_str().unwrap().to_owned();
    let path = format!("/dashboard/calendar/events/{id}");

    let seen = w.viewer.browser.get("/dashboard/calendar").await;
    assert_eq!(seen.status, 200);
    assert!(seen.body.contains("Board meeting"));
    assert!(!seen.body.contains("New event") && !seen.body.contains("action=\"/dashboard/calendar/events"));
    let one = w.viewer.browser.get(&path).await;
    assert_eq!(one.status, 200);
    assert!(!one.body.contains("Delete event") && !one.body.contains("Save event"));

    let csrf = csrf_for(
        &w.viewer.browser.get("/dashboard/settings").await.body,
        "/dashboard/settings/profile",
    )
    .unwrap();
    let before = snapshot(&app).await;
    let date = Utc::now().date_naive().to_string();
    let forged: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/dashboard/calendar/events".into(),
            vec![
                ("workspace_id", &w.workspace),
                ("title", "Forged"),
                ("date", &date),
                ("start", "09:00"),
                ("end", "10:00"),
                ("timezone", "UTC"),
            ],
        ),
        (
            path.clone(),
            vec![
                ("title", "Forged"),
                ("date", &date),
                ("start", "09:00"),
                ("end", "10:00"),
                ("timezone", "UTC"),
            ],
        ),
        (format!("{path}/delete"), vec![]),
    ];
    for (action, fields) in &forged {
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend(fields.iter().copied());
        let answer = w.viewer.browser.post(action, &all).await;
        assert_eq!(answer.status, 403, "{action}: {}", answer.body);
        assert_eq!(
            w.owner.browser.post(action, fields).await.status,
            403,
            "{action} without a token"
        );
    }
    let stranger_csrf = csrf_for(
        &w.stranger.browser.get("/dashboard/settings").await.body,
        "/dashboard/settings/profile",
    )
    .unwrap();
    for (action, fields) in &forged {
        let mut all = vec![("csrf", stranger_csrf.as_str())];
        all.extend(fields.iter().copied());
        let answer = w.stranger.browser.post(action, &all).await;
        assert!(
            answer.status == 404 || answer.status == 403,
            "{action}: {}",
            answer.status
        );
    }
    assert_eq!(snapshot(&app).await, before, "nothing changed");
    let theirs = w.stranger.browser.get(&path).await;
    assert_eq!(theirs.status, 404);
    assert!(!theirs.body.contains("Board meeting"));
    assert_eq!(
        w.stranger
            .browser
            .get(&format!("/dashboard/calendar?workspace_id={}", w.workspace))
            .await
            .status,
        404
    );
    let loner = w.loner.browser.get("/dashboard/calendar").await;
    assert_eq!(
        (loner.status, loner.location.as_deref()),
        (303, Some("/dashboard/overview"))
    );
}

#[tokio::test]
async fn one_occurrence_is_changed_and_deleted_from_the_week_and_the_subscription_address_serves_the_feed() {
    let app = TestApp::spawn().await;
    let mut w = world(&app).await;
    let today = Utc::now().date_naive();
    let start = today.and_hms_opt(9, 0, 0).unwrap().and_utc();
    let series = api(
        &app,
        "POST",
        "/api/calendar/events",
        &w.owner.token,
        Some(
            &json!({"workspace_id": w.workspace, "title": "Standup", "starts_at": start.to_rfc3339(),
                     "ends_at": (start + Duration::minutes(15)).to_rfc3339(), "timezone": "UTC",
                     "rrule": "FREQ=DAILY;COUNT=10"}),
        ),
        201,
    )
    .await;
    let id = series["id"].as_str().unwrap().to_owned();
    let b = &mut w.owner.browser;

    // Today's occurrence links to its own edit page, which edits only it.
    let encoded =
        |t: chrono::DateTime<Utc>| url::form_urlencoded::byte_serialize(t.to_rfc3339().as_bytes()).collect::<String>();
    let today_page = format!("/dashboard/calendar/events/{id}?occurrence={}", encoded(start));
    let week = b.get("/dashboard/calendar").await;
    assert!(week.body.contains(&today_page), "{}", week.body);
    let form = b.get(&today_page).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("You are changing only the occurrence of"),
        "{}",
        form.body
    );
    assert!(!form.body.contains("id=\"e-repeat\""), "one occurrence offers no rule");
    let date = today.to_string();
    let saved = b
        .submit(
            &today_page,
            &format!("/dashboard/calendar/events/{id}"),
            &[
                ("workspace_id", &w.workspace),
                ("occurrence", &start.to_rfc3339()),
                ("title", "Standup, later today"),
                ("date", &date),
                ("start", "11:00"),
                ("end", "11:15"),
                ("timezone", "UTC"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    // Tomorrow's is deleted on its own.
    let tomorrow = start + Duration::days(1);
    let tomorrow_page = format!("/dashboard/calendar/events/{id}?occurrence={}", encoded(tomorrow));
    let deleted = b
        .submit(
            &tomorrow_page,
            &format!("/dashboard/calendar/events/{id}/delete"),
            &[("occurrence", &tomorrow.to_rfc3339())],
        )
        .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    let listed = api(
        &app,
        "GET",
        &format!(
            "/api/calendar/events?workspace_id={}&from={}&to={}",
            w.workspace,
            today,
            today + Duration::days(3)
        ),
        &w.owner.token,
        None,
        200,
    )
    .await;
    let seen: Vec<(String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["title"].as_str().unwrap().to_owned(),
                e["starts_at"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let at = |t: chrono::DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    assert_eq!(
        seen,
        [
            ("Standup, later today".to_owned(), at(start + Duration::hours(2))),
            ("Standup".to_owned(), at(start + Duration::days(2)))
        ]
    );

    // The subscription address is shown once, and serves the calendar without a session.
    let made = b
        .submit(
            "/dashboard/calendar",
            "/dashboard/calendar/subscription",
            &[("workspace_id", &w.workspace), ("action", "make")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let from = made.body.find("/calendar/feed/").expect("the address is on the page");
    let path = &made.body[from..from + "/calendar/feed/".len() + 64 + ".ics".len()];
    let feed = app.get(path, None).await;
    assert_eq!(feed.status().as_u16(), 200);
    let text = feed.text().await.unwrap();
    assert!(
        text.contains("SUMMARY:Standup\\, later today") && text.contains("EXDATE:"),
        "{text}"
    );
    let again = b.get("/dashboard/calendar").await;
    assert!(!again.body.contains(path), "the address is shown only once");
    assert!(again.body.contains("Turn off"));
    let off = b
        .submit(
            "/dashboard/calendar",
            "/dashboard/calendar/subscription",
            &[("workspace_id", &w.workspace), ("action", "stop")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.body);
    assert_eq!(app.get(path, None).await.status().as_u16(), 404);
}
