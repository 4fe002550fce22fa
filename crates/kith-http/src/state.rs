use kith_db::{Db, identity::JwtVerifier};
use std::sync::Arc;

/// What every handler can reach: the request pool and the token verifier. Nothing in it leads to the privileged
/// door, so a handler cannot bypass row-level security:
///
/// ```compile_fail
/// async fn handler(axum::extract::State(state): axum::extract::State<kith_http::AppState>) {
///     let _ = state.db.begin_privileged("read every tenant").await;
/// }
/// ```
#[derive(Clone, Debug)]
pub struct AppState {
    /// The request pool; tenant data only through [`Db::begin_as`].
    pub db: Db,
    /// Verifies bearer tokens into callers.
    pub verifier: Arc<JwtVerifier>,
}

impl AppState {
    /// Bundles the shared parts.
    pub fn new(db: Db, verifier: JwtVerifier) -> Self {
        AppState {
            db,
            verifier: Arc::new(verifier),
        }
    }
}
