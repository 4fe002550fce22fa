//! Property tests of the query-string and `select` parsers and of the SQL builder: any input parses or is
//! refused without panicking, and no value from the input ever appears in the SQL text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Failures are reported with their minimal input; they are not persisted next to the sources.

use kith_rest::parser::{self, parse_query, parse_select};
use kith_rest::plan::{BodyFormat, Page};
use kith_rest::schema::{Column, ForeignKey, SchemaCache, Table};
use kith_rest::sql::Builder;
use proptest::prelude::*;

fn column(name: &str, type_sql: &str) -> Column {
    Column {
        name: name.into(),
        type_sql: type_sql.into(),
        not_null: false,
        default_sql: None,
        generated: false,
    }
}

fn table(name: &str, columns: Vec<Column>) -> Table {
    Table {
        schema: "public".into(),
        name: name.into(),
        kind: 'r',
        columns,
        primary_key: vec!["id".into()],
        unique_keys: vec![vec!["id".into()]],
        readable_by: vec![],
        comment: None,
        computed: vec![],
    }
}

fn cache() -> SchemaCache {
    let mut cache = SchemaCache::default();
    let items = table(
        "items",
        vec![
            column("id", "bigint"),
            column("org_id", "uuid"),
            column("title", "text"),
            column("tags", "text[]"),
            column("data", "jsonb"),
        ],
    );
    let orgs = table("orgs", vec![column("id", "uuid"), column("name", "text")]);
    cache.tables.insert(("public".into(), "items".into()), items);
    cache.tables.insert(("public".into(), "orgs".into()), orgs);
    cache.foreign_keys.push(ForeignKey {
        name: "items_org_id_fkey".into(),
        from: ("public".into(), "items".into()),
        from_columns: vec!["org_id".into()],
        to: ("public".into(), "orgs".into()),
        to_columns: vec!["id".into()],
    });
    cache
}

/// Builds the read statement for `pairs`, if the request is acceptable.
fn build(cache: &SchemaCache, pairs: &[(String, String)]) -> Option<(String, Vec<Option<String>>)> {
    let query = parse_query(pairs, &|_| false).ok()?;
    let items = cache.table("public", "items")?;
    let mut builder = Builder::new(cache, &query);
    let sql = builder
        .read(
            items,
            Page {
                offset: 0,
                limit: Some(10),
            },
            true,
            BodyFormat::Json,
        )
        .ok()?;
    Some((sql, builder.params.values))
}

/// Fragments of the grammar, to reach deeper than uniformly random text.
fn grammar() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "title", "id", "data", "tags", "orgs", "->", "->>", "::", "text", "(", ")", ",", ".", "eq.", "not.", "in.",
        "is.", "null", "or", "and", "*", "!inner", "!", "\"", "{", "}", ":", "any", "all", "like.", "cs.", "fts", "'",
        ";", "\\", "$1", " ", "-", "0",
    ]);
    prop::collection::vec(fragment, 0..16).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn select_parser_is_total(input in ".{0,200}") {
        let _ = parse_select(&input);
    }

    #[test]
    fn select_parser_is_total_on_grammar(input in grammar()) {
        let _ = parse_select(&input);
    }

    #[test]
    fn query_parser_is_total(key in ".{0,40}", value in ".{0,200}", key2 in grammar(), value2 in grammar()) {
        let _ = parse_query(&[(key, value), (key2, value2)], &|_| false);
    }

    /// The builder never panics, and every parameter it binds is referenced by the statement (an unreferenced
    /// one would make the call fail).
    #[test]
    fn builder_never_panics_and_binds_what_it_uses(key in grammar(), value in grammar(), select in grammar()) {
        let cache = cache();
        if let Some((sql, params)) = build(&cache, &[("select".into(), select), (key, value)]) {
            for i in 1..=params.len() {
                let placeholder = format!("${i}::text");
                prop_assert!(sql.contains(&placeholder), "{placeholder} unused in {sql}");
            }
        }
    }

    /// A value carrying SQL metacharacters reaches the statement only as a bound parameter.
    #[test]
    fn values_are_never_in_the_sql(raw in "[a-z0-9 ;'\"$()=-]{1,30}", op in prop::sample::select(vec![
        "eq", "neq", "gt", "like", "ilike", "match", "isdistinct", "cs", "fts(english)", "eq(any)",
    ])) {
        let value = format!("q'{raw};--");
        let cache = cache();
        let cases = vec![
            vec![("title".to_owned(), format!("{op}.{value}"))],
            vec![("title".to_owned(), format!("not.{op}.{value}"))],
            vec![("or".to_owned(), format!("(title.{op}.\"{}\",id.eq.1)", value.replace('"', "\\\"")))],
            vec![("data->>x".to_owned(), format!("eq.{value}"))],
            vec![("select".to_owned(), "id,orgs(name)".to_owned()), ("orgs.name".to_owned(), format!("eq.{value}"))],
        ];
        for pairs in cases {
            if let Some((sql, params)) = build(&cache, &pairs) {
                prop_assert!(!sql.contains(&value), "value in SQL: {sql}");
                prop_assert!(params.iter().flatten().any(|p| p.contains(&raw.replace('*', "%")) || p.contains(&raw)));
            }
        }
    }

    /// Identifiers reach the SQL only if the schema cache knows them.
    #[test]
    fn unknown_identifiers_are_refused(name in "[a-z_\";' ]{1,20}") {
        prop_assume!(!name.trim().is_empty());
        let bare = name.trim().trim_matches('"').trim();
        prop_assume!(!bare.is_empty() && bare != "*");
        prop_assume!(!["id", "org_id", "title", "tags", "data", "orgs"].contains(&bare));
        let cache = cache();
        prop_assert!(build(&cache, &[("select".into(), name.clone())]).is_none());
        prop_assert!(build(&cache, &[(name.clone(), "eq.1".into())]).is_none());
        prop_assert!(build(&cache, &[("order".into(), name.clone())]).is_none());
    }

    /// Casts come from the allow-list only.
    #[test]
    fn casts_are_allow_listed(cast in "[a-z_ ]{1,20}") {
        let parsed = parse_select(&format!("id::{cast}"));
        prop_assert_eq!(parsed.is_ok(), parser::cast_type(&cast).is_some());
    }
}

#[test]
fn sql_of_a_typical_request() {
    let cache = cache();
    let pairs = vec![
        ("select".to_owned(), "title,org:orgs(name)".to_owned()),
        ("title".to_owned(), "eq.x'; drop table items; --".to_owned()),
        ("order".to_owned(), "id.desc".to_owned()),
    ];
    let (sql, params) = build(&cache, &pairs).unwrap();
    assert!(!sql.contains("drop table"));
    assert!(sql.contains("\"t0\".\"title\" = CAST($1::text AS text)"), "{sql}");
    assert_eq!(params[0].as_deref(), Some("x'; drop table items; --"));
}
