//! Filing and reading reports through the HTTP API, on both backends.

use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

fn example() -> Value {
    incidex_schema::report::report_input_example()
}

struct World {
    app: TestApp,
    a: String,
    b: String,
    analyst: String,
    admin: String,
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let op_a = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let op_b = app.create_operator("Beta Telecom", &["BetaTel"], Some("FR"));
    let a = app.token_for(Role::Reporter, Some(&op_a)).await;
    let b = app.token_for(Role::Reporter, Some(&op_b)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    let admin = app.token_for(Role::Admin, None).await;
    Some(World {
        app,
        a,
        b,
        analyst,
        admin,
    })
}

impl World {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self.app.authed(method, path, token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("sent")
    }

    async fn ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let response = self.call(method.clone(), path, token, body).await;
        let got = response.status().as_u16();
        let text = response.text().await.expect("body");
        assert_eq!(got, status, "{method} {path}: {text}");
        serde_json::from_str(&text).expect("json")
    }

    async fn create(&self, token: &str, body: &Value) -> String {
        let created = self
            .ok(Method::POST, "/api/v1/reports", token, Some(body), 201)
            .await;
        created["id"].as_str().expect("id").to_owned()
    }

    async fn publish(&self, token: &str, id: &str) -> Value {
        self.ok(
            Method::POST,
            &format!("/api/v1/reports/{id}/publish"),
            token,
            None,
            200,
        )
        .await
    }
}

