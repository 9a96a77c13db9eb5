//! incidex's data model and storage: domain types, the incident taxonomy,
//! validation, diesel table definitions, migrations for both backends, and
//! the storage functions. No HTTP and no full-text index here.

pub mod corpus;
pub mod db;
pub mod identity;
pub mod report;
pub mod schema;
pub mod validation;
