//! Planning an RPC (PostgREST's `CallPlan` and `findProc`): where the arguments come from (query string, a
//! JSON object body, or the whole body for one unnamed json/jsonb parameter), which overload they select
//! (PGRST202 none, PGRST203 ambiguous), how the result is answered, and whether the call may write.

use super::{Page, page, parse};
use crate::error::{RestError, RestResult};
use crate::parser::{self, Query};
use crate::request::{ApiRequest, Media, negotiate, payload};
use crate::schema::{Function, Returns, SchemaCache};
use axum::http::{Method, StatusCode};
use serde_json::{Map, Value};

/// How a function's arguments reach it.
#[derive(Debug, Clone)]
pub enum Args {
    /// From the query string: name → text value.
    Text(Vec<(String, String)>),
    /// From a JSON object body.
    Json(Map<String, Value>),
    /// The whole body to the function's one unnamed json/jsonb parameter.
    Whole(Value),
}

/// How a call's result is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallResult {
    /// A set, read like a table (paged, counted, filtered).
    Rows,
    /// One composite value: an object.
    Single,
    /// One scalar value.
    Scalar,
    /// `void`: 204.
    Void,
}

/// A planned call.
#[derive(Debug, Clone)]
pub struct CallPlan<'c> {
    /// The overload the arguments select.
    pub function: &'c Function,
    /// The arguments.
    pub args: Args,
    /// The query string, arguments set aside (filters, `select`, `order` on a set's rows).
    pub query: Query,
    /// The answer's media type.
    pub media: Media,
    /// The page of a set.
    pub page: Page,
    /// How the result is answered.
    pub result: CallResult,
    /// Whether the transaction is read-only: GET and HEAD always, POST for STABLE and IMMUTABLE functions.
    pub read_only: bool,
    /// Whether a total is wanted (`Prefer: count=`).
    pub count: bool,
}

/// Whether `function` takes one unnamed json/jsonb parameter (the whole body is its argument).
fn takes_whole_body(function: &Function) -> bool {
    function.args.len() == 1
        && function.args[0].name.is_empty()
        && matches!(function.args[0].type_sql.as_str(), "json" | "jsonb")
}

/// Plans a call of `name` in the request's schema.
pub fn call<'c>(req: &ApiRequest, cache: &'c SchemaCache, name: &str, max_rows: i64) -> RestResult<CallPlan<'c>> {
    let overloads: &[Function] = cache
        .functions
        .get(&(req.schema.clone(), name.to_owned()))
        .map_or(&[], Vec::as_slice);
    let arg_names: Vec<&str> = overloads
        .iter()
        .flat_map(|f| f.args.iter().map(|a| a.name.as_str()))
        .collect();
    let values: std::collections::HashMap<&str, &str> =
        req.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // Without a body, a pair is an argument if a function has a parameter of that name, or if it does not
    // read as a filter (so a misspelt argument is reported as such, not as an unknown column).
    let is_arg = |key: &str| {
        arg_names.iter().any(|a| !a.is_empty() && *a == key)
            || (req.method != Method::POST
                && !key.contains(['.', '-'])
                && !matches!(key, "order" | "limit" | "offset" | "or" | "and")
                && values.get(key).is_some_and(|v| !parser::is_filter_value(v)))
    };
    let query = parse(req, &is_arg)?;
    let args = if req.method == Method::POST {
        let value = if payload::is_blank(&req.body) {
            Value::Object(Map::new())
        } else {
            payload::json(&req.body)?
        };
        match value {
            Value::Object(map) if overloads.iter().any(takes_whole_body) => Args::Whole(Value::Object(map)),
            Value::Object(map) => Args::Json(map),
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
    let function = pick_function(&req.schema, name, overloads, &keys, matches!(args, Args::Whole(_)))?;
    if req.prefs.max_affected.is_some() && !function.returns_set {
        // PostgREST 13: only a set can be counted against max-affected.
        return Err(RestError::new(
            StatusCode::BAD_REQUEST,
            "PGRST128",
            "Function must return SETOF or TABLE when max-affected preference is used with handling=strict",
        ));
    }
    let media = negotiate(req.accept.as_deref(), Media::ROWS)?;
    let page = page(req, &query, max_rows)?;
    let result = match (&function.returns, function.returns_set) {
        (Returns::Void, _) => CallResult::Void,
        (_, true) => CallResult::Rows,
        (Returns::Composite(_), false) => CallResult::Single,
        (Returns::Scalar, false) => CallResult::Scalar,
    };
    Ok(CallPlan {
        function,
        args,
        query,
        media,
        page,
        result,
        read_only: req.method != Method::POST || matches!(function.volatility, 's' | 'i'),
        count: req.prefs.count.is_some(),
    })
}

/// The one overload whose parameters the argument names fit (missing ones must have defaults), after
/// PostgREST's `findProc`.
fn pick_function<'f>(
    schema: &str,
    name: &str,
    overloads: &'f [Function],
    keys: &[String],
    whole: bool,
) -> RestResult<&'f Function> {
    let candidates: Vec<&Function> = overloads
        .iter()
        .filter(|f| {
            if whole {
                return takes_whole_body(f);
            }
            keys.iter().all(|k| f.args.iter().any(|a| &a.name == k))
                && f.args.iter().all(|a| a.has_default || keys.contains(&a.name))
        })
        .collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => {
            let mut sorted = keys.to_vec();
            sorted.sort();
            Err(RestError::new(
                StatusCode::NOT_FOUND,
                "PGRST202",
                format!(
                    "Could not find the function {schema}.{name}({}) in the schema cache",
                    sorted.join(", ")
                ),
            )
            .hint("Check the function's name and the names of its arguments"))
        }
        _ => Err(RestError::new(
            StatusCode::MULTIPLE_CHOICES,
            "PGRST203",
            format!("Could not choose the best candidate function between the overloads of {schema}.{name}"),
        )),
    }
}
