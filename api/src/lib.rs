//! The incidex service: the actix-web application, its configuration, the
//! command line, and (in later modules) auth, intake, the web UI and jobs.

pub mod admin_cli;
pub mod alerts;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clustering;
pub mod config;
pub mod digests;
pub mod error;
pub mod eval;
pub mod extract;
pub mod filing;
pub mod filing_queue;
pub mod idempotency;
pub mod import;
pub mod indexing;
pub mod intake;
pub mod jobs;
pub mod lessons;
pub mod members;
pub mod openapi;
pub mod receipts;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod ui;
pub mod views;

pub use incidex_registry::anonymise;

pub use app::Application;
pub use config::Settings;
