//! The `incidex` binary as a process: start-up errors are one clear line
//! with a non-zero exit, `serve` runs with no configuration and stops
//! cleanly on a signal, `migrate` applies and checks migrations.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use incidex_schema::db::Backend;
use incidex_schema::db::testing::TestDatabase;

fn incidex() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_incidex"));
    // The tests choose every setting themselves.
    for (key, _) in std::env::vars() {
        if key.starts_with("INCIDEX_") {
            cmd.env_remove(key);
        }
    }
    cmd.env_remove("RUST_LOG");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run incidex")
}

/// The process failed and said why on exactly one line of stderr.
fn one_line_error(output: &Output) -> String {
    assert!(
        !output.status.success(),
        "expected failure, got {:?}",
        output.status
    );
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr: {stderr:?}");
    assert!(lines[0].starts_with("incidex: error: "), "{stderr}");
    lines[0].to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A minimal HTTP/1.1 GET, so these tests need no async runtime.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

fn wait_ready(child: &mut Child, port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("poll child") {
            panic!("incidex exited early: {status}");
        }
        if let Some((200, body)) = http_get(port, "/readyz") {
            return body;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("incidex did not become ready");
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill -{sig}");
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("poll child") {
            return status;
        }
        assert!(Instant::now() < deadline, "incidex did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_with_no_configuration_uses_sqlite_in_data_and_stops_on_ctrl_c() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = incidex()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(cwd.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let body = wait_ready(&mut child, port);
    assert!(body.contains("\"database\":\"sqlite\""), "{body}");
    assert!(
        cwd.path().join("data/incidex.db").is_file(),
        "./data/incidex.db created"
    );

    signal(&child, "INT");
    let status = wait_exit(&mut child);
    assert!(status.success(), "clean exit on SIGINT: {status}");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .collect();
    // Logs are JSON lines, and the last one says the server stopped.
    for line in &lines {
        let _: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    assert!(
        lines.iter().any(|l| l.contains("\"message\":\"stopped\"")),
        "{lines:?}"
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn serve_on_postgres_is_ready_and_stops_on_sigterm() {
    let Some(db) = TestDatabase::create(Backend::Postgres) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL must be tested in CI"
        );
        eprintln!("skipped: INCIDEX_TEST_DATABASE_URL is not set");
        return;
    };
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = incidex()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.path())
        .env("INCIDEX_DATABASE_URL", db.url_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let body = wait_ready(&mut child, port);
    assert!(body.contains("\"database\":\"postgres\""), "{body}");
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success());
}

/// SIGTERM during a request: the request is answered, then the process exits 0.
#[test]
fn in_flight_requests_finish_on_sigterm() {
    let data = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut child = incidex()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_ready(&mut child, port);
    let body = br#"{"client_id": "ic_x", "client_secret": "nope"}"#;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("write head");
    stream.write_all(&body[..10]).expect("write part");
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("poll").is_none(),
        "still finishing the request"
    );
    stream.write_all(&body[10..]).expect("write rest");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    assert!(
        response.starts_with("HTTP/1.1 401"),
        "the in-flight request was answered: {response:?}"
    );
    assert!(wait_exit(&mut child).success());
}

#[test]
fn unsupported_database_scheme_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(incidex()
        .args([
            "serve",
            "--database-url",
            "mysql://root@localhost/x",
            "--data-dir",
        ])
        .arg(dir.path()));
    let line = one_line_error(&out);
    assert!(
        line.contains("unsupported database URL scheme `mysql`"),
        "{line}"
    );
}

#[test]
fn unreachable_database_is_one_clear_line_without_the_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port(); // nothing listens there
    let url = format!("postgres://app:topsecret@127.0.0.1:{port}/incidex");
    let out = run(incidex()
        .args(["serve", "--database-url", &url, "--data-dir"])
        .arg(dir.path()));
    let line = one_line_error(&out);
    assert!(line.contains("cannot connect to database"), "{line}");
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(!line.contains("topsecret"), "password leaked: {line}");
}

#[test]
fn unusable_data_directory_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let data_dir = file.join("data");
    let out = run(incidex().args(["serve", "--data-dir"]).arg(&data_dir));
    let line = one_line_error(&out);
    assert!(line.contains("data directory"), "{line}");
    assert!(line.contains(&data_dir.display().to_string()), "{line}");
}

