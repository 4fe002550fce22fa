//! `/auth/v1`: the endpoints supabase-js calls, with Supabase Auth's paths, bodies, status codes and errors.

mod account;
mod admin;
mod disabled;
mod email;
mod factors;
mod meta;
mod token;

use crate::error::{api_versions, router_errors};
use crate::service::AuthState;
use axum::Router;
use axum::routing::{any, get, post};

/// Every `/auth/v1` route, with its own state; merge the result into the application router.
pub fn routes<S: Clone + Send + Sync + 'static>(state: AuthState) -> Router<S> {
    Router::new()
        .route("/auth/v1/signup", post(token::signup))
        .route("/auth/v1/token", post(token::token))
        .route("/auth/v1/logout", post(token::logout))
        .route("/auth/v1/user", get(account::get_user).put(account::update_user))
        .route("/auth/v1/recover", post(email::recover))
        .route("/auth/v1/resend", post(email::resend))
        .route("/auth/v1/reauthenticate", get(account::reauthenticate))
        .route("/auth/v1/authorize", get(disabled::authorize))
        .route("/auth/v1/sso", any(disabled::sso))
        .route("/auth/v1/sso/{*rest}", any(disabled::sso))
        .route("/auth/v1/otp", post(email::otp))
        .route("/auth/v1/verify", get(email::verify_link).post(email::verify))
        .route("/auth/v1/admin/users", get(admin::list_users).post(admin::create_user))
        .route(
            "/auth/v1/admin/users/{id}",
            get(admin::get_user).put(admin::update_user).delete(admin::delete_user),
        )
        .route("/auth/v1/admin/users/{id}/factors", get(factors::admin_list))
        .route(
            "/auth/v1/admin/users/{id}/factors/{factor_id}",
            axum::routing::delete(factors::admin_delete),
        )
        .route("/auth/v1/factors", post(factors::enroll))
        .route("/auth/v1/factors/{id}", axum::routing::delete(factors::unenroll))
        .route("/auth/v1/factors/{id}/challenge", post(factors::challenge))
        .route("/auth/v1/factors/{id}/verify", post(factors::verify))
        .route("/auth/v1/admin/generate_link", post(admin::generate_link))
        .route("/auth/v1/invite", post(admin::invite))
        .route("/auth/v1/settings", get(meta::settings))
        .route("/auth/v1/health", get(meta::health))
        .route("/auth/v1/.well-known/jwks.json", get(meta::jwks))
        .route("/auth/v1", any(disabled::unknown_path))
        .route("/auth/v1/", any(disabled::unknown_path))
        .route("/auth/v1/{*rest}", any(disabled::unknown_path))
        .layer(axum::middleware::from_fn(router_errors))
        .layer(axum::middleware::from_fn(api_versions))
        .with_state(state)
}
