//! Contact intelligence end to end: recent meetings and replies make a contact hot; no interactions leave it cold.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{assert_error, call, contact, org};
use chrono::{Duration, Utc};
use serde_json::json;

#[tokio::test]
async fn recent_meetings_and_replies_make_a_hot_lead_and_silence_stays_cold() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let intelligence = format!("/api/agents/contact-intelligence?workspace_id={}", acme.workspace_id);

    // An empty workspace answers an empty list.
    let empty = call(&app, "GET", &intelligence, &acme.owner.token, None, 200).await;
    assert_eq!(empty["hot_leads"], json!([]));
    assert_eq!(empty["workspace_id"], json!(acme.workspace_id));
    assert!(empty["generated_at"].is_string());

    let hot = contact(
        &app,
        &acme,
        json!({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@acme.io", "company": "Acme", "job_title": "VP Sales"}),
    )
    .await;
    let cold = contact(&app, &acme, json!({"first_name": "Cold", "email": "cold@gmail.com"})).await;
    assert_eq!(cold["tier"], "cold");
    let path = format!("/api/contacts/{}/interactions", hot["id"].as_str().unwrap());
    for (kind, days) in [("meeting", 1), ("meeting", 3), ("email_replied", 2), ("meeting", 6)] {
        let at = (Utc::now() - Duration::days(days)).to_rfc3339();
        call(
            &app,
            "POST",
            &path,
            &acme.owner.token,
            Some(&json!({"kind": kind, "occurred_at": at})),
            201,
        )
        .await;
    }
    // Recomputed when interactions change: the stored score moved.
    let stored = call(
        &app,
        "GET",
        &format!("/api/contacts/{}", hot["id"].as_str().unwrap()),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(stored["tier"], "hot", "{stored}");

    // A Hot Leads panel lists hot and warm contacts only: the untouched contact is not a lead.
    let leads = call(&app, "GET", &intelligence, &acme.owner.token, None, 200).await;
    let list = leads["hot_leads"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{leads}");
    assert_eq!(list[0]["contact_id"], hot["id"]);
    assert_eq!(list[0]["tier"], "hot");
    assert!(list[0]["score"].as_i64().unwrap() >= 70);
    assert_eq!(list[0]["name"], "Ada Lovelace");
    let reasons = list[0]["reasons"].as_array().unwrap();
    let sum: i64 = reasons.iter().map(|r| r["points"].as_i64().unwrap()).sum();
    assert_eq!(sum, list[0]["score"].as_i64().unwrap(), "reasons add up to the score");
    assert!(reasons.iter().any(|r| r["factor"] == "engagement.meeting"));
    assert!(reasons.iter().all(|r| r["detail"].is_string()));
    assert!(list[0]["last_interaction_at"].is_string());
    // Asked for, the other tiers come too.
    let every_tier = format!("{intelligence}&tier=hot,warm,cold");
    let leads = call(&app, "GET", &every_tier, &acme.owner.token, None, 200).await;
    let list = leads["hot_leads"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["contact_id"], hot["id"]);
    assert_eq!(list[1]["contact_id"], cold["id"]);
    assert_eq!(list[1]["tier"], "cold");
    assert_eq!(list[1]["last_interaction_at"], json!(null));
    let leads = call(
        &app,
        "GET",
        &format!("{intelligence}&tier=cold"),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(leads["hot_leads"].as_array().unwrap().len(), 1);
    assert_eq!(leads["hot_leads"][0]["contact_id"], cold["id"]);
    let body = call(
        &app,
        "GET",
        &format!("{intelligence}&tier=lukewarm"),
        &acme.owner.token,
        None,
        422,
    )
    .await;
    assert_error(&body, "validation_failed", Some("tier"));

    // min_score and limit.
    let filtered = call(
        &app,
        "GET",
        &format!("{every_tier}&min_score=50"),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(filtered["hot_leads"].as_array().unwrap().len(), 1);
    let limited = call(
        &app,
        "GET",
        &format!("{every_tier}&limit=1"),
        &acme.owner.token,
        None,
        200,
    )
    .await;
    assert_eq!(limited["hot_leads"].as_array().unwrap().len(), 1);
    let body = call(
        &app,
        "GET",
        &format!("{intelligence}&min_score=101"),
        &acme.owner.token,
        None,
        422,
    )
    .await;
    assert_error(&body, "validation_failed", Some("min_score"));

    // POST re-scores the workspace or one contact.
    let all = call(
        &app,
        "POST",
        "/api/agents/contact-intelligence",
        &acme.owner.token,
        Some(&json!({"workspace_id": acme.workspace_id})),
        200,
    )
    .await;
    assert_eq!(all["scores"].as_array().unwrap().len(), 2);
    let one = call(
        &app,
        "POST",
        "/api/agents/contact-intelligence",
        &acme.owner.token,
        Some(&json!({"workspace_id": acme.workspace_id, "contact_id": cold["id"]})),
        200,
    )
    .await;
    assert_eq!(one["scores"][0]["tier"], "cold");
    // Another tenant's contact id is not found.
    let other = org(&app, "Other").await;
    let theirs = contact(&app, &other, json!({"first_name": "T"})).await;
    call(
        &app,
        "POST",
        "/api/agents/contact-intelligence",
        &acme.owner.token,
        Some(&json!({"workspace_id": acme.workspace_id, "contact_id": theirs["id"]})),
        404,
    )
    .await;
}
