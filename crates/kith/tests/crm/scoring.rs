//! Contact intelligence end to end: recent meetings and replies make a contact hot; no interactions leave it cold.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::{assert_error, call, contact, org, send};
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
    assert_eq!(all["rescored"], 2, "{all}");
    assert_eq!(all["tiers"], json!({"hot": 1, "warm": 0, "cold": 1}));
    assert!(all["duration_ms"].is_u64());
    let one = call(
        &app,
        "POST",
        "/api/agents/contact-intelligence",
        &acme.owner.token,
        Some(&json!({"workspace_id": acme.workspace_id, "contact_id": cold["id"]})),
        200,
    )
    .await;
    assert_eq!(one["tiers"], json!({"hot": 0, "warm": 0, "cold": 1}), "{one}");
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

#[tokio::test]
async fn writes_through_the_data_api_and_time_passing_are_caught_up_by_the_background_re_score() {
    let app = TestApp::spawn().await;
    let acme = org(&app, "Acme").await;
    let ada = contact(
        &app,
        &acme,
        json!({"first_name": "Ada", "email": "ada@acme.io", "job_title": "CEO",
                                          "company": "Acme"}),
    )
    .await;
    let intelligence = format!("/api/agents/contact-intelligence?workspace_id={}", acme.workspace_id);
    let leads = call(&app, "GET", &intelligence, &acme.owner.token, None, 200).await;
    assert_eq!(leads["hot_leads"], json!([]), "not a lead yet: {leads}");
    // Meetings recorded through the data API skip /api's scoring: the trigger marks the contact instead ...
    for days in [1, 2, 3] {
        let at = (Utc::now() - Duration::days(days)).to_rfc3339();
        let row = json!({"org_id": acme.id, "workspace_id": acme.workspace_id, "contact_id": ada["id"],
                         "kind": "meeting", "occurred_at": at});
        let response = send(
            &app,
            "POST",
            "/rest/v1/interactions",
            Some(&acme.owner.token),
            Some(&row),
        )
        .await;
        assert_eq!(response.status().as_u16(), 201);
    }
    let admin = app.connect_as("postgres").await;
    let id = uuid::Uuid::parse_str(ada["id"].as_str().unwrap()).unwrap();
    let scored_at: Option<chrono::DateTime<Utc>> = admin
        .query_one("select scored_at from public.contacts where id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(scored_at, None, "marked for re-scoring");
    // ... and the background re-score (the maintenance door) makes it a lead.
    assert_eq!(kith_crm::rescore_job::rescore_due(&app.db, 500).await.unwrap(), 1);
    let leads = call(&app, "GET", &intelligence, &acme.owner.token, None, 200).await;
    assert_eq!(leads["hot_leads"][0]["contact_id"], ada["id"], "{leads}");
    assert!(leads["hot_leads"][0]["engagement"].as_i64().unwrap() > 0);
    let fresh_score = leads["hot_leads"][0]["score"].as_i64().unwrap();
    // Nothing is due right after.
    assert_eq!(kith_crm::rescore_job::rescore_due(&app.db, 500).await.unwrap(), 0);
    // Time passes: the meetings are three weeks old now, the stored score from an hour ago is stale.
    admin
        .batch_execute(&format!(
            "update public.interactions set occurred_at = occurred_at - interval '21 days' where contact_id = '{id}';
             update public.contacts set scored_at = now() - interval '2 hours' where id = '{id}'"
        ))
        .await
        .unwrap();
    assert_eq!(kith_crm::rescore_job::rescore_due(&app.db, 500).await.unwrap(), 1);
    let every_tier = format!("{intelligence}&tier=hot,warm,cold");
    let leads = call(&app, "GET", &every_tier, &acme.owner.token, None, 200).await;
    assert!(
        leads["hot_leads"][0]["score"].as_i64().unwrap() < fresh_score,
        "decayed: {leads}"
    );
    // A score's freshness is reported.
    let generated_at = chrono::DateTime::parse_from_rfc3339(leads["generated_at"].as_str().unwrap()).unwrap();
    assert!(Utc::now() - generated_at.with_timezone(&Utc) < Duration::minutes(1));
}
