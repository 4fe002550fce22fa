//! Contacts: CRUD, search, cursor pages, interactions, CSV import and export.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{assert_error, call, contact, org, send, snapshot};
use serde_json::json;

#[tokio::test]
async fn contacts_crud() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let created = contact(
        &app,
        &acme,
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "Ada@Acme.io", "company": "Acme",
               "job_title": "CEO", "tags": ["VIP", "vip", "board"], "status": "opportunity"}),
    )
    .await;
    for field in [
        "id",
        "workspace_id",
        "phone",
        "score",
        "tier",
        "created_at",
        "updated_at",
    ] {
        assert!(created.get(field).is_some(), "missing {field}");
    }
    assert_eq!(created["email"], "ada@acme.io");
    assert_eq!(created["tags"], json!(["vip", "board"]));
    assert_eq!(created["workspace_id"], json!(acme.workspace_id));
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/contacts/{id}");
    let read = call(&app, "GET", &path, &acme.owner.token, None, 200).await;
    assert_eq!(read["last_name"], "Lovelace");
    let patched = call(
        &app,
        "PATCH",
        &path,
        &acme.owner.token,
        Some(&json!({"phone": "+44 20 7946 0000", "company": null})),
        200,
    )
    .await;
    assert_eq!(patched["phone"], "+44 20 7946 0000");
    assert_eq!(patched["company"], json!(null));
    assert_eq!(patched["first_name"], "Ada");
    // The email is unique within the workspace.
    let dup = call(
        &app,
        "POST",
        "/api/contacts",
        &acme.owner.token,
        Some(&json!({"workspace_id": acme.workspace_id, "email": "ada@acme.io"})),
        409,
    )
    .await;
    assert_error(&dup, "conflict", None);
    call(&app, "DELETE", &path, &acme.owner.token, None, 204).await;
    call(&app, "GET", &path, &acme.owner.token, None, 404).await;
    call(&app, "DELETE", &path, &acme.owner.token, None, 404).await;
}

