//! Unavailable, not broken: PostgreSQL restarts while reporters file, and
//! no request is answered 500; every filing answered 201 is in the
//! database afterwards. Its own test binary with one test, so nothing else
//! runs while the database is away.
//!
//! Needs root (it runs `pg_ctlcluster … restart`) and a local PostgreSQL
//! cluster; skipped with a message otherwise, failed under `CI=true`.

use std::collections::BTreeSet;
use std::process::Command;

use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp};
use serde_json::Value;

fn skip(reason: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "the PostgreSQL restart test cannot run in CI: {reason}"
    );
    eprintln!("skipped: {reason}");
}

fn cluster_version() -> Option<String> {
    let mut versions: Vec<String> = std::fs::read_dir("/etc/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    versions.pop()
}

#[actix_web::test]
async fn a_restarting_database_is_unavailable_not_broken() {
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return skip("not root");
    }
    let Some(version) = cluster_version() else {
        return skip("no PostgreSQL cluster under /etc/postgresql");
    };
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return skip("INCIDEX_TEST_DATABASE_URL is not set");
    };
    let operator = app.create_operator("Restart Mobile", &[], Some("FR"));
    let token = app.token_for(Role::Reporter, Some(&operator)).await;
    let body = incidex_schema::report::report_input_example();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (app_url, client, token, body) = (
            app.base_url.clone(),
            app.client.clone(),
            token.clone(),
            body.clone(),
        );
        let stopped = stopped.clone();
        workers.push(actix_web::rt::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
            // Bounded: at most 2000 filings per worker.
            for _ in 0..2000 {
                if *stopped.borrow() {
                    break;
                }
                let r = client
                    .post(format!("{app_url}/api/v1/reports"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("sent");
                let status = r.status().as_u16();
                *statuses.entry(status).or_default() += 1;
                let retry_after = r.headers().get("retry-after").is_some();
                let json: Value = r.json().await.unwrap_or(Value::Null);
                match status {
                    201 => acknowledged.push(json["id"].as_str().expect("id").to_owned()),
                    503 => {
                        assert!(retry_after, "503 without Retry-After");
                        assert_eq!(json["code"], "service_unavailable", "{json}");
                        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    other => panic!("filing answered {other}: {json}"),
                }
            }
            (acknowledged, statuses)
        }));
    }
    // Let the load start, then restart the database under it.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let restart = actix_web::rt::task::spawn_blocking(move || {
        Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, "main", "restart"])
            .status()
    })
    .await
    .expect("restart task");
    assert!(restart.is_ok_and(|s| s.success()), "pg_ctlcluster restart");
    // Until filings are acknowledged again, then a little longer.
    let mut healthy = 0;
    for _ in 0..600 {
        let (status, _) = app
            .send(
                reqwest::Method::GET,
                "/api/v1/reports?mine=true&limit=1",
                &token,
                None,
            )
            .await;
        assert!(status == 200 || status == 503, "a read answered {status}");
        healthy = if status == 200 { healthy + 1 } else { 0 };
        if healthy >= 10 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(healthy >= 10, "service resumed after the restart");
    stop.send(true).expect("stop");
    let mut acknowledged = BTreeSet::new();
    let mut totals = std::collections::BTreeMap::<u16, usize>::new();
    for w in workers {
        let (ids, statuses) = w.await.expect("worker");
        acknowledged.extend(ids);
        for (s, n) in statuses {
            *totals.entry(s).or_default() += n;
        }
    }
    eprintln!("filings during the restart by status: {totals:?}");
    assert!(!totals.contains_key(&500));
    // Nothing acknowledged was lost.
    let mut stored = BTreeSet::new();
    let mut offset = 0;
    loop {
        let path = format!("/api/v1/reports?mine=true&limit=200&offset={offset}");
        let (status, page) = app.send(reqwest::Method::GET, &path, &token, None).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().expect("items");
        stored.extend(
            items
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned()),
        );
        if items.len() < 200 {
            break;
        }
        offset += 200;
    }
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(!acknowledged.is_empty());
}
