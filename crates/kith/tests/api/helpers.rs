//! The test harness: `TestApp::spawn()` starts the real router on port 0 against a fresh database.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use kith::app;
use kith_auth::AuthState;
use kith_auth::config::AuthSettings;
use kith_auth::mailer::Mailer;
use kith_auth::signing::Signer;
use kith_db::identity::JwtVerifier;
use kith_db::tokio_postgres::{self, Config as PgConfig, NoTls};
use kith_db::{Caller, Db, PrivilegedDb};
use kith_http::AppState;
use kith_http::middleware::HttpSettings;
use serde_json::{Value, json};
use std::str::FromStr;
use std::sync::Arc;
use uuid::Uuid;

/// The secret every test server signs and verifies with.
pub const SECRET: &str = "test-secret-for-kith-integration-tests-0123456789";
/// Advisory lock serializing template creation across test processes.
const TEMPLATE_LOCK: i64 = 0x6b69_7468_7465_7374;

/// The superuser connection to the test cluster.
pub fn admin_config() -> PgConfig {
    let url = std::env::var("KITH_TEST_DATABASE_URL").expect(
        "KITH_TEST_DATABASE_URL is not set: run scripts/test, or point it at a PostgreSQL superuser URL \
         such as postgres://postgres@127.0.0.1:5432/postgres",
    );
    PgConfig::from_str(&url).expect("KITH_TEST_DATABASE_URL is not a valid PostgreSQL URL")
}

async fn connect(config: &PgConfig) -> tokio_postgres::Client {
    let (client, connection) = config.connect(NoTls).await.expect("cannot connect to the test cluster");
    tokio::spawn(connection);
    client
}

fn config_for(database: &str, user: &str) -> PgConfig {
    let mut config = admin_config();
    config.dbname(database).user(user);
    config
}

/// The template's name changes whenever a migration does, so a stale template is never used.
fn template_name() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for migration in kith_db::migrate::MIGRATIONS {
        for byte in migration.name.bytes().chain(migration.sql.bytes()) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("kith_template_{hash:016x}")
}

/// Creates (once per cluster) a migrated template, then a fresh database cloned from it.
pub async fn fresh_database() -> String {
    let admin = connect(&admin_config()).await;
    let template = template_name();
    admin
        .query("select pg_advisory_lock($1)", &[&TEMPLATE_LOCK])
        .await
        .unwrap();
    let exists = admin
        .query_opt("select 1 from pg_database where datname = $1", &[&template])
        .await
        .unwrap()
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        admin
            .batch_execute(&format!("drop database if exists {building}"))
            .await
            .unwrap();
        admin
            .batch_execute(&format!("create database {building}"))
            .await
            .unwrap();
        kith_db::migrate::migrate(&config_for(&building, "postgres"))
            .await
            .expect("migrations failed");
        admin
            .batch_execute(&format!("alter database {building} rename to {template}"))
            .await
            .unwrap();
    }
    admin
        .query("select pg_advisory_unlock($1)", &[&TEMPLATE_LOCK])
        .await
        .unwrap();
    let name = format!("kith_test_{}", Uuid::new_v4().simple());
    admin
        .batch_execute(&format!("create database {name} template {template}"))
        .await
        .unwrap();
    name
}

/// A running Kith on its own database.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The `iss` of user tokens (`<address>/auth/v1`).
    pub issuer: String,
    /// The auth service's outbox (mail lands here).
    pub outbox: tempfile::TempDir,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The request pool the server uses.
    pub db: Db,
    /// The privileged door over the same pool, as the binary hands it to the auth service.
    pub privileged: PrivilegedDb,
    /// The test database's name.
    pub database: String,
    /// The auth service's state (signing keys, settings).
    pub auth: AuthState,
}

/// A user with a valid access token.
pub struct TestUser {
    /// The user's id.
    pub id: Uuid,
    /// The user's email.
    pub email: String,
    /// A valid access token.
    pub token: String,
}

