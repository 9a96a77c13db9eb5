//! Stored first responses for `Idempotency-Key` retries.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{DbConnection, StorageResult};
use crate::schema::idempotency_keys;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = idempotency_keys)]
pub struct IdempotencyRow {
    pub scope: String,
    pub idem_key: String,
    pub request_hash: String,
    pub response_status: i32,
    pub response_body: String,
    pub created_at: NaiveDateTime,
}

pub fn find(
    conn: &mut DbConnection,
    scope: &str,
    key: &str,
) -> StorageResult<Option<IdempotencyRow>> {
    Ok(idempotency_keys::table
        .find((scope, key))
        .select(IdempotencyRow::as_select())
        .first(conn)
        .optional()?)
}

/// Stores a first response unless the key is taken; returns whether it was
/// stored. Call it in the transaction that made the change, so a crash
/// cannot leave a change without its record or a record without its
/// change. A concurrent request holding the same key makes this wait for
/// its commit (or rollback), then returns `false` (or stores).
pub fn insert(conn: &mut DbConnection, row: &IdempotencyRow) -> StorageResult<bool> {
    // ON CONFLICT is backend-specific in diesel: run it on the concrete
    // connection.
    let n = match conn {
        DbConnection::Postgresql(c) => diesel::insert_into(idempotency_keys::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConnection::Sqlite(c) => diesel::insert_into(idempotency_keys::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(n == 1)
}

/// Stores many first responses in one statement. Unlike [`insert`], a key
/// that is taken (or repeated in `rows`) fails the statement with a unique
/// violation, which aborts the surrounding transaction: the caller then
/// handles each request on its own.
pub fn insert_all(conn: &mut DbConnection, rows: &[IdempotencyRow]) -> StorageResult<()> {
    super::insert_rows!(conn, idempotency_keys::table, rows)?;
    Ok(())
}

/// Forgets records older than `before`; returns how many.
pub fn purge_older_than(conn: &mut DbConnection, before: NaiveDateTime) -> StorageResult<usize> {
    Ok(
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::created_at.lt(before)))
            .execute(conn)?,
    )
}
