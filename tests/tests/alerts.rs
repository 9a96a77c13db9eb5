//! Saved searches and webhook alerts, end to end on both backends: the
//! registry POSTs to a receiver started inside each test (on loopback,
//! which the tests allow with `alerts.allow_private_targets`), which
//! records every request and can be told to fail.
//!
//! "Not sent" is never concluded from waiting: the matcher consumes the
//! change log in order and records a batch with its cursor in one
//! transaction, so once the notification of a report published *later*
//! (a sentinel) is in a delivery log, every earlier report has been
//! matched, and a report missing from the log then can never be sent.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use incidex_api::Settings;
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

const DEADLINE: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------------------
// A webhook receiver
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Received {
    at: Instant,
    timestamp: String,
    signature: String,
    event: String,
    delivery: String,
    body: Vec<u8>,
    json: Value,
    /// What the receiver answered.
    status: u16,
}

#[derive(Debug, Default)]
struct Behaviour {
    received: Vec<Received>,
    /// Answer 500 to this many requests first.
    fail_next: usize,
    /// Answer 503 to everything.
    failing: bool,
}

struct Receiver {
    url: String,
    state: Arc<Mutex<Behaviour>>,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

async fn hook(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<Behaviour>>>,
) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut s = state.lock().expect("receiver state");
    let status = if s.fail_next > 0 {
        s.fail_next -= 1;
        500
    } else if s.failing {
        503
    } else {
        200
    };
    s.received.push(Received {
        at: Instant::now(),
        timestamp: header("x-incidex-timestamp"),
        signature: header("x-incidex-signature"),
        event: header("x-incidex-event"),
        delivery: header("x-incidex-delivery"),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).finish()
}

async fn receiver() -> Receiver {
    let state = Arc::new(Mutex::new(Behaviour::default()));
    let data = web::Data::new(state.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/hook", web::post().to(hook))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("receiver binds");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Receiver {
        url: format!("http://127.0.0.1:{port}/hook"),
        state,
        handle,
    }
}

impl Receiver {
    fn received(&self) -> Vec<Received> {
        self.state.lock().expect("state").received.clone()
    }

    fn fail_next(&self, n: usize) {
        self.state.lock().expect("state").fail_next = n;
    }

    fn set_failing(&self, failing: bool) {
        self.state.lock().expect("state").failing = failing;
    }

    /// Requests about one report.
    fn about(&self, report_id: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.json["report_id"] == report_id)
            .collect()
    }

