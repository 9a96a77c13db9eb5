//! Database access for both backends through one diesel codebase.
//!
//! Policy:
//! - The backend is chosen explicitly from the database URL's scheme
//!   ([`DatabaseUrl::parse`]): `sqlite://PATH` or `postgres://…`; anything
//!   else is an error, never a guess.
//! - Connections are [`DbConnection`], a `#[derive(MultiConnection)]` enum, so
//!   one query serves both backends. The few statements that differ
//!   (upserts, advisory locks, pragmas) match on the enum.
//! - Connections come from an r2d2 pool with our own [`ConnectionManager`],
//!   which connects by scheme and so reports the real connection error
//!   (the derived `establish` hides it).
//! - Sync diesel: callers in async code run these functions off the async
//!   workers (`web::block` / `spawn_blocking`).

pub mod changes;
pub mod clusters;
mod connection;
pub mod idempotency;
pub mod identity;
pub mod lessons;
mod migrate;
pub mod reports;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use connection::{
    Backend, ConnectionManager, DatabaseUrl, DatabaseUrlError, DbConnection, DbPool, PoolOptions,
    build_pool,
};
pub use migrate::{MigrationError, MigrationStatus, migration_status, run_migrations};

/// Errors from the storage layer. Library code returns these; the API maps
/// them to problem+json at the HTTP boundary.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection available")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StorageResult<T> = Result<T, StorageError>;
