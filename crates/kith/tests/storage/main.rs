//! Integration tests of the Storage API (`/storage/v1`): one binary, sharing the `/api` tests' harness. Each test
//! runs a server with the Storage API on its own fresh database and its own storage directory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../api/helpers.rs"]
mod helpers;

mod defaults;
mod limits;
mod objects;
mod policies;

use helpers::{SECRET, TestApp, sign};
use kith_db::identity::JwtVerifier;
use kith_http::AppState;
use kith_http::middleware::HttpSettings;
use serde_json::{Value, json};
use std::sync::Arc;

/// A server with the Storage API, on a fresh database.
pub struct StorageApp {
    /// The usual test app (its database, users and auth service).
    pub app: TestApp,
    /// `http://127.0.0.1:<port>/storage/v1`.
    pub url: String,
    /// The storage directory.
    pub dir: tempfile::TempDir,
    /// A service-role API key.
    pub service_key: String,
}

impl StorageApp {
    /// Starts one, accepting files up to `max_file_size` bytes.
    pub async fn spawn(max_file_size: u64) -> StorageApp {
        let app = TestApp::spawn().await;
        let dir = tempfile::tempdir().unwrap();
        let verifier = JwtVerifier::hs256(SECRET.as_bytes()).with_issuer(app.issuer.clone());
        let state = AppState {
            db: app.db.clone(),
            verifier: Arc::new(verifier),
        };
        let storage = kith_storage::StorageConfig::new(dir.path(), max_file_size, SECRET.as_bytes());
        let router = kith::app::router_with_storage(
            state,
            &app.auth,
            &kith_rest::RestConfig::default(),
            Some(&storage),
            &HttpSettings::default(),
        )
        .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/storage/v1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        let now = chrono::Utc::now().timestamp();
        let service_key = sign(&json!({"role": "service_role", "iss": "supabase", "iat": now, "exp": now + 3600}));
        StorageApp {
            app,
            url,
            dir,
            service_key,
        }
    }

    /// Runs SQL as the schema owner (the app's migrations: buckets' policies and the like).
    pub async fn owner_sql(&self, sql: &str) {
        self.app.connect_as("postgres").await.batch_execute(sql).await.unwrap();
    }

    /// A request to `path` (under `/storage/v1`) with `token` as bearer.
    pub fn request(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.app
            .http
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(token)
    }

    /// Sends `method path` with `token` as bearer (and `body` as JSON); returns the status and the JSON answer
    /// (null when the answer is not JSON).
    pub async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.request(method, path, token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// [`Self::call`] that expects `status`; returns the JSON answer.
    pub async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let (got, answer) = self.call(method, path, token, body).await;
        assert_eq!(got, status, "{path}: {answer}");
        answer
    }

    /// Creates a bucket with the service key.
    pub async fn create_bucket(&self, body: Value) {
        let response = self
            .request(reqwest::Method::POST, "/bucket", &self.service_key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// Uploads `bytes` as `content_type` to `bucket/name`; returns the status and the body.
    pub async fn upload(
        &self,
        token: &str,
        bucket: &str,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> (u16, Value) {
        let response = self
            .request(reqwest::Method::POST, &format!("/object/{bucket}/{name}"), token)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Uploads `chunks` chunks of `size` bytes with `transfer-encoding: chunked` (no declared length) over a raw
    /// connection; returns the status.
    pub async fn chunked_upload(
        &self,
        bucket: &str,
        name: &str,
        content_type: &str,
        chunks: usize,
        size: usize,
    ) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self
            .url
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
        let head = format!(
            "POST /storage/v1/object/{bucket}/{name} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
             content-type: {content_type}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            self.service_key
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..chunks {
            socket.write_all(format!("{size:x}\r\n").as_bytes()).await.unwrap();
            // The server may answer and close before the whole body is sent.
            if socket.write_all(&vec![b'c'; size]).await.is_err() || socket.write_all(b"\r\n").await.is_err() {
                break;
            }
        }
        let _ = socket.write_all(b"0\r\n\r\n").await;
        let mut answer = Vec::new();
        let _ = socket.read_to_end(&mut answer).await;
        let answer = String::from_utf8_lossy(&answer);
        answer
            .get(9..12)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {answer}"))
    }

    /// Every file kept in the storage directory (uploads in progress included).
    pub fn files_on_disk(&self) -> usize {
        fn count(dir: &std::path::Path) -> usize {
            std::fs::read_dir(dir).map_or(0, |entries| {
                entries
                    .flatten()
                    .map(|e| if e.path().is_dir() { count(&e.path()) } else { 1 })
                    .sum()
            })
        }
        count(self.dir.path())
    }

    /// Rows in storage.objects, counted by the schema owner.
    pub async fn object_rows(&self) -> i64 {
        self.app
            .connect_as("postgres")
            .await
            .query_one("select count(*) from storage.objects", &[])
            .await
            .unwrap()
            .get(0)
    }
}

/// Per-user folders, as Supabase's docs write them: `<bucket>/<user id>/…` is its user's.
pub const FOLDER_POLICIES: &str = "
    create policy own_folder_read on storage.objects for select to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = (select auth.uid())::text);
    create policy own_folder_write on storage.objects for insert to authenticated
      with check (bucket_id = 'private' and (storage.foldername(name))[1] = (select auth.uid())::text);
    create policy own_folder_update on storage.objects for update to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = (select auth.uid())::text)
      with check (bucket_id = 'private' and (storage.foldername(name))[1] = (select auth.uid())::text);
    create policy own_folder_delete on storage.objects for delete to authenticated
      using (bucket_id = 'private' and (storage.foldername(name))[1] = (select auth.uid())::text);
";