#[tokio::test]
async fn search_and_cursor_pages() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    for i in 0..7 {
        contact(
            &app,
            &acme,
            json!({"first_name": format!("Person{i}"), "company": if i % 2 == 0 { "Globex" } else { "Initech" }}),
        )
        .await;
    }
    contact(&app, &acme, json!({"first_name": "Percent", "last_name": "100%"})).await;
    let base = format!("/api/contacts?workspace_id={}", acme.workspace_id);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}&limit=3&cursor={c}"),
            None => format!("{base}&limit=3"),
        };
        let page = call(&app, "GET", &path, &acme.owner.token, None, 200).await;
        let contacts = page["contacts"].as_array().unwrap();
        assert!(contacts.len() <= 3);
        seen.extend(contacts.iter().map(|c| c["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 8);
    seen.sort_by_key(ToString::to_string);
    seen.dedup();
    assert_eq!(seen.len(), 8, "pages must not overlap");

    let found = call(&app, "GET", &format!("{base}&q=globex"), &acme.owner.token, None, 200).await;
    assert_eq!(found["contacts"].as_array().unwrap().len(), 4);
    let found = call(&app, "GET", &format!("{base}&q=person3"), &acme.owner.token, None, 200).await;
    assert_eq!(found["contacts"].as_array().unwrap().len(), 1);
    // LIKE wildcards in q are literal.
    let found = call(&app, "GET", &format!("{base}&q=%25"), &acme.owner.token, None, 200).await;
    assert_eq!(found["contacts"].as_array().unwrap().len(), 1);
    let body = call(
        &app,
        "GET",
        &format!("{base}&cursor=nonsense"),
        &acme.owner.token,
        None,
        422,
    )
    .await;
    assert_error(&body, "validation_failed", Some("cursor"));
    let body = call(&app, "GET", &format!("{base}&limit=1000"), &acme.owner.token, None, 422).await;
    assert_error(&body, "validation_failed", Some("limit"));
}

#[tokio::test]
async fn interactions_are_recorded_and_listed() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let ada = contact(&app, &acme, json!({"first_name": "Ada"})).await;
    let path = format!("/api/contacts/{}/interactions", ada["id"].as_str().unwrap());
    let created = call(
        &app,
        "POST",
        &path,
        &acme.owner.token,
        Some(&json!({"kind": "meeting", "occurred_at": "2026-01-05T10:00:00Z", "summary": "Demo, went well"})),
        201,
    )
    .await;
    assert_eq!(created["kind"], "meeting");
    let list = call(&app, "GET", &path, &acme.owner.token, None, 200).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let body = call(
        &app,
        "POST",
        &path,
        &acme.owner.token,
        Some(&json!({"kind": "carrier_pigeon"})),
        422,
    )
    .await;
    assert_error(&body, "validation_failed", Some("kind"));
}

#[tokio::test]
async fn csv_import_dedupes_reports_rows_and_exports() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    contact(&app, &acme, json!({"email": "existing@acme.io"})).await;
    let csv = "first_name,last_name,email,company,tags,status\n\
               Ada,Lovelace,ada@acme.io,Acme,vip;board,lead\n\
               Dup,Licate,EXISTING@acme.io,,,\n\
               Bad,Email,not-an-email,,,\n\
               Ada,Again,ada@acme.io,,,\n\
               Grace,Hopper,,\"Navy, US\",,customer\n\
               Bad,Status,,,,vip\n";
    let path = format!("/api/contacts/import?workspace_id={}", acme.workspace_id);
    let response = app
        .http
        .post(format!("{}{path}", app.address))
        .bearer_auth(&acme.owner.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let report = crate::support::body(response, 200).await;
    assert_eq!(report["created"], 2, "{report}");
    assert_eq!(report["duplicates"], 2);
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["row"], 4);
    assert_eq!(errors[0]["field"], "email");
    assert_eq!(errors[1]["field"], "status");

    // A malformed file writes nothing.
    let before = snapshot(&app).await;
    // Also when the bad row comes after whole batches were inserted: the transaction rolls back.
    let mut late_error = String::from("email,first_name\n");
    for i in 0..1_500 {
        late_error.push_str(&format!("late{i}@acme.io,Late\n"));
    }
    late_error.push_str("ragged@acme.io\n");
    for bad in [
        "email,nickname\na@b.io,x\n",
        "email,first_name\na@b.io\n",
        late_error.as_str(),
    ] {
        let response = app
            .http
            .post(format!("{}{path}", app.address))
            .bearer_auth(&acme.owner.token)
            .header("content-type", "text/csv")
            .body(bad.to_owned())
            .send()
            .await
            .unwrap();
        let body = crate::support::body(response, 422).await;
        assert_error(&body, "validation_failed", Some("body"));
    }
    let response = send(&app, "POST", &path, Some(&acme.owner.token), Some(&json!({"a": 1}))).await;
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(before, snapshot(&app).await);

    let response = send(
        &app,
        "GET",
        &format!("/api/contacts/export.csv?workspace_id={}", acme.workspace_id),
        Some(&acme.owner.token),
        None,
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    assert!(text.starts_with("first_name,last_name,email,phone,company,job_title,tags,status"));
    assert!(
        text.contains("Ada,Lovelace,ada@acme.io,,Acme,,vip;board,lead"),
        "{text}"
    );
    assert!(text.contains("\"Navy, US\""));
}

#[tokio::test]
async fn a_large_import_streams_past_the_json_body_limit_in_batches() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    // 25,000 rows, about 1.1 MB: more than the 1 MiB limit of JSON bodies, less than the import's 50 MB.
    let mut csv = String::from("first_name,last_name,email,company,job_title\n");
    for i in 0..25_000 {
        csv.push_str(&format!(
            "Person{i},Number{i},person{i}@acme.io,Acme {},Engineer\n",
            i % 100
        ));
    }
    csv.push_str("Again,Dup,person7@acme.io,,\n");
    assert!(csv.len() > 1024 * 1024);
    let path = format!("/api/contacts/import?workspace_id={}", acme.workspace_id);
    let started = std::time::Instant::now();
    let response = app
        .http
        .post(format!("{}{path}", app.address))
        .bearer_auth(&acme.owner.token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let report = crate::support::body(response, 200).await;
    eprintln!("25,000-row import took {:?}", started.elapsed());
    assert_eq!(report["created"], 25_000, "{report}");
    assert_eq!(report["duplicates"], 1);
    assert_eq!(report["errors"], json!([]));
    let admin = app.connect_as("postgres").await;
    let (count, unscored): (i64, i64) = {
        let row = admin
            .query_one(
                "select count(*), count(*) filter (where scored_at is null) from public.contacts where workspace_id = $1",
                &[&acme.workspace_id],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(
        (count, unscored),
        (25_000, 0),
        "every imported contact is stored and scored"
    );
}

/// Every page of `base` (a listing URL) in `limit`-sized pages, following `next_cursor`.
async fn all_pages(app: &TestApp, token: &str, base: &str, limit: usize) -> Vec<serde_json::Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(c) => format!("{base}&limit={limit}&cursor={}", urlencoding(c)),
            None => format!("{base}&limit={limit}"),
        };
        let page = call(app, "GET", &path, token, None, 200).await;
        let contacts = page["contacts"].as_array().unwrap();
        assert!(contacts.len() <= limit);
        seen.extend(contacts.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return seen,
        }
    }
    panic!("{base}: more pages than contacts");
}

