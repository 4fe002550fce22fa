//! The visitor of a page: cookies, the browser session (checked through the auth service), CSRF tokens, and the
//! guard that refuses unsafe requests from other sites.
//!
//! Guarantees: the session cookie is `HttpOnly; SameSite=Lax; Path=/` (`__Host-` prefix and `Secure` when the
//! site is https) and holds only an opaque id; a CSRF token is an HMAC keyed by a secret the browser holds only
//! in an HttpOnly cookie (the session id, or before sign-in a random pre-session id), so another site can
//! neither read nor compute it; unsafe methods are refused when `Sec-Fetch-Site` says the request comes from
//! another site, or, without that header, when `Origin` names another origin.

use crate::WebState;
use crate::errors::{error_page, forbidden_response};
use aws_lc_rs::{constant_time, hmac};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use kith_auth::browser::BrowserSession;
use kith_auth::service::Client;

/// Cookie names, with the `__Host-` prefix on https sites.
#[derive(Debug, Clone)]
pub struct CookieNames {
    /// The browser session id.
    pub session: &'static str,
    /// The pre-session id that binds CSRF tokens before sign-in.
    pub pre: &'static str,
    /// The PKCE verifier of a mailed link this browser asked for.
    pub pkce: &'static str,
    /// Whether cookies carry `Secure`.
    pub secure: bool,
}

impl CookieNames {
    /// The names for a site at `site_url`.
    pub fn for_site(site_url: &url::Url) -> Self {
        if site_url.scheme() == "https" {
            CookieNames {
                session: "__Host-kith_session",
                pre: "__Host-kith_csrf",
                pkce: "__Host-kith_pkce",
                secure: true,
            }
        } else {
            CookieNames {
                session: "kith_session",
                pre: "kith_csrf",
                pkce: "kith_pkce",
                secure: false,
            }
        }
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure on https; `max_age` 0 deletes it.
    pub fn set(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}{secure}");
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }
}

/// The value of cookie `name` in the request, if it is a plausible id (base64url, at most 128 characters).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .filter(|v| {
            !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A random id for cookies (256 bits, base64url).
pub fn random_id() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    base64url(&bytes)
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 2);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The CSRF token bound to `binding` (a secret id the browser holds in an HttpOnly cookie).
pub fn csrf_token(binding: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, binding.as_bytes());
    base64url(hmac::sign(&key, b"kith-web-csrf-v1").as_ref())
}

/// Whether `token` is the CSRF token bound to `binding` (compared in constant time).
pub fn csrf_matches(binding: &str, token: &str) -> bool {
    let expected = csrf_token(binding);
    constant_time::verify_slices_are_equal(expected.as_bytes(), token.as_bytes()).is_ok()
}

/// The person behind a page request.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The live browser session, if signed in.
    pub session: Option<BrowserSession>,
    /// The session cookie as sent (possibly dead).
    pub session_id: Option<String>,
    /// The pre-session id as sent.
    pre: Option<String>,
    /// A pre-session id created on this request (sent back as a cookie).
    new_pre: Option<String>,
    /// The client's address and user agent (rate limits, session records).
    pub client: Client,
    /// Cookie names.
    pub cookies: CookieNames,
    /// The PKCE verifier cookie, if any.
    pub pkce_verifier: Option<String>,
    /// Lifetime of a new session cookie (the absolute timeout), seconds.
    pub session_max_age: u64,
}

impl FromRequestParts<WebState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let cookies = state.cookies().clone();
        let session_id = cookie(&parts.headers, cookies.session).map(str::to_owned);
        let session = match &session_id {
            Some(id) => state.auth().browser_session(id).await.map_err(|err| {
                tracing::warn!(error = %err.code(), "browser session check failed");
                unavailable()
            })?,
            None => None,
        };
        let client = match Client::from_request_parts(parts, state).await {
            Ok(client) => client,
            Err(never) => match never {},
        };
        Ok(Visitor {
            session,
            session_id,
            pre: cookie(&parts.headers, cookies.pre).map(str::to_owned),
            new_pre: None,
            client,
            pkce_verifier: cookie(&parts.headers, cookies.pkce).map(str::to_owned),
            session_max_age: state.auth().settings().browser_absolute_timeout.as_secs(),
            cookies,
        })
    }
}

/// Whether the request carries a session cookie at all (not checked: public pages skip the database). The header
/// then offers the dashboard instead of signing in; a dead cookie is cleared when the dashboard checks it.
#[derive(Debug, Clone, Copy)]
pub struct SessionHint(pub bool);

impl FromRequestParts<WebState> for SessionHint {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        Ok(SessionHint(cookie(&parts.headers, state.cookies().session).is_some()))
    }
}