#[test]
fn malformed_config_file_is_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("incidex.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:8080\"\ndata_dir = [\n").expect("write");
    let out = run(incidex().arg("--config").arg(&config).arg("serve"));
    let line = one_line_error(&out);
    assert!(line.contains("invalid configuration"), "{line}");

    std::fs::write(&config, "listen = \"not an address\"\n").expect("write");
    let out = run(incidex().arg("--config").arg(&config).arg("serve"));
    let line = one_line_error(&out);
    assert!(line.contains("listen"), "{line}");

    let missing = dir.path().join("missing.toml");
    let out = run(incidex().arg("--config").arg(&missing).arg("migrate"));
    let line = one_line_error(&out);
    assert!(line.contains("missing.toml"), "{line}");
}

#[test]
fn migrate_applies_then_check_reports_nothing_pending() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDatabase::create(backend) else {
            continue;
        };
        let data = tempfile::tempdir().expect("tempdir");
        let with_db = |cmd: &mut Command| {
            cmd.arg("--data-dir")
                .arg(data.path())
                .args(["--database-url", &db.url_string()]);
        };

        let mut check = incidex();
        check.args(["migrate", "--check"]);
        with_db(&mut check);
        let out = run(&mut check);
        assert_eq!(
            out.status.code(),
            Some(1),
            "pending migrations on a fresh database"
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("pending "));

        let mut migrate = incidex();
        migrate.arg("migrate");
        with_db(&mut migrate);
        let out = run(&mut migrate);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("applied "));

        let out = run(&mut check);
        assert!(
            out.status.success(),
            "nothing pending after migrate ({backend:?})"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!stdout.contains("pending"), "{stdout}");
    }
}

#[test]
fn every_subcommand_has_help() {
    let out = run(incidex().arg("--help"));
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let subcommands: Vec<&str> = help
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(
        subcommands.contains(&"serve") && subcommands.contains(&"migrate"),
        "{help}"
    );
    for sub in subcommands {
        let out = run(incidex().args([sub, "--help"]));
        assert!(out.status.success(), "{sub} --help");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: incidex"), "{sub}: {text}");
    }
    let out = run(incidex().args(["serve", "--help"]));
    let text = String::from_utf8_lossy(&out.stdout);
    for option in ["--listen", "--data-dir", "--database-url"] {
        assert!(text.contains(option), "serve --help lists {option}");
    }
}

#[test]
fn openapi_subcommand_prints_the_committed_document() {
    let out = run(incidex().arg("openapi"));
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(committed_path).expect("read"))
            .expect("JSON");
    assert!(
        printed == committed,
        "openapi/openapi.json is stale: run `incidex openapi > openapi/openapi.json`"
    );
}

fn with_storage<'a>(cmd: &'a mut Command, data: &Path, db: &TestDatabase) -> &'a mut Command {
    cmd.arg("--data-dir")
        .arg(data)
        .args(["--database-url", &db.url_string()])
}

#[test]
fn admin_commands_create_members_clients_and_users() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDatabase::create(backend) else {
            continue;
        };
        let data = tempfile::tempdir().expect("tempdir");
        let out = run(
            with_storage(incidex().arg("admin"), data.path(), &db).args([
                "create-operator",
                "--name",
                "Acme Mobile",
                "--alias",
                "Acme",
                "--alias",
                "AcmeNet",
                "--country",
                "fr",
                "--json",
            ]),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let op: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(op["id"].is_string());
        assert_eq!(op["aliases"], serde_json::json!(["Acme", "AcmeNet"]));
        assert_eq!(op["country"], "FR");

        let out = run(
            with_storage(incidex().arg("admin"), data.path(), &db).args([
                "create-client",
                "--operator",
                "Acme Mobile",
                "--role",
                "reporter",
                "--json",
            ]),
        );
        let client: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(client["client_id"].as_str().expect("id").starts_with("ic_"));
        assert!(client["client_secret"].as_str().expect("secret").len() >= 40);
        assert_eq!(client["operator_id"], op["id"]);

        let out = run(
            with_storage(incidex().arg("admin"), data.path(), &db).args([
                "create-client",
                "--role",
                "analyst",
                "--json",
            ]),
        );
        let analyst: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert!(
            analyst["operator_id"].is_null(),
            "analyst clients belong to the registry"
        );

        let out = run(
            with_storage(incidex().arg("admin"), data.path(), &db).args([
                "create-client",
                "--role",
                "reporter",
            ]),
        );
        let line = one_line_error(&out);
        assert!(line.contains("operator"), "{line}");

        let mut child = with_storage(incidex().arg("admin"), data.path(), &db)
            .args([
                "create-user",
                "--username",
                "analyst",
                "--role",
                "analyst",
                "--password-stdin",
                "--json",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"correct horse battery staple\n")
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success());
        let user: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(user["username"], "analyst");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("correct horse"));

        let out = run(
            with_storage(incidex().arg("admin"), data.path(), &db).args([
                "revoke-client",
                client["client_id"].as_str().expect("id"),
                "--json",
            ]),
        );
        assert!(out.status.success());
        let out =
            run(with_storage(incidex().arg("admin"), data.path(), &db)
                .args(["list-clients", "--json"]));
        let clients: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let revoked = clients
            .as_array()
            .expect("list")
            .iter()
            .find(|c| c["client_id"] == client["client_id"])
            .expect("listed");
        assert_eq!(revoked["revoked"], true);
    }
}

