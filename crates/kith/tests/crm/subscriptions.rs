//! Calendar subscriptions (one revocable token per user and workspace, stored hashed) and the `.ics` export's
//! local times for recurring events.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{call, event, ics, member, org};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The stored hashes of every subscription, read by the superuser.
async fn stored(app: &TestApp) -> Vec<(uuid::Uuid, uuid::Uuid, Vec<u8>)> {
    let admin = app.connect_as("postgres").await;
    admin
        .query(
            "select user_id, workspace_id, token_hash from public.calendar_subscriptions order by created_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

#[tokio::test]
async fn a_subscription_is_per_user_and_workspace_stored_hashed_and_revocable() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let colleague = member(&app, &acme, "viewer").await;
    let w = acme.workspace_id;
    let status = |token: String| {
        let app = &app;
        async move {
            call(
                app,
                "GET",
                &format!("/api/calendar/subscription?workspace_id={w}"),
                &token,
                None,
                200,
            )
            .await
        }
    };
    assert_eq!(status(acme.owner.token.clone()).await["active"], false);

    let body = json!({"workspace_id": w});
    let subscribe = async || {
        call(
            &app,
            "POST",
            "/api/calendar/subscription",
            &acme.owner.token,
            Some(&body),
            201,
        )
        .await
    };
    let first = subscribe().await;
    let first_token = first["token"].as_str().unwrap().to_owned();
    assert_eq!(first_token.len(), 64);
    assert!(first_token.chars().all(|c| c.is_ascii_hexdigit()));
    let now = status(acme.owner.token.clone()).await;
    assert_eq!(now["active"], true);
    assert_eq!(now["created_at"], first["created_at"]);
    assert!(now.get("token").is_none(), "the token is shown once: {now}");

    // Regenerating replaces the stored hash: the old token is gone.
    let second = subscribe().await;
    let second_token = second["token"].as_str().unwrap();
    assert_ne!(second_token, first_token);
    let rows = stored(&app).await;
    assert_eq!(rows.len(), 1, "one subscription per user and workspace");
    assert_eq!(rows[0].0, acme.owner.id);
    assert_eq!(rows[0].1, w);
    assert_eq!(rows[0].2, Sha256::digest(second_token.as_bytes()).to_vec());
    assert_ne!(rows[0].2, Sha256::digest(first_token.as_bytes()).to_vec());

    // A colleague (a viewer) has their own, and cannot see or revoke the owner's.
    assert_eq!(status(colleague.token.clone()).await["active"], false);
    let path = format!("/api/calendar/subscription?workspace_id={w}");
    call(&app, "DELETE", &path, &colleague.token, None, 404).await;
    call(
        &app,
        "POST",
        "/api/calendar/subscription",
        &colleague.token,
        Some(&body),
        201,
    )
    .await;
    assert_eq!(stored(&app).await.len(), 2);
    call(&app, "DELETE", &path, &colleague.token, None, 204).await;
    assert_eq!(stored(&app).await.len(), 1);
    assert_eq!(status(acme.owner.token.clone()).await["active"], true);

    // Revoked.
    call(&app, "DELETE", &path, &acme.owner.token, None, 204).await;
    assert_eq!(status(acme.owner.token.clone()).await["active"], false);
    call(&app, "DELETE", &path, &acme.owner.token, None, 404).await;
    assert!(stored(&app).await.is_empty());

    // Deleting the workspace takes its subscriptions along.
    let extra = call(
        &app,
        "POST",
        "/api/workspaces",
        &acme.owner.token,
        Some(&json!({"org_id": acme.id, "name": "Extra"})),
        201,
    )
    .await;
    let extra_id = extra["id"].as_str().unwrap();
    call(
        &app,
        "POST",
        "/api/calendar/subscription",
        &acme.owner.token,
        Some(&json!({"workspace_id": extra_id})),
        201,
    )
    .await;
    assert_eq!(stored(&app).await.len(), 1);
    call(
        &app,
        "DELETE",
        &format!("/api/workspaces/{extra_id}"),
        &acme.owner.token,
        None,
        204,
    )
    .await;
    assert!(stored(&app).await.is_empty());
}

#[tokio::test]
async fn postgres_keeps_subscriptions_to_their_user_and_tenant() {
    let app = TestApp::spawn().await;
    let a = org(&app, "A").await;
    let b = org(&app, "B").await;
    let colleague = member(&app, &a, "member").await;
    let body = json!({"workspace_id": a.workspace_id});
    call(
        &app,
        "POST",
        "/api/calendar/subscription",
        &a.owner.token,
        Some(&body),
        201,
    )
    .await;
    let (_, _, hash) = stored(&app).await.remove(0);
    let forged = Sha256::digest(b"forged").to_vec();

    for (who, token) in [("other tenant", &b.owner.token), ("colleague", &colleague.token)] {
        let caller = app.caller(token);
        let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
        let seen = tx
            .query("select token_hash from public.calendar_subscriptions", &[])
            .await
            .unwrap();
        assert!(seen.is_empty(), "{who} sees another user's subscription");
        let changed = tx
            .query(
                "update public.calendar_subscriptions set token_hash = $1 returning id",
                &[&forged],
            )
            .await
            .unwrap();
        assert!(changed.is_empty(), "{who} changed another user's token");
        let deleted = tx
            .query("delete from public.calendar_subscriptions returning id", &[])
            .await
            .unwrap();
        assert!(deleted.is_empty(), "{who} deleted another user's subscription");
        drop(tx);
        // Nor can they make one for the owner, or in A's workspace for themselves unless they belong to A.
        for user in [a.owner.id, caller.user_id().unwrap()] {
            let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
            let made = tx
                .query(
                    "insert into public.calendar_subscriptions (org_id, workspace_id, user_id, token_hash)
                     values ($1, $2, $3, $4)",
                    &[&a.id, &a.workspace_id, &user, &Sha256::digest(user.as_bytes()).to_vec()],
                )
                .await;
            let allowed = who == "colleague" && user == caller.user_id().unwrap();
            assert_eq!(made.is_ok(), allowed, "{who} inserting for {user}: {made:?}");
        }
    }
    // The stored rules: a hash is 32 bytes.
    let caller = app.caller(&a.owner.token);
    let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadWrite).await.unwrap();
    let short = tx
        .query(
            "update public.calendar_subscriptions set token_hash = '\\x00'::bytea where user_id = $1",
            &[&a.owner.id],
        )
        .await;
    assert!(short.is_err());
    drop(tx);
    // Anonymous callers read nothing.
    let mut tx = app
        .db
        .begin_as(&kith_db::Caller::anonymous(), kith_db::Access::ReadOnly)
        .await
        .unwrap();
    assert!(
        tx.query("select 1 from public.calendar_subscriptions", &[])
            .await
            .is_err()
    );
    drop(tx);
    assert_eq!(stored(&app).await.iter().filter(|r| r.2 == hash).count(), 1);
}

