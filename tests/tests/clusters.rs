//! Clusters through the HTTP API, on both backends: incremental assignment
//! after publication, the full re-clustering, and what each reader may see
//! of a cluster (sizes, labels, members and lessons from visible members
//! only; drafts and withdrawn reports never).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use incidex_registry::clusters::{ReclusterMode, recluster};
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

struct World {
    app: TestApp,
    op_a: String,
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
    Some(World {
        app,
        op_a,
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

    async fn file(&self, token: &str, body: &Value, publish: bool) -> String {
        self.app.file(token, body, publish).await
    }

    /// Polls the cluster list until `done` holds (clustering follows the
    /// index, asynchronously); fails with the last list after a deadline.
    async fn clusters_until(&self, token: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.get("/api/v1/clusters?limit=200", token).await;
            assert_eq!(status, 200, "{body}");
            if done(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "clusters never got there: {body}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every visible cluster in detail.
    async fn details(&self, token: &str) -> Vec<Value> {
        let (_, list) = self.get("/api/v1/clusters?limit=200", token).await;
        let mut out = Vec::new();
        for item in list["items"].as_array().expect("items") {
            let path = format!("/api/v1/clusters/{}", item["id"].as_str().expect("id"));
            let (status, detail) = self.get(&path, token).await;
            assert_eq!(status, 200, "{detail}");
            out.push(detail);
        }
        out
    }

    /// The visible cluster holding `report`, in detail.
    async fn cluster_with(&self, token: &str, report: &str) -> Option<Value> {
        self.details(token)
            .await
            .into_iter()
            .find(|d| member_ids(d).contains(report))
    }
}

/// Members clustered, by the list's sizes.
fn clustered(list: &Value) -> u64 {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["size"].as_u64().expect("size"))
        .sum()
}

fn member_ids(detail: &Value) -> BTreeSet<String> {
    detail["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_owned())
        .collect()
}

/// The documented example (emergency calls, call servers), with a marker.
fn near(marker: &str, tlp: &str) -> Value {
    let mut body = incidex_schema::report::report_input_example();
    body["tlp"] = json!(tlp);
    body["summary"] = json!(format!(
        "{} Marker {marker}.",
        body["summary"].as_str().expect("summary")
    ));
    body
}

/// A report with nothing in common with the example.
fn unrelated(marker: &str, tlp: &str) -> Value {
    json!({
        "title": format!("Submarine cable cut isolated the island for two days {marker}"),
        "summary": "An anchor dragged by a cargo ship severed the only submarine cable linking the island. Mobile data and broadband traffic stopped until a repair vessel spliced the fibre and the cable was tested.",
        "tlp": tlp,
        "context": {"started_on": "2023-03-10", "region": "europe", "scope": "regional"},
        "affected": {"services": ["data", "fixed_broadband"], "network_domain": "transport", "assets": ["submarine_cable"]},
        "cause": {"root_cause_category": "third_party_failure", "trigger": "fibre_cut"},
        "lessons": ["Lease capacity on a second, diverse submarine route before relying on a single cable."]
    })
}

/// A report unlike anything in the development corpus (so its cluster is
/// unambiguous), with a marker.
fn headend(marker: &str) -> Value {
    json!({
        "title": format!("Chiller failure overheated the television headend {marker}"),
        "summary": "The chiller plant of the television headend overheated overnight; the halon suppression discharged and the playout servers shut down. Viewers lost the linear channels until the chiller was repaired and the playout servers were restarted.",
        "tlp": "green",
        "context": {"started_on": "2024-07-18", "region": "europe", "scope": "national"},
        "affected": {"services": ["tv"], "network_domain": "facilities", "assets": ["cooling", "building"]},
        "cause": {"root_cause_category": "system_failure", "trigger": "fire"},
        "lessons": ["Monitor chiller temperatures in the headend with alarms."]
    })
}

fn today() -> String {
    chrono::Utc::now().date_naive().to_string()
}

async fn near_identical_reports_share_a_cluster_and_unrelated_do_not(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let first = w.file(&w.a, &near("osprey", "green"), true).await;
    let second = w.file(&w.a, &near("heron", "green"), true).await;
    let other = w.file(&w.a, &unrelated("egret", "green"), true).await;
    let draft = w.file(&w.a, &near("bittern", "green"), false).await;

    let list = w.clusters_until(&w.b, |l| clustered(l) == 3).await;
    assert_eq!(list["total"], 2, "{list}");
    let item = &list["items"][0];
    for key in [
        "id",
        "label",
        "size",
        "top_terms",
        "first_seen",
        "last_seen",
    ] {
        assert!(!item[key].is_null(), "{key} missing: {item}");
    }
    assert!(item["growth"]["last_7_days"].is_u64(), "{item}");
    assert!(item["growth"]["previous_7_days"].is_u64(), "{item}");

    let shared = w.cluster_with(&w.b, &first).await.expect("clustered");
    assert_eq!(
        member_ids(&shared),
        BTreeSet::from([first.clone(), second.clone()]),
        "{shared}"
    );
    assert_eq!(shared["size"], 2);
    assert!(!shared["label"].as_str().expect("label").is_empty());
    assert_ne!(shared["label"], "unlabelled", "{shared}");
    // Published today: first and last seen are today, and both are growth.
    assert_eq!(shared["first_seen"], today().as_str());
    assert_eq!(shared["last_seen"], today().as_str());
    assert_eq!(
        shared["growth"],
        json!({"last_7_days": 2, "previous_7_days": 0})
    );
    // Members carry shared-view fields only.
    let member = &shared["members"][0];
    assert!(member["title"].is_string() && member["published_on"] == today().as_str());
    assert_eq!(member["trigger"], "routine_commands");
    // Both members' lessons (three each), linked to their reports.
    let lessons = shared["lessons"].as_array().expect("lessons");
    assert_eq!(lessons.len(), 6, "{shared}");
    for lesson in lessons {
        let from = lesson["report_ids"].as_array().expect("report_ids");
        assert_eq!(from.len(), 1);
        assert!(from[0] == first.as_str() || from[0] == second.as_str());
        assert_eq!(lesson["endorsements"], 0);
        assert!(lesson["id"].is_string() && lesson["text"].is_string());
        assert_eq!(lesson["cluster_id"], shared["id"]);
    }

    let alone = w.cluster_with(&w.b, &other).await.expect("clustered");
    assert_ne!(alone["id"], shared["id"]);
    assert_eq!(member_ids(&alone), BTreeSet::from([other.clone()]));

    // The draft is in no cluster; no view names the filer.
    for detail in w.details(&w.a).await {
        assert!(!member_ids(&detail).contains(&draft));
        let text = detail.to_string();
        assert!(!text.contains(&w.op_a) && !text.contains("Acme"), "{text}");
    }
    let (_, list) = w.get("/api/v1/clusters", &w.a).await;
    assert!(!list.to_string().contains(&w.op_a));

    // Unknown cluster, bad parameters, admins.
    let (status, _) = w.get("/api/v1/clusters/nope", &w.b).await;
    assert_eq!(status, 404);
    let r = w
        .app
        .authed(Method::GET, "/api/v1/clusters?limit=0", &w.b)
        .send()
        .await
        .expect("sent");
    problem(r, 400, "invalid_parameter").await;
    let r = w
        .app
        .authed(Method::GET, "/api/v1/clusters?sort=sideways", &w.b)
        .send()
        .await
        .expect("sent");
    problem(r, 400, "invalid_parameter").await;
    let admin = w.app.token_for(Role::Admin, None).await;
    let (status, _) = w.get("/api/v1/clusters", &admin).await;
    assert_eq!(status, 403);
}

async fn readers_see_only_members_they_may_read(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    // A rare word the two amber reports share: it may label the cluster for
    // those who may read them, never for anyone else.
    let amberish = |marker: &str| {
        let mut body = near(marker, "amber");
        body["title"] = json!(format!(
            "{} zanzibarite",
            body["title"].as_str().expect("title")
        ));
        body["summary"] = json!(format!(
            "{} The zanzibarite counters and zanzibarite probes showed it first; zanzibarite again.",
            body["summary"].as_str().expect("summary")
        ));
        body["lessons"] = json!(["Calibrate the zanzibarite probes every quarter."]);
        body
    };
    let green = w.file(&w.a, &near("gannet", "green"), true).await;
    let amber1 = w.file(&w.a, &amberish("auk"), true).await;
    let amber2 = w.file(&w.a, &amberish("puffin"), true).await;
    let red = w.file(&w.a, &near("raven", "red"), true).await;
    let draft = w.file(&w.a, &near("dunlin", "green"), false).await;
    let amber_only_1 = w.file(&w.a, &unrelated("sole", "amber"), true).await;
    let amber_only_2 = w.file(&w.a, &unrelated("plaice", "amber"), true).await;

    // The owner sees all six published reports of its own.
    w.clusters_until(&w.a, |l| clustered(l) == 6).await;

    // Another member: the green report only, in a cluster of one.
    let (_, list) = w.get("/api/v1/clusters", &w.b).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["size"], 1, "{list}");
    let seen = w.cluster_with(&w.b, &green).await.expect("visible");
    assert_eq!(member_ids(&seen), BTreeSet::from([green.clone()]));
    assert_eq!(seen["growth"]["last_7_days"], 1);
    let text = seen.to_string();
    assert!(
        !text.contains("zanzibarite"),
        "label or lessons leak: {text}"
    );
    assert!(
        !text.contains(&amber1) && !text.contains(&amber2) && !text.contains(&red),
        "{text}"
    );
    for lesson in seen["lessons"].as_array().expect("lessons") {
        assert_eq!(lesson["report_ids"], json!([green]));
    }

    // An analyst: green and amber, never red, never the draft.
    let analyst = w.cluster_with(&w.analyst, &green).await.expect("visible");
    assert_eq!(
        member_ids(&analyst),
        BTreeSet::from([green.clone(), amber1.clone(), amber2.clone()]),
        "{analyst}"
    );
    assert!(
        analyst["lessons"]
            .as_array()
            .expect("lessons")
            .iter()
            .any(|l| l["text"]
                .as_str()
                .is_some_and(|t| t.contains("zanzibarite"))),
        "analysts see the amber members' lessons: {analyst}"
    );
    assert_eq!(analyst["size"], 3);
    let amber_cluster = w
        .cluster_with(&w.analyst, &amber_only_1)
        .await
        .expect("visible to analysts");
    assert!(member_ids(&amber_cluster).contains(&amber_only_2));
    let (_, list) = w.get("/api/v1/clusters", &w.analyst).await;
    assert_eq!(list["total"], 2, "{list}");

    // The amber-only cluster does not exist for the other member.
    let path = format!(
        "/api/v1/clusters/{}",
        amber_cluster["id"].as_str().expect("id")
    );
    let (status, _) = w.get(&path, &w.b).await;
    assert_eq!(status, 404);

    // The owner sees its red report beside the others.
    let own = w.cluster_with(&w.a, &green).await.expect("visible");
    assert!(member_ids(&own).contains(&red), "{own}");
    assert_eq!(own["size"], 4);

    // Drafts are in nobody's cluster.
    for token in [&w.a, &w.b, &w.analyst] {
        for detail in w.details(token).await {
            assert!(!member_ids(&detail).contains(&draft));
        }
    }

    // Withdrawn: gone from every view at once.
    let (status, _) = w
        .send(
            Method::POST,
            &format!("/api/v1/reports/{green}/withdraw"),
            &w.a,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, list) = w.get("/api/v1/clusters", &w.b).await;
    assert_eq!(list["total"], 0, "{list}");
    let (status, _) = w
        .get(
            &format!("/api/v1/clusters/{}", seen["id"].as_str().expect("id")),
            &w.b,
        )
        .await;
    assert_eq!(status, 404);
    let analyst = w.cluster_with(&w.analyst, &amber1).await.expect("visible");
    assert_eq!(
        member_ids(&analyst),
        BTreeSet::from([amber1.clone(), amber2.clone()])
    );
    assert!(
        analyst["lessons"]
            .as_array()
            .expect("lessons")
            .iter()
            .all(|l| l["report_ids"] != json!([green])),
        "{analyst}"
    );
}

fn corpus() -> Vec<Value> {
    incidex_schema::corpus::parse_jsonl(include_str!("../../schema/data/telecom/incidents.jsonl"))
        .expect("corpus")
        .iter()
        .map(|r| serde_json::to_value(r.to_report_input()).expect("json"))
        .collect()
}

/// report id -> cluster id, as the analyst sees it.
async fn assignments(w: &World) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for detail in w.details(&w.analyst).await {
        for id in member_ids(&detail) {
            let previous = out.insert(id, detail["id"].as_str().expect("id").to_owned());
            assert!(previous.is_none(), "a report in two clusters");
        }
    }
    out
}

async fn run_recluster(w: &World) -> incidex_registry::clusters::ReclusterSummary {
    let pool = w.app.state.registry.pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().expect("connection");
        recluster(&mut conn, ReclusterMode::Now)
    })
    .await
    .expect("join")
    .expect("recluster")
    .expect("ran")
}