/// Percent-encodes a cursor for a query string.
fn urlencoding(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn filters_and_every_sort_order_page_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let token = &acme.owner.token;
    let people = [
        ("Zoe", "Adams", "customer", vec!["vip"]),
        ("adam", "Zimmer", "lead", vec![]),
        ("Ming", "Li", "lead", vec!["vip", "board"]),
        ("Yves", "Zola", "opportunity", vec![]),
        ("Bo", "Bo", "lead", vec![]),
        ("Bo", "Bo", "lead", vec!["twin"]),
        ("Ada", "Lovelace", "inactive", vec!["vip"]),
    ];
    let mut ids = Vec::new();
    for (first, last, status, tags) in &people {
        let c = contact(
            &app,
            &acme,
            json!({"first_name": first, "last_name": last, "status": status, "tags": tags,
                   "email": format!("{}.{}@{}.io", first.to_lowercase(), last.to_lowercase(), ids.len()),
                   "company": "Acme", "job_title": "CEO", "phone": "+1 555 0100"}),
        )
        .await;
        ids.push(c["id"].as_str().unwrap().to_owned());
    }
    // Ming is touched recently and often (hot or warm); Zoe once, long ago; the rest never.
    let now = chrono::Utc::now();
    for (who, days_ago, kind) in [
        (2, 1, "meeting"),
        (2, 2, "email_replied"),
        (2, 3, "call"),
        (2, 4, "meeting"),
        (0, 80, "note"),
    ] {
        let at = (now - chrono::Duration::days(days_ago)).to_rfc3339();
        call(
            &app,
            "POST",
            &format!("/api/contacts/{}/interactions", ids[who]),
            token,
            Some(&json!({"kind": kind, "occurred_at": at})),
            201,
        )
        .await;
    }
    let base = format!("/api/contacts?workspace_id={}", acme.workspace_id);

    for sort in ["newest", "name", "score", "last_interaction"] {
        let listed = all_pages(&app, token, &format!("{base}&sort={sort}"), 2).await;
        let mut seen: Vec<&str> = listed.iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(seen.len(), people.len(), "{sort}");
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), people.len(), "{sort}: pages must not overlap");
        let one_page = call(&app, "GET", &format!("{base}&sort={sort}&limit=200"), token, None, 200).await;
        assert_eq!(
            &one_page["contacts"],
            &json!(listed),
            "{sort}: pages join into the one-page order"
        );
        match sort {
            "name" => {
                let names: Vec<String> = listed
                    .iter()
                    .map(|c| {
                        format!(
                            "{} {}",
                            c["first_name"].as_str().unwrap(),
                            c["last_name"].as_str().unwrap()
                        )
                    })
                    .collect();
                assert_eq!(names.first().map(String::as_str), Some("Ada Lovelace"), "{names:?}");
                assert_eq!(names[1], "adam Zimmer", "case-insensitive: {names:?}");
                assert_eq!(names.last().map(String::as_str), Some("Zoe Adams"), "{names:?}");
            }
            "score" => {
                let scores: Vec<i64> = listed.iter().map(|c| c["score"].as_i64().unwrap()).collect();
                assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
                assert_eq!(listed[0]["id"], ids[2].as_str());
            }
            "last_interaction" => {
                assert_eq!(listed[0]["id"], ids[2].as_str());
                assert_eq!(listed[1]["id"], ids[0].as_str());
                assert!(listed[2..].iter().all(|c| c["last_interaction_at"].is_null()));
            }
            _ => {
                let newest: Vec<&str> = listed.iter().map(|c| c["id"].as_str().unwrap()).collect();
                let mut expected: Vec<&str> = ids.iter().map(String::as_str).collect();
                expected.reverse();
                assert_eq!(newest, expected);
            }
        }
        // A cursor of one order is refused by another.
        let first = call(&app, "GET", &format!("{base}&sort={sort}&limit=2"), token, None, 200).await;
        let cursor = urlencoding(first["next_cursor"].as_str().unwrap());
        let other = if sort == "name" { "score" } else { "name" };
        let body = call(
            &app,
            "GET",
            &format!("{base}&sort={other}&cursor={cursor}"),
            token,
            None,
            422,
        )
        .await;
        assert_error(&body, "validation_failed", Some("cursor"));
    }

    let ids_of = |page: &serde_json::Value| -> Vec<String> {
        let mut ids: Vec<String> = page["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let sorted = |picked: &[usize]| -> Vec<String> {
        let mut out: Vec<String> = picked.iter().map(|&i| ids[i].clone()).collect();
        out.sort();
        out
    };
    let base = base.as_str();
    let shared = &app;
    let get = |query: String| async move { call(shared, "GET", &format!("{base}&{query}"), token, None, 200).await };
    assert_eq!(ids_of(&get("tag=VIP".into()).await), sorted(&[0, 2, 6]));
    assert_eq!(ids_of(&get("tag=vip&status=customer".into()).await), sorted(&[0]));
    assert_eq!(ids_of(&get("status=lead".into()).await), sorted(&[1, 2, 4, 5]));
    let week_ago = (now - chrono::Duration::days(7)).format("%Y-%m-%d");
    assert_eq!(
        ids_of(&get(format!("last_interaction_after={week_ago}")).await),
        sorted(&[2])
    );
    assert_eq!(
        ids_of(&get(format!("last_interaction_before={week_ago}")).await),
        sorted(&[0, 1, 3, 4, 5, 6]),
        "not touched since: never touched included"
    );
    // Tiers: the listing agrees with each contact's own tier.
    let everyone = get("limit=200".into()).await;
    for tier in ["hot", "warm", "cold"] {
        let expected: Vec<usize> = (0..ids.len())
            .filter(|&i| {
                everyone["contacts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["id"] == ids[i].as_str() && c["tier"] == tier)
            })
            .collect();
        assert_eq!(ids_of(&get(format!("tier={tier}")).await), sorted(&expected), "{tier}");
    }
    assert_eq!(
        ids_of(&get("tier=hot,warm,cold".into()).await),
        sorted(&[0, 1, 2, 3, 4, 5, 6])
    );
    assert_eq!(ids_of(&get("q=zimmer&status=lead".into()).await), sorted(&[1]));
    // Empty form fields mean "not given".
    assert_eq!(ids_of(&get("tag=&tier=&sort=&status=".into()).await).len(), ids.len());

    // The export writes what the same filter lists.
    let response = send(
        &app,
        "GET",
        &format!(
            "/api/contacts/export.csv?workspace_id={}&tag=vip&sort=name",
            acme.workspace_id
        ),
        Some(token),
        None,
    )
    .await;
    assert_eq!(response.status().as_u16(), 200);
    let text = response.text().await.unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].starts_with("Ada,Lovelace,"), "{text}");
    assert!(rows[1].starts_with("Ming,Li,"), "{text}");
    assert!(rows[2].starts_with("Zoe,Adams,"), "{text}");
}

