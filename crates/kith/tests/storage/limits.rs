//! Sizes, MIME types and names are checked before anything is kept; a refused upload leaves neither a row nor a
//! file; a large upload streams through bounded memory.

use crate::StorageApp;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn over_the_bucket_limit_or_a_refused_mime_type_stores_nothing() {
    let s = StorageApp::spawn(1 << 20).await;
    s.create_bucket(json!({"name": "small", "file_size_limit": 100, "allowed_mime_types": ["image/png", "text/*"]}))
        .await;
    let (status, body) = s
        .upload(&s.service_key, "small", "big.txt", "text/plain", vec![b'x'; 101])
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"], "Payload too large");
    let (status, body) = s
        .upload(&s.service_key, "small", "doc.pdf", "application/pdf", b"%PDF".to_vec())
        .await;
    assert_eq!(status, 415, "{body}");
    assert!(body["message"].as_str().unwrap().contains("application/pdf"), "{body}");
    let (status, _) = s
        .upload(&s.service_key, "small", "bad.txt", "no type at all", b"x".to_vec())
        .await;
    assert_eq!(status, 415);
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));

    // A body without a declared length is counted as it arrives, and refused at the end by the bucket's rule.
    let status = s.chunked_upload("small", "chunked.txt", "text/plain", 4, 40).await;
    assert_eq!(status, 413);
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));

    for (name, content_type) in [("ok.txt", "text/plain;charset=UTF-8"), ("ok.png", "image/png")] {
        let (status, body) = s
            .upload(&s.service_key, "small", name, content_type, vec![b'z'; 100])
            .await;
        assert_eq!(status, 200, "{name}: {body}");
    }
    assert_eq!((s.object_rows().await, s.files_on_disk()), (2, 2));

    // The rule is Postgres's: a row written around the API is refused the same way.
    let owner = s.app.connect_as("postgres").await;
    let err = owner
        .batch_execute(
            "insert into storage.objects (bucket_id, name, metadata, version)
             values ('small', 'sql.txt', '{\"size\": 500, \"mimetype\": \"text/plain\"}', md5('x'))",
        )
        .await
        .unwrap_err();
    assert_eq!(err.code().unwrap().code(), "KS413");
}

#[tokio::test]
async fn the_server_limit_applies_to_every_bucket() {
    let s = StorageApp::spawn(1000).await;
    s.create_bucket(json!({"name": "open"})).await;
    let (status, _) = s
        .upload(
            &s.service_key,
            "open",
            "a.bin",
            "application/octet-stream",
            vec![0; 1001],
        )
        .await;
    assert_eq!(status, 413);
    let status = s
        .chunked_upload("open", "b.bin", "application/octet-stream", 30, 100)
        .await;
    assert_eq!(status, 413);
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));
}

#[tokio::test]
async fn traversal_and_control_characters_in_names_are_refused() {
    let s = StorageApp::spawn(1 << 20).await;
    s.create_bucket(json!({"name": "docs"})).await;
    // (`%2E%2E` alone would be a dot segment to the client's URL parser; `%2F` hides the slash from it.)
    for name in [
        "%2E%2E%2Fetc%2Fpasswd",
        "a/..%2Fb",
        "a/.%2Fb",
        "a%00b",
        "a%5Cb",
        "a%0Ab",
        "a//b",
        "a%2F%2Fb",
    ] {
        let (status, body) = s
            .upload(&s.service_key, "docs", name, "text/plain", b"x".to_vec())
            .await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body["code"], "InvalidKey", "{name}");
    }
    for bucket in ["%2E%2E", "a%2Fb"] {
        let (status, _) = s
            .upload(&s.service_key, bucket, "x.txt", "text/plain", b"x".to_vec())
            .await;
        assert!(status == 400 || status == 404, "{bucket}: {status}");
    }
    s.expect(
        Method::POST,
        "/object/move",
        &s.service_key,
        Some(&json!({"bucketId": "docs", "sourceKey": "a.txt", "destinationKey": "../a.txt"})),
        400,
    )
    .await;
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));
}

/// Peak resident memory (kB) of process `pid`.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Stops the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real `kith` binary serving the test database, so its memory is measured alone (other tests share this
/// process's).
async fn real_server(s: &StorageApp, max_file_size: u64) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin = crate::helpers::admin_config();
    let host = match admin.get_hosts().first() {
        Some(kith_db::tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        _ => "127.0.0.1".to_owned(),
    };
    let database_url = format!(
        "postgres://postgres@{host}:{}/{}",
        admin.get_ports().first().copied().unwrap_or(5432),
        s.app.database
    );
    let data = s.dir.path().join("server");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_kith"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("KITH_DATA_DIR", &data)
        .env("KITH_BIND", format!("127.0.0.1:{port}"))
        .env("KITH_ADMIN_BIND", "off")
        .env("KITH_JWT_SECRET", crate::helpers::SECRET)
        .env("KITH_LOG_FORMAT", "json")
        .env("KITH_STORAGE_MAX_FILE_SIZE", max_file_size.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let address = format!("127.0.0.1:{port}");
    for _ in 0..300 {
        if let Ok(response) = s.app.http.get(format!("http://{address}/ready")).send().await
            && response.status() == 200
        {
            return (server, address);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("kith did not become ready");
}

#[tokio::test]
async fn a_200_mb_upload_and_download_stream_through_bounded_memory() {
    const SIZE: u64 = 200 * 1024 * 1024;
    let s = StorageApp::spawn(SIZE).await;
    s.create_bucket(json!({"name": "big"})).await;
    let (server, address) = real_server(&s, SIZE).await;
    let pid = server.0.id();
    // Warm the server up with a small upload, so the baseline includes its pools and buffers.
    let small = s
        .app
        .http
        .post(format!("http://{address}/storage/v1/object/big/small.bin"))
        .bearer_auth(&s.service_key)
        .header("content-type", "application/octet-stream")
        .body(vec![1u8; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    let before = peak_rss_kb(pid);

    // A raw HTTP/1.1 request, so the client buffers nothing either: 64 KiB at a time.
    let mut socket = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /storage/v1/object/big/large.bin HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
         content-type: application/octet-stream\r\ncontent-length: {SIZE}\r\nconnection: close\r\n\r\n",
        s.service_key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    for _ in 0..SIZE / chunk.len() as u64 {
        socket.write_all(&chunk).await.unwrap();
    }
    let mut answer = String::new();
    socket.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let mut response = s
        .app
        .http
        .get(format!("http://{address}/storage/v1/object/big/large.bin"))
        .bearer_auth(&s.service_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut received: u64 = 0;
    while let Some(part) = response.chunk().await.unwrap() {
        assert!(part.iter().all(|b| *b == 0x5a));
        received += part.len() as u64;
    }
    assert_eq!(received, SIZE);
    let grown_mb = (peak_rss_kb(pid) - before) / 1024;
    eprintln!("200 MB upload and download: the server's peak memory grew by {grown_mb} MB (baseline {before} kB)");
    assert!(
        grown_mb < 32,
        "the server's peak memory grew by {grown_mb} MB for a 200 MB file"
    );
}
