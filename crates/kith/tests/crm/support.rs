//! Helpers on top of the shared harness: JSON requests with any method, organizations with members of each role,
//! and a snapshot of every CRM table for "nothing changed" checks.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use crate::helpers::{TestApp, TestUser, json_body};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

/// Sends `method path` with an optional token and JSON body.
pub async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> reqwest::Response {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app.http.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.unwrap()
}

/// Sends and checks the status, returning the JSON body (or `null` for an empty one).
pub async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<&Value>, status: u16) -> Value {
    let response = send(app, method, path, Some(token), body).await;
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{method} {path}: unexpected status; body: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

/// An organization with an owner, and the id of its default workspace.
pub struct Org {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub owner: TestUser,
}

/// Creates an organization as a fresh user.
pub async fn org(app: &TestApp, name: &str) -> Org {
    let owner = app.create_user().await;
    let created = call(
        app,
        "POST",
        "/api/organizations",
        &owner.token,
        Some(&json!({"name": name})),
        201,
    )
    .await;
    let id: Uuid = created["id"].as_str().unwrap().parse().unwrap();
    let workspaces = call(
        app,
        "GET",
        &format!("/api/workspaces?org_id={id}"),
        &owner.token,
        None,
        200,
    )
    .await;
    let workspace_id = workspaces[0]["id"].as_str().unwrap().parse().unwrap();
    Org {
        id,
        workspace_id,
        owner,
    }
}

/// Adds a fresh user to `org` with `role`, through an invitation the owner sends and the user accepts.
pub async fn member(app: &TestApp, org: &Org, role: &str) -> TestUser {
    let user = app.create_user().await;
    join(app, org, &user, role).await;
    user
}

/// Invites `user` to `org` with `role` and accepts.
pub async fn join(app: &TestApp, org: &Org, user: &TestUser, role: &str) {
    let invitation = call(
        app,
        "POST",
        &format!("/api/organizations/{}/invitations", org.id),
        &org.owner.token,
        Some(&json!({"email": user.email, "role": role})),
        201,
    )
    .await;
    let token = invitation["token"].as_str().unwrap();
    call(
        app,
        "POST",
        "/api/invitations/accept",
        &user.token,
        Some(&json!({"token": token})),
        200,
    )
    .await;
}

/// Creates a contact in the org's default workspace as its owner.
pub async fn contact(app: &TestApp, org: &Org, body: Value) -> Value {
    let mut body = body;
    body["workspace_id"] = json!(org.workspace_id);
    call(app, "POST", "/api/contacts", &org.owner.token, Some(&body), 201).await
}

/// Creates an event in the org's default workspace as its owner.
pub async fn event(app: &TestApp, org: &Org, body: Value) -> Value {
    let mut body = body;
    body["workspace_id"] = json!(org.workspace_id);
    call(app, "POST", "/api/calendar/events", &org.owner.token, Some(&body), 201).await
}

/// The org's default workspace as an iCalendar export, fetched with `token`; asserts 200.
pub async fn ics(app: &TestApp, org: &Org, token: &str) -> reqwest::Response {
    let path = format!("/api/calendar/events.ics?workspace_id={}", org.workspace_id);
    let response = send(app, "GET", &path, Some(token), None).await;
    assert_eq!(response.status().as_u16(), 200);
    response
}

/// Every row of every tenant table, as text, read by the superuser (bypassing RLS).
pub async fn snapshot(app: &TestApp) -> Vec<String> {
    let admin = app.connect_as("postgres").await;
    let mut out = Vec::new();
    for table in [
        "organizations",
        "workspaces",
        "user_organizations",
        "invitations",
        "contacts",
        "interactions",
        "calendar_events",
        "event_contacts",
        "calendar_subscriptions",
        "audit_log",
    ] {
        let rows = admin
            .query(&format!("select t::text from public.{table} t order by t::text"), &[])
            .await
            .unwrap();
        out.extend(rows.iter().map(|r| format!("{table}: {}", r.get::<_, String>(0))));
    }
    out
}

/// Asserts an error body's code (and field, when given).
pub fn assert_error(body: &Value, code: &str, field: Option<&str>) {
    assert_eq!(body["error"]["code"], code, "{body}");
    if let Some(field) = field {
        assert_eq!(body["error"]["field"], field, "{body}");
    }
}

/// `json_body` re-exported for tests.
pub async fn body(response: reqwest::Response, status: u16) -> Value {
    json_body(response, status).await
}