impl TestApp {
    /// Starts the app on port 0 against a fresh database, with generous rate limits.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app with auth settings adjusted by `configure`.
    pub async fn spawn_with(configure: impl FnOnce(&mut AuthSettings)) -> TestApp {
        // Logs stay silent unless TEST_LOG is set (e.g. TEST_LOG=1 cargo test -- --nocapture).
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_test_writer()
                .with_env_filter("info")
                .try_init();
        }
        let database = fresh_database().await;
        let (db, privileged) = Db::with_privileged(
            config_for(&database, kith_db::AUTHENTICATOR_ROLE),
            8,
            std::time::Duration::from_secs(5),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let outbox = tempfile::tempdir().unwrap();
        let mut auth = AuthSettings::new(url::Url::parse(&address).unwrap(), outbox.path());
        auth.outbox_dir = outbox.path().to_path_buf();
        auth.rate_limits.per_ip = 10_000;
        auth.rate_limits.per_email = 10_000;
        configure(&mut auth);
        let issuer = auth.issuer();
        let verifier = Arc::new(JwtVerifier::hs256(SECRET.as_bytes()).with_issuer(issuer.clone()));
        let state = AppState {
            db: db.clone(),
            verifier: verifier.clone(),
        };
        let mailer = Mailer::new(
            auth.smtp_url.as_ref().map(secrecy::ExposeSecret::expose_secret),
            &auth.mail_from,
            auth.outbox_dir.clone(),
        )
        .unwrap();
        let auth_state = AuthState::new(
            privileged.clone(),
            verifier,
            Signer::new(SECRET.as_bytes()),
            auth,
            mailer,
        )
        .await
        .unwrap();
        let router = app::router(
            state,
            &auth_state,
            &kith_rest::RestConfig::default(),
            &HttpSettings::default(),
        )
        .unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        TestApp {
            address,
            issuer,
            outbox,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            db,
            privileged,
            database,
            auth: auth_state,
        }
    }

    /// A connection to the test database as `user` (e.g. the pool's login role), outside any transaction.
    pub async fn connect_as(&self, user: &str) -> tokio_postgres::Client {
        connect(&config_for(&self.database, user)).await
    }

    /// Creates a confirmed user through the auth service and signs them an access token.
    pub async fn create_user(&self) -> TestUser {
        let email = format!("user-{}@example.com", Uuid::new_v4().simple());
        let id = kith_auth::users::create_confirmed(&self.privileged, &email, "a-good-password")
            .await
            .unwrap();
        let token = sign(&self.user_claims(id, &email, 3600));
        TestUser { id, email, token }
    }

    /// A `Caller` for `token`, built the only way callers are built: by verifying it.
    pub fn caller(&self, token: &str) -> Caller {
        JwtVerifier::hs256(SECRET.as_bytes())
            .with_issuer(self.issuer.clone())
            .verify(token)
            .unwrap()
    }

    /// `GET` with an optional bearer token.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// `PATCH` a JSON body with a bearer token.
    pub async fn patch_json(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(format!("{}{path}", self.address))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let database = self.database.clone();
        // Runs on its own thread and runtime: Drop cannot await, and the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let admin = connect(&admin_config()).await;
                let _ = admin
                    .batch_execute(&format!("drop database if exists {database} with (force)"))
                    .await;
            });
        })
        .join();
    }
}

impl TestApp {
    /// Claims of an access token as Kith's auth service issues them (without a stored session).
    pub fn user_claims(&self, id: Uuid, email: &str, expires_in: i64) -> Value {
        user_claims(&self.issuer, id, email, expires_in)
    }

    /// Every mail in the outbox, oldest first.
    pub fn mails(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(self.outbox.path())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
            .collect()
    }

    /// `POST` a JSON body to an auth endpoint, as supabase-js sends it (API version header, anon apikey).
    pub async fn auth_post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}/auth/v1{path}", self.address))
            .header("x-supabase-api-version", "2024-01-01")
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Signs in through `/auth/v1/token` and returns the access token of that real session.
    pub async fn sign_in_token(&self, email: &str, password: &str) -> String {
        let body = json_body(
            self.auth_post(
                "/token?grant_type=password",
                &json!({"email": email, "password": password}),
            )
            .await,
            200,
        )
        .await;
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Signs up (autoconfirm) and returns the session body.
    pub async fn sign_up(&self, email: &str, password: &str) -> Value {
        json_body(
            self.auth_post("/signup", &json!({"email": email, "password": password}))
                .await,
            200,
        )
        .await
    }
}

/// Claims of an access token as Kith's auth service issues them.
pub fn user_claims(issuer: &str, id: Uuid, email: &str, expires_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": issuer, "sub": id, "aud": "authenticated", "role": "authenticated", "email": email,
        "iat": now, "exp": now + expires_in, "session_id": Uuid::new_v4(),
        "app_metadata": {"provider": "email"}, "user_metadata": {}, "is_anonymous": false,
    })
}

/// Signs `claims` with the test secret (HS256).
pub fn sign(claims: &Value) -> String {
    sign_with(claims, SECRET.as_bytes())
}

/// Signs `claims` with another key.
pub fn sign_with(claims: &Value, key: &[u8]) -> String {
    encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(key)).unwrap()
}

/// Reads a JSON body, asserting the status first.
pub async fn json_body(response: reqwest::Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("body is not JSON: {text}"))
}
