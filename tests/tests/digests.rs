//! Digests, end to end on both backends: a week seeded with reports of
//! every TLP level (and a draft, a withdrawn report, an amendment and a
//! report of the week before) gives exactly the right incidents in every
//! format and for each audience; each digest is produced once however many
//! ticks and servers run; a stale lease is taken over, a live one is not; a
//! failed digest is retried; a missed period is caught up on start-up; the
//! files are written to the export directory.
//!
//! Seeding moves the seeded reports' timestamps into a past week through
//! `db::testing::backdate_report` (what the API would have written had
//! they been filed then); the scheduler runs on the real clock.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, TimeDelta};
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use incidex_registry::digests::scheduler::{self, TickSummary};
use incidex_registry::digests::{DigestKind, Period};
use incidex_schema::db::digests::{self as store, Claim, DigestKey, DigestRow};
use incidex_schema::db::reports::now;
use incidex_schema::db::testing::{backdate_change, backdate_report};
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

/// The seeded registry.
struct World {
    app: TestApp,
    reporter: String,
    analyst: String,
    /// The week the seeded reports belong to (the last complete week).
    week: Period,
    ids: HashMap<&'static str, String>,
}

impl World {
    fn id(&self, name: &str) -> &str {
        &self.ids[name]
    }

    fn digest_id(&self, audience: &str) -> String {
        format!("weekly-{}-{audience}", self.week.label())
    }
}

fn body(tlp: &str, marker: &str, minor: bool) -> Value {
    let mut b = incidex_schema::report::report_input_example();
    b["tlp"] = json!(tlp);
    b["title"] = json!(format!("Call servers failed after commands {marker}"));
    b["summary"] = json!(format!(
        "Acme Mobile saw call servers stop routing calls ({marker}). Routine reconnection commands exposed a software defect."
    ));
    b["lessons"] = json!([format!("Roll bulk commands out progressively {marker}.")]);
    if minor {
        // Local data outage of half an hour: severity minor.
        b["context"]["scope"] = json!("local");
        b["affected"]["services"] = json!(["data"]);
        b["impact"]["emergency_calls"] = Value::Null;
        b["impact"]["duration_minutes"] = json!(30);
    }
    b
}

fn backdate(app: &TestApp, id: &str, at: NaiveDateTime) {
    let mut conn = app.state.registry.pool.get().expect("connection");
    backdate_report(&mut conn, id, at).expect("backdate");
}

async fn post(app: &TestApp, path: &str, token: &str, body: Option<&Value>) -> Value {
    let (status, out) = app.send(Method::POST, path, token, body).await;
    assert!(status < 300, "{path}: {status} {out}");
    out
}

