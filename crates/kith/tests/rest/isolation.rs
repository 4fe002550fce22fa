//! Tenant isolation through the data API: a member of org A can neither see nor change org B's rows,
//! whatever filters, embeddings, logic trees or functions it tries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fixtures::{get, header, rest, send, world};
use reqwest::Method;
use serde_json::json;

async fn b_rows(w: &crate::fixtures::World) -> Vec<(String, Option<i32>)> {
    let owner = w.app.connect_as("postgres").await;
    owner
        .query(
            "select title, score from public.items where org_id = $1 order by id",
            &[&w.org_b],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test]
async fn reads_never_reach_another_tenant() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let b = w.org_b;
    let queries = [
        format!("items?org_id=eq.{b}"),
        "items?title=like.secret*".to_owned(),
        format!("items?or=(org_id.eq.{b},title.like.secret*)"),
        format!("items?or=(org_id.neq.{b},org_id.eq.{b})&title=like.secret*"),
        format!("items?org_id=in.({},{b})&score=gte.90", w.org_a),
        "items?score=gt.90".to_owned(),
        format!("orgs?id=eq.{b}"),
        format!("orgs?select=*,items(*)&id=eq.{b}"),
        "orgs?select=name,items!inner(title)&items.title=like.secret*".to_owned(),
        format!("members?user_id=eq.{}", w.bob.id),
        format!("members?select=*,orgs(*)&org_id=eq.{b}"),
        "rpc/items_with?q=secret".to_owned(),
        format!("rpc/my_orgs?org_id=eq.{b}"),
        format!("profiles?id=eq.{}", w.bob.id),
    ];
    for query in &queries {
        let (status, _, body) = get(&w.app, query, t).await;
        assert_eq!(status, 200, "{query}: {body}");
        assert_eq!(body, json!([]), "{query}");
    }
    // Embedding from A's side never shows B's children.
    let (_, _, body) = get(&w.app, "orgs?select=name,items(title)", t).await;
    let text = body.to_string();
    assert!(!text.contains("secret"), "{text}");
    assert!(!text.contains("Org B"), "{text}");
}

#[tokio::test]
async fn writes_never_reach_another_tenant() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let b = w.org_b;
    let before = b_rows(&w).await;
    for query in [
        format!("items?org_id=eq.{b}"),
        "items?title=like.secret*".to_owned(),
        format!("items?or=(org_id.eq.{b},score.gt.90)"),
        "items?id=gt.0&score=gte.98".to_owned(),
    ] {
        let (status, headers, body) = send(
            rest(&w.app, Method::PATCH, &query, t)
                .header("prefer", "count=exact")
                .json(&json!({"title": "pwned", "org_id": w.org_a})),
        )
        .await;
        assert_eq!(status, 204, "{query}: {body}");
        assert_eq!(header(&headers, "content-range"), "*/0", "{query}");
        let (status, headers, _) = send(rest(&w.app, Method::DELETE, &query, t).header("prefer", "count=exact")).await;
        assert_eq!(status, 204);
        assert_eq!(header(&headers, "content-range"), "*/0", "{query}");
    }
    // Inserting into B: refused by the policy's WITH CHECK (42501 → 403 for a signed-in user).
    let (status, _, body) =
        send(rest(&w.app, Method::POST, "items", t).json(&json!({"org_id": b, "title": "planted"}))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("42501")));
    // Upsert over B's row ids: the conflicting rows are invisible, so the insert collides or is refused.
    let owner = w.app.connect_as("postgres").await;
    let b_id: i64 = owner
        .query_one(
            "select id from public.items where org_id = $1 order by id limit 1",
            &[&b],
        )
        .await
        .unwrap()
        .get(0);
    let (status, _, _) = send(
        rest(&w.app, Method::POST, "items", t)
            .header("prefer", "resolution=merge-duplicates")
            .json(&json!({"id": b_id, "org_id": w.org_a, "title": "takeover"})),
    )
    .await;
    assert!((400..500).contains(&status), "{status}");
    // Moving A's own row into B: refused.
    let (status, _, body) =
        send(rest(&w.app, Method::PATCH, "items?title=eq.alpha", t).json(&json!({"org_id": b}))).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("42501")));
    // A note owned by Bob cannot be planted.
    let (status, _, _) =
        send(rest(&w.app, Method::POST, "notes", t).json(&json!({"owner_id": w.bob.id, "body": "x"}))).await;
    assert_eq!(status, 403);
    // Anonymous writes: no grant → 401.
    let (status, _, _) =
        send(rest(&w.app, Method::POST, "items", None).json(&json!({"org_id": b, "title": "anon"}))).await;
    assert_eq!(status, 401);
    assert_eq!(b_rows(&w).await, before);
}

/// The production bug, word for word: a server-side client with the caller's token reads the caller's org;
/// the same query with only the anon key answers `[]`, not an error.
#[tokio::test]
async fn seed_case_user_organizations() {
    let w = world().await;
    let owner = w.app.connect_as("postgres").await;
    owner
        .batch_execute(
            // The CRM migrations create this table; before they land, the test makes its own.
            "do $$ begin
               if to_regclass('public.user_organizations') is null then
                 create table public.user_organizations (
                   user_id uuid not null, org_id uuid not null references public.orgs(id),
                   role text not null default 'member', primary key (user_id, org_id));
                 alter table public.user_organizations enable row level security;
                 alter table public.user_organizations force row level security;
                 create policy uo_own on public.user_organizations for select to authenticated
                   using ((select auth.uid()) = user_id);
               end if;
             end $$;
             grant select on public.user_organizations to anon, authenticated;
             notify pgrst, 'reload schema';",
        )
        .await
        .unwrap();
    // Replica mode skips foreign-key triggers: the rows fit whichever organizations table the key points to.
    owner
        .batch_execute("set session_replication_role = replica")
        .await
        .unwrap();
    owner
        .execute(
            "insert into public.user_organizations (user_id, org_id, role) values ($1, $2, 'owner'), ($3, $4, 'owner')",
            &[&w.alice.id, &w.org_a, &w.bob.id, &w.org_b],
        )
        .await
        .unwrap();
    owner.batch_execute("reset session_replication_role").await.unwrap();
    let path = format!("user_organizations?select=org_id&user_id=eq.{}", w.alice.id);
    let mut found = json!(null);
    for _ in 0..50 {
        let (status, _, body) = get(&w.app, &path, Some(&w.alice.token)).await;
        if status == 200 {
            found = body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(found, json!([{"org_id": w.org_a}]));
    let (status, _, body) = get(&w.app, &path, None).await;
    assert_eq!((status, body), (200, json!([])));
    // Bob asking about Alice: nothing.
    let (status, _, body) = get(&w.app, &path, Some(&w.bob.token)).await;
    assert_eq!((status, body), (200, json!([])));
}