    /// Polls until `done` holds for the requests received, or the
    /// deadline passes; returns them for the caller to check.
    async fn until(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let got = self.received();
            if done(&got) || Instant::now() > deadline {
                return got;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Checks the signature as a receiver must: HMAC-SHA256 keyed with the
/// secret over "{timestamp}.{body}", and a timestamp within five minutes.
fn assert_signed(secret: &str, r: &Received) {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(r.timestamp.as_bytes());
    mac.update(b".");
    mac.update(&r.body);
    let expected = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.signature, expected, "signature of {}", r.json);
    let ts: i64 = r.timestamp.parse().expect("numeric timestamp");
    assert!(
        (chrono::Utc::now().timestamp() - ts).abs() < 300,
        "timestamp {ts} outside the replay window"
    );
}

// ---------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------

/// Quick retries and polling; loopback receivers allowed.
fn fast(s: &mut Settings) {
    s.alerts.allow_private_targets = true;
    s.alerts.retry_base_ms = 20;
    s.alerts.retry_max_ms = 100;
    s.alerts.poll_interval_ms = 50;
    s.alerts.request_timeout_ms = 5_000;
}

struct World {
    app: TestApp,
    op_a: String,
    /// A reporter of operator A, which files the reports.
    filer: String,
    /// A reporter of operator B: a member subscriber.
    member: String,
    analyst: String,
}

async fn world_with(backend: Backend, adjust: impl FnOnce(&mut Settings)) -> Option<World> {
    let app = TestApp::spawn_with(backend, |s| {
        fast(s);
        adjust(s);
    })
    .await?;
    let op_a = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let op_b = app.create_operator("Beta Telecom", &[], Some("DE"));
    let filer = app.token_for(Role::Reporter, Some(&op_a)).await;
    let member = app.token_for(Role::Reporter, Some(&op_b)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    Some(World {
        app,
        op_a,
        filer,
        member,
        analyst,
    })
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

impl World {
    /// Saves a search; returns its id and signing secret.
    async fn save(&self, token: &str, search: &str, url: &str) -> (String, String) {
        let (status, body) = self
            .app
            .send(
                Method::POST,
                "/api/v1/saved-searches",
                token,
                Some(&json!({"name": "watch", "search": search, "webhook_url": url})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().expect("id").to_owned(),
            body["secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// Amends a published report with a JSON merge patch.
    async fn amend(&self, id: String, change: Value) {
        let r = self
            .app
            .authed(Method::PATCH, &format!("/api/v1/reports/{id}"), &self.filer)
            .header("content-type", "application/merge-patch+json")
            .body(change.to_string())
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 200);
    }

    async fn publish(&self, body: &Value) -> String {
        self.app.file(&self.filer, body, true).await
    }

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.app.send(Method::GET, path, token, None).await
    }

    async fn deliveries(&self, token: &str, saved: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/api/v1/saved-searches/{saved}/deliveries"), token)
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"].as_array().expect("items").clone()
    }

    /// Polls a delivery log until `done` holds or the deadline passes.
    async fn deliveries_until(
        &self,
        token: &str,
        saved: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let log = self.deliveries(token, saved).await;
            if done(&log) || Instant::now() > deadline {
                return log;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls a saved search until `done` holds or the deadline passes.
    async fn saved_until(&self, token: &str, saved: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let (status, body) = self
                .get(&format!("/api/v1/saved-searches/{saved}"), token)
                .await;
            assert_eq!(status, 200, "{body}");
            if done(&body) || Instant::now() > deadline {
                return body;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn report_ids(log: &[Value]) -> BTreeSet<String> {
    log.iter()
        .map(|d| d["report_id"].as_str().expect("report_id").to_owned())
        .collect()
}

fn has_report(log: &[Value], id: &str) -> bool {
    log.iter().any(|d| d["report_id"] == id)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

/// Runs the matcher until it has consumed the change log (the alert jobs
/// are off in these tests, so nothing else moves the cursor).
async fn drain_matcher(app: &TestApp) -> usize {
    let state = app.state.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let r = &state.registry;
        let mut matcher = incidex_registry::alerts::matcher::Matcher::new(
            r.pool.clone(),
            r.members.clone(),
            r.settings.k_anonymity,
            r.settings.public_url.clone(),
        );
        let mut queued = 0;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let step = matcher.step().expect("matcher step");
            queued += step.queued;
            if step.consumed == 0 {
                // Done once every change is behind the cursor; a change can
                // only be taken once no running transaction (of any test on
                // this PostgreSQL server) could still add one before it.
                let mut conn = r.pool.get().expect("connection");
                let cursor = incidex_schema::db::alerts::cursor(
                    &mut conn,
                    incidex_registry::alerts::matcher::CURSOR,
                )
                .expect("cursor")
                .unwrap_or(0);
                let (pending, _) =
                    incidex_schema::db::changes::backlog(&mut conn, cursor).expect("backlog");
                if pending == 0 || std::time::Instant::now() > deadline {
                    return queued;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
    })
    .await
    .expect("matcher task")
}

async fn matches_what_search_shows_each_owner(backend: Backend) {
    let Some(w) = world_with(backend, |s| s.alerts.enabled = false).await else {
        return;
    };
    // The first step starts the cursor at the end of the log: a saved
    // search hears of what is published from now on.
    let before = w.publish(&example("green", "kingfisher")).await;
    assert_eq!(drain_matcher(&w.app).await, 0);
    let url = "https://hooks.example.org/incidex";
    let (member_saved, _) = w.save(&w.member, "q=kingfisher", url).await;
    let (analyst_saved, _) = w.save(&w.analyst, "q=kingfisher", url).await;
    let (filtered_saved, _) = w
        .save(
            &w.analyst,
            "q=kingfisher&tlp=amber&trigger=routine_commands",
            url,
        )
        .await;
    let green = w.publish(&example("green", "kingfisher")).await;
    let amber = w.publish(&example("amber", "kingfisher")).await;
    let red = w.publish(&example("red", "kingfisher")).await;
    let _draft = w
        .app
        .file(&w.filer, &example("green", "kingfisher"), false)
        .await;
    let _other = w.publish(&example("green", "nightjar")).await;
    let plural = w.publish(&example("clear", "Kingfishers")).await;
    assert_eq!(drain_matcher(&w.app).await, 2 + 3 + 1);

    // Exactly what search shows each of them (minus what came before).
    for (token, saved, total) in [
        (&w.member, &member_saved, 3),
        (&w.analyst, &analyst_saved, 4),
    ] {
        let found = w
            .app
            .search_until("/api/v1/search?q=kingfisher&limit=50", token, total)
            .await;
        let mut searched: BTreeSet<String> = found["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["id"].as_str().expect("id").to_owned())
            .collect();
        assert!(searched.remove(&before), "{found}");
        let log = w.deliveries(token, saved).await;
        assert_eq!(report_ids(&log), searched);
        assert!(
            log.iter()
                .all(|d| d["status"] == "pending" && d["attempts"] == 0)
        );
    }
    let member_log = w.deliveries(&w.member, &member_saved).await;
    assert_eq!(
        report_ids(&member_log),
        BTreeSet::from([green.clone(), plural.clone()])
    );
    let analyst_log = w.deliveries(&w.analyst, &analyst_saved).await;
    assert_eq!(
        report_ids(&analyst_log),
        BTreeSet::from([green.clone(), amber.clone(), plural.clone()])
    );
    assert!(!has_report(&analyst_log, &red));
    let filtered_log = w.deliveries(&w.analyst, &filtered_saved).await;
    assert_eq!(report_ids(&filtered_log), BTreeSet::from([amber.clone()]));

    // Why: the word as the report writes it, and the filter values.
    let mut conn = w.app.state.registry.pool.get().expect("connection");
    let payload =
        |saved: &str, report: &str, conn: &mut incidex_schema::db::DbConnection| -> Value {
            let (rows, _) =
                incidex_schema::db::alerts::list_deliveries(conn, saved, None, 50, 0).expect("log");
            let row = rows
                .into_iter()
                .find(|d| d.report_id == report)
                .expect("delivery");
            serde_json::from_str(&row.payload).expect("payload")
        };
    let p = payload(&member_saved, &plural, &mut conn);
    assert_eq!(
        p["matched"],
        json!([{"field": "summary", "value": "Kingfishers"}]),
        "{p}"
    );
    let p = payload(&filtered_saved, &amber, &mut conn);
    let matched = p["matched"].as_array().expect("matched");
    for reason in [
        json!({"field": "summary", "value": "kingfisher"}),
        json!({"field": "tlp", "value": "amber"}),
        json!({"field": "trigger", "value": "routine_commands"}),
    ] {
        assert!(matched.contains(&reason), "{reason} in {p}");
    }
    drop(conn);

    // Consumed once: the same changes again record nothing new.
    {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        incidex_schema::db::alerts::set_cursor(
            &mut conn,
            "matcher",
            0,
            incidex_schema::db::reports::now(),
        )
        .expect("rewind");
    }
    assert_eq!(drain_matcher(&w.app).await, 0, "a replay queues nothing");
}

async fn each_change_is_matched_as_the_revision_it_made(backend: Backend) {
    let Some(w) = world_with(backend, |s| s.alerts.enabled = false).await else {
        return;
    };
    assert_eq!(drain_matcher(&w.app).await, 0);
    let (saved, _) = w
        .save(&w.member, "q=heron", "https://hooks.example.org/incidex")
        .await;
    // All of it before the matcher runs: one batch.
    let matched = w.publish(&example("green", "heron")).await;
    w.amend(matched.clone(), json!({"notes": "more detail"}))
        .await;
    let became = w.publish(&example("green", "egret")).await;
    w.amend(became.clone(), json!({"summary": "Now about a heron."}))
        .await;
    w.amend(became.clone(), json!({"notes": "still a heron"}))
        .await;
    let lowered = w.publish(&example("amber", "heron")).await;
    w.amend(lowered.clone(), json!({"tlp": "green"})).await;
    let never = w.publish(&example("green", "egret")).await;
    w.amend(
        never.clone(),
        json!({"tlp": "amber", "summary": "A heron."}),
    )
    .await;
    assert_eq!(drain_matcher(&w.app).await, 3);

    let log = w.deliveries(&w.member, &saved).await;
    let entry = |id: &str| -> (String, i64) {
        let d = log
            .iter()
            .find(|d| d["report_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {log:?}"));
        (
            d["event"].as_str().expect("event").to_owned(),
            d["revision"].as_i64().expect("revision"),
        )
    };
    assert_eq!(log.len(), 3, "{log:?}");
    assert_eq!(
        entry(&matched),
        ("report.published".into(), 1),
        "once, as published"
    );
    assert_eq!(
        entry(&became),
        ("report.amended".into(), 2),
        "when it began to match"
    );
    assert_eq!(
        entry(&lowered),
        ("report.amended".into(), 2),
        "when it became readable"
    );
    assert!(!has_report(&log, &never), "amber: never for a member");
}

async fn delivered_with_a_valid_signature(backend: Backend) {
    let Some(w) = world_with(backend, |_| {}).await else {
        return;
    };
    let rx = receiver().await;
    let (saved, secret) = w.save(&w.member, "q=zebrafinch", &rx.url).await;
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    let report = w.publish(&example("green", "zebrafinch")).await;

    let got = rx.until(|r| !r.is_empty()).await;
    assert_eq!(got.len(), 1, "one notification");
    let r = &got[0];
    assert_signed(&secret, r);
    assert_eq!(r.event, "report.published");
    assert_eq!(r.status, 200);
    let body = &r.json;
    assert_eq!(body["event"], "report.published");
    assert_eq!(body["report_id"], report.as_str());
    assert_eq!(body["revision"], 1);
    assert_eq!(body["saved_search_id"], saved.as_str());
    assert_eq!(body["delivery_id"], r.delivery.as_str());
    assert_eq!(body["tlp"], "green");
    assert!(
        body["title"]
            .as_str()
            .expect("title")
            .starts_with("Emergency calls failed"),
        "{body}"
    );
    assert!(
        body["link"]
            .as_str()
            .expect("link")
            .ends_with(&format!("/api/v1/reports/{report}")),
        "{body}"
    );
    assert!(
        body["matched"]
            .as_array()
            .expect("matched")
            .contains(&json!({"field": "summary", "value": "zebrafinch"})),
        "why it matched: {body}"
    );
    // Only these members: nothing about who filed it.
    let keys: BTreeSet<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "event",
            "delivery_id",
            "saved_search_id",
            "saved_search_name",
            "report_id",
            "revision",
            "title",
            "tlp",
            "published_on",
            "matched",
            "link"
        ])
    );
    let raw = String::from_utf8_lossy(&r.body);
    assert!(!raw.contains(&w.op_a) && !raw.contains("Acme"), "{raw}");
    // A wrong secret does not verify.
    let forged = std::panic::catch_unwind(|| assert_signed("whsec_wrong", r));
    assert!(forged.is_err());

    let log = w
        .deliveries_until(&w.member, &saved, |l| {
            l.first().is_some_and(|d| d["status"] == "delivered")
        })
        .await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], "delivered", "{log:?}");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["last_status_code"], 200);
    assert_eq!(log[0]["id"], r.delivery.as_str());

    // The secret is never shown again.
    for path in [
        "/api/v1/saved-searches".to_owned(),
        format!("/api/v1/saved-searches/{saved}"),
        format!("/api/v1/saved-searches/{saved}/deliveries"),
    ] {
        let (status, body) = w.get(&path, &w.member).await;
        assert_eq!(status, 200, "{path}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("\"secret\""),
            "{path}: {text}"
        );
    }
}

async fn retried_after_a_failure(backend: Backend) {
    let Some(w) = world_with(backend, |_| {}).await else {
        return;
    };
    let rx = receiver().await;
    rx.fail_next(2);
    let (saved, secret) = w.save(&w.member, "q=wagtail", &rx.url).await;
    let report = w.publish(&example("clear", "wagtail")).await;

    let got = rx.until(|r| r.iter().any(|x| x.status == 200)).await;
    let statuses: Vec<u16> = got.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200], "retried until delivered");
    for r in &got {
        assert_signed(&secret, r);
        assert_eq!(r.json["report_id"], report.as_str());
        assert_eq!(r.delivery, got[0].delivery, "one notification, retried");
        assert_eq!(r.body, got[0].body, "the same body on every attempt");
    }
    let log = w
        .deliveries_until(&w.member, &saved, |l| {
            l.first().is_some_and(|d| d["status"] == "delivered")
        })
        .await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], "delivered");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status_code"], 200);
    let (_, s) = w
        .get(&format!("/api/v1/saved-searches/{saved}"), &w.member)
        .await;
    assert_eq!(s["consecutive_failures"], 0, "a success resets the count");
    assert_eq!(s["active"], true);
}

async fn disabled_after_repeated_failures_and_enabled_again(backend: Backend) {
    let Some(w) = world_with(backend, |s| {
        s.alerts.disable_after_failures = 3;
        s.alerts.max_attempts = 10;
    })
    .await
    else {
        return;
    };
    let rx = receiver().await;
    rx.set_failing(true);
    let (saved, secret) = w.save(&w.analyst, "q=bittern", &rx.url).await;
    let first = w.publish(&example("amber", "bittern")).await;

    let s = w
        .saved_until(&w.analyst, &saved, |s| s["active"] == false)
        .await;
    assert_eq!(s["active"], false, "{s}");
    let reason = s["disabled_reason"].as_str().expect("reason");
    assert!(reason.contains("3 failed deliveries"), "{reason}");
    assert!(reason.contains("HTTP 503"), "{reason}");
    assert!(s["disabled_at"].is_string(), "{s}");
    let log = w.deliveries(&w.analyst, &saved).await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], "abandoned");
    assert_eq!(log[0]["attempts"], 3);
    assert_eq!(log[0]["last_status_code"], 503);
    assert_eq!(rx.about(&first).len(), 3, "no attempt after disabling");

