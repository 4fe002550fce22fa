//! Row-level security decides every object operation: another user's folder is refused, and a bucket without
//! policies refuses everyone but the service role.

use crate::{FOLDER_POLICIES, StorageApp};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn another_users_folder_is_refused_by_rls() {
    let s = StorageApp::spawn(1 << 20).await;
    s.create_bucket(json!({"name": "private"})).await;
    s.owner_sql(FOLDER_POLICIES).await;
    let ada = s.app.create_user().await;
    let bob = s.app.create_user().await;
    let mine = format!("{}/notes.txt", ada.id);

    let (status, body) = s
        .upload(&ada.token, "private", &mine, "text/plain", b"ada's notes".to_vec())
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["Key"], format!("private/{mine}"));
    assert_eq!((s.object_rows().await, s.files_on_disk()), (1, 1));

    // Bob can neither write into Ada's folder nor replace her file.
    let theirs = format!("{}/planted.txt", ada.id);
    let (status, body) = s
        .upload(&bob.token, "private", &theirs, "text/plain", b"x".to_vec())
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["statusCode"], "403");
    let response = s
        .request(Method::POST, &format!("/object/private/{mine}"), &bob.token)
        .header("x-upsert", "true")
        .body("overwritten")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    assert_eq!((s.object_rows().await, s.files_on_disk()), (1, 1));

    // Nor see, list, sign, move, copy or remove it.
    for path in [
        format!("/object/private/{mine}"),
        format!("/object/authenticated/private/{mine}"),
        format!("/object/info/private/{mine}"),
    ] {
        s.expect(Method::GET, &path, &bob.token, None, 404).await;
    }
    let listed = s
        .expect(
            Method::POST,
            "/object/list/private",
            &bob.token,
            Some(&json!({"prefix": ada.id.to_string()})),
            200,
        )
        .await;
    assert_eq!(listed, json!([]));
    s.expect(
        Method::POST,
        &format!("/object/sign/private/{mine}"),
        &bob.token,
        Some(&json!({"expiresIn": 60})),
        404,
    )
    .await;
    for (route, destination) in [
        ("/object/move", format!("{}/stolen.txt", bob.id)),
        ("/object/copy", format!("{}/copied.txt", bob.id)),
    ] {
        s.expect(
            Method::POST,
            route,
            &bob.token,
            Some(&json!({"bucketId": "private", "sourceKey": mine, "destinationKey": destination})),
            404,
        )
        .await;
    }
    let removed = s
        .expect(
            Method::DELETE,
            "/object/private",
            &bob.token,
            Some(&json!({"prefixes": [mine]})),
            200,
        )
        .await;
    assert_eq!(removed, json!([]));
    assert_eq!((s.object_rows().await, s.files_on_disk()), (1, 1));

    // Ada still can.
    let response = s
        .request(Method::GET, &format!("/object/private/{mine}"), &ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ada's notes");
    let listed = s
        .expect(
            Method::POST,
            "/object/list/private",
            &ada.token,
            Some(&json!({"prefix": ada.id.to_string()})),
            200,
        )
        .await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "notes.txt");

    // Anonymous callers see nothing either, not even through the public route (the bucket is private).
    for path in [
        format!("/object/private/{mine}"),
        format!("/object/public/private/{mine}"),
    ] {
        let response = s.app.http.get(format!("{}{path}", s.url)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn without_policies_only_the_service_role_may_use_a_bucket() {
    let s = StorageApp::spawn(1 << 20).await;
    s.create_bucket(json!({"name": "closed"})).await;
    let ada = s.app.create_user().await;
    let (status, _) = s
        .upload(&ada.token, "closed", "a.txt", "text/plain", b"x".to_vec())
        .await;
    assert_eq!(status, 403);
    assert_eq!((s.object_rows().await, s.files_on_disk()), (0, 0));
    // Buckets are rows under RLS too: a signed-in user cannot create, see or delete them without a policy.
    s.expect(Method::POST, "/bucket", &ada.token, Some(&json!({"name": "mine"})), 403)
        .await;
    let buckets = s.expect(Method::GET, "/bucket", &ada.token, None, 200).await;
    assert_eq!(buckets, json!([]));
    s.expect(Method::DELETE, "/bucket/closed", &ada.token, None, 404).await;

    let (status, _) = s
        .upload(&s.service_key, "closed", "a.txt", "text/plain", b"x".to_vec())
        .await;
    assert_eq!(status, 200);
    s.expect(Method::GET, "/object/closed/a.txt", &ada.token, None, 404)
        .await;
}

#[tokio::test]
async fn public_buckets_serve_anyone_by_url_but_list_only_by_policy() {
    let s = StorageApp::spawn(1 << 20).await;
    s.create_bucket(json!({"name": "assets", "public": true})).await;
    let (status, _) = s
        .upload(
            &s.service_key,
            "assets",
            "img/logo.svg",
            "image/svg+xml",
            b"<svg/>".to_vec(),
        )
        .await;
    assert_eq!(status, 200);
    let response = s
        .app
        .http
        .get(format!("{}/object/public/assets/img/logo.svg", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    // User content never runs as the site.
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(response.text().await.unwrap(), "<svg/>");
    let info: Value = s
        .app
        .http
        .get(format!("{}/object/info/public/assets/img/logo.svg", s.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["size"], 6);

    // The policies behind the public route read rows only for a GET or HEAD on that route.
    let owner = s.app.connect_as("postgres").await;
    for (method, path, seen) in [
        ("GET", "/storage/v1/object/public/assets/img/logo.svg", 1),
        ("HEAD", "/storage/v1/object/public/assets/img/logo.svg", 1),
        ("DELETE", "/storage/v1/object/public/assets/img/logo.svg", 0),
        ("GET", "/storage/v1/object/assets/img/logo.svg", 0),
        ("GET", "/rest/v1/objects", 0),
    ] {
        let rows = owner
            .simple_query(&format!(
                "begin; set local role anon; select set_config('request.method', '{method}', true),
                 set_config('request.path', '{path}', true); select count(*) from storage.objects; rollback;"
            ))
            .await
            .unwrap();
        let count = rows
            .iter()
            .filter_map(|m| match m {
                kith_db::tokio_postgres::SimpleQueryMessage::Row(r) if r.columns()[0].name() == "count" => r.get(0),
                _ => None,
            })
            .next()
            .unwrap()
            .to_owned();
        assert_eq!(count, seen.to_string(), "{method} {path}");
    }

    // The same rows are invisible on every other route.
    let ada = s.app.create_user().await;
    let listed = s
        .expect(
            Method::POST,
            "/object/list/assets",
            &ada.token,
            Some(&json!({"prefix": "img"})),
            200,
        )
        .await;
    assert_eq!(listed, json!([]));
    s.expect(Method::GET, "/object/assets/img/logo.svg", &ada.token, None, 404)
        .await;
    s.expect(Method::GET, "/bucket/assets", &ada.token, None, 404).await;
}
