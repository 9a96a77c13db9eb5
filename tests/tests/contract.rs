//! The API contract, checked by tools that know only the OpenAPI
//! document: the committed document passes `openapi-spec-validator`; a
//! client generated from it by `openapi-python-client` calls a few routes
//! of the real server; schemathesis runs over every operation as a
//! reporter, an analyst and an admin, on SQLite and on PostgreSQL, bounded
//! in time, with seed data (and the ids it needs) so operations are really
//! reached, and must find nothing.
//!
//! The tools live in a virtual environment that `.ci/run` makes
//! (`target/ci-venv`, or `INCIDEX_CI_VENV`); without it these tests print a
//! skip message, except under `CI=true`, where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::json;

/// Seconds schemathesis may spend per role and backend.
const SECONDS_PER_RUN: u64 = 30;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_owned()
}

/// The virtual environment's `bin`, or `None` (with a message) when it is
/// missing outside CI.
fn venv_bin() -> Option<PathBuf> {
    let venv = std::env::var_os("INCIDEX_CI_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/ci-venv"));
    let bin = venv.join("bin");
    let tools = [
        "schemathesis",
        "openapi-spec-validator",
        "openapi-python-client",
    ];
    if tools.iter().all(|t| bin.join(t).exists()) {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the contract tools are missing from {} (.ci/run installs them)",
        venv.display()
    );
    eprintln!(
        "skipped: no schemathesis, openapi-spec-validator and openapi-python-client in {} (.ci/run installs them)",
        venv.display()
    );
    None
}