    // The receiver is fixed; its owner enables the saved search again.
    rx.set_failing(false);
    let (status, s) = w
        .app
        .send(
            Method::POST,
            &format!("/api/v1/saved-searches/{saved}/enable"),
            &w.analyst,
            None,
        )
        .await;
    assert_eq!(status, 200, "{s}");
    assert_eq!(s["active"], true);
    assert_eq!(s["consecutive_failures"], 0);
    assert!(s["disabled_reason"].is_null(), "{s}");
    let second = w.publish(&example("green", "bittern")).await;
    let got = rx.until(|r| r.iter().any(|x| x.status == 200)).await;
    let ok: Vec<&Received> = got.iter().filter(|r| r.status == 200).collect();
    assert_eq!(ok.len(), 1, "{got:?}");
    assert_eq!(ok[0].json["report_id"], second.as_str());
    assert_signed(&secret, ok[0]);
    assert_eq!(
        rx.about(&first).len(),
        3,
        "the abandoned notification is not sent again"
    );
}

async fn only_what_the_subscriber_may_read(backend: Backend) {
    let Some(w) = world_with(backend, |_| {}).await else {
        return;
    };
    let member_rx = receiver().await;
    let analyst_rx = receiver().await;
    let (member_saved, member_secret) = w.save(&w.member, "q=kingfisher", &member_rx.url).await;
    let (analyst_saved, analyst_secret) = w.save(&w.analyst, "q=kingfisher", &analyst_rx.url).await;
    let green = w.publish(&example("green", "kingfisher")).await;
    let amber = w.publish(&example("amber", "kingfisher")).await;
    let red = w.publish(&example("red", "kingfisher")).await;
    let draft = w
        .app
        .file(&w.filer, &example("green", "kingfisher"), false)
        .await;
    let other = w.publish(&example("green", "nightjar")).await;
    let sentinel = w.publish(&example("clear", "kingfisher")).await;

    let member_log = w
        .deliveries_until(&w.member, &member_saved, |l| has_report(l, &sentinel))
        .await;
    assert_eq!(
        report_ids(&member_log),
        BTreeSet::from([green.clone(), sentinel.clone()]),
        "a member hears of clear and green reports only"
    );
    let analyst_log = w
        .deliveries_until(&w.analyst, &analyst_saved, |l| has_report(l, &sentinel))
        .await;
    assert_eq!(
        report_ids(&analyst_log),
        BTreeSet::from([green.clone(), amber.clone(), sentinel.clone()]),
        "an analyst also hears of amber reports, never red ones"
    );
    // Everything logged is sent, signed with the right secret.
    let got = member_rx.until(|r| r.len() >= 2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    for r in &got {
        assert_signed(&member_secret, r);
    }
    let got = analyst_rx.until(|r| r.len() >= 3).await;
    assert_eq!(got.len(), 3, "{got:?}");
    for r in &got {
        assert_signed(&analyst_secret, r);
        for never in [&red, &draft, &other] {
            assert_ne!(r.json["report_id"], never.as_str());
        }
    }
    for r in member_rx.received() {
        for never in [&amber, &red, &draft, &other] {
            assert_ne!(r.json["report_id"], never.as_str());
        }
    }
}

async fn amendments_notify_only_new_matches(backend: Backend) {
    let Some(w) = world_with(backend, |_| {}).await else {
        return;
    };
    let rx = receiver().await;
    let (saved, _) = w.save(&w.member, "q=heron", &rx.url).await;
    let notified = w.publish(&example("green", "heron")).await;
    let later = w.publish(&example("green", "egret")).await;
    let patch = |id: &str, summary: &str| {
        w.app
            .authed(Method::PATCH, &format!("/api/v1/reports/{id}"), &w.filer)
            .header("content-type", "application/merge-patch+json")
            .body(json!({"summary": summary}).to_string())
            .send()
    };
    // Amending a report already notified: no second notification.
    let r = patch(
        &notified,
        "The heron outage, with more detail. Marker heron.",
    )
    .await
    .expect("sent");
    assert_eq!(r.status(), 200);
    // A report that did not match matches after its amendment.
    let r = patch(&later, "Now also about a heron. Marker heron.")
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let sentinel = w.publish(&example("green", "heron")).await;

    let log = w
        .deliveries_until(&w.member, &saved, |l| has_report(l, &sentinel))
        .await;
    assert_eq!(log.len(), 3, "{log:?}");
    let find = |id: &str| {
        log.iter()
            .find(|d| d["report_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {log:?}"))
    };
    assert_eq!(find(&notified)["event"], "report.published");
    assert_eq!(find(&notified)["revision"], 1);
    assert_eq!(find(&later)["event"], "report.amended");
    assert_eq!(find(&later)["revision"], 2);
    let got = rx.until(|r| r.len() >= 3).await;
    let amended: Vec<&Received> = got
        .iter()
        .filter(|r| r.json["report_id"] == later)
        .collect();
    assert_eq!(amended.len(), 1, "{got:?}");
    assert_eq!(amended[0].event, "report.amended");
    assert_eq!(amended[0].json["revision"], 2);
    assert_eq!(rx.about(&notified).len(), 1);
}

async fn withdrawn_before_delivery_is_never_sent(backend: Backend) {
    // Retries 1.5 to 3 seconds apart: the withdrawal lands between two
    // attempts (and any request after it is caught below).
    let Some(w) = world_with(backend, |s| {
        s.alerts.retry_base_ms = 3_000;
        s.alerts.retry_max_ms = 3_000;
        s.alerts.disable_after_failures = 100;
        s.alerts.max_attempts = 100;
    })
    .await
    else {
        return;
    };
    let rx = receiver().await;
    rx.set_failing(true);
    let (saved, _) = w.save(&w.member, "q=plover", &rx.url).await;
    let report = w.publish(&example("green", "plover")).await;
    let got = rx.until(|r| !r.is_empty()).await;
    assert!(!got.is_empty(), "first attempt");
    let r = w
        .app
        .authed(
            Method::POST,
            &format!("/api/v1/reports/{report}/withdraw"),
            &w.filer,
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    let withdrawn_at = Instant::now();
    rx.set_failing(false);
    // Checked again before the next attempt: dropped, not sent.
    let log = w
        .deliveries_until(&w.member, &saved, |l| l.is_empty())
        .await;
    assert!(log.is_empty(), "{log:?}");
    for r in rx.about(&report) {
        assert!(r.at < withdrawn_at, "sent after the withdrawal");
        assert_ne!(r.status, 200);
    }
}

async fn no_duplicates_on_replay_or_with_two_replicas(backend: Backend) {
    let Some(w) = world_with(backend, |_| {}).await else {
        return;
    };
    let rx = receiver().await;
    let (saved, secret) = w.save(&w.member, "q=sandpiper", &rx.url).await;
    let first = w.publish(&example("green", "sandpiper")).await;
    rx.until(|r| !r.is_empty()).await;

    // The matcher's cursor goes back (as after restoring a backup): the
    // same matches are found again, and recorded once.
    {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        incidex_schema::db::alerts::set_cursor(
            &mut conn,
            "matcher",
            0,
            incidex_schema::db::reports::now(),
        )
        .expect("rewind");
    }
    // A second replica on the same database, with the same keys.
    let replica_dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(replica_dir.path().join("keys")).expect("keys dir");
    for key in ["ownership.key", "signing-ed25519.pem"] {
        std::fs::copy(
            w.app.data_dir.join("keys").join(key),
            replica_dir.path().join("keys").join(key),
        )
        .expect("copy key");
    }
    let mut settings = (*w.app.state.settings).clone();
    settings.data_dir = replica_dir.path().to_owned();
    settings.listen = "127.0.0.1:0".parse().expect("address");
    let replica = incidex_api::Application::build(settings)
        .await
        .expect("replica starts");
    let replica_handle = replica.handle();
    actix_web::rt::spawn(replica.run());

    let mut more = Vec::new();
    for _ in 0..4 {
        more.push(w.publish(&example("green", "sandpiper")).await);
    }
    let log = w
        .deliveries_until(&w.member, &saved, |l| {
            l.len() >= 5 && l.iter().all(|d| d["status"] == "delivered")
        })
        .await;
    assert_eq!(log.len(), 5, "one notification per report: {log:?}");
    let got = rx.until(|r| r.len() >= 5).await;
    let ids: Vec<String> = got
        .iter()
        .map(|r| r.json["report_id"].as_str().expect("id").to_owned())
        .collect();
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "each sent once: {ids:?}");
    assert!(ids.contains(&first));
    for id in &more {
        assert!(ids.contains(id), "{id} in {ids:?}");
    }
    for r in &got {
        assert_signed(&secret, r);
    }
    replica_handle.stop(false).await;
}

async fn private_targets_are_refused_by_default(backend: Backend) {
    let Some(w) = world_with(backend, |s| s.alerts.allow_private_targets = false).await else {
        return;
    };
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:8080/hook",
        "http://[::1]/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data/",
    ] {
        let r = w
            .app
            .authed(Method::POST, "/api/v1/saved-searches", &w.member)
            .json(&json!({"search": "q=core", "webhook_url": url}))
            .send()
            .await
            .expect("sent");
        let p = problem(r, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], "webhook_url", "{p}");
        assert_eq!(p["errors"][0]["code"], "private_target", "{url}: {p}");
    }
    let (status, body) = w
        .app
        .send(
            Method::POST,
            "/api/v1/saved-searches",
            &w.member,
            Some(&json!({"search": "q=core", "webhook_url": "https://hooks.example.org/incidex"})),
        )
        .await;
    assert_eq!(status, 201, "a public target is accepted: {body}");
}