async fn recluster_replaces_assignments_and_keeps_ids(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let records = corpus();
    for r in records.iter().take(12) {
        w.file(&w.a, r, true).await;
    }
    let first = w.file(&w.a, &headend("curlew"), true).await;
    let second = w.file(&w.a, &headend("godwit"), true).await;
    let total = 14;
    w.clusters_until(&w.analyst, |l| clustered(l) == total)
        .await;
    let before = assignments(&w).await;
    assert_eq!(before.len() as u64, total);

    // An analyst's lesson on the pair's cluster.
    let pair = before[&first].clone();
    let (status, curated) = w
        .send(
            Method::POST,
            &format!("/api/v1/clusters/{pair}/lessons"),
            &w.analyst,
            Some(&json!({"text": "Keep a second chiller on standby for the headend."})),
        )
        .await;
    assert_eq!(status, 201, "{curated}");

    let summary = run_recluster(&w).await;
    assert_eq!(summary.reports as u64, total);
    assert!(summary.clusters >= 2, "{summary:?}");
    let after = assignments(&w).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "every published report is in exactly one cluster"
    );
    assert_eq!(after[&first], after[&second], "the pair stays together");
    // The pair's cluster kept its id, and the curated lesson stayed with it.
    assert_eq!(after[&first], pair);
    let (_, curated_now) = w.get("/api/v1/lessons?source=curated", &w.analyst).await;
    assert_eq!(curated_now["total"], 1, "{curated_now}");
    assert_eq!(curated_now["items"][0]["cluster_id"], pair.as_str());
    // Labels and sizes are right after the swap.
    let detail = w.cluster_with(&w.b, &first).await.expect("visible");
    assert!(detail["size"].as_u64() >= Some(2));
    assert!(!detail["label"].as_str().expect("label").is_empty());

    // Running it again changes nothing: same clusters, same ids.
    let again = run_recluster(&w).await;
    assert_eq!(again.reports, summary.reports);
    assert!(again.kept_ids >= 1, "{again:?}");
    let after_again = assignments(&w).await;
    assert_eq!(after_again[&first], pair);

    // New publications after a re-clustering still join incrementally.
    let third = w.file(&w.a, &headend("whimbrel"), true).await;
    w.clusters_until(&w.analyst, |l| clustered(l) == total + 1)
        .await;
    let joined = w.cluster_with(&w.analyst, &third).await.expect("clustered");
    assert_eq!(joined["id"], pair.as_str(), "{joined}");
}

