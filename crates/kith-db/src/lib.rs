//! Database access for Kith.
//!
//! The one rule this crate enforces: request code reaches Postgres only through [`Db::begin_as`], a transaction
//! that runs as the verified [`Caller`], so row-level security sees who is asking. The pool's login role can do
//! nothing by itself; privileged access is a separately named, logged door ([`Db::begin_privileged`]).

mod caller;
pub mod embedded;
mod error;
pub mod identity;
pub mod migrate;
mod pool;
pub mod tls;
mod tx;

pub use caller::{Caller, DbRole, RequestMeta};
pub use error::{DbError, sqlstate_class};
pub use pool::{Db, Notifications, PoolStats};
pub use tokio_postgres;
pub use tx::{Access, CallerTx};

/// The login role of the request pool (PostgREST's "authenticator").
pub const AUTHENTICATOR_ROLE: &str = "kith_authenticator";
