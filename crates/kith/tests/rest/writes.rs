//! Writes: insert (object, array, columns, missing=default), upsert, update, delete and their Prefer answers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fixtures::{get, header, rest, send, titles, world};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn insert_object_and_array_with_return_preferences() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    // Default: return=minimal, 201, no body.
    let (status, headers, body) = send(rest(&w.app, Method::POST, "notes", t).json(&json!({"body": "first"}))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!(""));
    assert_eq!(header(&headers, "content-range"), "*/*");

    // return=representation with select; owner_id defaulted to auth.uid().
    let (status, headers, body) = send(
        rest(&w.app, Method::POST, "notes?select=body,owner_id", t)
            .header("prefer", "return=representation")
            .json(&json!({"body": "second"})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body, json!([{"body": "second", "owner_id": w.alice.id}]));
    assert_eq!(header(&headers, "preference-applied"), "return=representation");

    // An array with `columns` (what supabase-js sends), count=exact.
    let (status, headers, body) = send(
        rest(&w.app, Method::POST, "notes?columns=%22body%22&select=body", t)
            .header("prefer", "return=representation,count=exact")
            .json(&json!([{"body": "third"}, {"body": "fourth", "ignored": 1}])),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!([{"body": "third"}, {"body": "fourth"}]));
    assert_eq!(header(&headers, "content-range"), "*/2");

    // headers-only: Location of the new row.
    let (status, headers, _) = send(
        rest(&w.app, Method::POST, "notes", t)
            .header("prefer", "return=headers-only")
            .json(&json!({"body": "fifth"})),
    )
    .await;
    assert_eq!(status, 201);
    assert!(header(&headers, "location").starts_with("/notes?id=eq."), "{headers:?}");

    // Singular insert answer.
    let (status, _, body) = send(
        rest(&w.app, Method::POST, "notes?select=body", t)
            .header("prefer", "return=representation")
            .header("accept", "application/vnd.pgrst.object+json")
            .json(&json!({"body": "sixth"})),
    )
    .await;
    assert_eq!((status, body), (201, json!({"body": "sixth"})));

    // Array without `columns`: absent keys are NULL, or the default with missing=default.
    let (status, _, body) = send(
        rest(&w.app, Method::POST, "items?select=title,tags,score", t)
            .header("prefer", "return=representation, missing=default")
            .json(&json!([{"org_id": w.org_a, "title": "n1", "score": 1},
                          {"org_id": w.org_a, "title": "n2", "tags": ["t"]}])),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!([{"title": "n1", "tags": [], "score": 1}, {"title": "n2", "tags": ["t"], "score": null}])
    );

    // `{}` inserts a row of defaults.
    let (status, _, body) = send(rest(&w.app, Method::POST, "orgs", t).json(&json!({}))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("42501")),
        "no insert grant on orgs"
    );
    let (status, _, body) = send(rest(&w.app, Method::POST, "notes", t).json(&json!({}))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("23502")),
        "body has no default: {body}"
    );

    // Unknown column, bad JSON, unique violation, not-null violation.
    let (status, _, body) = send(rest(&w.app, Method::POST, "notes", t).json(&json!({"nope": 1}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST204")));
    assert_eq!(
        body["message"],
        "Could not find the 'nope' column of 'notes' in the schema cache"
    );
    let (status, _, body) = send(
        rest(&w.app, Method::POST, "notes", t)
            .header("content-type", "application/json")
            .body("{not json"),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST102")));
    let (status, _, body) = send(rest(&w.app, Method::POST, "notes", t).json(&json!({"id": 1000, "body": "x"}))).await;
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = send(rest(&w.app, Method::POST, "notes", t).json(&json!({"id": 1000, "body": "x"}))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("23505")));
    let (status, _, body) = send(rest(&w.app, Method::POST, "notes", t).json(&json!({"body": null}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("23502")));
}

#[tokio::test]
async fn upsert_merge_and_ignore_duplicates() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let (status, _, _) =
        send(rest(&w.app, Method::POST, "notes", t).json(&json!([{"id": 1, "body": "one"}, {"id": 2, "body": "two"}])))
            .await;
    assert_eq!(status, 201);
    // merge-duplicates on the primary key
    let (status, headers, body) = send(
        rest(&w.app, Method::POST, "notes?select=id,body", t)
            .header("prefer", "resolution=merge-duplicates,return=representation")
            .json(&json!([{"id": 1, "body": "uno"}, {"id": 3, "body": "tres"}])),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!([{"id": 1, "body": "uno"}, {"id": 3, "body": "tres"}]));
    assert_eq!(
        header(&headers, "preference-applied"),
        "resolution=merge-duplicates, return=representation"
    );
    // ignore-duplicates
    let (status, _, body) = send(
        rest(&w.app, Method::POST, "notes?select=id,body", t)
            .header("prefer", "resolution=ignore-duplicates,return=representation")
            .json(&json!([{"id": 2, "body": "dos"}, {"id": 4, "body": "cuatro"}])),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body, json!([{"id": 4, "body": "cuatro"}]));
    let (_, _, body) = get(&w.app, "notes?select=body&order=id", t).await;
    assert_eq!(
        body,
        json!([{"body": "uno"}, {"body": "two"}, {"body": "tres"}, {"body": "cuatro"}])
    );
    // on_conflict on another unique key
    let owner = w.app.connect_as("postgres").await;
    owner
        .batch_execute("create unique index notes_body_key on public.notes (body)")
        .await
        .unwrap();
    let (status, _, body) = send(
        rest(&w.app, Method::POST, "notes?on_conflict=body&select=id,body", t)
            .header("prefer", "resolution=merge-duplicates,return=representation")
            .json(&json!({"body": "two"})),
    )
    .await;
    // Only updated, nothing inserted: PostgREST answers 200 (201 needs at least one new row).
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!([{"id": 2, "body": "two"}]));
    let (status, _, body) = send(
        rest(&w.app, Method::POST, "notes?on_conflict=nope", t)
            .header("prefer", "resolution=merge-duplicates")
            .json(&json!({"body": "x"})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST204")));
}

#[tokio::test]
async fn update_and_delete() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    // PATCH with a filter: 204 by default
    let (status, headers, _) =
        send(rest(&w.app, Method::PATCH, "items?title=eq.alpha", t).json(&json!({"score": 11}))).await;
    assert_eq!(status, 204);
    assert_eq!(header(&headers, "content-range"), "0-0/*");
    // representation
    let (status, _, body) = send(
        rest(&w.app, Method::PATCH, "items?score=lt.30&select=title,score", t)
            .header("prefer", "return=representation")
            .json(&json!({"score": 30})),
    )
    .await;
    assert_eq!(status, 200);
    let mut got = titles(&body);
    got.sort();
    assert_eq!(got, ["alpha", "beta"]);
    // singular update that matches 2 rows: 406 and nothing changes
    let (status, _, body) = send(
        rest(&w.app, Method::PATCH, "items?score=eq.30", t)
            .header("accept", "application/vnd.pgrst.object+json")
            .header("prefer", "return=representation")
            .json(&json!({"score": 31})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (406, Some("PGRST116")));
    let (_, _, body) = get(&w.app, "items?score=eq.30&select=title", t).await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    // max-affected with handling=strict: too many rows → 400 and nothing changes
    let (status, _, body) =
        send(rest(&w.app, Method::DELETE, "items?score=eq.30", t).header("prefer", "handling=strict, max-affected=1"))
            .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST124")));
    let (_, _, body) = get(&w.app, "items?score=eq.30&select=title", t).await;
    assert_eq!(body.as_array().unwrap().len(), 2);
    let (status, headers, _) = send(
        rest(&w.app, Method::PATCH, "items?score=eq.30", t)
            .header("prefer", "handling=strict,max-affected=2")
            .json(&json!({"score": 30})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        header(&headers, "preference-applied"),
        "handling=strict, max-affected=2"
    );
    // no filter: refused
    for method in [Method::PATCH, Method::DELETE] {
        let (status, _, body) = send(rest(&w.app, method, "items", t).json(&json!({"score": 0}))).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["code"], "21000");
    }
    // unknown column in PATCH
    let (status, _, body) = send(rest(&w.app, Method::PATCH, "items?id=eq.1", t).json(&json!({"nope": 1}))).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST204")));
    // DELETE with representation and count
    let (status, headers, body) = send(
        rest(&w.app, Method::DELETE, "items?title=eq.gamma&select=title", t)
            .header("prefer", "return=representation,count=exact"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([{"title": "gamma"}]));
    assert_eq!(header(&headers, "content-range"), "0-0/1");
    let (status, _, _) = send(rest(&w.app, Method::DELETE, "items?title=eq.beta", t)).await;
    assert_eq!(status, 204);
    let (_, _, body) = get(&w.app, "items?select=title&order=id", t).await;
    assert_eq!(titles(&body), ["alpha", "Delta, \"quoted\""]);
    // profiles: only the granted columns may change
    let (status, _, body) = send(
        rest(
            &w.app,
            Method::PATCH,
            &format!("profiles?id=eq.{}&select=full_name", w.alice.id),
            t,
        )
        .header("prefer", "return=representation")
        .json(&json!({"full_name": "Alice"})),
    )
    .await;
    assert_eq!((status, body), (200, json!([{"full_name": "Alice"}])));
    let (status, _, body) = send(
        rest(&w.app, Method::PATCH, &format!("profiles?id=eq.{}", w.alice.id), t).json(&json!({"email": "x@y.z"})),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("42501")));
}
