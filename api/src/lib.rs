//! The incidex service's HTTP face: the actix-web application, its
//! configuration, authentication, the routes, the web UI, the job runner
//! and the command line. The registry's rules and services live in the
//! `incidex-registry` crate (`api/registry`); this crate parses requests at
//! the edge, calls the registry, and maps its errors to problem+json in one
//! place (`http::error`).

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod http;
pub mod jobs;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod ui;

pub use app::Application;
pub use config::Settings;
