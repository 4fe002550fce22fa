//! Fixed SQL fragments: operators, `IS` keywords, tsquery constructors and the CSV rendering of a body. Every
//! string here is a constant chosen by a closed enum of the syntax tree; nothing from the request reaches it.

use crate::parser::{CmpOp, FtsKind, IsValue};
use crate::plan::BodyFormat;

/// The SQL operator of a comparison.
pub fn cmp_op(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Neq => "<>",
        CmpOp::Gt => ">",
        CmpOp::Gte => ">=",
        CmpOp::Lt => "<",
        CmpOp::Lte => "<=",
        CmpOp::Like => "LIKE",
        CmpOp::Ilike => "ILIKE",
        CmpOp::Match => "~",
        CmpOp::Imatch => "~*",
        CmpOp::Cs => "@>",
        CmpOp::Cd => "<@",
        CmpOp::Ov => "&&",
        CmpOp::Sl => "<<",
        CmpOp::Sr => ">>",
        // PostgREST: `nxr` (does not extend to the right) is `&<`, `nxl` (… to the left) is `&>`.
        CmpOp::Nxl => "&>",
        CmpOp::Nxr => "&<",
        CmpOp::Adj => "-|-",
        CmpOp::IsDistinct => "IS DISTINCT FROM",
    }
}

/// The SQL keywords of an `is.` test.
pub fn is_test(value: IsValue) -> &'static str {
    match value {
        IsValue::Null => "IS NULL",
        IsValue::NotNull => "IS NOT NULL",
        IsValue::True => "IS TRUE",
        IsValue::False => "IS FALSE",
        IsValue::Unknown => "IS UNKNOWN",
    }
}

/// The tsquery constructor of a full-text flavour.
pub fn tsquery_function(kind: FtsKind) -> &'static str {
    match kind {
        FtsKind::Fts => "to_tsquery",
        FtsKind::Plfts => "plainto_tsquery",
        FtsKind::Phfts => "phraseto_tsquery",
        FtsKind::Wfts => "websearch_to_tsquery",
    }
}

/// Renders `json` (a JSON array expression) as text in `format`.
pub fn body(format: BodyFormat, json: &str) -> String {
    match format {
        BodyFormat::Json => format!("({json})::text"),
        BodyFormat::Csv => csv_of(json),
    }
}

/// CSV as PostgREST writes it: a header from the first row's keys, then each row `_t` (the row alias of every
/// query that renders a body) in Postgres's record text form without its parentheses — so a field is quoted
/// when it holds whitespace, `"`, `\`, `(`, `)` or `,`, an empty string is `""` and NULL is nothing.
fn csv_of(json: &str) -> String {
    let quote = |expr: &str| {
        format!(
            "(CASE WHEN {expr} ~ '[\",\\r\\n]' THEN '\"' || pg_catalog.replace({expr}, '\"', '\"\"') || '\"' ELSE {expr} END)"
        )
    };
    format!(
        "((SELECT COALESCE((SELECT pg_catalog.string_agg({}, ',' ORDER BY _o) FROM \
         pg_catalog.json_object_keys(_b -> 0) WITH ORDINALITY AS _h(_k, _o)), '') FROM (SELECT {json} AS _b) _c) || \
         COALESCE(E'\\n' || pg_catalog.string_agg(pg_catalog.substr(_t::text, 2, pg_catalog.length(_t::text) - 2), \
         E'\\n'), ''))",
        quote("_k")
    )
}