#[test]
fn import_files_the_corpus_once_and_reports_bad_lines() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/data/telecom/incidents.jsonl");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDatabase::create(backend) else {
            continue;
        };
        let data = tempfile::tempdir().expect("tempdir");
        let out = run(
            with_storage(incidex().arg("admin"), data.path(), &db).args([
                "create-operator",
                "--name",
                "Demo Mobile",
            ]),
        );
        assert!(out.status.success());
        let import = |extra: &[&str], file: &Path| {
            let mut cmd = incidex();
            cmd.arg("import")
                .arg(file)
                .args(["--operator", "Demo Mobile", "--json"])
                .args(extra);
            run(with_storage(&mut cmd, data.path(), &db))
        };
        let out = import(&["--publish"], &corpus);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(
            (summary["filed"].as_u64(), summary["published"].as_u64()),
            (Some(32), Some(32))
        );
        let again: serde_json::Value =
            serde_json::from_slice(&import(&["--publish"], &corpus).stdout).expect("json");
        assert_eq!(
            (again["filed"].as_u64(), again["already_filed"].as_u64()),
            (Some(0), Some(32))
        );

        let lines: Vec<&str> = include_str!("../../schema/data/telecom/incidents.jsonl")
            .lines()
            .collect();
        let mixed = data.path().join("mixed.jsonl");
        let bad = r#"{"title": "x", "summary": "y", "context": {"started_on": "not a date"}}"#;
        std::fs::write(&mixed, [lines[0], bad, lines[1]].join("\n")).expect("write");
        let stop = import(&[], &mixed);
        assert_eq!(stop.status.code(), Some(1));
        let summary: serde_json::Value = serde_json::from_slice(&stop.stdout).expect("json");
        assert_eq!(
            summary["failed"][0][0], 2,
            "the bad line is named by number"
        );
        assert!(String::from_utf8_lossy(&stop.stderr).contains("line 2:"));
        assert!(
            summary["failed"][0][1]
                .as_str()
                .expect("reason")
                .contains("context.started_on")
        );
        let fresh = data.path().join("fresh.jsonl");
        // Records not filed before (new ids) around the same bad line.
        let renamed = |l: &str| l.replacen("\"id\": \"tel-", "\"id\": \"new-", 1);
        std::fs::write(
            &fresh,
            [renamed(lines[0]).as_str(), bad, renamed(lines[1]).as_str()].join("\n"),
        )
        .expect("write");
        let stop: serde_json::Value =
            serde_json::from_slice(&import(&[], &fresh).stdout).expect("json");
        assert_eq!(
            stop["filed"], 1,
            "stops at the bad line, keeping what came before"
        );
        let skip: serde_json::Value =
            serde_json::from_slice(&import(&["--on-error", "skip"], &fresh).stdout).expect("json");
        assert_eq!(
            (skip["filed"].as_u64(), skip["already_filed"].as_u64()),
            (Some(1), Some(1)),
            "skip goes on after the bad line"
        );
    }
}

/// A minimal HTTP/1.1 request with an optional bearer token and JSON body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    head.push_str(&format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes()).expect("write");
    stream.write_all(body.as_bytes()).expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn search_total(port: u16, token: &str) -> Option<(u64, usize)> {
    let (status, body) = http(port, "GET", "/api/v1/search?limit=200", Some(token), None);
    if status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    let ids: std::collections::BTreeSet<String> = v["hits"]
        .as_array()?
        .iter()
        .filter_map(|h| h["id"].as_str().map(str::to_owned))
        .collect();
    Some((v["total"].as_u64()?, ids.len()))
}

