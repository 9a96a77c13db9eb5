//! Every published report reaches every replica's index, whatever happens
//! on the way: two `incidex serve` processes over one database file
//! reports concurrently, one filing's commit is held back for longer than
//! any follower would ever wait (PostgreSQL: a deferred constraint trigger
//! that sleeps at commit), a replica is killed with SIGKILL and started
//! again, and PostgreSQL itself restarts. Afterwards each replica's index
//! holds exactly the published reports, at their current revisions, and
//! `incidex reindex --check` says so.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use incidex_schema::db::Backend;
use incidex_schema::db::testing::TestDatabase;
use serde_json::{Value, json};

/// The marker of the filing whose commit is held back.
const HELD: &str = "kittiwake";
/// How long its commit sleeps (the old follower skipped gaps after 5 s).
const HOLD_SECS: u32 = 8;

fn incidex() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incidex"));
    for (key, _) in std::env::vars() {
        if key.starts_with("INCIDEX_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs an admin command and returns its JSON output.
fn admin(url: &str, dir: &Path, args: &[&str]) -> Value {
    let out = incidex()
        .args(["admin", "--data-dir"])
        .arg(dir)
        .args(["--database-url", url, "--json"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run incidex admin");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("admin JSON")
}

struct Replica {
    child: Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Replica {
    fn start(url: &str, dir: &Path) -> Replica {
        let port = free_port();
        let child = incidex()
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(dir)
            .args(["--database-url", url, "--log-format", "text"])
            .env("INCIDEX_LOG_LEVEL", "warn")
            .env("INCIDEX_ALERTS__ENABLED", "false")
            .env("INCIDEX_RECLUSTER_INTERVAL_SECS", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn incidex serve");
        Replica {
            child,
            port,
            dir: dir.to_owned(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn wait_ready(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                panic!("incidex exited early: {status}");
            }
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "replica not ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL: no shutdown, no flush, whatever was in flight is cut.
    fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn token(client: &reqwest::Client, replica: &Replica, id: &str, secret: &str) -> String {
    let r = client
        .post(replica.url("/api/v1/auth/token"))
        .json(&json!({"client_id": id, "client_secret": secret}))
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("token JSON");
    body["access_token"].as_str().expect("token").to_owned()
}

fn report(marker: &str) -> Value {
    let mut body = incidex_schema::report::report_input_example();
    body["title"] = json!(format!("Replicated outage {marker}"));
    body["summary"] = json!(format!(
        "{} Marker {marker}.",
        body["summary"].as_str().expect("summary")
    ));
    body
}

/// Files and publishes one report; its id when the registry acknowledged
/// it (201), `None` when it refused or could not answer (a replica
/// killed, the database restarting): then nothing was promised.
async fn file(client: &reqwest::Client, url: String, token: &str, body: &Value) -> Option<String> {
    let r = client
        .post(url)
        .bearer_auth(token)
        .json(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .ok()?;
    if r.status() != 201 {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["id"].as_str().map(str::to_owned)
}

/// Files `n` reports at once, spread over the replicas' URLs.
async fn file_many(
    client: &reqwest::Client,
    urls: &[String],
    token: &str,
    prefix: &str,
    n: usize,
) -> Vec<String> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            let url = format!("{}/api/v1/reports?publish=true", urls[i % urls.len()]);
            let token = token.to_owned();
            let body = report(&format!("{prefix}{i}"));
            tokio::spawn(async move { file(&client, url, &token, &body).await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        if let Some(id) = t.await.expect("filing task") {
            ids.push(id);
        }
    }
    ids
}

fn restart_postgres() -> bool {
    let Some(version) = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|d| d.flatten().map(|e| e.file_name()).max())
    else {
        return false;
    };
    Command::new("pg_ctlcluster")
        .arg("--skip-systemctl-redirect")
        .arg(&version)
        .args(["main", "restart"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Makes the commit of any filing mentioning [`HELD`] sleep.
fn hold_marked_commits(db: &TestDatabase) {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};
    let mut conn = PgConnection::establish(&db.url_string()).expect("connect");
    conn.batch_execute(&format!(
        "CREATE FUNCTION incidex_test_hold() RETURNS trigger AS $$
         BEGIN
           IF NEW.content LIKE '%{HELD}%' THEN PERFORM pg_sleep({HOLD_SECS}); END IF;
           RETURN NULL;
         END $$ LANGUAGE plpgsql;
         CREATE CONSTRAINT TRIGGER incidex_test_hold AFTER INSERT OR UPDATE ON reports
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION incidex_test_hold();"
    ))
    .expect("install the held-commit trigger");
}

/// Ids of every report an analyst finds on `replica`, once it has found
/// `expected` of them (or the deadline passed).
async fn indexed_ids(
    client: &reqwest::Client,
    replica: &Replica,
    token: &str,
    expected: usize,
) -> std::collections::BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let r = client
            .get(replica.url("/api/v1/search?limit=200&facets=false&sort=newest"))
            .bearer_auth(token)
            .send()
            .await;
        if let Ok(r) = r
            && r.status() == 200
        {
            let body: Value = r.json().await.expect("search JSON");
            let ids: std::collections::BTreeSet<String> = body["hits"]
                .as_array()
                .expect("hits")
                .iter()
                .map(|h| h["id"].as_str().expect("id").to_owned())
                .collect();
            if ids.len() >= expected || Instant::now() > deadline {
                return ids;
            }
        }
        assert!(Instant::now() < deadline, "search never answered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until `/readyz` says the replica's index has every change.
async fn caught_up(client: &reqwest::Client, replica: &Replica) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(replica.url("/readyz")).send().await
            && let Ok(body) = r.json::<Value>().await
            && body["index"]["changes_behind"] == 0
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica {} never caught up",
            replica.port
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn reindex_check(url: &str, dir: &Path) -> (bool, String) {
    let out = incidex()
        .args(["reindex", "--check", "--data-dir"])
        .arg(dir)
        .args(["--database-url", url])
        .stdin(Stdio::null())
        .output()
        .expect("run incidex reindex --check");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn every_published_report_reaches_every_replica(backend: Backend) {
    let Some(db) = TestDatabase::create(backend) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL must be tested in CI"
        );
        eprintln!("skipped on postgres: no test database server configured");
        return;
    };
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let url = db.url_string();
    let dir_a = tempfile::tempdir().expect("dir");
    let dir_b = tempfile::tempdir().expect("dir");
    admin(
        &url,
        dir_a.path(),
        &[
            "create-operator",
            "--name",
            "Replica Mobile",
            "--country",
            "FR",
        ],
    );
    let reporter = admin(
        &url,
        dir_a.path(),
        &[
            "create-client",
            "--operator",
            "Replica Mobile",
            "--role",
            "reporter",
        ],
    );
    let analyst = admin(&url, dir_a.path(), &["create-client", "--role", "analyst"]);
    if backend == Backend::Postgres {
        hold_marked_commits(&db);
    }

    let client = reqwest::Client::new();
    let mut a = Replica::start(&url, dir_a.path());
    a.wait_ready(&client).await;
    // Replicas share the signing key and the ownership secret.
    let keys_b = dir_b.path().join("keys");
    std::fs::create_dir_all(&keys_b).expect("keys dir");
    for entry in std::fs::read_dir(dir_a.path().join("keys")).expect("keys of A") {
        let entry = entry.expect("key file");
        std::fs::copy(entry.path(), keys_b.join(entry.file_name())).expect("copy key");
    }
    let mut b = Replica::start(&url, dir_b.path());
    b.wait_ready(&client).await;
    let id = |v: &Value, k: &str| v[k].as_str().expect("credential").to_owned();
    let filer = token(
        &client,
        &a,
        &id(&reporter, "client_id"),
        &id(&reporter, "client_secret"),
    )
    .await;
    let reader = token(
        &client,
        &a,
        &id(&analyst, "client_id"),
        &id(&analyst, "client_secret"),
    )
    .await;
    let urls = vec![a.url(""), b.url("")];

    // One filing whose commit is held back while others commit after it.
    let held = {
        let client = client.clone();
        let url = a.url("/api/v1/reports?publish=true");
        let token = filer.clone();
        tokio::spawn(async move { file(&client, url, &token, &report(HELD)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut acknowledged = file_many(&client, &urls, &filer, "first-", 24).await;
    let held = held
        .await
        .expect("held filing")
        .expect("the held filing is acknowledged");
    acknowledged.push(held.clone());

    // A replica dies without a chance to flush, and comes back.
    b.kill();
    acknowledged.extend(file_many(&client, &[a.url("")], &filer, "while-b-down-", 8).await);
    let mut b = Replica::start(&url, &b.dir.clone());
    b.wait_ready(&client).await;

    // The database restarts; both replicas reconnect.
    if backend == Backend::Postgres {
        if is_root && restart_postgres() {
            a.wait_ready(&client).await;
            b.wait_ready(&client).await;
        } else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must restart PostgreSQL"
            );
            eprintln!("PostgreSQL not restarted: needs root and pg_ctlcluster");
        }
    }
    acknowledged.extend(file_many(&client, &urls, &filer, "after-", 12).await);
    // Amendments: the index must hold the current revision.
    for id in acknowledged.iter().take(3) {
        let r = client
            .patch(b.url(&format!("/api/v1/reports/{id}")))
            .bearer_auth(&filer)
            .header("content-type", "application/merge-patch+json")
            .json(&json!({"notes": "amended after the restarts"}))
            .send()
            .await
            .expect("amend");
        assert_eq!(r.status(), 200);
    }

    let expected: std::collections::BTreeSet<String> = acknowledged.iter().cloned().collect();
    assert!(
        expected.len() >= 30,
        "most filings acknowledged: {}",
        expected.len()
    );
    for replica in [&a, &b] {
        let found = indexed_ids(&client, replica, &reader, expected.len()).await;
        assert!(found.contains(&held), "the late commit is indexed");
        assert_eq!(
            found, expected,
            "replica {}: the index holds exactly the acknowledged reports",
            replica.port
        );
    }
    for replica in [&a, &b] {
        caught_up(&client, replica).await;
        let (ok, out) = reindex_check(&url, &replica.dir);
        assert!(ok, "reindex --check on replica {}: {out}", replica.port);
        assert!(out.contains("in step"), "{out}");
    }
    // The check does see a difference where there is one.
    a.kill();
    {
        use diesel::connection::SimpleConnection;
        let pool = incidex_schema::db::build_pool(
            incidex_schema::db::DatabaseUrl::parse(&url).expect("url"),
            &Default::default(),
        )
        .expect("pool");
        let mut conn = pool.get().expect("connection");
        // A report withdrawn behind the index's back, without a change
        // record: only a reconciliation can notice it.
        conn.batch_execute(&format!(
            "UPDATE reports SET status = 'withdrawn' WHERE id = '{}'",
            acknowledged[0]
        ))
        .expect("withdraw behind the index's back");
    }
    let (ok, out) = reindex_check(&url, &a.dir);
    assert!(!ok, "a difference is reported: {out}");
    assert!(out.contains(&acknowledged[0]), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_every_published_report_reaches_every_replica() {
    every_published_report_reaches_every_replica(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_every_published_report_reaches_every_replica() {
    every_published_report_reaches_every_replica(Backend::Postgres).await;
}
