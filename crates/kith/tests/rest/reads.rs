//! Reads: select, filters, order, paging, counts, singular responses, embedding, CSV, RPC, errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::fixtures::{get, header, rest, send, titles, world};
use crate::helpers::sign;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn select_columns_aliases_casts_and_json_paths() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let (status, headers, body) = get(
        &w.app,
        "items?select=name:title,score::text,kind:data->>kind,n:data->n&title=eq.alpha",
        t,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    assert_eq!(body, json!([{"name": "alpha", "score": "10", "kind": "x", "n": 1}]));
    assert_eq!(header(&headers, "content-range"), "0-0/*");

    let (status, _, body) = get(&w.app, "items?select=*&order=id&limit=1", t).await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["title"], "alpha");
    assert_eq!(body[0]["tags"], json!(["red", "blue"]));
}

#[tokio::test]
async fn every_filter_operator() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let cases: &[(&str, &[&str])] = &[
        ("title=eq.alpha", &["alpha"]),
        ("title=neq.alpha", &["beta", "gamma", "Delta, \"quoted\""]),
        ("score=gt.10", &["beta", "Delta, \"quoted\""]),
        ("score=gte.20", &["beta", "Delta, \"quoted\""]),
        ("score=lt.20", &["alpha"]),
        ("score=lte.20", &["alpha", "beta"]),
        ("title=like.*et*", &["beta"]),
        ("title=ilike.D*", &["Delta, \"quoted\""]),
        ("title=match.^[ab]", &["alpha", "beta"]),
        ("title=imatch.^D", &["Delta, \"quoted\""]),
        ("title=in.(alpha,gamma)", &["alpha", "gamma"]),
        ("title=in.(\"Delta, \\\"quoted\\\"\")", &["Delta, \"quoted\""]),
        ("score=is.null", &["gamma"]),
        ("score=not.is.null", &["alpha", "beta", "Delta, \"quoted\""]),
        ("score=isdistinct.10", &["beta", "gamma", "Delta, \"quoted\""]),
        ("tags=cs.{blue}", &["alpha", "beta"]),
        (
            "tags=cd.{red,blue,green}",
            &["alpha", "beta", "gamma", "Delta, \"quoted\""],
        ),
        ("tags=ov.{green,red}", &["alpha", "Delta, \"quoted\""]),
        ("data=cs.{\"kind\":\"x\"}", &["alpha", "gamma"]),
        ("data->>kind=eq.y", &["beta"]),
        ("data->n=gt.1", &["beta", "gamma"]),
        ("body=fts(simple).fox", &["alpha", "Delta, \"quoted\""]),
        ("body=fts(english).dogs", &["beta", "Delta, \"quoted\""]),
        ("body=plfts(english).quick brown", &["alpha"]),
        ("body=phfts(english).lazy dogs", &["beta"]),
        ("body=wfts(english).fox -quick", &["Delta, \"quoted\""]),
        ("title=not.eq.alpha&score=not.is.null", &["beta", "Delta, \"quoted\""]),
        ("title=like(any).{a*,b*}", &["alpha", "beta"]),
        ("title=like(all).{*a*,*l*}", &["alpha", "Delta, \"quoted\""]),
        ("score=eq(any).{10,40}", &["alpha", "Delta, \"quoted\""]),
        ("or=(title.eq.alpha,score.gt.30)", &["alpha", "Delta, \"quoted\""]),
        (
            "or=(title.eq.gamma,and(score.gte.10,score.lte.20))",
            &["alpha", "beta", "gamma"],
        ),
        (
            "and=(score.gte.10,not.or(title.eq.alpha,title.eq.beta))",
            &["Delta, \"quoted\""],
        ),
        (
            "or=(tags.cs.{green},title.in.(alpha,beta))",
            &["alpha", "beta", "Delta, \"quoted\""],
        ),
        (
            "or=(title.eq.\"Delta, \\\"quoted\\\"\",title.eq.gamma)",
            &["gamma", "Delta, \"quoted\""],
        ),
    ];
    for (filter, expected) in cases {
        let (status, _, body) = get(&w.app, &format!("items?select=title&order=id&{filter}"), t).await;
        assert_eq!(status, 200, "{filter}: {body}");
        let mut got = titles(&body);
        let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{filter}");
    }
}

