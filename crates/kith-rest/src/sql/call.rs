//! RPC: the call of a function as a FROM item — arguments from the query string (each cast from text to its
//! parameter's catalog type), from a JSON object body (`json_to_record`), or the whole body to the one unnamed
//! json/jsonb parameter — read like a table when it returns rows, or one value / nothing otherwise.

use super::fragment::body;
use super::{Builder, quote_ident};
use crate::error::{RestError, RestResult};
use crate::plan::call::{Args, CallPlan};
use crate::plan::{BodyFormat, Page};
use crate::schema::{Function, Returns, Table};

impl Builder<'_> {
    /// The statement of a planned call: one row of (total, count, body, NULL).
    pub fn call(&mut self, plan: &CallPlan<'_>) -> RestResult<String> {
        let function = plan.function;
        let (prefix, call_expr) = self.call_expr(function, &plan.args)?;
        let from_item = match &prefix {
            Some(prefix) => format!("{prefix} CROSS JOIN LATERAL {call_expr}"),
            None => call_expr.clone(),
        };
        let format = BodyFormat::of(plan.media);
        match &function.returns {
            Returns::Composite(columns) => {
                // The result's columns, read like a table's.
                let pseudo = Table {
                    schema: function.schema.clone(),
                    name: function.name.clone(),
                    kind: 'f',
                    columns: columns.clone(),
                    primary_key: Vec::new(),
                    unique_keys: Vec::new(),
                    readable_by: Vec::new(),
                    comment: None,
                    computed: Vec::new(),
                };
                self.rpc_rows(&pseudo, &from_item, plan.page, plan.count, format)
            }
            Returns::Scalar if function.returns_set => {
                self.check_nodes()?;
                // The planner always bounds the page (by max-rows at most).
                let paging_limit = self.params.bind(plan.page.limit.unwrap_or(i64::MAX).to_string());
                let paging_offset = self.params.bind(plan.page.offset.to_string());
                Ok(format!(
                    "WITH pgrst_source AS (SELECT \"t0\".\"v\" FROM {from_item} AS \"t0\"(\"v\") LIMIT CAST({paging_limit} AS int8) \
                     OFFSET CAST({paging_offset} AS int8)) SELECT NULL::int8, pg_catalog.count(*)::int8, \
                     COALESCE(pg_catalog.json_agg(\"v\"), '[]'::json)::text, NULL::text[] FROM pgrst_source"
                ))
            }
            Returns::Scalar => {
                self.check_nodes()?;
                let from = prefix.as_ref().map(|p| format!(" FROM {p}")).unwrap_or_default();
                Ok(format!(
                    "SELECT NULL::int8, 1::int8, pg_catalog.to_json({call_expr})::text, NULL::text[]{from}"
                ))
            }
            Returns::Void => {
                self.check_nodes()?;
                let from = prefix.as_ref().map(|p| format!(" FROM {p}")).unwrap_or_default();
                // The call sits in the target list, where it is always evaluated (void casts to '').
                Ok(format!(
                    "SELECT NULL::int8, 0::int8, ({call_expr})::text, NULL::text[]{from}"
                ))
            }
        }
    }

    /// The call expression, and the FROM item that unpacks a JSON object body (if any).
    fn call_expr(&mut self, function: &Function, args: &Args) -> RestResult<(Option<String>, String)> {
        let target = format!("{}.{}", quote_ident(&function.schema), quote_ident(&function.name));
        let parameter = |key: &str| {
            function
                .args
                .iter()
                .find(|a| a.name == key)
                .ok_or_else(|| RestError::internal(&"argument vanished"))
        };
        Ok(match args {
            Args::Text(pairs) => {
                let mut named = Vec::new();
                for (key, value) in pairs {
                    let arg = parameter(key)?;
                    let placeholder = self.params.bind(value.clone());
                    named.push(format!(
                        "{} := CAST({placeholder} AS {})",
                        quote_ident(&arg.name),
                        arg.type_sql
                    ));
                }
                (None, format!("{target}({})", named.join(", ")))
            }
            Args::Json(map) if map.is_empty() => (None, format!("{target}()")),
            Args::Json(map) => {
                let placeholder = self.params.bind(serde_json::Value::Object(map.clone()).to_string());
                let mut definitions = Vec::new();
                let mut named = Vec::new();
                for key in map.keys() {
                    let arg = parameter(key)?;
                    definitions.push(format!("{} {}", quote_ident(&arg.name), arg.type_sql));
                    named.push(format!("{0} := _b.{0}", quote_ident(&arg.name)));
                }
                (
                    Some(format!(
                        "pg_catalog.json_to_record({placeholder}::json) AS _b({})",
                        definitions.join(", ")
                    )),
                    format!("{target}({})", named.join(", ")),
                )
            }
            Args::Whole(value) => {
                let placeholder = self.params.bind(value.to_string());
                let arg_type = function.args.first().map_or("json", |a| a.type_sql.as_str());
                (None, format!("{target}(CAST({placeholder} AS {arg_type}))"))
            }
        })
    }

    /// A call of a set-returning or composite function, read like a table (`call` is the FROM item).
    pub fn rpc_rows(
        &mut self,
        pseudo: &Table,
        call: &str,
        page: Page,
        exact_count: bool,
        format: BodyFormat,
    ) -> RestResult<String> {
        let (exprs, where_clause) = self.root(pseudo)?;
        self.check_nodes()?;
        let node = self.node(&[]);
        let order = self.order_by(pseudo, "t0", &node)?;
        let paging = self.limit_offset(page.limit, Some(page.offset));
        let total = if exact_count {
            format!("(SELECT pg_catalog.count(*) FROM {call} AS \"t0\"{where_clause})")
        } else {
            "NULL::int8".to_owned()
        };
        Ok(format!(
            "WITH pgrst_source AS (SELECT {} FROM {call} AS \"t0\"{where_clause}{order}{paging}) \
             SELECT {total}, pg_catalog.count(_t)::int8, {}, NULL::text[] FROM pgrst_source _t",
            exprs.join(", "),
            body(format, "COALESCE(pg_catalog.json_agg(_t), '[]'::json)"),
        ))
    }
}
