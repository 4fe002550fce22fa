//! `GET /settings`, `GET /health`, `GET /.well-known/jwks.json`.

use crate::service::AuthState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

pub(super) async fn settings(State(state): State<AuthState>) -> Json<Value> {
    let settings = state.settings();
    Json(json!({
        "external": {
            "anonymous_users": settings.anonymous, "apple": false, "azure": false, "bitbucket": false, "discord": false,
            "email": true, "facebook": false, "figma": false, "github": false, "gitlab": false, "google": false,
            "keycloak": false, "kakao": false, "linkedin_oidc": false, "notion": false, "phone": false,
            "slack_oidc": false, "spotify": false, "twitch": false, "twitter": false, "workos": false, "zoom": false,
        },
        "disable_signup": settings.disable_signup,
        "mailer_autoconfirm": settings.autoconfirm,
        "phone_autoconfirm": false,
        "sms_provider": "",
        "saml_enabled": false,
    }))
}

pub(super) async fn health() -> Json<Value> {
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "name": "GoTrue",
        "description": "GoTrue is a user registration and authentication API",
    }))
}

pub(super) async fn jwks(State(state): State<AuthState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=600")],
        Json(state.signer().jwks()),
    )
}
