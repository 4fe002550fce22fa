//! Turns a parsed request and the schema cache into one parameterized SQL statement.
//!
//! Guarantees:
//! - Every value from the request (filter operands, JSON keys, limits, bodies) is appended to the parameter
//!   list and appears in the SQL only as `$n::text` (cast from text by a type name taken from the catalog).
//! - Every identifier (schema, table, column, function, argument) is first looked up in the [`SchemaCache`] and
//!   then written with [`quote_ident`], so only names that exist reach the SQL, and always quoted.
//! - Operators, `IS` keywords, tsquery functions and cast types come from fixed lists in `parser.rs`.
//! - The statement builds its JSON in Postgres and returns one row: (total, page count, body, location).

use crate::error::{RestError, RestResult};
use crate::parser::{Arrow, Condition, Field, Filter, IsValue, NodeParams, Op, Query, SelectItem};
use crate::schema::{Column, ForeignKey, SchemaCache, Table};
use axum::http::StatusCode;
use serde_json::json;

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

/// Relationship cardinality.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cardinality {
    ManyToOne,
    OneToMany,
    OneToOne,
    ManyToMany,
}

impl Cardinality {
    fn to_one(self) -> bool {
        matches!(self, Cardinality::ManyToOne | Cardinality::OneToOne)
    }

    fn name(self) -> &'static str {
        match self {
            Cardinality::ManyToOne => "many-to-one",
            Cardinality::OneToMany => "one-to-many",
            Cardinality::OneToOne => "one-to-one",
            Cardinality::ManyToMany => "many-to-many",
        }
    }
}

struct Relationship<'a> {
    fk: &'a ForeignKey,
    target: &'a Table,
    cardinality: Cardinality,
    /// (parent column, child column); for many-to-many, (parent column, junction column).
    pairs: Vec<(String, String)>,
    /// Many-to-many: the junction table and (junction column, child column) pairs.
    junction: Option<(&'a Table, Vec<(String, String)>)>,
    /// Many-to-many: the junction's key to the parent (`fk` is its key to the child).
    via: Option<&'a ForeignKey>,
}

/// The select list of one node, and the `!inner` conditions it adds to its parent's WHERE.
struct Rendered {
    exprs: Vec<String>,
    inner_conditions: Vec<String>,
}

