//! MFA with TOTP: enrolment, challenge, verification to `aal2` (what RLS sees), replay, lockout, unenrolment and
//! recovery by an admin, and the secret encrypted at rest.

#![allow(clippy::unwrap_used)]

use crate::helpers::{SECRET, TestApp, json_body};
use serde_json::{Value, json};
use uuid::Uuid;

fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The code an authenticator app shows for `secret` (base32) at `offset` steps from now.
fn code(secret: &str, offset: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes, None, String::new());
    let now = chrono::Utc::now().timestamp() + offset * 30;
    totp.generate(u64::try_from(now).unwrap())
}

/// A well-formed code that is none of the three the server accepts now.
fn wrong_code(secret: &str) -> String {
    let valid = [code(secret, -1), code(secret, 0), code(secret, 1)];
    (0..10u32)
        .map(|d| format!("{d}{d}{d}{d}{d}{d}"))
        .find(|c| !valid.contains(c))
        .unwrap()
}

async fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = app
        .http
        .request(method, format!("{}/auth/v1{path}", app.address))
        .header("x-supabase-api-version", "2024-01-01")
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

struct Enrolled {
    access: String,
    refresh: String,
    factor: String,
    secret: String,
}

async fn enrolled(app: &TestApp) -> Enrolled {
    let email = format!("mfa-{}@example.com", Uuid::new_v4().simple());
    let session = app.sign_up(&email, "a-good-password").await;
    let access = session["access_token"].as_str().unwrap().to_owned();
    let body = json_body(
        call(
            app,
            "POST",
            "/factors",
            &access,
            Some(json!({"factor_type": "totp", "friendly_name": "phone"})),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(body["type"], "totp");
    assert_eq!(body["friendly_name"], "phone");
    assert!(body["totp"]["qr_code"].as_str().unwrap().contains("<svg"));
    let uri = body["totp"]["uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/127.0.0.1:mfa-"), "{uri}");
    Enrolled {
        access,
        refresh: session["refresh_token"].as_str().unwrap().to_owned(),
        factor: body["id"].as_str().unwrap().to_owned(),
        secret: body["totp"]["secret"].as_str().unwrap().to_owned(),
    }
}

async fn challenge(app: &TestApp, token: &str, factor: &str) -> String {
    let body = json_body(
        call(app, "POST", &format!("/factors/{factor}/challenge"), token, None).await,
        200,
    )
    .await;
    assert_eq!(body["type"], "totp");
    assert!(body["expires_at"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    body["id"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, token: &str, factor: &str, challenge: &str, code: &str) -> reqwest::Response {
    call(
        app,
        "POST",
        &format!("/factors/{factor}/verify"),
        token,
        Some(json!({"challenge_id": challenge, "code": code})),
    )
    .await
}

#[tokio::test]
async fn totp_raises_the_session_to_aal2_and_rls_sees_it() {
    let app = TestApp::spawn().await;
    let e = enrolled(&app).await;
    let aal1 = e.access.clone();
    assert_eq!(claims_of(&aal1)["aal"], "aal1");

    // The user lists the unverified factor; the secret is stored encrypted, bound to its row.
    let me = json_body(call(&app, "GET", "/user", &aal1, None).await, 200).await;
    assert_eq!(me["factors"][0]["status"], "unverified");
    assert_eq!(me["factors"][0]["factor_type"], "totp");
    let mut tx = app.privileged.begin("test: read the stored secret").await.unwrap();
    let stored: String = tx
        .query_one(
            "select secret from auth.mfa_factors where id = $1::text::uuid",
            &[&e.factor],
        )
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    assert!(stored.starts_with("v1:") && !stored.contains(&e.secret));

    // A wrong code, then the right one.
    let c = challenge(&app, &aal1, &e.factor).await;
    let wrong = verify(&app, &aal1, &e.factor, &c, &wrong_code(&e.secret)).await;
    assert_eq!(json_body(wrong, 422).await["code"], "mfa_verification_failed");
    let session = json_body(verify(&app, &aal1, &e.factor, &c, &code(&e.secret, 0)).await, 200).await;
    let aal2 = session["access_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&aal2);
    assert_eq!(claims["aal"], "aal2");
    assert_eq!(claims["amr"][0]["method"], "totp");
    assert_eq!(claims["amr"][1]["method"], "password");
    assert_eq!(claims["session_id"], claims_of(&aal1)["session_id"]);
    assert_eq!(session["user"]["factors"][0]["status"], "verified");

    // The challenge is spent, and the same code cannot be used again, even with a new challenge.
    let reused = verify(&app, &aal1, &e.factor, &c, &code(&e.secret, 0)).await;
    assert_eq!(json_body(reused, 422).await["code"], "mfa_ip_address_mismatch");
    let c2 = challenge(&app, &aal2, &e.factor).await;
    let replay = verify(&app, &aal2, &e.factor, &c2, &code(&e.secret, 0)).await;
    assert_eq!(json_body(replay, 422).await["code"], "mfa_verification_failed");

    // A refresh keeps aal2; the refresh token the client held before verification still continues the session.
    let refreshed = json_body(
        app.auth_post(
            "/token?grant_type=refresh_token",
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(claims_of(refreshed["access_token"].as_str().unwrap())["aal"], "aal2");
    let old = app
        .auth_post("/token?grant_type=refresh_token", &json!({"refresh_token": e.refresh}))
        .await;
    let old = json_body(old, 200).await;
    assert_eq!(claims_of(old["access_token"].as_str().unwrap())["aal"], "aal2");

    // An aal2-only policy: RLS reads the claim.
    let admin = app.connect_as("postgres").await;
    admin
        .batch_execute(
            "create table public.mfa_secrets (id int primary key, body text not null);
             alter table public.mfa_secrets enable row level security;
             alter table public.mfa_secrets force row level security;
             create policy mfa_secrets_select on public.mfa_secrets for select to authenticated
               using ((select auth.jwt() ->> 'aal') = 'aal2');
             grant select on public.mfa_secrets to authenticated;
             insert into public.mfa_secrets values (1, 'launch codes');",
        )
        .await
        .unwrap();
    let rows = |token: String| {
        let caller = app.caller(&token);
        let db = app.db.clone();
        async move {
            let mut tx = db.begin_as(&caller, kith_db::Access::ReadOnly).await.unwrap();
            let n: i64 = tx
                .query_one("select count(*) from public.mfa_secrets", &[])
                .await
                .unwrap()
                .get(0);
            tx.commit().await.unwrap();
            n
        }
    };
    assert_eq!(rows(aal2.clone()).await, 1);
    assert_eq!(rows(aal1.clone()).await, 0);
    // A user cannot upgrade their own token: changing `aal` breaks the signature.
    let mut forged = claims_of(&aal1);
    forged["aal"] = json!("aal2");
    let parts: Vec<&str> = aal1.split('.').collect();
    use base64::Engine;
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    let refused = app.get("/api/profile", Some(&tampered)).await;
    assert_eq!(refused.status(), 401);
    let refused = call(&app, "GET", "/user", &tampered, None).await;
    assert_eq!(json_body(refused, 403).await["code"], "bad_jwt");
    assert!(SECRET.len() >= 32);

    // Unenrolling a verified factor needs aal2; it takes the session back to aal1.
    let other_session = json_body(
        app.auth_post(
            "/token?grant_type=password",
            &json!({"email": claims_of(&aal1)["email"], "password": "a-good-password"}),
        )
        .await,
        200,
    )
    .await;
    let other_aal1 = other_session["access_token"].as_str().unwrap();
    let refused = call(&app, "DELETE", &format!("/factors/{}", e.factor), other_aal1, None).await;
    assert_eq!(json_body(refused, 422).await["code"], "insufficient_aal");
    // Nor can an aal1 session change the password or the address (a stolen password is not enough).
    for body in [
        json!({"password": "a-new-good-password", "current_password": "a-good-password"}),
        json!({"email": "elsewhere@example.com"}),
    ] {
        let refused = call(&app, "PUT", "/user", other_aal1, Some(body)).await;
        assert_eq!(json_body(refused, 401).await["code"], "insufficient_aal");
    }
    let metadata = call(
        &app,
        "PUT",
        "/user",
        other_aal1,
        Some(json!({"data": {"theme": "dark"}})),
    )
    .await;
    assert_eq!(metadata.status(), 200);
    let allowed = call(
        &app,
        "PUT",
        "/user",
        &aal2,
        Some(json!({"password": "a-new-good-password", "current_password": "a-good-password"})),
    )
    .await;
    assert_eq!(allowed.status(), 200);
    let gone = json_body(
        call(&app, "DELETE", &format!("/factors/{}", e.factor), &aal2, None).await,
        200,
    )
    .await;
    assert_eq!(gone["id"], json!(e.factor));
    let after = json_body(
        app.auth_post(
            "/token?grant_type=refresh_token",
            &json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await,
        200,
    )
    .await;
    let claims = claims_of(after["access_token"].as_str().unwrap());
    assert_eq!(claims["aal"], "aal1");
    assert!(claims["amr"].as_array().unwrap().iter().all(|a| a["method"] != "totp"));
    assert!(after["user"].get("factors").is_none());

    // The audit trail has every step.
    let mut tx = app.privileged.begin("test: read the audit trail").await.unwrap();
    let actions: Vec<String> = tx
        .query(
            "select payload ->> 'action' from auth.audit_log_entries where payload ->> 'actor_via' = 'user_token'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.commit().await.unwrap();
    for expected in [
        "factor_in_progress",
        "challenge_created",
        "verification_attempted",
        "factor_unenrolled",
    ] {
        assert!(actions.iter().any(|a| a == expected), "{expected} missing: {actions:?}");
    }
}

#[tokio::test]
async fn wrong_codes_lock_the_factor_and_errors_have_gotrue_codes() {
    let app = TestApp::spawn().await;
    let e = enrolled(&app).await;
    let right = code(&e.secret, 0);
    let wrong = wrong_code(&e.secret);
    let wrong = wrong.as_str();
    for _ in 0..5 {
        let c = challenge(&app, &e.access, &e.factor).await;
        let response = verify(&app, &e.access, &e.factor, &c, wrong).await;
        assert_eq!(json_body(response, 422).await["code"], "mfa_verification_failed");
    }
    let c = challenge(&app, &e.access, &e.factor).await;
    let locked = verify(&app, &e.access, &e.factor, &c, &right).await;
    assert!(locked.headers().contains_key("retry-after"));
    assert_eq!(json_body(locked, 429).await["code"], "over_request_rate_limit");

    // Other GoTrue errors.
    let bad = call(&app, "POST", "/factors", &e.access, Some(json!({"factor_type": "sms"}))).await;
    assert_eq!(json_body(bad, 400).await["code"], "validation_failed");
    let phone = call(
        &app,
        "POST",
        "/factors",
        &e.access,
        Some(json!({"factor_type": "phone"})),
    )
    .await;
    assert_eq!(json_body(phone, 422).await["code"], "mfa_phone_enroll_not_enabled");
    let name = call(
        &app,
        "POST",
        "/factors",
        &e.access,
        Some(json!({"factor_type": "totp", "friendly_name": "phone"})),
    )
    .await;
    assert_eq!(json_body(name, 422).await["code"], "mfa_factor_name_conflict");
    let unknown = call(
        &app,
        "POST",
        &format!("/factors/{}/challenge", Uuid::new_v4()),
        &e.access,
        None,
    )
    .await;
    assert_eq!(json_body(unknown, 404).await["code"], "mfa_factor_not_found");
    let bad_id = call(&app, "POST", "/factors/nope/challenge", &e.access, None).await;
    assert_eq!(json_body(bad_id, 404).await["code"], "validation_failed");
    let empty = verify(&app, &e.access, &e.factor, &c, "").await;
    assert_eq!(json_body(empty, 400).await["code"], "validation_failed");
    let no_challenge = verify(&app, &e.access, &e.factor, &Uuid::new_v4().to_string(), "123456").await;
    assert_eq!(json_body(no_challenge, 422).await["code"], "mfa_factor_not_found");

    // Another user cannot touch the factor.
    let stranger = app
        .sign_up(&format!("s-{}@example.com", Uuid::new_v4().simple()), "a-good-password")
        .await;
    let stranger = stranger["access_token"].as_str().unwrap();
    let theirs = call(
        &app,
        "POST",
        &format!("/factors/{}/challenge", e.factor),
        stranger,
        None,
    )
    .await;
    assert_eq!(json_body(theirs, 404).await["code"], "mfa_factor_not_found");
    let theirs = call(&app, "DELETE", &format!("/factors/{}", e.factor), stranger, None).await;
    assert_eq!(json_body(theirs, 404).await["code"], "mfa_factor_not_found");
}

#[tokio::test]
async fn an_admin_recovers_a_user_by_deleting_the_factor() {
    let app = TestApp::spawn().await;
    let e = enrolled(&app).await;
    let c = challenge(&app, &e.access, &e.factor).await;
    let session = json_body(verify(&app, &e.access, &e.factor, &c, &code(&e.secret, 0)).await, 200).await;
    let user_id = session["user"]["id"].as_str().unwrap().to_owned();
    let key = kith_auth::api_keys::mint(SECRET.as_bytes(), chrono::Utc::now().timestamp())
        .unwrap()
        .service_role;
    // A user token is not enough.
    let refused = call(&app, "GET", &format!("/admin/users/{user_id}/factors"), &e.access, None).await;
    assert_eq!(json_body(refused, 403).await["code"], "not_admin");
    let listed = json_body(
        call(&app, "GET", &format!("/admin/users/{user_id}/factors"), &key, None).await,
        200,
    )
    .await;
    assert_eq!(listed[0]["id"], json!(e.factor));
    let deleted = json_body(
        call(
            &app,
            "DELETE",
            &format!("/admin/users/{user_id}/factors/{}", e.factor),
            &key,
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(deleted["id"], json!(e.factor));
    let refreshed = json_body(
        app.auth_post(
            "/token?grant_type=refresh_token",
            &json!({"refresh_token": session["refresh_token"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(claims_of(refreshed["access_token"].as_str().unwrap())["aal"], "aal1");
    let mut tx = app.privileged.begin("test: read the audit trail").await.unwrap();
    let n: i64 = tx
        .query_one(
            "select count(*) from auth.audit_log_entries where payload ->> 'action' = 'factor_deleted'
                and payload ->> 'actor_username' = 'service_role'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    assert_eq!(n, 1);
}
