//! Responses, PostgREST's `Response` stage: the status, `Content-Type`, `Content-Range`, `Preference-Applied`,
//! `Content-Profile` and `Location` headers and the body of each kind of answer, from the statement's
//! [`Outcome`]. The checks that must roll a transaction back (singular, max-affected) run before it commits.

use crate::error::{RestError, RestResult};
use crate::exec::Outcome;
use crate::plan::Page;
use crate::request::{ApiRequest, Media, Resolution, Returning};
use crate::schema::Table;
use axum::body::Body;
use axum::http::response::Builder;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `Content-Range` of `count` rows from `offset`, out of `total` (`*` when not counted).
pub fn content_range(offset: i64, count: i64, total: Option<i64>) -> String {
    let total = total.map_or("*".to_owned(), |t| t.to_string());
    if count == 0 {
        format!("*/{total}")
    } else {
        format!("{offset}-{}/{total}", offset.saturating_add(count - 1))
    }
}

fn finish(builder: Builder, body: Body) -> Response {
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

/// The body as negotiated: the array, or its one element for `Media::Object`.
fn shaped(body: String, media: Media) -> String {
    if media == Media::Object {
        single_element(&body)
    } else {
        body
    }
}

fn base_headers(req: &ApiRequest, builder: Builder, media: Media) -> Builder {
    let mut builder = builder.header(header::CONTENT_TYPE, media.content_type());
    if !req.prefs.applied.is_empty() {
        builder = builder.header("preference-applied", req.prefs.applied.join(", "));
    }
    if req.profile_header {
        builder = builder.header("content-profile", req.schema.as_str());
    }
    builder
}

/// `application/vnd.pgrst.object+json` needs exactly one row: else 406 PGRST116 (before commit).
pub fn expect_single(outcome: &Outcome, media: Media) -> RestResult<()> {
    if media == Media::Object && outcome.count != 1 {
        return Err(RestError::singular(outcome.count));
    }
    Ok(())
}

/// `Prefer: handling=strict, max-affected=n`: more rows than `n` → 400 PGRST124 (before commit).
pub fn check_max_affected(req: &ApiRequest, count: i64) -> RestResult<()> {
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

/// `OPTIONS` on a table or function.
pub fn options() -> Response {
    finish(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::ALLOW, "OPTIONS,GET,HEAD,POST,PATCH,DELETE"),
        Body::empty(),
    )
}

/// The answer to a read (table or set-returning function): 200, or 206 when the page is not everything; 416
/// PGRST103 for an offset past a known total.
pub fn rows(req: &ApiRequest, outcome: Outcome, media: Media, page: Page) -> RestResult<Response> {
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
    let builder = base_headers(req, Response::builder().status(status), media)
        .header(header::CONTENT_RANGE, content_range(page.offset, outcome.count, total));
    if req.method == Method::HEAD {
        return Ok(finish(builder, Body::empty()));
    }
    Ok(finish(
        builder,
        Body::from(shaped(outcome.body.unwrap_or_default(), media)),
    ))
}

/// The answer to an insert: 201 (200 for a merge-duplicates upsert that inserted nothing), `Location` for
/// `return=headers-only`, the rows for `return=representation`.
pub fn inserted(req: &ApiRequest, table: &Table, outcome: Outcome, media: Media, returning: Returning) -> Response {
    let total = req.prefs.count.map(|_| outcome.count);
    let status = match (req.prefs.resolution, outcome.total) {
        (Some(Resolution::MergeDuplicates), Some(inserted)) if inserted <= 0 => StatusCode::OK,
        _ => StatusCode::CREATED,
    };
    let mut builder = base_headers(req, Response::builder().status(status), media).header(
        header::CONTENT_RANGE,
        format!("*/{}", total.map_or("*".to_owned(), |t| t.to_string())),
    );
    if returning == Returning::Location
        && let Some(values) = &outcome.location
        && let Ok(value) = HeaderValue::from_str(&location(table, values))
    {
        builder = builder.header(header::LOCATION, value);
    }
    if returning == Returning::Representation {
        let body = outcome.body.unwrap_or_else(|| "[]".to_owned());
        return finish(builder, Body::from(shaped(body, media)));
    }
    finish(builder, Body::empty())
}

/// `/<table>?<pk>=eq.<value>&…` of the first row written.
fn location(table: &Table, values: &[Option<String>]) -> String {
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
    location
}

/// The answer to an update or delete: the rows (200) or 204, with `Content-Range`.
pub fn mutated(req: &ApiRequest, outcome: Outcome, media: Media, returning: Returning) -> Response {
    let total = req.prefs.count.map(|_| outcome.count);
    let range = content_range(0, outcome.count, total);
    if returning == Returning::Representation {
        let body = outcome.body.unwrap_or_else(|| "[]".to_owned());
        let builder =
            base_headers(req, Response::builder().status(StatusCode::OK), media).header(header::CONTENT_RANGE, range);
        return finish(builder, Body::from(shaped(body, media)));
    }
    let mut builder = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::CONTENT_RANGE, range);
    if !req.prefs.applied.is_empty() {
        builder = builder.header("preference-applied", req.prefs.applied.join(", "));
    }
    finish(builder, Body::empty())
}

/// The answer to a call that returns one value: a composite as an object (`single`), else the value itself.
pub fn value(req: &ApiRequest, outcome: Outcome, media: Media, single: bool) -> Response {
    let body = outcome.body.unwrap_or_else(|| "null".to_owned());
    let body = if single && media != Media::Csv {
        single_element(&body)
    } else {
        body
    };
    let media = if media == Media::Object { Media::Json } else { media };
    // One value is one row: `0-0/*`, or `0-0/1` with a count (supabase-js reads `count` from it).
    let builder = base_headers(req, Response::builder().status(StatusCode::OK), media)
        .header(header::CONTENT_RANGE, content_range(0, 1, req.prefs.count.map(|_| 1)));
    if req.method == Method::HEAD {
        return finish(builder, Body::empty());
    }
    finish(builder, Body::from(body))
}

/// The answer to a call of a `void` function.
pub fn no_content() -> Response {
    finish(Response::builder().status(StatusCode::NO_CONTENT), Body::empty())
}

/// The OpenAPI description (no body for HEAD).
pub fn description(method: &Method, document: &serde_json::Value) -> Response {
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, Media::OpenApi.content_type());
    if *method == Method::HEAD {
        return finish(builder, Body::empty());
    }
    finish(builder, Body::from(document.to_string()))
}
