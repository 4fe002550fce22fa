//! `GET/PATCH /api/profile`: the caller's own profile, validated, and never anyone else's.

#![allow(clippy::unwrap_used)]

use crate::helpers::{TestApp, json_body};
use serde_json::json;

#[tokio::test]
async fn a_user_reads_their_own_profile() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let body = json_body(app.get("/api/profile", Some(&user.token)).await, 200).await;
    assert_eq!(body["id"], json!(user.id));
    assert_eq!(body["email"], json!(user.email));
    assert_eq!(body["timezone"], "UTC");
    assert_eq!(body["full_name"], json!(null));
    for field in ["avatar_url", "created_at", "updated_at"] {
        assert!(body.get(field).is_some(), "missing {field}");
    }
}

#[tokio::test]
async fn a_user_updates_their_profile_and_null_clears_a_field() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let patch =
        json!({"full_name": "Ada Lovelace", "avatar_url": "https://example.com/ada.png", "timezone": "Europe/London"});
    let body = json_body(app.patch_json("/api/profile", &user.token, &patch).await, 200).await;
    assert_eq!(body["full_name"], "Ada Lovelace");
    assert_eq!(body["avatar_url"], "https://example.com/ada.png");
    assert_eq!(body["timezone"], "Europe/London");
    assert_ne!(body["updated_at"], body["created_at"]);

    // Absent fields stay; null clears.
    let body = json_body(
        app.patch_json("/api/profile", &user.token, &json!({"full_name": null}))
            .await,
        200,
    )
    .await;
    assert_eq!(body["full_name"], json!(null));
    assert_eq!(body["timezone"], "Europe/London");

    let read = json_body(app.get("/api/profile", Some(&user.token)).await, 200).await;
    assert_eq!(read["avatar_url"], "https://example.com/ada.png");
    assert_eq!(read["full_name"], json!(null));
}

#[tokio::test]
async fn bad_input_is_a_precise_4xx_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let before = json_body(app.get("/api/profile", Some(&user.token)).await, 200).await;

    let cases = [
        (json!({"timezone": "Mars/Olympus_Mons"}), 422, "timezone"),
        (json!({"timezone": 5}), 422, "timezone"),
        (json!({"full_name": "x".repeat(201)}), 422, "full_name"),
        (json!({"full_name": "Ada", "timezone": "Not/AZone"}), 422, "timezone"),
        (json!({"avatar_url": "javascript:alert(1)"}), 422, "avatar_url"),
        (json!({"avatar_url": "/relative.png"}), 422, "avatar_url"),
        (json!({"nickname": "ada"}), 422, "nickname"),
        (json!(["not", "an", "object"]), 422, "body"),
    ];
    for (patch, status, field) in cases {
        let body = json_body(app.patch_json("/api/profile", &user.token, &patch).await, status).await;
        assert_eq!(body["error"]["code"], "validation_failed", "{patch}");
        assert_eq!(body["error"]["field"], field, "{patch}: {body}");
    }

    let raw = |body: &'static str, content_type: &'static str| {
        app.http
            .patch(format!("{}/api/profile", app.address))
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let body = json_body(raw("{\"full_name\": ", "application/json").await.unwrap(), 400).await;
    assert_eq!(body["error"]["code"], "invalid_request");
    let body = json_body(raw("{\"full_name\": \"x\"}", "text/plain").await.unwrap(), 415).await;
    assert_eq!(body["error"]["code"], "unsupported_media_type");

    let oversize = json!({"full_name": "x".repeat(2 * 1024 * 1024)});
    let body = json_body(app.patch_json("/api/profile", &user.token, &oversize).await, 413).await;
    assert_eq!(body["error"]["code"], "payload_too_large");

    let after = json_body(app.get("/api/profile", Some(&user.token)).await, 200).await;
    assert_eq!(before, after, "a refused write must leave the profile as it was");
}

#[tokio::test]
async fn one_user_never_sees_or_changes_another_users_profile() {
    let app = TestApp::spawn().await;
    let alice = app.create_user().await;
    let bob = app.create_user().await;

    app.patch_json("/api/profile", &alice.token, &json!({"full_name": "Alice"}))
        .await;
    let bob_view = json_body(app.get("/api/profile", Some(&bob.token)).await, 200).await;
    assert_eq!(bob_view["id"], json!(bob.id));
    assert_eq!(bob_view["full_name"], json!(null));

    // Below the route: as Bob, Alice's row is invisible and untouchable, whatever the SQL says.
    let bob_caller = app.caller(&bob.token);
    let rows = app
        .db
        .read_as(&bob_caller, "select id from public.profiles", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, uuid::Uuid>(0), bob.id);

    let mut tx = app.db.begin_as(&bob_caller, kith_db::Access::ReadWrite).await.unwrap();
    let changed = tx
        .query(
            "update public.profiles set full_name = 'pwned' where id = $1 returning id",
            &[&alice.id],
        )
        .await
        .unwrap();
    assert!(changed.is_empty());
    tx.commit().await.unwrap();
    // Profiles go with their user: no caller may delete one, their own included.
    let mut tx = app.db.begin_as(&bob_caller, kith_db::Access::ReadWrite).await.unwrap();
    let err = tx
        .query("delete from public.profiles where id = $1", &[&alice.id])
        .await
        .unwrap_err();
    assert_eq!(
        err.sql_state(),
        Some(&kith_db::tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );
    drop(tx);

    let alice_view = json_body(app.get("/api/profile", Some(&alice.token)).await, 200).await;
    assert_eq!(alice_view["full_name"], "Alice");
}

#[tokio::test]
async fn a_valid_token_of_a_deleted_user_finds_no_profile() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut tx = app.privileged.begin("test: delete a user").await.unwrap();
    tx.query("delete from auth.users where id = $1", &[&user.id])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let body = json_body(app.get("/api/profile", Some(&user.token)).await, 404).await;
    assert_eq!(body["error"]["code"], "not_found");
}