/// Nothing changed since the clusters' stamp: every change is in the
/// stored views.
fn views_settled(w: &World) -> bool {
    let mut conn = w.app.state.registry.pool.get().expect("connection");
    let stamp = incidex_schema::db::clusters::stamp(&mut conn).expect("stamp");
    incidex_schema::db::changes::pending_reports(&mut conn, stamp)
        .expect("pending")
        .is_empty()
}

/// Moves the clusters' stamp back to the start of the change log, so every
/// cluster is read live from its memberships; returns the stamp after.
fn forget_stamp(w: &World) -> i64 {
    use diesel::prelude::*;
    use incidex_schema::schema::cluster_stamp;
    let mut pooled = w.app.state.registry.pool.get().expect("connection");
    let conn: &mut incidex_schema::db::DbConnection = &mut pooled;
    diesel::update(cluster_stamp::table)
        .set(cluster_stamp::position.eq(0_i64))
        .execute(conn)
        .expect("reset stamp");
    incidex_schema::db::clusters::stamp(conn).expect("stamp")
}

async fn stored_views_answer_as_the_live_memberships(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let op_c = w.app.create_operator("Gamma Networks", &[], Some("IT"));
    let c = w.app.token_for(Role::Reporter, Some(&op_c)).await;
    let mut published = Vec::new();
    for (i, tlp) in ["clear", "green", "amber", "red", "green", "amber"]
        .iter()
        .enumerate()
    {
        published.push(w.file(&w.a, &near(&format!("near{i}"), tlp), true).await);
        published.push(
            w.file(&w.b, &unrelated(&format!("cut{i}"), tlp), true)
                .await,
        );
        published.push(w.file(&c, &headend(&format!("heat{i}")), true).await);
    }
    w.file(&w.b, &near("draft", "green"), false).await;
    // One withdrawn after it was clustered, so the views have shrunk.
    w.clusters_until(&w.a, |l| clustered(l) >= 6).await;
    let (status, _) = w
        .send(
            Method::POST,
            &format!("/api/v1/reports/{}/withdraw", published[4]),
            &w.b,
            None,
        )
        .await;
    assert_eq!(status, 200);

    let deadline = Instant::now() + Duration::from_secs(30);
    while !views_settled(&w) {
        assert!(
            Instant::now() < deadline,
            "the clustering pass never caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let readers = [("a", &w.a), ("b", &w.b), ("c", &c), ("analyst", &w.analyst)];
    let pages = [
        "/api/v1/clusters?limit=200",
        "/api/v1/clusters?limit=200&sort=size",
        "/api/v1/clusters?limit=200&sort=growth",
        "/api/v1/clusters?limit=1&offset=1",
    ];
    let mut stored = Vec::new();
    for (_, token) in readers {
        for page in pages {
            let (status, body) = w.get(page, token).await;
            assert_eq!(status, 200, "{body}");
            stored.push(body);
        }
    }
    // The analyst sees clear, green and amber members across three topics.
    assert!(clustered(&stored[12]) >= 9, "{}", stored[12]);

    assert_eq!(forget_stamp(&w), 0);
    let mut live = Vec::new();
    for (_, token) in readers {
        for page in pages {
            let (_, body) = w.get(page, token).await;
            live.push(body);
        }
    }
    // Nothing moved the stamp meanwhile, so the second round was live.
    assert_eq!(forget_stamp(&w), 0);
    for (i, (stored, live)) in stored.iter().zip(&live).enumerate() {
        let (reader, _) = readers[i / pages.len()];
        assert_eq!(
            stored,
            live,
            "{reader} {}: stored views differ from the memberships",
            pages[i % pages.len()]
        );
    }
}

on_both_backends!(
    near_identical_reports_share_a_cluster_and_unrelated_do_not,
    readers_see_only_members_they_may_read,
    recluster_replaces_assignments_and_keeps_ids,
    stored_views_answer_as_the_live_memberships,
);
