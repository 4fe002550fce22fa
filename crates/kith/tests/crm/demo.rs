//! The demo seed: the printed users see hot leads and a week of events through the API.

#![allow(clippy::unwrap_used)]

use crate::helpers::TestApp;
use crate::support::call;

#[tokio::test]
async fn the_demo_seed_shows_hot_and_cold_leads_and_a_week_of_events() {
    let app = TestApp::spawn().await;
    let owner = app.create_user().await;
    let member = app.create_user().await;
    let seeded = kith::demo::seed(&app.privileged, owner.id, member.id).await.unwrap();
    assert_eq!(seeded.contacts, 50);
    // Seeding again changes nothing.
    let again = kith::demo::seed(&app.privileged, owner.id, member.id).await.unwrap();
    assert_eq!(again.org_id, seeded.org_id);
    assert_eq!(again.contacts, 50);

    let w = seeded.workspace_id;
    for token in [&owner.token, &member.token] {
        let leads = call(
            &app,
            "GET",
            &format!("/api/agents/contact-intelligence?workspace_id={w}&limit=100&tier=hot,warm,cold"),
            token,
            None,
            200,
        )
        .await;
        let list = leads["hot_leads"].as_array().unwrap();
        assert_eq!(list.len(), 50);
        let hot = list.iter().filter(|l| l["tier"] == "hot").count();
        let cold = list.iter().filter(|l| l["tier"] == "cold").count();
        assert!(hot >= 5, "some clearly hot: {hot}");
        assert!(cold >= 10, "some cold: {cold}");
        assert_eq!(list[0]["tier"], "hot");
        // By default the panel shows no cold contact.
        let panel = call(
            &app,
            "GET",
            &format!("/api/agents/contact-intelligence?workspace_id={w}&limit=100"),
            token,
            None,
            200,
        )
        .await;
        let panel = panel["hot_leads"].as_array().unwrap();
        assert_eq!(panel.len(), 50 - cold);
        assert!(panel.iter().all(|l| l["tier"] != "cold"));
        let events = call(
            &app,
            "GET",
            &format!("/api/calendar/events?workspace_id={w}"),
            token,
            None,
            200,
        )
        .await;
        assert!(events.as_array().unwrap().len() >= 7, "a week of events: {events}");
    }
    let orgs = call(&app, "GET", "/api/organizations", &member.token, None, 200).await;
    assert_eq!(orgs[0]["role"], "member");
    // The session `kith seed --demo` opens for its users is a real one.
    let session = app.auth.open_session(owner.id, "password").await.unwrap();
    let token = session["access_token"].as_str().unwrap().to_owned();
    call(&app, "GET", "/api/organizations", &token, None, 200).await;
}
