//! Kith's auth service: a Supabase-Auth-compatible `/auth/v1` (sign-up, password and PKCE sign-in, refresh-token
//! rotation with reuse detection, sessions and logout scopes, recovery, magic links, email change), password
//! hashing, signing keys with rotation, API keys, mail and rate limits.
//!
//! Accounts live in the `auth` schema, which only this crate writes, through the privileged handle the binary
//! gives [`AuthState::new`]. The state keeps it private: services that hold an `AuthState` (the web pages) call its
//! operations but cannot open its transactions.
//!
//! ```compile_fail
//! async fn page(auth: kith_auth::AuthState) {
//!     let _ = auth.tx("read every user").await;
//! }
//! ```

pub mod admin;
pub mod api_keys;
pub mod audit;
pub mod browser;
pub mod config;
pub mod error;
pub mod feed;
pub mod mfa;
pub mod password;
mod rate_limit;
mod routes;
pub mod secrets;
pub mod service;
pub mod signing;
mod store;
pub mod users;

/// Outgoing mail lives a floor below, in `kith-mail`; re-exported under its old name.
pub use kith_mail as mailer;
pub use routes::routes;
pub use service::AuthState;
