//! The incidex service: the actix-web application, its configuration, the
//! command line, and (in later modules) auth, intake, the web UI and jobs.

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod openapi;
pub mod routes;
pub mod state;
pub mod telemetry;

pub use app::Application;
pub use config::Settings;
