//! Embedded migrations, one folder per backend with identical version names.
//!
//! On PostgreSQL the run holds a session-level advisory lock, so replicas
//! starting together apply each migration once; the others wait, then find
//! nothing pending.

use diesel::migration::MigrationVersion;
use diesel::{RunQueryDsl, sql_types::BigInt};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::DbConnection;

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Advisory-lock key for migrations ("incidex" in ASCII, as an i64).
const MIGRATION_LOCK_KEY: i64 = 0x0069_6e63_6964_6578;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MigrationError(String);

impl From<diesel::result::Error> for MigrationError {
    fn from(e: diesel::result::Error) -> Self {
        MigrationError(e.to_string())
    }
}

impl From<Box<dyn std::error::Error + Send + Sync>> for MigrationError {
    fn from(e: Box<dyn std::error::Error + Send + Sync>) -> Self {
        MigrationError(e.to_string())
    }
}

/// Applies every pending migration; returns the versions applied (empty when
/// the database was already up to date).
pub fn run_migrations(conn: &mut DbConnection) -> Result<Vec<String>, MigrationError> {
    match conn {
        DbConnection::Postgresql(pg) => {
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(pg)?;
            let result = pg
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(versions)
                .map_err(MigrationError::from);
            let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(pg);
            let applied = result?;
            unlock?;
            Ok(applied)
        }
        DbConnection::Sqlite(sqlite) => {
            // One exclusive transaction around the whole run: a second
            // process waits (busy timeout), then finds nothing pending,
            // instead of applying the same migration again.
            sqlite.exclusive_transaction(|sqlite| {
                sqlite
                    .run_pending_migrations(SQLITE_MIGRATIONS)
                    .map(versions)
                    .map_err(MigrationError::from)
            })
        }
    }
}

fn versions(applied: Vec<MigrationVersion<'_>>) -> Vec<String> {
    applied.into_iter().map(|v| v.to_string()).collect()
}

/// What `/readyz` and `incidex migrate --check` need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    pub applied: Vec<String>,
    pub pending: Vec<String>,
}

pub fn migration_status(conn: &mut DbConnection) -> Result<MigrationStatus, MigrationError> {
    fn names<DB: diesel::backend::Backend>(
        pending: &[Box<dyn diesel::migration::Migration<DB>>],
    ) -> Vec<String> {
        pending
            .iter()
            .map(|m| m.name().version().to_string())
            .collect()
    }
    let (applied, pending) = match conn {
        DbConnection::Postgresql(pg) => (
            pg.applied_migrations()?,
            names(&pg.pending_migrations(POSTGRES_MIGRATIONS)?),
        ),
        DbConnection::Sqlite(sqlite) => (
            sqlite.applied_migrations()?,
            names(&sqlite.pending_migrations(SQLITE_MIGRATIONS)?),
        ),
    };
    Ok(MigrationStatus {
        applied: applied.into_iter().map(|v| v.to_string()).collect(),
        pending,
    })
}
