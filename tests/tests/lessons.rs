//! Lessons through the HTTP API, on both backends: records that follow the
//! report lifecycle, TLP-limited lists and facets, filters and full text,
//! endorsements counted once per member and never attributed, and curated
//! lessons (anonymised, visible with their cluster).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

struct World {
    app: TestApp,
    op_a: String,
    op_b: String,
    a: String,
    b: String,
    analyst: String,
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let op_a = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let op_b = app.create_operator("Beta Telecom", &["BetaTel"], Some("DE"));
    let a = app.token_for(Role::Reporter, Some(&op_a)).await;
    let b = app.token_for(Role::Reporter, Some(&op_b)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    Some(World {
        app,
        op_a,
        op_b,
        a,
        b,
        analyst,
    })
}

impl World {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> (u16, Value) {
        self.app.send(method, path, token, body).await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.app.send(Method::GET, path, token, None).await
    }

    /// `GET path` that must succeed.
    async fn ok(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.get(path, token).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn file(&self, token: &str, body: &Value, publish: bool) -> String {
        self.app.file(token, body, publish).await
    }

    async fn endorse(&self, lesson: &str, token: &str) -> (u16, Value) {
        let path = format!("/api/v1/lessons/{lesson}/endorse");
        self.send(Method::POST, &path, token, None).await
    }

    /// Waits until the reader's cluster list has `n` members in all.
    async fn clustered(&self, token: &str, n: u64) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let list = self.ok("/api/v1/clusters?limit=200", token).await;
            let sum: u64 = list["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i["size"].as_u64().expect("size"))
                .sum();
            if sum == n {
                return;
            }
            assert!(Instant::now() < deadline, "never clustered: {list}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn items(list: &Value) -> &Vec<Value> {
    list["items"].as_array().expect("items")
}

fn texts(list: &Value) -> BTreeSet<String> {
    items(list)
        .iter()
        .map(|l| l["text"].as_str().expect("text").to_owned())
        .collect()
}

fn example(tlp: &str, lessons: &[&str]) -> Value {
    let mut body = incidex_schema::report::report_input_example();
    body["tlp"] = json!(tlp);
    body["lessons"] = json!(lessons);
    body
}

fn cable(tlp: &str, lessons: &[&str]) -> Value {
    json!({
        "title": "Submarine cable cut isolated the island for two days",
        "summary": "An anchor dragged by a cargo ship severed the only submarine cable linking the island. Mobile data and broadband traffic stopped until a repair vessel spliced the fibre.",
        "tlp": tlp,
        "context": {"started_on": "2023-03-10", "region": "europe", "scope": "regional"},
        "affected": {"services": ["data", "fixed_broadband"], "network_domain": "transport", "assets": ["submarine_cable"]},
        "cause": {"root_cause_category": "third_party_failure", "trigger": "fibre_cut"},
        "lessons": lessons,
    })
}

async fn report_lessons_follow_the_report_lifecycle(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let lessons = [
        "Roll bulk commands out to one kookaburra call server first.",
        "Supervise emergency call completion end to end with dedicated alarms.",
        "Convene a crisis cell within 30 minutes of any emergency-call degradation.",
    ];
    let id = w.file(&w.a, &example("green", &lessons), false).await;
    // A draft's lessons are nobody's, not even the owner's.
    for token in [&w.a, &w.b, &w.analyst] {
        let list = w.ok("/api/v1/lessons?q=kookaburra", token).await;
        assert_eq!(list["total"], 0, "{list}");
        assert_eq!(w.ok("/api/v1/lessons", token).await["total"], 0);
    }

    let path = format!("/api/v1/reports/{id}/publish");
    assert_eq!(w.send(Method::POST, &path, &w.a, None).await.0, 200);
    let list = w.ok("/api/v1/lessons", &w.b).await;
    assert_eq!(list["total"], 3, "{list}");
    assert_eq!(
        texts(&list),
        lessons.iter().map(|l| l.to_string()).collect()
    );
    for lesson in items(&list) {
        assert_eq!(lesson["report_ids"], json!([id]));
        assert_eq!(lesson["endorsements"], 0);
        assert_eq!(lesson["source"], "report");
        assert_eq!(lesson["trigger"], "routine_commands");
        assert_eq!(lesson["root_cause_category"], "system_failure");
        assert!(lesson["id"].is_string() && lesson["category"].is_string());
    }
    assert_eq!(list["facets"]["source"], json!({"report": 3}));
    let by_text: BTreeMap<String, Value> = items(&list)
        .iter()
        .map(|l| (l["text"].as_str().expect("text").to_owned(), l.clone()))
        .collect();
    assert_eq!(by_text[lessons[0]]["category"], "change_management");
    assert_eq!(by_text[lessons[1]]["category"], "monitoring");
    assert_eq!(by_text[lessons[2]]["category"], "incident_response");
    let kept_id = by_text[lessons[1]]["id"].clone();
    let found = w.ok("/api/v1/lessons?q=kookaburra", &w.analyst).await;
    assert_eq!(found["total"], 1, "{found}");
    // Nothing in a lesson names the filer.
    let text = list.to_string();
    assert!(!text.contains(&w.op_a) && !text.contains("Acme"), "{text}");

    // Amended: kept texts keep their record; the others follow the content.
    let patch = json!({"lessons": [lessons[1], "Keep generators fuelled for 72 hours at every switching site."]});
    let (status, body) = w
        .send(
            Method::PATCH,
            &format!("/api/v1/reports/{id}"),
            &w.a,
            Some(&patch),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let list = w.ok("/api/v1/lessons", &w.b).await;
    assert_eq!(list["total"], 2, "{list}");
    let by_text: BTreeMap<String, Value> = items(&list)
        .iter()
        .map(|l| (l["text"].as_str().expect("text").to_owned(), l.clone()))
        .collect();
    assert_eq!(
        by_text[lessons[1]]["id"], kept_id,
        "unchanged lesson keeps its id"
    );
    assert_eq!(
        by_text["Keep generators fuelled for 72 hours at every switching site."]["category"],
        "facilities"
    );
    assert_eq!(w.ok("/api/v1/lessons?q=kookaburra", &w.b).await["total"], 0);

    // Withdrawn: gone for everyone, the owner included.
    let path = format!("/api/v1/reports/{id}/withdraw");
    assert_eq!(w.send(Method::POST, &path, &w.a, None).await.0, 200);
    for token in [&w.a, &w.b, &w.analyst] {
        assert_eq!(w.ok("/api/v1/lessons", token).await["total"], 0);
    }
    let (status, _) = w.endorse(kept_id.as_str().expect("id"), &w.b).await;
    assert_eq!(
        status, 404,
        "a withdrawn report's lesson cannot be endorsed"
    );
}

async fn tlp_limits_lessons_and_facets(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let c = w.app.create_operator("Gamma Networks", &[], Some("IT"));
    let c = w.app.token_for(Role::Reporter, Some(&c)).await;
    w.file(
        &w.a,
        &example(
            "green",
            &["Supervise call completion with dedicated alarms."],
        ),
        true,
    )
    .await;
    w.file(
        &w.a,
        &cable(
            "amber",
            &["Lease a second diverse route for the wombat cable."],
        ),
        true,
    )
    .await;
    w.file(
        &w.a,
        &cable("red", &["Stock a spare repeater for the numbat segment."]),
        true,
    )
    .await;

    // Other members: the green lesson only, and facets of it only.
    for token in [&w.b, &c] {
        let list = w.ok("/api/v1/lessons", token).await;
        assert_eq!(list["total"], 1, "{list}");
        assert_eq!(list["facets"]["trigger"], json!({"routine_commands": 1}));
        assert_eq!(list["facets"]["category"], json!({"monitoring": 1}));
        assert!(list["facets"]["domain"].get("transport").is_none());
        assert_eq!(w.ok("/api/v1/lessons?q=wombat", token).await["total"], 0);
        assert_eq!(
            w.ok("/api/v1/lessons?trigger=fibre_cut", token).await["total"],
            0,
            "a filter cannot widen visibility"
        );
    }
    // Analysts: green and amber, never red.
    let list = w.ok("/api/v1/lessons", &w.analyst).await;
    assert_eq!(list["total"], 2, "{list}");
    assert_eq!(
        list["facets"]["trigger"],
        json!({"fibre_cut": 1, "routine_commands": 1})
    );
    assert_eq!(
        w.ok("/api/v1/lessons?q=wombat", &w.analyst).await["total"],
        1
    );
    assert_eq!(
        w.ok("/api/v1/lessons?q=numbat", &w.analyst).await["total"],
        0
    );
    // The owner: its own amber and red too.
    let list = w.ok("/api/v1/lessons", &w.a).await;
    assert_eq!(list["total"], 3, "{list}");
    assert_eq!(list["facets"]["trigger"]["fibre_cut"], 2);
}

fn corpus() -> Vec<Value> {
    incidex_schema::corpus::parse_jsonl(include_str!("../../schema/data/telecom/incidents.jsonl"))
        .expect("corpus")
        .iter()
        .map(|r| serde_json::to_value(r.to_report_input()).expect("json"))
        .collect()
}

fn lesson_count(records: &[Value], keep: impl Fn(&Value) -> bool) -> u64 {
    records
        .iter()
        .filter(|r| keep(r))
        .map(|r| r["lessons"].as_array().map_or(0, |l| l.len()) as u64)
        .sum()
}

async fn filters_facets_and_full_text(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let records = corpus();
    for r in &records {
        w.file(&w.a, r, true).await;
    }
    let all = w.ok("/api/v1/lessons?limit=200", &w.b).await;
    let expected = lesson_count(&records, |_| true);
    assert!(expected > 30, "the corpus has lessons");
    assert_eq!(all["total"], expected);

    // Facets and filters agree with the corpus.
    let human = lesson_count(&records, |r| {
        r["cause"]["root_cause_category"] == "human_error"
    });
    assert_eq!(all["facets"]["root_cause_category"]["human_error"], human);
    let list = w
        .ok(
            "/api/v1/lessons?root_cause_category=human_error&limit=200",
            &w.b,
        )
        .await;
    assert_eq!(list["total"], human);
    let either = lesson_count(&records, |r| {
        ["fibre_cut", "cyberattack"].contains(&r["cause"]["trigger"].as_str().unwrap_or(""))
    });
    let list = w
        .ok(
            "/api/v1/lessons?trigger=fibre_cut&trigger=cyberattack",
            &w.b,
        )
        .await;
    assert_eq!(list["total"], either);
    let voice = lesson_count(&records, |r| {
        r["affected"]["services"]
            .as_array()
            .is_some_and(|s| s.iter().any(|v| v == "voice"))
    });
    assert_eq!(
        w.ok("/api/v1/lessons?service=voice", &w.b).await["total"],
        voice
    );
    assert_eq!(all["facets"]["service"]["voice"], voice);
    let core = lesson_count(&records, |r| {
        r["affected"]["network_domain"] == "core"
            || r["affected"]["other_network_domains"]
                .as_array()
                .is_some_and(|d| d.iter().any(|v| v == "core"))
    });
    assert_eq!(
        w.ok("/api/v1/lessons?domain=core", &w.b).await["total"],
        core
    );
    let combined = lesson_count(&records, |r| {
        r["cause"]["root_cause_category"] == "human_error"
            && r["affected"]["services"]
                .as_array()
                .is_some_and(|s| s.iter().any(|v| v == "voice"))
    });
    assert_eq!(
        w.ok(
            "/api/v1/lessons?root_cause_category=human_error&service=voice",
            &w.b
        )
        .await["total"],
        combined
    );
    let categories = all["facets"]["category"].as_object().expect("categories");
    assert_eq!(
        categories
            .values()
            .map(|v| v.as_u64().expect("n"))
            .sum::<u64>(),
        expected
    );
    let (name, n) = categories.iter().next().expect("a category");
    let list = w
        .ok(&format!("/api/v1/lessons?category={name}&limit=200"), &w.b)
        .await;
    assert_eq!(&list["total"], n);
    assert!(items(&list).iter().all(|l| l["category"] == name.as_str()));

    // Full text: stemmed words, telecom tokens, phrases.
    let dns = w.ok("/api/v1/lessons?q=DNS&limit=200", &w.b).await;
    assert!(dns["total"].as_u64() > Some(0), "{dns}");
    for hit in items(&dns) {
        assert!(
            hit["text"]
                .as_str()
                .expect("t")
                .to_lowercase()
                .contains("dns"),
            "{hit}"
        );
    }
    let volte = w.ok("/api/v1/lessons?q=volte%20rollback", &w.b).await;
    assert_eq!(
        volte["total"], 1,
        "telecom token and stem (rollback): {volte}"
    );
    let sample = items(&all)
        .iter()
        .map(|l| l["text"].as_str().expect("text"))
        .find(|t| t.split_whitespace().count() >= 6)
        .expect("a long lesson");
    let words: Vec<&str> = sample.split_whitespace().take(3).collect();
    let phrase = format!("\"{}\"", words.join(" "));
    let query: String = form_urlencoded_q(&phrase);
    let found = w
        .ok(&format!("/api/v1/lessons?q={query}&limit=200"), &w.b)
        .await;
    assert!(texts(&found).contains(sample), "{phrase}: {found}");
    assert!(items(&found).iter().all(|l| {
        l["text"]
            .as_str()
            .expect("t")
            .to_lowercase()
            .contains(&words[0].to_lowercase())
    }));
    // Facets follow the query.
    let counted: u64 = dns["facets"]["source"]["report"].as_u64().expect("n");
    assert_eq!(counted, dns["total"].as_u64().expect("n"));

    // Pages are disjoint and cover everything, newest first by default.
    let mut seen = BTreeSet::new();
    let mut offset = Some(0u64);
    while let Some(o) = offset {
        let page = w
            .ok(
                &format!("/api/v1/lessons?limit=7&offset={o}&facets=false"),
                &w.b,
            )
            .await;
        assert!(page["facets"].as_object().expect("facets").is_empty());
        for l in items(&page) {
            assert!(seen.insert(l["id"].as_str().expect("id").to_owned()));
        }
        offset = page["next_offset"].as_u64();
    }
    assert_eq!(seen.len() as u64, expected);

    // Bad parameters are 400 with the field named.
    for (path, field) in [
        ("/api/v1/lessons?q=%22unclosed", "q"),
        ("/api/v1/lessons?category=gossip", "category"),
        ("/api/v1/lessons?trigger=gremlins", "trigger"),
        ("/api/v1/lessons?limit=0", "limit"),
        ("/api/v1/lessons?sort=sideways", "sort"),
        ("/api/v1/lessons?colour=red", "colour"),
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
}

/// Percent-encodes a query value (spaces and quotes are all we need).
fn form_urlencoded_q(s: &str) -> String {
    s.replace('%', "%25")
        .replace(' ', "%20")
        .replace('"', "%22")
        .replace('&', "%26")
}

async fn endorsements_count_once_per_member_and_never_attributed(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let op_c = w.app.create_operator("Gamma Networks", &[], Some("IT"));
    let c = w.app.token_for(Role::Reporter, Some(&op_c)).await;
    // A second system of member B: the same member.
    let b2 = w.app.token_for(Role::Reporter, Some(&w.op_b)).await;
    w.file(
        &w.a,
        &example(
            "green",
            &["Supervise call completion with dedicated alarms."],
        ),
        true,
    )
    .await;
    w.file(&w.a, &cable("amber", &["Lease a second route."]), true)
        .await;
    let list = w.ok("/api/v1/lessons", &w.b).await;
    let lesson = items(&list)[0]["id"].as_str().expect("id").to_owned();
    let amber = items(&w.ok("/api/v1/lessons?trigger=fibre_cut", &w.analyst).await)[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let (status, body) = w.endorse(&lesson, &w.b).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["endorsements"], 1);
    assert_eq!(body["endorsed"], true);
    assert_eq!(
        w.endorse(&lesson, &w.b).await.1["endorsements"],
        1,
        "idempotent"
    );
    assert_eq!(
        w.endorse(&lesson, &b2).await.1["endorsements"],
        1,
        "once per member"
    );
    let (status, body) = w.endorse(&lesson, &c).await;
    assert_eq!((status, body["endorsements"].clone()), (200, json!(2)));
    // The filer does not endorse its own; admins do not endorse.
    let (status, _) = w.endorse(&lesson, &w.a).await;
    assert_eq!(status, 409);
    let admin = w.app.token_for(Role::Admin, None).await;
    let r = w
        .app
        .authed(
            Method::POST,
            &format!("/api/v1/lessons/{lesson}/endorse"),
            &admin,
        )
        .send()
        .await
        .expect("sent");
    problem(r, 403, "forbidden").await;
    // An analyst endorses as one person, once (here the amber lesson,
    // which analysts may read).
    let (status, body) = w.endorse(&amber, &w.analyst).await;
    assert_eq!(
        (status, body["endorsements"].clone()),
        (200, json!(1)),
        "{body}"
    );
    assert_eq!(w.endorse(&amber, &w.analyst).await.1["endorsements"], 1);
    // Lessons a member may not see do not exist for it.
    assert_eq!(w.endorse(&amber, &w.b).await.0, 404);
    assert_eq!(w.endorse("no-such-lesson", &w.b).await.0, 404);

    // Counted, never attributed.
    let mine = w.ok("/api/v1/lessons", &w.b).await;
    assert_eq!(items(&mine)[0]["endorsements"], 2);
    assert_eq!(items(&mine)[0]["endorsed"], true);
    let other = w.ok("/api/v1/lessons", &w.analyst).await;
    let seen = items(&other)
        .iter()
        .find(|l| l["id"] == lesson.as_str())
        .expect("listed");
    assert_eq!(seen["endorsements"], 2);
    assert_eq!(seen["endorsed"], false);
    let sorted = w.ok("/api/v1/lessons?sort=endorsements", &w.analyst).await;
    assert_eq!(items(&sorted)[0]["id"], lesson.as_str());
    for body in [&mine, &other, &sorted] {
        let text = body.to_string();
        for secret in [&w.op_a, &w.op_b, &op_c] {
            assert!(!text.contains(secret.as_str()), "{text}");
        }
        assert!(!text.contains("Beta") && !text.contains("Gamma"), "{text}");
    }
    // What is stored does not say who either.
    let mut conn = w.app.state.registry.pool.get().expect("connection");
    use incidex_schema::schema::lesson_endorsements as e;
    let keys: Vec<String> = e::table
        .filter(e::lesson_id.eq(&lesson))
        .select(e::endorser_key)
        .load(&mut **conn)
        .expect("endorsements");
    assert_eq!(keys.len(), 2);
    for key in &keys {
        for secret in [&w.op_a, &w.op_b, &op_c] {
            assert!(!key.contains(secret.as_str()));
        }
    }
}

async fn curated_lessons_are_anonymised_and_follow_cluster_visibility(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let green = w
        .file(&w.a, &example("green", &["Stage commands."]), true)
        .await;
    let amber_1 = w
        .file(&w.a, &cable("amber", &["Lease a second route."]), true)
        .await;
    w.file(&w.a, &cable("amber", &["Lease another route."]), true)
        .await;
    w.clustered(&w.analyst, 3).await;
    let detail_of = |report: String| {
        let w = &w;
        async move {
            let list = w.ok("/api/v1/clusters?limit=200", &w.analyst).await;
            for item in items(&list) {
                let path = format!("/api/v1/clusters/{}", item["id"].as_str().expect("id"));
                let detail = w.ok(&path, &w.analyst).await;
                if detail["members"]
                    .as_array()
                    .expect("members")
                    .iter()
                    .any(|m| m["id"] == report.as_str())
                {
                    return detail["id"].as_str().expect("id").to_owned();
                }
            }
            panic!("{report} is in no cluster: {list}");
        }
    };
    let open = detail_of(green.clone()).await;
    let closed = detail_of(amber_1.clone()).await;
    assert_ne!(open, closed);

    let (status, created) = w
        .send(
            Method::POST,
            &format!("/api/v1/clusters/{open}/lessons"),
            &w.analyst,
            Some(&json!({"text": "Acme Mobile and BetaTel both ran bulk commands on every call server at once; ask +33 1 23 45 67 89 first."})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let text = created["text"].as_str().expect("text");
    assert!(
        !text.contains("Acme") && !text.contains("BetaTel"),
        "{text}"
    );
    assert!(!text.contains("23 45 67"), "{text}");
    assert!(text.contains("[OPERATOR]"), "{text}");
    assert!(
        !created["redactions"]
            .as_array()
            .expect("redactions")
            .is_empty()
    );
    assert_eq!(created["source"], "curated");
    assert_eq!(created["report_ids"], json!([]));
    assert_eq!(created["cluster_id"], open.as_str());
    assert_eq!(created["category"], "change_management");
    let (status, hidden) = w
        .send(
            Method::POST,
            &format!("/api/v1/clusters/{closed}/lessons"),
            &w.analyst,
            Some(&json!({"text": "Check the repeater spares.", "category": "redundancy"})),
        )
        .await;
    assert_eq!(status, 201, "{hidden}");
    assert_eq!(hidden["category"], "redundancy");

    // A member sees the curated lesson of the cluster it may see, only.
    let detail = w.ok(&format!("/api/v1/clusters/{open}"), &w.b).await;
    assert!(
        detail["lessons"]
            .as_array()
            .expect("lessons")
            .iter()
            .any(|l| l["id"] == created["id"]),
        "{detail}"
    );
    let curated = w.ok("/api/v1/lessons?source=curated", &w.b).await;
    assert_eq!(curated["total"], 1, "{curated}");
    assert_eq!(items(&curated)[0]["id"], created["id"]);
    assert_eq!(
        curated["facets"]["category"],
        json!({"change_management": 1})
    );
    let all = w.ok("/api/v1/lessons?source=curated", &w.analyst).await;
    assert_eq!(all["total"], 2, "{all}");
    let hidden_id = hidden["id"].as_str().expect("id");
    assert_eq!(w.endorse(hidden_id, &w.b).await.0, 404);
    assert_eq!(
        w.endorse(created["id"].as_str().expect("id"), &w.b).await.0,
        200
    );
    let scoped = w.ok(&format!("/api/v1/lessons?cluster={open}"), &w.b).await;
    assert_eq!(
        scoped["total"], 2,
        "the member's lesson and the curated one: {scoped}"
    );

    // Who may add, and what.
    let path = format!("/api/v1/clusters/{open}/lessons");
    let body = json!({"text": "Stage commands."});
    assert_eq!(w.send(Method::POST, &path, &w.b, Some(&body)).await.0, 403);
    let r = w
        .app
        .authed(Method::POST, "/api/v1/clusters/nope/lessons", &w.analyst)
        .json(&body)
        .send()
        .await
        .expect("sent");
    problem(r, 404, "not_found").await;
    for bad in [
        json!({"text": "   "}),
        json!({"text": "x".repeat(2001)}),
        json!({"text": "ok", "category": "gossip"}),
        json!({"text": "ok", "colour": "red"}),
    ] {
        let r = w
            .app
            .authed(Method::POST, &path, &w.analyst)
            .json(&bad)
            .send()
            .await
            .expect("sent");
        problem(r, 422, "validation_failed").await;
    }
}

on_both_backends!(
    report_lessons_follow_the_report_lifecycle,
    tlp_limits_lessons_and_facets,
    filters_facets_and_full_text,
    endorsements_count_once_per_member_and_never_attributed,
    curated_lessons_are_anonymised_and_follow_cluster_visibility,
);
