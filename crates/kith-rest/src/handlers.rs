//! HTTP handlers of `/rest/v1`: content negotiation, `Prefer`, paging, and the answers PostgREST gives.

use crate::RestState;
use crate::auth;
use crate::error::{RestError, RestResult};
use crate::parser::{self, Query};
use crate::schema::{Function, Returns, SchemaCache, Table};
use crate::sql::{BodyFormat, Builder, InsertGroup, Page, Returning, Upsert, WriteShape, quote_ident};
use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use kith_db::tokio_postgres::types::ToSql;
use kith_db::{Access, Caller, CallerTx};
use kith_http::AppState;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Negotiated response media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Media {
    Json,
    Object,
    Csv,
    OpenApi,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json; charset=utf-8",
            Media::Object => "application/vnd.pgrst.object+json; charset=utf-8",
            Media::Csv => "text/csv; charset=utf-8",
            Media::OpenApi => "application/openapi+json; charset=utf-8",
        }
    }

    fn body_format(self) -> BodyFormat {
        if self == Media::Csv {
            BodyFormat::Csv
        } else {
            BodyFormat::Json
        }
    }
}

fn negotiate(headers: &HeaderMap, allowed: &[Media]) -> RestResult<Media> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(allowed[0]);
    };
    if accept.trim().is_empty() {
        return Ok(allowed[0]);
    }
    for part in accept.split(',') {
        let mime = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let media = match mime.as_str() {
            "*/*" | "application/*" => Some(allowed[0]),
            "application/json" | "application/vnd.pgrst.array+json" => Some(Media::Json),
            "application/vnd.pgrst.object+json" | "application/vnd.pgrst.object" => Some(Media::Object),
            "text/csv" => Some(Media::Csv),
            "application/openapi+json" => Some(Media::OpenApi),
            _ => None,
        };
        if let Some(media) = media.filter(|m| allowed.contains(m)) {
            return Ok(media);
        }
    }
    Err(RestError::new(
        StatusCode::NOT_ACCEPTABLE,
        "PGRST107",
        format!(
            "None of these media types are available: {}",
            accept.chars().take(200).collect::<String>()
        ),
    ))
}

/// `Prefer` values Kith understands.
#[derive(Debug, Default)]
struct Prefs {
    returning: Option<Returning>,
    count: Option<&'static str>,
    merge: Option<bool>,
    missing_default: bool,
    /// `max-affected=n`, honoured with `handling=strict` on PATCH and DELETE.
    max_affected: Option<i64>,
    applied: Vec<String>,
}

fn prefs(headers: &HeaderMap) -> RestResult<Prefs> {
    let mut prefs = Prefs::default();
    let mut unknown = Vec::new();
    let mut strict = false;
    for value in headers.get_all("prefer") {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let applied = match item {
                "return=representation" => {
                    prefs.returning = Some(Returning::Representation);
                    true
                }
                "return=minimal" => {
                    prefs.returning = Some(Returning::Minimal);
                    true
                }
                "return=headers-only" => {
                    prefs.returning = Some(Returning::Location);
                    true
                }
                "count=exact" | "count=planned" | "count=estimated" => {
                    prefs.count = Some(match item {
                        "count=exact" => "exact",
                        "count=planned" => "planned",
                        _ => "estimated",
                    });
                    true
                }
                "resolution=merge-duplicates" => {
                    prefs.merge = Some(true);
                    true
                }
                "resolution=ignore-duplicates" => {
                    prefs.merge = Some(false);
                    true
                }
                "missing=default" => {
                    prefs.missing_default = true;
                    true
                }
                "missing=null" | "handling=lenient" => true,
                _ if item.starts_with("max-affected=") => {
                    match item["max-affected=".len()..].parse::<i64>().ok().filter(|n| *n >= 0) {
                        Some(n) => prefs.max_affected = Some(n),
                        None => unknown.push(item.to_owned()),
                    }
                    false
                }
                "handling=strict" => {
                    strict = true;
                    true
                }
                _ => {
                    unknown.push(item.to_owned());
                    false
                }
            };
            if applied && !prefs.applied.iter().any(|a| a == item) {
                prefs.applied.push(item.to_owned());
            }
        }
    }
    match prefs.max_affected {
        Some(n) if strict => prefs.applied.push(format!("max-affected={n}")),
        _ => prefs.max_affected = None,
    }
    if strict && !unknown.is_empty() {
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "PGRST122",
            "Invalid preferences given with handling=strict",
        )
        .details(format!("Invalid preferences: {}", unknown.join(", "))));
    }
    Ok(prefs)
}

