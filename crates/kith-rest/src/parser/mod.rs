//! The PostgREST query-string grammar (`select`, filters, `or`/`and` trees, `order`, `limit`, `offset`,
//! `columns`, `on_conflict`) parsed into a small syntax tree. Nothing here touches SQL.
//!
//! Guarantees:
//! - Parsing is total: any input yields a tree or a [`ParseError`] (answered 400 `PGRST100`), never a panic.
//!   Nesting (embeds, logic trees) is bounded by [`MAX_DEPTH`] so hostile input cannot exhaust the stack, and
//!   inputs longer than [`MAX_INPUT`] are refused.
//! - Names in the tree are plain strings; they become SQL only after the schema cache has recognised them and
//!   they have been quoted (see [`crate::sql`]). Values are kept as strings and are always bound as parameters.
//! - Casts are reduced here to one of a fixed list of type names ([`cast_type`]); anything else is refused.
//! - Operators and `is` values come from fixed enums; nothing from the input is passed through as an operator.

mod ast;
mod cursor;
mod filter;
mod select;

pub use ast::*;
pub use filter::is_filter_value;
pub use select::{cast_type, parse_select};

use cursor::Cursor;
use filter::{parse_field_exact, parse_logic_list, parse_op_value, split_top_level};

/// Deepest nesting of embeds or logic trees accepted.
pub const MAX_DEPTH: usize = 16;
/// Longest single parameter value accepted, in bytes.
pub const MAX_INPUT: usize = 16 * 1024;

/// A query-string error: answered `400 PGRST100`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// e.g. `"failed to parse filter (x.y)"`.
    pub message: String,
    /// What was wrong.
    pub details: String,
}

impl ParseError {
    fn new(what: &str, input: &str, details: impl Into<String>) -> Self {
        let shown: String = input.chars().take(200).collect();
        ParseError {
            message: format!("\"failed to parse {what} ({shown})\" (line 1, column 1)"),
            details: details.into(),
        }
    }
}

/// Parses decoded query pairs. Keys for which `is_arg` holds (and which are not reserved) go to
/// [`Query::args`] instead of being read as filters.
pub fn parse_query(pairs: &[(String, String)], is_arg: &dyn Fn(&str) -> bool) -> Result<Query, ParseError> {
    let mut query = Query::default();
    for (key, value) in pairs {
        if key.len() > MAX_INPUT || value.len() > MAX_INPUT {
            return Err(ParseError::new("parameter", key, "the parameter is too long"));
        }
        match key.as_str() {
            "select" => query.select = Some(parse_select(value)?),
            "columns" => query.columns = Some(parse_name_list(value, "columns")?),
            "on_conflict" => query.on_conflict = Some(parse_name_list(value, "on_conflict")?),
            _ if is_arg(key) => query.args.push((key.clone(), value.clone())),
            _ => parse_keyed(&mut query, key, value)?,
        }
    }
    Ok(query)
}

fn parse_keyed(query: &mut Query, key: &str, value: &str) -> Result<(), ParseError> {
    // The JSON path (if any) starts at the first arrow; the embed path is the dotted part before it.
    let (head, arrows) = match key.find("->") {
        Some(at) => (&key[..at], &key[at..]),
        None => (key, ""),
    };
    let mut segments: Vec<String> = head.split('.').map(|s| s.trim().to_owned()).collect();
    let last = segments.pop().unwrap_or_default();
    if last.is_empty() || segments.iter().any(String::is_empty) {
        return Err(ParseError::new("filter", key, "empty name in the parameter key"));
    }
    let node = query.nodes.entry(segments).or_default();
    if arrows.is_empty() {
        match last.as_str() {
            "order" => {
                node.order = parse_order(value)?;
                return Ok(());
            }
            "limit" => {
                node.limit = Some(parse_count(value, "limit")?);
                return Ok(());
            }
            "offset" => {
                node.offset = Some(parse_count(value, "offset")?);
                return Ok(());
            }
            "or" | "and" => {
                let items = parse_logic_list(value, 0)?;
                node.conditions.push(Condition::Group {
                    negate: false,
                    or: last == "or",
                    items,
                });
                return Ok(());
            }
            _ => {}
        }
    }
    let field_text = format!("{last}{arrows}");
    let field = parse_field_exact(&field_text)?;
    let (negate, op) = parse_op_value(value, false)?;
    node.conditions.push(Condition::Filter(Filter { field, negate, op }));
    Ok(())
}

