//! Health, readiness, framework errors and the served OpenAPI document, on
//! both backends.

use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use serde_json::Value;

async fn health_and_readiness(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    assert_eq!(health.json::<Value>().await.expect("json")["status"], "ok");

    let ready: Value = app.get("/readyz").await.json().await.expect("json");
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], backend.as_str());
    assert!(ready["migrations_applied"].as_u64().expect("count") >= 1);
    // How far the index is behind: nothing, once caught up.
    assert_eq!(ready["index"]["changes_behind"], 0, "{ready}");
    assert_eq!(ready["index"]["caught_up"], true, "{ready}");
    assert!(ready["index"]["position"].as_i64().is_some(), "{ready}");
}

/// Prometheus metrics: request latency per route, the index's lag and
/// indexing, clusters and published reports.
async fn metrics_are_exposed(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    assert_eq!(app.get("/healthz").await.status(), 200);
    let r = app.get("/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/plain"),
    );
    let text = r.text().await.expect("text");
    for metric in [
        "incidex_http_request_duration_seconds_bucket",
        "route=\"/healthz\"",
        "incidex_index_lag_changes",
        "incidex_index_lag_seconds",
        "incidex_index_position",
        "incidex_clusters",
        "incidex_published_reports",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }
}

async fn unknown_routes_and_methods_are_problems(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let body = problem(app.get("/api/v1/no-such-thing").await, 404, "not_found").await;
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("/api/v1/no-such-thing")
    );

    let response = app
        .client
        .delete(app.url("/readyz"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok()),
        Some("GET, HEAD")
    );
    problem(response, 405, "method_not_allowed").await;
}

async fn served_openapi_matches_the_committed_file(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let served: Value = app
        .get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .expect("json");
    let committed: Value = serde_json::from_str(include_str!("../../openapi/openapi.json"))
        .expect("openapi/openapi.json is JSON");
    assert!(
        served == committed,
        "openapi/openapi.json is stale: regenerate it with `cargo run -p incidex-api -- openapi > openapi/openapi.json`"
    );
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 308);
    let ui = app.get("/docs/").await;
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.expect("html").contains("swagger"));
}

/// The database server closes every pooled connection (a restart or a
/// failover looks like this to the pool). After a quiet spell the pool
/// tests its connections before use, so no request sees a dead one; under
/// load, a request that meets one fails once and the connection is
/// dropped, so the failures are bounded by the pool and then stop.
async fn dropped_database_connections_are_replaced(backend: Backend) {
    use diesel::RunQueryDsl;
    if backend != Backend::Postgres {
        return; // SQLite files cannot be disconnected from outside.
    }
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let operator = app.create_operator("Dropco", &[], None);
    let token = app
        .token_for(incidex_schema::identity::Role::Reporter, Some(&operator))
        .await;
    let list = "/api/v1/reports?mine=true";
    let terminate_others = || {
        let mut conn = app.state.registry.pool.get().expect("connection");
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut **conn)
        .expect("terminate");
    };
    // Concurrent requests, so that several pooled connections are used
    // (the pool hands out the most recently returned one first).
    let round = || async {
        let requests: Vec<_> = (0..8)
            .map(|_| app.send(reqwest::Method::GET, list, &token, None))
            .collect();
        futures_util::future::join_all(requests).await
    };
    for (status, body) in round().await {
        assert_eq!(status, 200, "{body}");
    }

    terminate_others();
    // Longer than the pool trusts a recently used connection.
    tokio::time::sleep(incidex_schema::db::TRUST_RECENTLY_USED * 2).await;
    for _ in 0..3 {
        for (status, body) in round().await {
            assert_eq!(status, 200, "a dead connection was handed out: {body}");
        }
    }

    terminate_others();
    let pool_size = app.state.registry.pool.max_size() as usize;
    let mut failures = 0;
    for _ in 0..pool_size {
        for (status, body) in round().await {
            if status != 200 {
                assert!(status >= 500, "{status} {body}");
                failures += 1;
            }
        }
    }
    // Each dead connection fails at most one request (the authentication
    // check and the handler each check one out), then is closed.
    assert!(
        failures <= 2 * pool_size,
        "{failures} failures with a pool of {pool_size}"
    );
    for (status, body) in round().await {
        assert_eq!(status, 200, "{body}");
    }
}

on_both_backends!(
    dropped_database_connections_are_replaced,
    health_and_readiness,
    metrics_are_exposed,
    unknown_routes_and_methods_are_problems,
    served_openapi_matches_the_committed_file,
);
