//! Buckets and objects end to end through the HTTP API, with the wire shapes supabase-js reads.

use crate::StorageApp;
use reqwest::Method;
use serde_json::{Value, json};

async fn json(response: reqwest::Response, status: u16) -> Value {
    crate::helpers::json_body(response, status).await
}

#[tokio::test]
async fn buckets_are_created_listed_updated_emptied_and_deleted() {
    let s = StorageApp::spawn(1 << 20).await;
    let key = s.service_key.clone();
    let created = s.expect(Method::POST, "/bucket", &key, Some(&json!({"id": "media", "name": "media", "public": false, "file_size_limit": "1MB", "allowed_mime_types": ["image/*"]})), 200).await;
    assert_eq!(created, json!({"name": "media"}));
    s.expect(Method::POST, "/bucket", &key, Some(&json!({"name": "media"})), 409)
        .await;
    s.expect(Method::POST, "/bucket", &key, Some(&json!({"name": "a/b"})), 400)
        .await;
    s.expect(
        Method::POST,
        "/bucket",
        &key,
        Some(&json!({"name": "x", "file_size_limit": -5})),
        400,
    )
    .await;

    let bucket = s.expect(Method::GET, "/bucket/media", &key, None, 200).await;
    assert_eq!(bucket["file_size_limit"], 1_000_000);
    assert_eq!(bucket["allowed_mime_types"], json!(["image/*"]));
    assert_eq!(bucket["public"], false);
    let listed = s.expect(Method::GET, "/bucket", &key, None, 200).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let updated = s
        .expect(
            Method::PUT,
            "/bucket/media",
            &key,
            Some(&json!({"id": "media", "name": "media", "public": true, "file_size_limit": null})),
            200,
        )
        .await;
    assert_eq!(updated["message"], "Successfully updated");
    let bucket = s.expect(Method::GET, "/bucket/media", &key, None, 200).await;
    assert_eq!(
        (bucket["public"].clone(), bucket["file_size_limit"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(
        bucket["allowed_mime_types"],
        json!(["image/*"]),
        "left alone when not sent"
    );
    s.expect(Method::PUT, "/bucket/nope", &key, Some(&json!({"public": true})), 404)
        .await;

    let (status, _) = s.upload(&key, "media", "a.png", "image/png", vec![1; 10]).await;
    assert_eq!(status, 200);
    s.expect(Method::DELETE, "/bucket/media", &key, None, 409).await;
    let emptied = s.expect(Method::POST, "/bucket/media/empty", &key, None, 200).await;
    assert_eq!(emptied["message"], "Successfully emptied");
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));
    let deleted = s.expect(Method::DELETE, "/bucket/media", &key, None, 200).await;
    assert_eq!(deleted["message"], "Successfully deleted");
    let gone = s.request(Method::GET, "/bucket/media", &key).send().await.unwrap();
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn objects_upload_upsert_update_download_move_copy_and_remove() {
    let s = StorageApp::spawn(1 << 20).await;
    let key = s.service_key.clone();
    s.create_bucket(json!({"name": "docs"})).await;

    let (status, body) = s
        .upload(&key, "docs", "folder/a.txt", "text/plain", b"first".to_vec())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Key"], "docs/folder/a.txt");
    assert!(body["Id"].is_string());
    let (status, body) = s
        .upload(&key, "docs", "folder/a.txt", "text/plain", b"again".to_vec())
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "Duplicate");
    let response = s
        .request(Method::POST, "/object/docs/folder/a.txt", &key)
        .header("x-upsert", "true")
        .header("content-type", "text/markdown")
        .body("second")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The replaced version's file is gone: one object, one file.
    assert_eq!((s.object_rows().await, s.files_on_disk()), (1, 1));

    let response = s
        .request(Method::GET, "/object/docs/folder/a.txt", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/markdown");
    assert!(response.headers()["etag"].to_str().unwrap().starts_with('"'));
    assert_eq!(response.text().await.unwrap(), "second");

    let updated = s
        .request(Method::PUT, "/object/docs/folder/a.txt", &key)
        .header("content-type", "text/plain")
        .body("third")
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let missing = s
        .request(Method::PUT, "/object/docs/nope.txt", &key)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!((s.object_rows().await, s.files_on_disk()), (1, 1));

    // Byte ranges (media players, resumed downloads) and revalidation.
    let response = s
        .request(Method::GET, "/object/docs/folder/a.txt", &key)
        .header("range", "bytes=1-3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 206);
    assert_eq!(response.headers()["content-range"], "bytes 1-3/5");
    let etag = response.headers()["etag"].clone();
    assert_eq!(response.text().await.unwrap(), "hir");
    let response = s
        .request(Method::GET, "/object/docs/folder/a.txt", &key)
        .header("range", "bytes=9-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 416);
    let response = s
        .request(Method::GET, "/object/docs/folder/a.txt", &key)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 304);

    let info = s
        .expect(Method::GET, "/object/info/docs/folder/a.txt", &key, None, 200)
        .await;
    assert_eq!(
        (info["size"].clone(), info["content_type"].clone()),
        (json!(5), json!("text/plain"))
    );

    let copied = s
        .expect(
            Method::POST,
            "/object/copy",
            &key,
            Some(&json!({"bucketId": "docs", "sourceKey": "folder/a.txt", "destinationKey": "folder/b.txt"})),
            200,
        )
        .await;
    assert_eq!(copied["Key"], "docs/folder/b.txt");
    let moved = s
        .expect(
            Method::POST,
            "/object/move",
            &key,
            Some(&json!({"bucketId": "docs", "sourceKey": "folder/b.txt", "destinationKey": "other/c.txt"})),
            200,
        )
        .await;
    assert_eq!(moved["message"], "Successfully moved");
    let response = s
        .request(Method::GET, "/object/docs/other/c.txt", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "third");
    s.expect(Method::GET, "/object/docs/folder/b.txt", &key, None, 404)
        .await;

    let removed = s
        .expect(
            Method::DELETE,
            "/object/docs",
            &key,
            Some(&json!({"prefixes": ["folder/a.txt", "other/c.txt", "never/was.txt"]})),
            200,
        )
        .await;
    assert_eq!(removed.as_array().unwrap().len(), 2);
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));
}

#[tokio::test]
async fn lists_show_one_level_with_prefix_search_limit_and_offset() {
    let s = StorageApp::spawn(1 << 20).await;
    let key = s.service_key.clone();
    s.create_bucket(json!({"name": "tree"})).await;
    for name in [
        "top.txt",
        "dir/a.txt",
        "dir/b.txt",
        "dir/sub/c.txt",
        "dir/sub/d.txt",
        "dir/100%_done.txt",
    ] {
        let (status, _) = s.upload(&key, "tree", name, "text/plain", b"x".to_vec()).await;
        assert_eq!(status, 200, "{name}");
    }
    let list = |body: Value| {
        let request = s.request(Method::POST, "/object/list/tree", &key).json(&body);
        async move {
            let listed = json(request.send().await.unwrap(), 200).await;
            listed
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (e["name"].as_str().unwrap().to_owned(), e["id"].is_null()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(json!({"prefix": ""})).await,
        [("dir".into(), true), ("top.txt".into(), false)]
    );
    assert_eq!(
        list(json!({"prefix": "dir"})).await,
        [
            ("100%_done.txt".into(), false),
            ("a.txt".into(), false),
            ("b.txt".into(), false),
            ("sub".into(), true)
        ]
    );
    assert_eq!(list(json!({"prefix": "dir/", "limit": 2, "offset": 1})).await.len(), 2);
    assert_eq!(
        list(json!({"prefix": "dir", "search": "B"})).await,
        [("b.txt".into(), false)]
    );
    // Search is literal text, not a pattern.
    assert_eq!(
        list(json!({"prefix": "dir", "search": "100%_"})).await,
        [("100%_done.txt".into(), false)]
    );
    assert!(list(json!({"prefix": "dir", "search": "%"})).await.is_empty());
    assert!(list(json!({"prefix": "dir", "search": "_"})).await.is_empty());
    assert_eq!(
        list(json!({"prefix": "dir", "sortBy": {"column": "name", "order": "desc"}})).await[0].0,
        "sub"
    );
    s.expect(
        Method::POST,
        "/object/list/tree",
        &key,
        Some(&json!({"prefix": "dir", "sortBy": {"column": "name; drop table x"}})),
        400,
    )
    .await;
}

#[tokio::test]
async fn signed_urls_download_until_they_expire() {
    let s = StorageApp::spawn(1 << 20).await;
    let key = s.service_key.clone();
    s.create_bucket(json!({"name": "share"})).await;
    let (status, _) = s
        .upload(&key, "share", "my file.txt", "text/plain", b"shared".to_vec())
        .await;
    assert_eq!(status, 200);
    let signed = s
        .expect(
            Method::POST,
            "/object/sign/share/my file.txt",
            &key,
            Some(&json!({"expiresIn": 60})),
            200,
        )
        .await;
    let url = signed["signedURL"].as_str().unwrap();
    assert!(url.starts_with("/object/sign/share/my file.txt?token="), "{url}");
    let base = s.url.clone();
    let response = s.app.http.get(format!("{base}{url}&download")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("my%20file.txt")
    );
    assert_eq!(response.text().await.unwrap(), "shared");
    // The token is for this path only.
    let token = url.split("token=").nth(1).unwrap();
    let response = s
        .app
        .http
        .get(format!("{base}/object/sign/share/other.txt?token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = s
        .app
        .http
        .get(format!("{base}/object/sign/share/my file.txt?token=abc.def.ghi"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);

    let many = s
        .expect(
            Method::POST,
            "/object/sign/share",
            &key,
            Some(&json!({"expiresIn": 1, "paths": ["my file.txt", "missing.txt"]})),
            200,
        )
        .await;
    assert_eq!(many[0]["error"], Value::Null);
    assert_eq!(many[1]["signedURL"], Value::Null);
    assert!(many[1]["error"].is_string());
    let short = many[0]["signedURL"].as_str().unwrap().to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let response = s.app.http.get(format!("{base}{short}")).send().await.unwrap();
    assert_eq!(response.status(), 400, "expired");
    s.expect(
        Method::POST,
        "/object/sign/share/my file.txt",
        &key,
        Some(&json!({"expiresIn": 0})),
        400,
    )
    .await;
}

#[tokio::test]
async fn multipart_uploads_take_the_files_type_and_fields() {
    let s = StorageApp::spawn(1 << 20).await;
    let key = s.service_key.clone();
    s.create_bucket(json!({"name": "forms"})).await;
    let body = "--XyZ\r\ncontent-disposition: form-data; name=\"cacheControl\"\r\n\r\n60\r\n\
                --XyZ\r\ncontent-disposition: form-data; name=\"metadata\"\r\n\r\n{\"k\":\"v\"}\r\n\
                --XyZ\r\ncontent-disposition: form-data; name=\"\"; filename=\"blob\"\r\ncontent-type: image/png\r\n\r\n\
                PNGDATA\r\n--XyZ--\r\n";
    let response = s
        .request(Method::POST, "/object/forms/pic.png", &key)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let response = s
        .request(Method::GET, "/object/forms/pic.png", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["cache-control"], "max-age=60");
    assert_eq!(response.text().await.unwrap(), "PNGDATA");
    let info = s
        .expect(Method::GET, "/object/info/forms/pic.png", &key, None, 200)
        .await;
    assert_eq!(info["metadata"], json!({"k": "v"}));
}

#[tokio::test]
async fn cors_preflights_allow_the_headers_storage_js_sends() {
    let s = StorageApp::spawn(1 << 20).await;
    let response = s
        .app
        .http
        .request(Method::OPTIONS, format!("{}/object/b/x.txt", s.url))
        .header("origin", "https://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,apikey,x-client-info,x-upsert,x-metadata,cache-control,content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let allowed = response.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in ["x-upsert", "x-metadata", "cache-control", "authorization", "apikey"] {
        assert!(allowed.contains(header), "{header} not in {allowed}");
    }
}
