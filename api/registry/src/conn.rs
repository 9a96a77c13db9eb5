//! Running a unit of registry work on a pooled connection.

use incidex_schema::db::{DbConnection, DbPool, StorageError, discard_if_lost};

use crate::error::{RegistryError, RegistryResult};

/// Runs `f` with a connection from `pool`. A connection that saw an
/// unexpected failure is checked and, if the database is gone, not handed
/// to the next caller. Blocking: the HTTP face runs this on its blocking
/// pool, jobs on theirs.
pub fn with_connection<T>(
    pool: &DbPool,
    f: impl FnOnce(&mut DbConnection) -> RegistryResult<T>,
) -> RegistryResult<T> {
    let mut conn = pool.get().map_err(StorageError::from)?;
    let result = f(&mut conn);
    if result.as_ref().is_err_and(RegistryError::is_unexpected) {
        discard_if_lost(&mut conn);
    }
    result
}
