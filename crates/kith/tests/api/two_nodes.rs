//! Two `kith serve` processes on one database behave as one service behind a load balancer: requests alternate
//! between the nodes, and sessions, refresh-token rotation with reuse detection, rate limits, invitations,
//! signing-key rotation and the data API's schema reload (NOTIFY) hold across them. Both start at once, so the migration lock is raced
//! too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::{SECRET, admin_config, fresh_database, json_body};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The public URL both nodes are configured with, as they would be behind one load balancer: tokens carry it
/// as their issuer, so a token from one node is valid on the other.
const SITE_URL: &str = "http://kith.two-nodes.test";

struct Node {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_node(database_url: &str) -> Node {
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_kith"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("KITH_JWT_SECRET", SECRET)
        .env("KITH_BIND", format!("127.0.0.1:{port}"))
        .env("KITH_ADMIN_BIND", "off")
        .env("KITH_SITE_URL", SITE_URL)
        .env("KITH_DATA_DIR", data.path())
        .env("KITH_LOG_FORMAT", "json")
        .env("KITH_POOL_SIZE", "4")
        // Reuse detection without a grace period, and limits low enough to reach in a test.
        .env("KITH_AUTH_REFRESH_REUSE_INTERVAL", "0")
        .env("KITH_AUTH_RATE_LIMIT_EMAIL", "4")
        .env("KITH_AUTH_RATE_LIMIT_IP", "1000")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _data: data,
    }
}

