//! Snapshot tests of the SQL the builder emits for a corpus of PostgREST requests: filters, logic trees, JSON
//! paths, embeds (to-one, to-many, many-to-many, `!inner`, filtered and paged), order, range, counts, CSV,
//! inserts (grouped, upserts, `Location`), updates, deletes and every kind of RPC. Each snapshot is the
//! statement and its bound values, so a change to generated SQL shows up in review as a diff of
//! `src/sql/snapshots/`. Refusals are snapshotted as their PostgREST code and message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::error::RestResult;
use crate::plan;
use crate::request::ApiRequest;
use crate::schema::{Arg, Column, ForeignKey, Function, Returns, SchemaCache, Table};
use crate::sql::{self, Statement};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};

fn column(name: &str, type_sql: &str) -> Column {
    Column {
        name: name.into(),
        type_sql: type_sql.into(),
        not_null: false,
        default_sql: None,
        generated: false,
    }
}

fn table(name: &str, key: &[&str], columns: Vec<Column>) -> Table {
    let key: Vec<String> = key.iter().map(|k| (*k).to_owned()).collect();
    Table {
        schema: "public".into(),
        name: name.into(),
        kind: 'r',
        columns,
        unique_keys: vec![key.clone()],
        primary_key: key,
        readable_by: vec![],
        comment: None,
        computed: vec![],
    }
}

fn fk(name: &str, from: &str, from_column: &str, to: &str) -> ForeignKey {
    ForeignKey {
        name: name.into(),
        from: ("public".into(), from.into()),
        from_columns: vec![from_column.into()],
        to: ("public".into(), to.into()),
        to_columns: vec!["id".into()],
    }
}

fn function(
    name: &str,
    args: &[(&str, &str, bool)],
    returns_set: bool,
    returns: Returns,
    volatility: char,
) -> Function {
    Function {
        schema: "public".into(),
        name: name.into(),
        args: args
            .iter()
            .map(|(name, type_sql, has_default)| Arg {
                name: (*name).into(),
                type_sql: (*type_sql).into(),
                has_default: *has_default,
            })
            .collect(),
        returns_set,
        returns,
        volatility,
    }
}

/// orgs ←(org_id) items ←(item_id) item_tags (item_id, tag_id) →(tag_id) tags; items.parent_id → items;
/// transfers (from_org, to_org) → orgs twice; `log` has no primary key.
fn cache() -> SchemaCache {
    let mut cache = SchemaCache::default();
    let item_columns = vec![
        column("id", "bigint"),
        column("org_id", "uuid"),
        column("parent_id", "bigint"),
        column("title", "text"),
        column("score", "integer"),
        column("tags", "text[]"),
        column("data", "jsonb"),
        column("search", "tsvector"),
    ];
    let mut items = table("items", &["id"], item_columns.clone());
    items.computed.push(crate::schema::ComputedField {
        name: "headline".into(),
        schema: "public".into(),
        type_sql: "text".into(),
    });
    let tables = [
        items,
        table("orgs", &["id"], vec![column("id", "uuid"), column("name", "text")]),
        table("tags", &["id"], vec![column("id", "bigint"), column("label", "text")]),
        table(
            "item_tags",
            &["item_id", "tag_id"],
            vec![column("item_id", "bigint"), column("tag_id", "bigint")],
        ),
        table(
            "transfers",
            &["id"],
            vec![
                column("id", "bigint"),
                column("from_org", "uuid"),
                column("to_org", "uuid"),
            ],
        ),
        table("log", &[], vec![column("at", "timestamptz"), column("line", "text")]),
    ];
    for t in tables {
        cache.tables.insert((t.schema.clone(), t.name.clone()), t);
    }
    cache.foreign_keys = vec![
        fk("items_org_id_fkey", "items", "org_id", "orgs"),
        fk("items_parent_id_fkey", "items", "parent_id", "items"),
        fk("transfers_from_org_fkey", "transfers", "from_org", "orgs"),
        fk("transfers_to_org_fkey", "transfers", "to_org", "orgs"),
        fk("item_tags_item_id_fkey", "item_tags", "item_id", "items"),
        fk("item_tags_tag_id_fkey", "item_tags", "tag_id", "tags"),
    ];
    let functions = [
        function(
            "add_numbers",
            &[("a", "integer", false), ("b", "integer", true)],
            false,
            Returns::Scalar,
            'i',
        ),
        function(
            "search_items",
            &[("q", "text", false)],
            true,
            Returns::Composite(item_columns.clone()),
            's',
        ),
        function("first_item", &[], false, Returns::Composite(item_columns), 's'),
        function("series", &[("n", "integer", false)], true, Returns::Scalar, 'i'),
        function("echo_json", &[("", "jsonb", false)], false, Returns::Scalar, 'i'),
        function("touch", &[("item_id", "bigint", false)], false, Returns::Void, 'v'),
    ];
    for f in functions {
        cache
            .functions
            .entry((f.schema.clone(), f.name.clone()))
            .or_default()
            .push(f);
    }
    cache
}