/// The schema a request addresses: `Accept-Profile` (reads) or `Content-Profile` (writes), else the first.
fn profile(rest: &RestState, headers: &HeaderMap, method: &Method) -> RestResult<(String, bool)> {
    let name = if *method == Method::GET || *method == Method::HEAD {
        "accept-profile"
    } else {
        "content-profile"
    };
    let default = rest
        .config
        .schemas
        .first()
        .cloned()
        .unwrap_or_else(|| "public".to_owned());
    match headers.get(name).and_then(|v| v.to_str().ok()) {
        None => Ok((default, false)),
        Some(schema) if rest.config.schemas.iter().any(|s| s == schema) => Ok((schema.to_owned(), true)),
        Some(schema) => Err(RestError::new(
            StatusCode::NOT_ACCEPTABLE,
            "PGRST106",
            format!("Invalid schema: {}", schema.chars().take(100).collect::<String>()),
        )
        .hint(format!(
            "Only the following schemas are exposed: {}",
            rest.config.schemas.join(", ")
        ))),
    }
}

/// Everything a handler needs about the request.
struct Request {
    app: AppState,
    rest: Arc<RestState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    pairs: Vec<(String, String)>,
    schema: String,
    profile_header: bool,
    cache: Arc<SchemaCache>,
    prefs: Prefs,
}

async fn prepare(
    app: AppState,
    rest: Arc<RestState>,
    method: Method,
    uri: &Uri,
    headers: HeaderMap,
) -> RestResult<Request> {
    let path = uri.path().strip_prefix("/rest/v1").unwrap_or(uri.path()).to_owned();
    let caller = auth::caller(&headers, &app.verifier, method.as_str(), &path)?;
    let (schema, profile_header) = profile(&rest, &headers, &method)?;
    let prefs = prefs(&headers)?;
    let cache = rest.schema(&app.db).await?;
    Ok(Request {
        pairs: parser::query_pairs(uri.query()),
        app,
        rest,
        caller,
        method,
        headers,
        schema,
        profile_header,
        cache,
        prefs,
    })
}

impl Request {
    fn table(&self, name: &str) -> RestResult<Table> {
        self.cache
            .table(&self.schema, name)
            .cloned()
            .ok_or_else(|| RestError::unknown_table(&self.schema, name, self.cache.similar_table(&self.schema, name)))
    }

    /// Opens the caller's transaction with the data API's `statement_timeout`, which travels with `BEGIN`, the
    /// identity and the statement in one round trip.
    async fn begin(&self, access: Access) -> RestResult<CallerTx> {
        let tx = self
            .app
            .db
            .begin_as(&self.caller, access)
            .await
            .map_err(|err| self.db_error(&err))?;
        Ok(tx.with_statement_timeout(self.rest.config.statement_timeout_ms))
    }

    fn db_error(&self, err: &kith_db::DbError) -> RestError {
        RestError::from_db(err, self.caller.role())
    }

    /// Runs the statement; returns (total, count, body, location).
    async fn run(&self, tx: &mut CallerTx, sql: &str, values: &[Option<String>]) -> RestResult<Outcome> {
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = tx
            .query_uncached(sql, &params)
            .await
            .map_err(|err| self.db_error(&err))?;
        let row = rows
            .first()
            .ok_or_else(|| RestError::internal(&"the statement returned no row"))?;
        Ok(Outcome {
            total: row.try_get(0).map_err(|err| RestError::internal(&err))?,
            count: row
                .try_get::<_, Option<i64>>(1)
                .map_err(|err| RestError::internal(&err))?
                .unwrap_or(0),
            body: row.try_get(2).map_err(|err| RestError::internal(&err))?,
            location: row.try_get(3).map_err(|err| RestError::internal(&err))?,
        })
    }

    fn base_headers(&self, builder: axum::http::response::Builder, media: Media) -> axum::http::response::Builder {
        let mut builder = builder.header(header::CONTENT_TYPE, media.content_type());
        if !self.prefs.applied.is_empty() {
            builder = builder.header("preference-applied", self.prefs.applied.join(", "));
        }
        if self.profile_header {
            builder = builder.header("content-profile", self.schema.as_str());
        }
        builder
    }

