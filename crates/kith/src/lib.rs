//! The Kith server: command line, settings, start-up and the assembly of every service into one router.

pub mod admin;
pub mod app;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod embedded;
pub mod server;
pub mod settings;
pub mod telemetry;
