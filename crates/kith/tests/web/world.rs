//! Two organizations seen through browsers: an owner (with a workspace, created through the overview's first step),
//! a viewer of the same organization (invited and accepted through the pages), a stranger with an organization of
//! their own, and a signed-in user with no organization. Plus a superuser snapshot of every tenant table, to show
//! a refusal changed nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use crate::browser::Browser;
use crate::helpers::TestApp;
use serde_json::{Value, json};
use uuid::Uuid;

pub const PASSWORD: &str = "a-good-password";

pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", Uuid::new_v4().simple())
}

/// A signed-in browser and the same user's bearer token.
pub struct Person<'a> {
    pub browser: Browser<'a>,
    pub email: String,
    pub token: String,
    pub user_id: String,
}

/// `method path` through `/api` as `token`, asserting `status`.
pub async fn api(app: &TestApp, method: &str, path: &str, token: &str, body: Option<&Value>, status: u16) -> Value {
    let url = format!("{}{path}", app.address);
    let request = match method {
        "POST" => app.http.post(url),
        "PATCH" => app.http.patch(url),
        "DELETE" => app.http.delete(url),
        _ => app.http.get(url),
    };
    let request = match body {
        Some(body) => request.json(body),
        None => request,
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{method} {path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Signs a new user up in a fresh browser; `org` names the organization they create through the first step.
pub async fn person<'a>(app: &'a TestApp, tag: &str, org: Option<&str>) -> Person<'a> {
    let mut browser = Browser::new(app);
    let address = email(tag);
    assert_eq!(browser.sign_up(&address, PASSWORD).await.status, 303);
    if let Some(name) = org {
        let created = browser
            .submit("/dashboard/overview", "/dashboard/organizations", &[("name", name)])
            .await;
        assert_eq!(created.status, 303, "{}", created.body);
    }
    let token = app.sign_in_token(&address, PASSWORD).await;
    let profile = api(app, "GET", "/api/profile", &token, None, 200).await;
    Person {
        browser,
        email: address,
        token,
        user_id: profile["id"].as_str().unwrap().to_owned(),
    }
}

/// The organization and default workspace ids of `person`'s first organization.
pub async fn org_of(app: &TestApp, person: &Person<'_>) -> (String, String) {
    let orgs = api(app, "GET", "/api/organizations", &person.token, None, 200).await;
    let org = orgs[0]["id"].as_str().unwrap().to_owned();
    let workspaces = api(
        app,
        "GET",
        &format!("/api/workspaces?org_id={org}"),
        &person.token,
        None,
        200,
    )
    .await;
    (org, workspaces[0]["id"].as_str().unwrap().to_owned())
}

/// The invitation token in the newest mail to `to`.
pub fn invitation_token(app: &TestApp, to: &str) -> String {
    let mail = app
        .mails()
        .into_iter()
        .rev()
        .find(|m| m["to"] == to)
        .unwrap_or_else(|| panic!("no mail to {to}"));
    let link = mail["link"].as_str().unwrap();
    let url = url::Url::parse(link).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// Everything the tests need: two organizations, a viewer, a user with none.
pub struct World<'a> {
    pub app: &'a TestApp,
    pub owner: Person<'a>,
    pub viewer: Person<'a>,
    pub stranger: Person<'a>,
    pub loner: Person<'a>,
    pub org: String,
    pub workspace: String,
    pub other_org: String,
    pub other_workspace: String,
}

pub async fn world(app: &TestApp) -> World<'_> {
    let owner = person(app, "owner", Some("Acme Web")).await;
    let (org, workspace) = org_of(app, &owner).await;
    let stranger = person(app, "stranger", Some("Other Co")).await;
    let (other_org, other_workspace) = org_of(app, &stranger).await;
    let loner = person(app, "loner", None).await;
    // The viewer is invited through the API and accepts through the invitation page.
    let viewer_email = email("viewer");
    api(
        app,
        "POST",
        &format!("/api/organizations/{org}/invitations"),
        &owner.token,
        Some(&json!({"email": viewer_email, "role": "viewer"})),
        201,
    )
    .await;
    let token = invitation_token(app, &viewer_email);
    let mut browser = Browser::new(app);
    assert_eq!(browser.sign_up(&viewer_email, PASSWORD).await.status, 303);
    let page = format!("/invitations/{token}");
    let accepted = browser.submit(&page, &page, &[]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    let viewer_token = app.sign_in_token(&viewer_email, PASSWORD).await;
    let profile = api(app, "GET", "/api/profile", &viewer_token, None, 200).await;
    let viewer = Person {
        browser,
        email: viewer_email,
        token: viewer_token,
        user_id: profile["id"].as_str().unwrap().to_owned(),
    };
    World {
        app,
        owner,
        viewer,
        stranger,
        loner,
        org,
        workspace,
        other_org,
        other_workspace,
    }
}

/// Every row of every tenant table, the profiles and the password hashes, read by the superuser.
pub async fn snapshot(app: &TestApp) -> Vec<String> {
    let admin = app.connect_as("postgres").await;
    let mut out = Vec::new();
    for table in [
        "public.organizations",
        "public.workspaces",
        "public.user_organizations",
        "public.invitations",
        "public.contacts",
        "public.interactions",
        "public.calendar_events",
        "public.event_contacts",
        "public.profiles",
    ] {
        let rows = admin
            .query(&format!("select t::text from {table} t order by t::text"), &[])
            .await
            .unwrap();
        out.extend(rows.iter().map(|r| format!("{table}: {}", r.get::<_, String>(0))));
    }
    let rows = admin
        .query(
            "select id::text || ' ' || coalesce(encrypted_password, '') from auth.users order by id",
            &[],
        )
        .await
        .unwrap();
    out.extend(rows.iter().map(|r| r.get::<_, String>(0)));
    out
}