    fn page(&self, query: &Query) -> RestResult<Page> {
        let node = query.root();
        let max_rows = self.rest.config.max_rows;
        let mut lower = node.offset.unwrap_or(0);
        let mut upper: Option<i64> = node.limit.map(|l| lower.saturating_add(l).saturating_sub(1));
        if self.method == Method::GET
            && let Some((from, to)) = range_header(&self.headers)?
        {
            lower = lower.max(from);
            upper = match (upper, to) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
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
}

struct Outcome {
    total: Option<i64>,
    count: i64,
    body: Option<String>,
    location: Option<Vec<Option<String>>>,
}

fn range_header(headers: &HeaderMap) -> RestResult<Option<(i64, Option<i64>)>> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let value = value.trim();
    let value = value.strip_prefix("items=").unwrap_or(value);
    let Some((from, to)) = value.split_once('-') else {
        return Ok(None);
    };
    let Ok(from) = from.trim().parse::<i64>() else {
        return Ok(None);
    };
    let to = match to.trim() {
        "" => None,
        to => match to.parse::<i64>() {
            Ok(to) => Some(to),
            Err(_) => return Ok(None),
        },
    };
    if from < 0 || to.is_some_and(|to| to < from) {
        return Err(RestError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
        )
        .details("The lower boundary must be lower than or equal to the upper boundary in the Range header."));
    }
    Ok(Some((from, to)))
}

fn content_range(offset: i64, count: i64, total: Option<i64>) -> String {
    let total = total.map_or("*".to_owned(), |t| t.to_string());
    if count == 0 {
        format!("*/{total}")
    } else {
        format!("{offset}-{}/{total}", offset.saturating_add(count - 1))
    }
}

fn finish(builder: axum::http::response::Builder, body: Body) -> Response {
    builder
        .body(body)
        .unwrap_or_else(|err| RestError::internal(&err).into_response())
}

/// The body of a singular response: the one element of the JSON array Postgres built (`json_agg` writes
/// exactly `[` element `]` for one row).
fn single_element(array: &str) -> String {
    let trimmed = array.trim();
    match trimmed.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')) {
        Some(inner) if !inner.trim().is_empty() => inner.trim().to_owned(),
        _ => "null".to_owned(),
    }
}

fn parse_query_for(req: &Request, is_arg: &dyn Fn(&str) -> bool) -> RestResult<Query> {
    parser::parse_query(&req.pairs, is_arg).map_err(RestError::parse)
}

/// `/rest/v1/{table}`: GET, HEAD, POST, PATCH, DELETE.
pub async fn table(
    State(app): State<AppState>,
    Extension(rest): Extension<Arc<RestState>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        if method == Method::OPTIONS {
            return Ok(options_response());
        }
        if ![Method::GET, Method::HEAD, Method::POST, Method::PATCH, Method::DELETE].contains(&method) {
            return Err(RestError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "PGRST117",
                format!("Unsupported HTTP method: {method}"),
            ));
        }
        let req = prepare(app, rest, method, &uri, headers).await?;
        let table = req.table(&name)?;
        match req.method.clone() {
            m if m == Method::GET || m == Method::HEAD => read(&req, &table).await,
            m if m == Method::POST => insert(&req, &table, &body).await,
            m if m == Method::PATCH => update(&req, &table, &body).await,
            _ => delete(&req, &table).await,
        }
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

fn options_response() -> Response {
    finish(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::ALLOW, "OPTIONS,GET,HEAD,POST,PATCH,DELETE"),
        Body::empty(),
    )
}

