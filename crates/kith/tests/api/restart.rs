//! Surviving a database restart under load: a private embedded PostgreSQL is restarted with a fast shutdown, then
//! killed with SIGQUIT (`pg_ctl -m immediate`) and started again, while workers send a mix of reads and writes.
//! Only 2xx and 503 may come back, nothing hangs, Kith answers 2xx again within 5 s of Postgres accepting
//! connections, and every write acknowledged with a 2xx is in the database afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use crate::helpers::{SECRET, sign, user_claims};
use kith::embedded::{EmbeddedPostgres, SUPERUSER, Sharing};
use kith::server::{self, Limits};
use kith_auth::AuthState;
use kith_auth::config::AuthSettings;
use kith_auth::mailer::Mailer;
use kith_auth::signing::Signer;
use kith_db::Db;
use kith_db::identity::JwtVerifier;
use kith_db::tokio_postgres::{Config as PgConfig, NoTls};
use kith_http::AppState;
use kith_http::middleware::HttpSettings;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

enum Command {
    RestartFast,
    Crash,
    Stop,
}

/// The cluster lives on a thread of its own for the whole test (the postmaster's parent-death signal is tied to
/// the thread that started it). Returns the owner's and the pool's connection settings and a command channel
/// that answers with the moment the cluster accepts connections again.
fn cluster(
    data_dir: PathBuf,
) -> (
    PgConfig,
    PgConfig,
    std::sync::mpsc::Sender<Command>,
    std::sync::mpsc::Receiver<Instant>,
) {
    let (commands, inbox) = std::sync::mpsc::channel::<Command>();
    let (ready, ready_rx) = std::sync::mpsc::channel::<Instant>();
    let (configs_tx, configs_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let start = || {
            let pg = EmbeddedPostgres::start(&data_dir, Sharing::Exclusive).unwrap();
            runtime.block_on(pg.ensure_database()).unwrap();
            pg
        };
        let mut pg = Some(start());
        let first = pg.as_ref().unwrap();
        configs_tx
            .send((first.config(SUPERUSER), first.config(kith_db::AUTHENTICATOR_ROLE)))
            .unwrap();
        for command in inbox {
            match command {
                Command::RestartFast => {
                    drop(pg.take());
                    pg = Some(start());
                    ready.send(Instant::now()).unwrap();
                }
                Command::Crash => {
                    let pid_file = data_dir.join("postgres").join("postmaster.pid");
                    let pid: i32 = std::fs::read_to_string(&pid_file)
                        .unwrap()
                        .lines()
                        .next()
                        .unwrap()
                        .trim()
                        .parse()
                        .unwrap();
                    // What `pg_ctl stop -m immediate` sends: every backend dies at once, no checkpoint.
                    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGQUIT).unwrap();
                    drop(pg.take());
                    pg = Some(start());
                    ready.send(Instant::now()).unwrap();
                }
                Command::Stop => break,
            }
        }
        drop(pg);
    });
    let (owner, pool) = configs_rx.recv().unwrap();
    (owner, pool, commands, ready_rx)
}

/// One answer the load saw.
struct Seen {
    at: Instant,
    status: u16,
    /// The contact's email, for an acknowledged write.
    written: Option<String>,
}

