//! Media negotiation: the `Accept` header against the media types an endpoint can produce, first match wins
//! (PostgREST does not weigh `q`), else 406 PGRST107.

use crate::error::{RestError, RestResult};
use axum::http::StatusCode;

/// A response media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// A JSON array.
    Json,
    /// One JSON object (`application/vnd.pgrst.object+json`): exactly one row or 406.
    Object,
    /// CSV with a header line.
    Csv,
    /// The OpenAPI description.
    OpenApi,
}

impl Media {
    /// What tables and functions produce; the first is the default.
    pub const ROWS: &'static [Media] = &[Media::Json, Media::Object, Media::Csv];
    /// What the root produces.
    pub const DESCRIPTION: &'static [Media] = &[Media::OpenApi, Media::Json];

    /// Its `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Media::Json => "application/json; charset=utf-8",
            Media::Object => "application/vnd.pgrst.object+json; charset=utf-8",
            Media::Csv => "text/csv; charset=utf-8",
            Media::OpenApi => "application/openapi+json; charset=utf-8",
        }
    }
}

/// The first type of `accept` (the raw header) in `allowed`; no or an empty header is the first allowed.
pub fn negotiate(accept: Option<&str>, allowed: &[Media]) -> RestResult<Media> {
    let default = allowed.first().copied().unwrap_or(Media::Json);
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(default);
    };
    for part in accept.split(',') {
        let mime = part.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let media = match mime.as_str() {
            "*/*" | "application/*" => Some(default),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn first_acceptable_type_wins() {
        assert_eq!(negotiate(None, Media::ROWS).unwrap(), Media::Json);
        assert_eq!(negotiate(Some(" "), Media::DESCRIPTION).unwrap(), Media::OpenApi);
        assert_eq!(negotiate(Some("*/*"), Media::DESCRIPTION).unwrap(), Media::OpenApi);
        assert_eq!(
            negotiate(Some("image/png, text/csv;q=0.1, application/json"), Media::ROWS).unwrap(),
            Media::Csv
        );
        assert_eq!(
            negotiate(Some("text/csv"), Media::DESCRIPTION).unwrap_err().code,
            "PGRST107"
        );
    }
}
