//! The `Prefer` header as typed values. Unknown preferences are ignored, or refused with PGRST122 under
//! `handling=strict`; the ones applied are echoed in `Preference-Applied`, each once.

use crate::error::{RestError, RestResult};
use axum::http::{HeaderMap, StatusCode};

/// `return=`: what a write answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returning {
    /// Nothing.
    Minimal,
    /// The primary key of the first row, for `Location` (`return=headers-only`).
    Location,
    /// The rows, shaped by `select`.
    Representation,
}

/// `count=`: how the total behind `Content-Range` is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// `count(*)` of the filtered rows.
    Exact,
    /// The planner's row estimate.
    Planned,
    /// Exact up to `max_rows`, the estimate beyond.
    Estimated,
}

/// `resolution=`: what an insert does on a key conflict (an upsert).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// `merge-duplicates`: update the existing row.
    MergeDuplicates,
    /// `ignore-duplicates`: keep the existing row.
    IgnoreDuplicates,
}

/// `missing=`: what an insert writes for a column a row does not carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Missing {
    /// NULL (PostgREST's default).
    #[default]
    Null,
    /// The column's default.
    Default,
}

/// `Prefer` values Kith understands.
#[derive(Debug, Clone, Default)]
pub struct Prefs {
    /// `return=`
    pub returning: Option<Returning>,
    /// `count=`
    pub count: Option<Count>,
    /// `resolution=`
    pub resolution: Option<Resolution>,
    /// `missing=`
    pub missing: Missing,
    /// `max-affected=n`, kept only with `handling=strict` (honoured on PATCH, DELETE and set-returning RPC).
    pub max_affected: Option<i64>,
    /// The preferences applied, as written, for `Preference-Applied`.
    pub applied: Vec<String>,
}

impl Prefs {
    /// Reads every `Prefer` header.
    pub fn read(headers: &HeaderMap) -> RestResult<Prefs> {
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
                    "count=exact" => {
                        prefs.count = Some(Count::Exact);
                        true
                    }
                    "count=planned" => {
                        prefs.count = Some(Count::Planned);
                        true
                    }
                    "count=estimated" => {
                        prefs.count = Some(Count::Estimated);
                        true
                    }
                    "resolution=merge-duplicates" => {
                        prefs.resolution = Some(Resolution::MergeDuplicates);
                        true
                    }
                    "resolution=ignore-duplicates" => {
                        prefs.resolution = Some(Resolution::IgnoreDuplicates);
                        true
                    }
                    "missing=default" => {
                        prefs.missing = Missing::Default;
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn prefer(values: &[&str]) -> RestResult<Prefs> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("prefer", HeaderValue::from_str(value).unwrap());
        }
        Prefs::read(&headers)
    }

    #[test]
    fn values_are_typed_and_echoed_once() {
        let prefs = prefer(&["return=representation, count=planned", "count=planned, missing=default"]).unwrap();
        assert_eq!(prefs.returning, Some(Returning::Representation));
        assert_eq!(prefs.count, Some(Count::Planned));
        assert_eq!(prefs.missing, Missing::Default);
        assert_eq!(
            prefs.applied,
            ["return=representation", "count=planned", "missing=default"]
        );
    }

    #[test]
    fn max_affected_needs_strict_and_strict_refuses_unknowns() {
        assert_eq!(prefer(&["max-affected=3"]).unwrap().max_affected, None);
        let strict = prefer(&["handling=strict, max-affected=3"]).unwrap();
        assert_eq!(strict.max_affected, Some(3));
        assert_eq!(strict.applied, ["handling=strict", "max-affected=3"]);
        assert!(prefer(&["tx=rollback"]).is_ok());
        let err = prefer(&["handling=strict, tx=rollback"]).unwrap_err();
        assert_eq!(err.code, "PGRST122");
    }
}