fn parse_count(value: &str, what: &str) -> Result<i64, ParseError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ParseError::new(what, value, "expecting a non-negative integer"))
}

/// `order=a.desc.nullslast,b`
pub fn parse_order(value: &str) -> Result<Vec<OrderTerm>, ParseError> {
    let err = |details: &str| ParseError::new("order", value, details.to_owned());
    let mut terms = Vec::new();
    for part in split_top_level(value).map_err(|d| err(&d))? {
        let mut cursor = Cursor::new(&part, "order");
        let name = cursor.name()?;
        if cursor.peek() == Some('(') {
            return Err(err("ordering by a related resource is not supported"));
        }
        let path = cursor.json_path()?;
        let mut term = OrderTerm {
            field: Field { name, path },
            desc: false,
            nulls_first: None,
        };
        while cursor.eat(".") {
            let word: String = cursor.chars[cursor.pos..].iter().take_while(|c| **c != '.').collect();
            cursor.pos += word.chars().count();
            match word.as_str() {
                "asc" => term.desc = false,
                "desc" => term.desc = true,
                "nullsfirst" => term.nulls_first = Some(true),
                "nullslast" => term.nulls_first = Some(false),
                _ => return Err(err("expecting asc, desc, nullsfirst or nullslast")),
            }
        }
        cursor.skip_spaces();
        if !cursor.done() {
            return Err(err("unexpected characters in the order term"));
        }
        terms.push(term);
    }
    Ok(terms)
}

/// `columns=a,"b"` / `on_conflict=a,b`
fn parse_name_list(value: &str, what: &'static str) -> Result<Vec<String>, ParseError> {
    let mut cursor = Cursor::new(value, what);
    let mut names = Vec::new();
    loop {
        names.push(cursor.name()?);
        cursor.skip_spaces();
        if cursor.done() {
            return Ok(names);
        }
        if !cursor.eat(",") {
            return Err(cursor.error("expecting ','"));
        }
    }
}

