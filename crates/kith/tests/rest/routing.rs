//! The data API's own router: every path under `/rest/v1` and every method answers in PostgREST's error
//! shape (`{code, message, details, hint}`), never the `/api` shape, and the root answers with and without
//! its trailing slash. (`OPTIONS` is answered by the CORS layer before routing.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fixtures::{header, rest, send, world};
use reqwest::Method;
use serde_json::Value;

fn assert_postgrest_shape(body: &Value, context: &str) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("{context}: not an object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["code", "details", "hint", "message"], "{context}: {body}");
}

#[tokio::test]
async fn unknown_paths_answer_pgrst125() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    for path in [
        "items/extra",
        "items/",
        "a/b/c",
        "rpc/",
        "rpc/add_numbers/x",
        "rpc/add_numbers/",
    ] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let (status, headers, body) = send(rest(&w.app, method.clone(), path, t)).await;
            assert_eq!(status, 404, "{method} {path}: {body}");
            assert_eq!(body["code"], "PGRST125", "{method} {path}");
            assert_eq!(body["message"], "Invalid path specified in request URL");
            assert_postgrest_shape(&body, path);
            assert_eq!(header(&headers, "proxy-status"), "PostgREST; error=PGRST125");
        }
    }
}

#[tokio::test]
async fn wrong_methods_answer_in_postgrest_shape() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let cases = [
        (Method::PUT, "items", "PGRST117", "Unsupported HTTP method: PUT"),
        (Method::TRACE, "items", "PGRST117", "Unsupported HTTP method: TRACE"),
        (
            Method::PUT,
            "rpc/add_numbers",
            "PGRST101",
            "Cannot use the PUT method on RPC",
        ),
        (
            Method::PATCH,
            "rpc/add_numbers",
            "PGRST101",
            "Cannot use the PATCH method on RPC",
        ),
        (
            Method::DELETE,
            "rpc/add_numbers",
            "PGRST101",
            "Cannot use the DELETE method on RPC",
        ),
        (Method::POST, "", "PGRST117", "Unsupported HTTP method: POST"),
        (Method::DELETE, "", "PGRST117", "Unsupported HTTP method: DELETE"),
    ];
    for (method, path, code, message) in cases {
        let (status, _, body) = send(rest(&w.app, method.clone(), path, t)).await;
        assert_eq!(status, 405, "{method} /{path}: {body}");
        assert_eq!(body["code"], code, "{method} /{path}");
        assert_eq!(body["message"], message);
        assert_postgrest_shape(&body, path);
    }
    // A wrong method is refused before the token is read, as the method is part of the route.
    let (status, _, body) = send(rest(&w.app, Method::PUT, "items", Some("not-a-token"))).await;
    assert_eq!((status, body["code"].as_str()), (405, Some("PGRST117")));
}

#[tokio::test]
async fn root_with_and_without_slash() {
    let w = world().await;
    for url in [
        format!("{}/rest/v1", w.app.address),
        format!("{}/rest/v1/", w.app.address),
    ] {
        let response = w.app.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert!(
            header(response.headers(), "content-type").starts_with("application/openapi+json"),
            "{url}"
        );
        let document: Value = response.json().await.unwrap();
        assert_eq!(document["swagger"], "2.0");
    }
    // The token is still checked on a request that reaches a handler.
    let (status, _, body) = send(rest(&w.app, Method::GET, "items", Some("a.b.c"))).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("PGRST301")));
}
