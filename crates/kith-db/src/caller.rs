//! Who is making a request, as far as the database is concerned.
//!
//! A [`Caller`] is built only by [`crate::identity::JwtVerifier::verify`] from a verified token, or as the
//! anonymous caller when a request carries no token. Its fields are private so no other code can forge one.

use serde_json::Value;
use std::sync::Arc;
use uuid::Uuid;

/// The database role a caller's transaction runs as; the only three `SET ROLE` targets Kith ever uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DbRole {
    /// No identity: sees only what policies grant to `anon`.
    Anon,
    /// A signed-in user: `auth.uid()` is their id.
    Authenticated,
    /// Bypasses RLS; reachable from a service-role API key or the explicitly named privileged handle.
    ServiceRole,
}

impl DbRole {
    /// The role's name in Postgres and in the JWT `role` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            DbRole::Anon => "anon",
            DbRole::Authenticated => "authenticated",
            DbRole::ServiceRole => "service_role",
        }
    }

    /// Parses a JWT `role` claim; any name other than the three roles is refused.
    pub fn from_claim(role: &str) -> Option<Self> {
        match role {
            "anon" => Some(DbRole::Anon),
            "authenticated" => Some(DbRole::Authenticated),
            "service_role" => Some(DbRole::ServiceRole),
            _ => None,
        }
    }
}

/// The HTTP method and path of the request a transaction serves, exposed as `request.method`/`request.path`.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Request path without the query string.
    pub path: String,
    /// The request's headers as a JSON object (lower-cased names, no cookies), exposed as `request.headers`;
    /// empty means `{}`.
    pub headers: String,
}

/// A verified identity: the role to run as, the user (if any) and the claims policies may read via `auth.jwt()`.
#[derive(Debug, Clone)]
pub struct Caller {
    role: DbRole,
    user_id: Option<Uuid>,
    session_id: Option<Uuid>,
    claims: Arc<str>,
    expires_at: Option<u64>,
    request: RequestMeta,
}

impl Caller {
    /// The caller of a request that carries no token at all.
    pub fn anonymous() -> Self {
        Caller {
            role: DbRole::Anon,
            user_id: None,
            session_id: None,
            claims: Arc::from(r#"{"role":"anon"}"#),
            expires_at: None,
            request: RequestMeta::default(),
        }
    }

    /// Only the verifier and the privileged handle construct callers with an identity.
    pub(crate) fn from_verified(role: DbRole, user_id: Option<Uuid>, session_id: Option<Uuid>, claims: &Value) -> Self {
        Caller {
            role,
            user_id,
            session_id,
            claims: Arc::from(claims.to_string()),
            expires_at: claims.get("exp").and_then(Value::as_u64),
            request: RequestMeta::default(),
        }
    }

    /// The same caller, tagged with the request it is serving.
    pub fn for_request(mut self, method: impl Into<String>, path: impl Into<String>) -> Self {
        self.request = RequestMeta {
            method: method.into(),
            path: path.into(),
            headers: std::mem::take(&mut self.request.headers),
        };
        self
    }

    /// The same caller, with the request's headers (a JSON object, cookies left out) for `request.headers`.
    pub fn with_request_headers(mut self, headers_json: impl Into<String>) -> Self {
        self.request.headers = headers_json.into();
        self
    }

    /// The database role this caller runs as.
    pub fn role(&self) -> DbRole {
        self.role
    }

    /// The user id (`sub`), present for every authenticated caller.
    pub fn user_id(&self) -> Option<Uuid> {
        self.user_id
    }

    /// The auth session the token belongs to, when the token names one.
    pub fn session_id(&self) -> Option<Uuid> {
        self.session_id
    }

    /// The verified claims as JSON text, exactly what `request.jwt.claims` holds.
    pub fn claims_json(&self) -> &str {
        &self.claims
    }

    /// The token's `exp` (Unix seconds), when it came from a token.
    pub fn expires_at(&self) -> Option<u64> {
        self.expires_at
    }

    /// The request this caller is serving.
    pub fn request(&self) -> &RequestMeta {
        &self.request
    }
}
