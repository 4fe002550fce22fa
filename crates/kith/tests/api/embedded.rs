//! The embedded default, end to end with the real binary: first start from an empty data dir, restart with the
//! data kept, no Postgres left behind after SIGTERM or a crash, a stale pid file recovered.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::helpers::user_claims;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Kith {
    child: Child,
    address: String,
}

impl Drop for Kith {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn kith(data_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kith"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KITH_DATA_DIR", data_dir)
        .env("KITH_SITE_URL", "http://kith.test")
        // Tests run side by side: no fixed admin port.
        .env("KITH_ADMIN_BIND", "127.0.0.1:0")
        .env("KITH_LOG_FORMAT", "json");
    command
}

async fn start(data_dir: &Path) -> Kith {
    let port = free_port();
    let log = std::fs::File::create(data_dir.with_extension(format!("{port}.log"))).unwrap();
    let child = kith(data_dir)
        .arg("serve")
        .env("KITH_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    // From here on, Drop stops the process whatever happens.
    let kith = Kith {
        child,
        address: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(response) = reqwest::get(format!("{}/ready", kith.address)).await
            && response.status() == 200
        {
            return kith;
        }
        assert!(
            Instant::now() < deadline,
            "kith did not become ready; see {}",
            data_dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    std::fs::read_to_string(data_dir.join("postgres/postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

fn alive(pid: i32) -> bool {
    kill(Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

async fn wait_gone(pid: i32, within: Duration) {
    let deadline = Instant::now() + within;
    while alive(pid) {
        assert!(Instant::now() < deadline, "postgres (pid {pid}) is still running");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stop(mut kith: Kith, signal: Signal) -> std::process::ExitStatus {
    kill(Pid::from_raw(kith.child.id() as i32), signal).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = kith.child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "kith did not exit after {signal}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn scratch_dir() -> (tempfile::TempDir, PathBuf) {
    // Under /tmp: when tests run as root, Postgres runs as an unprivileged user who must reach the directory.
    let dir = tempfile::Builder::new()
        .prefix("kith-embedded-")
        .tempdir_in("/tmp")
        .unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

#[tokio::test]
async fn embedded_postgres_starts_restarts_keeps_data_and_stops_cleanly() {
    let (_scratch, data_dir) = scratch_dir();
    let first = start(&data_dir).await;
    let pid = postmaster_pid(&data_dir).expect("postmaster.pid");

    // Unix socket only: the postmaster.pid's listen-address line is empty.
    let pid_file = std::fs::read_to_string(data_dir.join("postgres/postmaster.pid")).unwrap();
    assert_eq!(pid_file.lines().nth(5).map(str::trim), Some(""), "{pid_file}");
    assert!(data_dir.join("run/.s.PGSQL.5432").exists());

    // Only Kith's two login roles may connect, over the socket, and never for replication.
    let (client, connection) = tokio_postgres::Config::new()
        .host_path(data_dir.join("run"))
        .port(5432)
        .user("postgres")
        .dbname("kith")
        .connect(tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rules: Vec<(String, Vec<String>, Vec<String>)> = client
        .query(
            "select type, database, user_name from pg_hba_file_rules order by line_number",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let rule = |user: &str| ("local".to_owned(), vec!["all".to_owned()], vec![user.to_owned()]);
    assert_eq!(rules, [rule("postgres"), rule("kith_authenticator")]);
    drop(client);

    // The generated secret is readable by its owner only.
    let secret_path = data_dir.join("jwt-secret");
    assert_eq!(
        std::fs::metadata(&secret_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret = std::fs::read_to_string(&secret_path).unwrap();

    // A one-off command attaches to the running server's cluster.
    let output = kith(&data_dir)
        .args([
            "user",
            "create",
            "--email",
            "embedded@example.com",
            "--password",
            "a-good-password",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let id: uuid::Uuid = stdout.split_whitespace().nth(2).unwrap().parse().unwrap();

    // A second server on the same data dir is refused with a clear message.
    let second = kith(&data_dir)
        .arg("serve")
        .env("KITH_BIND", format!("127.0.0.1:{}", free_port()))
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("another kith server is using the data directory"));

    let issuer = "http://kith.test/auth/v1";
    let token = crate::helpers::sign_with(
        &user_claims(issuer, id, "embedded@example.com", 600),
        secret.trim().as_bytes(),
    );
    let profile = reqwest::Client::new()
        .get(format!("{}/api/profile", first.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);

    // SIGTERM: kith exits cleanly and its Postgres with it.
    assert!(stop(first, Signal::SIGTERM).success());
    wait_gone(pid, Duration::from_secs(5)).await;
    assert!(!data_dir.join("postgres/postmaster.pid").exists());

    // Restart: the data is still there.
    let again = start(&data_dir).await;
    let profile = reqwest::Client::new()
        .get(format!("{}/api/profile", again.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200);
    let pid = postmaster_pid(&data_dir).unwrap();

    // A crash (SIGKILL) takes Postgres down too, through the parent-death signal...
    stop(again, Signal::SIGKILL);
    wait_gone(pid, Duration::from_secs(30)).await;

    // ...and a pid file left behind, even naming a live process that is not Postgres, does not block a start.
    let pid_file = data_dir.join("postgres/postmaster.pid");
    let stale = format!("{}\n{}\n", std::process::id(), data_dir.join("postgres").display());
    std::fs::write(&pid_file, stale).unwrap();
    let recovered = start(&data_dir).await;
    let pid = postmaster_pid(&data_dir).unwrap();
    assert!(stop(recovered, Signal::SIGINT).success());
    wait_gone(pid, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn invalid_settings_stop_start_up_with_one_clear_line() {
    let (_scratch, data_dir) = scratch_dir();
    for (name, value, expected) in [
        ("KITH_BIND", "not-an-address", "invalid setting KITH_BIND"),
        (
            "KITH_JWT_SECRET",
            "too-short",
            "invalid setting KITH_JWT_SECRET: must be at least 32 characters",
        ),
        ("KITH_LOG_FORMAT", "xml", "invalid setting KITH_LOG_FORMAT"),
        ("DATABASE_URL", "mysql://nope", "invalid setting DATABASE_URL"),
        (
            "DATABASE_URL",
            "postgres://db.example/kith?sslmode=allow",
            "invalid setting DATABASE_URL: sslmode must be disable, prefer, require, verify-ca or verify-full",
        ),
        (
            "DATABASE_URL",
            "postgres://db.example/kith?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "invalid setting DATABASE_URL: cannot use /nonexistent/ca.pem as the certificate authority",
        ),
        ("KITH_SITE_URL", "ftp:/x", "invalid setting KITH_SITE_URL"),
        ("KITH_REST_MAX_ROWS", "lots", "invalid setting KITH_REST_MAX_ROWS"),
        (
            "KITH_AUTH_AUTOCONFIRM",
            "maybe",
            "invalid setting KITH_AUTH_AUTOCONFIRM",
        ),
    ] {
        let output = kith(&data_dir).arg("serve").env(name, value).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
    }
    assert!(!data_dir.exists(), "nothing is created before settings are valid");
}

#[tokio::test]
async fn version_and_keys_work_without_a_database() {
    let (_scratch, data_dir) = scratch_dir();
    let version = kith(&data_dir).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("kith "));
    let keys = kith(&data_dir)
        .arg("keys")
        .env("KITH_JWT_SECRET", crate::helpers::SECRET)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&keys.stdout);
    let anon = text.lines().find_map(|l| l.strip_prefix("anon key:")).unwrap().trim();
    let caller = kith_db::identity::JwtVerifier::hs256(crate::helpers::SECRET.as_bytes())
        .verify(anon)
        .unwrap();
    assert_eq!(caller.role(), kith_db::DbRole::Anon);
}
