//! The isolation matrix, generated from the router's own route table (`kith_crm::route_specs`): every `/api`
//! route is exercised as no token, a user in no organization, a member of another organization, a viewer writing
//! and the right member. A route added to the table without a request below fails this test.

#![allow(clippy::unwrap_used)]

use crate::helpers::{TestApp, TestUser};
use crate::support::{Org, assert_error, contact, event, member, org, snapshot};
use kith_crm::context::OrgRole;
use kith_crm::{RouteSpec, Scope};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// What a request acts on: always organization A's things.
struct Target {
    org_id: Uuid,
    workspace_id: Uuid,
    contact_id: Uuid,
    event_id: Uuid,
    interaction_id: Uuid,
    extra_workspace_id: Uuid,
    user_id: Uuid,
    invitation_id: Uuid,
    invitation_token: String,
}

enum Body {
    None,
    Json(Value),
    Csv(&'static str),
}

/// The request for a route, acting on `t`. Panics for a route it does not know: add it here when adding a route.
fn request(spec: &RouteSpec, t: &Target) -> (String, Body) {
    let (o, w, c, e) = (t.org_id, t.workspace_id, t.contact_id, t.event_id);
    match (spec.method, spec.path) {
        ("GET", "/api/openapi.json") => ("/api/openapi.json".into(), Body::None),
        ("GET", "/api/profile") => ("/api/profile".into(), Body::None),
        ("PATCH", "/api/profile") => ("/api/profile".into(), Body::Json(json!({"full_name": "X"}))),
        ("GET", "/api/organizations") => ("/api/organizations".into(), Body::None),
        ("POST", "/api/organizations") => ("/api/organizations".into(), Body::Json(json!({"name": "New org"}))),
        ("PATCH", "/api/organizations/{org_id}") => (
            format!("/api/organizations/{o}"),
            Body::Json(json!({"name": "Renamed"})),
        ),
        ("DELETE", "/api/organizations/{org_id}") => (format!("/api/organizations/{o}"), Body::None),
        ("PATCH", "/api/workspaces/{id}") => (
            format!("/api/workspaces/{}", t.extra_workspace_id),
            Body::Json(json!({"name": "Renamed"})),
        ),
        ("DELETE", "/api/workspaces/{id}") => (format!("/api/workspaces/{}", t.extra_workspace_id), Body::None),
        ("GET", "/api/organizations/{org_id}/members") => (format!("/api/organizations/{o}/members"), Body::None),
        ("PATCH", "/api/organizations/{org_id}/members/{user_id}") => (
            format!("/api/organizations/{o}/members/{}", t.user_id),
            Body::Json(json!({"role": "viewer"})),
        ),
        ("DELETE", "/api/organizations/{org_id}/members/{user_id}") => {
            (format!("/api/organizations/{o}/members/{}", t.user_id), Body::None)
        }
        ("GET", "/api/organizations/{org_id}/invitations") => {
            (format!("/api/organizations/{o}/invitations"), Body::None)
        }
        ("POST", "/api/organizations/{org_id}/invitations") => (
            format!("/api/organizations/{o}/invitations"),
            Body::Json(json!({"email": format!("new-{}@example.com", Uuid::new_v4().simple())})),
        ),
        ("DELETE", "/api/organizations/{org_id}/invitations/{id}") => (
            format!("/api/organizations/{o}/invitations/{}", t.invitation_id),
            Body::None,
        ),
        ("POST", "/api/invitations/accept") => (
            "/api/invitations/accept".into(),
            Body::Json(json!({"token": t.invitation_token})),
        ),
        ("GET", "/api/audit") => (format!("/api/audit?org_id={o}"), Body::None),
        ("GET", "/api/workspaces") => (format!("/api/workspaces?org_id={o}"), Body::None),
        ("POST", "/api/workspaces") => (
            "/api/workspaces".into(),
            Body::Json(json!({"org_id": o, "name": "Second"})),
        ),
        ("GET", "/api/contacts") => (format!("/api/contacts?workspace_id={w}"), Body::None),
        ("POST", "/api/contacts") => (
            "/api/contacts".into(),
            Body::Json(json!({"workspace_id": w, "first_name": "New"})),
        ),
        ("GET", "/api/contacts/export.csv") => (format!("/api/contacts/export.csv?workspace_id={w}"), Body::None),
        ("POST", "/api/contacts/import") => (
            format!("/api/contacts/import?workspace_id={w}"),
            Body::Csv("first_name,email\nImported,imported@example.com\n"),
        ),
        ("GET", "/api/contacts/{id}") => (format!("/api/contacts/{c}"), Body::None),
        ("PATCH", "/api/contacts/{id}") => (format!("/api/contacts/{c}"), Body::Json(json!({"company": "Changed"}))),
        ("DELETE", "/api/contacts/{id}") => (format!("/api/contacts/{c}"), Body::None),
        ("GET", "/api/contacts/{id}/interactions") => (format!("/api/contacts/{c}/interactions"), Body::None),
        ("POST", "/api/contacts/{id}/interactions") => (
            format!("/api/contacts/{c}/interactions"),
            Body::Json(json!({"kind": "note", "summary": "hi"})),
        ),
        ("PATCH", "/api/interactions/{id}") => (
            format!("/api/interactions/{}", t.interaction_id),
            Body::Json(json!({"summary": "Edited"})),
        ),
        ("DELETE", "/api/interactions/{id}") => (format!("/api/interactions/{}", t.interaction_id), Body::None),
        ("GET", "/api/agents/contact-intelligence") => {
            (format!("/api/agents/contact-intelligence?workspace_id={w}"), Body::None)
        }
        ("POST", "/api/agents/contact-intelligence") => (
            "/api/agents/contact-intelligence".into(),
            Body::Json(json!({"workspace_id": w})),
        ),
        ("GET", "/api/calendar/events") => (format!("/api/calendar/events?workspace_id={w}"), Body::None),
        ("POST", "/api/calendar/events") => (
            "/api/calendar/events".into(),
            Body::Json(json!({"workspace_id": w, "title": "New", "starts_at": "2026-03-02T09:00:00Z"})),
        ),
        ("GET", "/api/calendar/subscription") => (format!("/api/calendar/subscription?workspace_id={w}"), Body::None),
        ("POST", "/api/calendar/subscription") => (
            "/api/calendar/subscription".into(),
            Body::Json(json!({"workspace_id": w})),
        ),
        ("DELETE", "/api/calendar/subscription") => {
            (format!("/api/calendar/subscription?workspace_id={w}"), Body::None)
        }
        ("GET", "/api/calendar/events.ics") => (format!("/api/calendar/events.ics?workspace_id={w}"), Body::None),
        ("PATCH", "/api/calendar/events/{id}") => (
            format!("/api/calendar/events/{e}"),
            Body::Json(json!({"title": "Moved"})),
        ),
        ("DELETE", "/api/calendar/events/{id}") => (format!("/api/calendar/events/{e}"), Body::None),
        (method, path) => panic!("the isolation matrix has no request for {method} {path}: add one"),
    }
}

async fn run(app: &TestApp, spec: &RouteSpec, t: &Target, token: Option<&str>) -> (u16, Value) {
    let (path, body) = request(spec, t);
    let mut req = app.http.request(
        Method::from_bytes(spec.method.as_bytes()).unwrap(),
        format!("{}{path}", app.address),
    );
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    req = match body {
        Body::None => req,
        Body::Json(v) => req.json(&v),
        Body::Csv(text) => req.header("content-type", "text/csv").body(text),
    };
    let response = req.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

struct Fixture {
    a: Org,
    b: Org,
    admin: TestUser,
    member: TestUser,
    viewer: TestUser,
    loner: TestUser,
}

/// Fresh things in A for one route's requests, so destructive successes do not disturb other routes.
async fn target(app: &TestApp, f: &Fixture, invitee: &TestUser) -> Target {
    let contact = contact(app, &f.a, json!({"first_name": "Target"})).await;
    let event = event(
        app,
        &f.a,
        json!({"title": "Target", "starts_at": "2026-03-02T09:00:00Z"}),
    )
    .await;
    let interaction = crate::support::call(
        app,
        "POST",
        &format!("/api/contacts/{}/interactions", contact["id"].as_str().unwrap()),
        &f.a.owner.token,
        Some(&json!({"kind": "call", "summary": "Target"})),
        201,
    )
    .await;
    // The viewer's own calendar subscription (a viewer may make and revoke theirs).
    crate::support::call(
        app,
        "POST",
        "/api/calendar/subscription",
        &f.viewer.token,
        Some(&json!({"workspace_id": f.a.workspace_id})),
        201,
    )
    .await;
    let extra = member(app, &f.a, "member").await;
    let workspace = crate::support::call(
        app,
        "POST",
        "/api/workspaces",
        &f.a.owner.token,
        Some(&json!({"org_id": f.a.id, "name": "Extra"})),
        201,
    )
    .await;
    let invitation = crate::support::call(
        app,
        "POST",
        &format!("/api/organizations/{}/invitations", f.a.id),
        &f.a.owner.token,
        Some(&json!({"email": invitee.email})),
        201,
    )
    .await;
    Target {
        org_id: f.a.id,
        workspace_id: f.a.workspace_id,
        contact_id: contact["id"].as_str().unwrap().parse().unwrap(),
        event_id: event["id"].as_str().unwrap().parse().unwrap(),
        interaction_id: interaction["id"].as_str().unwrap().parse().unwrap(),
        extra_workspace_id: workspace["id"].as_str().unwrap().parse().unwrap(),
        user_id: extra.id,
        invitation_id: invitation["id"].as_str().unwrap().parse().unwrap(),
        invitation_token: invitation["token"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test]
async fn every_route_is_isolated_by_postgres() {
    let app = TestApp::spawn().await;
    let a = org(&app, "Tenant A").await;
    let b = org(&app, "Tenant B").await;
    let f = Fixture {
        admin: member(&app, &a, "admin").await,
        member: member(&app, &a, "member").await,
        viewer: member(&app, &a, "viewer").await,
        loner: app.create_user().await,
        a,
        b,
    };
    // B has data too, so "sees nothing of A" is not trivially true.
    contact(&app, &f.b, json!({"first_name": "B's contact"})).await;

    let specs = kith_crm::route_specs();
    assert!(specs.len() >= 30, "the route table looks truncated");
    for spec in &specs {
        assert!(spec.path.starts_with("/api/"), "{}", spec.path);
        let invitee = app.create_user().await;
        let t = target(&app, &f, &invitee).await;
        let label = format!("{} {}", spec.method, spec.path);
        let writes = spec.method != "GET";

        let before = snapshot(&app).await;
        // 1. No token.
        let (status, body) = run(&app, spec, &t, None).await;
        if spec.scope == Scope::Public {
            assert_eq!(status, 200, "{label}: public route");
            continue;
        }
        assert_eq!(status, 401, "{label}: no token → 401 ({body})");
        assert_error(&body, "missing_token", None);

        if matches!(spec.scope, Scope::Org | Scope::Workspace | Scope::Item) {
            // 2. A user in no organization.
            let (status, body) = run(&app, spec, &t, Some(&f.loner.token)).await;
            assert_eq!(status, 403, "{label}: loner → 403 ({body})");
            assert_error(&body, "no_organization", None);
            assert_eq!(body["error"]["message"], "Forbidden: No organization found for user");

            // 3. The owner of another organization, with A's workspace, organization or item.
            let (status, body) = run(&app, spec, &t, Some(&f.b.owner.token)).await;
            match spec.scope {
                Scope::Workspace => {
                    assert_eq!(status, 403, "{label}: other tenant → 403 ({body})");
                    assert_error(&body, "workspace_forbidden", None);
                }
                _ => {
                    assert_eq!(status, 404, "{label}: other tenant's item → 404 ({body})");
                    assert_error(&body, "not_found", None);
                }
            }

            // 4. A viewer writing (except to their own calendar subscription, which is theirs to manage).
            let own_setting = spec.path == "/api/calendar/subscription";
            if writes && !own_setting {
                let (status, body) = run(&app, spec, &t, Some(&f.viewer.token)).await;
                assert_eq!(status, 403, "{label}: viewer writing → 403 ({body})");
                assert_error(&body, "insufficient_role", None);
            }
        }
        assert_eq!(
            before,
            snapshot(&app).await,
            "{label}: a refused request changed the database"
        );

        // 5. The right member: the least role the route needs (a member removing someone leaves instead).
        let actor = match (spec.scope, spec.min_role) {
            (Scope::User, _) => &invitee,
            (_, Some(OrgRole::Owner)) => &f.a.owner,
            (_, Some(OrgRole::Admin)) => &f.admin,
            (_, Some(OrgRole::Member)) => &f.member,
            _ => &f.viewer,
        };
        let (status, body) = if (spec.method, spec.path) == ("DELETE", "/api/organizations/{org_id}") {
            // Deleting A would end the test: a fresh organization's owner deletes it instead.
            let doomed = org(&app, "Doomed").await;
            let t = Target { org_id: doomed.id, ..t };
            run(&app, spec, &t, Some(&doomed.owner.token)).await
        } else if (spec.method, spec.path) == ("DELETE", "/api/organizations/{org_id}/members/{user_id}") {
            // Anyone may leave: the extra member removes themselves.
            let leaver = member(&app, &f.a, "viewer").await;
            let t = Target {
                user_id: leaver.id,
                ..t
            };
            run(&app, spec, &t, Some(&leaver.token)).await
        } else {
            run(&app, spec, &t, Some(&actor.token)).await
        };
        assert!(
            (200..300).contains(&status),
            "{label}: right member → 2xx, got {status} ({body})"
        );
    }
    let _ = &f.member;
}
