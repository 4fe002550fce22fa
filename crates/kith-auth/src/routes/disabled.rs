//! Features of Supabase Auth that Kith does not offer, answered with Supabase Auth's own "disabled" errors
//! (statuses, `error_code`s and messages as a project with the feature switched off answers them), and the
//! answer to a path Supabase Auth does not have.

use crate::error::{AuthError, AuthResult, not_found};
use axum::extract::Query;
use axum::http::StatusCode;
use serde::Deserialize;

/// The OAuth providers Supabase Auth knows; none is enabled in Kith.
const OAUTH_PROVIDERS: &[&str] = &[
    "apple",
    "azure",
    "bitbucket",
    "discord",
    "facebook",
    "figma",
    "fly",
    "github",
    "gitlab",
    "google",
    "kakao",
    "keycloak",
    "linkedin",
    "linkedin_oidc",
    "notion",
    "slack",
    "slack_oidc",
    "snapchat",
    "spotify",
    "twitch",
    "twitter",
    "workos",
    "x",
    "zoom",
];

#[derive(Debug, Deserialize)]
pub(super) struct AuthorizeQuery {
    provider: Option<String>,
}

/// `GET /authorize?provider=…` (`signInWithOAuth`): a known provider is "not enabled", any other name unknown.
pub(super) async fn authorize(Query(query): Query<AuthorizeQuery>) -> AuthResult<()> {
    let provider = query.provider.unwrap_or_default();
    let reason = if OAUTH_PROVIDERS.contains(&provider.to_ascii_lowercase().as_str()) {
        "provider is not enabled".to_owned()
    } else {
        format!(
            "Provider {} could not be found",
            provider.chars().take(100).collect::<String>()
        )
    };
    Err(AuthError::validation(format!("Unsupported provider: {reason}")))
}

/// Anything under `/sso` (`signInWithSSO`): SAML is off.
pub(super) async fn sso() -> AuthError {
    AuthError::new(StatusCode::NOT_FOUND, "saml_provider_disabled", "SAML 2.0 is disabled")
}

/// A path under `/auth/v1` that Supabase Auth does not have.
pub(super) async fn unknown_path() -> AuthError {
    not_found()
}

/// `grant_type=id_token` (`signInWithIdToken`): no OpenID Connect provider is enabled. The checks and messages
/// follow Supabase Auth's order: a missing token or provider is an OAuth-style error, a known provider is
/// disabled, any other issuer is not allowed.
pub(super) fn id_token_grant(
    id_token: Option<&str>,
    provider: Option<&str>,
    client_id: Option<&str>,
    issuer: Option<&str>,
) -> AuthError {
    if id_token.is_none_or(str::is_empty) {
        return AuthError::oauth("invalid request", "id_token required");
    }
    let provider = provider.unwrap_or_default().to_owned();
    let issuer = issuer.unwrap_or_default().to_owned();
    if provider.is_empty() && (client_id.is_none_or(str::is_empty) || issuer.is_empty()) {
        return AuthError::oauth("invalid request", "provider or client_id and issuer required");
    }
    let known = match (provider.as_str(), issuer.as_str()) {
        ("apple", _) | (_, "https://appleid.apple.com") => Some("https://appleid.apple.com".to_owned()),
        ("google", _) | (_, "https://accounts.google.com") => Some("https://accounts.google.com".to_owned()),
        ("facebook", _) | (_, "https://www.facebook.com") => Some("https://www.facebook.com".to_owned()),
        ("kakao", _) | (_, "https://kauth.kakao.com") => Some("https://kauth.kakao.com".to_owned()),
        ("azure" | "keycloak", _) => Some(issuer.clone()),
        _ => None,
    };
    match known {
        Some(issuer) => AuthError::new(
            StatusCode::BAD_REQUEST,
            "provider_disabled",
            format!("Provider (issuer {issuer:?}) is not enabled"),
        ),
        None => AuthError::validation(format!(
            "Custom OIDC provider {:?} not allowed",
            provider.chars().take(100).collect::<String>()
        )),
    }
}
