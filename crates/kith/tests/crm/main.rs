//! The CRM's integration tests, one binary: tenancy, contacts, contact intelligence, calendar, and the isolation
//! matrix generated from the router's own route table. Each test gets a fresh database (see ../api/helpers.rs).

#[path = "../api/helpers.rs"]
mod helpers;
mod support;

mod bad_input;
mod calendar;
mod contacts;
mod demo;
mod isolation;
mod property;
mod scoring;
mod stored_rules;
mod subscriptions;
mod tenancy;
