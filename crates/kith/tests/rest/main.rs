//! Integration tests of the data API (`/rest/v1`): one binary, sharing the `/api` tests' harness.

#[path = "../api/helpers.rs"]
mod helpers;

mod fixtures;
mod hostile;
mod isolation;
mod reads;
mod routing;
mod types;
mod writes;