#[tokio::test]
async fn order_limit_offset_range_and_counts() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let (_, _, body) = get(&w.app, "items?select=title&order=score.desc.nullslast", t).await;
    assert_eq!(titles(&body), ["Delta, \"quoted\"", "beta", "alpha", "gamma"]);
    let (_, _, body) = get(&w.app, "items?select=title&order=score.asc.nullsfirst", t).await;
    assert_eq!(titles(&body), ["gamma", "alpha", "beta", "Delta, \"quoted\""]);
    let (_, _, body) = get(
        &w.app,
        "items?select=title&order=data->>kind.desc.nullslast,title.asc",
        t,
    )
    .await;
    assert_eq!(titles(&body)[0], "beta");

    // supabase-js .range(1, 2) with count: exact.
    let (status, headers, body) = send(
        rest(&w.app, Method::GET, "items?select=title&order=id&offset=1&limit=2", t).header("prefer", "count=exact"),
    )
    .await;
    assert_eq!(status, 206);
    assert_eq!(titles(&body), ["beta", "gamma"]);
    assert_eq!(header(&headers, "content-range"), "1-2/4");
    assert_eq!(header(&headers, "preference-applied"), "count=exact");

    // The whole set with count: 200.
    let (status, headers, _) =
        send(rest(&w.app, Method::GET, "items?select=id", t).header("prefer", "count=exact")).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-range"), "0-3/4");

    // Range header.
    let (status, headers, body) =
        send(rest(&w.app, Method::GET, "items?select=title&order=id", t).header("range", "0-1")).await;
    assert_eq!(status, 200);
    assert_eq!(titles(&body), ["alpha", "beta"]);
    assert_eq!(header(&headers, "content-range"), "0-1/*");

    // Planned and estimated counts: a number from the planner (estimated: exact below max-rows).
    let (status, headers, _) = send(
        rest(&w.app, Method::GET, "items?select=id,k:data->>kind&score=gt.0", t).header("prefer", "count=planned"),
    )
    .await;
    assert!(status == 200 || status == 206, "{status}");
    let total = header(&headers, "content-range").rsplit('/').next().unwrap().to_owned();
    assert!(total.parse::<i64>().is_ok(), "{total}");
    assert_eq!(header(&headers, "preference-applied"), "count=planned");
    let (_, headers, _) =
        send(rest(&w.app, Method::GET, "items?select=id", t).header("prefer", "count=estimated")).await;
    assert_eq!(header(&headers, "content-range"), "0-3/4");

    // Offset past the end with a count: 416.
    let (status, _, body) = send(rest(&w.app, Method::GET, "items?offset=10", t).header("prefer", "count=exact")).await;
    assert_eq!(status, 416);
    assert_eq!(body["code"], "PGRST103");
    assert_eq!(
        body["details"],
        "An offset of 10 was requested, but there are only 4 rows."
    );

    // HEAD with count: no body, the count in Content-Range.
    let response = rest(&w.app, Method::HEAD, "items?select=id", t)
        .header("prefer", "count=exact")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(header(response.headers(), "content-range"), "0-3/4");
    assert!(response.text().await.unwrap().is_empty());

    // Anonymous: nothing visible, an empty page rather than an error... but no grant on items for anon: 401.
    let (status, headers, body) = get(&w.app, "items", None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "42501");
    assert_eq!(header(&headers, "www-authenticate"), "Bearer");
}

