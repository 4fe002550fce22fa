//! The remaining browser flows: accepting an invitation from its mailed link (signing in first), sign-up when
//! addresses must be confirmed (the mailed link comes back to this browser through PKCE, no token in any URL),
//! and sign-in rate limits shown next to the form.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::html::csrf_for;
use serde_json::{Value, json};
use uuid::Uuid;

async fn post_api(app: &TestApp, path: &str, token: &str, body: &Value) -> Value {
    let response = app
        .http
        .post(format!("{}{path}", app.address))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{path}: {}", response.status());
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_invitation_link_is_accepted_after_signing_in() {
    let app = TestApp::spawn().await;
    let owner = app.create_user().await;
    let bob = app.create_user().await;
    let org = post_api(&app, "/api/organizations", &owner.token, &json!({"name": "Acme"})).await;
    let org_id = org["id"].as_str().unwrap();
    post_api(
        &app,
        &format!("/api/organizations/{org_id}/invitations"),
        &owner.token,
        &json!({"email": bob.email, "role": "member"}),
    )
    .await;
    let mail = app
        .mails()
        .into_iter()
        .find(|m| m["type"] == "invite")
        .expect("no invite mail");
    let link = url::Url::parse(mail["link"].as_str().unwrap()).unwrap();
    let path = format!("{}?{}", link.path(), link.query().unwrap());

    let mut browser = Browser::new(&app);
    let signed_out = browser.get(&path).await;
    assert_eq!(signed_out.status, 200);
    let sign_in_link = crate::html::attr_values(&signed_out.body, "href")
        .into_iter()
        .find(|h| h.starts_with("/login?next="))
        .unwrap();
    let form = browser.get(&sign_in_link).await;
    let csrf = csrf_for(&form.body, "/login").unwrap();
    let next = crate::html::attr_values(&form.body, "value")
        .into_iter()
        .find(|v| v.starts_with("/invitations/"))
        .unwrap();
    let signed_in = browser
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", &next),
                ("email", &bob.email),
                ("password", "a-good-password"),
            ],
        )
        .await;
    assert_eq!(signed_in.location.as_deref(), Some(next.as_str()));

    let accept_page = browser.get(&next).await;
    assert!(accept_page.body.contains(">Accept invitation</button>"));
    let accepted = browser.submit(&next, &next, &[]).await;
    assert_eq!(accepted.status, 303, "{}", accepted.body);
    assert_eq!(accepted.location.as_deref(), Some("/dashboard/overview"));
    let orgs: Value = app
        .http
        .get(format!("{}/api/organizations", app.address))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orgs[0]["id"], org["id"], "bob joined as himself");
    assert_eq!(orgs[0]["role"], "member");

    // Used once: a second acceptance is refused on the page.
    let again = browser.submit(&next, &next, &[]).await;
    assert!(again.status == 404 || again.status == 409, "{}", again.status);
    assert!(again.body.contains("Invitation not accepted"));
}

#[tokio::test]
async fn sign_up_with_confirmation_comes_back_to_this_browser() {
    let app = TestApp::spawn_with(|auth| auth.autoconfirm = false).await;
    let email = format!("confirm-{}@example.com", Uuid::new_v4().simple());
    let mut browser = Browser::new(&app);
    let answer = browser.sign_up(&email, "a-good-password").await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("We sent a confirmation link"));
    assert!(browser.session().is_none());
    let refused = Browser::new(&app).sign_in(&email, "a-good-password").await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("Confirm your email address first"));

    let mail = app.mails().into_iter().rev().find(|m| m["to"] == email).unwrap();
    let link = url::Url::parse(mail["link"].as_str().unwrap()).unwrap();
    let verified = browser.get(&format!("{}?{}", link.path(), link.query().unwrap())).await;
    let back = url::Url::parse(verified.location.as_deref().unwrap()).unwrap();
    assert_eq!(back.path(), "/auth/callback");
    assert!(back.fragment().is_none(), "no token in the URL");
    let landed = browser.get(&format!("{}?{}", back.path(), back.query().unwrap())).await;
    assert_eq!(landed.location.as_deref(), Some("/dashboard/overview"));
    assert!(browser.get("/dashboard/overview").await.body.contains(&email));

    // The same code cannot be used twice, nor without this browser's verifier.
    let mut other = Browser::new(&app);
    let replay = other.get(&format!("{}?{}", back.path(), back.query().unwrap())).await;
    assert_eq!(replay.status, 400);
    assert!(replay.body.contains("invalid or has expired"));
}

#[tokio::test]
async fn sign_in_rate_limits_are_shown_next_to_the_form() {
    let app = TestApp::spawn_with(|auth| auth.rate_limits.per_email = 2).await;
    let user = app.create_user().await;
    let mut browser = Browser::new(&app);
    for _ in 0..2 {
        assert_eq!(browser.sign_in(&user.email, "wrong-password").await.status, 400);
    }
    let limited = browser.sign_in(&user.email, "a-good-password").await;
    assert_eq!(limited.status, 429);
    assert!(limited.body.contains("Too many attempts"));
    assert!(browser.session().is_none());
}
