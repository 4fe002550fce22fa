//! Request reading, PostgREST's `ApiRequest` stage: the method, query pairs, schema profile, `Prefer`, `Accept`,
//! `Range` and body of a `/rest/v1` request, read into plain data before anything is planned. Nothing here
//! touches the database or the schema cache.

pub mod media;
pub mod payload;
pub mod prefs;
pub mod range;

pub use media::{Media, negotiate};
pub use prefs::{Count, Missing, Prefs, Resolution, Returning};
pub use range::RangeHeader;

use crate::error::{RestError, RestResult};
use crate::parser;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};

/// Everything a `/rest/v1` request asks for: plain data.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// The HTTP method.
    pub method: Method,
    /// The decoded query string pairs, in order.
    pub pairs: Vec<(String, String)>,
    /// The schema addressed.
    pub schema: String,
    /// Whether a profile header named the schema (then the answer carries `Content-Profile`).
    pub profile_header: bool,
    /// The `Prefer` header.
    pub prefs: Prefs,
    /// The raw `Accept` header, negotiated by the planner against what the endpoint produces.
    pub accept: Option<String>,
    /// The `Range` header of a GET (other methods: absent).
    pub range: RangeHeader,
    /// The body.
    pub body: Bytes,
}

impl ApiRequest {
    /// Reads a request addressed to one of `schemas` (the first is the default profile).
    pub fn read(schemas: &[String], method: Method, uri: &Uri, headers: &HeaderMap, body: Bytes) -> RestResult<Self> {
        let (schema, profile_header) = profile(schemas, headers, &method)?;
        let prefs = Prefs::read(headers)?;
        // PostgREST reads `Range` on GET only.
        let range = if method == Method::GET {
            RangeHeader::read(headers)
        } else {
            RangeHeader::Absent
        };
        Ok(ApiRequest {
            pairs: parser::query_pairs(uri.query()),
            accept: accept(headers),
            method,
            schema,
            profile_header,
            prefs,
            range,
            body,
        })
    }

    /// Whether the request reads (GET or HEAD).
    pub fn is_read(&self) -> bool {
        self.method == Method::GET || self.method == Method::HEAD
    }
}

/// The `Accept` header, if it is text.
pub fn accept(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The schema a request addresses: `Accept-Profile` (reads) or `Content-Profile` (writes), else the first
/// exposed one; another schema is 406 PGRST106.
fn profile(schemas: &[String], headers: &HeaderMap, method: &Method) -> RestResult<(String, bool)> {
    let name = if *method == Method::GET || *method == Method::HEAD {
        "accept-profile"
    } else {
        "content-profile"
    };
    let default = schemas.first().cloned().unwrap_or_else(|| "public".to_owned());
    match headers.get(name).and_then(|v| v.to_str().ok()) {
        None => Ok((default, false)),
        Some(schema) if schemas.iter().any(|s| s == schema) => Ok((schema.to_owned(), true)),
        Some(schema) => Err(RestError::new(
            StatusCode::NOT_ACCEPTABLE,
            "PGRST106",
            format!("Invalid schema: {}", schema.chars().take(100).collect::<String>()),
        )
        .hint(format!(
            "Only the following schemas are exposed: {}",
            schemas.join(", ")
        ))),
    }
}