async fn lifecycle_draft_publish_amend_withdraw(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let response = w
        .call(Method::POST, "/api/v1/reports", &w.a, Some(&example()))
        .await;
    assert_eq!(response.status(), 201);
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let created: Value = response.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(
        location.as_deref(),
        Some(format!("/api/v1/reports/{id}").as_str())
    );
    assert_eq!(created["status"], "draft");
    assert_eq!(created["revision"], 1);
    assert_eq!(created["title"], example()["title"]);
    assert_eq!(created["lessons"], example()["lessons"]);
    assert!(created["metrics"]["severity"].is_string());
    let path = format!("/api/v1/reports/{id}");

    // The owner reads its draft with exact values; nobody else sees it.
    let own = w.ok(Method::GET, &path, &w.a, None, 200).await;
    assert_eq!(own["context"], example()["context"]);
    problem(
        w.call(Method::GET, &path, &w.b, None).await,
        404,
        "not_found",
    )
    .await;
    problem(
        w.call(Method::GET, &path, &w.analyst, None).await,
        404,
        "not_found",
    )
    .await;

    // Edits to a draft keep it a draft and count revisions.
    let mut replaced = example();
    replaced["title"] = json!("Call servers failed after reconnection commands (revised)");
    let edited = w.ok(Method::PUT, &path, &w.a, Some(&replaced), 200).await;
    assert_eq!(
        (edited["status"].as_str(), edited["revision"].as_i64()),
        (Some("draft"), Some(2))
    );
    let patched = w
        .ok(Method::PATCH, &path, &w.a, Some(&json!({"notes": null, "lessons": ["Test reconnection commands on one site first."]})), 200)
        .await;
    assert_eq!(patched["revision"], 3);
    assert_eq!(
        patched["title"], replaced["title"],
        "PATCH keeps what it does not name"
    );
    assert_eq!(
        patched["lessons"],
        json!(["Test reconnection commands on one site first."])
    );
    assert!(patched.get("notes").is_none_or(Value::is_null));

    // Publish: a signed receipt that verifies, and tampering is caught.
    let published = w.publish(&w.a, &id).await;
    assert_eq!(published["report"]["status"], "published");
    let receipt = published["receipt"].clone();
    assert_eq!(receipt["claims"]["report_id"], id.as_str());
    assert_eq!(receipt["claims"]["revision"], 3);
    let verified = w
        .ok(
            Method::POST,
            "/api/v1/receipts/verify",
            &w.b,
            Some(&json!({"receipt": receipt})),
            200,
        )
        .await;
    assert_eq!(verified["valid"], true, "{verified}");
    let mut tampered = receipt.clone();
    tampered["payload"] = json!(
        receipt["payload"]
            .as_str()
            .expect("payload")
            .replace("\"revision\":3", "\"revision\":9")
    );
    let rejected = w
        .ok(
            Method::POST,
            "/api/v1/receipts/verify",
            &w.b,
            Some(&json!({"receipt": tampered})),
            200,
        )
        .await;
    assert_eq!(rejected["valid"], false);
    problem(
        w.call(Method::POST, &format!("{path}/publish"), &w.a, None)
            .await,
        409,
        "conflict",
    )
    .await;

    // Others now read the shared view: no owner, generalised quasi-identifiers.
    for reader in [&w.b, &w.analyst] {
        let shared = w.ok(Method::GET, &path, reader, None, 200).await;
        assert_eq!(shared["title"], replaced["title"]);
        assert!(shared.get("owner_key").is_none() && shared.get("operator_id").is_none());
        assert!(shared["context"]["when"]["month"].is_string());
        assert!(
            shared["context"].get("started_on").is_none(),
            "no exact date: {shared}"
        );
        assert!(shared["impact"].get("subscribers_affected").is_none());
        let text = shared.to_string();
        assert!(!text.contains("Acme") && !text.contains(&w.a), "{text}");
    }

    // Amending a published report: a new revision, still published.
    let mut amended = replaced.clone();
    amended["summary"] = json!(format!(
        "{} Root cause confirmed by the supplier.",
        replaced["summary"].as_str().expect("summary")
    ));
    let after = w.ok(Method::PUT, &path, &w.a, Some(&amended), 200).await;
    assert_eq!(
        (after["status"].as_str(), after["revision"].as_i64()),
        (Some("published"), Some(4))
    );
    let shared = w.ok(Method::GET, &path, &w.b, None, 200).await;
    assert_eq!(shared["summary"], amended["summary"]);
    let history = w
        .ok(Method::GET, &format!("{path}/revisions"), &w.a, None, 200)
        .await;
    let revs: Vec<i64> = history["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["revision"].as_i64().expect("n"))
        .collect();
    assert_eq!(revs, vec![1, 2, 3, 4]);
    assert_eq!(history["items"][0]["report"]["title"], example()["title"]);

    // Withdraw: gone for everyone else, still there for the owner.
    let withdrawn = w
        .ok(Method::POST, &format!("{path}/withdraw"), &w.a, None, 200)
        .await;
    assert_eq!(withdrawn["status"], "withdrawn");
    problem(
        w.call(Method::GET, &path, &w.b, None).await,
        404,
        "not_found",
    )
    .await;
    problem(
        w.call(Method::GET, &path, &w.analyst, None).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        w.ok(Method::GET, &path, &w.a, None, 200).await["status"],
        "withdrawn"
    );
    problem(
        w.call(Method::PUT, &path, &w.a, Some(&amended)).await,
        409,
        "conflict",
    )
    .await;
}

async fn only_the_owner_changes_a_report(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let draft = w.create(&w.a, &example()).await;
    let published = w.create(&w.a, &example()).await;
    w.publish(&w.a, &published).await;
    for id in [&draft, &published] {
        let path = format!("/api/v1/reports/{id}");
        for (method, p, body) in [
            (Method::PUT, path.clone(), Some(example())),
            (
                Method::PATCH,
                path.clone(),
                Some(json!({"title": "hijacked"})),
            ),
            (Method::POST, format!("{path}/publish"), None),
            (Method::POST, format!("{path}/withdraw"), None),
            (Method::GET, format!("{path}/revisions"), None),
            (Method::POST, format!("{path}/preview"), None),
        ] {
            let response = w.call(method.clone(), &p, &w.b, body.as_ref()).await;
            problem(response, 404, "not_found").await;
            // Analysts and admins may not change reports at all.
            for token in [&w.analyst, &w.admin] {
                problem(
                    w.call(method.clone(), &p, token, body.as_ref()).await,
                    403,
                    "forbidden",
                )
                .await;
            }
        }
    }
    let unchanged = w
        .ok(
            Method::GET,
            &format!("/api/v1/reports/{published}"),
            &w.a,
            None,
            200,
        )
        .await;
    assert_eq!(unchanged["revision"], 1);
    assert_eq!(unchanged["title"], example()["title"]);
    problem(
        w.call(
            Method::POST,
            "/api/v1/reports",
            &w.analyst,
            Some(&example()),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    problem(
        w.call(Method::GET, "/api/v1/reports", &w.admin, None).await,
        403,
        "forbidden",
    )
    .await;
    problem(
        w.app
            .client
            .get(w.app.url("/api/v1/reports"))
            .send()
            .await
            .expect("sent"),
        401,
        "unauthenticated",
    )
    .await;
}

async fn tlp_decides_who_reads(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let mut ids = Vec::new();
    for tlp in ["clear", "green", "amber", "red"] {
        let mut body = example();
        body["tlp"] = json!(tlp);
        let id = w.create(&w.a, &body).await;
        w.publish(&w.a, &id).await;
        ids.push((tlp, id));
    }
    for (tlp, id) in &ids {
        let path = format!("/api/v1/reports/{id}");
        let member = w
            .call(Method::GET, &path, &w.b, None)
            .await
            .status()
            .as_u16();
        let analyst = w
            .call(Method::GET, &path, &w.analyst, None)
            .await
            .status()
            .as_u16();
        let owner = w
            .call(Method::GET, &path, &w.a, None)
            .await
            .status()
            .as_u16();
        let expected = match *tlp {
            "clear" | "green" => (200, 200),
            "amber" => (404, 200),
            _ => (404, 404),
        };
        assert_eq!((member, analyst), expected, "tlp {tlp}");
        assert_eq!(owner, 200, "the owner always reads its report ({tlp})");
    }
    let listed_by = |token: String| {
        let w = &w;
        async move {
            let page = w
                .ok(Method::GET, "/api/v1/reports", &token, None, 200)
                .await;
            let mut tlps: Vec<String> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| r["tlp"].as_str().expect("tlp").to_owned())
                .collect();
            tlps.sort();
            (tlps, page["total"].as_i64().expect("total"))
        }
    };
    assert_eq!(
        listed_by(w.b.clone()).await,
        (vec!["clear".to_owned(), "green".to_owned()], 2)
    );
    assert_eq!(
        listed_by(w.analyst.clone()).await,
        (
            vec!["amber".to_owned(), "clear".to_owned(), "green".to_owned()],
            3
        )
    );
}

async fn idempotent_retries_create_nothing(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let post = |key: &'static str, body: Value| {
        w.app
            .authed(Method::POST, "/api/v1/reports", &w.a)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let first = post("file-2021-06-02", example()).await.expect("sent");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    let retry = post("file-2021-06-02", example()).await.expect("sent");
    assert_eq!(retry.status(), 201);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let retry: Value = retry.json().await.expect("json");
    assert_eq!(retry, first, "the first response, replayed");
    let mut other = example();
    other["title"] = json!("A different report");
    problem(
        post("file-2021-06-02", other).await.expect("sent"),
        422,
        "idempotency_key_reused",
    )
    .await;
    let mine = w
        .ok(Method::GET, "/api/v1/reports?mine=true", &w.a, None, 200)
        .await;
    assert_eq!(mine["total"], 1, "one report despite three requests");

    // Concurrent duplicates: still exactly one report.
    let id_sets =
        futures_util::future::join_all((0..4).map(|_| post("concurrent-key", example()))).await;
    let mut ids = std::collections::BTreeSet::new();
    for r in id_sets {
        let r = r.expect("sent");
        assert_eq!(r.status(), 201);
        ids.insert(
            r.json::<Value>().await.expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        w.ok(Method::GET, "/api/v1/reports?mine=true", &w.a, None, 200)
            .await["total"],
        2
    );

    // Publishing with a key: a retry returns the same receipt.
    let id = first["id"].as_str().expect("id");
    let publish = || {
        w.app
            .authed(Method::POST, &format!("/api/v1/reports/{id}/publish"), &w.a)
            .header("Idempotency-Key", "publish-1")
            .send()
    };
    let p1: Value = publish().await.expect("sent").json().await.expect("json");
    let p2 = publish().await.expect("sent");
    assert_eq!(p2.status(), 200, "a retried publish is not a conflict");
    assert_eq!(p2.json::<Value>().await.expect("json"), p1);
    let bad_key = w
        .app
        .authed(Method::POST, "/api/v1/reports", &w.a)
        .header("Idempotency-Key", "")
        .json(&example())
        .send()
        .await
        .expect("sent");
    problem(bad_key, 400, "invalid_header").await;
}

/// `POST /api/v1/reports?publish=true` files and publishes in one request:
/// members read it at once, the receipt verifies, a retry replays, and a
/// bad report leaves nothing behind.
async fn filing_and_publishing_in_one_request(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let post = |path: &'static str, key: &'static str, body: Value| {
        w.app
            .authed(Method::POST, path, &w.a)
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
    };
    let filed = post("/api/v1/reports?publish=true", "one-shot", example())
        .await
        .expect("sent");
    assert_eq!(filed.status(), 201);
    let location = filed
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let filed: Value = filed.json().await.expect("json");
    let id = filed["id"].as_str().expect("id").to_owned();
    assert_eq!(location, Some(format!("/api/v1/reports/{id}")));
    assert_eq!(filed["status"], "published", "{filed}");
    assert!(filed["published_at"].is_string());
    assert!(filed["redactions"].is_array());
    let receipt = &filed["receipt"];
    assert_eq!(receipt["claims"]["report_id"], id.as_str());
    assert_eq!(receipt["claims"]["revision"], 1);
    let verified = w
        .ok(
            Method::POST,
            "/api/v1/receipts/verify",
            &w.b,
            Some(&json!({"receipt": receipt})),
            200,
        )
        .await;
    assert_eq!(verified["valid"], true, "{verified}");

    // Another member reads it; its lessons are lesson records.
    let shared = w
        .ok(
            Method::GET,
            &format!("/api/v1/reports/{id}"),
            &w.b,
            None,
            200,
        )
        .await;
    assert_eq!(shared["id"], id.as_str());
    let lessons = w.ok(Method::GET, "/api/v1/lessons", &w.b, None, 200).await;
    let expected = example()["lessons"].as_array().expect("lessons").len();
    assert_eq!(lessons["total"], expected, "{lessons}");
    // Publishing it again is a conflict: it is no longer a draft.
    problem(
        w.call(
            Method::POST,
            &format!("/api/v1/reports/{id}/publish"),
            &w.a,
            None,
        )
        .await,
        409,
        "conflict",
    )
    .await;

    // A retry replays the first response; the same key on the draft route
    // is a different request.
    let retry = post("/api/v1/reports?publish=true", "one-shot", example())
        .await
        .expect("sent");
    assert_eq!(retry.status(), 201);
    assert_eq!(retry.json::<Value>().await.expect("json"), filed);
    problem(
        post("/api/v1/reports", "one-shot", example())
            .await
            .expect("sent"),
        422,
        "idempotency_key_reused",
    )
    .await;

    // Invalid content or an unknown parameter: nothing is stored.
    let mut bad = example();
    bad["tlp"] = json!("purple");
    problem(
        post("/api/v1/reports?publish=true", "bad-one", bad)
            .await
            .expect("sent"),
        422,
        "validation_failed",
    )
    .await;
    problem(
        post("/api/v1/reports?publish=yes", "bad-two", example())
            .await
            .expect("sent"),
        400,
        "invalid_parameter",
    )
    .await;
    let mine = w
        .ok(Method::GET, "/api/v1/reports?mine=true", &w.a, None, 200)
        .await;
    assert_eq!(mine["total"], 1, "{mine}");
}

async fn field_errors_name_every_field(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let mut body = example();
    body["title"] = json!("   ");
    body["impact"]["duration_minutes"] = json!(0);
    body["lessons"] = json!(["ok", "x".repeat(2001)]);
    body["context"]["country"] = json!("XX");
    body["colour"] = json!("red");
    let response = w
        .call(Method::POST, "/api/v1/reports", &w.a, Some(&body))
        .await;
    let problem_body = problem(response, 422, "validation_failed").await;
    let errors: Vec<(String, String)> = problem_body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().expect("field").to_owned(),
                e["code"].as_str().expect("code").to_owned(),
            )
        })
        .collect();
    assert!(
        errors.contains(&("colour".into(), "unknown_field".into())),
        "{errors:?}"
    );
    assert!(
        errors.contains(&("context.country".into(), "invalid_value".into())),
        "{errors:?}"
    );
    // Structurally valid bodies report every limit broken.
    body.as_object_mut().expect("object").remove("colour");
    body["context"]["country"] = json!("FR");
    let response = w
        .call(Method::POST, "/api/v1/reports", &w.a, Some(&body))
        .await;
    let problem_body = problem(response, 422, "validation_failed").await;
    let fields: Vec<&str> = problem_body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("f"))
        .collect();
    for f in ["title", "impact.duration_minutes", "lessons[1]"] {
        assert!(fields.contains(&f), "{f} named in {fields:?}");
    }
    let missing = w
        .call(
            Method::POST,
            "/api/v1/reports",
            &w.a,
            Some(&json!({"summary": "x"})),
        )
        .await;
    let problem_body = problem(missing, 422, "validation_failed").await;
    let fields: Vec<&str> = problem_body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("f"))
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"context"),
        "{fields:?}"
    );
    assert_eq!(
        w.ok(Method::GET, "/api/v1/reports?mine=true", &w.a, None, 200)
            .await["total"],
        0,
        "nothing stored"
    );
    problem(
        w.call(Method::GET, "/api/v1/reports?limit=0", &w.a, None)
            .await,
        400,
        "invalid_parameter",
    )
    .await;
    problem(
        w.call(
            Method::GET,
            "/api/v1/reports?status=lost&mine=true",
            &w.a,
            None,
        )
        .await,
        400,
        "invalid_parameter",
    )
    .await;
}