/// `key=value&…` with each key and value percent-encoded (the corpus is written unencoded; no `&` in values).
fn encode(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key: String = url::form_urlencoded::byte_serialize(key.as_bytes()).collect();
            let value: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Plans and builds the statement of `method /rest/v1/{path}` with these headers (`Name: value` lines).
fn build(
    cache: &SchemaCache,
    method: &Method,
    path: &str,
    header_lines: &str,
    body: &str,
) -> RestResult<Vec<Statement>> {
    let (target, query) = path.split_once('?').unwrap_or((path, ""));
    let uri: Uri = format!("/rest/v1/{target}?{}", encode(query)).parse().unwrap();
    let mut headers = HeaderMap::new();
    for line in header_lines.lines() {
        let (name, value) = line.split_once(": ").expect("a `Name: value` line");
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    let req = ApiRequest::read(
        &["public".to_owned()],
        method.clone(),
        &uri,
        &headers,
        Bytes::from(body.to_owned()),
    )?;
    if let Some(name) = target.strip_prefix("rpc/") {
        let plan = plan::call::call(&req, cache, name, 1000)?;
        return Ok(vec![sql::call(cache, &plan)?]);
    }
    let table = plan::table(cache, &req, target)?;
    let plan = match *method {
        Method::GET | Method::HEAD => {
            let plan = plan::read(&req, 1000)?;
            let mut statements = vec![sql::read(cache, &plan, table)?];
            if plan.wants_estimate(None, 1000) {
                statements.push(sql::estimate(cache, &plan, table)?);
            }
            return Ok(statements);
        }
        Method::POST => plan::mutate::insert(&req, table)?,
        Method::PATCH => plan::mutate::update(&req, table)?,
        _ => plan::mutate::delete(&req)?,
    };
    Ok(vec![
        sql::mutate(cache, &plan, table)?.expect("the corpus writes something"),
    ])
}

/// Each statement and its values; statements are separated by a blank line.
fn render(result: RestResult<Vec<Statement>>) -> String {
    match result {
        Ok(statements) => {
            let mut out = Vec::new();
            for statement in statements {
                let mut text = statement.sql;
                for (i, value) in statement.params.iter().enumerate() {
                    text.push_str(&format!("\n${} = {}", i + 1, value.as_deref().unwrap_or("NULL")));
                }
                out.push(text);
            }
            out.join("\n\n")
        }
        Err(err) => format!("{} {}: {}\n{}", err.status.as_u16(), err.code, err.message, err.details),
    }
}

/// (snapshot name, method, path and query, headers, body)
// One request a line, so that the corpus reads as a table.
#[rustfmt::skip]
const CORPUS: &[(&str, &str, &str, &str, &str)] = &[
    // Reads: filters and operators.
    ("read_all", "GET", "items", "", ""),
    ("read_columns_alias_cast", "GET", "items?select=id,label:title,score::text", "", ""),
    ("read_eq_neq_gt", "GET", "items?id=eq.1&title=neq.x&score=gt.3", "", ""),
    ("read_like_ilike_star", "GET", "items?title=like.*a*&select=id", "", ""),
    ("read_in_list", "GET", "items?id=in.(1,2,\"3,4\")", "", ""),
    ("read_is_null_not", "GET", "items?score=is.null&title=not.is.null", "", ""),
    ("read_quantified", "GET", "items?title=like(any).{a*,b*}&score=gt(all).{1,2}", "", ""),
    ("read_array_ops", "GET", "items?tags=cs.{a,b}&tags=ov.{c}", "", ""),
    ("read_fts", "GET", "items?search=fts(english).cat&title=wfts.dog", "", ""),
    ("read_json_path", "GET", "items?select=data->a->>b,data->0&data->>k=eq.v", "", ""),
    ("read_computed_field", "GET", "items?select=id,headline&headline=eq.x&order=headline", "", ""),
    ("read_isdistinct", "GET", "items?score=isdistinct.3", "", ""),
    // Logic trees.
    ("logic_or", "GET", "items?or=(score.gt.5,title.eq.x)", "", ""),
    ("logic_nested", "GET", "items?and=(id.gt.1,or(title.eq.\"a,b\",not.and(score.is.null,tags.cs.{x})))", "", ""),
    ("logic_not_or", "GET", "items?not.or=(id.eq.1,id.eq.2)", "", ""),
    // Order, limit, offset, Range.
    ("order_terms", "GET", "items?order=score.desc.nullslast,title.asc,data->>k", "", ""),
    ("limit_offset", "GET", "items?limit=10&offset=20", "", ""),
    ("range_header", "GET", "items", "Range: items=5-9", ""),
    ("range_narrowed_by_limit", "GET", "items?limit=3", "Range: 0-9", ""),
    ("range_unsatisfiable", "GET", "items", "Range: 9-5", ""),
    // Counts and CSV.
    ("count_exact", "GET", "items?score=gt.1", "Prefer: count=exact", ""),
    ("count_planned", "GET", "items?title=eq.x&select=id,data->>k", "Prefer: count=planned", ""),
    ("read_csv", "GET", "items?select=id,title", "Accept: text/csv", ""),
    ("read_profile_unknown", "GET", "items", "Accept-Profile: private", ""),
    // Embeds.
    ("embed_many_to_one", "GET", "items?select=title,org:orgs(name)", "", ""),
    ("embed_one_to_many", "GET", "orgs?select=name,items(id,title)", "", ""),
    ("embed_many_to_many", "GET", "items?select=id,tags(label)", "", ""),
    ("embed_inner_filtered_paged", "GET", "orgs?select=name,items!inner(id)&items.score=gt.2&items.order=id.desc&items.limit=2", "", ""),
    ("embed_is_null_anti_join", "GET", "orgs?select=name,items()&items=is.null", "", ""),
    ("embed_self_reference_by_column", "GET", "items?select=id,parent:parent_id(title)", "", ""),
    ("embed_nested", "GET", "orgs?select=name,items(title,tags(label))", "", ""),
    ("embed_self_reference_children", "GET", "items?select=id,items(id)", "", ""),
    ("embed_ambiguous", "GET", "transfers?select=id,orgs(name)", "", ""),
    ("embed_hinted", "GET", "transfers?select=id,source:orgs!from_org(name)", "", ""),
    ("embed_by_column", "GET", "transfers?select=id,to_org(name)", "", ""),
    ("embed_unknown", "GET", "items?select=id,nothing(id)", "", ""),
    ("embed_filter_not_selected", "GET", "items?orgs.name=eq.x", "", ""),
    ("unknown_column", "GET", "items?nope=eq.1", "", ""),
    // Inserts.
    ("insert_one", "POST", "items", "", r#"{"title":"a","score":1}"#),
    ("insert_many_representation", "POST", "items?select=id,org:orgs(name)", "Prefer: return=representation", r#"[{"title":"a"},{"title":"b","score":2}]"#),
    ("insert_missing_default_groups", "POST", "items", "Prefer: missing=default", r#"[{"title":"a"},{"title":"b","score":2},{"title":"c"}]"#),
    ("insert_columns", "POST", "items?columns=title", "", r#"[{"title":"a","ignored":1}]"#),
    ("insert_upsert_merge", "POST", "items", "Prefer: resolution=merge-duplicates", r#"{"id":1,"title":"a"}"#),
    ("insert_upsert_ignore_on_conflict", "POST", "items?on_conflict=title", "Prefer: resolution=ignore-duplicates", r#"{"title":"a"}"#),
    ("insert_upsert_without_key", "POST", "log", "Prefer: resolution=merge-duplicates", r#"{"line":"a"}"#),
    ("insert_location", "POST", "items", "Prefer: return=headers-only", r#"{"title":"a"}"#),
    ("insert_defaults_only", "POST", "items", "", r#"[{},{}]"#),
    ("insert_csv", "POST", "items", "Prefer: return=representation\nAccept: text/csv", r#"{"title":"a"}"#),
    ("insert_unknown_column", "POST", "items", "", r#"{"nope":1}"#),
    // Updates and deletes.
    ("update_filtered", "PATCH", "items?id=eq.1", "", r#"{"title":"b","score":null}"#),
    ("update_representation", "PATCH", "items?or=(id.eq.1,id.eq.2)&select=id,title", "Prefer: return=representation", r#"{"title":"b"}"#),
    ("update_without_filter", "PATCH", "items", "", r#"{"title":"b"}"#),
    ("delete_filtered", "DELETE", "items?id=in.(1,2)", "", ""),
    ("delete_representation", "DELETE", "items?score=lt.0", "Prefer: return=representation", ""),
    ("delete_with_limit", "DELETE", "items?id=eq.1&limit=1", "", ""),
    // RPC.
    ("rpc_scalar_get", "GET", "rpc/add_numbers?a=1&b=2", "", ""),
    ("rpc_scalar_post_default", "POST", "rpc/add_numbers", "", r#"{"a":1}"#),
    ("rpc_set_of_rows_filtered", "GET", "rpc/search_items?q=x&select=id,title&score=gt.1&order=id&limit=5", "Prefer: count=exact", ""),
    ("rpc_set_of_rows_post", "POST", "rpc/search_items?select=id,org:orgs(name)", "", r#"{"q":"x"}"#),
    ("rpc_single_composite", "GET", "rpc/first_item", "", ""),
    ("rpc_scalar_set", "GET", "rpc/series?n=3", "Range: 0-1", ""),
    ("rpc_whole_body", "POST", "rpc/echo_json", "", r#"[1,{"a":2}]"#),
    ("rpc_void", "POST", "rpc/touch", "", r#"{"item_id":7}"#),
    ("rpc_unknown_argument", "GET", "rpc/add_numbers?c=1", "", ""),
    ("rpc_unknown_function", "POST", "rpc/nothing", "", "{}"),
];

#[test]
fn corpus() {
    let cache = cache();
    for (name, method, path, headers, body) in CORPUS {
        let method: Method = method.parse().unwrap();
        let output = render(build(&cache, &method, path, headers, body));
        let description = format!("{method} /rest/v1/{path}\n{headers}\n\n{body}");
        insta::with_settings!({ description => description, omit_expression => true }, {
            insta::assert_snapshot!(*name, output);
        });
    }
}
