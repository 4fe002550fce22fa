//! Health, readiness, and the middleware every route runs behind.

#![allow(clippy::unwrap_used)]

use crate::helpers::{TestApp, json_body};

#[tokio::test]
async fn health_and_ready_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(json_body(app.get("/health", None).await, 200).await["status"], "ok");
    let ready = json_body(app.get("/ready", None).await, 200).await;
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["schema_version"], kith_db::migrate::latest_version());
}

#[tokio::test]
async fn ready_is_503_when_the_schema_is_behind() {
    let app = TestApp::spawn().await;
    let owner = app.connect_as("postgres").await;
    owner
        .batch_execute(
            "delete from kith.schema_migrations where version = (select max(version) from kith.schema_migrations)",
        )
        .await
        .unwrap();
    let body = json_body(app.get("/ready", None).await, 503).await;
    assert_eq!(body["error"]["code"], "unavailable");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = TestApp::spawn().await;
    let body = json_body(app.get("/api/nope", None).await, 404).await;
    assert_eq!(body["error"]["code"], "not_found");
    let response = app
        .http
        .delete(format!("{}/api/profile", app.address))
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("allow").is_some());
    let body = json_body(response, 405).await;
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

/// Each JSON service answers an unknown path or a wrong method in its own dialect: supabase-js shows GoTrue's
/// `message`, and would show `[object Object]` for the `/api` shape.
#[tokio::test]
async fn each_service_answers_unknown_paths_and_methods_in_its_own_dialect() {
    let app = TestApp::spawn().await;
    let send = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{}{path}", app.address))
            .header("x-supabase-api-version", "2024-01-01")
            .send()
    };
    // /api, deep paths included.
    let body = json_body(send(reqwest::Method::GET, "/api/no/such/route").await.unwrap(), 404).await;
    assert_eq!(body["error"]["code"], "not_found");
    // /auth/v1: GoTrue's `{code, message}` with `x-sb-error-code`.
    let response = send(reqwest::Method::GET, "/auth/v1/nope").await.unwrap();
    assert_eq!(response.headers()["x-sb-error-code"], "not_found");
    let body = json_body(response, 404).await;
    assert_eq!(body["code"], "not_found");
    assert!(body["message"].is_string() && body.get("error").is_none(), "{body}");
    let response = send(reqwest::Method::GET, "/auth/v1/signup").await.unwrap();
    assert!(response.headers().get("allow").is_some());
    assert_eq!(response.headers()["x-sb-error-code"], "method_not_allowed");
    let body = json_body(response, 405).await;
    assert_eq!(body["code"], "method_not_allowed");
    assert!(body["message"].is_string() && body.get("error").is_none(), "{body}");
    // Without the API version header, GoTrue's legacy shape.
    let legacy = json_body(app.get("/auth/v1/nope", None).await, 404).await;
    assert_eq!(legacy["code"], 404);
    assert_eq!(legacy["error_code"], "not_found");
}

#[tokio::test]
async fn responses_carry_request_id_and_security_headers() {
    let app = TestApp::spawn().await;
    let response = app.get("/health", None).await;
    let headers = response.headers();
    assert!(headers.get("x-request-id").is_some());
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers.get("content-security-policy").is_some());

    let response = app
        .http
        .get(format!("{}/health", app.address))
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-me-123");
}

#[tokio::test]
async fn cors_preflight_allows_supabase_headers() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/api/profile", app.address))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "authorization, apikey, content-type, x-client-info",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_not_a_500() {
    use kith_db::identity::JwtVerifier;
    use kith_http::AppState;
    // A pool pointed at a port nothing listens on: every route that needs the database must say 503.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = kith_db::tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(closed)
        .user("kith_authenticator")
        .dbname("kith");
    config.connect_timeout(std::time::Duration::from_secs(1));
    let db = kith_db::Db::new(config, 2).unwrap();
    let app = TestApp::spawn().await;
    let state = AppState::new(
        db,
        JwtVerifier::hs256(crate::helpers::SECRET.as_bytes()).with_issuer(app.issuer.clone()),
    );
    let router = kith::app::router(
        state,
        &app.auth,
        &kith_rest::RestConfig::default(),
        &kith_http::middleware::HttpSettings::default(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let user = app.create_user().await;

    let ready = reqwest::get(format!("{address}/ready")).await.unwrap();
    assert_eq!(json_body(ready, 503).await["error"]["code"], "unavailable");
    let profile = reqwest::Client::new()
        .get(format!("{address}/api/profile"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert!(profile.headers().get("retry-after").is_some());
    assert_eq!(json_body(profile, 503).await["error"]["code"], "unavailable");
    let rest = reqwest::Client::new()
        .get(format!("{address}/rest/v1/profiles"))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 503);
    let sign_in = reqwest::Client::new()
        .post(format!("{address}/auth/v1/token?grant_type=password"))
        .json(&serde_json::json!({"email": user.email, "password": "a-good-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sign_in.status(), 200, "auth has its own pool here, which is up");
    assert_eq!(reqwest::get(format!("{address}/health")).await.unwrap().status(), 200);
}
