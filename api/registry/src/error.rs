//! The registry's error: what went wrong in the registry's terms, never as
//! an HTTP status.
//!
//! Layering: the library crates below (`schema`, `indexer`) return their own
//! typed errors, which convert into [`RegistryError`] here; the HTTP face
//! turns a [`RegistryError`] into a problem+json response in exactly one
//! place (`impl From<RegistryError> for ApiError` in `incidex-api`), and the
//! command line reports it with `anyhow`. An unexpected failure
//! ([`RegistryError::Internal`]) keeps its source chain for the log and is
//! never shown to a client.

use incidex_indexer::{IndexError, QueryLimit};
use incidex_schema::db::StorageError;
use incidex_schema::validation::FieldError;

/// Everything a registry operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No such thing, or not one the caller may see (the two are never
    /// told apart, so nothing reveals that a hidden report exists).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (a withdrawn report
    /// amended, a draft published twice).
    #[error("{0}")]
    Conflict(String),
    /// Credentials were refused (unknown, wrong, revoked or expired).
    #[error("{0}")]
    Unauthenticated(String),
    /// Too many attempts; try again later.
    #[error("{0}")]
    Throttled(String),
    /// The caller's role or membership does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// A submitted document has invalid fields.
    #[error("{} invalid", describe_fields(.0))]
    Invalid(Vec<FieldError>),
    /// A request parameter (a query-string value, a path segment) is not
    /// acceptable.
    #[error("{message}")]
    BadParameter {
        message: String,
        errors: Vec<FieldError>,
    },
    /// A query was refused before parsing because it crosses a bound.
    #[error("the query is too complex: {limit}")]
    QueryTooComplex { field: String, limit: QueryLimit },
    /// An idempotency key was used before with a different request.
    #[error("this idempotency key was used with a different request")]
    KeyReused,
    /// A dependency (the database, the index) is not available right now;
    /// nothing was written, and a retry is safe.
    #[error("{0}")]
    Unavailable(String),
    /// An unexpected failure: logged with its chain, never shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn describe_fields(errors: &[FieldError]) -> String {
    match errors {
        [one] => format!("field `{}` is", one.field),
        many => format!("{} fields are", many.len()),
    }
}

impl RegistryError {
    /// The usual "not found" (no such resource, or not a visible one).
    pub fn not_found() -> RegistryError {
        RegistryError::NotFound("no such resource".into())
    }

    /// A bad request parameter, with its field error.
    pub fn bad_parameter(field: &str, message: impl Into<String>) -> RegistryError {
        let message = message.into();
        RegistryError::BadParameter {
            message: format!("{field}: {message}"),
            errors: vec![FieldError::new(field, "invalid_value", message)],
        }
    }

    /// An unexpected failure from anything with a source chain.
    pub fn internal(e: impl Into<anyhow::Error>) -> RegistryError {
        RegistryError::Internal(e.into())
    }

    /// A query refused before parsing.
    pub fn query_too_complex(field: &str, limit: QueryLimit) -> RegistryError {
        RegistryError::QueryTooComplex {
            field: field.to_owned(),
            limit,
        }
    }

