//! The anonymisation quality bar, through the HTTP API on both backends:
//! each case of `tests/data/anonymisation-cases.jsonl` is filed by operator
//! A (with the case's sensitive terms, and the case's operators registered
//! as members), published, and read back by another operator and by an
//! analyst. No planted identifier may appear anywhere in what they get,
//! and every token that must survive must still be there.

use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    text: String,
    operators: Vec<String>,
    sensitive_terms: Vec<String>,
    must_remove: Vec<String>,
    must_keep: Vec<String>,
}

fn cases() -> Vec<Case> {
    include_str!("../data/anonymisation-cases.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("case"))
        .collect()
}

async fn json_of(response: reqwest::Response, what: &str) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).expect("json")
}

fn assert_scrubbed(case: &Case, who: &str, body: &str) {
    let lower = body.to_lowercase();
    for planted in &case.must_remove {
        assert!(
            !lower.contains(&planted.to_lowercase()),
            "case {}: {who} sees planted identifier {planted:?}",
            case.name
        );
    }
    for kept in &case.must_keep {
        assert!(
            body.contains(kept.as_str()),
            "case {}: {who} lost {kept:?}",
            case.name
        );
    }
}

async fn planted_identifiers_never_reach_other_readers(backend: Backend) {
    // One registry whose members are every operator named in any case.
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let filer = app.create_operator("Filing Member", &[], Some("FR"));
    let mut names: Vec<String> = cases().iter().flat_map(|c| c.operators.clone()).collect();
    names.sort();
    names.dedup();
    for name in &names {
        app.create_operator(name, &[], None);
    }
    let reader_op = app.create_operator("Reading Member", &[], Some("DE"));
    let a = app.token_for(Role::Reporter, Some(&filer)).await;
    let b = app.token_for(Role::Reporter, Some(&reader_op)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    for case in cases() {
        let terms = app
            .authed(Method::PUT, "/api/v1/operators/me/sensitive-terms", &a)
            .json(&case.sensitive_terms)
            .send()
            .await
            .expect("sent");
        json_of(terms, "set terms").await;

        // The text goes into every kind of free-text field.
        let mut body = incidex_schema::report::report_input_example();
        body["title"] = json!(format!("Case {}", case.name));
        body["summary"] = json!(case.text);
        body["lessons"] = json!([case.text]);
        body["notes"] = json!(case.text);
        body["cause"]["detailed_cause"] = json!(case.text);
        body["timeline"] = json!([{"offset_minutes": 5, "event": case.text}]);
        let created = json_of(
            app.authed(Method::POST, "/api/v1/reports", &a)
                .json(&body)
                .send()
                .await
                .expect("sent"),
            "file",
        )
        .await;
        let id = created["id"].as_str().expect("id").to_owned();
        // Even the owner gets the stored (scrubbed) text back: nothing
        // identifying was stored.
        assert_scrubbed(&case, "the owner", &created.to_string());
        assert!(
            !created["redactions"]
                .as_array()
                .expect("redactions")
                .is_empty(),
            "case {}",
            case.name
        );
        let preview = json_of(
            app.authed(Method::POST, &format!("/api/v1/reports/{id}/preview"), &a)
                .send()
                .await
                .expect("sent"),
            "preview",
        )
        .await;
        assert_scrubbed(&case, "the preview", &preview["shared"].to_string());
        json_of(
            app.authed(Method::POST, &format!("/api/v1/reports/{id}/publish"), &a)
                .send()
                .await
                .expect("sent"),
            "publish",
        )
        .await;

        for (who, token) in [("another operator", &b), ("an analyst", &analyst)] {
            let one = app
                .authed(Method::GET, &format!("/api/v1/reports/{id}"), token)
                .send()
                .await
                .expect("sent");
            let one = one.text().await.expect("body");
            assert_scrubbed(&case, who, &one);
            assert!(
                !one.contains("Filing Member") && !one.contains(&filer),
                "{who} learns the filer"
            );
            let list = app
                .authed(Method::GET, "/api/v1/reports?limit=1", token)
                .send()
                .await
                .expect("sent")
                .text()
                .await
                .expect("body");
            assert!(list.contains(&id), "the newest report heads the list");
            assert_scrubbed(&case, who, &list);
            assert!(!list.contains("Filing Member") && !list.contains(&filer));
        }
    }
}

async fn quasi_identifiers_are_generalised_for_others(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let filer = app.create_operator("Alpha", &[], Some("FR"));
    app.create_operator("Bravo", &[], Some("FR"));
    let reader = app.create_operator("Charlie", &[], Some("DE"));
    let a = app.token_for(Role::Reporter, Some(&filer)).await;
    let b = app.token_for(Role::Reporter, Some(&reader)).await;
    let mut body = incidex_schema::report::report_input_example();
    body["context"]["started_on"] = json!("2021-06-02");
    body["context"]["start_time"] = json!("16:52");
    body["context"]["country"] = json!("FR");
    body["context"]["region"] = json!("europe");
    body["impact"]["subscribers_affected"] = json!(2_345_678);
    let created = json_of(
        app.authed(Method::POST, "/api/v1/reports", &a)
            .json(&body)
            .send()
            .await
            .expect("sent"),
        "file",
    )
    .await;
    let id = created["id"].as_str().expect("id").to_owned();
    json_of(
        app.authed(Method::POST, &format!("/api/v1/reports/{id}/publish"), &a)
            .send()
            .await
            .expect("sent"),
        "publish",
    )
    .await;

    let shared = json_of(
        app.authed(Method::GET, &format!("/api/v1/reports/{id}"), &b)
            .send()
            .await
            .expect("sent"),
        "read",
    )
    .await;
    let context = &shared["context"];
    assert_eq!(
        context["when"],
        json!({"month": "2021-06", "day_of_week": "wednesday", "block": "12-18"})
    );
    assert_eq!(context["subscriber_band"], "1M-10M");
    assert!(
        context["location"]["country"].is_null(),
        "only 2 members in FR (k = 3): {context}"
    );
    assert_eq!(context["location"]["region"], "europe");
    let text = shared.to_string();
    for exact in ["2021-06-02", "16:52", "2345678"] {
        assert!(!text.contains(exact), "{exact} leaks: {text}");
    }
    // The owner keeps its exact values.
    let own = json_of(
        app.authed(Method::GET, &format!("/api/v1/reports/{id}"), &a)
            .send()
            .await
            .expect("sent"),
        "own",
    )
    .await;
    assert_eq!(own["context"]["started_on"], "2021-06-02");
    assert_eq!(own["impact"]["subscribers_affected"], 2_345_678);

    // A third member in FR: the country may now be shown.
    app.create_operator("Delta", &[], Some("FR"));
    let shared = json_of(
        app.authed(Method::GET, &format!("/api/v1/reports/{id}"), &b)
            .send()
            .await
            .expect("sent"),
        "read",
    )
    .await;
    assert_eq!(shared["context"]["location"]["country"], "FR");
}

async fn dry_run_and_sensitive_terms(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let filer = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let a = app.token_for(Role::Reporter, Some(&filer)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    let terms = json_of(
        app.authed(Method::PUT, "/api/v1/operators/me/sensitive-terms", &a)
            .json(&json!([
                "Project Phoenix",
                " Lyon-Gerland ",
                "Project Phoenix"
            ]))
            .send()
            .await
            .expect("sent"),
        "put",
    )
    .await;
    assert_eq!(terms, json!(["Project Phoenix", "Lyon-Gerland"]));
    let got = json_of(
        app.authed(Method::GET, "/api/v1/operators/me/sensitive-terms", &a)
            .send()
            .await
            .expect("sent"),
        "get",
    )
    .await;
    assert_eq!(got, terms);
    let text = "Acme's Project Phoenix cut-over at Lyon-Gerland failed; call Dr. Jane Roe on +33 1 23 45 67 89. 112 calls failed with SIP 408.";
    let out = json_of(
        app.authed(Method::POST, "/api/v1/anonymise", &a)
            .json(&json!({"text": text}))
            .send()
            .await
            .expect("sent"),
        "dry run",
    )
    .await;
    let scrubbed = out["text"].as_str().expect("text");
    for gone in [
        "Acme",
        "Phoenix",
        "Lyon-Gerland",
        "Jane Roe",
        "+33 1 23 45 67 89",
    ] {
        assert!(!scrubbed.contains(gone), "{gone} in {scrubbed}");
    }
    for kept in ["112", "SIP 408", "[OPERATOR]", "[TERM]", "[PHONE]"] {
        assert!(scrubbed.contains(kept), "{kept} missing from {scrubbed}");
    }
    let originals: Vec<&str> = out["redactions"]
        .as_array()
        .expect("list")
        .iter()
        .map(|r| r["original"].as_str().expect("original"))
        .collect();
    assert!(originals.contains(&"+33 1 23 45 67 89"), "{originals:?}");
    // Nothing was stored by the dry run.
    let mine = json_of(
        app.authed(Method::GET, "/api/v1/reports?mine=true", &a)
            .send()
            .await
            .expect("sent"),
        "list",
    )
    .await;
    assert_eq!(mine["total"], 0);
    problem(
        app.authed(Method::POST, "/api/v1/anonymise", &analyst)
            .json(&json!({"text": "x"}))
            .send()
            .await
            .expect("sent"),
        403,
        "forbidden",
    )
    .await;
    let bad = app
        .authed(Method::PUT, "/api/v1/operators/me/sensitive-terms", &a)
        .json(&json!(["ok", "  "]))
        .send()
        .await
        .expect("sent");
    let body = problem(bad, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "[1]");
}

on_both_backends!(
    planted_identifiers_never_reach_other_readers,
    quasi_identifiers_are_generalised_for_others,
    dry_run_and_sensitive_terms,
);
