//! Static assets embedded in the binary (also in debug builds, so test binaries have them), served at versioned
//! URLs `/assets/<hash>/<name>` with a content-hash ETag and `Cache-Control: immutable`. A URL whose hash is not
//! the current one answers 404, so a cached page can never pair with a different file under the same URL.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(RustEmbed)]
#[folder = "assets/"]
struct Files;

/// One asset: its bytes, content type and short content hash.
struct Asset {
    bytes: std::borrow::Cow<'static, [u8]>,
    content_type: &'static str,
    hash: String,
}

fn table() -> &'static HashMap<String, Asset> {
    static TABLE: OnceLock<HashMap<String, Asset>> = OnceLock::new();
    TABLE.get_or_init(|| {
        Files::iter()
            .filter_map(|name| {
                let file = Files::get(&name)?;
                let hash: String = file.metadata.sha256_hash()[..8]
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let content_type = content_type(&name);
                Some((
                    name.into_owned(),
                    Asset {
                        bytes: file.data,
                        content_type,
                        hash,
                    },
                ))
            })
            .collect()
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The versioned URL of an embedded asset (`/assets/<hash>/<name>`); an unknown name yields a URL that 404s.
pub fn url(name: &str) -> String {
    match table().get(name) {
        Some(asset) => format!("/assets/{}/{name}", asset.hash),
        None => format!("/assets/missing/{name}"),
    }
}

/// `GET /assets/{hash}/{name}`.
pub async fn serve(Path((hash, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    let Some(asset) = table().get(&name).filter(|a| a.hash == hash) else {
        return crate::errors::not_found_response();
    };
    let etag = format!("\"{}\"", asset.hash);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type))],
            asset.bytes.clone().into_owned(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stylesheet_is_embedded_with_a_versioned_url() {
        let url = url("site.css");
        assert!(url.starts_with("/assets/") && url.ends_with("/site.css"), "{url}");
        assert!(!url.contains("missing"));
    }
}
