//! Search and similar incidents through the HTTP API, on both backends.

use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

struct World {
    app: TestApp,
    a: String,
    b: String,
    analyst: String,
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let op_a = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let op_b = app.create_operator("Beta Telecom", &[], Some("DE"));
    let a = app.token_for(Role::Reporter, Some(&op_a)).await;
    let b = app.token_for(Role::Reporter, Some(&op_b)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    Some(World { app, a, b, analyst })
}

impl World {
    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.app.send(Method::GET, path, token, None).await
    }

    async fn file(&self, token: &str, body: &Value, publish: bool) -> String {
        self.app.file(token, body, publish).await
    }

    async fn search_until(&self, path: &str, token: &str, expected: u64) -> Value {
        self.app.search_until(path, token, expected).await
    }
}

fn corpus() -> Vec<Value> {
    incidex_schema::corpus::parse_jsonl(include_str!("../../schema/data/telecom/incidents.jsonl"))
        .expect("corpus")
        .iter()
        .map(|r| serde_json::to_value(r.to_report_input()).expect("json"))
        .collect()
}

fn example(tlp: &str, marker: &str) -> Value {
    let mut body = incidex_schema::report::report_input_example();
    body["tlp"] = json!(tlp);
    body["summary"] = json!(format!(
        "{} Marker {marker}.",
        body["summary"].as_str().expect("summary")
    ));
    body
}

async fn published_reports_become_searchable_and_drafts_never(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let published = w.file(&w.a, &example("green", "zebrafinch"), true).await;
    let _draft = w.file(&w.a, &example("green", "zebrafinch"), false).await;
    let found = w.search_until("/api/v1/search?q=zebrafinch", &w.b, 1).await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["hits"][0]["id"], published.as_str());
    assert!(
        found["hits"][0]["snippet"]
            .as_str()
            .expect("snippet")
            .contains("<mark>"),
        "{found}"
    );
    assert!(
        found["facets"]["service"]["emergency_calls"].as_u64() == Some(1),
        "{found}"
    );
    // Withdrawn: gone from the index.
    let r = w
        .app
        .authed(
            Method::POST,
            &format!("/api/v1/reports/{published}/withdraw"),
            &w.a,
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let gone = w.search_until("/api/v1/search?q=zebrafinch", &w.b, 0).await;
    assert_eq!(gone["total"], 0, "{gone}");
}

