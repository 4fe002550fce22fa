//! The web layer's integration tests, one binary: a crawler over the public site, the page headers, the JSON
//! services' own 404s, and (with sessions) sign-in, CSRF and the signed-in shell. Each test gets a fresh database
//! (see ../api/helpers.rs).

mod browser;
#[path = "../api/helpers.rs"]
mod helpers;
mod html;
mod world;

mod calendar;
mod contacts;
mod crawl;
mod dashboard;
mod flows;
mod matrix;
mod security;
mod sessions;
mod settings;
mod site;