async fn read(req: &Request, table: &Table) -> RestResult<Response> {
    let media = negotiate(&req.headers, &[Media::Json, Media::Object, Media::Csv])?;
    let query = parse_query_for(req, &|_| false)?;
    let page = req.page(&query)?;
    let mut builder = Builder::new(&req.cache, &query);
    let exact = matches!(req.prefs.count, Some("exact" | "estimated"));
    let sql = builder.read(table, page, exact, media.body_format())?;
    let mut tx = req.begin(Access::ReadOnly).await?;
    let mut outcome = req.run(&mut tx, &sql, &builder.params.values).await?;
    let max_rows = req.rest.config.max_rows;
    let wants_plan = match req.prefs.count {
        Some("planned") => true,
        Some("estimated") => outcome.total.is_some_and(|total| total > max_rows),
        _ => false,
    };
    if wants_plan {
        let mut planner = Builder::new(&req.cache, &query);
        let explain = planner.explain_count(table)?;
        let params: Vec<&(dyn ToSql + Sync)> = planner.params.values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let rows = tx
            .query_uncached(&explain, &params)
            .await
            .map_err(|err| req.db_error(&err))?;
        let plan: Option<Value> = rows.first().and_then(|row| row.try_get(0).ok());
        let estimate = plan
            .as_ref()
            .and_then(|plan| plan.get(0)?.get("Plan")?.get("Plan Rows")?.as_i64());
        outcome.total = match (estimate, req.prefs.count) {
            // `estimated` never answers less than the exact count it already knows to exceed max-rows.
            (Some(estimate), Some("estimated")) => Some(estimate.max(max_rows)),
            (Some(estimate), _) => Some(estimate),
            (None, _) => outcome.total,
        };
    }
    respond_rows(req, tx, outcome, media, page).await
}

/// The answer to a read (table or set-returning function).
async fn respond_rows(req: &Request, tx: CallerTx, outcome: Outcome, media: Media, page: Page) -> RestResult<Response> {
    if media == Media::Object && outcome.count != 1 {
        return Err(RestError::singular(outcome.count)); // dropping `tx` rolls back
    }
    tx.commit().await.map_err(|err| req.db_error(&err))?;
    let total = outcome.total;
    if let Some(total) = total
        && page.offset > total
    {
        return Err(RestError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "PGRST103",
            "Requested range not satisfiable",
        )
        .details(format!(
            "An offset of {} was requested, but there are only {total} rows.",
            page.offset
        )));
    }
    let status = match total {
        Some(total) if outcome.count < total => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    let builder = req
        .base_headers(Response::builder().status(status), media)
        .header(header::CONTENT_RANGE, content_range(page.offset, outcome.count, total));
    let body = outcome.body.unwrap_or_default();
    let body = if media == Media::Object {
        single_element(&body)
    } else {
        body
    };
    if req.method == Method::HEAD {
        return Ok(finish(builder, Body::empty()));
    }
    Ok(finish(builder, Body::from(body)))
}

/// Parses a JSON body.
fn json_body(body: &Bytes) -> RestResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::body("Empty or invalid json"));
    }
    serde_json::from_slice(body).map_err(|err| RestError::body("Empty or invalid json").details(err.to_string()))
}

/// The columns a write touches: `columns=` if given, else the keys of the payload objects, each checked
/// against the table.
fn write_columns<'t>(
    table: &'t Table,
    query: &Query,
    rows: &[Map<String, Value>],
) -> RestResult<Vec<&'t crate::schema::Column>> {
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

fn objects(value: Value) -> RestResult<Vec<Map<String, Value>>> {
    match value {
        Value::Object(map) => Ok(vec![map]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(map),
                _ => Err(RestError::body("All object keys must match").details("Every element must be a JSON object")),
            })
            .collect(),
        _ => Err(RestError::body("Empty or invalid json").details("Send a JSON object or an array of objects")),
    }
}

fn write_media(req: &Request) -> RestResult<Media> {
    negotiate(&req.headers, &[Media::Json, Media::Object, Media::Csv])
}