#[tokio::test]
async fn a_recurring_event_is_exported_in_local_time_with_its_zone() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    // 09:00 in Berlin every Monday, across the switch to summer time on 2026-03-29.
    event(
        &app,
        &acme,
        json!({"title": "Standup", "starts_at": "2026-03-23T08:00:00Z", "timezone": "Europe/Berlin",
               "rrule": "FREQ=WEEKLY;COUNT=3"}),
    )
    .await;
    event(
        &app,
        &acme,
        json!({"title": "One-off", "starts_at": "2026-03-24T08:00:00Z", "timezone": "Europe/Berlin"}),
    )
    .await;
    let response = ics(&app, &acme, &acme.owner.token).await;
    let text = response.text().await.unwrap();
    assert!(
        text.contains("DTSTART;TZID=Europe/Berlin:20260323T090000\r\n"),
        "{text}"
    );
    assert!(text.contains("DTSTART:20260324T080000Z\r\n"), "{text}");
    assert_eq!(text.matches("BEGIN:VTIMEZONE").count(), 1, "{text}");
    assert!(text.contains("TZID:Europe/Berlin\r\n"), "{text}");
    assert!(text.contains("RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"), "{text}");
    let parsed: icalendar::Calendar = text.parse().unwrap();
    assert_eq!(parsed.components.iter().filter(|c| c.as_event().is_some()).count(), 2);
    // The API's own expansion agrees: 09:00 local, whichever side of the switch.
    let listed: Value = call(
        &app,
        "GET",
        &format!(
            "/api/calendar/events?workspace_id={}&from=2026-03-20&to=2026-04-10",
            acme.workspace_id
        ),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    let starts: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["title"] == "Standup")
        .map(|e| e["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(starts.len(), 3);
    assert!(starts[1].starts_with("2026-03-30T07:00:00"), "{starts:?}");
}

/// GETs `path` without any session or token; the status and body.
async fn fetch(app: &TestApp, path: &str) -> (u16, String, String) {
    let response = app.get(path, None).await;
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, kind, response.text().await.unwrap())
}

