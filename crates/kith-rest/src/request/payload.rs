//! The body of a write or a POST call, as JSON. Refusals are 400 PGRST102 naming what was wrong.

use crate::error::{RestError, RestResult};
use axum::body::Bytes;
use serde_json::{Map, Value};

/// Whether the body is empty or only whitespace.
pub fn is_blank(body: &Bytes) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// Parses a JSON body.
pub fn json(body: &Bytes) -> RestResult<Value> {
    if is_blank(body) {
        return Err(RestError::body("Empty or invalid json"));
    }
    serde_json::from_slice(body).map_err(|err| RestError::body("Empty or invalid json").details(err.to_string()))
}

/// The rows of an insert: one object, or an array of objects.
pub fn objects(value: Value) -> RestResult<Vec<Map<String, Value>>> {
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