impl SessionHint {
    /// The chrome of a public page for this visitor.
    pub fn chrome(
        self,
        title: impl Into<String>,
        description: impl Into<String>,
        section: &'static str,
    ) -> crate::render::Chrome {
        let mut chrome = crate::render::Chrome::new(title, description, section);
        chrome.maybe_signed_in = self.0;
        chrome
    }
}

/// The page answered when the database cannot be reached.
pub fn unavailable() -> Response {
    let mut response = error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "Kith cannot reach its database right now. Please try again in a moment.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

impl Visitor {
    /// The signed-in user's email.
    pub fn email(&self) -> Option<String> {
        self.session.as_ref().map(|s| s.email.clone())
    }

    /// The live session id (only when the session is alive).
    pub fn live_session_id(&self) -> Option<&str> {
        self.session.as_ref().and(self.session_id.as_deref())
    }

    fn binding(&self) -> Option<&str> {
        match self.live_session_id() {
            Some(id) => Some(id),
            None => self.new_pre.as_deref().or(self.pre.as_deref()),
        }
    }

    /// The CSRF token for this visitor's forms (creating a pre-session id when there is none yet).
    pub fn csrf(&mut self) -> String {
        if self.binding().is_none() {
            self.new_pre = Some(random_id());
        }
        self.binding().map(csrf_token).unwrap_or_default()
    }

    /// Whether a submitted form's token is this visitor's.
    pub fn csrf_ok(&self, token: Option<&str>) -> bool {
        match (self.binding(), token) {
            (Some(binding), Some(token)) => csrf_matches(binding, token),
            _ => false,
        }
    }

    /// Adds the cookies this request changed (a new pre-session id; a dead session cookie removed) and marks the
    /// answer uncacheable.
    pub fn finish(&self, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if let Some(pre) = &self.new_pre {
            headers.append(header::SET_COOKIE, self.cookies.set(self.cookies.pre, pre, 86_400));
        }
        if self.session_id.is_some() && self.session.is_none() && !headers.contains_key(header::SET_COOKIE) {
            headers.append(header::SET_COOKIE, self.cookies.set(self.cookies.session, "", 0));
        }
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// Middleware of the page router: an unsafe method from another site is refused with the 403 page before any
/// handler runs.
pub async fn same_origin_only(State(state): State<WebState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let allowed = match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some(site) => matches!(site, "same-origin" | "none"),
        None => match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            None => true,
            Some(origin) => {
                let site = state.settings().site_url.origin().ascii_serialization();
                let host = headers
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let scheme = state.settings().site_url.scheme();
                origin == site || origin == format!("{scheme}://{host}")
            }
        },
    };
    if !allowed {
        tracing::info!(reason = "cross_site", "unsafe page request refused");
        return forbidden_response().into_response();
    }
    next.run(request).await
}

/// `next` if it is a path on this site, else the dashboard: never another origin (`//host`, `https://…`,
/// backslashes that browsers read as slashes, control characters).
pub fn local_next(next: Option<&str>) -> String {
    const DEFAULT: &str = "/dashboard/overview";
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(char::is_control)
                && n.len() <= 2048 =>
        {
            n.to_owned()
        }
        _ => DEFAULT.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_ever_a_local_path() {
        assert_eq!(local_next(Some("/dashboard/contacts?q=a")), "/dashboard/contacts?q=a");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "evil",
            "/\tx",
            "",
        ] {
            assert_eq!(local_next(Some(bad)), "/dashboard/overview", "{bad:?}");
        }
        assert_eq!(local_next(None), "/dashboard/overview");
    }

    #[test]
    fn csrf_tokens_are_bound_to_their_secret() {
        let a = random_id();
        let b = random_id();
        assert_eq!(a.len(), 43);
        assert!(csrf_matches(&a, &csrf_token(&a)));
        assert!(!csrf_matches(&b, &csrf_token(&a)));
        assert!(!csrf_matches(&a, ""));
    }

    #[test]
    fn cookies_are_read_by_exact_name_and_shape() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("xkith_session=no; kith_session=abc-_1; z=1"),
        );
        assert_eq!(cookie(&headers, "kith_session"), Some("abc-_1"));
        headers.insert(header::COOKIE, HeaderValue::from_static("kith_session=a<b"));
        assert_eq!(cookie(&headers, "kith_session"), None);
    }

    #[test]
    fn https_sites_get_host_prefixed_secure_cookies() {
        let names = CookieNames::for_site(&url::Url::parse("https://kith.example").unwrap_or_else(|e| panic!("{e}")));
        let value = names.set(names.session, "id", 60);
        assert_eq!(names.session, "__Host-kith_session");
        assert_eq!(
            value.to_str().unwrap_or_default(),
            "__Host-kith_session=id; HttpOnly; SameSite=Lax; Path=/; Max-Age=60; Secure"
        );
    }
}
