//! The web layer's security contracts: CSRF tokens and the cross-site guard (403, nothing changed), session
//! replay after sign-out, open redirects, reflected XSS, and the cookie never being a credential for the APIs.

#![allow(clippy::unwrap_used)]

use crate::browser::Browser;
use crate::helpers::TestApp;
use crate::html::csrf_for;
use uuid::Uuid;

async fn user_count(app: &TestApp, email: &str) -> i64 {
    app.connect_as("postgres")
        .await
        .query_one("select count(*) from auth.users where email = $1", &[&email])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let email = format!("csrf-{}@example.com", Uuid::new_v4().simple());
    let mut browser = Browser::new(&app);
    browser.get("/signup").await;
    for token in [None, Some("forged-token")] {
        let mut fields = vec![("email", email.as_str()), ("password", "a-good-password")];
        if let Some(token) = token {
            fields.push(("csrf", token));
        }
        let answer = browser.post("/signup", &fields).await;
        assert_eq!(answer.status, 403, "{token:?}");
        assert!(answer.body.contains("<h1>Request refused</h1>"));
        assert_eq!(user_count(&app, &email).await, 0);
    }

    // Signed in: sign-out without the token leaves the session alive.
    let user = app.create_user().await;
    browser.sign_in(&user.email, "a-good-password").await;
    let answer = browser.post("/logout", &[]).await;
    assert_eq!(answer.status, 403);
    assert_eq!(browser.get("/dashboard/overview").await.status, 200);
    // A token from another visitor's pre-session does not fit this session.
    let mut other = Browser::new(&app);
    let foreign = csrf_for(&other.get("/login").await.body, "/login").unwrap();
    assert_eq!(browser.post("/logout", &[("csrf", &foreign)]).await.status, 403);
    assert_eq!(browser.get("/dashboard/overview").await.status, 200);
}

#[tokio::test]
async fn cross_site_unsafe_requests_are_refused_even_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let email = format!("xsite-{}@example.com", Uuid::new_v4().simple());
    let mut browser = Browser::new(&app);
    let csrf = csrf_for(&browser.get("/signup").await.body, "/signup").unwrap();
    let fields = [
        ("csrf", csrf.as_str()),
        ("email", email.as_str()),
        ("password", "a-good-password"),
    ];
    for site in ["cross-site", "same-site"] {
        browser.fetch_site = Some(site);
        assert_eq!(browser.post("/signup", &fields).await.status, 403, "{site}");
    }
    // Without Fetch Metadata, a foreign Origin is refused.
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let cookie = format!("kith_csrf={}", browser.jar["kith_csrf"]);
    let refused = app
        .http
        .post(format!("{}/signup", app.address))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(user_count(&app, &email).await, 0);
    // The same request from the site's own origin goes through.
    let accepted = app
        .http
        .post(format!("{}/signup", app.address))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 303);
    assert_eq!(user_count(&app, &email).await, 1);
}

#[tokio::test]
async fn a_session_id_replayed_after_its_sign_out_is_signed_out() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut victim = Browser::new(&app);
    victim.sign_in(&user.email, "a-good-password").await;
    let stolen = victim.session().unwrap();
    let mut thief = Browser::new(&app);
    thief.jar.insert("kith_session".into(), stolen.clone());
    assert_eq!(thief.get("/dashboard/overview").await.status, 200);
    victim.sign_out().await;
    let replay = thief.get("/dashboard/overview").await;
    assert_eq!(replay.status, 303);
    assert!(
        replay
            .set_cookies
            .iter()
            .any(|c| c.starts_with("kith_session=;") && c.contains("Max-Age=0")),
        "the dead cookie is cleared"
    );
}

#[tokio::test]
async fn next_never_leaves_the_site() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    for evil in [
        "https://evil.example",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ] {
        let mut browser = Browser::new(&app);
        let encoded: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        let page = format!("/login?next={encoded}");
        let answer = browser
            .submit(
                &page,
                "/login",
                &[("email", &user.email), ("password", "a-good-password"), ("next", evil)],
            )
            .await;
        assert_eq!(answer.location.as_deref(), Some("/dashboard/overview"), "{evil}");
        let signed_in = browser.get(&page).await;
        assert_eq!(signed_in.location.as_deref(), Some("/dashboard/overview"), "{evil}");
    }
}

const PAYLOAD: &str = "\"><script>alert(1)</script><img src=x onerror=alert(1)>";

fn assert_escaped(body: &str, what: &str) {
    assert!(!body.contains("<script>alert(1)"), "{what} reflects the payload raw");
    assert!(!body.contains("<img src=x"), "{what} reflects the payload raw");
}

#[tokio::test]
async fn reflected_input_comes_back_escaped() {
    let app = TestApp::spawn().await;
    let encoded: String = url::form_urlencoded::byte_serialize(PAYLOAD.as_bytes()).collect();
    let mut browser = Browser::new(&app);
    for page in [
        "/",
        "/docs",
        "/blog",
        "/api",
        "/support",
        "/integrations",
        "/changelog",
        "/privacy",
        "/terms",
        "/login",
        "/signup",
        "/forgot-password",
        "/reset-password",
        "/logout",
        "/auth/callback",
        "/docs/x",
        "/blog/x",
        "/dashboard/overview",
    ] {
        for param in ["next", "code", "token", "q", "email", "error"] {
            let answer = browser.get(&format!("{page}?{param}={encoded}")).await;
            assert!(answer.status < 500, "{page}?{param}: {}", answer.status);
            assert_escaped(&answer.body, &format!("{page}?{param}"));
            if let Some(location) = &answer.location {
                assert!(location.starts_with('/') && !location.starts_with("//"), "{location}");
            }
        }
    }
    let answer = browser.get(&format!("/invitations/{encoded}")).await;
    assert_escaped(&answer.body, "/invitations/{token}");
    let answer = browser.get(&format!("/invitations/accept?token={encoded}")).await;
    assert_escaped(&answer.body, "/invitations/accept");

    // Form fields shown again after a refusal.
    for (page, fields) in [
        (
            "/login",
            vec![("email", PAYLOAD), ("password", PAYLOAD), ("next", PAYLOAD)],
        ),
        (
            "/signup",
            vec![("email", PAYLOAD), ("password", PAYLOAD), ("next", PAYLOAD)],
        ),
        ("/forgot-password", vec![("email", PAYLOAD)]),
    ] {
        let answer = browser.submit(page, page, &fields).await;
        assert!(answer.status < 500, "{page}: {}", answer.status);
        assert_escaped(&answer.body, page);
        if answer.body.contains("alert(1)") {
            assert!(
                answer.body.contains("&#34;&#62;&#60;script&#62;alert(1)"),
                "{page}: escaped echo"
            );
        }
    }
}

#[tokio::test]
async fn the_session_cookie_is_never_a_credential_for_the_apis() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user.email, "a-good-password").await;
    let cookie = format!("kith_session={}", browser.session().unwrap());
    let profile = app
        .http
        .get(format!("{}/api/profile", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 401);
    let me = app
        .http
        .get(format!("{}/auth/v1/user", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
    let rows = app
        .http
        .get(format!("{}/rest/v1/profiles?select=id", app.address))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(
        rows.status() == 401 || rows.text().await.unwrap() == "[]",
        "the data API saw the cookie"
    );
    let with_token = app
        .http
        .get(format!("{}/api/profile", app.address))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200);
}
