//! Writes: INSERT (grouped for `missing=default`, optionally an upsert), UPDATE and DELETE, each in a CTE whose
//! rows feed the one result row (inserted count, count, representation, `Location` key).

use super::fragment::body;
use super::{Builder, quote_ident};
use crate::error::RestResult;
use crate::plan::{BodyFormat, InsertGroup, WriteShape};
use crate::request::Returning;
use crate::schema::{Column, Table};

impl Builder<'_> {
    /// The select over the rows a write returned, as (count, body) expressions.
    pub(super) fn representation(&mut self, table: &Table, format: BodyFormat) -> RestResult<String> {
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
            body(format, "COALESCE(pg_catalog.json_agg(_t), '[]'::json)"),
            rendered.exprs.join(", ")
        ))
    }

    /// `WITH <ctes>pgrst_source AS (<dml>)` and the one result row: (`first`, count, body, location). Inserts
    /// put the number of rows they inserted (not updated by an upsert) in `first`; others put NULL.
    pub(super) fn finish_write(
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

    pub(super) fn returning(table: &Table, shape: &WriteShape) -> String {
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
}