/// Waits until the analyst's view has `n` published reports, indexed and
/// clustered.
async fn settled(app: &TestApp, analyst: &str, n: u64) {
    app.search_until("/api/v1/search?facets=false", analyst, n)
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, clusters) = app
            .send(Method::GET, "/api/v1/clusters?limit=200", analyst, None)
            .await;
        let clustered: u64 = clusters["items"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["size"].as_u64()).sum())
            .unwrap_or(0);
        if clustered == n {
            return;
        }
        assert!(Instant::now() < deadline, "never clustered: {clusters}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A registry whose last complete ISO week holds: a clear report (minor),
/// a green, an amber and a red one (critical), a green report published
/// three weeks ago and amended in the week, a green report published in the
/// week and withdrawn since; a green draft; and a green report of the week
/// before. The scheduler of this server is off.
async fn world(backend: Backend) -> Option<World> {
    world_with(backend, |_| {}).await
}

async fn world_with(
    backend: Backend,
    adjust: impl FnOnce(&mut incidex_api::Settings),
) -> Option<World> {
    let app = TestApp::spawn_with(backend, |s| {
        s.digests.enabled = false;
        adjust(s);
    })
    .await?;
    let acme = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let beta = app.create_operator("Beta Telecom", &[], Some("FR"));
    let reporter = app.token_for(Role::Reporter, Some(&acme)).await;
    let other = app.token_for(Role::Reporter, Some(&beta)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    let week = Period::containing(DigestKind::Weekly, now()).previous();
    let day = |d: i64, h: i64| week.start + TimeDelta::days(d) + TimeDelta::hours(h);

    let mut ids = HashMap::new();
    for (name, tlp, minor, at) in [
        ("clear", "clear", true, day(0, 9)),
        ("green", "green", false, day(1, 10)),
        ("amber", "amber", false, day(2, 11)),
        ("red", "red", false, day(3, 12)),
        ("before", "green", false, week.start - TimeDelta::days(3)),
    ] {
        let id = app
            .file(&reporter, &body(tlp, &format!("{name}marker"), minor), true)
            .await;
        backdate(&app, &id, at);
        ids.insert(name, id);
    }
    let draft = app
        .file(&reporter, &body("green", "draftmarker", false), false)
        .await;
    backdate(&app, &draft, day(1, 8));
    ids.insert("draft", draft);

    // Published three weeks ago, amended in the week.
    let amended = app
        .file(&other, &body("green", "amendedmarker", false), true)
        .await;
    backdate(&app, &amended, week.start - TimeDelta::days(10));
    let path = format!("/api/v1/reports/{amended}");
    let (status, out) = app
        .send(
            Method::PATCH,
            &path,
            &other,
            Some(&json!({"notes": "Root cause confirmed by the vendor."})),
        )
        .await;
    assert_eq!(status, 200, "{out}");
    {
        let mut conn = app.state.registry.pool.get().expect("connection");
        backdate_change(&mut conn, &amended, "amended", day(4, 15)).expect("backdate");
    }
    ids.insert("amended", amended);

    // Published in the week, withdrawn since.
    let withdrawn = app
        .file(&reporter, &body("green", "withdrawnmarker", false), true)
        .await;
    backdate(&app, &withdrawn, day(2, 8));
    post(
        &app,
        &format!("/api/v1/reports/{withdrawn}/withdraw"),
        &reporter,
        None,
    )
    .await;
    ids.insert("withdrawn", withdrawn);

    // Analyst-visible published: clear, green, amber, before, amended.
    settled(&app, &analyst, 5).await;
    Some(World {
        app,
        reporter,
        analyst,
        week,
        ids,
    })
}

async fn tick(app: &TestApp) -> TickSummary {
    let state = app.state.clone();
    actix_web::rt::task::spawn_blocking(move || scheduler::tick(&state.registry.digests, now()))
        .await
        .expect("tick task")
        .expect("tick")
}

fn row(app: &TestApp, id: &str) -> Option<DigestRow> {
    let mut conn = app.state.registry.pool.get().expect("connection");
    store::find(&mut conn, id).expect("query")
}

fn all_rows(app: &TestApp) -> Vec<DigestRow> {
    use incidex_schema::schema::digests;
    let mut conn = app.state.registry.pool.get().expect("connection");
    digests::table
        .order(digests::id.asc())
        .select(<DigestRow as diesel::SelectableHelper<_>>::as_select())
        .load(&mut **conn)
        .expect("digests")
}

/// The digests the seeded registry calls for: three weeks (the amended
/// report's publication, the week before, the seeded week), two audiences.
fn expected_ids(w: &World) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut p = w.week.previous().previous();
    for _ in 0..3 {
        for a in ["members", "analysts"] {
            out.insert(format!("weekly-{}-{a}", p.label()));
        }
        p = p.next();
    }
    out
}

async fn get_text(
    app: &TestApp,
    path: &str,
    token: &str,
    accept: Option<&str>,
) -> (u16, String, String) {
    let mut req = app.authed(Method::GET, path, token);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let r = req.send().await.expect("sent");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, ct, r.text().await.expect("body"))
}