#[tokio::test]
async fn singular_responses() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let object = "application/vnd.pgrst.object+json";
    let (status, headers, body) =
        send(rest(&w.app, Method::GET, "items?select=title&title=eq.alpha", t).header("accept", object)).await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"title": "alpha"}));
    assert!(header(&headers, "content-type").starts_with(object));
    for (query, rows) in [("title=eq.nothing", 0), ("score=gte.10", 3)] {
        let (status, _, body) =
            send(rest(&w.app, Method::GET, &format!("items?{query}"), t).header("accept", object)).await;
        assert_eq!(status, 406);
        assert_eq!(body["code"], "PGRST116");
        assert_eq!(body["message"], "JSON object requested, multiple (or no) rows returned");
        assert_eq!(body["details"], format!("The result contains {rows} rows"));
    }
    let (status, _, body) = send(rest(&w.app, Method::GET, "items", t).header("accept", "image/png")).await;
    assert_eq!(status, 406);
    assert_eq!(body["code"], "PGRST107");
}

#[tokio::test]
async fn embedding_through_foreign_keys() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    // many-to-one as an object
    let (status, _, body) = get(&w.app, "items?select=title,orgs(name)&title=eq.alpha", t).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!([{"title": "alpha", "orgs": {"name": "Org A"}}]));
    // one-to-many as an array, with embedded filter, order and limit
    let (status, _, body) = get(
        &w.app,
        "orgs?select=name,items(title)&items.score=gte.10&items.order=score.desc&items.limit=2",
        t,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!([{"name": "Org A", "items": [{"title": "Delta, \"quoted\""}, {"title": "beta"}]}])
    );
    // alias, hint and nested
    let (status, _, body) = get(
        &w.app,
        "members?select=role,org:orgs!members_org_id_fkey(name,items(count:id))&limit=1",
        t,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["org"]["name"], "Org A");
    assert_eq!(body[0]["org"]["items"].as_array().unwrap().len(), 4);
    // !inner filters the parents
    let (_, _, body) = get(&w.app, "orgs?select=name,items!inner(title)&items.title=eq.nothing", t).await;
    assert_eq!(body, json!([]));
    let (_, _, body) = get(&w.app, "orgs?select=name,items(title)&items.title=eq.nothing", t).await;
    assert_eq!(body, json!([{"name": "Org A", "items": []}]));
    // rel=is.null / not.is.null: anti- and semi-joins on an embed
    let (status, _, body) = get(
        &w.app,
        "orgs?select=name,items(title)&items.title=eq.nothing&items=is.null",
        t,
    )
    .await;
    assert_eq!((status, body), (200, json!([{"name": "Org A", "items": []}])));
    let (_, _, body) = get(
        &w.app,
        "orgs?select=name,items(title)&items.title=eq.nothing&items=not.is.null",
        t,
    )
    .await;
    assert_eq!(body, json!([]));
    let (status, _, body) = get(&w.app, "orgs?select=name,items(title)&items=eq.x", t).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST120")));
    // unknown relationship, filter on a non-embedded resource
    let (status, _, body) = get(&w.app, "items?select=title,notes(*)", t).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "PGRST200");
    let (status, _, body) = get(&w.app, "items?select=title&orgs.name=eq.x", t).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "PGRST108");
}

