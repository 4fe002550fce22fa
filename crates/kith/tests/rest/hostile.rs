//! Hostile input: classic injection strings in values, identifiers, casts, JSON paths and `order`, and a
//! pseudo-random sweep of malformed query strings. Every answer is 2xx or 4xx, never 5xx, and the data is
//! unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fixtures::{rest, send, world};
use reqwest::Method;

const PAYLOADS: &[&str] = &[
    "'; drop table public.items; --",
    "\"; drop table public.items; --",
    "1 or 1=1",
    "1); delete from public.items; --",
    "$1",
    "$$; drop table public.items; $$",
    "\\",
    "\u{0}",
    "%00",
    "' union select * from auth.users --",
    "x\" or \"1\"=\"1",
    "pg_sleep(10)",
    "(select 1)",
    "{\"a\":1}'); drop table x; --",
    "*/ drop table items /*",
];

async fn snapshot(w: &crate::fixtures::World) -> Vec<String> {
    let owner = w.app.connect_as("postgres").await;
    owner
        .query("select t::text from public.items t order by id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn injection_strings_change_nothing() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let before = snapshot(&w).await;
    for payload in PAYLOADS {
        let p = encode(payload);
        let queries = [
            format!("items?title=eq.{p}"),
            format!("items?id=eq.{p}"),
            format!("items?title=in.({p},x)"),
            format!("items?or=(title.eq.{p},title.eq.{p})"),
            format!("items?{p}=eq.1"),
            format!("items?select={p}"),
            format!("items?select=title::{p}"),
            format!("items?select=data->{p}"),
            format!("items?data->>{p}=eq.1"),
            format!("items?order={p}"),
            format!("items?order=title.{p}"),
            format!("items?title=fts({p}).x"),
            format!("items?limit={p}"),
            format!("items?select=*,{p}(*)"),
            p.clone(),
            format!("rpc/{p}?a=1"),
            format!("rpc/add_numbers?a={p}"),
        ];
        for query in &queries {
            for method in [Method::GET, Method::DELETE] {
                let (status, _, body) = send(rest(&w.app, method.clone(), query, t)).await;
                assert!(status < 500, "{method} {query}: {status} {body}");
            }
            let (status, _, body) =
                send(rest(&w.app, Method::PATCH, query, t).json(&serde_json::json!({"title": payload}))).await;
            assert!(status < 500, "PATCH {query}: {status} {body}");
        }
        // Payload values are data, even in keys of a body.
        let (status, _, body) =
            send(rest(&w.app, Method::POST, "notes", t).json(&serde_json::json!({ *payload: 1 }))).await;
        assert_eq!(status, 400, "{payload}: {body}");
        // Headers too.
        let (status, _, body) = send(
            rest(&w.app, Method::GET, "items", t)
                .header("prefer", format!("count={}", payload.replace('\0', "")))
                .header("accept-profile", payload.replace('\0', "")),
        )
        .await;
        assert!(status < 500, "{status} {body}");
    }
    assert_eq!(snapshot(&w).await, before);
}

/// A deterministic pseudo-random sweep over grammar fragments: never a 5xx.
#[tokio::test]
async fn malformed_query_strings_never_500() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let fragments = [
        "select=", "title", "id", "data", "->", "->>", "::", "text", "(", ")", ",", ".", "eq", "not", "in", "is",
        "null", "or=", "and=", "order=", "limit=", "offset=", "*", "!inner", "orgs", "items", "\"", "{", "}", "&", "=",
        "1", "-1", "like", "cs", "fts", "any", "all", ":", "alias", "%22", "%00", "%", "'", ";",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..300 {
        let length = 1 + (next() % 12) as usize;
        let query: String = (0..length)
            .map(|_| fragments[(next() % fragments.len() as u64) as usize])
            .collect();
        let (status, _, body) = send(rest(&w.app, Method::GET, &format!("items?{query}"), t)).await;
        assert!(status < 500, "items?{query}: {status} {body}");
    }
}
