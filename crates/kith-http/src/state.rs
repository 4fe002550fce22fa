use kith_db::{Db, identity::JwtVerifier};
use std::sync::Arc;

/// What every handler can reach: the request pool and the token verifier.
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