async fn saved_searches_belong_to_their_owner(backend: Backend) {
    let Some(w) = world_with(backend, |s| s.alerts.max_per_owner = 2).await else {
        return;
    };
    let rx = receiver().await;
    let (saved, secret) = w.save(&w.member, "q=curlew&service=voice", &rx.url).await;
    let (status, body) = w
        .get(&format!("/api/v1/saved-searches/{saved}"), &w.member)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["search"], "q=curlew&service=voice");
    assert_eq!(body["tlp_levels"], json!(["clear", "green"]));
    assert_eq!(body["webhook_url"], rx.url.as_str());

    // Another client of the same member shares it.
    let op_b_again = {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        incidex_schema::db::alerts::find_saved_search(&mut conn, &saved)
            .expect("find")
            .expect("row")
            .owner_id
    };
    let colleague = w.app.token_for(Role::Reporter, Some(&op_b_again)).await;
    let (status, list) = w.get("/api/v1/saved-searches", &colleague).await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], saved.as_str(), "{list}");

    // Everyone else gets 404, whatever they try.
    for token in [&w.filer, &w.analyst] {
        let (_, list) = w.get("/api/v1/saved-searches", token).await;
        assert_eq!(list["items"], json!([]), "{list}");
        for (method, path) in [
            (Method::GET, format!("/api/v1/saved-searches/{saved}")),
            (Method::DELETE, format!("/api/v1/saved-searches/{saved}")),
            (
                Method::POST,
                format!("/api/v1/saved-searches/{saved}/enable"),
            ),
            (
                Method::POST,
                format!("/api/v1/saved-searches/{saved}/disable"),
            ),
            (Method::POST, format!("/api/v1/saved-searches/{saved}/test")),
            (
                Method::POST,
                format!("/api/v1/saved-searches/{saved}/rotate-secret"),
            ),
            (
                Method::GET,
                format!("/api/v1/saved-searches/{saved}/deliveries"),
            ),
        ] {
            let r = w
                .app
                .authed(method.clone(), &path, token)
                .send()
                .await
                .expect("sent");
            problem(r, 404, "not_found").await;
        }
    }
    let admin = w.app.token_for(Role::Admin, None).await;
    let r = w
        .app
        .authed(Method::GET, "/api/v1/saved-searches", &admin)
        .send()
        .await
        .expect("sent");
    problem(r, 403, "forbidden").await;

    // A test notification, signed; then a rotated secret signs instead.
    let (status, ping) = w
        .app
        .send(
            Method::POST,
            &format!("/api/v1/saved-searches/{saved}/test"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(status, 200, "{ping}");
    assert_eq!(
        ping,
        json!({"delivered": true, "status_code": 200, "error": null})
    );
    let got = rx.until(|r| !r.is_empty()).await;
    assert_eq!(got[0].event, "ping");
    assert_eq!(got[0].json["saved_search_id"], saved.as_str());
    assert_signed(&secret, &got[0]);
    let (status, rotated) = w
        .app
        .send(
            Method::POST,
            &format!("/api/v1/saved-searches/{saved}/rotate-secret"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["secret"].as_str().expect("secret").to_owned();
    assert_ne!(new_secret, secret);
    rx.fail_next(1);
    let (_, ping) = w
        .app
        .send(
            Method::POST,
            &format!("/api/v1/saved-searches/{saved}/test"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(ping["delivered"], false, "{ping}");
    assert_eq!(ping["status_code"], 500, "{ping}");
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_signed(&new_secret, &got[1]);

    // Pause and resume.
    let (_, s) = w
        .app
        .send(
            Method::POST,
            &format!("/api/v1/saved-searches/{saved}/disable"),
            &w.member,
            None,
        )
        .await;
    assert_eq!(s["active"], false);
    assert_eq!(s["disabled_reason"], "paused by its owner");

    // At most two per owner.
    w.save(&w.member, "q=dunlin", &rx.url).await;
    let r = w
        .app
        .authed(Method::POST, "/api/v1/saved-searches", &w.member)
        .json(&json!({"search": "q=knot", "webhook_url": rx.url}))
        .send()
        .await
        .expect("sent");
    problem(r, 409, "conflict").await;

    // Deleted: gone, with its log.
    let r = w
        .app
        .authed(
            Method::DELETE,
            &format!("/api/v1/saved-searches/{saved}"),
            &w.member,
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 204);
    let r = w
        .app
        .authed(
            Method::GET,
            &format!("/api/v1/saved-searches/{saved}"),
            &w.member,
        )
        .send()
        .await
        .expect("sent");
    problem(r, 404, "not_found").await;
}

async fn bad_saved_searches_are_named(backend: Backend) {
    let Some(w) = world_with(backend, |_| {}).await else {
        return;
    };
    let post = |token: &str, body: Value| {
        w.app
            .authed(Method::POST, "/api/v1/saved-searches", token)
            .json(&body)
            .send()
    };
    let url = "https://hooks.example.org/x";
    for (token, body, field, code) in [
        (
            &w.member,
            json!({"search": "q=title:(", "webhook_url": url}),
            "search.q",
            "invalid_query",
        ),
        (
            &w.member,
            json!({"search": "service=vocie", "webhook_url": url}),
            "search.service",
            "invalid_value",
        ),
        (
            &w.member,
            json!({"search": "q=x&sort=newest", "webhook_url": url}),
            "search.sort",
            "not_allowed",
        ),
        (
            &w.member,
            json!({"search": "tlp=amber", "webhook_url": url}),
            "search.tlp",
            "not_allowed",
        ),
        (
            &w.member,
            json!({"search": "q=x", "webhook_url": "ftp://hooks.example.org/"}),
            "webhook_url",
            "invalid_url",
        ),
        (
            &w.member,
            json!({"search": "q=x"}),
            "webhook_url",
            "required",
        ),
        (
            &w.member,
            json!({"search": "q=x", "webhook_url": url, "secret": "mine"}),
            "secret",
            "unknown_field",
        ),
        (
            &w.member,
            json!({"search": "q=x", "webhook_url": url, "name": "n".repeat(201)}),
            "name",
            "too_long",
        ),
    ] {
        let p = problem(
            post(token, body.clone()).await.expect("sent"),
            422,
            "validation_failed",
        )
        .await;
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
        assert_eq!(p["errors"][0]["code"], code, "{body}: {p}");
    }
    // An analyst may watch amber reports.
    let r = post(
        &w.analyst,
        json!({"search": "tlp=amber", "webhook_url": url}),
    )
    .await
    .expect("sent");
    assert_eq!(r.status(), 201);
    // Oversized bodies.
    let big = json!({"search": "q=x", "webhook_url": url, "name": "n".repeat(20_000)});
    problem(
        post(&w.member, big).await.expect("sent"),
        413,
        "payload_too_large",
    )
    .await;
    // A bad delivery-log filter.
    let (_, created) = w
        .app
        .send(
            Method::POST,
            "/api/v1/saved-searches",
            &w.member,
            Some(&json!({"search": "q=x", "webhook_url": url})),
        )
        .await;
    let id = created["id"].as_str().expect("id");
    let r = w
        .app
        .authed(
            Method::GET,
            &format!("/api/v1/saved-searches/{id}/deliveries?status=lost"),
            &w.member,
        )
        .send()
        .await
        .expect("sent");
    problem(r, 400, "invalid_parameter").await;
}

async fn revoked_owners_hear_nothing(backend: Backend) {
    let Some(w) = world_with(backend, |_| {}).await else {
        return;
    };
    let rx = receiver().await;
    let (client_id, client_secret) = w.app.create_client(Role::Analyst, None);
    let analyst = w.app.token(&client_id, &client_secret).await;
    let (revoked_saved, _) = w.save(&analyst, "q=godwit", &rx.url).await;
    let (live_saved, _) = w.save(&w.analyst, "q=godwit", &rx.url).await;
    {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        incidex_registry::members::revoke_client(&mut conn, &client_id).expect("revoke");
    }
    let report = w.publish(&example("amber", "godwit")).await;
    let log = w
        .deliveries_until(&w.analyst, &live_saved, |l| has_report(l, &report))
        .await;
    assert!(has_report(&log, &report), "{log:?}");
    let mut conn = w.app.state.registry.pool.get().expect("connection");
    let (revoked_log, total) =
        incidex_schema::db::alerts::list_deliveries(&mut conn, &revoked_saved, None, 10, 0)
            .expect("log");
    assert_eq!(total, 0, "{revoked_log:?}");
    let got = rx.until(|r| !r.is_empty()).await;
    assert!(
        got.iter()
            .all(|r| r.json["saved_search_id"] == live_saved.as_str())
    );
}

on_both_backends!(
    matches_what_search_shows_each_owner,
    each_change_is_matched_as_the_revision_it_made,
    delivered_with_a_valid_signature,
    retried_after_a_failure,
    disabled_after_repeated_failures_and_enabled_again,
    only_what_the_subscriber_may_read,
    amendments_notify_only_new_matches,
    withdrawn_before_delivery_is_never_sent,
    no_duplicates_on_replay_or_with_two_replicas,
    private_targets_are_refused_by_default,
    saved_searches_belong_to_their_owner,
    bad_saved_searches_are_named,
    revoked_owners_hear_nothing,
);