#[tokio::test]
async fn interactions_are_edited_and_deleted_by_members_only_and_rescore_the_contact() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let other = org(&app, "Other").await;
    let viewer = crate::support::member(&app, &acme, "viewer").await;
    let member = crate::support::member(&app, &acme, "member").await;
    let ada = contact(&app, &acme, json!({"first_name": "Ada", "email": "ada@acme.io"})).await;
    let ada_id = ada["id"].as_str().unwrap();
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let note = call(
        &app,
        "POST",
        &format!("/api/contacts/{ada_id}/interactions"),
        &acme.owner.token,
        Some(&json!({"kind": "note", "occurred_at": yesterday, "summary": "Met at a fair"})),
        201,
    )
    .await;
    let path = format!("/api/interactions/{}", note["id"].as_str().unwrap());
    let before_edit = score(&app, ada_id, &acme.owner.token).await;

    // Refusals change nothing.
    let before = snapshot(&app).await;
    let body = call(&app, "PATCH", &path, &viewer.token, Some(&json!({"summary": "x"})), 403).await;
    assert_error(&body, "insufficient_role", None);
    let body = call(&app, "DELETE", &path, &viewer.token, None, 403).await;
    assert_error(&body, "insufficient_role", None);
    let body = call(
        &app,
        "PATCH",
        &path,
        &other.owner.token,
        Some(&json!({"summary": "x"})),
        404,
    )
    .await;
    assert_error(&body, "not_found", None);
    let body = call(&app, "DELETE", &path, &other.owner.token, None, 404).await;
    assert_error(&body, "not_found", None);
    let wrong_workspace = format!("{path}?workspace_id={}", other.workspace_id);
    call(&app, "DELETE", &wrong_workspace, &member.token, None, 404).await;
    let body = call(
        &app,
        "PATCH",
        &path,
        &member.token,
        Some(&json!({"kind": "meeting", "occurred_at": "2299-01-01T00:00:00Z"})),
        422,
    )
    .await;
    assert_error(&body, "validation_failed", Some("occurred_at"));
    assert_eq!(before, snapshot(&app).await, "a refused edit changed the database");

    // A member turns the note into a meeting: the contact's score follows in the same request.
    let edited = call(
        &app,
        "PATCH",
        &path,
        &member.token,
        Some(&json!({"kind": "meeting", "summary": null})),
        200,
    )
    .await;
    assert_eq!(edited["kind"], "meeting");
    assert_eq!(edited["summary"], json!(null));
    assert_eq!(edited["id"], note["id"]);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(edited["occurred_at"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(note["occurred_at"].as_str().unwrap()).unwrap(),
        "absent fields stay"
    );
    let after_edit = score(&app, ada_id, &acme.owner.token).await;
    assert!(
        after_edit > before_edit,
        "a meeting weighs more than a note: {before_edit} → {after_edit}"
    );
    let listed = call(
        &app,
        "GET",
        &format!("/api/contacts/{ada_id}/interactions"),
        &viewer.token,
        None,
        200,
    )
    .await;
    assert_eq!(listed[0]["kind"], "meeting");

    call(&app, "DELETE", &path, &member.token, None, 204).await;
    call(&app, "DELETE", &path, &member.token, None, 404).await;
    call(&app, "PATCH", &path, &member.token, Some(&json!({"summary": "x"})), 404).await;
    let contact = call(
        &app,
        "GET",
        &format!("/api/contacts/{ada_id}"),
        &viewer.token,
        None,
        200,
    )
    .await;
    assert_eq!(contact["last_interaction_at"], json!(null), "{contact}");
    assert!(contact["score"].as_i64().unwrap() < after_edit);
}

/// A contact's stored score.
async fn score(app: &TestApp, id: &str, token: &str) -> i64 {
    let contact = call(app, "GET", &format!("/api/contacts/{id}"), token, None, 200).await;
    contact["score"].as_i64().unwrap()
}
