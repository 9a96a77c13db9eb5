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

on_both_backends!(
    health_and_readiness,
    unknown_routes_and_methods_are_problems,
    served_openapi_matches_the_committed_file,
);
