//! Group commit of new reports (`api/src/filing_queue.rs`), on both
//! backends: a batch stores exactly what filings one by one store; a batch
//! that cannot commit stores nothing and every filing in it still gets the
//! answer it would have had alone; concurrent HTTP filings with repeated
//! `Idempotency-Key`s are answered as the single path answers them.

use std::collections::{HashMap, HashSet};

use incidex_api::http::error::code_for;
use incidex_api::routes::reports::status_of;
use incidex_registry::keys::owner_key;
use incidex_registry::reports::IdempotencyScope;
use incidex_registry::reports::idempotency::request_hash;
use incidex_registry::reports::queue::{
    Filing, Publication, Work, file_one, store_all, store_batch, store_one,
};
use incidex_schema::db::changes::changes_after;
use incidex_schema::db::{DbConnection, lessons, reports};
use incidex_schema::identity::Role;
use incidex_schema::report::parse_report;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

const ONE_SHOT: &str = "/api/v1/reports?publish=true";

fn example() -> Value {
    incidex_schema::report::report_input_example()
}

/// The example with a distinct title, so filings can be told apart.
fn body(n: usize) -> Value {
    let mut b = example();
    b["title"] = json!(format!("Batch filing number {n}"));
    b
}

struct World {
    app: TestApp,
    operator: String,
    client_id: String,
    token: String,
}

async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let operator = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let (client_id, secret) = app.create_client(Role::Reporter, Some(&operator));
    let token = app.token(&client_id, &secret).await;
    Some(World {
        app,
        operator,
        client_id,
        token,
    })
}

impl World {
    /// A filing as `POST path` with `body` (and `key`) makes it.
    fn filing(&self, path: &str, body: &Value, key: Option<&str>) -> Filing {
        let raw = serde_json::to_vec(body).expect("json");
        let state = &self.app.state;
        Filing {
            operator_id: self.operator.clone(),
            owner: owner_key(&state.registry.keys, &self.operator),
            content: parse_report(body.clone()).expect("valid report"),
            publish: path.ends_with("publish=true"),
            idempotency: key.map(|key| IdempotencyScope {
                scope: state.registry.keys.opaque_key("idem", &self.client_id),
                key: key.to_owned(),
                request_hash: request_hash("POST", path, &raw),
            }),
        }
    }

    fn conn(&self) -> diesel::r2d2::PooledConnection<incidex_schema::db::ConnectionManager> {
        self.app.state.registry.pool.get().expect("connection")
    }

