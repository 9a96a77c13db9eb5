//! Every authenticated route in the committed OpenAPI document, tried
//! without a token, with each role it refuses (403) and with each role it
//! accepts (anything but 401/403). A route missing from the table fails
//! the test, so new routes must state who may call them.

use std::collections::BTreeMap;

use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

/// Who may call each authenticated route.
fn allowed() -> BTreeMap<(&'static str, &'static str), &'static [Role]> {
    use Role::{Admin, Analyst, Reporter};
    const ADMIN: &[Role] = &[Admin];
    const REPORTER: &[Role] = &[Reporter];
    const READERS: &[Role] = &[Reporter, Analyst];
    const ANALYST: &[Role] = &[Analyst];
    BTreeMap::from([
        (("GET", "/api/v1/admin/clients"), ADMIN),
        (("POST", "/api/v1/admin/clients"), ADMIN),
        (("POST", "/api/v1/admin/clients/{client_id}/revoke"), ADMIN),
        (("GET", "/api/v1/admin/operators"), ADMIN),
        (("POST", "/api/v1/admin/operators"), ADMIN),
        (("GET", "/api/v1/admin/users"), ADMIN),
        (("POST", "/api/v1/admin/users"), ADMIN),
        (("POST", "/api/v1/anonymise"), REPORTER),
        (("GET", "/api/v1/clusters"), READERS),
        (("GET", "/api/v1/clusters/{id}"), READERS),
        (("POST", "/api/v1/clusters/{id}/lessons"), ANALYST),
        (("GET", "/api/v1/digests"), READERS),
        (("GET", "/api/v1/digests/feed.atom"), READERS),
        (("GET", "/api/v1/digests/{id}"), READERS),
        (("GET", "/api/v1/lessons"), READERS),
        (("POST", "/api/v1/lessons/{id}/endorse"), READERS),
        (("GET", "/api/v1/operators/me/sensitive-terms"), REPORTER),
        (("PUT", "/api/v1/operators/me/sensitive-terms"), REPORTER),
        (("GET", "/api/v1/reports"), READERS),
        (("POST", "/api/v1/reports"), REPORTER),
        (("GET", "/api/v1/reports/{id}"), READERS),
        (("PUT", "/api/v1/reports/{id}"), REPORTER),
        (("PATCH", "/api/v1/reports/{id}"), REPORTER),
        (("POST", "/api/v1/reports/{id}/preview"), REPORTER),
        (("POST", "/api/v1/reports/{id}/publish"), REPORTER),
        (("GET", "/api/v1/reports/{id}/revisions"), REPORTER),
        (("GET", "/api/v1/reports/{id}/similar"), READERS),
        (("POST", "/api/v1/reports/{id}/withdraw"), REPORTER),
        (("GET", "/api/v1/saved-searches"), READERS),
        (("POST", "/api/v1/saved-searches"), READERS),
        (("GET", "/api/v1/saved-searches/{id}"), READERS),
        (("DELETE", "/api/v1/saved-searches/{id}"), READERS),
        (("GET", "/api/v1/saved-searches/{id}/deliveries"), READERS),
        (("POST", "/api/v1/saved-searches/{id}/disable"), READERS),
        (("POST", "/api/v1/saved-searches/{id}/enable"), READERS),
        (
            ("POST", "/api/v1/saved-searches/{id}/rotate-secret"),
            READERS,
        ),
        (("POST", "/api/v1/saved-searches/{id}/test"), READERS),
        (("GET", "/api/v1/search"), READERS),
        (("POST", "/api/v1/similar"), READERS),
    ])
}

fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("GET", _) => None,
        ("POST", "/api/v1/admin/clients") => Some(json!({"role": "analyst"})),
        ("POST", "/api/v1/admin/operators") => {
            Some(json!({"name": format!("Op {}", uuid::Uuid::new_v4())}))
        }
        ("POST", "/api/v1/admin/users") => Some(
            json!({"username": format!("u{}", uuid::Uuid::new_v4().simple()), "role": "analyst", "password": "a long enough password"}),
        ),
        ("POST", "/api/v1/anonymise") | ("POST", "/api/v1/similar") => {
            Some(json!({"text": "core outage"}))
        }
        ("PUT", "/api/v1/operators/me/sensitive-terms") => Some(json!(["Site A"])),
        ("POST", "/api/v1/saved-searches") => {
            Some(json!({"search": "q=core", "webhook_url": "https://hooks.example.org/incidex"}))
        }
        ("POST", "/api/v1/clusters/{id}/lessons") => Some(json!({"text": "Stage changes."})),
        ("POST", "/api/v1/reports") | ("PUT", _) => {
            Some(incidex_schema::report::report_input_example())
        }
        ("PATCH", _) => Some(json!({"notes": "more"})),
        _ => None,
    }
}

async fn every_route_checks_its_role(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op_a = app.create_operator("Acme Mobile", &[], None);
    let op_b = app.create_operator("Beta Telecom", &[], None);
    let owner = app.token_for(Role::Reporter, Some(&op_a)).await;
    let tokens = [
        (
            Role::Reporter,
            app.token_for(Role::Reporter, Some(&op_b)).await,
        ),
        (Role::Analyst, app.token_for(Role::Analyst, None).await),
        (Role::Admin, app.token_for(Role::Admin, None).await),
    ];
    let created: Value = app
        .authed(Method::POST, "/api/v1/reports", &owner)
        .json(&incidex_schema::report::report_input_example())
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let report_id = created["id"].as_str().expect("id").to_owned();

    let spec: Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).expect("spec");
    let table = allowed();
    let mut checked = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            // Routes behind a bearer token (the token endpoint's own
            // client authentication is not a role).
            let bearer = op["security"]
                .as_array()
                .is_some_and(|reqs| reqs.iter().any(|r| r.get("bearer").is_some()));
            if !bearer {
                continue;
            }
            let method = method.to_uppercase();
            let who = table
                .get(&(method.as_str(), path.as_str()))
                .unwrap_or_else(|| panic!("{method} {path} is not in the role table"));
            let url = path
                .replace("{id}", &report_id)
                .replace("{client_id}", "ic_unknown");
            let m: Method = method.parse().expect("method");
            let send = |token: Option<&str>| {
                let mut req = app.client.request(m.clone(), app.url(&url));
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                if let Some(b) = body_for(&method, path) {
                    req = req.json(&b);
                }
                req.send()
            };
            assert_eq!(
                send(None).await.expect("sent").status(),
                401,
                "{method} {path} without a token"
            );
            for (role, token) in &tokens {
                let status = send(Some(token)).await.expect("sent").status().as_u16();
                if who.contains(role) {
                    assert!(
                        status != 401 && status != 403,
                        "{method} {path} refuses {role}: {status}"
                    );
                } else {
                    assert_eq!(status, 403, "{method} {path} lets {role} in");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        table.len(),
        "every route in the table exists in the spec"
    );
}

on_both_backends!(every_route_checks_its_role);
