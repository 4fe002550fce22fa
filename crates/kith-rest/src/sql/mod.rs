//! SQL building: turns a plan and the schema cache into one parameterized statement. All SQL text of the data
//! API is written in this module and its children (reads, filters, select lists and embeds, writes, RPC calls,
//! fixed fragments); nothing else in the crate formats SQL.
//!
//! Guarantees:
//! - Every value from the request (filter operands, JSON keys, limits, bodies) is appended to the parameter
//!   list and appears in the SQL only as `$n::text` (cast from text by a type name taken from the catalog).
//! - Every identifier (schema, table, column, function, argument) is first looked up in the [`SchemaCache`] and
//!   then written with [`quote_ident`], so only names that exist reach the SQL, and always quoted.
//! - Operators, `IS` keywords and tsquery functions come from closed enums of the syntax tree, spelled in
//!   [`fragment`]; cast types come from the parser's allow-list or the catalog.
//! - The statement builds its JSON in Postgres and returns one row: (total, page count, body, location).

mod call;
#[cfg(test)]
mod corpus;
mod filter;
pub mod fragment;
mod read;
mod select;
mod write;

use crate::error::{RestError, RestResult};
use crate::parser::{NodeParams, Query};
use crate::plan::call::CallPlan;
use crate::plan::mutate::{MutatePlan, Write};
use crate::plan::{BodyFormat, ReadPlan};
use crate::schema::{SchemaCache, Table};
use axum::http::StatusCode;

/// Sets the transaction's `search_path` (`$1`, from [`RestConfig::search_path`](crate::RestConfig::search_path)).
/// Run first in the caller's transaction, so the request's statement is parsed after the caller's role and
/// this path are in force: types and operators of other schemas then resolve with the caller's privileges, as
/// PostgREST's do, instead of the pool's login role's.
pub const SET_SEARCH_PATH: &str = "SELECT pg_catalog.set_config('search_path', $1::text, true)";

/// A statement and its bound values (all text), ready for the caller's transaction.
#[derive(Debug, Clone)]
pub struct Statement {
    /// The SQL text.
    pub sql: String,
    /// `$1`, `$2`, … in order.
    pub params: Vec<Option<String>>,
}

/// The statement of a planned read of `table`.
pub fn read(cache: &SchemaCache, plan: &ReadPlan, table: &Table) -> RestResult<Statement> {
    let mut builder = Builder::new(cache, &plan.query);
    let sql = builder.read(table, plan.page, plan.exact_count(), BodyFormat::of(plan.media))?;
    Ok(builder.statement(sql))
}

/// The `EXPLAIN` whose row estimate answers `count=planned` (and `estimated` past max-rows).
pub fn estimate(cache: &SchemaCache, plan: &ReadPlan, table: &Table) -> RestResult<Statement> {
    let mut builder = Builder::new(cache, &plan.query);
    let sql = builder.explain_count(table)?;
    Ok(builder.statement(sql))
}

/// The statement of a planned write to `table`; `None` when the plan writes nothing.
pub fn mutate(cache: &SchemaCache, plan: &MutatePlan<'_>, table: &Table) -> RestResult<Option<Statement>> {
    let Some(write) = &plan.write else {
        return Ok(None);
    };
    let mut builder = Builder::new(cache, &plan.query);
    let sql = match write {
        Write::Insert(groups) => builder.insert(table, groups, &plan.shape)?,
        Write::Update { columns, row } => builder.update(table, columns, row.clone(), &plan.shape)?,
        Write::Delete => builder.delete(table, &plan.shape)?,
    };
    Ok(Some(builder.statement(sql)))
}

/// The statement of a planned call.
pub fn call(cache: &SchemaCache, plan: &CallPlan<'_>) -> RestResult<Statement> {
    let mut builder = Builder::new(cache, &plan.query);
    let sql = builder.call(plan)?;
    Ok(builder.statement(sql))
}

/// Quotes an identifier: wraps it in `"` and doubles any `"` inside; NUL characters are dropped.
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        match c {
            '"' => out.push_str("\"\""),
            '\0' => {}
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A Postgres array literal of text elements, every element quoted and escaped (a bound value, not SQL).
pub fn array_literal(items: &[String]) -> String {
    let mut out = String::from("{");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in item.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// A statement under construction: the bound parameters, all sent as text.
#[derive(Debug, Default)]
pub struct Params {
    /// Values in order (`$1` is the first).
    pub values: Vec<Option<String>>,
}

impl Params {
    /// Binds `value` and returns its placeholder, typed text.
    pub fn bind(&mut self, value: impl Into<String>) -> String {
        self.values.push(Some(value.into()));
        format!("${}::text", self.values.len())
    }
}

/// Builds the SQL of one request; its methods live in the child modules, one per kind of statement part.
pub struct Builder<'a> {
    cache: &'a SchemaCache,
    query: &'a Query,
    /// Bound values.
    pub params: Params,
    aliases: usize,
    used_nodes: Vec<Vec<String>>,
    /// The rendered (un-coalesced) expression of each embed, by embed path: `rel=is.null` filters use it.
    embeds: Vec<(Vec<String>, String)>,
    /// The embed path whose conditions are being rendered.
    filter_path: Vec<String>,
}

impl<'a> Builder<'a> {
    /// A builder over the cache for one parsed query.
    pub fn new(cache: &'a SchemaCache, query: &'a Query) -> Self {
        Builder {
            cache,
            query,
            params: Params::default(),
            aliases: 0,
            used_nodes: vec![Vec::new()],
            embeds: Vec::new(),
            filter_path: Vec::new(),
        }
    }

    /// The finished statement with the values bound while building it.
    pub fn statement(self, sql: String) -> Statement {
        Statement {
            sql,
            params: self.params.values,
        }
    }

    fn fresh_alias(&mut self) -> String {
        self.aliases += 1;
        format!("t{}", self.aliases)
    }

    fn node(&self, path: &[String]) -> NodeParams {
        self.query.nodes.get(path).cloned().unwrap_or_default()
    }

    /// Fails with PGRST108 if a filter/order/limit names an embed the select does not contain.
    pub fn check_nodes(&self) -> RestResult<()> {
        for path in self.query.nodes.keys() {
            if !self.used_nodes.contains(path) {
                let name = path.last().cloned().unwrap_or_default();
                return Err(RestError::new(
                    StatusCode::BAD_REQUEST,
                    "PGRST108",
                    format!("'{name}' is not an embedded resource in this request"),
                )
                .hint(format!(
                    "Verify that '{name}' is included in the 'select' query parameter."
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("notes"), "\"notes\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("x\0y"), "\"xy\"");
        assert_eq!(quote_ident("\"; drop table t; --"), "\"\"\"; drop table t; --\"");
    }

    #[test]
    fn array_literals_escape() {
        assert_eq!(array_literal(&["a".into(), "b,c".into()]), "{\"a\",\"b,c\"}");
        assert_eq!(array_literal(&["q\"\\".into()]), "{\"q\\\"\\\\\"}");
        assert_eq!(array_literal(&[]), "{}");
    }

    #[test]
    fn params_are_placeholders() {
        let mut params = Params::default();
        assert_eq!(params.bind("'; drop table x; --"), "$1::text");
        assert_eq!(params.bind("2"), "$2::text");
        assert_eq!(params.values.len(), 2);
    }
}