/// Builds the SQL of one request.
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

    /// `"alias"."col"` followed by its JSON path, with the type a compared value must be cast to.
    fn field_expr(&mut self, table: &Table, alias: &str, field: &Field) -> RestResult<(String, String)> {
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
    fn condition(&mut self, table: &Table, alias: &str, condition: &Condition) -> RestResult<String> {
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

    fn filter(&mut self, table: &Table, alias: &str, filter: &Filter) -> RestResult<String> {
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
                    (None, true) => format!("{lhs} {} {placeholder}", op.sql()),
                    (None, false) => format!("{lhs} {} CAST({placeholder} AS {type_sql})", op.sql()),
                    (Some(q), text) => {
                        let quantifier = match q {
                            crate::parser::Quant::Any => "ANY",
                            crate::parser::Quant::All => "ALL",
                        };
                        let cast = if text { "text[]" } else { array_type.as_str() };
                        format!("{lhs} {} {quantifier}(CAST({placeholder} AS {cast}))", op.sql())
                    }
                }
            }
            Op::In(items) => {
                let placeholder = self.params.bind(array_literal(items));
                format!("{lhs} = ANY(CAST({placeholder} AS {array_type}))")
            }
            Op::Is(value) => format!("{lhs} {}", value.sql()),
            Op::Fts { kind, lang, query } => {
                let function = kind.function();
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
    fn node_conditions(
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

    fn order_by(&mut self, table: &Table, alias: &str, node: &NodeParams) -> RestResult<String> {
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

    fn limit_offset(&mut self, limit: Option<i64>, offset: Option<i64>) -> String {
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

    fn relationship(&self, parent: &Table, name: &str, hint: Option<&str>) -> RestResult<Relationship<'a>> {
        let parent_key = (parent.schema.clone(), parent.name.clone());
        let mut found = Vec::new();
        for fk in &self.cache.foreign_keys {
            // Many-to-one: the parent holds the key.
            // A self-referencing key named by the table means its children (one-to-many, below), as in
            // PostgREST; the parent is reached by the FK column or constraint name.
            let self_reference = fk.from == fk.to;
            if fk.from == parent_key
                && ((fk.to.1 == name && !self_reference) || fk.name == name || fk.from_columns == [name.to_owned()])
                && hint.is_none_or(|h| {
                    fk.name == h || fk.from_columns.iter().any(|c| c == h) || fk.to_columns.iter().any(|c| c == h)
                })
                && let Some(target) = self.cache.table(&fk.to.0, &fk.to.1)
            {
                let pairs = fk
                    .from_columns
                    .iter()
                    .cloned()
                    .zip(fk.to_columns.iter().cloned())
                    .collect();
                found.push(Relationship {
                    fk,
                    target,
                    cardinality: Cardinality::ManyToOne,
                    pairs,
                    junction: None,
                    via: None,
                });
            }
            // One-to-many (or one-to-one): the child holds the key.
            if fk.to == parent_key
                && (fk.from.1 == name || fk.name == name)
                && hint.is_none_or(|h| fk.name == h || fk.from_columns.iter().any(|c| c == h))
                && let Some(target) = self.cache.table(&fk.from.0, &fk.from.1)
            {
                let cardinality = if target.is_unique(&fk.from_columns) {
                    Cardinality::OneToOne
                } else {
                    Cardinality::OneToMany
                };
                let pairs = fk
                    .to_columns
                    .iter()
                    .cloned()
                    .zip(fk.from_columns.iter().cloned())
                    .collect();
                found.push(Relationship {
                    fk,
                    target,
                    cardinality,
                    pairs,
                    junction: None,
                    via: None,
                });
            }
            // Many-to-many through a junction table holding keys to both sides.
            if fk.to == parent_key
                && let Some(junction) = self.cache.table(&fk.from.0, &fk.from.1)
            {
                for other in &self.cache.foreign_keys {
                    if std::ptr::eq(other, fk) || other.from != fk.from || other.to.1 != name {
                        continue;
                    }
                    let hinted = hint.is_none_or(|h| h == junction.name || h == fk.name || h == other.name);
                    if let (true, Some(target)) = (hinted, self.cache.table(&other.to.0, &other.to.1)) {
                        found.push(Relationship {
                            fk: other,
                            target,
                            cardinality: Cardinality::ManyToMany,
                            pairs: fk
                                .to_columns
                                .iter()
                                .cloned()
                                .zip(fk.from_columns.iter().cloned())
                                .collect(),
                            junction: Some((
                                junction,
                                other
                                    .from_columns
                                    .iter()
                                    .cloned()
                                    .zip(other.to_columns.iter().cloned())
                                    .collect(),
                            )),
                            via: Some(fk),
                        });
                    }
                }
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(RestError::new(
                StatusCode::BAD_REQUEST,
                "PGRST200",
                format!(
                    "Could not find a relationship between '{}' and '{name}' in the schema cache",
                    parent.name
                ),
            )
            .details(format!(
                "Searched for a foreign key relationship between '{}' and '{name}'{} in the schema '{}', but no \
                 matches were found.",
                parent.name,
                hint.map(|h| format!(" using the hint '{h}'")).unwrap_or_default(),
                parent.schema
            ))),
            _ => {
                // PostgREST's wording: "<parent> with <target>", the key named from the parent's side.
                let details: Vec<_> = found
                    .iter()
                    .map(|rel| {
                        let parent_columns: Vec<&str> = rel.pairs.iter().map(|(p, _)| p.as_str()).collect();
                        let relationship = match (&rel.junction, rel.via) {
                            (Some((junction, child_pairs)), Some(via)) => {
                                let source: Vec<&str> = rel.pairs.iter().map(|(_, j)| j.as_str()).collect();
                                let target: Vec<&str> = child_pairs.iter().map(|(j, _)| j.as_str()).collect();
                                format!(
                                    "{} using {}({}) and {}({})",
                                    junction.name,
                                    via.name,
                                    source.join(", "),
                                    rel.fk.name,
                                    target.join(", ")
                                )
                            }
                            _ => {
                                let child_columns: Vec<&str> = rel.pairs.iter().map(|(_, c)| c.as_str()).collect();
                                format!(
                                    "{} using {}({}) and {}({})",
                                    rel.fk.name,
                                    parent.name,
                                    parent_columns.join(", "),
                                    rel.target.name,
                                    child_columns.join(", ")
                                )
                            }
                        };
                        json!({
                            "cardinality": rel.cardinality.name(),
                            "embedding": format!("{} with {}", parent.name, rel.target.name),
                            "relationship": relationship,
                        })
                    })
                    .collect();
                let options: Vec<String> = found
                    .iter()
                    .map(|rel| {
                        let via = rel
                            .junction
                            .as_ref()
                            .map_or(rel.fk.name.as_str(), |(j, _)| j.name.as_str());
                        format!("'{}!{via}'", rel.target.name)
                    })
                    .collect();
                let mut error = RestError::new(
                    StatusCode::MULTIPLE_CHOICES,
                    "PGRST201",
                    format!(
                        "Could not embed because more than one relationship was found for '{}' and '{name}'",
                        parent.name
                    ),
                )
                .hint(format!(
                    "Try changing '{name}' to one of the following: {}. Find the desired relationship in the \
                     'details' key.",
                    options.join(", ")
                ));
                error.details = serde_json::Value::Array(details);
                Err(error)
            }
        }
    }

    /// The select list of `table` (aliased `alias`) at embed `path`.
    fn select_list(
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
                    let rel = self.relationship(table, &embed.name, embed.hint.as_deref())?;
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

    fn select_items(&self) -> Vec<SelectItem> {
        self.query.select.clone().unwrap_or_else(|| vec![SelectItem::Star])
    }

    /// `WHERE` of the root: filters plus `!inner` conditions. Returns (select exprs, where clause).
    fn root(&mut self, table: &Table) -> RestResult<(Vec<String>, String)> {
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
    pub fn read(&mut self, table: &Table, page: Page, exact_count: bool, body: BodyFormat) -> RestResult<String> {
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
            body.render("COALESCE(pg_catalog.json_agg(_t), '[]'::json)"),
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

    /// The select over the rows a write returned, as (count, body) expressions.
    fn representation(&mut self, table: &Table, body: BodyFormat) -> RestResult<String> {
        let items = self.select_items();
        let rendered = self.select_list(table, "t0", &items, &[])?;
        self.check_nodes()?;
        let where_clause = if rendered.inner_conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", rendered.inner_conditions.join(" AND "))
        };
        Ok(format!(
            "(SELECT {} FROM (SELECT {} FROM pgrst_source AS \"t0\"{where_clause}) _t)",
            body.render("COALESCE(pg_catalog.json_agg(_t), '[]'::json)"),
            rendered.exprs.join(", ")
        ))
    }

    /// `WITH <ctes>pgrst_source AS (<dml>)` and the one result row: (`first`, count, body, location). Inserts
    /// put the number of rows they inserted (not updated by an upsert) in `first`; others put NULL.
    fn finish_write(
        &mut self,
        table: &Table,
        ctes: &str,
        dml: &str,
        first: &str,
        shape: &WriteShape,
    ) -> RestResult<String> {
        let body = match shape.returning {
            Returning::Representation => self.representation(table, shape.body)?,
            _ => {
                // Filters on embeds only shape a representation; without one they would be silently ignored.
                self.check_nodes()?;
                "NULL::text".to_owned()
            }
        };
        let location = match shape.returning {
            Returning::Location if !table.primary_key.is_empty() => {
                let columns: Vec<String> = table
                    .primary_key
                    .iter()
                    .map(|c| format!("{}::text", quote_ident(c)))
                    .collect();
                format!("(SELECT ARRAY[{}] FROM pgrst_source LIMIT 1)", columns.join(", "))
            }
            _ => "NULL::text[]".to_owned(),
        };
        Ok(format!(
            "WITH {ctes}pgrst_source AS ({dml}) SELECT {first}, (SELECT pg_catalog.count(*) FROM pgrst_source), \
             {body}, {location}"
        ))
    }

    fn returning(table: &Table, shape: &WriteShape) -> String {
        match shape.returning {
            Returning::Representation => " RETURNING \"t0\".*".to_owned(),
            Returning::Location if !table.primary_key.is_empty() => format!(
                " RETURNING {}",
                table
                    .primary_key
                    .iter()
                    .map(|c| format!("\"t0\".{}", quote_ident(c)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => " RETURNING 1".to_owned(),
        }
    }

    /// `INSERT … SELECT … FROM json_populate_recordset(…)`, optionally an upsert: one INSERT per group of rows
    /// (each group names the columns its rows write; the others take their defaults — identity, serial and
    /// domain defaults included — so `missing=default` is Postgres's own `DEFAULT`, and no sequence privilege
    /// beyond the table's is needed). Without `missing=default` there is one group of every column.
    pub fn insert(&mut self, table: &Table, groups: &[InsertGroup<'_>], shape: &WriteShape) -> RestResult<String> {
        let target = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name));
        // Whether an upsert inserted or updated a row is `xmax = 0` (a system column of plain tables).
        let track_inserted = shape.upsert.as_ref().is_some_and(|u| u.merge) && table.kind == 'r';
        let mut returning = Self::returning(table, shape);
        if track_inserted {
            returning.push_str(", (\"t0\".xmax = 0) AS \"pgrst_inserted\"");
        }
        let mut ctes = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            let names: Vec<String> = group.columns.iter().map(|c| quote_ident(&c.name)).collect();
            let mut dml = if names.is_empty() {
                if group.rows == 1 {
                    format!("INSERT INTO {target} AS \"t0\" DEFAULT VALUES")
                } else {
                    // Objects without keys: that many rows of defaults.
                    let count = self.params.bind(group.rows.to_string());
                    format!(
                        "INSERT INTO {target} AS \"t0\" SELECT FROM pg_catalog.generate_series(1, CAST({count} AS int8))"
                    )
                }
            } else {
                let payload = self.params.bind(group.json.clone());
                format!(
                    "INSERT INTO {target} AS \"t0\" ({}) SELECT {} FROM pg_catalog.json_populate_recordset(NULL::{target}, {payload}::json)",
                    names.join(", "),
                    names.join(", ")
                )
            };
            if let Some(upsert) = &shape.upsert {
                let keys: Vec<String> = upsert.on_conflict.iter().map(|c| quote_ident(c)).collect();
                dml.push_str(&format!(" ON CONFLICT ({})", keys.join(", ")));
                if upsert.merge && !names.is_empty() {
                    let sets: Vec<String> = names.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect();
                    dml.push_str(&format!(" DO UPDATE SET {}", sets.join(", ")));
                } else {
                    dml.push_str(" DO NOTHING");
                }
            }
            dml.push_str(&returning);
            ctes.push(format!("pgrst_insert_{i} AS ({dml})"));
        }
        let union: Vec<String> = (0..ctes.len())
            .map(|i| format!("SELECT * FROM pgrst_insert_{i}"))
            .collect();
        let columns: Vec<String> = match shape.returning {
            Returning::Representation => table.columns.iter().map(|c| quote_ident(&c.name)).collect(),
            Returning::Location if !table.primary_key.is_empty() => {
                table.primary_key.iter().map(|c| quote_ident(c)).collect()
            }
            _ => vec!["1".to_owned()],
        };
        let ctes = format!(
            "{}, pgrst_written AS ({}), ",
            ctes.join(", "),
            union.join(" UNION ALL ")
        );
        let dml = format!("SELECT {} FROM pgrst_written", columns.join(", "));
        let first = if track_inserted {
            "(SELECT pg_catalog.count(*) FROM pgrst_written WHERE \"pgrst_inserted\")"
        } else {
            "(SELECT pg_catalog.count(*) FROM pgrst_written)"
        };
        self.finish_write(table, &ctes, &dml, first, shape)
    }

    /// `UPDATE … SET … FROM json_populate_record(…) WHERE <filters>`.
    pub fn update(
        &mut self,
        table: &Table,
        columns: &[&Column],
        row_json: String,
        shape: &WriteShape,
    ) -> RestResult<String> {
        let target = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name));
        let payload = self.params.bind(row_json);
        let sets: Vec<String> = columns
            .iter()
            .map(|c| format!("{0} = _b.{0}", quote_ident(&c.name)))
            .collect();
        let node = self.node(&[]);
        let conditions = self.node_conditions(table, "t0", &node, &[])?;
        let mut dml = format!(
            "UPDATE {target} AS \"t0\" SET {} FROM (SELECT * FROM pg_catalog.json_populate_record(NULL::{target}, {payload}::json)) _b WHERE {}",
            sets.join(", "),
            conditions.join(" AND ")
        );
        dml.push_str(&Self::returning(table, shape));
        self.finish_write(table, "", &dml, "NULL::int8", shape)
    }

    /// `DELETE … WHERE <filters>`.
    pub fn delete(&mut self, table: &Table, shape: &WriteShape) -> RestResult<String> {
        let target = format!("{}.{}", quote_ident(&table.schema), quote_ident(&table.name));
        let node = self.node(&[]);
        let conditions = self.node_conditions(table, "t0", &node, &[])?;
        let mut dml = format!("DELETE FROM {target} AS \"t0\" WHERE {}", conditions.join(" AND "));
        dml.push_str(&Self::returning(table, shape));
        self.finish_write(table, "", &dml, "NULL::int8", shape)
    }

    /// A call of a set-returning or composite function, read like a table (`call` is the FROM item).
    pub fn rpc_rows(
        &mut self,
        pseudo: &Table,
        call: &str,
        page: Page,
        exact_count: bool,
        body: BodyFormat,
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
            body.render("COALESCE(pg_catalog.json_agg(_t), '[]'::json)"),
        ))
    }
}

/// Paging of the root.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Rows to skip.
    pub offset: i64,
    /// Rows at most.
    pub limit: Option<i64>,
}

/// How the body column is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// A JSON array.
    Json,
    /// CSV with a header line.
    Csv,
}

impl BodyFormat {
    /// Renders `json` (a JSON array expression) as text in this format.
    pub fn render(self, json: &str) -> String {
        match self {
            BodyFormat::Json => format!("({json})::text"),
            BodyFormat::Csv => csv_of(json),
        }
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

/// What a write returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    /// Nothing.
    Minimal,
    /// The primary key of the first row, for `Location`.
    Location,
    /// The rows, shaped by `select`.
    Representation,
}

/// `ON CONFLICT` handling.
#[derive(Debug, Clone)]
pub struct Upsert {
    /// Conflict target columns (checked against the cache).
    pub on_conflict: Vec<String>,
    /// `merge-duplicates` (else `ignore-duplicates`).
    pub merge: bool,
}

/// Rows of an insert that write the same columns.
#[derive(Debug, Clone)]
pub struct InsertGroup<'c> {
    /// The columns written (checked against the cache).
    pub columns: Vec<&'c Column>,
    /// The rows, a JSON array of objects.
    pub json: String,
    /// How many rows.
    pub rows: usize,
}

/// The shape of a write statement.
#[derive(Debug, Clone)]
pub struct WriteShape {
    /// What to return.
    pub returning: Returning,
    /// Body format of the representation.
    pub body: BodyFormat,
    /// `missing=default`.
    pub missing_default: bool,
    /// Upsert.
    pub upsert: Option<Upsert>,
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