async fn tlp_limits_search_facets_and_similar(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let mut ids = std::collections::BTreeMap::new();
    for tlp in ["clear", "green", "amber", "red"] {
        ids.insert(tlp, w.file(&w.a, &example(tlp, "kingfisher"), true).await);
    }
    let analyst = w
        .search_until("/api/v1/search?q=kingfisher", &w.analyst, 3)
        .await;
    assert_eq!(analyst["total"], 3, "{analyst}");
    assert_eq!(
        analyst["facets"]["tlp"],
        json!({"amber": 1, "clear": 1, "green": 1})
    );
    let member = w.search_until("/api/v1/search?q=kingfisher", &w.b, 2).await;
    assert_eq!(member["total"], 2, "{member}");
    assert_eq!(member["facets"]["tlp"], json!({"clear": 1, "green": 1}));
    // Even the filer does not find its red report through search (it is in nobody's view).
    let owner = w.search_until("/api/v1/search?q=kingfisher", &w.a, 2).await;
    assert!(
        owner["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .all(|h| h["tlp"] != "red" && h["tlp"] != "amber")
    );
    let explicit = w
        .get("/api/v1/search?q=kingfisher&tlp=amber,red", &w.b)
        .await
        .1;
    assert_eq!(explicit["total"], 0, "a filter cannot widen visibility");

    // Similar: never lists what the reader may not see.
    let (status, similar) = w
        .get(
            &format!("/api/v1/reports/{}/similar?k=10", ids["green"]),
            &w.b,
        )
        .await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = similar["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_str().expect("id"))
        .collect();
    assert!(listed.contains(&ids["clear"].as_str()), "{similar}");
    assert!(
        !listed.contains(&ids["amber"].as_str()) && !listed.contains(&ids["red"].as_str()),
        "{similar}"
    );
    assert!(!listed.contains(&ids["green"].as_str()), "not itself");
    let reasons = similar["items"][0]["reasons"].as_array().expect("reasons");
    assert!(!reasons.is_empty());
    // A report the reader may not see has no similar list for them.
    let (status, _) = w
        .get(&format!("/api/v1/reports/{}/similar", ids["amber"]), &w.b)
        .await;
    assert_eq!(status, 404);
    let (status, _) = w
        .get(
            &format!("/api/v1/reports/{}/similar", ids["amber"]),
            &w.analyst,
        )
        .await;
    assert_eq!(status, 200);
}

async fn filters_sorting_and_pagination(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let records = corpus();
    for r in &records {
        w.file(&w.a, r, true).await;
    }
    let all = w
        .search_until("/api/v1/search?limit=200", &w.b, records.len() as u64)
        .await;
    assert_eq!(all["total"], records.len() as u64);
    let expected_human = records
        .iter()
        .filter(|r| r["cause"]["root_cause_category"] == "human_error")
        .count() as u64;
    let human = w
        .get(
            "/api/v1/search?root_cause_category=human_error&limit=200",
            &w.b,
        )
        .await
        .1;
    assert_eq!(human["total"], expected_human);
    assert_eq!(
        all["facets"]["root_cause_category"]["human_error"],
        expected_human
    );
    let both = w
        .get("/api/v1/search?trigger=fibre_cut&trigger=cyberattack", &w.b)
        .await
        .1;
    let expected_both = records
        .iter()
        .filter(|r| {
            ["fibre_cut", "cyberattack"].contains(&r["cause"]["trigger"].as_str().unwrap_or(""))
        })
        .count() as u64;
    assert_eq!(both["total"], expected_both);
    let emergency = w
        .get(
            "/api/v1/search?emergency_service_affected=true&limit=200",
            &w.b,
        )
        .await
        .1;
    assert!(
        emergency["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .all(|h| !h["id"].is_null())
    );
    assert!(
        emergency["total"].as_u64().expect("n") > 0
            && emergency["total"].as_u64() < all["total"].as_u64()
    );
    let old = w
        .get("/api/v1/search?started_to=2010-12-31&limit=200", &w.b)
        .await
        .1;
    let expected_old = records
        .iter()
        .filter(|r| r["context"]["started_on"].as_str().expect("date") <= "2010-12-31")
        .count() as u64;
    assert_eq!(old["total"], expected_old);
    // Pages are disjoint and cover everything.
    let mut seen = std::collections::BTreeSet::new();
    let mut offset = Some(0u64);
    while let Some(o) = offset {
        let page = w
            .get(
                &format!("/api/v1/search?sort=newest&limit=7&offset={o}"),
                &w.b,
            )
            .await
            .1;
        for h in page["hits"].as_array().expect("hits") {
            assert!(
                seen.insert(h["id"].as_str().expect("id").to_owned()),
                "duplicate across pages"
            );
        }
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(seen.len(), records.len());
    // Telecom vocabulary is searchable as written.
    let bgp = w.get("/api/v1/search?q=BGP", &w.b).await.1;
    assert!(bgp["total"].as_u64().expect("n") > 0, "{bgp}");
}

async fn malformed_queries_are_400(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    for (path, field) in [
        ("/api/v1/search?q=%22unclosed", "q"),
        ("/api/v1/search?q=nosuchfield:x", "q"),
        // Forms the index does not serve (a 500 before).
        ("/api/v1/search?q=summary:*", "q"),
        ("/api/v1/search?q=title:*%5E2%20dns", "q"),
        ("/api/v1/search?limit=0", "limit"),
        ("/api/v1/search?sort=sideways", "sort"),
        ("/api/v1/search?published_from=yesterday", "published_from"),
        ("/api/v1/search?colour=red", "colour"),
        (
            "/api/v1/search?emergency_service_affected=maybe",
            "emergency_service_affected",
        ),
    ] {
        let r = w
            .app
            .authed(Method::GET, path, &w.b)
            .send()
            .await
            .expect("sent");
        let body = problem(r, 400, "invalid_parameter").await;
        assert_eq!(body["errors"][0]["field"], field, "{path}: {body}");
    }
    let r = w
        .app
        .authed(Method::GET, "/api/v1/reports/nope/similar?k=0", &w.b)
        .send()
        .await
        .expect("sent");
    problem(r, 400, "invalid_parameter").await;
    let r = w
        .app
        .authed(Method::POST, "/api/v1/similar", &w.b)
        .json(&json!({"text": "x", "trigger": "gremlins"}))
        .send()
        .await
        .expect("sent");
    let body = problem(r, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "trigger");
}

async fn has_anyone_seen_this(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    for r in corpus() {
        w.file(&w.a, &r, true).await;
    }
    w.search_until("/api/v1/search", &w.b, 32).await;
    let probe = json!({
        "text": "We plan to renew the TLS certificate of our subscriber database; last time an expired certificate took the core down.",
        "trigger": "certificate_expiry",
        "k": 3,
    });
    let r = w
        .app
        .authed(Method::POST, "/api/v1/similar", &w.b)
        .json(&probe)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let items = body["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    let top = &items[0];
    assert!(
        top["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r.as_str().expect("r").contains("certificate")),
        "{body}"
    );
    // Nothing was filed.
    let mine = w.get("/api/v1/reports?mine=true", &w.b).await.1;
    assert_eq!(mine["total"], 0);
}

async fn reindex_gives_the_same_results(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    for r in corpus().iter().take(12) {
        w.file(&w.a, r, true).await;
    }
    let before = w
        .search_until(
            "/api/v1/search?q=network&sort=newest&limit=50",
            &w.analyst,
            12,
        )
        .await;
    let index = w.app.state.registry.index.clone().expect("index running");
    let state = w.app.state.clone();
    let rebuilt = tokio::task::spawn_blocking(move || {
        incidex_registry::index::Follower::rebuild(
            &state.registry.pool,
            &index.handle,
            &state.registry.members,
            state.settings.k_anonymity,
            |_, _| {},
        )
    })
    .await
    .expect("join")
    .expect("rebuild");
    assert_eq!(rebuilt, 12);
    let after = w
        .get("/api/v1/search?q=network&sort=newest&limit=50", &w.analyst)
        .await
        .1;
    assert_eq!(before["total"], after["total"]);
    assert_eq!(before["hits"], after["hits"]);
    assert_eq!(before["facets"], after["facets"]);
    // The follower goes on in the new generation.
    w.file(&w.a, &example("green", "osprey"), true).await;
    assert_eq!(
        w.search_until("/api/v1/search?q=osprey", &w.b, 1).await["total"],
        1
    );
}

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Queries nested deeply enough to overflow a parser's stack are refused
/// before parsing, with the limit named, on every route that takes a query;
/// the server keeps answering.
async fn hostile_queries_are_refused_and_the_server_stays_up(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    w.file(&w.a, &example("green", "bittern"), true).await;
    w.search_until("/api/v1/search?q=bittern", &w.b, 1).await;
    let hostile = [
        ("(".repeat(2_100), "max_query_chars"),
        (format!("{}a", "(".repeat(900)), "max_query_depth"),
        (format!("{}a", "title:(".repeat(120)), "max_query_depth"),
        (
            (0..200).map(|i| format!("t{i} AND (")).collect::<String>(),
            "max_query_chars",
        ),
        (
            (0..100).map(|i| format!("t{i} AND (")).collect::<String>(),
            "max_query_depth",
        ),
        ("NOT ".repeat(240), "max_query_depth"),
        (
            (0..300)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" "),
            "max_query_chars",
        ),
        (
            (0..100)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" "),
            "max_query_terms",
        ),
    ];
    for (q, limit) in &hostile {
        let path = format!("/api/v1/search?q={}", enc(q));
        let r = w
            .app
            .authed(Method::GET, &path, &w.b)
            .send()
            .await
            .expect("the server answers");
        let body = problem(r, 400, "query_too_complex").await;
        assert_eq!(body["errors"][0]["field"], "q", "{body}");
        assert_eq!(body["errors"][0]["code"], *limit, "{body}");
        // Saved searches (which the alert matcher runs) refuse them too.
        let r = w
            .app
            .authed(Method::POST, "/api/v1/saved-searches", &w.b)
            .json(&json!({"search": format!("q={}", enc(q)), "webhook_url": "https://hooks.example.org/x"}))
            .send()
            .await
            .expect("the server answers");
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("json");
        assert_eq!(status, 422, "{body}");
        assert!(
            body["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .any(|e| e["field"] == "search.q" && e["code"] == *limit
                    || e["field"] == "search" && e["code"] == "too_long"),
            "{body}"
        );
    }
    // Lessons' full-text query is bounded the same way.
    let wide = (0..100)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let r = w
        .app
        .authed(
            Method::GET,
            &format!("/api/v1/lessons?q={}", enc(&wide)),
            &w.b,
        )
        .send()
        .await
        .expect("the server answers");
    let body = problem(r, 400, "query_too_complex").await;
    assert_eq!(body["errors"][0]["code"], "max_query_terms", "{body}");
    // Still up, and still finding what it found before.
    let (status, body) = w.get("/api/v1/search?q=bittern", &w.b).await;
    assert_eq!(status, 200);
    assert_eq!(body["total"], 1);
    // Nothing was stored by the refused saved searches.
    let (status, body) = w.get("/api/v1/saved-searches", &w.b).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().map(Vec::len), Some(0), "{body}");
}

on_both_backends!(
    hostile_queries_are_refused_and_the_server_stays_up,
    published_reports_become_searchable_and_drafts_never,
    tlp_limits_search_facets_and_similar,
    filters_sorting_and_pagination,
    malformed_queries_are_400,
    has_anyone_seen_this,
    reindex_gives_the_same_results,
);