#[tokio::test]
async fn ambiguous_embedding_is_300() {
    let w = world().await;
    let owner = w.app.connect_as("postgres").await;
    owner
        .batch_execute(
            "create table public.transfers (id int primary key,
               from_org uuid references public.orgs(id), to_org uuid references public.orgs(id));
             grant select on public.transfers to authenticated;
             notify pgrst, 'reload schema';",
        )
        .await
        .unwrap();
    let t = Some(w.alice.token.as_str());
    let mut body = Value::Null;
    for _ in 0..50 {
        let (status, _, b) = get(&w.app, "transfers?select=id,orgs(name)", t).await;
        body = b;
        if status == 300 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(body["code"], "PGRST201", "{body}");
    assert_eq!(body["details"].as_array().unwrap().len(), 2);
    assert!(body["hint"].as_str().unwrap().contains("orgs!transfers_from_org_fkey"));
    let (status, _, body) = get(&w.app, "transfers?select=id,orgs!transfers_to_org_fkey(name)", t).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn csv_and_openapi() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let (status, headers, body) =
        send(rest(&w.app, Method::GET, "items?select=title,score&order=id", t).header("accept", "text/csv")).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("text/csv"));
    assert_eq!(
        body,
        Value::String("title,score\nalpha,10\nbeta,20\ngamma,\n\"Delta, \"\"quoted\"\"\",40".into())
    );
    let (status, headers, body) = get(&w.app, "", t).await;
    assert_eq!(status, 200);
    assert!(header(&headers, "content-type").starts_with("application/openapi+json"));
    assert_eq!(body["swagger"], "2.0");
    assert!(body["paths"]["/items"].is_object());
    assert!(body["definitions"]["items"]["properties"]["title"].is_object());
    assert!(body["paths"]["/rpc/add_numbers"].is_object());
    // anon may read no table here
    let (_, _, body) = get(&w.app, "", None).await;
    assert!(body["paths"]["/items"].is_null());
}

#[tokio::test]
async fn rpc_get_and_post() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let (status, _, body) = get(&w.app, "rpc/add_numbers?a=1&b=2", t).await;
    assert_eq!((status, body), (200, json!(3)));
    let (status, _, body) = get(&w.app, "rpc/add_numbers?a=1", t).await;
    assert_eq!((status, body), (200, json!(11)));
    let (status, _, body) = send(rest(&w.app, Method::POST, "rpc/add_numbers", t).json(&json!({"a": 5, "b": 6}))).await;
    assert_eq!((status, body), (200, json!(11)));
    let (status, _, body) = get(&w.app, "rpc/items_with?q=a&select=title&order=title&score=gt.15", t).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(titles(&body), ["Delta, \"quoted\"", "beta"]);
    let (status, _, body) = send(rest(&w.app, Method::POST, "rpc/my_orgs", t).json(&json!({}))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!([{"org_id": w.org_a, "name": "Org A"}]));
    let (status, _, body) = send(rest(&w.app, Method::POST, "rpc/echo_json", t).json(&json!({"x": [1, 2]}))).await;
    assert_eq!((status, body), (200, json!({"x": [1, 2]})));
    let (status, _, body) = get(&w.app, "rpc/nope?x=1", t).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "PGRST202");
    let (status, _, body) = get(&w.app, "rpc/add_numbers?c=1", t).await;
    assert_eq!(status, 404, "{body}");
    let (status, _, body) = send(rest(&w.app, Method::PATCH, "rpc/add_numbers", t)).await;
    assert_eq!(status, 405);
    assert_eq!(body["code"], "PGRST101");

    // The transaction carries the caller, method, path and headers (no cookies) as PostgREST sets them.
    let (status, _, body) = send(
        rest(&w.app, Method::GET, "rpc/whoami", t)
            .header("x-client-info", "supabase-js/2")
            .header("cookie", "sb=secret"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"sub": w.alice.id, "role": "authenticated", "method": "GET", "path": "/rpc/whoami",
               "client": "supabase-js/2", "cookie": null, "authorization": null, "timeout": "8s"})
    );

    // A writing function through GET runs read-only: 405 (25006).
    let (status, _, body) = get(&w.app, "rpc/touch_note?note_id=1", t).await;
    assert_eq!(status, 405, "{body}");
    let (status, _, body) = send(
        rest(&w.app, Method::POST, "notes?select=id", t)
            .header("prefer", "return=representation")
            .json(&json!({"body": "note"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let note_id = body[0]["id"].clone();
    let (status, _, _) = send(rest(&w.app, Method::POST, "rpc/touch_note", t).json(&json!({"note_id": note_id}))).await;
    assert_eq!(status, 204);
    let (_, _, body) = get(&w.app, &format!("notes?select=body&id=eq.{note_id}"), t).await;
    assert_eq!(body, json!([{"body": "note!"}]));
}

#[tokio::test]
async fn errors_have_postgrest_shape() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let (status, _, body) = get(&w.app, "itemz", t).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "PGRST205");
    assert_eq!(
        body["message"],
        "Could not find the table 'public.itemz' in the schema cache"
    );
    assert_eq!(body["hint"], "Perhaps you meant the table 'public.items'");
    let (status, _, body) = get(&w.app, "items?select=nope", t).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("42703")));
    let (status, _, body) = get(&w.app, "items?nope=eq.1", t).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("42703")));
    let (status, _, body) = get(&w.app, "items?title=xx.1", t).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("PGRST100")));
    assert!(body.get("details").is_some() && body.get("hint").is_some());
    let (status, _, body) = get(&w.app, "items?id=eq.notanumber", t).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("22P02")));
    let (status, _, body) = send(rest(&w.app, Method::GET, "items", t).header("accept-profile", "auth")).await;
    assert_eq!((status, body["code"].as_str()), (406, Some("PGRST106")));
    let (status, _, body) = get(&w.app, "a/b/c", t).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("PGRST125")));

    // JWT errors
    let expired = sign(&w.app.user_claims(w.alice.id, &w.alice.email, -3600));
    let (status, headers, body) = get(&w.app, "items", Some(&expired)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("PGRST303")));
    assert!(header(&headers, "www-authenticate").starts_with("Bearer error=\"invalid_token\""));
    let (status, _, body) = get(&w.app, "items", Some("not-a-jwt")).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("PGRST301")));
    let forged = crate::helpers::sign_with(
        &w.app.user_claims(w.alice.id, &w.alice.email, 3600),
        b"another-secret-0123456789-0123456789",
    );
    let (status, _, body) = get(&w.app, "items", Some(&forged)).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("PGRST301")));
}