#[tokio::test]
async fn a_subscription_url_serves_the_feed_without_a_session_until_it_is_revoked() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let other = org(&app, "Other").await;
    let colleague = member(&app, &acme, "viewer").await;
    event(
        &app,
        &acme,
        json!({"title": "Acme review", "starts_at": "2026-03-23T08:00:00Z", "timezone": "Europe/Berlin"}),
    )
    .await;
    event(
        &app,
        &other,
        json!({"title": "Other secret", "starts_at": "2026-03-23T08:00:00Z", "timezone": "UTC"}),
    )
    .await;
    let body = json!({"workspace_id": acme.workspace_id});
    let made = call(
        &app,
        "POST",
        "/api/calendar/subscription",
        &acme.owner.token,
        Some(&body),
        201,
    )
    .await;
    let path = made["path"].as_str().unwrap().to_owned();
    assert_eq!(path, format!("/calendar/feed/{}.ics", made["token"].as_str().unwrap()));

    let (status, kind, text) = fetch(&app, &path).await;
    assert_eq!((status, kind.as_str()), (200, "text/calendar; charset=utf-8"), "{text}");
    assert!(text.starts_with("BEGIN:VCALENDAR"), "{text}");
    assert!(text.contains("SUMMARY:Acme review"), "{text}");
    assert!(
        !text.contains("Other secret"),
        "another tenant's event in the feed: {text}"
    );

    // Regenerating stops the old URL at once; the new one works.
    let remade = call(
        &app,
        "POST",
        "/api/calendar/subscription",
        &acme.owner.token,
        Some(&body),
        201,
    )
    .await;
    assert_eq!(fetch(&app, &path).await.0, 404);
    let new_path = remade["path"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&app, &new_path).await.0, 200);

    // Tokens of any other shape never match; nor does a hash, or the path without `.ics`.
    let token = remade["token"].as_str().unwrap();
    for path in [
        format!("/calendar/feed/{}.ics", token.to_uppercase()),
        format!("/calendar/feed/{token}"),
        format!("/calendar/feed/{}.ics", hex(&Sha256::digest(token.as_bytes()))),
        "/calendar/feed/..%2F..%2Fetc%2Fpasswd.ics".to_owned(),
        format!("/calendar/feed/{}.ics", "0".repeat(64)),
    ] {
        let (status, kind, _) = fetch(&app, &path).await;
        assert_eq!(status, 404, "{path}");
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
    }

    // A member's feed stops when they leave the organization (their subscription row is still there).
    let theirs = call(
        &app,
        "POST",
        "/api/calendar/subscription",
        &colleague.token,
        Some(&body),
        201,
    )
    .await;
    let their_path = theirs["path"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&app, &their_path).await.0, 200);
    let members = format!("/api/organizations/{}/members/{}", acme.id, colleague.id);
    call(&app, "DELETE", &members, &acme.owner.token, None, 204).await;
    assert_eq!(fetch(&app, &their_path).await.0, 404);

    // Revoked: gone.
    let revoke = format!("/api/calendar/subscription?workspace_id={}", acme.workspace_id);
    call(&app, "DELETE", &revoke, &acme.owner.token, None, 204).await;
    assert_eq!(fetch(&app, &new_path).await.0, 404);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