async fn owners_list_their_reports_by_status(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let mut published = Vec::new();
    for i in 0..5 {
        let mut body = example();
        body["title"] = json!(format!("Incident {i}"));
        let id = w.create(&w.a, &body).await;
        if i % 2 == 0 {
            w.publish(&w.a, &id).await;
            published.push(id);
        }
    }
    w.create(&w.b, &example()).await;
    let all = w
        .ok(Method::GET, "/api/v1/reports?mine=true", &w.a, None, 200)
        .await;
    assert_eq!(all["total"], 5);
    let drafts = w
        .ok(
            Method::GET,
            "/api/v1/reports?mine=true&status=draft",
            &w.a,
            None,
            200,
        )
        .await;
    assert_eq!(drafts["total"], 2);
    assert!(
        drafts["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|r| r["status"] == "draft")
    );
    let page1 = w
        .ok(
            Method::GET,
            "/api/v1/reports?mine=true&limit=2&offset=0",
            &w.a,
            None,
            200,
        )
        .await;
    let page2 = w
        .ok(
            Method::GET,
            "/api/v1/reports?mine=true&limit=2&offset=2",
            &w.a,
            None,
            200,
        )
        .await;
    let page3 = w
        .ok(
            Method::GET,
            "/api/v1/reports?mine=true&limit=2&offset=4",
            &w.a,
            None,
            200,
        )
        .await;
    let mut seen: Vec<String> = [page1, page2, page3]
        .iter()
        .flat_map(|p| {
            p["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|r| r["id"].as_str().expect("id").to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "pages cover every report once");
    let shared = w.ok(Method::GET, "/api/v1/reports", &w.b, None, 200).await;
    assert_eq!(shared["total"], 3, "drafts are not shared");
    problem(
        w.call(Method::GET, "/api/v1/reports?mine=true", &w.analyst, None)
            .await,
        403,
        "forbidden",
    )
    .await;
}

async fn the_whole_development_corpus_reads_back_intact(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let records = incidex_schema::corpus::parse_jsonl(include_str!(
        "../../schema/data/telecom/incidents.jsonl"
    ))
    .expect("corpus");
    assert_eq!(records.len(), 32);
    for record in &records {
        let input = serde_json::to_value(record.to_report_input()).expect("json");
        let id = w.create(&w.a, &input).await;
        let back = w
            .ok(
                Method::GET,
                &format!("/api/v1/reports/{id}"),
                &w.a,
                None,
                200,
            )
            .await;
        for (key, value) in input.as_object().expect("object") {
            assert_eq!(&back[key], value, "{}: field {key} changed", record.id);
        }
    }
    assert_eq!(
        w.ok(Method::GET, "/api/v1/reports?mine=true", &w.a, None, 200)
            .await["total"],
        32
    );
}

/// The example in the committed OpenAPI document is a complete, valid filing.
async fn the_documented_example_files(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let spec: Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).expect("spec");
    let example = spec["paths"]["/api/v1/reports"]["post"]["requestBody"]["content"]["application/json"]["example"].clone();
    assert!(
        example.is_object(),
        "POST /api/v1/reports documents an example"
    );
    let created = w
        .ok(Method::POST, "/api/v1/reports", &w.a, Some(&example), 201)
        .await;
    for key in example.as_object().expect("object").keys() {
        assert_eq!(created[key], example[key], "{key}");
    }
    assert_eq!(created["metrics"]["severity"], "critical");
    assert_eq!(
        created["metrics"]["flags"]["emergency_service_affected"],
        true
    );
}

/// Many members filing and publishing at the same moment: every request
/// succeeds (SQLite serialises writers; nobody gets "database is locked").
async fn concurrent_filings_all_succeed(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let file_and_publish = |token: String| {
        let w = &w;
        async move {
            let created = w
                .call(Method::POST, "/api/v1/reports", &token, Some(&example()))
                .await;
            assert_eq!(
                created.status(),
                201,
                "{}",
                created.text().await.unwrap_or_default()
            );
            let id = created.json::<Value>().await.expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned();
            let published = w
                .call(
                    Method::POST,
                    &format!("/api/v1/reports/{id}/publish"),
                    &token,
                    None,
                )
                .await;
            assert_eq!(
                published.status(),
                200,
                "{}",
                published.text().await.unwrap_or_default()
            );
        }
    };
    let tokens = (0..16).map(|i| if i % 2 == 0 { w.a.clone() } else { w.b.clone() });
    futures_util::future::join_all(tokens.map(file_and_publish)).await;
    assert_eq!(
        w.ok(Method::GET, "/api/v1/reports?mine=true", &w.a, None, 200)
            .await["total"],
        8
    );
    assert_eq!(
        w.ok(Method::GET, "/api/v1/reports", &w.analyst, None, 200)
            .await["total"],
        16
    );
}

on_both_backends!(
    concurrent_filings_all_succeed,
    the_documented_example_files,
    lifecycle_draft_publish_amend_withdraw,
    only_the_owner_changes_a_report,
    tlp_decides_who_reads,
    idempotent_retries_create_nothing,
    filing_and_publishing_in_one_request,
    field_errors_name_every_field,
    owners_list_their_reports_by_status,
    the_whole_development_corpus_reads_back_intact,
);
