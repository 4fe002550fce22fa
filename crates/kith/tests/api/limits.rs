//! The public listener's limits (header-read timeout, idle keep-alive, body-read timeout, connection cap) on real
//! sockets, and a full request pool answering 503 within its wait timeout instead of hanging.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{SECRET, TestApp, admin_config};
use axum::Router;
use axum::body::Bytes;
use axum::routing::{get, post};
use kith::server::{self, Limits};
use kith_db::identity::JwtVerifier;
use kith_db::{Access, Db};
use kith_http::AppState;
use kith_http::middleware::HttpSettings;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn spawn(limits: Limits) -> String {
    let router = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route("/echo", post(|body: Bytes| async move { body.len().to_string() }));
    let router = server::body_timeout(router, &limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(server::serve(listener, router, limits, std::future::pending()));
    address
}

/// Reads until the peer closes (Ok(0) or an error) or `limit` passes; returns what was read and whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

fn quick() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        max_connections: 64,
    }
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_cut_off() {
    let address = spawn(quick()).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    stream.write_all(b"GET /ok HTTP/1.1\r\nhost: kith\r\n").await.unwrap();
    // One header line every 300 ms, forever: without the timeout this connection would stay open.
    let mut closed_at = None;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        if stream.write_all(b"x-slow: 1\r\n").await.is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await {
            closed_at = Some(started.elapsed());
            break;
        }
    }
    let closed_at = closed_at.expect("the trickling connection stayed open for 6 s");
    assert!(closed_at < Duration::from_secs(3), "closed only after {closed_at:?}");
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed() {
    let address = spawn(quick()).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"GET /ok HTTP/1.1\r\nhost: kith\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (seen, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(closed, "the idle connection stayed open");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_stalled_body_is_refused_quickly() {
    let address = spawn(quick()).await;
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: kith\r\ncontent-length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let (seen, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let status: u16 = seen.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    assert!((400..500).contains(&status), "{seen}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    // A body that arrives whole is fine.
    let mut stream = TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: kith\r\nconnection: close\r\ncontent-length: 4\r\n\r\nabcd")
        .await
        .unwrap();
    let (seen, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 200") && seen.ends_with('4'), "{seen}");
}

#[tokio::test]
async fn connections_past_the_cap_wait_for_a_free_slot() {
    let address = spawn(Limits {
        header_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        max_connections: 2,
    })
    .await;
    let first = TcpStream::connect(&address).await.unwrap();
    let _second = TcpStream::connect(&address).await.unwrap();
    // Let the server accept both.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(&address).await.unwrap();
    third
        .write_all(b"GET /ok HTTP/1.1\r\nhost: kith\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let (seen, _) = read_until_closed(&mut third, Duration::from_millis(700)).await;
    assert!(seen.is_empty(), "the third connection was served past the cap: {seen}");
    drop(first);
    let (seen, _) = read_until_closed(&mut third, Duration::from_secs(5)).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen:?}");
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_within_its_wait_timeout() {
    let app = TestApp::spawn().await;
    let user = app.create_user().await;
    let mut config = admin_config();
    config.dbname(&app.database).user(kith_db::AUTHENTICATOR_ROLE);
    let small = Db::with_wait_timeout(config, 1, Duration::from_millis(300)).unwrap();
    let state = AppState {
        db: small.clone(),
        verifier: Arc::new(JwtVerifier::hs256(SECRET.as_bytes()).with_issuer(app.issuer.clone())),
    };
    let router = kith::app::router(
        state,
        &app.auth,
        &kith_rest::RestConfig::default(),
        &HttpSettings::default(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(
        listener,
        router,
        Limits::default(),
        std::future::pending(),
    ));

    // With the pool's one connection free, the request succeeds.
    let url = format!("{address}/api/profile");
    let ok = app.http.get(&url).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    // Hold it: the next request cannot get a connection.
    let held = small
        .begin_as(&app.caller(&user.token), Access::ReadOnly)
        .await
        .unwrap();
    let started = Instant::now();
    let refused = app.http.get(&url).bearer_auth(&user.token).send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    drop(held);
    let again = app.http.get(&url).bearer_auth(&user.token).send().await.unwrap();
    assert_eq!(again.status(), 200);
}