    /// The field errors this failure names (empty when it names none).
    pub fn field_errors(&self) -> Vec<FieldError> {
        match self {
            RegistryError::Invalid(errors) | RegistryError::BadParameter { errors, .. } => {
                errors.clone()
            }
            RegistryError::QueryTooComplex { field, limit } => {
                vec![FieldError::new(field, limit.name(), limit.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// Whether this failure was not the caller's doing (the connection that
    /// saw it may be broken and is not reused).
    pub fn is_unexpected(&self) -> bool {
        matches!(
            self,
            RegistryError::Internal(_) | RegistryError::Unavailable(_)
        )
    }
}

impl From<StorageError> for RegistryError {
    fn from(e: StorageError) -> RegistryError {
        match e {
            StorageError::Pool(_) => {
                tracing::warn!(error = %e, "no database connection available");
                RegistryError::Unavailable("the database is not available; retry shortly".into())
            }
            StorageError::Database(ref db) if is_busy(db) => {
                // SQLite's single writer stayed busy for the whole busy
                // timeout: overload, not a fault. Nothing was written (the
                // transaction rolled back), and a retry is safe.
                tracing::warn!(error = %db, "database busy beyond its timeout");
                RegistryError::Unavailable("the database is busy; retry shortly".into())
            }
            StorageError::Database(ref db) if is_connection_lost(db) => {
                // A restart, a failover or a dropped connection: nothing
                // was committed by the failed statement, and a retry on a
                // new connection is safe.
                tracing::warn!(error = %db, "database connection lost");
                RegistryError::Unavailable("the database is not reachable; retry shortly".into())
            }
            other => RegistryError::Internal(other.into()),
        }
    }
}

/// SQLite's "database is locked" / "database is busy" (SQLITE_BUSY).
fn is_busy(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(_, info) => {
            let m = info.message();
            m.contains("database is locked") || m.contains("database is busy")
        }
        _ => false,
    }
}

/// The database went away under a statement: the server closed the
/// connection (restart, failover, administrator), refuses new ones while
/// starting or stopping, or cannot be reached.
pub fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | Error::DatabaseError(DatabaseErrorKind::UnableToSendCommand, _)
        | Error::BrokenTransactionManager => true,
        Error::DatabaseError(_, info) => {
            let m = info.message();
            [
                "terminating connection",
                "server closed the connection",
                "no connection to the server",
                "connection to server",
                "could not connect",
                "the database system is",
                "connection refused",
                "could not receive data",
                "could not send data",
                "SSL SYSCALL error",
                "canceling statement due to conflict with recovery",
                "in a read-only transaction", // a standby after a failover
            ]
            .iter()
            .any(|needle| m.contains(needle))
        }
        _ => false,
    }
}

/// Whether an unexpected failure is the database being away (a pooled
/// connection lost, none to be had): a 503 to retry, not a fault.
pub fn is_database_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(db) = cause.downcast_ref::<diesel::result::Error>() {
            return is_connection_lost(db);
        }
        if let Some(storage) = cause.downcast_ref::<StorageError>() {
            return match storage {
                StorageError::Pool(_) => true,
                StorageError::Database(db) => is_connection_lost(db),
                StorageError::Corrupt(_) => false,
            };
        }
        cause.downcast_ref::<diesel::r2d2::PoolError>().is_some()
            || cause.downcast_ref::<diesel::ConnectionError>().is_some()
    })
}

impl From<diesel::result::Error> for RegistryError {
    fn from(e: diesel::result::Error) -> RegistryError {
        RegistryError::from(StorageError::from(e))
    }
}

impl From<incidex_schema::report::ValidationErrors> for RegistryError {
    fn from(e: incidex_schema::report::ValidationErrors) -> RegistryError {
        RegistryError::Invalid(e.into_errors())
    }
}

impl From<serde_json::Error> for RegistryError {
    fn from(e: serde_json::Error) -> RegistryError {
        RegistryError::Internal(e.into())
    }
}

impl From<IndexError> for RegistryError {
    /// A query's fault is the caller's (named on the field `q`); anything
    /// else about the index is unexpected.
    fn from(e: IndexError) -> RegistryError {
        match e {
            IndexError::InvalidQuery { message, position } => {
                let message = match position {
                    Some(p) => format!("{message} (at character {p})"),
                    None => message,
                };
                RegistryError::BadParameter {
                    message: format!("the query is not valid: {message}"),
                    errors: vec![FieldError::new("q", "invalid_query", message)],
                }
            }
            IndexError::QueryTooComplex { limit } => RegistryError::query_too_complex("q", limit),
            IndexError::InvalidRequest(m) => RegistryError::BadParameter {
                message: m,
                errors: Vec::new(),
            },
            IndexError::NotFound(_) => RegistryError::not_found(),
            other => RegistryError::Internal(other.into()),
        }
    }
}

pub type RegistryResult<T> = Result<T, RegistryError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A real SQLITE_BUSY (another connection holds the write lock past
    /// the busy timeout) is "unavailable", to retry, not unexpected.
    #[test]
    fn a_busy_sqlite_database_is_unavailable() {
        use diesel::connection::SimpleConnection;
        use diesel::{Connection, SqliteConnection};
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("busy.db");
        let path = path.to_str().expect("utf-8");
        let mut holder = SqliteConnection::establish(path).expect("open");
        holder
            .batch_execute("CREATE TABLE t (x INTEGER); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .expect("lock");
        let mut other = SqliteConnection::establish(path).expect("open");
        other
            .batch_execute("PRAGMA busy_timeout = 10;")
            .expect("pragma");
        let err = other
            .batch_execute("INSERT INTO t VALUES (2);")
            .expect_err("locked");
        assert!(matches!(
            RegistryError::from(err),
            RegistryError::Unavailable(_)
        ));
    }

    #[test]
    fn field_errors_are_described() {
        let one = RegistryError::Invalid(vec![FieldError::new("title", "blank", "m")]);
        assert_eq!(one.to_string(), "field `title` is invalid");
        let two = RegistryError::Invalid(vec![
            FieldError::new("a", "x", "m"),
            FieldError::new("b", "x", "m"),
        ]);
        assert_eq!(two.to_string(), "2 fields are invalid");
    }
}