async fn insert(req: &Request, table: &Table, body: &Bytes) -> RestResult<Response> {
    let media = write_media(req)?;
    let query = parse_query_for(req, &|_| false)?;
    let rows = objects(json_body(body)?)?;
    let columns = write_columns(table, &query, &rows)?;
    let upsert = match req.prefs.merge {
        None => None,
        Some(merge) => {
            let on_conflict = match &query.on_conflict {
                Some(columns) => {
                    for column in columns {
                        if table.column(column).is_none() {
                            return Err(RestError::unknown_payload_column(&table.name, column));
                        }
                    }
                    columns.clone()
                }
                None if !table.primary_key.is_empty() => table.primary_key.clone(),
                None => {
                    return Err(RestError::new(
                        StatusCode::BAD_REQUEST,
                        "PGRST100",
                        "An upsert needs on_conflict: the table has no primary key",
                    ));
                }
            };
            Some(Upsert { on_conflict, merge })
        }
    };
    let shape = WriteShape {
        returning: req.prefs.returning.unwrap_or(Returning::Minimal),
        body: media.body_format(),
        missing_default: req.prefs.missing_default,
        upsert,
    };
    if columns.is_empty() && rows.len() > 1 {
        return Err(RestError::body("All object keys must match").details("The objects have no keys"));
    }
    let mut builder = Builder::new(&req.cache, &query);
    let sql = if rows.is_empty() {
        None
    } else {
        let groups = insert_groups(&columns, rows, shape.missing_default);
        Some(builder.insert(table, &groups, &shape)?)
    };
    let outcome = match &sql {
        Some(sql) => {
            let mut tx = req.begin(Access::ReadWrite).await?;
            let outcome = req.run(&mut tx, sql, &builder.params.values).await?;
            if media == Media::Object && outcome.count != 1 {
                return Err(RestError::singular(outcome.count));
            }
            tx.commit().await.map_err(|err| req.db_error(&err))?;
            outcome
        }
        None => {
            if media == Media::Object {
                return Err(RestError::singular(0));
            }
            Outcome {
                total: Some(0),
                count: 0,
                body: Some("[]".to_owned()),
                location: None,
            }
        }
    };
    let total = req.prefs.count.map(|_| outcome.count);
    // PostgREST: a merge-duplicates upsert that inserted no row (only updated) answers 200, else 201.
    let status = match (req.prefs.merge, outcome.total) {
        (Some(true), Some(inserted)) if inserted <= 0 => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    let mut builder = req.base_headers(Response::builder().status(status), media).header(
        header::CONTENT_RANGE,
        format!("*/{}", total.map_or("*".to_owned(), |t| t.to_string())),
    );
    if shape.returning == Returning::Location
        && let Some(values) = &outcome.location
    {
        let mut location = format!("/{}", table.name);
        let pairs: Vec<String> = table
            .primary_key
            .iter()
            .zip(values)
            .map(|(column, value)| {
                let value = value.clone().unwrap_or_else(|| "null".to_owned());
                let encoded: String = url::form_urlencoded::byte_serialize(format!("eq.{value}").as_bytes()).collect();
                let key: String = url::form_urlencoded::byte_serialize(column.as_bytes()).collect();
                format!("{key}={encoded}")
            })
            .collect();
        if !pairs.is_empty() {
            location.push('?');
            location.push_str(&pairs.join("&"));
        }
        if let Ok(value) = HeaderValue::from_str(&location) {
            builder = builder.header(header::LOCATION, value);
        }
    }
    if shape.returning == Returning::Representation {
        let body = outcome.body.unwrap_or_else(|| "[]".to_owned());
        let body = if media == Media::Object {
            single_element(&body)
        } else {
            body
        };
        return Ok(finish(builder, Body::from(body)));
    }
    Ok(finish(builder, Body::empty()))
}

/// The rows of an insert as statement groups. With `missing=default` rows are grouped by the columns they
/// carry, so each absent key takes its column's default; otherwise one group writes every column (absent keys
/// are NULL).
fn insert_groups<'t>(
    columns: &[&'t crate::schema::Column],
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

fn require_filters(req: &Request, query: &Query, verb: &str) -> RestResult<()> {
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

async fn update(req: &Request, table: &Table, body: &Bytes) -> RestResult<Response> {
    let media = write_media(req)?;
    let query = parse_query_for(req, &|_| false)?;
    require_filters(req, &query, "UPDATE")?;
    let Value::Object(row) = json_body(body)? else {
        return Err(RestError::body("Empty or invalid json").details("PATCH takes a single JSON object"));
    };
    let columns = write_columns(table, &query, std::slice::from_ref(&row))?;
    let shape = WriteShape {
        returning: req.prefs.returning.unwrap_or(Returning::Minimal),
        body: media.body_format(),
        missing_default: false,
        upsert: None,
    };
    let outcome = if columns.is_empty() {
        Outcome {
            total: None,
            count: 0,
            body: Some("[]".to_owned()),
            location: None,
        }
    } else {
        let mut builder = Builder::new(&req.cache, &query);
        let sql = builder.update(table, &columns, Value::Object(row).to_string(), &shape)?;
        let mut tx = req.begin(Access::ReadWrite).await?;
        let outcome = req.run(&mut tx, &sql, &builder.params.values).await?;
        if media == Media::Object && outcome.count != 1 {
            return Err(RestError::singular(outcome.count));
        }
        check_max_affected(req, outcome.count)?;
        tx.commit().await.map_err(|err| req.db_error(&err))?;
        outcome
    };
    Ok(respond_mutation(req, outcome, media, shape.returning))
}

async fn delete(req: &Request, table: &Table) -> RestResult<Response> {
    let media = write_media(req)?;
    let query = parse_query_for(req, &|_| false)?;
    require_filters(req, &query, "DELETE")?;
    let shape = WriteShape {
        returning: req.prefs.returning.unwrap_or(Returning::Minimal),
        body: media.body_format(),
        missing_default: false,
        upsert: None,
    };
    let mut builder = Builder::new(&req.cache, &query);
    let sql = builder.delete(table, &shape)?;
    let mut tx = req.begin(Access::ReadWrite).await?;
    let outcome = req.run(&mut tx, &sql, &builder.params.values).await?;
    if media == Media::Object && outcome.count != 1 {
        return Err(RestError::singular(outcome.count));
    }
    check_max_affected(req, outcome.count)?;
    tx.commit().await.map_err(|err| req.db_error(&err))?;
    Ok(respond_mutation(req, outcome, media, shape.returning))
}

/// `Prefer: handling=strict, max-affected=n`: more rows than `n` → 400 PGRST124 (the caller drops the
/// transaction, which rolls it back).
fn check_max_affected(req: &Request, count: i64) -> RestResult<()> {
    match req.prefs.max_affected {
        Some(max) if count > max => Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "PGRST124",
            "Query result exceeds max-affected preference constraint",
        )
        .details(format!("The query affects {count} rows"))),
        _ => Ok(()),
    }
}

fn respond_mutation(req: &Request, outcome: Outcome, media: Media, returning: Returning) -> Response {
    let total = req.prefs.count.map(|_| outcome.count);
    let range = content_range(0, outcome.count, total);
    if returning == Returning::Representation {
        let body = outcome.body.unwrap_or_else(|| "[]".to_owned());
        let body = if media == Media::Object {
            single_element(&body)
        } else {
            body
        };
        let builder = req
            .base_headers(Response::builder().status(StatusCode::OK), media)
            .header(header::CONTENT_RANGE, range);
        return finish(builder, Body::from(body));
    }
    let mut builder = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::CONTENT_RANGE, range);
    if !req.prefs.applied.is_empty() {
        builder = builder.header("preference-applied", req.prefs.applied.join(", "));
    }
    finish(builder, Body::empty())
}

