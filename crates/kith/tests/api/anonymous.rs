//! Anonymous sign-ins (`KITH_AUTH_ANONYMOUS`): off by default; when on, `is_anonymous` in the user and token, RLS
//! can tell them apart, and confirming an email address makes the user permanent.

#![allow(clippy::unwrap_used)]

use crate::helpers::{TestApp, json_body};
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

#[tokio::test]
async fn anonymous_sign_in_is_off_by_default() {
    let app = TestApp::spawn().await;
    let refused = app.auth_post("/signup", &json!({"data": {}})).await;
    assert_eq!(json_body(refused, 422).await["code"], "anonymous_provider_disabled");
    let settings = json_body(app.get("/auth/v1/settings", None).await, 200).await;
    assert_eq!(settings["external"]["anonymous_users"], false);
}

#[tokio::test]
async fn anonymous_users_are_marked_and_convert_by_confirming_an_email() {
    let app = TestApp::spawn_with(|s| s.anonymous = true).await;
    let settings = json_body(app.get("/auth/v1/settings", None).await, 200).await;
    assert_eq!(settings["external"]["anonymous_users"], true);
    let session = json_body(app.auth_post("/signup", &json!({"data": {"theme": "dark"}})).await, 200).await;
    let token = session["access_token"].as_str().unwrap().to_owned();
    let claims = claims_of(&token);
    assert_eq!(claims["is_anonymous"], true);
    assert_eq!(claims["role"], "authenticated");
    assert_eq!(claims["amr"][0]["method"], "anonymous");
    assert_eq!(session["user"]["is_anonymous"], true);
    assert_eq!(session["user"]["app_metadata"]["provider"], "anonymous");
    assert_eq!(session["user"]["identities"], json!([]));
    assert_eq!(session["user"]["email"], "");

    // RLS tells them apart.
    let caller = app.caller(&token);
    let mut tx = app.db.begin_as(&caller, kith_db::Access::ReadOnly).await.unwrap();
    let anonymous: bool = tx
        .query_one("select (auth.jwt() ->> 'is_anonymous')::boolean", &[])
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    assert!(anonymous);

    // No password without an address.
    let put = |body: Value, token: String| {
        let app = &app;
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
    let refused = put(json!({"password": "a-good-password"}), token.clone()).await;
    assert_eq!(json_body(refused, 422).await["code"], "validation_failed");

    // updateUser({email}) mails a code to the new address; confirming it makes the user permanent.
    let address = format!("kept-{}@example.com", Uuid::new_v4().simple());
    let updated = json_body(put(json!({"email": address}), token.clone()).await, 200).await;
    assert_eq!(updated["new_email"], json!(address));
    let mail = app.mails().pop().unwrap();
    assert_eq!(mail["to"], json!(address));
    let verified = json_body(
        app.auth_post(
            "/verify",
            &json!({"type": "email_change", "email": address, "token": mail["code"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(verified["user"]["email"], json!(address));
    assert_eq!(verified["user"]["is_anonymous"], false);
    assert_eq!(verified["user"]["identities"][0]["provider"], "email");
    assert_eq!(verified["user"]["app_metadata"]["provider"], "email");
    let permanent = verified["access_token"].as_str().unwrap().to_owned();
    assert_eq!(claims_of(&permanent)["is_anonymous"], false);
    // Now a password can be set, and the user signs in with it.
    let set = put(json!({"password": "a-good-password"}), permanent).await;
    assert_eq!(set.status(), 200);
    let signed_in = app
        .auth_post(
            "/token?grant_type=password",
            &json!({"email": address, "password": "a-good-password"}),
        )
        .await;
    assert_eq!(json_body(signed_in, 200).await["user"]["id"], session["user"]["id"]);

    // Closed sign-up closes anonymous sign-in too.
    let closed = TestApp::spawn_with(|s| {
        s.anonymous = true;
        s.disable_signup = true;
    })
    .await;
    let refused = closed.auth_post("/signup", &json!({})).await;
    assert_eq!(json_body(refused, 422).await["code"], "signup_disabled");
}
