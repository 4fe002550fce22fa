//! The privileged door: service-role transactions that bypass row-level security, for the auth service (which
//! alone writes the `auth` schema) and operator commands such as the demo seeder.
//!
//! Guarantees: a [`PrivilegedDb`] is obtained only together with its pool, from [`crate::Db::with_privileged`];
//! no method of [`crate::Db`] (what every request handler holds) leads to it, so the compiler, not a grep, keeps
//! request code on [`crate::Db::begin_as`]. Every transaction it opens is logged under `kith::privileged` with
//! its purpose, which also shows in `request.path`.
//!
//! ```compile_fail
//! // A request handler holds a `Db`: it has no privileged door.
//! async fn handler(db: kith_db::Db) {
//!     let _ = db.begin_privileged("read every tenant").await;
//! }
//! ```

use crate::{CallerTx, Db, DbError};

/// Opens service-role transactions; held by the auth service and operator commands, never by request handlers.
#[derive(Clone)]
pub struct PrivilegedDb {
    db: Db,
}

impl std::fmt::Debug for PrivilegedDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivilegedDb").field("pool", &self.db).finish()
    }
}

impl PrivilegedDb {
    /// Only [`Db::with_privileged`] builds one.
    pub(crate) fn over(db: Db) -> Self {
        PrivilegedDb { db }
    }

    /// Opens a service-role transaction that bypasses RLS, logged with its `purpose`.
    pub async fn begin(&self, purpose: &'static str) -> Result<CallerTx, DbError> {
        tracing::info!(target: "kith::privileged", purpose, "privileged database access");
        self.db.begin_service_role("INTERNAL", purpose).await
    }

    /// The request pool this door opens its transactions on, for the caller-scoped work of the same component
    /// (the pool is shared: one limit on connections).
    pub fn db(&self) -> &Db {
        &self.db
    }
}
