//! Select lists: columns, casts, aliases and embeds. An embed becomes a correlated subquery over the
//! relationship the planner found (a JSON object for to-one, an array for to-many), joined through the junction
//! for many-to-many; `!inner` adds its non-null test to the parent's WHERE.

use super::{Builder, quote_ident};
use crate::error::{RestError, RestResult};
use crate::parser::SelectItem;
use crate::plan::relationship;
use crate::schema::Table;
use axum::http::StatusCode;

/// The select list of one node, and the `!inner` conditions it adds to its parent's WHERE.
pub(super) struct Rendered {
    pub(super) exprs: Vec<String>,
    pub(super) inner_conditions: Vec<String>,
}

impl Builder<'_> {
    /// The select list of `table` (aliased `alias`) at embed `path`.
    pub(super) fn select_list(
        &mut self,
        table: &Table,
        alias: &str,
        items: &[SelectItem],
        path: &[String],
    ) -> RestResult<Rendered> {
        let mut rendered = Rendered {
            exprs: Vec::new(),
            inner_conditions: Vec::new(),
        };
        let mut embed_labels: Vec<&str> = Vec::new();
        for item in items {
            match item {
                SelectItem::Star => rendered.exprs.push(format!("{}.*", quote_ident(alias))),
                SelectItem::Column {
                    field,
                    alias: name,
                    cast,
                } => {
                    let (mut expr, _) = self.field_expr(table, alias, field)?;
                    if let Some(cast) = cast {
                        expr = format!("CAST({expr} AS {cast})");
                    }
                    let output = name.as_deref().unwrap_or_else(|| field.default_alias());
                    rendered.exprs.push(format!("{expr} AS {}", quote_ident(output)));
                }
                SelectItem::Embed(embed) => {
                    if embed_labels.contains(&embed.label()) {
                        // Two embeds under one name would be two equal keys in one JSON object. PostgREST's
                        // statement names both joins `<table>_<name>_<depth>`, so Postgres refuses it (42712).
                        return Err(RestError::new(
                            StatusCode::BAD_REQUEST,
                            "42712",
                            format!(
                                "table name \"{}_{}_{}\" specified more than once",
                                table.name,
                                embed.label(),
                                path.len() + 1
                            ),
                        ));
                    }
                    embed_labels.push(embed.label());
                    let rel = relationship::find(self.cache, table, &embed.name, embed.hint.as_deref())?;
                    let mut child_path = path.to_vec();
                    child_path.push(embed.label().to_owned());
                    self.used_nodes.push(child_path.clone());
                    let child_alias = self.fresh_alias();
                    let child = self.select_list(rel.target, &child_alias, &embed.items, &child_path)?;
                    let node = self.node(&child_path);
                    // The alias the parent's key is compared with: the child, or the junction (many-to-many).
                    let (join, link_alias) = match &rel.junction {
                        None => (String::new(), child_alias.clone()),
                        Some((junction, child_pairs)) => {
                            let junction_alias = format!("j{}", &child_alias[1..]);
                            let on: Vec<String> = child_pairs
                                .iter()
                                .map(|(junction_col, child_col)| {
                                    format!(
                                        "{}.{} = {}.{}",
                                        quote_ident(&junction_alias),
                                        quote_ident(junction_col),
                                        quote_ident(&child_alias),
                                        quote_ident(child_col)
                                    )
                                })
                                .collect();
                            (
                                format!(
                                    " INNER JOIN {}.{} AS {} ON {}",
                                    quote_ident(&junction.schema),
                                    quote_ident(&junction.name),
                                    quote_ident(&junction_alias),
                                    on.join(" AND ")
                                ),
                                junction_alias,
                            )
                        }
                    };
                    let mut conditions: Vec<String> = rel
                        .pairs
                        .iter()
                        .map(|(parent_col, child_col)| {
                            format!(
                                "{}.{} = {}.{}",
                                quote_ident(&link_alias),
                                quote_ident(child_col),
                                quote_ident(alias),
                                quote_ident(parent_col)
                            )
                        })
                        .collect();
                    conditions.extend(self.node_conditions(rel.target, &child_alias, &node, &child_path)?);
                    conditions.extend(child.inner_conditions);
                    let order = self.order_by(rel.target, &child_alias, &node)?;
                    let paging = self.limit_offset(node.limit, node.offset);
                    let row = format!("_{child_alias}");
                    let inner_select = format!(
                        "SELECT {} FROM {}.{} AS {}{join} WHERE {}{order}{paging}",
                        child.exprs.join(", "),
                        quote_ident(&rel.target.schema),
                        quote_ident(&rel.target.name),
                        quote_ident(&child_alias),
                        conditions.join(" AND "),
                    );
                    let raw = if rel.cardinality.to_one() {
                        format!("(SELECT pg_catalog.row_to_json({row}) FROM ({inner_select}) {row} LIMIT 1)")
                    } else {
                        format!("(SELECT pg_catalog.json_agg({row}) FROM ({inner_select}) {row})")
                    };
                    if embed.inner {
                        rendered.inner_conditions.push(format!("{raw} IS NOT NULL"));
                    }
                    self.embeds.push((child_path.clone(), raw.clone()));
                    if embed.items.is_empty() {
                        // `rel()`: only its `!inner` condition and filters count; nothing is output.
                        continue;
                    }
                    let value = if rel.cardinality.to_one() {
                        raw
                    } else {
                        format!("COALESCE({raw}, '[]'::json)")
                    };
                    rendered
                        .exprs
                        .push(format!("{value} AS {}", quote_ident(embed.label())));
                }
            }
        }
        if rendered.exprs.is_empty() {
            rendered.exprs.push(format!("{}.*", quote_ident(alias)));
        }
        Ok(rendered)
    }

    pub(super) fn select_items(&self) -> Vec<SelectItem> {
        self.query.select.clone().unwrap_or_else(|| vec![SelectItem::Star])
    }
}
