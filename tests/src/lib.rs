//! The integration-test harness: the real incidex server, built by the same
//! [`Application::build`] that `incidex serve` uses, on a random port,
//! against a fresh database per test (a temp SQLite file, or a new
//! PostgreSQL database when `INCIDEX_TEST_DATABASE_URL` names a server).
//!
//! Tests are written once as `async fn name(backend: Backend)` and stamped
//! onto both backends with [`on_both_backends!`].

use std::path::PathBuf;

use incidex_api::config::{LogFormat, Overrides};
use incidex_api::{Application, Settings};
pub use incidex_schema::db::Backend;
use incidex_schema::db::testing::{TEST_DATABASE_URL_VAR, TestDatabase};
use serde_json::Value;

/// A running server with its own database and data directory.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub data_dir: PathBuf,
    handle: actix_web::dev::ServerHandle,
    // Dropped after the server is told to stop.
    _db: TestDatabase,
    _data_dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApp")
            .field("base_url", &self.base_url)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl TestApp {
    /// Starts a server on `backend`; `None` (with a message) when the backend
    /// is PostgreSQL and no test server is configured outside CI.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// Like [`TestApp::spawn`], with a chance to adjust the settings.
    pub async fn spawn_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let Some(db) = TestDatabase::create(backend) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "{TEST_DATABASE_URL_VAR} must be set in CI so that PostgreSQL is tested"
            );
            eprintln!("skipped on postgres: {TEST_DATABASE_URL_VAR} is not set");
            return None;
        };
        let data_dir = tempfile::tempdir().expect("temp data dir");
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".parse().expect("address")),
            data_dir: Some(data_dir.path().to_owned()),
            database_url: Some(db.url_string()),
            log_format: Some(LogFormat::Text),
        };
        let mut settings = Settings::load(None, &overrides).expect("test settings");
        settings.workers = Some(2);
        settings.shutdown_timeout_secs = 1;
        adjust(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("application starts");
        let base_url = format!("http://{}", app.local_addr());
        let handle = app.handle();
        actix_web::rt::spawn(app.run());
        Some(TestApp {
            base_url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            backend,
            data_dir: data_dir.path().to_owned(),
            handle,
            _db: db,
            _data_dir: data_dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// Stops the server and waits for it (in-flight requests finish first).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting; the database is dropped right after.
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// Reads a problem+json response, checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body is JSON");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(
        body["type"],
        format!("urn:incidex:problem:{code}"),
        "{body}"
    );
    body
}

/// Stamps `async fn name(backend: Backend)` tests onto both backends:
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[actix_web::test] async fn $name() { super::$name($crate::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[actix_web::test] async fn $name() { super::$name($crate::Backend::Postgres).await } )*
        }
    };
}
