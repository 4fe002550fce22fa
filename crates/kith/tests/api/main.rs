//! Kith's integration tests, one binary: every test gets a fresh database cloned from a migrated template on
//! the PostgreSQL named by KITH_TEST_DATABASE_URL (scripts/test starts a private one).

mod helpers;

mod admin;
mod anonymous;
mod architecture;
mod audit;
mod auth;
mod caller_scope;
mod embedded;
mod http_basics;
mod limits;
mod mail;
mod metrics;
mod mfa;
mod org_mfa;
mod profile;
mod resilience;
mod restart;
mod tokens;
mod two_nodes;