/// `/rest/v1/rpc/{function}`: GET, HEAD, POST.
pub async fn rpc(
    State(app): State<AppState>,
    Extension(rest): Extension<Arc<RestState>>,
    Path(name): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = async {
        if method == Method::OPTIONS {
            return Ok(options_response());
        }
        if ![Method::GET, Method::HEAD, Method::POST].contains(&method) {
            return Err(RestError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "PGRST101",
                format!("Cannot use the {method} method on RPC"),
            ));
        }
        let req = prepare(app, rest, method, &uri, headers).await?;
        call(&req, &name, &body).await
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// How a function's arguments reach it.
enum Args {
    /// From the query string: name → text value.
    Text(Vec<(String, String)>),
    /// From a JSON object body.
    Json(Map<String, Value>),
    /// The whole body to the function's one unnamed json/jsonb parameter.
    Whole(Value),
}

fn pick_function<'f>(
    req: &Request,
    name: &str,
    overloads: &'f [Function],
    keys: &[String],
    whole: bool,
) -> RestResult<&'f Function> {
    let candidates: Vec<&Function> = overloads
        .iter()
        .filter(|f| {
            if whole {
                return f.args.len() == 1
                    && f.args[0].name.is_empty()
                    && matches!(f.args[0].type_sql.as_str(), "json" | "jsonb");
            }
            keys.iter().all(|k| f.args.iter().any(|a| &a.name == k))
                && f.args.iter().all(|a| a.has_default || keys.contains(&a.name))
        })
        .collect();
    match candidates.len() {
        1 => Ok(candidates[0]),
        0 => {
            let mut sorted = keys.to_vec();
            sorted.sort();
            Err(RestError::new(
                StatusCode::NOT_FOUND,
                "PGRST202",
                format!(
                    "Could not find the function {}.{name}({}) in the schema cache",
                    req.schema,
                    sorted.join(", ")
                ),
            )
            .hint("Check the function's name and the names of its arguments"))
        }
        _ => Err(RestError::new(
            StatusCode::MULTIPLE_CHOICES,
            "PGRST203",
            format!(
                "Could not choose the best candidate function between the overloads of {}.{name}",
                req.schema
            ),
        )),
    }
}

