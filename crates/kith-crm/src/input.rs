//! Parsing request input into checked values: query strings, path ids, text fields, times. Every failure is a
//! 4xx naming the offending field; nothing here panics on input.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, Utc};
use kith_http::ApiError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

/// A query string whose rejections use the `/api` error shape (422 naming the problem).
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let detail = text.split_once(": ").map_or(text.as_str(), |(_, rest)| rest).to_owned();
                let field = detail
                    .split('`')
                    .nth(1)
                    .filter(|name| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or("query")
                    .to_owned();
                Err(ApiError::validation(field, detail))
            }
        }
    }
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`) in a PATCH body: use with
/// `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(de).map(Some)
}

/// A field that failed its check; becomes a 422 `validation_failed` naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The offending field.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Invalid {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        ApiError::validation(invalid.field, invalid.message)
    }
}

/// The result of a check.
pub type Checked<T> = Result<T, Invalid>;

/// A required uuid given as text.
pub fn uuid(field: &str, raw: Option<&str>) -> Checked<Uuid> {
    let raw = raw.ok_or_else(|| Invalid::new(field, "is required"))?;
    Uuid::parse_str(raw.trim()).map_err(|_| Invalid::new(field, "must be a UUID"))
}

/// An id from the path.
pub fn path_id(raw: &str) -> Checked<Uuid> {
    Uuid::parse_str(raw).map_err(|_| Invalid::new("id", "must be a UUID"))
}

/// Optional text: trimmed, empty becomes `None`, at most `max` characters, no control characters (newlines and
/// tabs allowed when `multiline`).
pub fn text(field: &str, value: Option<String>, max: usize, multiline: bool) -> Checked<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.chars().count() > max {
        return Err(Invalid::new(field, format!("must be at most {max} characters")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(Invalid::new(field, "must not contain control characters"));
    }
    Ok(Some(value.to_owned()))
}

/// Required text (see [`text`]).
pub fn required_text(field: &str, value: Option<String>, max: usize) -> Checked<String> {
    text(field, value, max, false)?.ok_or_else(|| Invalid::new(field, "is required"))
}

/// An email address, checked as the auth service checks them, lower-cased.
pub fn email(field: &str, value: Option<String>) -> Checked<Option<String>> {
    let Some(value) = text(field, value, 255, false)? else {
        return Ok(None);
    };
    let value = value.to_lowercase();
    if kith_mail::looks_like_email(&value) {
        Ok(Some(value))
    } else {
        Err(Invalid::new(field, "must be an email address"))
    }
}

/// Earliest and latest year a timestamp may name (recurrences are expanded from their start, so a start in the
/// distant past would be costly, and nothing in a CRM happens before 1900).
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// An RFC 3339 timestamp between 1900 and 2200.
pub fn time(field: &str, raw: &str) -> Checked<DateTime<Utc>> {
    let t = DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Invalid::new(field, "must be an RFC 3339 timestamp such as 2026-01-31T09:00:00Z"))?;
    in_range(field, t)
}

/// Checks a timestamp is between 1900 and 2200.
pub fn in_range(field: &str, t: DateTime<Utc>) -> Checked<DateTime<Utc>> {
    use chrono::Datelike;
    if YEARS.contains(&t.year()) {
        Ok(t)
    } else {
        Err(Invalid::new(field, "must be between the years 1900 and 2200"))
    }
}

/// An RFC 3339 timestamp or a `YYYY-MM-DD` date (midnight UTC).
pub fn time_or_date(field: &str, raw: &str) -> Checked<DateTime<Utc>> {
    if let Ok(date) = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
        let t = date
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc())
            .ok_or_else(|| Invalid::new(field, "is not a valid date"))?;
        return in_range(field, t);
    }
    time(field, raw)
}

/// A bounded integer from the query string.
pub fn int(field: &str, raw: Option<&str>, default: i64, min: i64, max: i64) -> Checked<i64> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(Invalid::new(field, format!("must be an integer from {min} to {max}"))),
    }
}

/// An IANA time zone name, canonicalised.
pub fn timezone(field: &str, raw: Option<String>) -> Checked<chrono_tz::Tz> {
    match raw {
        None => Ok(chrono_tz::UTC),
        Some(name) => name
            .trim()
            .parse::<chrono_tz::Tz>()
            .map_err(|_| Invalid::new(field, "must be an IANA time zone name such as Europe/Berlin")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(
            email("e", Some(" Ada@Example.COM ".into())).unwrap().as_deref(),
            Some("ada@example.com")
        );
        for bad in ["ada", "ada@", "@x.io", "a b@x.io", "a@x", "a@x..io", "a@b@c.io"] {
            assert!(email("e", Some(bad.into())).is_err(), "{bad}");
        }
        assert_eq!(email("e", Some("  ".into())).unwrap(), None);
    }

    #[test]
    fn text_limits_and_control_characters() {
        assert!(text("t", Some("x".repeat(11)), 10, false).is_err());
        assert!(text("t", Some("a\u{0}b".into()), 10, false).is_err());
        assert!(text("t", Some("a\nb".into()), 10, true).is_ok());
        assert!(text("t", Some("a\nb".into()), 10, false).is_err());
    }

    #[test]
    fn times_and_ints() {
        assert!(time("t", "2026-01-31T09:00:00Z").is_ok());
        assert!(time("t", "yesterday").is_err());
        assert!(time("t", "0001-01-01T00:00:00Z").is_err());
        assert!(time_or_date("t", "9999-12-31").is_err());
        assert!(time_or_date("t", "2026-01-31").is_ok());
        assert_eq!(int("limit", Some("5"), 10, 1, 100).unwrap(), 5);
        assert!(int("limit", Some("0"), 10, 1, 100).is_err());
        assert!(int("limit", Some("ten"), 10, 1, 100).is_err());
    }
}