/// Splits the raw query string into decoded pairs (`+` is a space).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn col(name: &str) -> SelectItem {
        SelectItem::Column {
            field: Field {
                name: name.into(),
                path: vec![],
            },
            alias: None,
            cast: None,
        }
    }

    #[test]
    fn select_columns_aliases_casts_paths() {
        let items = parse_select("id,label:name,n::text,data->a->>b,\"we,ird\"").unwrap();
        assert_eq!(items[0], col("id"));
        assert!(
            matches!(&items[1], SelectItem::Column { alias: Some(a), field, .. } if a == "label" && field.name == "name")
        );
        assert!(matches!(&items[2], SelectItem::Column { cast: Some("text"), .. }));
        match &items[3] {
            SelectItem::Column { field, .. } => {
                assert_eq!(field.path.len(), 2);
                assert_eq!(field.path[1].arrow, Arrow::Text);
                assert_eq!(field.default_alias(), "b");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(items[4], col("we,ird"));
    }

    #[test]
    fn select_embeds() {
        let items = parse_select("*,owner:users!owner_fk!inner(id,orgs(*)),items()").unwrap();
        assert_eq!(items[0], SelectItem::Star);
        match &items[1] {
            SelectItem::Embed(e) => {
                assert_eq!(e.label(), "owner");
                assert_eq!(e.hint.as_deref(), Some("owner_fk"));
                assert!(e.inner);
                assert!(matches!(&e.items[1], SelectItem::Embed(inner) if inner.name == "orgs"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&items[2], SelectItem::Embed(e) if e.items.is_empty()));
    }

    #[test]
    fn select_refuses_bad_casts_and_junk() {
        assert!(parse_select("id::text; drop table x").is_err());
        assert!(parse_select("id::regclass").is_err());
        assert!(parse_select("a(b").is_err());
        assert!(parse_select("a)").is_err());
        assert!(parse_select("count()").is_err());
        assert!(parse_select("...a(b)").is_err());
        let deep = "a(".repeat(100) + &")".repeat(100);
        assert!(parse_select(&deep).is_err());
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn filters_and_operators() {
        let q = parse_query(
            &pairs(&[
                ("id", "eq.5"),
                ("name", "not.like.*ab*"),
                ("tags", "cs.{a,b}"),
                ("n", "in.(1,\"2,3\",4)"),
                ("x", "is.NULL"),
                ("t", "fts(english).cat"),
                ("e", "eq(any).{1,2}"),
                ("data->>k", "eq.v.w"),
                ("rel.col", "gt.3"),
                ("rel.limit", "2"),
            ]),
            &|_| false,
        )
        .unwrap();
        let root = q.root();
        assert_eq!(root.conditions.len(), 8);
        match &root.conditions[1] {
            Condition::Filter(f) => {
                assert!(f.negate);
                assert_eq!(
                    f.op,
                    Op::Cmp {
                        op: CmpOp::Like,
                        quant: None,
                        value: "%ab%".into()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(&root.conditions[3], Condition::Filter(Filter { op: Op::In(v), .. }) if v == &vec!["1".to_owned(), "2,3".into(), "4".into()])
        );
        assert!(matches!(
            &root.conditions[4],
            Condition::Filter(Filter {
                op: Op::Is(IsValue::Null),
                ..
            })
        ));
        assert!(
            matches!(&root.conditions[7], Condition::Filter(Filter { op: Op::Cmp { value, .. }, field, .. }) if value == "v.w" && field.path.len() == 1)
        );
        let rel = &q.nodes[&vec!["rel".to_owned()]];
        assert_eq!(rel.limit, Some(2));
        assert_eq!(rel.conditions.len(), 1);
    }

    #[test]
    fn logic_trees_nest() {
        let q = parse_query(
            &pairs(&[("or", "(a.eq.1,and(b.gt.2,c.in.(3,4)),not.or(d.is.null,e.eq.\"x,y\"))")]),
            &|_| false,
        )
        .unwrap();
        match &q.root().conditions[0] {
            Condition::Group { or: true, items, .. } => {
                assert_eq!(items.len(), 3);
                assert!(matches!(&items[1], Condition::Group { or: false, items, .. } if items.len() == 2));
                match &items[2] {
                    Condition::Group {
                        negate: true, items, ..
                    } => {
                        assert!(
                            matches!(&items[1], Condition::Filter(Filter { op: Op::Cmp { value, .. }, .. }) if value == "x,y")
                        );
                    }
                    other => panic!("{other:?}"),
                }
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_query(&pairs(&[("or", "(a.eq.1")]), &|_| false).is_err());
        assert!(parse_query(&pairs(&[("or", "a.eq.1")]), &|_| false).is_err());
        let deep = "(".to_owned() + &"or(".repeat(50) + "a.eq.1" + &")".repeat(51);
        assert!(parse_query(&pairs(&[("or", &deep)]), &|_| false).is_err());
    }

    #[test]
    fn order_limit_offset() {
        let q = parse_query(
            &pairs(&[
                ("order", "a.desc.nullslast,b,c->>d.asc"),
                ("limit", "10"),
                ("offset", "5"),
            ]),
            &|_| false,
        )
        .unwrap();
        let root = q.root();
        assert_eq!(root.order.len(), 3);
        assert!(root.order[0].desc);
        assert_eq!(root.order[0].nulls_first, Some(false));
        assert_eq!(root.limit, Some(10));
        assert_eq!(root.offset, Some(5));
        assert!(parse_query(&pairs(&[("limit", "-1")]), &|_| false).is_err());
        assert!(parse_query(&pairs(&[("order", "a.sideways")]), &|_| false).is_err());
    }

    #[test]
    fn bad_filters() {
        for value in ["5", "eq5", "nope.5", "in.1,2", "is.maybe", "eq(some).1", "in(any).(1)"] {
            assert!(parse_query(&pairs(&[("id", value)]), &|_| false).is_err(), "{value}");
        }
        assert!(parse_query(&pairs(&[(".x", "eq.1")]), &|_| false).is_err());
    }

    #[test]
    fn args_are_set_aside() {
        let q = parse_query(&pairs(&[("a", "1"), ("b", "eq.2")]), &|k| k == "a").unwrap();
        assert_eq!(q.args, vec![("a".to_owned(), "1".to_owned())]);
        assert_eq!(q.root().conditions.len(), 1);
    }

    #[test]
    fn name_lists() {
        let q = parse_query(&pairs(&[("columns", "\"a\",b"), ("on_conflict", "x")]), &|_| false).unwrap();
        assert_eq!(q.columns, Some(vec!["a".to_owned(), "b".into()]));
        assert_eq!(q.on_conflict, Some(vec!["x".to_owned()]));
    }

    #[test]
    fn casts_are_an_allow_list() {
        assert_eq!(cast_type("TEXT"), Some("text"));
        assert_eq!(cast_type("int"), Some("int4"));
        assert_eq!(cast_type("text); drop"), None);
    }
}