fn ids_of(digest: &Value) -> Vec<String> {
    digest["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Words only the seeded reports of that name contain. (`before` is left
/// out: members may read it, so its words may be in a cluster's label.)
const MARKERS: [&str; 6] = [
    "clearmarker",
    "greenmarker",
    "ambermarker",
    "redmarker",
    "draftmarker",
    "withdrawnmarker",
];

/// Checks one audience's digest of the seeded week in every format.
async fn check_audience(w: &World, token: &str, audience: &str, expected: &[&str], shown: &[&str]) {
    let app = &w.app;
    let id = w.digest_id(audience);
    let path = format!("/api/v1/digests/{id}");
    let expected_ids: Vec<String> = expected.iter().map(|n| w.id(n).to_owned()).collect();

    // JSON: exactly these incidents, in this order (most severe first).
    let (status, ct, text) = get_text(app, &path, token, None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(ct, "application/json");
    let digest: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(ids_of(&digest), expected_ids, "{audience}");
    assert_eq!(digest["id"], id);
    assert_eq!(digest["audience"], audience);
    assert_eq!(digest["period"]["label"], w.week.label());
    assert_eq!(digest["figures"]["incidents"], expected.len());
    // The week before holds the `before` report only.
    assert_eq!(digest["previous"]["figures"]["incidents"], 1, "{audience}");
    let amended = digest["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .find(|i| i["id"] == w.id("amended"))
        .expect("the amended report");
    assert_eq!(amended["change"], "amended");
    assert_eq!(
        amended["amended_on"],
        (w.week.start + TimeDelta::days(4)).date().to_string()
    );
    assert_eq!(digest["figures"]["amended"], 1);
    // Anonymised: the shared view, never the operator's name nor exact figures.
    assert!(!text.contains("Acme"), "operator name in the digest");
    assert!(text.contains("[OPERATOR]"), "scrubbed summary");
    // Clusters and lessons come from what the audience may read only.
    let allowed: BTreeSet<String> = shown.iter().map(|n| w.id(n).to_owned()).collect();
    for c in digest["clusters"]["new"]
        .as_array()
        .into_iter()
        .chain(digest["clusters"]["growing"].as_array())
        .flatten()
    {
        for r in c["added_ids"].as_array().expect("added_ids") {
            assert!(allowed.contains(r.as_str().expect("id")), "{audience}: {c}");
        }
    }
    let new_lessons = digest["lessons"]["new"].as_array().expect("lessons");
    let lesson_reports: BTreeSet<String> = new_lessons
        .iter()
        .flat_map(|l| l["report_ids"].as_array().cloned().unwrap_or_default())
        .map(|r| r.as_str().expect("id").to_owned())
        .collect();
    let published_in_week: BTreeSet<String> = expected
        .iter()
        .filter(|n| **n != "amended")
        .map(|n| w.id(n).to_owned())
        .collect();
    assert_eq!(lesson_reports, published_in_week, "{audience}: new lessons");

    // Every format tells the same story: included markers present,
    // excluded ones absent.
    let csv_text = {
        let (status, ct, text) = get_text(app, &format!("{path}?format=csv"), token, None).await;
        assert_eq!(status, 200);
        assert!(ct.starts_with("text/csv"), "{ct}");
        text
    };
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().expect("header").clone();
    let id_col = headers.iter().position(|h| h == "id").expect("id column");
    let csv_ids: Vec<String> = reader
        .records()
        .map(|r| r.expect("row")[id_col].to_owned())
        .collect();
    assert_eq!(csv_ids, expected_ids, "{audience}: csv");

    let (status, ct, md) = get_text(app, &path, token, Some("text/markdown")).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/markdown"), "{ct}");
    let (status, ct, html) = get_text(app, &path, token, Some("text/html,*/*;q=0.8")).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(!html.contains("<script"), "no script");
    assert!(!html.contains("src=\"http"), "nothing external");
    let html_ids: Vec<&str> = html
        .split("data-report-id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').expect("end")])
        .collect();
    assert_eq!(html_ids, expected_ids, "{audience}: html");

    let (status, ct, feed) = get_text(app, "/api/v1/digests/feed.atom", token, None).await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("application/atom+xml"), "{ct}");
    assert!(feed.contains(&format!("urn:incidex:digest:{id}")), "{feed}");
    let entry = feed
        .split("<entry>")
        .find(|e| e.contains(&format!("urn:incidex:digest:{id}<")))
        .expect("the week's entry");

    for marker in MARKERS {
        let name = marker.trim_end_matches("marker");
        let included = expected.contains(&name);
        for (format, body) in [
            ("json", &text),
            ("csv", &csv_text),
            ("md", &md),
            ("html", &html),
            ("atom", &entry.to_owned()),
        ] {
            assert_eq!(
                body.contains(marker),
                included,
                "{audience} {format}: {marker} should {}be there",
                if included { "" } else { "not " }
            );
        }
    }
}

async fn seeded_week_digests_hold_exactly_the_right_incidents(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let summary = tick(&w.app).await;
    let produced: BTreeSet<String> = summary.produced.iter().cloned().collect();
    assert_eq!(produced, expected_ids(&w), "{summary:?}");
    assert_eq!(summary.produced.len(), produced.len(), "once each");
    assert!(summary.failed.is_empty(), "{summary:?}");

    // Members (a reporter): clear and green only; most severe first (the
    // minor clear report last), then the latest to enter the week.
    check_audience(
        &w,
        &w.reporter,
        "members",
        &["amended", "green", "clear"],
        &["clear", "green", "amended", "before"],
    )
    .await;
    // Analysts: amber too.
    check_audience(
        &w,
        &w.analyst,
        "analysts",
        &["amended", "amber", "green", "clear"],
        &["clear", "green", "amber", "amended", "before"],
    )
    .await;

    // Each reader lists their audience's digests only, latest first.
    let (status, list) = w
        .app
        .send(
            Method::GET,
            "/api/v1/digests?kind=weekly",
            &w.reporter,
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 3);
    assert_eq!(list["items"][0]["id"], w.digest_id("members"));
    assert_eq!(list["items"][0]["incidents"], 3);
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|i| i["audience"] == "members")
    );
    let (_, list) = w
        .app
        .send(
            Method::GET,
            "/api/v1/digests?limit=1&offset=1",
            &w.analyst,
            None,
        )
        .await;
    assert_eq!(
        list["items"][0]["id"],
        format!("weekly-{}-analysts", w.week.previous().label())
    );
    assert_eq!(list["next_offset"], 2);

    // Another audience's digest does not exist for the reader.
    let other = format!("/api/v1/digests/{}", w.digest_id("analysts"));
    problem(
        w.app
            .authed(Method::GET, &other, &w.reporter)
            .send()
            .await
            .expect("sent"),
        404,
        "not_found",
    )
    .await;
    let other = format!("/api/v1/digests/{}", w.digest_id("members"));
    problem(
        w.app
            .authed(Method::GET, &other, &w.analyst)
            .send()
            .await
            .expect("sent"),
        404,
        "not_found",
    )
    .await;
    // Admins read no report content.
    let admin = w.app.token_for(Role::Admin, None).await;
    problem(
        w.app
            .authed(Method::GET, "/api/v1/digests", &admin)
            .send()
            .await
            .expect("sent"),
        403,
        "forbidden",
    )
    .await;

    // Bad input is a problem, never a 500.
    let mine = format!("/api/v1/digests/{}", w.digest_id("members"));
    let r = w
        .app
        .authed(Method::GET, &mine, &w.reporter)
        .header("accept", "application/pdf")
        .send()
        .await
        .expect("sent");
    problem(r, 406, "not_acceptable").await;
    let r = w
        .app
        .authed(Method::GET, &format!("{mine}?format=pdf"), &w.reporter)
        .send()
        .await
        .expect("sent");
    problem(r, 400, "invalid_parameter").await;
    for bad in [
        "/api/v1/digests?kind=fortnightly",
        "/api/v1/digests?limit=0",
        "/api/v1/digests?colour=red",
        "/api/v1/digests/feed.atom?kind=yearly",
    ] {
        let r = w
            .app
            .authed(Method::GET, bad, &w.reporter)
            .send()
            .await
            .expect("sent");
        problem(r, 400, "invalid_parameter").await;
    }
    let r = w
        .app
        .authed(
            Method::GET,
            "/api/v1/digests/weekly-1999-W01-members",
            &w.reporter,
        )
        .send()
        .await
        .expect("sent");
    problem(r, 404, "not_found").await;

    // The files: every digest in every format, and a feed per audience,
    // the same bytes the API serves.
    let dir = w.app.data_dir.join("digests");
    for id in expected_ids(&w) {
        for ext in ["json", "csv", "md", "html"] {
            assert!(dir.join(format!("{id}.{ext}")).is_file(), "{id}.{ext}");
        }
    }
    for audience in ["members", "analysts"] {
        let feed = std::fs::read_to_string(dir.join(format!("digests-{audience}.atom")))
            .expect("feed file");
        assert!(feed.contains(&w.digest_id(audience)));
    }
    let (_, _, served) = get_text(&w.app, &format!("{mine}?format=md"), &w.reporter, None).await;
    let file = std::fs::read_to_string(dir.join(format!("{}.md", w.digest_id("members"))))
        .expect("md file");
    assert_eq!(served, file);
    assert!(!std::fs::read_dir(&dir).expect("dir").any(|e| {
        e.expect("entry")
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")
    }));
}

/// Stored rows, minus nothing: a second production would change them.
fn fingerprint(rows: &[DigestRow]) -> Vec<(String, i32, Option<NaiveDateTime>, Option<String>)> {
    rows.iter()
        .map(|r| (r.id.clone(), r.attempts, r.completed_at, r.content.clone()))
        .collect()
}

async fn a_second_tick_or_server_produces_nothing_again(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let first = tick(&w.app).await;
    assert_eq!(first.produced.len(), 6, "{first:?}");
    let before = fingerprint(&all_rows(&w.app));
    assert!(before.iter().all(|(_, attempts, ..)| *attempts == 1));

    let second = tick(&w.app).await;
    assert!(
        second.produced.is_empty() && second.exported.is_empty(),
        "{second:?}"
    );

    // A second process on the same database: its start-up tick and more.
    let other = TestApp::spawn_sharing(&w.app, |_| {}).await;
    let again = tick(&other).await;
    assert!(again.produced.is_empty(), "{again:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fingerprint(&all_rows(&w.app)),
        before,
        "nothing was produced twice"
    );
}

async fn servers_sharing_a_database_produce_each_digest_once(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    // Two replicas start at once (each runs a tick at start-up), and ticks
    // run on both at the same time.
    let (b, c) = futures_util::join!(
        TestApp::spawn_sharing(&w.app, |_| {}),
        TestApp::spawn_sharing(&w.app, |_| {})
    );
    let mut ticks = Vec::new();
    for app in [&b, &c, &b, &c, &w.app] {
        let state = app.state.clone();
        ticks.push(actix_web::rt::task::spawn_blocking(move || {
            scheduler::tick(&state.registry.digests, now())
        }));
    }
    let mut produced = Vec::new();
    for t in ticks {
        let summary = t.await.expect("tick task").expect("tick");
        assert!(summary.failed.is_empty(), "{summary:?}");
        produced.extend(summary.produced);
    }
    let unique: BTreeSet<String> = produced.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        produced.len(),
        "a digest was produced twice: {produced:?}"
    );

    let expected = expected_ids(&w);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = all_rows(&w.app);
        let done: BTreeSet<String> = rows
            .iter()
            .filter(|r| r.status == "done")
            .map(|r| r.id.clone())
            .collect();
        if done == expected {
            assert_eq!(rows.len(), expected.len());
            for r in &rows {
                assert_eq!(r.attempts, 1, "{} claimed more than once", r.id);
                assert!(r.holder.is_none() && r.lease_until.is_none());
            }
            break;
        }
        assert!(Instant::now() < deadline, "{done:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The replicas serve the same bytes.
    let path = format!("/api/v1/digests/{}?format=html", w.digest_id("analysts"));
    let (_, _, one) = get_text(&b, &path, &w.analyst, None).await;
    let (_, _, two) = get_text(&c, &path, &w.analyst, None).await;
    assert_eq!(one, two);
}

async fn a_stale_lease_is_taken_over_and_a_live_one_is_not(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let lease = TimeDelta::seconds(600);
    let (members_id, analysts_id) = (w.digest_id("members"), w.digest_id("analysts"));
    let (members, analysts) = (members_id.as_str(), analysts_id.as_str());
    let key = |id, audience| DigestKey {
        id,
        kind: "weekly",
        audience,
        period_start: w.week.start,
        period_end: w.week.end,
    };
    {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        // A process that claimed the members digest 20 minutes ago and
        // died; another that is producing the analysts digest right now.
        let crashed = store::claim(
            &mut conn,
            key(members, "members"),
            "crashed",
            now() - lease * 2,
            lease,
        )
        .expect("claim");
        assert_eq!(crashed, Claim::Claimed { attempt: 1 });
        let alive = store::claim(&mut conn, key(analysts, "analysts"), "alive", now(), lease)
            .expect("claim");
        assert_eq!(alive, Claim::Claimed { attempt: 1 });
        // The live claim is exclusive.
        assert_eq!(
            store::claim(&mut conn, key(analysts, "analysts"), "other", now(), lease)
                .expect("claim"),
            Claim::Busy
        );
    }
    let summary = tick(&w.app).await;
    assert!(
        summary.produced.contains(&members.to_owned()),
        "{summary:?}"
    );
    assert_eq!(summary.busy, vec![analysts.to_owned()]);
    let taken = row(&w.app, members).expect("row");
    assert_eq!((taken.status.as_str(), taken.attempts), ("done", 2));
    // The crashed holder cannot overwrite it when it comes back.
    {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        assert!(!store::complete(&mut conn, members, "crashed", "{}", 0, now()).expect("complete"));
        assert!(!store::fail(&mut conn, members, "crashed", "late", now()).expect("fail"));
    }
    assert_eq!(row(&w.app, members).expect("row").content, taken.content);
    let live = row(&w.app, analysts).expect("row");
    assert_eq!(
        (live.status.as_str(), live.holder.as_deref()),
        ("running", Some("alive"))
    );
    problem(
        w.app
            .authed(
                Method::GET,
                &format!("/api/v1/digests/{analysts}"),
                &w.analyst,
            )
            .send()
            .await
            .expect("sent"),
        404,
        "not_found",
    )
    .await;

    // Once its lease has run out (the holder died too), a tick retakes it.
    let state = w.app.state.clone();
    let later = now() + lease + TimeDelta::seconds(1);
    let summary = actix_web::rt::task::spawn_blocking(move || {
        scheduler::tick(&state.registry.digests, later)
    })
    .await
    .expect("task")
    .expect("tick");
    assert!(
        summary.produced.contains(&analysts.to_owned()),
        "{summary:?}"
    );
    // (Within ten minutes of Monday 00:00 UTC, `later` also completes this week.)
    let this_week = w.week.next().label();
    assert!(
        summary
            .produced
            .iter()
            .all(|id| id == analysts || id.contains(&this_week)),
        "{summary:?}"
    );
    assert_eq!(row(&w.app, analysts).expect("row").attempts, 2);
}

async fn a_failed_digest_is_retried_on_the_next_tick(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    use incidex_schema::schema::reports;
    let green = w.id("green").to_owned();
    let stored: String = {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        let content = reports::table
            .find(&green)
            .select(reports::content)
            .first(&mut **conn)
            .expect("content");
        diesel::update(reports::table.find(&green))
            .set(reports::content.eq("{\"not\": \"a report\"}"))
            .execute(&mut **conn)
            .expect("corrupt");
        content
    };
    let summary = tick(&w.app).await;
    let failed: BTreeSet<String> = summary.failed.iter().map(|(id, _)| id.clone()).collect();
    let week: BTreeSet<String> = [w.digest_id("members"), w.digest_id("analysts")].into();
    assert_eq!(failed, week, "{summary:?}");
    assert_eq!(summary.produced.len(), 4, "the other weeks are not held up");
    for id in &week {
        let r = row(&w.app, id).expect("row");
        assert_eq!((r.status.as_str(), r.attempts), ("failed", 1));
        assert!(r.last_error.as_deref().is_some_and(|e| !e.is_empty()));
        assert!(r.holder.is_none());
    }
    problem(
        w.app
            .authed(
                Method::GET,
                &format!("/api/v1/digests/{}", w.digest_id("members")),
                &w.reporter,
            )
            .send()
            .await
            .expect("sent"),
        404,
        "not_found",
    )
    .await;

    {
        let mut conn = w.app.state.registry.pool.get().expect("connection");
        diesel::update(reports::table.find(&green))
            .set(reports::content.eq(stored))
            .execute(&mut **conn)
            .expect("repair");
    }
    let summary = tick(&w.app).await;
    let produced: BTreeSet<String> = summary.produced.iter().cloned().collect();
    assert_eq!(produced, week, "{summary:?}");
    for id in &week {
        let r = row(&w.app, id).expect("row");
        assert_eq!((r.status.as_str(), r.attempts), ("done", 2));
        assert!(r.last_error.is_none());
    }
    let (status, digest) = w
        .app
        .send(
            Method::GET,
            &format!("/api/v1/digests/{}", w.digest_id("members")),
            &w.reporter,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(ids_of(&digest).contains(&green));
}

async fn a_missed_period_is_caught_up_on_start_up(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    // Nothing ran while the registry filled (the scheduler was off).
    assert!(all_rows(&w.app).is_empty());
    // A server starts with the scheduler on and a seven-day catch-up bound:
    // it produces the last week at start-up, and not the weeks before.
    let export = tempfile::tempdir().expect("dir");
    let export_dir = export.path().join("out");
    let dir = export_dir.clone();
    let server = TestApp::spawn_sharing(&w.app, move |s| {
        s.digests.enabled = true;
        s.digests.catch_up_days = 7;
        s.digests.export_dir = Some(dir);
    })
    .await;
    let path = format!("/api/v1/digests/{}", w.digest_id("members"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.send(Method::GET, &path, &w.reporter, None).await;
        if status == 200 {
            assert_eq!(ids_of(&body).len(), 3);
            break;
        }
        assert!(Instant::now() < deadline, "not caught up: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while row(&w.app, &w.digest_id("analysts")).is_none_or(|r| r.exported_at.is_none()) {
        assert!(Instant::now() < deadline, "analysts digest not exported");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ids: BTreeSet<String> = all_rows(&w.app).into_iter().map(|r| r.id).collect();
    let expected: BTreeSet<String> = [w.digest_id("members"), w.digest_id("analysts")].into();
    assert_eq!(ids, expected, "only periods within the catch-up bound");
    assert!(
        export_dir
            .join(format!("{}.html", w.digest_id("analysts")))
            .is_file()
    );
}

async fn export_failures_are_retried(backend: Backend) {
    let blocked = tempfile::tempdir().expect("dir");
    let target = blocked.path().join("digests");
    std::fs::write(&target, b"a file where the directory should be").expect("block");
    let dir = target.clone();
    let Some(w) = world_with(backend, move |s| s.digests.export_dir = Some(dir)).await else {
        return;
    };
    let summary = tick(&w.app).await;
    assert_eq!(summary.produced.len(), 6, "{summary:?}");
    assert!(summary.exported.is_empty());
    let r = row(&w.app, &w.digest_id("members")).expect("row");
    assert_eq!(r.status, "done", "the digest itself stands");
    assert!(r.exported_at.is_none());
    assert!(
        r.last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("export")),
        "{:?}",
        r.last_error
    );

    std::fs::remove_file(&target).expect("unblock");
    let summary = tick(&w.app).await;
    assert!(summary.produced.is_empty());
    assert_eq!(summary.exported.len(), 6, "{summary:?}");
    assert!(
        target
            .join(format!("{}.csv", w.digest_id("members")))
            .is_file()
    );
    assert!(
        row(&w.app, &w.digest_id("members"))
            .expect("row")
            .exported_at
            .is_some()
    );
}

on_both_backends!(
    seeded_week_digests_hold_exactly_the_right_incidents,
    a_second_tick_or_server_produces_nothing_again,
    servers_sharing_a_database_produce_each_digest_once,
    a_stale_lease_is_taken_over_and_a_live_one_is_not,
    a_failed_digest_is_retried_on_the_next_tick,
    a_missed_period_is_caught_up_on_start_up,
    export_failures_are_retried,
);
