//! Planning, PostgREST's `Plan` stage: an [`ApiRequest`] checked against the schema cache and turned into what
//! the SQL builder needs — the negotiated media type, the parsed query, the page, the target table, the write's
//! columns and upsert target ([`mutate`]), the function an RPC resolves to and its arguments ([`call`]), and the
//! relationships embeds follow ([`relationship`]). Every name a plan carries has been found in the cache.

pub mod call;
pub mod mutate;
pub mod relationship;

use crate::error::{RestError, RestResult};
use crate::parser::{self, Query};
use crate::request::{ApiRequest, Count, Media, RangeHeader, Returning, negotiate};
use crate::schema::{Column, SchemaCache, Table};
use axum::http::StatusCode;

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
    /// The body format of a negotiated media type.
    pub fn of(media: Media) -> Self {
        if media == Media::Csv {
            BodyFormat::Csv
        } else {
            BodyFormat::Json
        }
    }
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

/// A read of a table or view.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    /// The parsed query string.
    pub query: Query,
    /// The answer's media type.
    pub media: Media,
    /// The page of the root.
    pub page: Page,
    /// `Prefer: count=`.
    pub count: Option<Count>,
}

impl ReadPlan {
    /// Whether the statement counts every matching row (`exact`, and `estimated` up to `max_rows`).
    pub fn exact_count(&self) -> bool {
        matches!(self.count, Some(Count::Exact | Count::Estimated))
    }

    /// Whether the planner's estimate is needed, given the exact total the statement found.
    pub fn wants_estimate(&self, total: Option<i64>, max_rows: i64) -> bool {
        match self.count {
            Some(Count::Planned) => true,
            Some(Count::Estimated) => total.is_some_and(|total| total > max_rows),
            _ => false,
        }
    }

    /// The total to answer once the planner estimated `estimate` rows.
    pub fn estimated_total(&self, exact: Option<i64>, estimate: Option<i64>, max_rows: i64) -> Option<i64> {
        match (estimate, self.count) {
            // `estimated` never answers less than the exact count it already knows to exceed max-rows.
            (Some(estimate), Some(Count::Estimated)) => Some(estimate.max(max_rows)),
            (Some(estimate), _) => Some(estimate),
            (None, _) => exact,
        }
    }
}

/// The table or view `name` of the request's schema, or 404 PGRST205 with a close name as hint.
pub fn table<'c>(cache: &'c SchemaCache, req: &ApiRequest, name: &str) -> RestResult<&'c Table> {
    cache
        .table(&req.schema, name)
        .ok_or_else(|| RestError::unknown_table(&req.schema, name, cache.similar_table(&req.schema, name)))
}

/// Plans a read: media type, query, page.
pub fn read(req: &ApiRequest, max_rows: i64) -> RestResult<ReadPlan> {
    let media = negotiate(req.accept.as_deref(), Media::ROWS)?;
    let query = parse(req, &|_| false)?;
    let page = page(req, &query, max_rows)?;
    Ok(ReadPlan {
        query,
        media,
        page,
        count: req.prefs.count,
    })
}

/// Parses the query string; keys for which `is_arg` holds are RPC arguments.
pub fn parse(req: &ApiRequest, is_arg: &dyn Fn(&str) -> bool) -> RestResult<Query> {
    parser::parse_query(&req.pairs, is_arg).map_err(RestError::parse)
}

/// The page of the root: `offset`/`limit` narrowed by the `Range` header, at most `max_rows` rows.
pub fn page(req: &ApiRequest, query: &Query, max_rows: i64) -> RestResult<Page> {
    let node = query.root();
    let mut lower = node.offset.unwrap_or(0);
    let mut upper: Option<i64> = node.limit.map(|l| lower.saturating_add(l).saturating_sub(1));
    match req.range {
        RangeHeader::Absent => {}
        RangeHeader::Unsatisfiable => {
            return Err(RestError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "PGRST103",
                "Requested range not satisfiable",
            )
            .details("The lower boundary must be lower than or equal to the upper boundary in the Range header."));
        }
        RangeHeader::Items { from, to } => {
            lower = lower.max(from);
            upper = match (upper, to) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    let limit = upper
        .map(|u| u.saturating_sub(lower).saturating_add(1).max(0))
        .unwrap_or(max_rows)
        .min(max_rows);
    Ok(Page {
        offset: lower,
        limit: Some(limit),
    })
}
