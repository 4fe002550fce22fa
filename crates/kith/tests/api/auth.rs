//! `/auth/v1`: every endpoint and error code, against the real service and database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{SECRET, TestApp, json_body, sign, sign_with};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
}

fn email() -> String {
    format!("u-{}@example.com", Uuid::new_v4().simple())
}

async fn get_user(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .get(format!("{}/auth/v1/user", app.address))
        .header("x-supabase-api-version", "2024-01-01")
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response, status: u16) -> String {
    let body = json_body(response, status).await;
    body["code"]
        .as_str()
        .or(body["error_code"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.auth_post(
        "/token?grant_type=password",
        &json!({"email": email, "password": password}),
    )
    .await
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.auth_post("/token?grant_type=refresh_token", &json!({"refresh_token": token}))
        .await
}

#[tokio::test]
async fn sign_up_returns_a_session_whose_token_carries_every_claim() {
    let app = TestApp::spawn().await;
    let address = email();
    let session = app.sign_up(&address, "a-good-password").await;
    assert_eq!(session["token_type"], "bearer");
    assert_eq!(session["expires_in"], 3600);
    assert!(
        session["refresh_token"].as_str().unwrap().len() >= 22,
        "at least 128 bits"
    );
    let user = &session["user"];
    assert_eq!(user["email"], json!(address));
    assert_eq!(user["aud"], "authenticated");
    assert_eq!(user["identities"][0]["provider"], "email");
    assert!(user.get("email_confirmed_at").is_some());

    let token = session["access_token"].as_str().unwrap();
    let claims = claims_of(token);
    for claim in [
        "sub",
        "aud",
        "role",
        "exp",
        "iat",
        "iss",
        "email",
        "phone",
        "app_metadata",
        "user_metadata",
        "aal",
        "amr",
        "session_id",
        "is_anonymous",
    ] {
        assert!(claims.get(claim).is_some(), "missing claim {claim}: {claims}");
    }
    assert_eq!(claims["iss"], json!(app.issuer));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    assert_eq!(claims["amr"][0]["method"], "password");
    assert_eq!(header_of(token)["alg"], "HS256");

    let me = json_body(get_user(&app, token).await, 200).await;
    assert_eq!(me["id"], user["id"]);
    // The same token opens the CRM routes and the profile the sign-up created.
    let profile = json_body(app.get("/api/profile", Some(token)).await, 200).await;
    assert_eq!(profile["email"], json!(address));
}

#[tokio::test]
async fn sign_up_errors_have_supabase_codes_in_both_shapes() {
    let app = TestApp::spawn().await;
    let address = email();
    app.sign_up(&address, "a-good-password").await;

    let duplicate = app
        .auth_post("/signup", &json!({"email": address, "password": "another-password"}))
        .await;
    assert_eq!(duplicate.headers()["x-supabase-api-version"], "2024-01-01");
    assert_eq!(duplicate.headers()["x-sb-error-code"], "user_already_exists");
    let body = json_body(duplicate, 422).await;
    assert_eq!(
        body,
        json!({"code": "user_already_exists", "message": "User already registered"})
    );

    // Without the version header: the legacy shape.
    let legacy = app
        .http
        .post(format!("{}/auth/v1/signup", app.address))
        .json(&json!({"email": address, "password": "another-password"}))
        .send()
        .await
        .unwrap();
    assert!(legacy.headers().get("x-supabase-api-version").is_none());
    let body = json_body(legacy, 422).await;
    assert_eq!(body["code"], 422);
    assert_eq!(body["error_code"], "user_already_exists");
    assert_eq!(body["msg"], "User already registered");

    let weak = json_body(
        app.auth_post("/signup", &json!({"email": email(), "password": "short"}))
            .await,
        422,
    )
    .await;
    assert_eq!(weak["code"], "weak_password");
    assert_eq!(weak["weak_password"]["reasons"], json!(["length"]));
    assert_eq!(
        error_code(app.auth_post("/signup", &json!({"email": email()})).await, 400).await,
        "validation_failed"
    );
    assert_eq!(
        error_code(
            app.auth_post(
                "/signup",
                &json!({"email": "not-an-email", "password": "a-good-password"})
            )
            .await,
            400
        )
        .await,
        "email_address_invalid"
    );
    assert_eq!(
        error_code(
            app.auth_post("/signup", &json!({"password": "a-good-password"})).await,
            422
        )
        .await,
        "anonymous_provider_disabled"
    );
    let bad_json = app
        .http
        .post(format!("{}/auth/v1/signup", app.address))
        .header("x-supabase-api-version", "2024-01-01")
        .body("{\"email\":")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(bad_json, 400).await, "bad_json");

    // Passwords of 64+ characters are accepted whole.
    let long = "p".repeat(80);
    let address = email();
    app.sign_up(&address, &long).await;
    assert_eq!(sign_in(&app, &address, &long).await.status(), 200);
    assert_eq!(
        error_code(sign_in(&app, &address, &long[..72]).await, 400).await,
        "invalid_credentials"
    );
}

#[tokio::test]
async fn password_sign_in_and_its_failures() {
    let app = TestApp::spawn().await;
    let address = email();
    app.sign_up(&address, "a-good-password").await;
    let session = json_body(sign_in(&app, &address, "a-good-password").await, 200).await;
    assert!(session["access_token"].is_string());
    assert!(session.get("weak_password").is_none());
    assert_eq!(
        error_code(sign_in(&app, &address, "wrong-password").await, 400).await,
        "invalid_credentials"
    );
    assert_eq!(
        error_code(sign_in(&app, &email(), "a-good-password").await, 400).await,
        "invalid_credentials"
    );
    assert_eq!(
        error_code(
            app.auth_post("/token?grant_type=client_credentials", &json!({})).await,
            400
        )
        .await,
        "invalid_credentials"
    );
}

#[tokio::test]
async fn imported_bcrypt_passwords_work_and_are_rehashed() {
    let app = TestApp::spawn().await;
    let address = email();
    app.sign_up(&address, "a-good-password").await;
    let bcrypt_hash = bcrypt::hash("supabase-password", 4).unwrap();
    let owner = app.connect_as("postgres").await;
    owner
        .execute(
            "update auth.users set encrypted_password = $1 where email = $2",
            &[&bcrypt_hash, &address],
        )
        .await
        .unwrap();
    assert_eq!(sign_in(&app, &address, "supabase-password").await.status(), 200);
    let row = owner
        .query_one(
            "select encrypted_password from auth.users where email = $1",
            &[&address],
        )
        .await
        .unwrap();
    assert!(row.get::<_, String>(0).starts_with("$argon2id$"));
    assert_eq!(sign_in(&app, &address, "supabase-password").await.status(), 200);
}

#[tokio::test]
async fn confirmation_is_required_when_autoconfirm_is_off() {
    let app = TestApp::spawn_with(|auth| auth.autoconfirm = false).await;
    let address = email();
    let user = json_body(
        app.auth_post("/signup", &json!({"email": address, "password": "a-good-password"}))
            .await,
        200,
    )
    .await;
    assert!(user.get("access_token").is_none(), "no session before confirmation");
    assert_eq!(user["email"], json!(address));
    assert_eq!(
        error_code(sign_in(&app, &address, "a-good-password").await, 400).await,
        "email_not_confirmed"
    );

    // Signing up again does not reveal that the address is taken.
    let again = json_body(
        app.auth_post("/signup", &json!({"email": address, "password": "a-good-password"}))
            .await,
        200,
    )
    .await;
    assert_ne!(again["id"], user["id"]);

    let mails = app.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["type"], "confirmation");
    assert!(!mails[0]["text"].as_str().unwrap().contains("a-good-password"));
    let link = mails[0]["link"].as_str().unwrap().to_owned();
    let redirect = app.http.get(&link).send().await.unwrap();
    assert_eq!(redirect.status(), 303);
    let location = redirect.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("#access_token="), "{location}");
    assert_eq!(sign_in(&app, &address, "a-good-password").await.status(), 200);
    // Even once confirmed, signing up again does not reveal the account.
    let again = json_body(
        app.auth_post("/signup", &json!({"email": address, "password": "x-good-password"}))
            .await,
        200,
    )
    .await;
    assert_ne!(again["id"], user["id"]);

    // A used link is refused.
    let reused = app.http.get(&link).send().await.unwrap();
    assert!(
        reused.headers()["location"]
            .to_str()
            .unwrap()
            .contains("error_code=otp_expired")
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_session() {
    let app = TestApp::spawn_with(|auth| auth.refresh_reuse_interval = std::time::Duration::ZERO).await;
    let address = email();
    let first = app.sign_up(&address, "a-good-password").await;
    let a = first["refresh_token"].as_str().unwrap().to_owned();
    let second = json_body(refresh(&app, &a).await, 200).await;
    let b = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(a, b);
    assert_eq!(
        claims_of(second["access_token"].as_str().unwrap())["session_id"],
        claims_of(first["access_token"].as_str().unwrap())["session_id"]
    );

    // The parent of the active token (the client lost the last answer) continues the session.
    let third = json_body(refresh(&app, &a).await, 200).await;
    let c = third["refresh_token"].as_str().unwrap().to_owned();

    // Any other reuse is an attack: the whole session ends.
    assert_eq!(
        error_code(refresh(&app, &a).await, 400).await,
        "refresh_token_already_used"
    );
    let code = error_code(refresh(&app, &c).await, 400).await;
    assert!(
        code == "refresh_token_not_found" || code == "session_not_found",
        "{code}"
    );
    assert_eq!(
        error_code(get_user(&app, third["access_token"].as_str().unwrap()).await, 403).await,
        "session_not_found"
    );

    assert_eq!(
        error_code(refresh(&app, "no-such-token").await, 400).await,
        "refresh_token_not_found"
    );
    let empty = json_body(refresh(&app, "").await, 400).await;
    assert_eq!(
        empty,
        json!({"error": "invalid_request", "error_description": "refresh_token required"})
    );
}

#[tokio::test]
async fn a_rotated_token_can_be_retried_within_the_reuse_interval() {
    let app = TestApp::spawn().await; // 10 s interval
    let session = app.sign_up(&email(), "a-good-password").await;
    let a = session["refresh_token"].as_str().unwrap().to_owned();
    let b = json_body(refresh(&app, &a).await, 200).await["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    json_body(refresh(&app, &b).await, 200).await;
    // `a` is neither active nor the parent of the active token, but was rotated seconds ago.
    assert_eq!(refresh(&app, &a).await.status(), 200);
    // The retry continued the session from its active token: there is still exactly one live branch.
    let owner = app.connect_as("postgres").await;
    let live: i64 = owner
        .query_one("select count(*) from auth.refresh_tokens where not revoked", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(live, 1);
}

#[tokio::test]
async fn logout_scopes_end_the_right_sessions() {
    let app = TestApp::spawn().await;
    let address = email();
    app.sign_up(&address, "a-good-password").await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        let session = json_body(sign_in(&app, &address, "a-good-password").await, 200).await;
        tokens.push(session["access_token"].as_str().unwrap().to_owned());
    }
    let logout = |token: String, scope: &'static str| {
        let app = &app;
        async move {
            app.http
                .post(format!("{}/auth/v1/logout?scope={scope}", app.address))
                .header("x-supabase-api-version", "2024-01-01")
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        error_code(logout(tokens[0].clone(), "everyone").await, 400).await,
        "validation_failed"
    );

    assert_eq!(logout(tokens[0].clone(), "others").await.status(), 204);
    assert_eq!(get_user(&app, &tokens[0]).await.status(), 200);
    assert_eq!(
        error_code(get_user(&app, &tokens[1]).await, 403).await,
        "session_not_found"
    );
    assert_eq!(
        error_code(get_user(&app, &tokens[2]).await, 403).await,
        "session_not_found"
    );

    assert_eq!(logout(tokens[0].clone(), "local").await.status(), 204);
    assert_eq!(
        error_code(get_user(&app, &tokens[0]).await, 403).await,
        "session_not_found"
    );

    let a = json_body(sign_in(&app, &address, "a-good-password").await, 200).await;
    let b = json_body(sign_in(&app, &address, "a-good-password").await, 200).await;
    assert_eq!(
        logout(a["access_token"].as_str().unwrap().to_owned(), "global")
            .await
            .status(),
        204
    );
    assert_eq!(
        error_code(get_user(&app, b["access_token"].as_str().unwrap()).await, 403).await,
        "session_not_found"
    );
    assert_eq!(
        error_code(refresh(&app, b["refresh_token"].as_str().unwrap()).await, 400).await,
        "refresh_token_not_found"
    );

    let anonymous = app
        .http
        .post(format!("{}/auth/v1/logout", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(anonymous, 401).await, "no_authorization");
}

#[tokio::test]
async fn get_user_refuses_every_bad_token() {
    let app = TestApp::spawn().await;
    let session = app.sign_up(&email(), "a-good-password").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let user_id: Uuid = session["user"]["id"].as_str().unwrap().parse().unwrap();
    let claims = claims_of(&token);
    let now = chrono::Utc::now().timestamp();
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        sign(&c)
    };

    // Asymmetric keys: rotate one in, then try to confuse it with HS256.
    let kid = kith_auth::signing::rotate(&app.privileged).await.unwrap();
    app.auth.reload_keys().await.unwrap();
    let jwks = json_body(
        app.http
            .get(format!("{}/auth/v1/.well-known/jwks.json", app.address))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let jwk = jwks["keys"][0].clone();
    assert_eq!(jwk["kid"], json!(kid));
    assert!(jwk.get("d").is_none(), "private part never published");
    let mut confused = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    confused.kid = Some(kid.clone());
    let key_confusion = jsonwebtoken::encode(
        &confused,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(jwk.to_string().as_bytes()),
    )
    .unwrap();
    let mut unknown = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    unknown.kid = Some("unknown-kid".into());
    let unknown_kid = jsonwebtoken::encode(
        &unknown,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let tampered = {
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims.clone();
        forged["sub"] = json!(Uuid::new_v4());
        format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(forged.to_string()),
            parts[2]
        )
    };
    let keys = kith_auth::api_keys::mint(SECRET.as_bytes(), now).unwrap();

    let cases: Vec<(String, &str)> = vec![
        (unsigned, "alg none"),
        (key_confusion, "HS256 signed with the ES256 public key"),
        (unknown_kid, "unknown kid"),
        (with(json!({"exp": now - 600})), "expired"),
        (with(json!({"nbf": now + 600})), "nbf in the future"),
        (with(json!({"iat": now + 600})), "iat in the future"),
        (
            with(json!({"iss": "https://elsewhere.example/auth/v1"})),
            "foreign issuer",
        ),
        (with(json!({"aud": "somebody-else"})), "foreign audience"),
        (tampered, "tampered payload"),
        (format!("{}.{}", token, "x".repeat(9000)), "over 8 KiB"),
        (
            sign_with(&claims, b"a-different-secret-of-the-same-length!!!!"),
            "wrong key",
        ),
        (keys.anon, "anon API key has no subject"),
    ];
    for (bad, case) in cases {
        assert_eq!(error_code(get_user(&app, &bad).await, 403).await, "bad_jwt", "{case}");
    }
    let no_header = app
        .http
        .get(format!("{}/auth/v1/user", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(no_header, 401).await, "no_authorization");

    // A valid token of a logged-out session, and of a deleted user.
    let address = email();
    let other = app.sign_up(&address, "a-good-password").await;
    let other_token = other["access_token"].as_str().unwrap();
    app.http
        .post(format!("{}/auth/v1/logout?scope=local", app.address))
        .bearer_auth(other_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(get_user(&app, other_token).await, 403).await,
        "session_not_found"
    );
    let owner = app.connect_as("postgres").await;
    owner
        .execute("delete from auth.users where id = $1", &[&user_id])
        .await
        .unwrap();
    assert_eq!(error_code(get_user(&app, &token).await, 403).await, "user_not_found");
}

#[tokio::test]
async fn asymmetric_keys_sign_after_rotation_and_stop_verifying_once_retired() {
    let app = TestApp::spawn().await;
    let address = email();
    app.sign_up(&address, "a-good-password").await;
    let jwks = json_body(
        app.http
            .get(format!("{}/auth/v1/.well-known/jwks.json", app.address))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(jwks, json!({"keys": []}), "an HS256-only project publishes no keys");

    let first = kith_auth::signing::rotate(&app.privileged).await.unwrap();
    app.auth.reload_keys().await.unwrap();
    let session = json_body(sign_in(&app, &address, "a-good-password").await, 200).await;
    let es_token = session["access_token"].as_str().unwrap().to_owned();
    assert_eq!(header_of(&es_token)["alg"], "ES256");
    assert_eq!(header_of(&es_token)["kid"], json!(first));
    assert_eq!(get_user(&app, &es_token).await.status(), 200);
    assert_eq!(app.get("/api/profile", Some(&es_token)).await.status(), 200);

    let second = kith_auth::signing::rotate(&app.privileged).await.unwrap();
    app.auth.reload_keys().await.unwrap();
    let newer = json_body(sign_in(&app, &address, "a-good-password").await, 200).await;
    assert_eq!(header_of(newer["access_token"].as_str().unwrap())["kid"], json!(second));
    assert_eq!(get_user(&app, &es_token).await.status(), 200, "old keys keep verifying");

    assert!(
        !kith_auth::signing::retire(&app.privileged, &second).await.unwrap(),
        "the signing key cannot be retired"
    );
    assert!(kith_auth::signing::retire(&app.privileged, &first).await.unwrap());
    app.auth.reload_keys().await.unwrap();
    assert_eq!(error_code(get_user(&app, &es_token).await, 403).await, "bad_jwt");
    assert_eq!(app.get("/api/profile", Some(&es_token)).await.status(), 401);
}

#[tokio::test]
async fn update_user_changes_metadata_password_and_email() {
    let app = TestApp::spawn().await;
    let address = email();
    let session = app.sign_up(&address, "a-good-password").await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let put = |body: Value| {
        let app = &app;
        let token = token.clone();
        async move {
            app.http
                .put(format!("{}/auth/v1/user", app.address))
                .header("x-supabase-api-version", "2024-01-01")
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let user = json_body(put(json!({"data": {"plan": "pro", "theme": "dark"}})).await, 200).await;
    assert_eq!(user["user_metadata"], json!({"plan": "pro", "theme": "dark"}));
    let user = json_body(put(json!({"data": {"theme": null}})).await, 200).await;
    assert_eq!(user["user_metadata"], json!({"plan": "pro"}));

    assert_eq!(
        error_code(put(json!({"password": "a-newer-password"})).await, 400).await,
        "current_password_required"
    );
    assert_eq!(
        error_code(
            put(json!({"password": "a-newer-password", "current_password": "wrong-one"})).await,
            400
        )
        .await,
        "invalid_credentials"
    );
    assert_eq!(
        error_code(
            put(json!({"password": "a-good-password", "current_password": "a-good-password"})).await,
            422
        )
        .await,
        "same_password"
    );
    assert_eq!(
        error_code(
            put(json!({"password": "short", "current_password": "a-good-password"})).await,
            422
        )
        .await,
        "weak_password"
    );
    assert_eq!(
        put(json!({"password": "a-newer-password", "current_password": "a-good-password"}))
            .await
            .status(),
        200
    );
    assert_eq!(sign_in(&app, &address, "a-newer-password").await.status(), 200);

    let taken = email();
    app.sign_up(&taken, "a-good-password").await;
    assert_eq!(
        error_code(put(json!({"email": taken})).await, 422).await,
        "email_exists"
    );
    let new_address = email();
    let user = json_body(put(json!({"email": new_address})).await, 200).await;
    assert_eq!(user["new_email"], json!(new_address));
    assert_eq!(user["email"], json!(address));
    let mail = app.mails().into_iter().find(|m| m["type"] == "email_change").unwrap();
    assert_eq!(mail["to"], json!(new_address));
    let verified = json_body(
        app.auth_post(
            "/verify",
            &json!({"type": "email_change", "email": new_address, "token": mail["code"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(verified["user"]["email"], json!(new_address));
    assert_eq!(sign_in(&app, &new_address, "a-newer-password").await.status(), 200);
}

#[tokio::test]
async fn password_recovery_with_pkce() {
    let app = TestApp::spawn().await;
    let address = email();
    app.sign_up(&address, "a-good-password").await;

    // Unknown addresses get the same answer and no mail.
    assert_eq!(
        json_body(app.auth_post("/recover", &json!({"email": email()})).await, 200).await,
        json!({})
    );
    assert!(app.mails().is_empty());

    let verifier = "x".repeat(40) + &Uuid::new_v4().simple().to_string();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    assert_eq!(
        error_code(
            app.auth_post("/recover", &json!({"email": address, "code_challenge": challenge}))
                .await,
            400
        )
        .await,
        "validation_failed"
    );
    assert_eq!(
        error_code(
            app.auth_post(
                "/recover",
                &json!({"email": address, "code_challenge": verifier, "code_challenge_method": "plain"})
            )
            .await,
            400
        )
        .await,
        "validation_failed",
        "plain PKCE is off by default"
    );
    let body = json!({"email": address, "code_challenge": challenge, "code_challenge_method": "s256"});
    assert_eq!(
        json_body(
            app.auth_post(&format!("/recover?redirect_to={}/reset", app.address), &body)
                .await,
            200
        )
        .await,
        json!({})
    );
    let mail = app.mails().pop().unwrap();
    assert_eq!(mail["type"], "recovery");
    let redirect = app.http.get(mail["link"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(redirect.status(), 303);
    let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(location.path(), "/reset");
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();

    let exchange = |code: String, verifier: String| {
        let app = &app;
        async move {
            app.auth_post(
                "/token?grant_type=pkce",
                &json!({"auth_code": code, "code_verifier": verifier}),
            )
            .await
        }
    };
    assert_eq!(
        error_code(exchange(code.clone(), "wrong".repeat(10)).await, 400).await,
        "bad_code_verifier"
    );
    // A failed exchange consumed the code: start over.
    app.auth_post("/recover", &body).await;
    let mail = app.mails().pop().unwrap();
    let redirect = app.http.get(mail["link"].as_str().unwrap()).send().await.unwrap();
    let location = url::Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let session = json_body(exchange(code.clone(), verifier.clone()).await, 200).await;
    assert_eq!(
        claims_of(session["access_token"].as_str().unwrap())["amr"][0]["method"],
        "recovery"
    );
    assert_eq!(
        error_code(exchange(code, verifier).await, 404).await,
        "flow_state_not_found"
    );

    // Right after recovery, the new password needs no current password.
    let reset = app
        .http
        .put(format!("{}/auth/v1/user", app.address))
        .bearer_auth(session["access_token"].as_str().unwrap())
        .json(&json!({"password": "a-recovered-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 200);
    assert_eq!(sign_in(&app, &address, "a-recovered-password").await.status(), 200);

    // A redirect to a foreign site falls back to the site URL.
    app.auth_post(
        "/recover?redirect_to=https://evil.example/steal",
        &json!({"email": address}),
    )
    .await;
    let link = app.mails().pop().unwrap()["link"].as_str().unwrap().to_owned();
    let location = app.http.get(&link).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.starts_with(&app.address), "{location}");
}

#[tokio::test]
async fn magic_link_and_email_code_sign_in() {
    let app = TestApp::spawn().await;
    let address = email();
    assert_eq!(
        json_body(
            app.auth_post("/otp", &json!({"email": address, "create_user": true}))
                .await,
            200
        )
        .await,
        json!({})
    );
    let mail = app.mails().pop().unwrap();
    assert_eq!(mail["type"], "magic_link");
    let body = json!({"type": "email", "email": address, "token": mail["code"]});
    let session = json_body(app.auth_post("/verify", &body).await, 200).await;
    assert_eq!(session["user"]["email"], json!(address));
    assert!(session["user"].get("email_confirmed_at").is_some());
    assert_eq!(
        error_code(app.auth_post("/verify", &body).await, 403).await,
        "otp_expired"
    );

    assert_eq!(
        error_code(
            app.auth_post("/otp", &json!({"email": email(), "create_user": false}))
                .await,
            422
        )
        .await,
        "otp_disabled"
    );
    assert_eq!(
        error_code(
            app.auth_post("/verify", &json!({"type": "bogus", "token_hash": "x"}))
                .await,
            400
        )
        .await,
        "validation_failed"
    );
    app.auth_post("/otp", &json!({"email": address})).await;
    let mail = app.mails().pop().unwrap();
    let token_hash = url::Url::parse(mail["link"].as_str().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let session = json_body(
        app.auth_post("/verify", &json!({"type": "magiclink", "token_hash": token_hash}))
            .await,
        200,
    )
    .await;
    assert_eq!(session["user"]["email"], json!(address));
}

#[tokio::test]
async fn settings_health_and_rate_limits() {
    let app = TestApp::spawn_with(|auth| auth.rate_limits.per_ip = 3).await;
    let settings = json_body(
        app.http
            .get(format!("{}/auth/v1/settings", app.address))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(settings["external"]["email"], true);
    assert_eq!(settings["mailer_autoconfirm"], true);
    let health = json_body(
        app.http
            .get(format!("{}/auth/v1/health", app.address))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(health["name"], "GoTrue");

    for _ in 0..3 {
        assert_eq!(
            sign_in(&app, "nobody@example.com", "whatever-password").await.status(),
            400
        );
    }
    let limited = sign_in(&app, "nobody@example.com", "whatever-password").await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(error_code(limited, 429).await, "over_request_rate_limit");
}

#[tokio::test]
async fn closed_sign_up_banned_users_and_expired_codes_are_refused() {
    let app = TestApp::spawn_with(|auth| {
        auth.disable_signup = true;
        auth.flow_state_expiry = std::time::Duration::ZERO;
    })
    .await;
    assert_eq!(
        error_code(
            app.auth_post("/signup", &json!({"email": email(), "password": "a-good-password"}))
                .await,
            422
        )
        .await,
        "signup_disabled"
    );

    // Operators can still create accounts; a banned one cannot sign in or refresh.
    let user = app.create_user().await;
    let session = json_body(sign_in(&app, &user.email, "a-good-password").await, 200).await;
    let owner = app.connect_as("postgres").await;
    owner
        .execute(
            "update auth.users set banned_until = now() + interval '1 day' where id = $1",
            &[&user.id],
        )
        .await
        .unwrap();
    assert_eq!(
        error_code(sign_in(&app, &user.email, "a-good-password").await, 400).await,
        "user_banned"
    );
    assert_eq!(
        error_code(refresh(&app, session["refresh_token"].as_str().unwrap()).await, 400).await,
        "user_banned"
    );
    assert_eq!(
        error_code(get_user(&app, session["access_token"].as_str().unwrap()).await, 403).await,
        "user_banned"
    );
    owner
        .execute("update auth.users set banned_until = null where id = $1", &[&user.id])
        .await
        .unwrap();

    // A PKCE code past its lifetime is refused (and consumed).
    let verifier = "v".repeat(50);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    app.auth_post(
        "/recover",
        &json!({"email": user.email, "code_challenge": challenge, "code_challenge_method": "s256"}),
    )
    .await;
    let link = app.mails().pop().unwrap()["link"].as_str().unwrap().to_owned();
    let location = app.http.get(&link).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let body = json!({"auth_code": code, "code_verifier": verifier});
    assert_eq!(
        error_code(app.auth_post("/token?grant_type=pkce", &body).await, 422).await,
        "flow_state_expired"
    );
    assert_eq!(
        error_code(app.auth_post("/token?grant_type=pkce", &body).await, 404).await,
        "flow_state_not_found"
    );
}

#[tokio::test]
async fn emailed_codes_allow_five_guesses_whatever_the_spelling_of_the_address() {
    let app = TestApp::spawn().await;
    let address = email();
    app.auth_post("/otp", &json!({"email": address})).await;
    let code = app.mails().pop().unwrap()["code"].as_str().unwrap().to_owned();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for spelling in [
        address.to_uppercase(),
        format!(" {address}"),
        address.clone(),
        address.to_uppercase(),
        address.clone(),
    ] {
        let body = json!({"type": "email", "email": spelling, "token": wrong});
        assert_eq!(
            error_code(app.auth_post("/verify", &body).await, 403).await,
            "otp_expired"
        );
    }
    // Five misses withdrew the code: even the right one no longer works.
    let body = json!({"type": "email", "email": address, "token": code});
    assert_eq!(
        error_code(app.auth_post("/verify", &body).await, 403).await,
        "otp_expired"
    );

    // A banned user gets no session through an emailed code either.
    app.auth_post("/otp", &json!({"email": address})).await;
    let code = app.mails().pop().unwrap()["code"].as_str().unwrap().to_owned();
    let owner = app.connect_as("postgres").await;
    owner
        .execute(
            "update auth.users set banned_until = now() + interval '1 hour' where email = $1",
            &[&address],
        )
        .await
        .unwrap();
    let body = json!({"type": "email", "email": address, "token": code});
    assert_eq!(
        error_code(app.auth_post("/verify", &body).await, 400).await,
        "user_banned"
    );
}
