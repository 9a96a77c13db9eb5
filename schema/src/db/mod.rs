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

pub mod alerts;
pub mod changes;
pub mod clusters;
mod connection;
pub mod digests;
pub mod idempotency;
pub mod identity;
pub mod lessons;
mod migrate;
pub mod reports;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;

pub use connection::{
    Backend, ConnectionManager, DatabaseUrl, DatabaseUrlError, DbConnection, DbPool, PoolOptions,
    PooledDb, TRUST_RECENTLY_USED, build_pool, discard_if_lost,
};
pub use migrate::{MigrationError, MigrationStatus, migration_status, run_migrations};

/// Multi-row `INSERT … VALUES (…), (…)` of `$rows` (a slice of
/// `Insertable` rows) into `$table`, in chunks that stay under SQLite's
/// bound-parameter limit. diesel's multi-row insert is backend-specific,
/// so it runs on the concrete connection. Evaluates to
/// `Result<usize, diesel::result::Error>` (rows inserted).
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let mut inserted = 0usize;
        let mut result = Ok(());
        for chunk in $rows.chunks($crate::db::INSERT_CHUNK_ROWS) {
            let n = match &mut *$conn {
                $crate::db::DbConnection::Postgresql(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)
                }
                $crate::db::DbConnection::Sqlite(c) => {
                    diesel::insert_into($table).values(chunk).execute(c)
                }
            };
            match n {
                Ok(n) => inserted += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        result.map(|()| inserted)
    }};
}
pub(crate) use insert_rows;

/// Rows per multi-row INSERT statement: 64 rows of the widest table stay
/// far below SQLite's limit of 32,766 bound parameters (and PostgreSQL's
/// 65,535).
pub const INSERT_CHUNK_ROWS: usize = 64;

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

/// Makes the surrounding transaction a writer from its first statement:
/// call it first in every transaction that reads before it writes.
///
/// SQLite (WAL) lets a transaction read from a snapshot and only then take
/// the write lock; if another connection committed in between (a request,
/// or a background job such as incremental clustering), the write fails at
/// once with "database is locked" instead of waiting. A write that changes
/// nothing takes the lock up front, so the transaction waits its turn
/// (busy timeout) and reads current data. PostgreSQL needs nothing.
pub fn lock_for_write(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    use diesel::prelude::*;
    if let DbConnection::Sqlite(_) = conn {
        use crate::schema::reports;
        diesel::update(reports::table.filter(reports::id.eq("")))
            .set(reports::id.eq(reports::id))
            .execute(conn)?;
    }
    Ok(())
}

/// Runs `f` in a transaction, or directly in the caller's transaction
/// when one is open: no SAVEPOINT round trips for storage functions that
/// are atomic on their own and also composed into larger transactions.
/// (An error aborts the caller's transaction as a whole; nothing here
/// recovers from an error half-way.)
pub fn atomically<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::Connection;
    use diesel::connection::TransactionManager;
    let open =
        <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .is_ok_and(|depth| depth.is_some());
    if open { f(conn) } else { conn.transaction(f) }
}

/// A transaction that reads and then writes: opened with
/// [`lock_for_write`] as its first statement. Use it for every such
/// transaction instead of `Connection::transaction`.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::Connection;
    conn.transaction(|conn| {
        lock_for_write(conn)?;
        f(conn)
    })
}
