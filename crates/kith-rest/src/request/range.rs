//! The `Range: items=from-to` header of a GET. A malformed header is ignored (as PostgREST does); a range that
//! cannot be satisfied is kept as such, and refused (416 PGRST103) when the read is planned.

use axum::http::{HeaderMap, header};

/// What the `Range` header asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RangeHeader {
    /// No (usable) header.
    #[default]
    Absent,
    /// Rows `from` to `to` (inclusive; open-ended without `to`).
    Items {
        /// First row, from 0.
        from: i64,
        /// Last row.
        to: Option<i64>,
    },
    /// A negative start, or an end before the start.
    Unsatisfiable,
}

impl RangeHeader {
    /// Reads the header.
    pub fn read(headers: &HeaderMap) -> RangeHeader {
        let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
            return RangeHeader::Absent;
        };
        let value = value.trim();
        let value = value.strip_prefix("items=").unwrap_or(value);
        let Some((from, to)) = value.split_once('-') else {
            return RangeHeader::Absent;
        };
        let Ok(from) = from.trim().parse::<i64>() else {
            return RangeHeader::Absent;
        };
        let to = match to.trim() {
            "" => None,
            to => match to.parse::<i64>() {
                Ok(to) => Some(to),
                Err(_) => return RangeHeader::Absent,
            },
        };
        if from < 0 || to.is_some_and(|to| to < from) {
            return RangeHeader::Unsatisfiable;
        }
        RangeHeader::Items { from, to }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::HeaderValue;

    fn range(value: &str) -> RangeHeader {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        RangeHeader::read(&headers)
    }

    #[test]
    fn ranges() {
        assert_eq!(RangeHeader::read(&HeaderMap::new()), RangeHeader::Absent);
        assert_eq!(range("0-9"), RangeHeader::Items { from: 0, to: Some(9) });
        assert_eq!(range("items=5-"), RangeHeader::Items { from: 5, to: None });
        assert_eq!(range("x-y"), RangeHeader::Absent);
        assert_eq!(range("5-2"), RangeHeader::Unsatisfiable);
        assert_eq!(range("-1-2"), RangeHeader::Absent);
    }
}