async fn wait_ready(http: &reqwest::Client, node: &mut Node) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(format!("{}/ready", node.base)).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(
            node.child.try_wait().unwrap().is_none(),
            "a node exited during start-up"
        );
        assert!(Instant::now() < deadline, "a node was not ready within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post(http: &reqwest::Client, node: &Node, path: &str, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut request = http.post(format!("{}{path}", node.base)).json(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn get(http: &reqwest::Client, node: &Node, path: &str, token: &str) -> reqwest::Response {
    http.get(format!("{}{path}", node.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn sign_up(http: &reqwest::Client, node: &Node, email: &str) -> Value {
    let response = post(
        http,
        node,
        "/auth/v1/signup",
        None,
        &json!({"email": email, "password": "two-nodes-pw"}),
    )
    .await;
    json_body(response, 200).await
}

async fn refresh(http: &reqwest::Client, node: &Node, refresh_token: &Value) -> reqwest::Response {
    post(
        http,
        node,
        "/auth/v1/token?grant_type=refresh_token",
        None,
        &json!({"refresh_token": refresh_token}),
    )
    .await
}

#[tokio::test]
async fn two_nodes_on_one_database_behave_as_one_service() {
    let database = fresh_database().await;
    let admin = admin_config();
    let host = match admin.get_hosts().first() {
        Some(kith_db::tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        other => panic!("the test cluster must be reached over TCP, not {other:?}"),
    };
    let port = admin.get_ports().first().copied().unwrap_or(5432);
    let database_url = format!("postgres://postgres@{host}:{port}/{database}?sslmode=disable");

    let http = reqwest::Client::new();
    let (mut a, mut b) = (start_node(&database_url), start_node(&database_url));
    wait_ready(&http, &mut a).await;
    wait_ready(&http, &mut b).await;

    // A session made on A is good on B.
    let ada = sign_up(&http, &a, "ada@two-nodes.test").await;
    let token = ada["access_token"].as_str().unwrap();
    let profile = json_body(get(&http, &b, "/api/profile", token).await, 200).await;
    assert_eq!(profile["email"], "ada@two-nodes.test");

    // Rotation alternates nodes; reusing an old token on either ends the session on both.
    let r1 = ada["refresh_token"].clone();
    let second = json_body(refresh(&http, &b, &r1).await, 200).await;
    let third = json_body(refresh(&http, &a, &second["refresh_token"]).await, 200).await;
    let reused = json_body(refresh(&http, &b, &r1).await, 400).await;
    assert_eq!(reused["error_code"], "refresh_token_already_used", "{reused}");
    let after = json_body(refresh(&http, &a, &third["refresh_token"]).await, 400).await;
    assert_eq!(
        after["error_code"], "refresh_token_not_found",
        "the session ended: {after}"
    );

    // One rate limit for both: four failed sign-ins for one address, alternating nodes, then 429 on either.
    for attempt in 0..4 {
        let node = if attempt % 2 == 0 { &a } else { &b };
        let body = json!({"email": "mallory@two-nodes.test", "password": "wrong-password"});
        let response = post(&http, node, "/auth/v1/token?grant_type=password", None, &body).await;
        assert_eq!(response.status(), 400, "attempt {attempt}");
    }
    for node in [&a, &b] {
        let body = json!({"email": "mallory@two-nodes.test", "password": "wrong-password"});
        let response = post(&http, node, "/auth/v1/token?grant_type=password", None, &body).await;
        assert_eq!(response.status(), 429);
        assert!(response.headers().contains_key("retry-after"));
    }

    // An invitation sent through A is accepted through B.
    let owner = sign_up(&http, &a, "owner@two-nodes.test").await;
    let owner_token = owner["access_token"].as_str().unwrap();
    let org = json_body(
        post(
            &http,
            &a,
            "/api/organizations",
            Some(owner_token),
            &json!({"name": "Two Nodes"}),
        )
        .await,
        201,
    )
    .await;
    let org_id = org["id"].as_str().unwrap();
    let invitation = json_body(
        post(
            &http,
            &a,
            &format!("/api/organizations/{org_id}/invitations"),
            Some(owner_token),
            &json!({"email": "grace@two-nodes.test", "role": "member"}),
        )
        .await,
        201,
    )
    .await;
    let grace = sign_up(&http, &b, "grace@two-nodes.test").await;
    let grace_token = grace["access_token"].as_str().unwrap();
    let accept = json!({"token": invitation["token"]});
    json_body(
        post(&http, &b, "/api/invitations/accept", Some(grace_token), &accept).await,
        200,
    )
    .await;
    let orgs = json_body(get(&http, &a, "/api/organizations", grace_token).await, 200).await;
    assert!(orgs.to_string().contains(org_id), "{orgs}");
    // Single use on both nodes.
    let again = post(&http, &a, "/api/invitations/accept", Some(grace_token), &accept).await;
    assert!(again.status().is_client_error(), "{}", again.status());

    // A table created by a migration elsewhere appears in both nodes' data API after NOTIFY, without restart.
    let mut owner_config = admin.clone();
    owner_config.dbname(&database);
    let (client, connection) = owner_config.connect(kith_db::tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    for node in [&a, &b] {
        let response = get(&http, node, "/rest/v1/two_node_notes?select=body", token).await;
        assert_eq!(response.status(), 404, "the table does not exist yet");
    }
    client
        .batch_execute(
            "create table public.two_node_notes (id bigint generated always as identity primary key, body text not null);
             alter table public.two_node_notes enable row level security;
             alter table public.two_node_notes force row level security;
             create policy everyone_reads on public.two_node_notes for select to authenticated using (true);
             grant select on public.two_node_notes to authenticated;
             insert into public.two_node_notes (body) values ('seen by both');
             notify pgrst, 'reload schema';",
        )
        .await
        .unwrap();
    let grace_token = grace_token.to_owned();
    for node in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = get(&http, node, "/rest/v1/two_node_notes?select=body", &grace_token).await;
            if response.status() == 200 {
                assert_eq!(
                    response.json::<Value>().await.unwrap(),
                    json!([{"body": "seen by both"}])
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not reload its schema cache within 10 s",
                node.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // A signing key rotated by `kith keys rotate` signs on one node and verifies on the other at once (NOTIFY),
    // not only after the minute's periodic reload; tokens signed before keep working.
    let rotate = Command::new(env!("CARGO_BIN_EXE_kith"))
        .args(["keys", "rotate"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("DATABASE_URL", &database_url)
        .env("KITH_JWT_SECRET", SECRET)
        .env("KITH_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(rotate.status.success(), "{}", String::from_utf8_lossy(&rotate.stderr));
    for node in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let jwks = http
                .get(format!("{}/auth/v1/.well-known/jwks.json", node.base))
                .send()
                .await
                .unwrap();
            if jwks.text().await.unwrap().contains("ES256") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not load the rotated key within 5 s",
                node.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let body = json!({"email": "owner@two-nodes.test", "password": "two-nodes-pw"});
    let session = json_body(
        post(&http, &a, "/auth/v1/token?grant_type=password", None, &body).await,
        200,
    )
    .await;
    let fresh = session["access_token"].as_str().unwrap().to_owned();
    assert_eq!(header_alg(&fresh), "ES256");
    json_body(get(&http, &b, "/api/profile", &fresh).await, 200).await;
    json_body(get(&http, &b, "/api/profile", &grace_token).await, 200).await;
}

/// The `alg` in a JWT's header.
fn header_alg(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap();
    serde_json::from_slice::<Value>(&bytes).unwrap()["alg"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