#[tokio::test]
async fn kith_survives_postgres_restarting_under_load() {
    let scratch = tempfile::Builder::new()
        .prefix("kith-restart-")
        .tempdir_in("/tmp")
        .unwrap();
    let (owner, pool_config, commands, ready) = cluster(scratch.path().join("data"));
    let ready = Arc::new(Mutex::new(ready));
    kith_db::migrate::migrate(&owner).await.unwrap();

    // Kith on that cluster, as `kith serve` wires it (2 s pool wait, so an outage answers 503 quickly).
    let (db, privileged) = Db::with_privileged(pool_config, 8, Duration::from_secs(2)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let outbox = scratch.path().join("outbox");
    let mut settings = AuthSettings::new(url::Url::parse(&address).unwrap(), &outbox);
    settings.outbox_dir = outbox.clone();
    let issuer = settings.issuer();
    let verifier = Arc::new(JwtVerifier::hs256(SECRET.as_bytes()).with_issuer(issuer.clone()));
    let state = AppState {
        db: db.clone(),
        verifier: verifier.clone(),
    };
    let mailer = Mailer::new(None, &settings.mail_from, outbox).unwrap();
    let auth = AuthState::new(
        privileged.clone(),
        verifier,
        Signer::new(SECRET.as_bytes()),
        settings,
        mailer,
    )
    .await
    .unwrap();
    let router = kith::app::router(
        state,
        &auth,
        &kith_rest::RestConfig::default(),
        &HttpSettings::default(),
    )
    .unwrap();
    tokio::spawn(server::serve(
        listener,
        router,
        Limits::default(),
        std::future::pending(),
    ));

    let email = "restart@example.com";
    let user_id = kith_auth::users::create_confirmed(&privileged, email, "a-good-password")
        .await
        .unwrap();
    let token = sign(&user_claims(&issuer, user_id, email, 3600));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(8))
        .build()
        .unwrap();
    let org: Value = http
        .post(format!("{address}/api/organizations"))
        .bearer_auth(&token)
        .json(&json!({"name": "Restart"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let workspaces: Value = http
        .get(format!(
            "{address}/api/workspaces?org_id={}",
            org["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let workspace = workspaces[0]["id"].as_str().unwrap().to_owned();

    // Four workers, each alternating a read and a write, until told to stop.
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let running = Arc::new(AtomicBool::new(true));
    let began = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (http, address, token, workspace) = (http.clone(), address.clone(), token.clone(), workspace.clone());
        let (seen, running) = (seen.clone(), running.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u32;
            while running.load(Ordering::Relaxed) {
                n += 1;
                let (response, written) = if n.is_multiple_of(2) {
                    let email = format!("w{worker}-{n}@example.com");
                    let body = json!({"workspace_id": workspace, "email": email, "first_name": "R"});
                    let response = http
                        .post(format!("{address}/api/contacts"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await;
                    (response, Some(email))
                } else {
                    (
                        http.get(format!("{address}/api/profile"))
                            .bearer_auth(&token)
                            .send()
                            .await,
                        None,
                    )
                };
                let status = match response {
                    Ok(response) => response.status().as_u16(),
                    // A hang (the 8 s client timeout) or a dropped connection: both fail the test below.
                    Err(err) if err.is_timeout() => 0,
                    Err(_) => 1,
                };
                let written = written.filter(|_| (200..300).contains(&status));
                seen.lock().unwrap().push(Seen {
                    at: Instant::now(),
                    status,
                    written,
                });
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }

    let recovery = |since: Instant, up: Instant| {
        let seen = seen.clone();
        async move {
            let deadline = up + Duration::from_secs(5);
            loop {
                let found = seen
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|s| s.at > up && (200..300).contains(&s.status))
                    .map(|s| s.at);
                if let Some(at) = found {
                    let first_503 = seen
                        .lock()
                        .unwrap()
                        .iter()
                        .find(|s| s.at > since && s.status == 503)
                        .map(|s| s.at);
                    return (first_503, at);
                }
                assert!(
                    Instant::now() < deadline,
                    "no 2xx within 5 s of Postgres accepting connections again"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut timeline = Vec::new();
    for (name, command) in [
        ("restart (fast shutdown)", Command::RestartFast),
        ("crash (SIGQUIT) and start", Command::Crash),
    ] {
        let down = Instant::now();
        commands.send(command).unwrap();
        let up = tokio::task::spawn_blocking({
            let ready = ready.clone();
            move || ready.lock().unwrap().recv().unwrap()
        })
        .await
        .unwrap();
        let (first_503, first_2xx) = recovery(down, up).await;
        timeline.push(format!(
            "{name}: down at {:.2}s, first 503 at {}, accepting at {:.2}s, first 2xx at {:.2}s",
            (down - began).as_secs_f64(),
            first_503.map_or("none".into(), |t| format!("{:.2}s", (t - began).as_secs_f64())),
            (up - began).as_secs_f64(),
            (first_2xx - began).as_secs_f64()
        ));
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }
    running.store(false, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let bad: Vec<_> = seen
        .iter()
        .filter(|s| !((200..300).contains(&s.status) || s.status == 503))
        .map(|s| s.status)
        .collect();
    assert!(
        bad.is_empty(),
        "answers other than 2xx and 503 (0: hung, 1: connection dropped): {bad:?}"
    );
    let acknowledged: Vec<String> = seen.iter().filter_map(|s| s.written.clone()).collect();
    let (client, connection) = owner.connect(NoTls).await.unwrap();
    tokio::spawn(connection);
    let found: i64 = client
        .query_one(
            "select count(*) from public.contacts where email = any($1)",
            &[&acknowledged],
        )
        .await
        .unwrap()
        .get(0);
    eprintln!("{}", timeline.join("\n"));
    eprintln!(
        "requests: {}, 503: {}, writes acknowledged: {}, found afterwards: {found}",
        seen.len(),
        seen.iter().filter(|s| s.status == 503).count(),
        acknowledged.len()
    );
    assert!(acknowledged.len() >= 10, "too few writes to mean anything");
    assert_eq!(found as usize, acknowledged.len(), "an acknowledged write was lost");
    drop(client);
    commands.send(Command::Stop).unwrap();
}
