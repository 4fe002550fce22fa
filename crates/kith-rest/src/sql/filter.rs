//! WHERE, ORDER BY and LIMIT/OFFSET fragments: fields (columns, computed fields, JSON paths) compared with bound
//! values cast to the column's catalog type, logic trees, and the `rel=is.null` tests on embeds.

use super::fragment::{cmp_op, is_test, tsquery_function};
use super::{Builder, array_literal, quote_ident};
use crate::error::{RestError, RestResult};
use crate::parser::{Arrow, Condition, Field, Filter, IsValue, NodeParams, Op, Quant};
use crate::schema::Table;
use axum::http::StatusCode;

impl Builder<'_> {
    /// `"alias"."col"` followed by its JSON path, with the type a compared value must be cast to.
    pub(super) fn field_expr(&mut self, table: &Table, alias: &str, field: &Field) -> RestResult<(String, String)> {
        let (mut expr, mut type_sql) = match (table.column(&field.name), table.computed_field(&field.name)) {
            (Some(column), _) => (
                format!("{}.{}", quote_ident(alias), quote_ident(&column.name)),
                column.type_sql.clone(),
            ),
            // A computed field is its function applied to the row (cast: a write's rows come from a CTE).
            (None, Some(computed)) => (
                format!(
                    "{}.{}({}::{}.{})",
                    quote_ident(&computed.schema),
                    quote_ident(&computed.name),
                    quote_ident(alias),
                    quote_ident(&table.schema),
                    quote_ident(&table.name)
                ),
                computed.type_sql.clone(),
            ),
            (None, None) => return Err(RestError::unknown_column(&table.name, &field.name)),
        };
        for step in &field.path {
            let key = &step.key;
            let digits = key.strip_prefix('-').unwrap_or(key);
            let is_index = !digits.is_empty() && digits.len() < 10 && digits.chars().all(|c| c.is_ascii_digit());
            let placeholder = self.params.bind(key.clone());
            let operand = if is_index {
                format!("{placeholder}::int4")
            } else {
                placeholder
            };
            let arrow = match step.arrow {
                Arrow::Json => "->",
                Arrow::Text => "->>",
            };
            expr = format!("({expr}{arrow}{operand})");
            type_sql = match step.arrow {
                Arrow::Json => "jsonb".to_owned(),
                Arrow::Text => "text".to_owned(),
            };
        }
        if field.path.last().is_some_and(|s| s.arrow == Arrow::Json) {
            expr = format!("{expr}::jsonb");
        }
        Ok((expr, type_sql))
    }

    /// A WHERE fragment for one condition.
    pub(super) fn condition(&mut self, table: &Table, alias: &str, condition: &Condition) -> RestResult<String> {
        match condition {
            Condition::Filter(filter) => self.filter(table, alias, filter),
            Condition::Group { negate, or, items } => {
                let mut parts = Vec::new();
                for item in items {
                    parts.push(self.condition(table, alias, item)?);
                }
                let joined = parts.join(if *or { " OR " } else { " AND " });
                Ok(if *negate {
                    format!("NOT ({joined})")
                } else {
                    format!("({joined})")
                })
            }
        }
    }

    pub(super) fn filter(&mut self, table: &Table, alias: &str, filter: &Filter) -> RestResult<String> {
        if filter.field.path.is_empty() && table.column(&filter.field.name).is_none() {
            let mut path = self.filter_path.clone();
            path.push(filter.field.name.clone());
            if let Some((_, raw)) = self.embeds.iter().find(|(p, _)| *p == path) {
                // `rel=is.null` / `rel=not.is.null`: an anti-join or semi-join on an embedded resource.
                let test = match (&filter.op, filter.negate) {
                    (Op::Is(IsValue::Null), false) | (Op::Is(IsValue::NotNull), true) => "IS NULL",
                    (Op::Is(IsValue::NotNull), false) | (Op::Is(IsValue::Null), true) => "IS NOT NULL",
                    _ => {
                        return Err(RestError::new(
                            StatusCode::BAD_REQUEST,
                            "PGRST120",
                            "Bad operator on the embedded resource",
                        )
                        .details("Only is null or not is null filters are allowed on embedded resources"));
                    }
                };
                return Ok(format!("{raw} {test}"));
            }
        }
        let (lhs, type_sql) = self.field_expr(table, alias, &filter.field)?;
        let array_type = if type_sql.ends_with("[]") {
            type_sql.clone()
        } else {
            format!("{type_sql}[]")
        };
        let sql = match &filter.op {
            Op::Cmp { op, quant, value } => {
                let placeholder = self.params.bind(value.clone());
                match (quant, op.text_value()) {
                    (None, true) => format!("{lhs} {} {placeholder}", cmp_op(*op)),
                    (None, false) => format!("{lhs} {} CAST({placeholder} AS {type_sql})", cmp_op(*op)),
                    (Some(q), text) => {
                        let quantifier = match q {
                            Quant::Any => "ANY",
                            Quant::All => "ALL",
                        };
                        let cast = if text { "text[]" } else { array_type.as_str() };
                        format!("{lhs} {} {quantifier}(CAST({placeholder} AS {cast}))", cmp_op(*op))
                    }
                }
            }
            Op::In(items) => {
                let placeholder = self.params.bind(array_literal(items));
                format!("{lhs} = ANY(CAST({placeholder} AS {array_type}))")
            }
            Op::Is(value) => format!("{lhs} {}", is_test(*value)),
            Op::Fts { kind, lang, query } => {
                let function = tsquery_function(*kind);
                let q = self.params.bind(query.clone());
                match lang {
                    Some(lang) => {
                        let l = self.params.bind(lang.clone());
                        // A text column is parsed with the same configuration as the query.
                        let document = if type_sql == "tsvector" {
                            lhs
                        } else {
                            format!("pg_catalog.to_tsvector(CAST({l} AS regconfig), {lhs})")
                        };
                        format!("{document} @@ {function}(CAST({l} AS regconfig), {q})")
                    }
                    None => format!("{lhs} @@ {function}({q})"),
                }
            }
        };
        Ok(if filter.negate { format!("NOT ({sql})") } else { sql })
    }

    /// WHERE conditions of a node (joined with AND), possibly none.
    pub(super) fn node_conditions(
        &mut self,
        table: &Table,
        alias: &str,
        node: &NodeParams,
        path: &[String],
    ) -> RestResult<Vec<String>> {
        self.filter_path = path.to_vec();
        let mut out = Vec::new();
        for condition in &node.conditions {
            out.push(self.condition(table, alias, condition)?);
        }
        Ok(out)
    }

    pub(super) fn order_by(&mut self, table: &Table, alias: &str, node: &NodeParams) -> RestResult<String> {
        if node.order.is_empty() {
            return Ok(String::new());
        }
        let mut terms = Vec::new();
        for term in &node.order {
            let (expr, _) = self.field_expr(table, alias, &term.field)?;
            let direction = if term.desc { "DESC" } else { "ASC" };
            let nulls = match term.nulls_first {
                Some(true) => " NULLS FIRST",
                Some(false) => " NULLS LAST",
                None => "",
            };
            terms.push(format!("{expr} {direction}{nulls}"));
        }
        Ok(format!(" ORDER BY {}", terms.join(", ")))
    }

    pub(super) fn limit_offset(&mut self, limit: Option<i64>, offset: Option<i64>) -> String {
        let mut out = String::new();
        if let Some(limit) = limit {
            out.push_str(&format!(" LIMIT CAST({} AS int8)", self.params.bind(limit.to_string())));
        }
        if let Some(offset) = offset.filter(|o| *o > 0) {
            out.push_str(&format!(
                " OFFSET CAST({} AS int8)",
                self.params.bind(offset.to_string())
            ));
        }
        out
    }
}
