//! Planning writes (PostgREST's `MutatePlan`): the columns a write touches (`columns=` or the payload's keys,
//! each found in the table), the upsert's conflict target, the insert's row groups for `missing=default`, and
//! the refusal of a PATCH or DELETE without filters.

use super::{BodyFormat, InsertGroup, Upsert, WriteShape, parse};
use crate::error::{RestError, RestResult};
use crate::parser::Query;
use crate::request::{ApiRequest, Media, Missing, Resolution, Returning, negotiate, payload};
use crate::schema::{Column, Table};
use axum::http::StatusCode;
use serde_json::{Map, Value};

/// What a write statement does.
#[derive(Debug, Clone)]
pub enum Write<'t> {
    /// INSERT these groups of rows.
    Insert(Vec<InsertGroup<'t>>),
    /// UPDATE these columns from one JSON object.
    Update {
        /// The columns set.
        columns: Vec<&'t Column>,
        /// The object, as JSON text.
        row: String,
    },
    /// DELETE.
    Delete,
}

/// A planned write.
#[derive(Debug, Clone)]
pub struct MutatePlan<'t> {
    /// The parsed query string (filters, `select` of the representation).
    pub query: Query,
    /// The answer's media type.
    pub media: Media,
    /// What the statement returns, and how.
    pub shape: WriteShape,
    /// The statement; `None` when there is nothing to write (no rows, or no columns to set).
    pub write: Option<Write<'t>>,
}

/// The shape of a write; `missing=default` applies to inserts only.
fn shape(req: &ApiRequest, media: Media, upsert: Option<Upsert>, insert: bool) -> WriteShape {
    WriteShape {
        returning: req.prefs.returning.unwrap_or(Returning::Minimal),
        body: BodyFormat::of(media),
        missing_default: insert && req.prefs.missing == Missing::Default,
        upsert,
    }
}

/// Plans a POST: rows, columns, upsert target.
pub fn insert<'t>(req: &ApiRequest, table: &'t Table) -> RestResult<MutatePlan<'t>> {
    let media = negotiate(req.accept.as_deref(), Media::ROWS)?;
    let query = parse(req, &|_| false)?;
    let rows = payload::objects(payload::json(&req.body)?)?;
    let columns = write_columns(table, &query, &rows)?;
    let upsert = match req.prefs.resolution {
        None => None,
        Some(resolution) => Some(Upsert {
            on_conflict: conflict_target(table, &query)?,
            merge: resolution == Resolution::MergeDuplicates,
        }),
    };
    let shape = shape(req, media, upsert, true);
    if columns.is_empty() && rows.len() > 1 {
        return Err(RestError::body("All object keys must match").details("The objects have no keys"));
    }
    let write = (!rows.is_empty()).then(|| Write::Insert(insert_groups(&columns, rows, shape.missing_default)));
    Ok(MutatePlan {
        query,
        media,
        shape,
        write,
    })
}

/// Plans a PATCH: filters required, one object, its columns.
pub fn update<'t>(req: &ApiRequest, table: &'t Table) -> RestResult<MutatePlan<'t>> {
    let media = negotiate(req.accept.as_deref(), Media::ROWS)?;
    let query = parse(req, &|_| false)?;
    require_filters(req, &query, "UPDATE")?;
    let Value::Object(row) = payload::json(&req.body)? else {
        return Err(RestError::body("Empty or invalid json").details("PATCH takes a single JSON object"));
    };
    let columns = write_columns(table, &query, std::slice::from_ref(&row))?;
    let shape = shape(req, media, None, false);
    let write = (!columns.is_empty()).then(|| Write::Update {
        columns,
        row: Value::Object(row).to_string(),
    });
    Ok(MutatePlan {
        query,
        media,
        shape,
        write,
    })
}

/// Plans a DELETE: filters required.
pub fn delete<'t>(req: &ApiRequest) -> RestResult<MutatePlan<'t>> {
    let media = negotiate(req.accept.as_deref(), Media::ROWS)?;
    let query = parse(req, &|_| false)?;
    require_filters(req, &query, "DELETE")?;
    let shape = shape(req, media, None, false);
    Ok(MutatePlan {
        query,
        media,
        shape,
        write: Some(Write::Delete),
    })
}

/// The upsert's conflict target: `on_conflict=` (each a column), else the primary key.
fn conflict_target(table: &Table, query: &Query) -> RestResult<Vec<String>> {
    match &query.on_conflict {
        Some(columns) => {
            for column in columns {
                if table.column(column).is_none() {
                    return Err(RestError::unknown_payload_column(&table.name, column));
                }
            }
            Ok(columns.clone())
        }
        None if !table.primary_key.is_empty() => Ok(table.primary_key.clone()),
        None => Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "PGRST100",
            "An upsert needs on_conflict: the table has no primary key",
        )),
    }
}

/// The columns a write touches: `columns=` if given, else the keys of the payload objects, each checked
/// against the table.
fn write_columns<'t>(table: &'t Table, query: &Query, rows: &[Map<String, Value>]) -> RestResult<Vec<&'t Column>> {
    let mut names: Vec<String> = Vec::new();
    match &query.columns {
        Some(columns) => names.clone_from(columns),
        None => {
            for row in rows {
                for key in row.keys() {
                    if !names.contains(key) {
                        names.push(key.clone());
                    }
                }
            }
        }
    }
    names
        .iter()
        .map(|name| {
            table
                .column(name)
                .ok_or_else(|| RestError::unknown_payload_column(&table.name, name))
        })
        .collect()
}

/// The rows of an insert as statement groups. With `missing=default` rows are grouped by the columns they
/// carry, so each absent key takes its column's default; otherwise one group writes every column (absent keys
/// are NULL).
fn insert_groups<'t>(
    columns: &[&'t Column],
    rows: Vec<Map<String, Value>>,
    missing_default: bool,
) -> Vec<InsertGroup<'t>> {
    if !missing_default {
        let count = rows.len();
        return vec![InsertGroup {
            columns: columns.to_vec(),
            json: Value::Array(rows.into_iter().map(Value::Object).collect()).to_string(),
            rows: count,
        }];
    }
    let mut groups: Vec<(Vec<bool>, Vec<Value>)> = Vec::new();
    for row in rows {
        let present: Vec<bool> = columns.iter().map(|c| row.contains_key(&c.name)).collect();
        match groups.iter_mut().find(|(key, _)| *key == present) {
            Some((_, members)) => members.push(Value::Object(row)),
            None => groups.push((present, vec![Value::Object(row)])),
        }
    }
    groups
        .into_iter()
        .map(|(present, members)| InsertGroup {
            columns: columns
                .iter()
                .zip(&present)
                .filter(|(_, here)| **here)
                .map(|(c, _)| *c)
                .collect(),
            rows: members.len(),
            json: Value::Array(members).to_string(),
        })
        .collect()
}

/// PATCH and DELETE need a filter and take no `limit`/`offset`.
fn require_filters(req: &ApiRequest, query: &Query, verb: &str) -> RestResult<()> {
    let root = query.root();
    if root.limit.is_some() || root.offset.is_some() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "PGRST100",
            format!("limit and offset are not supported with {}", req.method),
        ));
    }
    if !query.has_root_filters() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "21000",
            format!("{verb} requires a WHERE clause"),
        )
        .hint("Add a filter to the query string, e.g. ?id=eq.1"));
    }
    Ok(())
}
