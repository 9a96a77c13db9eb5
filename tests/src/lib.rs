//! The integration-test harness: the real incidex server, built by the same
//! [`Application::build`] that `incidex serve` uses, on a random port,
//! against a fresh database per test (a temp SQLite file, or a new
//! PostgreSQL database when `INCIDEX_TEST_DATABASE_URL` names a server).
//!
//! Tests are written once as `async fn name(backend: Backend)` and stamped
//! onto both backends with [`on_both_backends!`].

use std::path::PathBuf;

use incidex_api::config::{LogFormat, Overrides};
use incidex_api::state::AppState;
use incidex_api::{Application, Settings};
use incidex_registry::members::{self, NewClient, NewOperator, NewUser};
pub use incidex_schema::db::Backend;
use incidex_schema::db::testing::{TEST_DATABASE_URL_VAR, TestDatabase};
use incidex_schema::identity::Role;
use serde_json::Value;

/// A running server with its own database and data directory.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub backend: Backend,
    pub data_dir: PathBuf,
    /// The server's shared state (pool, keys, token service).
    pub state: AppState,
    handle: actix_web::dev::ServerHandle,
    // Dropped after the server is told to stop (shared by the servers
    // started with `spawn_sharing`; dropped with the last of them).
    db: std::sync::Arc<TestDatabase>,
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
        Some(TestApp::start(backend, std::sync::Arc::new(db), None, adjust).await)
    }

    /// A second server (its own data directory, index and port) on the
    /// database of `first`, with its keys, as a second replica would be:
    /// for tests of what several processes sharing one database do.
    pub async fn spawn_sharing(first: &TestApp, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let keys = first.data_dir.join("keys");
        TestApp::start(first.backend, first.db.clone(), Some(keys), adjust).await
    }

    async fn start(
        backend: Backend,
        db: std::sync::Arc<TestDatabase>,
        keys_from: Option<PathBuf>,
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temp data dir");
        if let Some(from) = keys_from {
            // Replicas share the signing key and the ownership secret.
            let to = data_dir.path().join("keys");
            std::fs::create_dir_all(&to).expect("keys dir");
            for entry in std::fs::read_dir(&from).expect("keys of the first server") {
                let entry = entry.expect("key file");
                std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy key");
            }
        }
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".parse().expect("address")),
            data_dir: Some(data_dir.path().to_owned()),
            database_url: Some(db.url_string()),
            log_format: Some(LogFormat::Text),
        };
        let mut settings = Settings::load(None, &overrides).expect("test settings");
        settings.workers = Some(2);
        settings.shutdown_timeout_secs = 1;
        // Tests drive one client far harder than a member would; the API
        // budgets are tested with their own values (tests/trust.rs), the
        // token and login limits keep their defaults.
        let many = incidex_api::config::Rate::new(1_000_000, 60);
        settings.limits.api_writes = many;
        settings.limits.api_searches = many;
        settings.limits.api_reads = many;
        adjust(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("application starts");
        let base_url = format!("http://{}", app.local_addr());
        let handle = app.handle();
        let state = app.state().clone();
        actix_web::rt::spawn(app.run());
        let app = TestApp {
            base_url,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            backend,
            data_dir: data_dir.path().to_owned(),
            state,
            handle,
            db,
            _data_dir: data_dir,
        };
        app.wait_ready().await;
        app
    }

    /// Waits until `/readyz` answers 200: the database is reachable and the
    /// index follower has caught up with it once (a fresh server answers
    /// 503 before).
    pub async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(r) = self.client.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server never became ready"
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(20)).await;
        }
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

    /// Registers an operator directly in the database (as `incidex admin`
    /// does) and returns its id.
    pub fn create_operator(&self, name: &str, aliases: &[&str], country: Option<&str>) -> String {
        let mut conn = self.state.registry.pool.get().expect("connection");
        members::create_operator(
            &mut conn,
            NewOperator {
                name: name.into(),
                aliases: aliases.iter().map(|a| a.to_string()).collect(),
                country: country.map(str::to_owned),
                operator_type: Some("mobile_operator".into()),
            },
        )
        .expect("create operator")
        .id
    }

    /// Creates an API client (as `incidex admin create-client` does) and
    /// returns its id and secret.
    pub fn create_client(&self, role: Role, operator: Option<&str>) -> (String, String) {
        let mut conn = self.state.registry.pool.get().expect("connection");
        let c = members::create_client(
            &mut conn,
            &self.state.registry.hasher,
            NewClient {
                operator: operator.map(str::to_owned),
                role,
                expires_in_days: None,
            },
        )
        .expect("create client");
        (c.client_id, c.client_secret)
    }

    /// Creates a web user with a password.
    pub fn create_user(&self, username: &str, role: Role, password: &str) {
        let mut conn = self.state.registry.pool.get().expect("connection");
        members::create_user(
            &mut conn,
            &self.state.registry.hasher,
            NewUser {
                username: username.into(),
                role,
                password: password.into(),
            },
        )
        .expect("create user");
    }

    /// Exchanges client credentials for a token through the API.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&serde_json::json!({"client_id": client_id, "client_secret": secret}))
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200, "token exchange");
        let body: Value = response.json().await.expect("json");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// A token for a new client with `role` (reporters belong to `operator`).
    pub async fn token_for(&self, role: Role, operator: Option<&str>) -> String {
        let (id, secret) = self.create_client(role, operator);
        self.token(&id, &secret).await
    }

    /// Sends a request with a bearer token.
    pub fn authed(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// Sends a request with a bearer token and an optional JSON body;
    /// returns the status and the JSON body (`null` when there is none).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let mut req = self.authed(method, path, token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let response = req.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Files a report as `token` (and publishes it when asked); returns its id.
    pub async fn file(&self, token: &str, body: &Value, publish: bool) -> String {
        let (status, created) = self
            .send(reqwest::Method::POST, "/api/v1/reports", token, Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().expect("id").to_owned();
        if publish {
            let path = format!("/api/v1/reports/{id}/publish");
            let (status, body) = self.send(reqwest::Method::POST, &path, token, None).await;
            assert_eq!(status, 200, "{body}");
        }
        id
    }

    /// Polls a search until its `total` is `expected` (the index follows
    /// the database asynchronously); returns the last response, which the
    /// caller checks, after a generous deadline at the latest.
    pub async fn search_until(&self, path: &str, token: &str, expected: u64) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (status, body) = self.send(reqwest::Method::GET, path, token, None).await;
            assert_eq!(status, 200, "{body}");
            if body["total"] == expected || std::time::Instant::now() > deadline {
                return body;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Stops the server gracefully (in-flight requests finish first).
    pub fn stop(&self) -> impl std::future::Future<Output = ()> + 'static {
        self.handle.stop(true)
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
