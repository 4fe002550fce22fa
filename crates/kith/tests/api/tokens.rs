//! Every way a token can be wrong answers 401 with the right code and `WWW-Authenticate: Bearer`.

#![allow(clippy::unwrap_used)]

use crate::helpers::{SECRET, TestApp, json_body, sign, sign_with};
use serde_json::{Value, json};
use uuid::Uuid;

fn b64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

async fn expect_401(app: &TestApp, authorization: Option<&str>, code: &str, case: &str) {
    let mut request = app.http.get(format!("{}/api/profile", app.address));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = json_body(response, 401).await;
    assert_eq!(body["error"]["code"], code, "{case}: {body}");
    assert!(
        challenge.as_deref().unwrap_or_default().starts_with("Bearer"),
        "{case}: no challenge"
    );
}

#[tokio::test]
async fn every_bad_token_is_refused_with_its_code() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let now = chrono::Utc::now().timestamp();
    let claims = app.user_claims(user.id, &user.email, 3600);

    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        format!("Bearer {}", sign(&c))
    };
    let unsigned = format!(
        "Bearer {}.{}.",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(&claims.to_string())
    );
    let tampered = {
        let token = sign(&claims);
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = b64(&json!({"sub": Uuid::new_v4(), "role": "authenticated", "exp": now + 3600}).to_string());
        parts[1] = &forged;
        format!("Bearer {}", parts.join("."))
    };
    // A user cannot mint or upgrade `aal`: the claim is only as good as the signature over it.
    let aal_upgraded = {
        let token = sign(&claims);
        let mut parts: Vec<&str> = token.split('.').collect();
        let mut upgraded = claims.clone();
        upgraded["aal"] = json!("aal2");
        upgraded["amr"] = json!([{"method": "totp", "timestamp": now}]);
        let forged = b64(&upgraded.to_string());
        parts[1] = &forged;
        format!("Bearer {}", parts.join("."))
    };
    let aal_minted = {
        let mut upgraded = claims.clone();
        upgraded["aal"] = json!("aal2");
        format!(
            "Bearer {}",
            sign_with(&upgraded, b"a-key-the-user-made-up-0123456789abcdef")
        )
    };
    let service_wrong_key = format!(
        "Bearer {}",
        sign_with(
            &json!({"role": "service_role", "iss": "kith", "exp": now + 3600}),
            b"not-the-secret-but-just-as-long-0123456789"
        )
    );

    expect_401(&app, None, "missing_token", "no header").await;
    let cases: Vec<(String, &str, &str)> = vec![
        ("Basic dXNlcjpwYXNz".into(), "invalid_token", "basic auth"),
        ("Bearer".into(), "invalid_token", "no token"),
        ("Bearer    ".into(), "invalid_token", "blank token"),
        ("Bearer not-a-jwt".into(), "invalid_token", "malformed"),
        ("Bearer a.b.c".into(), "invalid_token", "three garbage parts"),
        (format!("Bearer {}", "a".repeat(9000)), "invalid_token", "oversize"),
        (
            format!(
                "Bearer {}",
                sign_with(&claims, b"wrong-secret-wrong-secret-wrong-secret")
            ),
            "invalid_token",
            "wrong signature",
        ),
        (unsigned, "invalid_token", "alg none"),
        (tampered, "invalid_token", "tampered payload"),
        (with(json!({"exp": now - 3600})), "token_expired", "expired"),
        (with(json!({"nbf": now + 3600})), "invalid_token", "not yet valid"),
        (with(json!({"role": "postgres"})), "invalid_token", "role postgres"),
        (
            with(json!({"role": "kith_authenticator"})),
            "invalid_token",
            "role authenticator",
        ),
        (
            with(json!({"sub": "not-a-uuid"})),
            "invalid_token",
            "subject not a uuid",
        ),
        (service_wrong_key, "invalid_token", "service role with a wrong key"),
        (aal_upgraded, "invalid_token", "aal upgraded in the payload"),
        (aal_minted, "invalid_token", "aal2 token signed with a made-up key"),
    ];
    for (header, code, case) in &cases {
        expect_401(&app, Some(header), code, case).await;
    }
    // The secret itself was never the problem: the untouched token works.
    let ok = app.get("/api/profile", Some(&sign(&claims))).await;
    assert_eq!(ok.status(), 200);
    assert!(SECRET.len() >= 32);
}

#[tokio::test]
async fn api_keys_are_not_user_tokens() {
    let app = TestApp::spawn().await;
    let keys = kith_auth::api_keys::mint(SECRET.as_bytes(), chrono::Utc::now().timestamp()).unwrap();

    // The anon key alone (as supabase-js sends it, in `apikey`) is an anonymous caller: no user, so 401.
    let response = app
        .http
        .get(format!("{}/api/profile", app.address))
        .header("apikey", &keys.anon)
        .send()
        .await
        .unwrap();
    let body = json_body(response, 401).await;
    assert_eq!(body["error"]["code"], "missing_token");

    // The service-role key bypasses RLS in the data API, but CRM routes need a user.
    let body = json_body(app.get("/api/profile", Some(&keys.service_role)).await, 401).await;
    assert_eq!(body["error"]["code"], "invalid_token");

    // Authorization wins over apikey, as in Supabase's gateway.
    let user = app.create_user().await;
    let response = app
        .http
        .get(format!("{}/api/profile", app.address))
        .header("apikey", &keys.anon)
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(json_body(response, 200).await["id"], json!(user.id));
}
