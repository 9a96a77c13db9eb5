//! Database URLs, the multi-backend connection and its r2d2 manager.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, Pool};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError, RunQueryDsl};

/// One connection to either backend. Queries written against this type run
/// on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

impl fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbConnection::Postgresql(_) => "DbConnection::Postgresql",
            DbConnection::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Postgresql(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A parsed database URL. Its `Display` never shows a password.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite://PATH` (relative or absolute; `sqlite:///abs/path` also works).
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`, passed to libpq as written.
    Postgres(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DatabaseUrlError {
    #[error("database URL has no scheme (expected postgres://… or sqlite://PATH)")]
    MissingScheme,
    #[error("unsupported database URL scheme `{0}` (expected postgres://… or sqlite://PATH)")]
    UnsupportedScheme(String),
    #[error("sqlite database URL has no file path (expected sqlite://PATH)")]
    EmptySqlitePath,
    #[error(
        "in-memory sqlite databases are not supported: every pooled connection would see its own database"
    )]
    InMemorySqlite,
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<DatabaseUrl, DatabaseUrlError> {
        let url = url.trim();
        let Some((scheme, rest)) = url.split_once(':') else {
            return Err(DatabaseUrlError::MissingScheme);
        };
        if scheme.is_empty()
            || !scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+')
        {
            return Err(DatabaseUrlError::MissingScheme);
        }
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres(url.to_owned())),
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    Err(DatabaseUrlError::EmptySqlitePath)
                } else if path == ":memory:" || path.starts_with("file::memory:") {
                    Err(DatabaseUrlError::InMemorySqlite)
                } else {
                    Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
                }
            }
            other => Err(DatabaseUrlError::UnsupportedScheme(other.to_owned())),
        }
    }

    /// The default: an SQLite file inside the data directory.
    pub fn sqlite_in(data_dir: &Path) -> DatabaseUrl {
        DatabaseUrl::Sqlite(data_dir.join("incidex.db"))
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }
}

/// Shows the URL with any password replaced by `***`.
impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => f.write_str(&redact_password(url)),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// `postgres://user:secret@host/db` -> `postgres://user:***@host/db`; also
/// hides a `password=` query parameter.
fn redact_password(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = out[authority_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| authority_start + i);
        if let Some(at) = out[authority_start..authority_end].rfind('@') {
            let userinfo = &out[authority_start..authority_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = authority_start + colon + 1;
                out.replace_range(start..authority_start + at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
    /// SQLite only: how long a writer waits for the file lock.
    pub sqlite_busy_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 16,
            connection_timeout: Duration::from_secs(5),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// r2d2 manager that connects by URL scheme and reports the real error.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    sqlite_busy_timeout: Duration,
}

impl ConnectionManager {
    pub fn new(url: DatabaseUrl, options: &PoolOptions) -> ConnectionManager {
        ConnectionManager {
            url,
            sqlite_busy_timeout: options.sqlite_busy_timeout,
        }
    }

    /// Opens one connection outside any pool (used by the CLI and tests).
    pub fn connect(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => {
                PgConnection::establish(url).map(DbConnection::Postgresql)
            }
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    ConnectionError::InvalidConnectionUrl("sqlite path is not valid UTF-8".into())
                })?;
                let mut conn = SqliteConnection::establish(path)?;
                let setup = ConnectionError::CouldntSetupConfiguration;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {};",
                    self.sqlite_busy_timeout.as_millis()
                ))
                .map_err(setup)?;
                // WAL lets readers run beside the writer. Switching a new
                // file to WAL needs a moment alone with it, and SQLite does
                // not wait for that on its own: retry within the busy timeout.
                let started = std::time::Instant::now();
                loop {
                    match conn.batch_execute("PRAGMA journal_mode = WAL;") {
                        Ok(()) => break,
                        Err(e)
                            if e.to_string().contains("locked")
                                && started.elapsed() < self.sqlite_busy_timeout =>
                        {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => return Err(setup(e)),
                    }
                }
                // FULL keeps every commit durable; foreign keys are off by
                // default in SQLite. The write-ahead log is cut back to
                // 64 MiB after each checkpoint instead of keeping the size
                // of its largest burst.
                conn.batch_execute(
                    "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
                     PRAGMA journal_size_limit = 67108864;",
                )
                .map_err(setup)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// A pooled connection with the time it was last handed back to the pool.
///
/// It dereferences to [`DbConnection`], so code takes `&mut DbConnection`
/// as before.
#[derive(Debug)]
pub struct PooledDb {
    conn: DbConnection,
    returned_at: Instant,
}

impl std::ops::Deref for PooledDb {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledDb {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

/// A connection back in the pool for less than this is handed out again
/// without a test query: it was working a moment ago, and a query per
/// check-out costs a round trip on every request. One idle for longer is
/// tested first (as HikariCP does), so connections the server dropped while
/// the pool was quiet (a restart, an idle timeout) are replaced unseen.
pub const TRUST_RECENTLY_USED: Duration = Duration::from_millis(500);

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = PooledDb;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PooledDb, r2d2::Error> {
        Ok(PooledDb {
            conn: ConnectionManager::connect(self).map_err(r2d2::Error::ConnectionError)?,
            returned_at: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut PooledDb) -> Result<(), r2d2::Error> {
        if conn.returned_at.elapsed() < TRUST_RECENTLY_USED {
            return Ok(());
        }
        diesel::sql_query("SELECT 1")
            .execute(&mut conn.conn)
            .map(|_| ())
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut PooledDb) -> bool {
        conn.returned_at = Instant::now();
        is_broken(&mut conn.conn)
    }
}

/// A connection left inside a transaction, or whose transaction state is
/// in error (diesel's own rule), or marked by [`discard_if_lost`].
fn is_broken(conn: &mut DbConnection) -> bool {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        DbConnection::Postgresql(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
        DbConnection::Sqlite(c) => AnsiTransactionManager::is_broken_transaction_manager(c),
    }
}

/// After a failed operation: if the connection itself no longer answers,
/// marks it so the pool closes it at check-in instead of handing a dead
/// connection to the next request. Costs a round trip on error paths only.
pub fn discard_if_lost(conn: &mut DbConnection) {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    if diesel::sql_query("SELECT 1").execute(conn).is_ok() {
        return;
    }
    match conn {
        DbConnection::Postgresql(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
        }
        DbConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).set_in_error();
        }
    }
}

pub type DbPool = Pool<ConnectionManager>;

/// Builds the pool and opens a first connection, so a wrong URL, a refused
/// connection or an unwritable file fails here with the real reason.
pub fn build_pool(url: DatabaseUrl, options: &PoolOptions) -> Result<DbPool, ConnectionError> {
    let manager = ConnectionManager::new(url, options);
    // Fail fast with the underlying error rather than r2d2's timeout.
    drop(manager.connect()?);
    let max_size = match manager.url.backend() {
        // SQLite has one writer at a time; a few readers beside it are enough.
        Backend::Sqlite => options.max_size.min(8),
        Backend::Postgres => options.max_size,
    };
    Pool::builder()
        .max_size(max_size.max(1))
        // Tested only after a quiet spell: see [`TRUST_RECENTLY_USED`].
        .test_on_check_out(true)
        .min_idle(Some(1))
        .connection_timeout(options.connection_timeout)
        .build(manager)
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schemes_explicitly() {
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/x.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("data/x.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::Sqlite(PathBuf::from("/tmp/x.db")))
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql://u@h/db").map(|u| u.backend()),
            Ok(Backend::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("mysql://u@h/db"),
            Err(DatabaseUrlError::UnsupportedScheme("mysql".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("/var/lib/x.db"),
            Err(DatabaseUrlError::MissingScheme)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://"),
            Err(DatabaseUrlError::EmptySqlitePath)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://:memory:"),
            Err(DatabaseUrlError::InMemorySqlite)
        );
    }

    #[test]
    fn display_hides_passwords() {
        let url =
            DatabaseUrl::parse("postgres://app:s3cret@db:5432/incidex?sslmode=disable&password=x2")
                .expect("valid url");
        let shown = url.to_string();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("x2"), "{shown}");
        assert_eq!(
            shown,
            "postgres://app:***@db:5432/incidex?sslmode=disable&password=***"
        );
        assert!(!format!("{url:?}").contains("s3cret"));
        let no_password = DatabaseUrl::parse("postgres://app@db/incidex").expect("valid url");
        assert_eq!(no_password.to_string(), "postgres://app@db/incidex");
    }
}
