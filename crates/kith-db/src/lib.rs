//! Database access for Kith.
//!
//! The one rule this crate enforces: request code reaches Postgres only through [`Db::begin_as`], a transaction
//! that runs as the verified [`Caller`], so row-level security sees who is asking. The pool's login role can do
//! nothing by itself; privileged access is a separate, logged door ([`PrivilegedDb`]) that only whoever opens the
//! pool obtains.

mod caller;
mod error;
pub mod identity;
pub mod migrate;
mod pool;
mod privileged;
pub mod tls;
mod tx;

pub use caller::{Caller, DbRole, RequestMeta};
pub use error::{DbError, sqlstate_class};
pub use pool::{Db, Notifications, PoolStats};
pub use privileged::PrivilegedDb;
pub use tokio_postgres;
pub use tx::{Access, CallerTx};

/// The login role of the request pool (PostgREST's "authenticator").
pub const AUTHENTICATOR_ROLE: &str = "kith_authenticator";
