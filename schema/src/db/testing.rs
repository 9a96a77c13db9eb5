//! Throwaway databases for tests: a fresh SQLite file in a temporary
//! directory, or a fresh PostgreSQL database created on the server named by
//! `INCIDEX_TEST_DATABASE_URL` and dropped when the value is dropped.
//!
//! Compiled for this crate's own tests and for other crates that enable the
//! `test-support` feature.

use std::path::PathBuf;

use diesel::{Connection, RunQueryDsl, pg::PgConnection};

use super::{Backend, DatabaseUrl};

/// The environment variable naming a PostgreSQL server for tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const TEST_DATABASE_URL_VAR: &str = "INCIDEX_TEST_DATABASE_URL";

/// A database that exists for the lifetime of this value.
#[derive(Debug)]
pub struct TestDatabase {
    url: DatabaseUrl,
    /// Keeps the SQLite file's directory alive.
    _dir: Option<tempfile::TempDir>,
    /// For PostgreSQL: the admin URL and the database name to drop.
    drop_pg: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh database for `backend`, or `None` for PostgreSQL when no test
    /// server is configured.
    pub fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(TestDatabase::sqlite()),
            Backend::Postgres => TestDatabase::postgres(),
        }
    }

    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("create temp dir for test database");
        let path: PathBuf = dir.path().join("test.db");
        TestDatabase {
            url: DatabaseUrl::Sqlite(path),
            _dir: Some(dir),
            drop_pg: None,
        }
    }

    pub fn postgres() -> Option<TestDatabase> {
        let admin_url = std::env::var(TEST_DATABASE_URL_VAR).ok()?;
        let name = format!("incidex_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("connect to {TEST_DATABASE_URL_VAR}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        let url = with_database_name(&admin_url, &name);
        Some(TestDatabase {
            url: DatabaseUrl::Postgres(url),
            _dir: None,
            drop_pg: Some((admin_url, name)),
        })
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The URL as a string to pass to `--database-url`.
    pub fn url_string(&self) -> String {
        match &self.url {
            DatabaseUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
            DatabaseUrl::Postgres(url) => url.clone(),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = &self.drop_pg
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            // FORCE ends connections a still-running server left open.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}

/// Seeding for tests of time-based features (digests): moves a report's
/// timestamps back so that it was created, published and changed at `at`
/// (its change log, revisions and lessons too), as if it had been filed
/// then. It writes what the API would have written at that time; no
/// production path reads anything the API could not have written.
pub fn backdate_report(
    conn: &mut super::DbConnection,
    report_id: &str,
    at: chrono::NaiveDateTime,
) -> Result<(), diesel::result::Error> {
    use crate::schema::{lessons, report_changes, report_revisions, reports};
    use diesel::{ExpressionMethods, QueryDsl};
    super::write_transaction(conn, |conn| {
        let published: Option<Option<chrono::NaiveDateTime>> = reports::table
            .find(report_id)
            .select(reports::published_at)
            .first(conn)
            .ok();
        diesel::update(reports::table.find(report_id))
            .set((
                reports::created_at.eq(at),
                reports::updated_at.eq(at),
                reports::published_at.eq(published.flatten().map(|_| at)),
            ))
            .execute(conn)?;
        diesel::update(report_changes::table.filter(report_changes::report_id.eq(report_id)))
            .set(report_changes::changed_at.eq(at))
            .execute(conn)?;
        diesel::update(report_revisions::table.filter(report_revisions::report_id.eq(report_id)))
            .set(report_revisions::created_at.eq(at))
            .execute(conn)?;
        diesel::update(lessons::table.filter(lessons::report_id.eq(report_id.to_owned())))
            .set(lessons::created_at.eq(at))
            .execute(conn)?;
        Ok(())
    })
}

/// Seeding: moves the time of a report's latest change of `kind` (e.g.
/// `amended`) to `at`, and its `updated_at` with it.
pub fn backdate_change(
    conn: &mut super::DbConnection,
    report_id: &str,
    kind: &str,
    at: chrono::NaiveDateTime,
) -> Result<(), diesel::result::Error> {
    use crate::schema::{report_changes, reports};
    use diesel::{ExpressionMethods, QueryDsl};
    super::write_transaction(conn, |conn| {
        let seq: i64 = report_changes::table
            .filter(report_changes::report_id.eq(report_id))
            .filter(report_changes::kind.eq(kind))
            .select(diesel::dsl::max(report_changes::seq))
            .first::<Option<i64>>(conn)?
            .ok_or(diesel::result::Error::NotFound)?;
        diesel::update(report_changes::table.find(seq))
            .set(report_changes::changed_at.eq(at))
            .execute(conn)?;
        diesel::update(reports::table.find(report_id))
            .set(reports::updated_at.eq(at))
            .execute(conn)?;
        Ok(())
    })
}

/// Replaces the database name (the URL path) in a PostgreSQL URL.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn replaces_database_name() {
        use super::with_database_name as w;
        assert_eq!(
            w("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(w("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(
            w("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
    }
}