    async fn post(&self, path: &str, body: &Value, key: &str) -> reqwest::Response {
        self.app
            .authed(Method::POST, path, &self.token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .expect("sent")
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.app.send(Method::GET, path, &self.token, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// What the database holds about one report, without ids and timestamps.
fn stored(conn: &mut DbConnection, id: &str) -> Value {
    let row = reports::find_report(conn, id)
        .expect("read")
        .expect("stored");
    let revisions: Vec<Value> = reports::revisions(conn, id)
        .expect("revisions")
        .into_iter()
        .map(|r| json!([r.revision, r.status, r.content, r.redactions]))
        .collect();
    let changes: Vec<Value> = changes_after(conn, 0, 100_000)
        .expect("changes")
        .into_iter()
        .filter(|c| c.report_id == id)
        .map(|c| json!([c.kind, c.revision]))
        .collect();
    let lessons: Vec<Value> = lessons::report_lessons(conn, id)
        .expect("lessons")
        .into_iter()
        .map(|l| {
            json!([
                l.position,
                l.text,
                l.category,
                l.report_services,
                l.report_root_cause
            ])
        })
        .collect();
    json!({
        "status": row.status,
        "tlp": row.tlp,
        "revision": row.revision,
        "content": row.content,
        "published": row.published_at.is_some(),
        "revisions": revisions,
        "changes": changes,
        "lessons": lessons,
    })
}

/// A response body without what differs between two filings of one body.
fn comparable(mut v: Value) -> Value {
    for k in ["id", "created_at", "updated_at", "published_at", "receipt"] {
        v.as_object_mut().expect("object").remove(k);
    }
    v
}

async fn a_batch_stores_what_single_filings_store(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let ctx = w.app.state.registry.reports.queue.context().clone();
    let mut conn = w.conn();
    let filings = vec![
        Work::from(w.filing("/api/v1/reports", &body(1), None)),
        Work::from(w.filing(ONE_SHOT, &body(2), None)),
        Work::from(w.filing(ONE_SHOT, &body(3), Some("batched-key"))),
    ];
    let batch = store_batch(&ctx, &mut conn, &filings).expect("the batch commits");
    assert_eq!(batch.len(), 3);
    assert!(
        batch
            .iter()
            .all(|r| status_of(r.outcome) == 201 && !r.replayed)
    );
    let ids: Vec<String> = batch
        .iter()
        .map(|r| r.body["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3);
    assert_eq!(batch[0].body["status"], "draft");
    assert!(batch[0].body.get("receipt").is_none());
    assert_eq!(batch[1].body["status"], "published");

    // The same bodies filed one by one, through the single path.
    let single_draft = file_one(&ctx, &mut conn, w.filing("/api/v1/reports", &body(1), None))
        .expect("filed alone");
    let single_published =
        file_one(&ctx, &mut conn, w.filing(ONE_SHOT, &body(2), None)).expect("filed alone");
    for (batched, single) in [(&batch[0], &single_draft), (&batch[1], &single_published)] {
        assert_eq!(
            comparable(batched.body.clone()),
            comparable(single.body.clone())
        );
        let a = stored(&mut conn, batched.body["id"].as_str().expect("id"));
        let b = stored(&mut conn, single.body["id"].as_str().expect("id"));
        assert_eq!(a, b, "stored alike");
    }
    let published = stored(&mut conn, &ids[1]);
    assert_eq!(
        published["changes"],
        json!([["created", 1], ["published", 1]])
    );
    assert_eq!(
        published["revisions"][0][1], "draft",
        "the first revision is as filed"
    );
    let expected_lessons = example()["lessons"].as_array().expect("lessons").len();
    assert_eq!(
        published["lessons"].as_array().map(Vec::len),
        Some(expected_lessons)
    );
    assert_eq!(
        stored(&mut conn, &ids[0])["changes"],
        json!([["created", 1]])
    );
    drop(conn);

    // Over HTTP: the owner reads what the batch answered, the receipt
    // verifies, the batch's idempotency record replays, and the index
    // follows the batch's change-log entries.
    assert_eq!(
        comparable(w.get(&format!("/api/v1/reports/{}", ids[2])).await),
        comparable(batch[2].body.clone())
    );
    let (status, verified) = w
        .app
        .send(
            Method::POST,
            "/api/v1/receipts/verify",
            &w.token,
            Some(&json!({"receipt": batch[2].body["receipt"]})),
        )
        .await;
    assert_eq!(
        (status, &verified["valid"]),
        (200, &json!(true)),
        "{verified}"
    );
    let retry = w.post(ONE_SHOT, &body(3), "batched-key").await;
    assert_eq!(retry.status(), 201);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(retry.json::<Value>().await.expect("json"), batch[2].body);
    w.app.state.registry.changed.notify();
    let found = w
        .app
        .search_until("/api/v1/search?q=%22batch+filing+number%22", &w.token, 3)
        .await;
    let mut hits: Vec<&str> = found["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["id"].as_str().expect("id"))
        .collect();
    hits.sort_unstable();
    let mut expected = vec![
        ids[1].as_str(),
        ids[2].as_str(),
        single_published.body["id"].as_str().expect("id"),
    ];
    expected.sort_unstable();
    assert_eq!(
        hits, expected,
        "the published filings, not the drafts: {found}"
    );
}

async fn a_failed_batch_stores_nothing_and_answers_each_filing(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let ctx = w.app.state.registry.reports.queue.context().clone();
    let mut conn = w.conn();
    let first =
        file_one(&ctx, &mut conn, w.filing(ONE_SHOT, &body(1), Some("taken"))).expect("filed");
    let count = |conn: &mut DbConnection| reports::published_ids(conn).expect("ids").len();
    assert_eq!(count(&mut conn), 1);

    // A retry of a taken key fails the batch as a whole: the new filing
    // beside it is not stored either.
    let mixed = || {
        vec![
            Work::from(w.filing(ONE_SHOT, &body(2), Some("fresh"))),
            Work::from(w.filing(ONE_SHOT, &body(1), Some("taken"))),
        ]
    };
    assert!(store_batch(&ctx, &mut conn, &mixed()).is_err());
    assert_eq!(count(&mut conn), 1, "nothing of the failed batch is stored");

    // Filed through the queue's path, each gets its own answer: the new
    // one is created, the retry replays the first response.
    let answers = store_all(&ctx, &mut conn, mixed());
    let created = answers[0].as_ref().expect("created");
    assert!(!created.replayed);
    assert_ne!(created.body["id"], first.body["id"]);
    let replayed = answers[1].as_ref().expect("replayed");
    assert!(replayed.replayed);
    assert_eq!(replayed.body, first.body);
    assert_eq!(count(&mut conn), 2);

    // One key twice in one batch with the same request: one report.
    let answers = store_all(
        &ctx,
        &mut conn,
        vec![
            Work::from(w.filing(ONE_SHOT, &body(3), Some("twice"))),
            Work::from(w.filing(ONE_SHOT, &body(3), Some("twice"))),
        ],
    );
    let (a, b) = (
        answers[0].as_ref().expect("first"),
        answers[1].as_ref().expect("second"),
    );
    assert_eq!(a.body, b.body);
    assert_eq!((a.replayed, b.replayed), (false, true));
    assert_eq!(count(&mut conn), 3);

    // One key for two different requests: the second is refused.
    let answers = store_all(
        &ctx,
        &mut conn,
        vec![
            Work::from(w.filing(ONE_SHOT, &body(4), Some("reused"))),
            Work::from(w.filing(ONE_SHOT, &body(5), Some("reused"))),
        ],
    );
    assert!(answers[0].is_ok());
    let refused = answers[1].as_ref().expect_err("refused");
    assert_eq!(code_for(refused).as_str(), "idempotency_key_reused");
    assert_eq!(count(&mut conn), 4);
}

async fn publications_are_batched_like_single_publishes(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let ctx = w.app.state.registry.reports.queue.context().clone();
    let other = w
        .app
        .create_operator("Beta Telecom", &["BetaTel"], Some("FR"));
    let other_owner = owner_key(&w.app.state.registry.keys, &other);
    let mut conn = w.conn();
    let draft = |conn: &mut DbConnection, n: usize| -> String {
        let r = file_one(&ctx, conn, w.filing("/api/v1/reports", &body(n), None)).expect("filed");
        r.body["id"].as_str().expect("id").to_owned()
    };
    let publication = |id: &str, owner: &str, key: Option<&str>| {
        Work::Publish(Publication {
            id: id.to_owned(),
            owner: owner.to_owned(),
            idempotency: key.map(|key| IdempotencyScope {
                scope: w.app.state.registry.keys.opaque_key("idem", &w.client_id),
                key: key.to_owned(),
                request_hash: request_hash("POST", &format!("/api/v1/reports/{id}/publish"), b""),
            }),
        })
    };
    let owner = owner_key(&w.app.state.registry.keys, &w.operator);
    let (d1, d2, d3) = (
        draft(&mut conn, 1),
        draft(&mut conn, 2),
        draft(&mut conn, 1),
    );

    // Two publications and a filing in one transaction.
    let answers = store_batch(
        &ctx,
        &mut conn,
        &[
            publication(&d1, &owner, Some("publish-1")),
            Work::from(w.filing(ONE_SHOT, &body(4), None)),
            publication(&d2, &owner, None),
        ],
    )
    .expect("the batch commits");
    assert_eq!(
        answers
            .iter()
            .map(|a| status_of(a.outcome).as_u16())
            .collect::<Vec<_>>(),
        [200, 201, 200]
    );
    assert_eq!(answers[0].body["report"]["id"], d1.as_str());
    assert_eq!(answers[2].body["report"]["status"], "published");
    // Stored as a single publish stores it.
    let single = store_one(&ctx, &mut conn, publication(&d3, &owner, None)).expect("published");
    assert_eq!(status_of(single.outcome), 200);
    let (a, b) = (stored(&mut conn, &d1), stored(&mut conn, &d3));
    assert_eq!(a, b);
    assert_eq!(a["changes"], json!([["created", 1], ["published", 1]]));
    let expected_lessons = example()["lessons"].as_array().expect("lessons").len();
    assert_eq!(
        a["lessons"].as_array().map(Vec::len),
        Some(expected_lessons)
    );
    drop(conn);
    // The receipt verifies and the batch's record replays over HTTP.
    let (status, verified) = w
        .app
        .send(
            Method::POST,
            "/api/v1/receipts/verify",
            &w.token,
            Some(&json!({"receipt": answers[0].body["receipt"]})),
        )
        .await;
    assert_eq!(
        (status, &verified["valid"]),
        (200, &json!(true)),
        "{verified}"
    );
    let retry = w
        .app
        .authed(
            Method::POST,
            &format!("/api/v1/reports/{d1}/publish"),
            &w.token,
        )
        .header("Idempotency-Key", "publish-1")
        .send()
        .await
        .expect("sent");
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.expect("json"), answers[0].body);

    // Another operator's draft, or one draft twice, fails the batch as a
    // whole; one by one, each gets the single path's answer.
    let mut conn = w.conn();
    let (d5, d6) = (draft(&mut conn, 5), draft(&mut conn, 6));
    let intruder = || {
        vec![
            publication(&d5, &owner, None),
            publication(&d6, &other_owner, None),
        ]
    };
    assert!(store_batch(&ctx, &mut conn, &intruder()).is_err());
    assert_eq!(stored(&mut conn, &d5)["status"], "draft", "rolled back");
    let answers = store_all(&ctx, &mut conn, intruder());
    assert_eq!(
        status_of(answers[0].as_ref().expect("own draft").outcome),
        200
    );
    assert_eq!(
        code_for(answers[1].as_ref().expect_err("not its draft")).as_str(),
        "not_found"
    );
    assert_eq!(stored(&mut conn, &d6)["status"], "draft");
    let answers = store_all(
        &ctx,
        &mut conn,
        vec![
            publication(&d6, &owner, None),
            publication(&d6, &owner, None),
        ],
    );
    assert_eq!(
        status_of(answers[0].as_ref().expect("published").outcome),
        200
    );
    assert_eq!(
        code_for(answers[1].as_ref().expect_err("already published")).as_str(),
        "conflict"
    );
    assert_eq!(
        stored(&mut conn, &d6)["changes"],
        json!([["created", 1], ["published", 1]]),
        "published once"
    );
}

async fn concurrent_filings_with_repeated_keys(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    // 48 one-request filings at once: 32 keys, 16 of them sent twice with
    // the same body, plus 8 drafts without a key.
    let w = &w;
    let keyed = (0..48).map(|i| async move {
        let n = i % 32;
        let r = w.post(ONE_SHOT, &body(n), &format!("key-{n}")).await;
        let status = r.status().as_u16();
        let replayed = r.headers().contains_key("idempotent-replayed");
        let v: Value = r.json().await.expect("json");
        assert_eq!(status, 201, "{v}");
        (n, replayed, v)
    });
    let drafts = (0..8).map(|i| async move {
        let (status, v) = w
            .app
            .send(
                Method::POST,
                "/api/v1/reports",
                &w.token,
                Some(&body(100 + i)),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v
    });
    let (keyed, drafts) = futures_util::future::join(
        futures_util::future::join_all(keyed),
        futures_util::future::join_all(drafts),
    )
    .await;
    let mut by_key: HashMap<usize, Vec<(bool, Value)>> = HashMap::new();
    for (n, replayed, v) in keyed {
        by_key.entry(n).or_default().push((replayed, v));
    }
    assert_eq!(by_key.len(), 32);
    for (n, answers) in &by_key {
        let ids: HashSet<&Value> = answers.iter().map(|(_, v)| &v["id"]).collect();
        assert_eq!(ids.len(), 1, "key-{n}: one report for every answer");
        let fresh = answers.iter().filter(|(replayed, _)| !replayed).count();
        assert_eq!(fresh, 1, "key-{n}: created once, replayed otherwise");
        assert!(answers.iter().all(|(_, v)| v == &answers[0].1));
    }
    assert!(drafts.iter().all(|d| d["status"] == "draft"));
    let mine = w.get("/api/v1/reports?mine=true&status=published").await;
    assert_eq!(mine["total"], 32, "{mine}");
    let mine = w.get("/api/v1/reports?mine=true&status=draft").await;
    assert_eq!(mine["total"], 8, "{mine}");
    // A key reused for another body is still refused afterwards.
    problem(
        w.post(ONE_SHOT, &body(7), "key-3").await,
        422,
        "idempotency_key_reused",
    )
    .await;
}

on_both_backends!(
    a_batch_stores_what_single_filings_store,
    publications_are_batched_like_single_publishes,
    a_failed_batch_stores_nothing_and_answers_each_filing,
    concurrent_filings_with_repeated_keys,
);
