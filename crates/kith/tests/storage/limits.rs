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
    let response = s
        .request(Method::POST, "/object/move", &s.service_key)
        .json(&json!({"bucketId": "docs", "sourceKey": "a.txt", "destinationKey": "../a.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));
}

/// Peak resident memory of this process (kB).
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_200_mb_upload_and_download_stream_through_bounded_memory() {
    const SIZE: u64 = 200 * 1024 * 1024;
    let s = StorageApp::spawn(SIZE).await;
    s.create_bucket(json!({"name": "big"})).await;
    let before = peak_rss_kb();

    // A raw HTTP/1.1 request, so the client buffers nothing either: 64 KiB at a time.
    let address = s
        .url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
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
        .request(Method::GET, "/object/big/large.bin", &s.service_key)
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
    let grown_mb = (peak_rss_kb() - before) / 1024;
    assert!(grown_mb < 64, "peak memory grew by {grown_mb} MB for a 200 MB file");
}