#[tokio::test]
async fn schema_cache_reloads_on_notify() {
    let w = world().await;
    let t = Some(w.alice.token.as_str());
    let (status, _, _) = get(&w.app, "late", t).await;
    assert_eq!(status, 404);
    let owner = w.app.connect_as("postgres").await;
    owner
        .batch_execute(
            "create table public.late (id int primary key); insert into public.late values (7);
             grant select on public.late to authenticated; notify pgrst, 'reload schema';",
        )
        .await
        .unwrap();
    let mut last = 0;
    for _ in 0..50 {
        let (status, _, body) = get(&w.app, "late", t).await;
        last = status;
        if status == 200 {
            assert_eq!(body, json!([{"id": 7}]));
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last, 200);
}

#[tokio::test]
async fn many_to_many_embedding_through_a_junction() {
    let w = world().await;
    let owner = w.app.connect_as("postgres").await;
    owner
        .batch_execute(
            "create table public.labels (id int primary key, name text not null);
             create table public.item_labels (item_id bigint references public.items(id),
               label_id int references public.labels(id), primary key (item_id, label_id));
             insert into public.labels values (1, 'hot'), (2, 'cold');
             insert into public.item_labels select id, 1 from public.items where title in ('alpha', 'secret-b1');
             insert into public.item_labels select id, 2 from public.items where title = 'alpha';
             grant select on public.labels, public.item_labels to authenticated;
             notify pgrst, 'reload schema';",
        )
        .await
        .unwrap();
    let t = Some(w.alice.token.as_str());
    let mut body = Value::Null;
    for _ in 0..50 {
        let (status, _, b) = get(
            &w.app,
            "items?select=title,labels(name)&title=eq.alpha&labels.order=id",
            t,
        )
        .await;
        body = b;
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        body,
        json!([{"title": "alpha", "labels": [{"name": "hot"}, {"name": "cold"}]}])
    );
    // From the other side, RLS on items still hides org B's item.
    let (status, _, body) = get(&w.app, "labels?select=name,items(title)&id=eq.1", t).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!([{"name": "hot", "items": [{"title": "alpha"}]}]));
}
