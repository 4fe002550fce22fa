//! Reads: the statement of a table or view read (`pgrst_source` CTE, optional exact count, JSON or CSV body),
//! and the `EXPLAIN` whose row estimate answers `count=planned`.

use super::fragment::body;
use super::{Builder, quote_ident};
use crate::error::RestResult;
use crate::plan::{BodyFormat, Page};
use crate::schema::Table;

impl Builder<'_> {
    /// `WHERE` of the root: filters plus `!inner` conditions. Returns (select exprs, where clause).
    pub(super) fn root(&mut self, table: &Table) -> RestResult<(Vec<String>, String)> {
        let items = self.select_items();
        let rendered = self.select_list(table, "t0", &items, &[])?;
        let node = self.node(&[]);
        let mut conditions = self.node_conditions(table, "t0", &node, &[])?;
        conditions.extend(rendered.inner_conditions);
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        Ok((rendered.exprs, where_clause))
    }

    /// A read of a table or view.
    pub fn read(&mut self, table: &Table, page: Page, exact_count: bool, format: BodyFormat) -> RestResult<String> {
        let (exprs, where_clause) = self.root(table)?;
        self.check_nodes()?;
        let node = self.node(&[]);
        let order = self.order_by(table, "t0", &node)?;
        let paging = self.limit_offset(page.limit, Some(page.offset));
        let from = format!("{}.{} AS \"t0\"", quote_ident(&table.schema), quote_ident(&table.name));
        let total = if exact_count {
            format!("(SELECT pg_catalog.count(*) FROM {from}{where_clause})")
        } else {
            "NULL::int8".to_owned()
        };
        Ok(format!(
            "WITH pgrst_source AS (SELECT {} FROM {from}{where_clause}{order}{paging}) \
             SELECT {total}, pg_catalog.count(_t)::int8, {}, NULL::text[] FROM pgrst_source _t",
            exprs.join(", "),
            body(format, "COALESCE(pg_catalog.json_agg(_t), '[]'::json)"),
        ))
    }

    /// `EXPLAIN (FORMAT JSON)` of the count of a read: the planner's row estimate for `count=planned`.
    pub fn explain_count(&mut self, table: &Table) -> RestResult<String> {
        // The select list is kept so that every bound parameter (JSON keys in it) is referenced.
        let (exprs, where_clause) = self.root(table)?;
        Ok(format!(
            "EXPLAIN (FORMAT JSON) SELECT {} FROM {}.{} AS \"t0\"{where_clause}",
            exprs.join(", "),
            quote_ident(&table.schema),
            quote_ident(&table.name)
        ))
    }
}
