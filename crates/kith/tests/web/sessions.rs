//! Browser sessions: sign-up, sign-in, sign-out, the dashboard redirect, password reset through the outbox,
//! sessions ended by sign-out elsewhere, bans, password changes and timeouts, and the table's isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::browser::Browser;
use crate::helpers::TestApp;
use kith_db::Access;
use uuid::Uuid;

fn email() -> String {
    format!("web-{}@example.com", Uuid::new_v4().simple())
}

#[tokio::test]
async fn sign_up_sign_out_and_sign_in_again() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let address = email();

    let created = browser.sign_up(&address, "a-good-password").await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location.as_deref(), Some("/dashboard/overview"));
    let cookie = created
        .set_cookies
        .iter()
        .find(|c| c.starts_with("kith_session="))
        .unwrap();
    assert!(
        cookie.ends_with("; HttpOnly; SameSite=Lax; Path=/; Max-Age=1209600"),
        "{cookie}"
    );
    let first = browser.session().unwrap();
    assert!(first.len() >= 43);

    let overview = browser.get("/dashboard/overview").await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains(&address) && overview.body.contains(">Sign out</button>"));
    assert!(
        !overview.body.contains(&first),
        "the session id must never appear in a page"
    );

    let home = browser.get("/").await.body;
    assert!(
        home.contains("class=\"button\">Dashboard</a>"),
        "signed in, the header offers the dashboard"
    );

    let out = browser.sign_out().await;
    assert_eq!(out.status, 303);
    let home = browser.get("/").await.body;
    assert!(home.contains(">Sign in</a>") && !home.contains(">Dashboard</a>"));
    assert!(browser.session().is_none(), "sign-out clears the cookie");
    let redirected = browser.get("/dashboard/overview").await;
    assert_eq!(redirected.status, 303);
    assert_eq!(
        redirected.location.as_deref(),
        Some("/login?next=%2Fdashboard%2Foverview")
    );

    let wrong = browser.sign_in(&address, "not-the-password").await;
    assert_eq!(wrong.status, 400);
    assert!(wrong.body.contains("Wrong email or password."));
    let again = browser.sign_in(&address, "a-good-password").await;
    assert_eq!(again.status, 303);
    let second = browser.session().unwrap();
    assert_ne!(first, second, "a new id at every sign-in");
    assert_eq!(browser.get("/dashboard/overview").await.status, 200);
}

#[tokio::test]
async fn signing_in_again_rotates_the_id_and_ends_the_previous_session() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut browser = Browser::new(&app);
    assert_eq!(browser.sign_in(&user.email, "a-good-password").await.status, 303);
    let old = browser.session().unwrap();
    // Signed in, the sign-in page sends the visitor on; a sign-in posted anyway opens a new session.
    assert_eq!(browser.get("/login").await.status, 303);
    let csrf = crate::html::csrf_for(&browser.get("/dashboard/overview").await.body, "/logout").unwrap();
    let again = browser
        .post(
            "/login",
            &[("csrf", &csrf), ("email", &user.email), ("password", "a-good-password")],
        )
        .await;
    assert_eq!(again.status, 303);
    let new = browser.session().unwrap();
    assert_ne!(old, new);
    let mut replay = Browser::new(&app);
    replay.jar.insert("kith_session".into(), old);
    assert_eq!(replay.get("/dashboard/overview").await.status, 303);
}

#[tokio::test]
async fn next_brings_the_visitor_back_after_sign_in() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut browser = Browser::new(&app);
    let form = browser.get("/login?next=/dashboard/overview%3Ftab%3D1").await;
    let csrf = crate::html::csrf_for(&form.body, "/login").unwrap();
    assert!(form.body.contains("value=\"/dashboard/overview?tab=1\""));
    let answer = browser
        .post(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", "/dashboard/overview?tab=1"),
                ("email", &user.email),
                ("password", "a-good-password"),
            ],
        )
        .await;
    assert_eq!(answer.location.as_deref(), Some("/dashboard/overview?tab=1"));
}

/// The path and query of the link in the newest mail to `to`.
fn mailed_link(app: &TestApp, to: &str) -> String {
    let mail = app.mails().into_iter().rev().find(|m| m["to"] == to).expect("no mail");
    let link = url::Url::parse(mail["link"].as_str().unwrap()).unwrap();
    format!("{}?{}", link.path(), link.query().unwrap_or_default())
}

#[tokio::test]
async fn password_reset_through_the_mailed_link_ends_every_session_and_the_old_password() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut elsewhere = Browser::new(&app);
    assert_eq!(elsewhere.sign_in(&user.email, "a-good-password").await.status, 303);

    let mut browser = Browser::new(&app);
    let sent = browser
        .submit("/forgot-password", "/forgot-password", &[("email", &user.email)])
        .await;
    assert_eq!(sent.status, 200);
    assert!(sent.body.contains("reset link is on its way"));
    assert!(
        browser.jar.contains_key("kith_pkce"),
        "the verifier stays in this browser"
    );
    let verify = browser.get(&mailed_link(&app, &user.email)).await;
    assert_eq!(verify.status, 303);
    let callback = url::Url::parse(verify.location.as_deref().unwrap()).unwrap();
    assert_eq!(callback.path(), "/auth/callback");
    assert!(!callback.as_str().contains("access_token") && callback.fragment().is_none());
    let landed = browser
        .get(&format!("{}?{}", callback.path(), callback.query().unwrap()))
        .await;
    assert_eq!(landed.status, 303, "{}", landed.body);
    assert_eq!(landed.location.as_deref(), Some("/reset-password"));
    assert!(!browser.jar.contains_key("kith_pkce"));

    let reset = browser
        .submit(
            "/reset-password",
            "/reset-password",
            &[("password", "a-brand-new-password")],
        )
        .await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    assert_eq!(browser.get("/dashboard/overview").await.status, 200);
    assert_eq!(
        elsewhere.get("/dashboard/overview").await.status,
        303,
        "a reset signs out everywhere else"
    );

    let mut fresh = Browser::new(&app);
    let old = fresh.sign_in(&user.email, "a-good-password").await;
    assert_eq!(old.status, 400, "the old password is refused");
    assert_eq!(fresh.sign_in(&user.email, "a-brand-new-password").await.status, 303);
}

