//! The pool survives its connections being killed under it (the cheap variant of a database restart:
//! `pg_terminate_backend` on the pool's backends): a read is retried once on a fresh connection and succeeds, a
//! write is never retried and answers 503 at worst, never a 500 or a hang, and the next request works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{TestApp, TestUser};
use serde_json::json;
use std::time::Duration;

/// Opens a few pool connections, then terminates every backend of the pool's login role in the test database.
async fn kill_pool_connections(app: &TestApp, user: &TestUser) {
    let (a, b, c) = tokio::join!(
        app.get("/api/profile", Some(&user.token)),
        app.get("/api/profile", Some(&user.token)),
        app.get("/api/profile", Some(&user.token)),
    );
    assert!([a, b, c].iter().all(|r| r.status() == 200));
    let admin = app.connect_as("postgres").await;
    let killed: i64 = admin
        .query_one(
            "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity
              where usename = 'kith_authenticator' and datname = current_database()) t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "no pool connection to terminate");
}

async fn bounded(request: impl std::future::Future<Output = reqwest::Response>) -> reqwest::Response {
    tokio::time::timeout(Duration::from_secs(6), request)
        .await
        .expect("a request hung after its connection was killed")
}

#[tokio::test]
async fn reads_are_retried_on_a_fresh_connection_after_the_pools_connections_die() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    // The single-round-trip read (Db::read_as).
    kill_pool_connections(&app, &user).await;
    assert_eq!(bounded(app.get("/api/profile", Some(&user.token))).await.status(), 200);
    // A read through a caller transaction (the data API).
    kill_pool_connections(&app, &user).await;
    let url = format!("{}/rest/v1/profiles?select=id", app.address);
    let rest = bounded(async { app.http.get(&url).bearer_auth(&user.token).send().await.unwrap() }).await;
    assert_eq!(rest.status(), 200);
    // No dead connection is left in the pool.
    for _ in 0..10 {
        assert_eq!(app.get("/api/profile", Some(&user.token)).await.status(), 200);
    }
}

#[tokio::test]
async fn a_write_on_a_dead_connection_is_not_retried_and_never_a_500() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    kill_pool_connections(&app, &user).await;
    let first = bounded(app.patch_json("/api/profile", &user.token, &json!({"full_name": "First"}))).await;
    assert!(
        first.status() == 200 || first.status() == 503,
        "a write on a dead connection answered {}",
        first.status()
    );
    if first.status() == 503 {
        assert!(first.headers().contains_key("retry-after"));
    }
    let second = bounded(app.patch_json("/api/profile", &user.token, &json!({"full_name": "Second"}))).await;
    assert_eq!(second.status(), 200);
    let profile: serde_json::Value = app.get("/api/profile", Some(&user.token)).await.json().await.unwrap();
    assert_eq!(profile["full_name"], "Second");
}
