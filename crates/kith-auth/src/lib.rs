//! Kith's auth service. For now: password hashing, the project's API keys and creating confirmed users; the
//! Supabase-compatible `/auth/v1` endpoints build on these.
//!
//! Accounts live in the `auth` schema, which only this crate writes, through the privileged handle.

pub mod api_keys;
pub mod password;
pub mod users;