#[tokio::test]
async fn a_session_that_is_not_a_recovery_cannot_set_a_password_without_the_old_one() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user.email, "a-good-password").await;
    let form = browser.get("/reset-password").await;
    assert!(!form.body.contains("action=\"/reset-password\""));
    let csrf = crate::html::csrf_for(&browser.get("/dashboard/overview").await.body, "/logout").unwrap();
    let answer = browser
        .post("/reset-password", &[("csrf", &csrf), ("password", "hijacked-password")])
        .await;
    assert_eq!(answer.status, 403);
    let mut fresh = Browser::new(&app);
    assert_eq!(fresh.sign_in(&user.email, "a-good-password").await.status, 303);
}

#[tokio::test]
async fn sign_out_elsewhere_a_ban_and_a_password_change_end_browser_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.connect_as("postgres").await;

    // Signing out everywhere through the API.
    let user = app.create_user().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user.email, "a-good-password").await;
    let token = app.sign_in_token(&user.email, "a-good-password").await;
    let out = app
        .http
        .post(format!("{}/auth/v1/logout?scope=global", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(browser.get("/dashboard/overview").await.status, 303);

    // A ban.
    browser.sign_in(&user.email, "a-good-password").await;
    assert_eq!(browser.get("/dashboard/overview").await.status, 200);
    admin
        .execute(
            "update auth.users set banned_until = now() + interval '1 day' where id = $1",
            &[&user.id],
        )
        .await
        .unwrap();
    assert_eq!(browser.get("/dashboard/overview").await.status, 303);

    // A password change through the API.
    let other = app.create_user().await;
    let mut second = Browser::new(&app);
    second.sign_in(&other.email, "a-good-password").await;
    let token = app.sign_in_token(&other.email, "a-good-password").await;
    let changed = app
        .http
        .put(format!("{}/auth/v1/user", app.address))
        .bearer_auth(&token)
        .json(&serde_json::json!({"password": "another-good-password", "current_password": "a-good-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(second.get("/dashboard/overview").await.status, 303);
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.connect_as("postgres").await;
    let user = app.create_user().await;
    let mut browser = Browser::new(&app);
    browser.sign_in(&user.email, "a-good-password").await;
    admin
        .execute(
            "update auth.browser_sessions set created_at = now() - interval '2 days',
                    last_seen_at = now() - interval '25 hours' where user_id = $1",
            &[&user.id],
        )
        .await
        .unwrap();
    assert_eq!(browser.get("/dashboard/overview").await.status, 303, "idle");
    let gone: i64 = admin
        .query_one(
            "select count(*) from auth.browser_sessions where user_id = $1",
            &[&user.id],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(gone, 0, "a dead session is deleted");

    browser.sign_in(&user.email, "a-good-password").await;
    admin
        .execute(
            "update auth.browser_sessions set created_at = now() - interval '20 days',
                    expires_at = now() - interval '1 second' where user_id = $1",
            &[&user.id],
        )
        .await
        .unwrap();
    assert_eq!(browser.get("/dashboard/overview").await.status, 303, "absolute");
}

#[tokio::test]
async fn browser_sessions_are_isolated_between_users() {
    let app = TestApp::spawn().await;
    let a = app.create_user().await;
    let b = app.create_user().await;
    for user in [&a, &b] {
        Browser::new(&app).sign_in(&user.email, "a-good-password").await;
    }
    let caller = app.caller(&a.token);
    let mut tx = app.db.begin_as(&caller, Access::ReadWrite).await.unwrap();
    let seen: Vec<Uuid> = tx
        .query("select user_id from auth.browser_sessions", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, vec![a.id], "a user sees only their own browser sessions");
    let deleted = tx
        .query(
            "delete from auth.browser_sessions where user_id = $1 returning 1",
            &[&b.id],
        )
        .await
        .unwrap();
    assert!(deleted.is_empty(), "nor can they end another's");
    tx.commit().await.unwrap();

    let mut tx = app.db.begin_as(&caller, Access::ReadWrite).await.unwrap();
    let forged = tx
        .query(
            "insert into auth.browser_sessions (id_hash, session_id, user_id, expires_at)
             select repeat('a', 64), session_id, user_id, now() + interval '1 day' from auth.browser_sessions limit 1",
            &[],
        )
        .await;
    assert!(forged.is_err(), "users cannot create browser sessions");
    drop(tx);
    let mut tx = app.db.begin_as(&caller, Access::ReadWrite).await.unwrap();
    let updated = tx
        .query(
            "update auth.browser_sessions set expires_at = now() + interval '1 year'",
            &[],
        )
        .await;
    assert!(updated.is_err(), "nor extend them");
    drop(tx);

    let mut tx = app.db.begin_as(&caller, Access::ReadWrite).await.unwrap();
    let own = tx
        .query(
            "delete from auth.browser_sessions where user_id = $1 returning 1",
            &[&a.id],
        )
        .await
        .unwrap();
    assert_eq!(own.len(), 1, "but can end their own");
    tx.commit().await.unwrap();
}