/// Runs a command to its end, bounded in time; returns whether it
/// succeeded and what it printed.
async fn run(mut command: Command, limit: Duration) -> (bool, String) {
    let out = actix_web::rt::task::spawn_blocking(move || {
        let mut child = command
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("tool starts");
        let started = std::time::Instant::now();
        loop {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        child.wait_with_output().expect("output")
    })
    .await
    .expect("tool task");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[actix_web::test]
async fn the_committed_document_is_valid_openapi() {
    let Some(bin) = venv_bin() else { return };
    let mut command = Command::new(bin.join("openapi-spec-validator"));
    command.arg(root().join("openapi/openapi.json"));
    let (ok, out) = run(command, Duration::from_secs(120)).await;
    assert!(ok, "openapi-spec-validator: {out}");
}

/// What schemathesis is given to reach operations: the ids of things the
/// role may see.
struct Seed {
    reporter: String,
    analyst: String,
    admin: String,
    reporter_client: (String, String),
    draft: String,
    published: String,
    revocable: String,
    saved_reporter: String,
    saved_analyst: String,
}

async fn seed(app: &TestApp) -> Seed {
    let op = app.create_operator("Contract Mobile", &["ConMo"], Some("FR"));
    let other = app.create_operator("Contract Fixed", &[], Some("DE"));
    let reporter_client = app.create_client(Role::Reporter, Some(&op));
    let reporter = app.token(&reporter_client.0, &reporter_client.1).await;
    let other_reporter = app.token_for(Role::Reporter, Some(&other)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    let admin = app.token_for(Role::Admin, None).await;
    let (revocable, _) = app.create_client(Role::Analyst, None);
    let mut published = String::new();
    let titles = [
        "Emergency calls failed after routine commands on call servers",
        "DNS resolvers overloaded after a configuration push",
        "Certificate expiry stopped VoLTE registrations",
        "Power failure at a core site took down mobile data",
        "Fibre cut isolated a regional aggregation ring",
        "Software upgrade of the HSS broke roaming registrations",
    ];
    for (i, title) in titles.iter().enumerate() {
        let mut body = incidex_schema::report::report_input_example();
        body["title"] = json!(title);
        let token = if i % 2 == 0 {
            &reporter
        } else {
            &other_reporter
        };
        let id = app.file(token, &body, true).await;
        if i % 2 == 1 && published.is_empty() {
            published = id;
        }
    }
    let draft = app
        .file(
            &reporter,
            &incidex_schema::report::report_input_example(),
            false,
        )
        .await;
    let saved = |token: String| async move {
        let (status, body) = app
            .send(
                Method::POST,
                "/api/v1/saved-searches",
                &token,
                Some(&json!({"name": "contract", "search": "q=dns", "webhook_url": "http://127.0.0.1:9/hook"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().expect("id").to_owned()
    };
    let saved_reporter = saved(reporter.clone()).await;
    let saved_analyst = saved(analyst.clone()).await;
    Seed {
        reporter,
        analyst,
        admin,
        reporter_client,
        draft,
        published,
        revocable,
        saved_reporter,
        saved_analyst,
    }
}

/// The schemathesis configuration of one role: the ids to use, and the
/// checks that cannot hold where the document cannot say the rule.
fn config(seed: &Seed, role: Role, extra: &[(&str, String)]) -> String {
    let report = if role == Role::Reporter {
        &seed.draft
    } else {
        &seed.published
    };
    let saved = if role == Role::Reporter {
        &seed.saved_reporter
    } else {
        &seed.saved_analyst
    };
    let mut out =
        String::from("[checks]\n# One request per operation must be enough to judge it.\n");
    out.push_str("\n[generation]\nmax-examples = 8\n");
    let pin = |out: &mut String, path: &str, name: &str, value: &str| {
        out.push_str(&format!(
            "\n[[operations]]\ninclude-path-regex = \"{path}\"\nparameters = {{ \"path.{name}\" = \"{value}\" }}\n"
        ));
    };
    pin(&mut out, "^/api/v1/reports/\\\\{id\\\\}", "id", report);
    pin(
        &mut out,
        "^/api/v1/saved-searches/\\\\{id\\\\}",
        "id",
        saved,
    );
    pin(
        &mut out,
        "^/api/v1/admin/clients/\\\\{client_id\\\\}",
        "client_id",
        &seed.revocable,
    );
    for (path, id) in extra {
        pin(&mut out, path, "id", id);
    }
    // Rules of the report document (cross-field checks, dates in range),
    // of the query languages (`q`, `search`) and of idempotency keys are
    // checked by the server and described in words: a schema-valid
    // request may still be refused there, so "positive data acceptance"
    // cannot hold for these operations; every other check does.
    for id in [
        "reports_create",
        "reports_replace",
        "reports_edit",
        "reports_publish",
        "search_search",
        "search_similar_to_text",
        "lessons_list",
        "alerts_create",
        "admin_create_user",
        "admin_create_operator",
        "admin_create_client",
        "clusters_add_lesson",
        "anonymisation_put_terms",
    ] {
        out.push_str(&format!(
            "\n[[operations]]\ninclude-operation-id = \"{id}\"\nchecks.positive_data_acceptance.enabled = false\n"
        ));
    }
    out
}

async fn schemathesis_finds_nothing(backend: Backend) {
    let Some(bin) = venv_bin() else { return };
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.limits.enabled = false;
        s.alerts.enabled = false;
        s.alerts.allow_private_targets = true;
        s.digests.enabled = false;
    })
    .await
    else {
        return;
    };
    let seed = seed(&app).await;
    let work = tempfile::tempdir().expect("dir");

    // A client generated from the committed document calls the server.
    let package = work.path().join("incidex_client");
    let mut generate = Command::new(bin.join("openapi-python-client"));
    generate
        .current_dir(work.path())
        .args(["generate", "--meta", "none", "--output-path"])
        .arg(&package)
        .arg("--path")
        .arg(root().join("openapi/openapi.json"));
    let (ok, out) = run(generate, Duration::from_secs(180)).await;
    assert!(
        ok && package.join("client.py").exists(),
        "openapi-python-client: {out}"
    );
    let mut smoke = Command::new(bin.join("python"));
    smoke
        .arg(root().join("tests/contract/client_smoke.py"))
        .env("PYTHONPATH", work.path())
        .env("INCIDEX_URL", &app.base_url)
        .env("INCIDEX_CLIENT_ID", &seed.reporter_client.0)
        .env("INCIDEX_CLIENT_SECRET", &seed.reporter_client.1)
        .env("INCIDEX_ADMIN_TOKEN", &seed.admin);
    let (ok, out) = run(smoke, Duration::from_secs(120)).await;
    assert!(ok, "the generated client: {out}");

    // Ids of what exists now (clusters and lessons follow the filings).
    let (_, lessons) = app
        .send(Method::GET, "/api/v1/lessons?limit=1", &seed.analyst, None)
        .await;
    let (_, clusters) = app
        .send(Method::GET, "/api/v1/clusters?limit=1", &seed.analyst, None)
        .await;
    let mut extra = Vec::new();
    if let Some(id) = lessons["items"][0]["id"].as_str() {
        extra.push(("^/api/v1/lessons/\\\\{id\\\\}", id.to_owned()));
    }
    if let Some(id) = clusters["items"][0]["id"].as_str() {
        extra.push(("^/api/v1/clusters/\\\\{id\\\\}", id.to_owned()));
    }

    let mut failures = Vec::new();
    // The admin last: it may revoke the client it is given.
    for (role, token) in [
        (Role::Reporter, &seed.reporter),
        (Role::Analyst, &seed.analyst),
        (Role::Admin, &seed.admin),
    ] {
        let config_file = work.path().join(format!("{}.toml", role.as_str()));
        std::fs::write(&config_file, config(&seed, role, &extra)).expect("config");
        let mut st = Command::new(bin.join("schemathesis"));
        st.current_dir(work.path())
            .arg("--config-file")
            .arg(&config_file)
            .arg("run")
            .arg(format!("{}/api/v1/openapi.json", app.base_url))
            // One worker: hypothesis 6 trips over its own lambda cache when
            // several threads generate at once (a runtime error, not a finding).
            .args(["--workers", "1", "--no-color"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-time", &SECONDS_PER_RUN.to_string()])
            .args(["--request-timeout", "20"])
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args(["--seed", "13"])
            .env("SCHEMATHESIS_HOOKS", "")
            .env("NO_COLOR", "1");
        let (ok, out) = run(st, Duration::from_secs(SECONDS_PER_RUN * 3 + 60)).await;
        if !ok {
            failures.push(format!("as {}:\n{out}", role.as_str()));
        } else {
            let summary: String = out.lines().rev().take(3).collect::<Vec<_>>().join(" | ");
            eprintln!(
                "schemathesis as {} on {}: {summary}",
                role.as_str(),
                backend.as_str()
            );
        }
    }
    assert!(
        failures.is_empty(),
        "schemathesis found failures:\n{}",
        failures.join("\n\n")
    );
}

on_both_backends!(schemathesis_finds_nothing);