fn wait_for_total(port: u16, token: &str, expected: u64) -> (u64, usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = (0, 0);
    while Instant::now() < deadline {
        if let Some(t) = search_total(port, token) {
            last = t;
            if t.0 == expected {
                return t;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    last
}

/// Kill -9 while the index catches up, restart: nothing missing, nothing
/// twice. Then `incidex reindex` while serving: the server switches to the
/// rebuilt index and keeps following the change log.
#[test]
fn index_survives_kill_9_and_reindex_while_serving() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/data/telecom/incidents.jsonl");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDatabase::create(backend) else {
            continue;
        };
        let data = tempfile::tempdir().expect("tempdir");
        let admin = |args: &[&str]| {
            let out = run(with_storage(incidex().arg("admin"), data.path(), &db).args(args));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
        };
        admin(&["create-operator", "--name", "Demo Mobile", "--json"]);
        let client = admin(&["create-client", "--role", "analyst", "--json"]);
        let import = |file: &Path| {
            let mut cmd = incidex();
            cmd.arg("import")
                .arg(file)
                .args(["--operator", "Demo Mobile", "--publish"]);
            let out = run(with_storage(&mut cmd, data.path(), &db));
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        import(&corpus);
        let serve = |port: u16| {
            let mut cmd = incidex();
            cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
            with_storage(&mut cmd, data.path(), &db)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn")
        };
        for delay_ms in [0u64, 20, 80] {
            let port = free_port();
            let mut child = serve(port);
            wait_ready(&mut child, port);
            std::thread::sleep(Duration::from_millis(delay_ms));
            child.kill().expect("kill -9");
            child.wait().expect("reap");
        }
        let port = free_port();
        let mut child = serve(port);
        wait_ready(&mut child, port);
        let body = serde_json::json!({"client_id": client["client_id"], "client_secret": client["client_secret"]}).to_string();
        let (status, token) = http(port, "POST", "/api/v1/auth/token", None, Some(&body));
        assert_eq!(status, 200, "{token}");
        let token: serde_json::Value = serde_json::from_str(&token).expect("json");
        let token = token["access_token"].as_str().expect("token").to_owned();
        assert_eq!(
            wait_for_total(port, &token, 32),
            (32, 32),
            "all 32 reports, each once ({backend:?})"
        );

        let out = run(with_storage(incidex().arg("reindex"), data.path(), &db));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("reindexed 32"));
        // Filed while serving, after the swap: the follower continues in the new generation.
        let extra = data.path().join("extra.jsonl");
        let first = include_str!("../../schema/data/telecom/incidents.jsonl")
            .lines()
            .next()
            .expect("line");
        std::fs::write(
            &extra,
            first.replacen("\"id\": \"tel-", "\"id\": \"extra-", 1),
        )
        .expect("write");
        import(&extra);
        assert_eq!(wait_for_total(port, &token, 33), (33, 33), "({backend:?})");
        // The server really switched: it dropped the old generation.
        let generations = || -> Vec<String> {
            let mut g: Vec<String> = std::fs::read_dir(data.path().join("index"))
                .expect("index dir")
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("gen-"))
                .collect();
            g.sort();
            g
        };
        // Removal is retried on every follower step until it succeeds.
        let deadline = Instant::now() + Duration::from_secs(10);
        while generations() != vec!["gen-2".to_owned()] && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let logs: String = std::fs::read_dir(data.path())
            .expect("data dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("serve-"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
            .flat_map(|t| {
                t.lines()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(
            generations(),
            vec!["gen-2".to_owned()],
            "({backend:?}) server warnings:\n{logs}"
        );
        signal(&child, "TERM");
        assert!(wait_exit(&mut child).success());
    }
}

/// `incidex eval` files a labelled corpus through the registry and scores
/// similar incidents against a TF-IDF baseline; ours must stay ahead.
#[test]
fn eval_scores_the_telecom_corpus_against_the_baseline() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/data/telecom/incidents.jsonl");
    let out =
        run(incidex()
            .arg("eval")
            .arg(&corpus)
            .args(["--label", "root_cause_category", "--json"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    // 32 records, 2 without a root cause.
    assert_eq!(report["documents"], 30);
    let ours = report["ours"]["mrr"].as_f64().expect("mrr");
    let baseline = report["baseline"]["mrr"].as_f64().expect("mrr");
    assert!(
        ours > baseline,
        "similar incidents no better than TF-IDF: {report}"
    );
    assert!(
        report["ours"]["p_at_5"].as_f64() > report["baseline"]["p_at_5"].as_f64(),
        "{report}"
    );
}

#[test]
fn digest_prints_the_period_of_a_date_in_every_format() {
    let corpus =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/data/telecom/incidents.jsonl");
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(db) = TestDatabase::create(backend) else {
            continue;
        };
        let data = tempfile::tempdir().expect("tempdir");
        let out = run(
            with_storage(incidex().arg("admin"), data.path(), &db).args([
                "create-operator",
                "--name",
                "Demo Mobile",
            ]),
        );
        assert!(out.status.success());
        let mut cmd = incidex();
        cmd.arg("import")
            .arg(&corpus)
            .args(["--operator", "Demo Mobile", "--publish", "--json"]);
        let out = run(with_storage(&mut cmd, data.path(), &db));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let published: std::collections::BTreeSet<String> = {
            let mut conn =
                incidex_schema::db::ConnectionManager::new(db.url().clone(), &Default::default())
                    .connect()
                    .expect("connect");
            incidex_schema::db::reports::published_ids(&mut conn)
                .expect("ids")
                .into_iter()
                .collect()
        };
        assert_eq!(published.len(), 32);
        let digest = |args: &[&str]| {
            let mut cmd = incidex();
            cmd.arg("digest").args(args);
            let out = run(with_storage(&mut cmd, data.path(), &db));
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).expect("utf-8")
        };

        // Today (the current period by default): every report just published.
        for period in ["daily", "weekly", "monthly"] {
            let json: serde_json::Value =
                serde_json::from_str(&digest(&["--period", period, "--format", "json"]))
                    .expect("json");
            let ids: std::collections::BTreeSet<String> = json["incidents"]
                .as_array()
                .expect("incidents")
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned())
                .collect();
            assert_eq!(ids, published, "{period}");
            assert_eq!(json["kind"], period);
            assert_eq!(json["audience"], "members");
            assert!(!json.to_string().contains("Demo Mobile"));
        }
        // A day long before: nothing, but a well-formed digest.
        let old: serde_json::Value = serde_json::from_str(&digest(&[
            "--period",
            "weekly",
            "--at",
            "2001-01-03",
            "--format",
            "json",
        ]))
        .expect("json");
        assert_eq!(old["period"]["label"], "2001-W01");
        assert_eq!(old["period"]["start"], "2001-01-01T00:00:00Z");
        assert_eq!(old["incidents"], serde_json::json!([]));

        // CSV to a file: one row per incident.
        let file = data.path().join("today.csv");
        let printed = digest(&[
            "--period",
            "daily",
            "--format",
            "csv",
            "--out",
            file.to_str().expect("path"),
        ]);
        assert!(printed.is_empty(), "--out prints nothing");
        let mut rows = csv::Reader::from_path(&file).expect("csv");
        let id_col = rows
            .headers()
            .expect("header")
            .iter()
            .position(|h| h == "id")
            .expect("id");
        let ids: std::collections::BTreeSet<String> = rows
            .records()
            .map(|r| r.expect("row")[id_col].to_owned())
            .collect();
        assert_eq!(ids, published);

        let md = digest(&[
            "--period",
            "daily",
            "--format",
            "md",
            "--audience",
            "analysts",
        ]);
        assert!(md.starts_with("# Daily digest "), "{md}");
        let html = digest(&["--period", "daily", "--format", "html"]);
        assert!(html.starts_with("<!doctype html>"));
        for id in &published {
            assert!(md.contains(id) && html.contains(id), "{id}");
        }

        // Bad input is refused with the reason, before anything runs.
        for bad in [
            &["--period", "fortnightly", "--format", "json"][..],
            &["--period", "daily", "--format", "pdf"],
            &["--period", "daily", "--format", "json", "--at", "yesterday"],
            &[
                "--period",
                "daily",
                "--format",
                "json",
                "--audience",
                "everyone",
            ],
        ] {
            let mut cmd = incidex();
            cmd.arg("digest").args(bad);
            let out = run(with_storage(&mut cmd, data.path(), &db));
            assert_eq!(out.status.code(), Some(2), "{bad:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("invalid value"), "{bad:?}: {stderr}");
        }
    }
}