async fn call(req: &Request, name: &str, body: &Bytes) -> RestResult<Response> {
    let overloads = req
        .cache
        .functions
        .get(&(req.schema.clone(), name.to_owned()))
        .cloned()
        .unwrap_or_default();
    let arg_names: Vec<String> = overloads
        .iter()
        .flat_map(|f| f.args.iter().map(|a| a.name.clone()))
        .collect();
    let values: std::collections::HashMap<&str, &str> =
        req.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let is_arg = |key: &str| {
        arg_names.iter().any(|a| !a.is_empty() && a == key)
            || (req.method != Method::POST
                && !key.contains(['.', '-'])
                && !matches!(key, "order" | "limit" | "offset" | "or" | "and")
                && values.get(key).is_some_and(|v| !parser::is_filter_value(v)))
    };
    let query = parse_query_for(req, &is_arg)?;
    let args = if req.method == Method::POST {
        let value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            json_body(body)?
        };
        match value {
            Value::Object(map) => {
                let single_json = overloads.iter().any(|f| {
                    f.args.len() == 1
                        && f.args[0].name.is_empty()
                        && matches!(f.args[0].type_sql.as_str(), "json" | "jsonb")
                });
                if single_json {
                    Args::Whole(Value::Object(map))
                } else {
                    Args::Json(map)
                }
            }
            other => Args::Whole(other),
        }
    } else {
        Args::Text(query.args.clone())
    };
    let keys: Vec<String> = match &args {
        Args::Text(pairs) => pairs.iter().map(|(k, _)| k.clone()).collect(),
        Args::Json(map) => map.keys().cloned().collect(),
        Args::Whole(_) => Vec::new(),
    };
    if overloads.is_empty() {
        return Err(pick_function(req, name, &[], &keys, false)
            .err()
            .unwrap_or_else(RestError::cache_unavailable));
    }
    let function = pick_function(req, name, &overloads, &keys, matches!(args, Args::Whole(_)))?;
    if req.prefs.max_affected.is_some() && !function.returns_set {
        // PostgREST 13: only a set can be counted against max-affected.
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "PGRST128",
            "Function must return SETOF or TABLE when max-affected preference is used with handling=strict",
        ));
    }
    let media = negotiate(&req.headers, &[Media::Json, Media::Object, Media::Csv])?;
    let mut builder = Builder::new(&req.cache, &query);
    let target = format!("{}.{}", quote_ident(&function.schema), quote_ident(&function.name));
    let (prefix, call_expr) = match &args {
        Args::Text(pairs) => {
            let mut named = Vec::new();
            for (key, value) in pairs {
                let arg = function
                    .args
                    .iter()
                    .find(|a| &a.name == key)
                    .ok_or_else(|| RestError::internal(&"argument vanished"))?;
                let placeholder = builder.params.bind(value.clone());
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
            let placeholder = builder.params.bind(Value::Object(map.clone()).to_string());
            let mut definitions = Vec::new();
            let mut named = Vec::new();
            for key in map.keys() {
                let arg = function
                    .args
                    .iter()
                    .find(|a| &a.name == key)
                    .ok_or_else(|| RestError::internal(&"argument vanished"))?;
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
            let placeholder = builder.params.bind(value.to_string());
            let arg_type = function.args.first().map_or("json", |a| a.type_sql.as_str());
            (None, format!("{target}(CAST({placeholder} AS {arg_type}))"))
        }
    };
    let from_item = match &prefix {
        Some(prefix) => format!("{prefix} CROSS JOIN LATERAL {call_expr}"),
        None => call_expr.clone(),
    };
    let page = req.page(&query)?;
    let (sql, kind) = match &function.returns {
        Returns::Composite(columns) => {
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
            let sql = builder.rpc_rows(
                &pseudo,
                &from_item,
                page,
                req.prefs.count.is_some(),
                media.body_format(),
            )?;
            (sql, if function.returns_set { Kind::Rows } else { Kind::Single })
        }
        Returns::Scalar if function.returns_set => {
            builder.check_nodes()?;
            let paging_limit = builder
                .params
                .bind(page.limit.unwrap_or(req.rest.config.max_rows).to_string());
            let paging_offset = builder.params.bind(page.offset.to_string());
            (
                format!(
                    "WITH pgrst_source AS (SELECT \"t0\".\"v\" FROM {from_item} AS \"t0\"(\"v\") LIMIT CAST({paging_limit} AS int8) \
                     OFFSET CAST({paging_offset} AS int8)) SELECT NULL::int8, pg_catalog.count(*)::int8, \
                     COALESCE(pg_catalog.json_agg(\"v\"), '[]'::json)::text, NULL::text[] FROM pgrst_source"
                ),
                Kind::Rows,
            )
        }
        Returns::Scalar => {
            builder.check_nodes()?;
            let from = prefix.as_ref().map(|p| format!(" FROM {p}")).unwrap_or_default();
            (
                format!("SELECT NULL::int8, 1::int8, pg_catalog.to_json({call_expr})::text, NULL::text[]{from}"),
                Kind::Scalar,
            )
        }
        Returns::Void => {
            builder.check_nodes()?;
            let from = prefix.as_ref().map(|p| format!(" FROM {p}")).unwrap_or_default();
            (
                // The call sits in the target list, where it is always evaluated (void casts to '').
                format!("SELECT NULL::int8, 0::int8, ({call_expr})::text, NULL::text[]{from}"),
                Kind::Void,
            )
        }
    };
    let read_only = req.method != Method::POST || matches!(function.volatility, 's' | 'i');
    let mut tx = req
        .begin(if read_only { Access::ReadOnly } else { Access::ReadWrite })
        .await?;
    let outcome = req.run(&mut tx, &sql, &builder.params.values).await?;
    match kind {
        Kind::Rows => {
            // More rows than `max-affected` (with handling=strict): dropping `tx` rolls the call back.
            check_max_affected(req, outcome.count)?;
            respond_rows(req, tx, outcome, media, page).await
        }
        Kind::Single | Kind::Scalar => {
            tx.commit().await.map_err(|err| req.db_error(&err))?;
            let body = outcome.body.unwrap_or_else(|| "null".to_owned());
            let body = if kind == Kind::Single && media != Media::Csv {
                single_element(&body)
            } else {
                body
            };
            let media = if media == Media::Object { Media::Json } else { media };
            // One value is one row: `0-0/*`, or `0-0/1` with a count (supabase-js reads `count` from it).
            let builder = req
                .base_headers(Response::builder().status(StatusCode::OK), media)
                .header(header::CONTENT_RANGE, content_range(0, 1, req.prefs.count.map(|_| 1)));
            if req.method == Method::HEAD {
                return Ok(finish(builder, Body::empty()));
            }
            Ok(finish(builder, Body::from(body)))
        }
        Kind::Void => {
            tx.commit().await.map_err(|err| req.db_error(&err))?;
            Ok(finish(
                Response::builder().status(StatusCode::NO_CONTENT),
                Body::empty(),
            ))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rows,
    Single,
    Scalar,
    Void,
}

/// `/rest/v1/`: the OpenAPI description of what the caller's role may read.
pub async fn root(
    State(app): State<AppState>,
    Extension(rest): Extension<Arc<RestState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let result = async {
        if method != Method::GET && method != Method::HEAD {
            return Err(RestError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "PGRST117",
                format!("Unsupported HTTP method: {method}"),
            ));
        }
        negotiate(&headers, &[Media::OpenApi, Media::Json])?;
        let req = prepare(app, rest, method, &uri, headers).await?;
        let document = crate::openapi::document(&req.cache, &req.schema, req.caller.role().as_str());
        let builder = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, Media::OpenApi.content_type());
        if req.method == Method::HEAD {
            return Ok(finish(builder, Body::empty()));
        }
        Ok(finish(builder, Body::from(document.to_string())))
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Any other path under `/rest/v1`.
pub async fn invalid_path() -> Response {
    RestError::new(
        StatusCode::NOT_FOUND,
        "PGRST125",
        "Invalid path specified in request URL",
    )
    .into_response()
}
