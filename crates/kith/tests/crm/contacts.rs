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
