//! The analyst web UI: in a real browser (headless Chromium through
//! chromedriver, both installed from Debian's `chromium` and
//! `chromium-driver`) and over plain HTTP, on both backends.
//!
//! Without `/usr/bin/chromedriver` the browser tests print why and pass,
//! except under `CI`, where they fail. Screenshots of the main pages (1280
//! px and phone width) are written to `target/ui-screenshots/`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const PASSWORD: &str = "a long analyst password";

// ---------------------------------------------------------------- fixtures

struct World {
    app: TestApp,
    /// A reporter of the second demo-style operator, for extra filings.
    reporter: String,
    analyst_api: String,
    amber: String,
    red: String,
    draft: String,
}

async fn file(app: &TestApp, token: &str, tlp: &str, marker: &str, publish: bool) -> String {
    let mut body = incidex_schema::report::report_input_example();
    body["tlp"] = json!(tlp);
    body["title"] = json!(format!("Registrar outage {marker}"));
    let r = app
        .authed(Method::POST, "/api/v1/reports", token)
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    if publish {
        let p = app
            .authed(
                Method::POST,
                &format!("/api/v1/reports/{id}/publish"),
                token,
            )
            .send()
            .await
            .expect("sent");
        assert_eq!(p.status(), 200);
    }
    id
}

/// The demo registry (the telecom corpus as three operators, user
/// `analyst`) plus an amber, a red and a draft report, all indexed.
async fn world(backend: Backend) -> Option<World> {
    let app = TestApp::spawn(backend).await?;
    let state = app.state.clone();
    let seeded = actix_web::rt::task::spawn_blocking(move || {
        incidex_registry::demo::seed(
            &state.registry.reports,
            &state.registry.hasher,
            Some(PASSWORD.to_owned()),
        )
    })
    .await
    .expect("seeding task")
    .expect("demo seeding");
    assert_eq!(seeded.published, 32);
    assert!(seeded.user_created && seeded.generated_password.is_none());
    let operator = {
        let mut conn = app.state.registry.pool.get().expect("connection");
        incidex_schema::db::identity::find_operator_by_name(&mut conn, "Demo Fixed")
            .expect("query")
            .expect("demo operator")
            .id
    };
    let reporter = app.token_for(Role::Reporter, Some(&operator)).await;
    let analyst_api = app.token_for(Role::Analyst, None).await;
    // Each filing waits for the index follower to go idle first: on SQLite a
    // write racing the follower's own writes can fail with "database is
    // locked" (see the report to the lead). Red goes before amber, so once
    // amber is searchable the follower has handled every change.
    indexed(&app, &analyst_api, 32).await;
    let draft = file(&app, &reporter, "green", "draftowl", false).await;
    let red = file(&app, &reporter, "red", "redkite", true).await;
    let amber = file(&app, &reporter, "amber", "amberfox", true).await;
    indexed(&app, &analyst_api, 33).await;
    Some(World {
        app,
        reporter,
        analyst_api,
        amber,
        red,
        draft,
    })
}

/// Waits until an analyst's search finds `expected` reports.
async fn indexed(app: &TestApp, analyst: &str, expected: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = app
            .authed(Method::GET, "/api/v1/search?facets=false", analyst)
            .send()
            .await
            .expect("sent");
        let body: Value = r.json().await.expect("json");
        if body["total"] == expected {
            return;
        }
        assert!(Instant::now() < deadline, "index never caught up: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ------------------------------------------------------------ plain HTTP

/// Percent-encodes a form value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default()[name.len() + 1..].to_owned())
}

fn csrf_in(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a csrf field");
    let rest = &html[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').expect("end of value")].to_owned()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// A browser's cookies, by hand.
#[derive(Debug, Default, Clone)]
struct Jar {
    sid: String,
    session: Option<String>,
}

impl Jar {
    fn header(&self) -> String {
        match &self.session {
            Some(s) => format!("incidex_sid={}; incidex_session={s}", self.sid),
            None => format!("incidex_sid={}", self.sid),
        }
    }
}

async fn get(app: &TestApp, jar: &Jar, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("cookie", jar.header())
        .send()
        .await
        .expect("sent")
}

async fn post_form(app: &TestApp, jar: &Jar, path: &str, body: String) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("cookie", jar.header())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("sent")
}

/// Opens the login page: a fresh session id and its CSRF token.
async fn login_form(app: &TestApp) -> (Jar, String) {
    let r = app.get("/login").await;
    assert_eq!(r.status(), 200);
    let sid = set_cookie(&r, "incidex_sid").expect("a session id cookie");
    let html = r.text().await.expect("html");
    (Jar { sid, session: None }, csrf_in(&html))
}

async fn try_login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    let (jar, csrf) = login_form(app).await;
    post_form(
        app,
        &jar,
        "/login",
        form(&[
            ("csrf", &csrf),
            ("username", username),
            ("password", password),
        ]),
    )
    .await
}

/// Signs in over HTTP; returns the cookies and the page CSRF token.
async fn login(app: &TestApp, username: &str, password: &str) -> (Jar, String) {
    let r = try_login(app, username, password).await;
    assert_eq!(r.status(), 303, "sign-in");
    assert_eq!(location(&r), "/");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("incidex_session="))
        .expect("session cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain HTTP: {cookie}");
    let jar = Jar {
        sid: set_cookie(&r, "incidex_sid").expect("a new session id"),
        session: set_cookie(&r, "incidex_session"),
    };
    let page = get(app, &jar, "/").await;
    assert_eq!(page.status(), 200);
    let csrf = csrf_in(&page.text().await.expect("html"));
    (jar, csrf)
}

async fn logged_out_pages_redirect_to_login(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    for (path, expected) in [
        ("/", "/login"),
        ("/?q=dns", "/login?next=%2F%3Fq%3Ddns"),
        ("/reports/abc", "/login?next=%2Freports%2Fabc"),
        ("/trends", "/login?next=%2Ftrends"),
        ("/clusters", "/login?next=%2Fclusters"),
        ("/digests", "/login?next=%2Fdigests"),
        ("/lessons?q=dns", "/login?next=%2Flessons%3Fq%3Ddns"),
        ("/logout", "/login?next=%2Flogout"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status(), 303, "{path}");
        assert_eq!(location(&r), expected, "{path}");
    }
    // A forged or expired session is no session.
    let jar = Jar {
        sid: "x".into(),
        session: Some("not.a.token".into()),
    };
    let r = get(&app, &jar, "/").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?notice=expired");
    // Behind a TLS-terminating proxy the cookies are Secure.
    let r = app
        .client
        .get(app.url("/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("sent");
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie");
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // The stylesheet is public, versioned and cached for good.
    let html = app.get("/login").await.text().await.expect("html");
    let css = html
        .split("href=\"")
        .find_map(|s| s.strip_prefix("/assets/"))
        .and_then(|s| s.split('"').next())
        .expect("stylesheet link");
    let r = app.get(&format!("/assets/{css}")).await;
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .expect("header")
            .contains("immutable")
    );
    assert_eq!(app.get("/assets/app.0000.css").await.status(), 404);
}

async fn posts_without_csrf_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_user("ana", Role::Analyst, PASSWORD);
    // Login without a token, with a wrong one, and with another browser's.
    let (jar, csrf) = login_form(&app).await;
    let (other_jar, _) = login_form(&app).await;
    for (jar, body) in [
        (&jar, form(&[("username", "ana"), ("password", PASSWORD)])),
        (
            &jar,
            form(&[
                ("csrf", "0123"),
                ("username", "ana"),
                ("password", PASSWORD),
            ]),
        ),
        (
            &other_jar,
            form(&[("csrf", &csrf), ("username", "ana"), ("password", PASSWORD)]),
        ),
    ] {
        let r = post_form(&app, jar, "/login", body).await;
        assert_eq!(r.status(), 403);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .expect("type")
                .starts_with("text/html")
        );
        assert!(set_cookie(&r, "incidex_session").is_none());
    }
    // Signed in, every form needs the page's token too.
    let (jar, csrf) = login(&app, "ana", PASSWORD).await;
    let r = post_form(&app, &jar, "/clusters/any/lessons", form(&[("text", "x")])).await;
    assert_eq!(r.status(), 403);
    let r = post_form(&app, &jar, "/lessons/any/endorse", String::new()).await;
    assert_eq!(r.status(), 403);
    let r = post_form(&app, &jar, "/logout", String::new()).await;
    assert_eq!(r.status(), 403);
    let r = post_form(&app, &jar, "/logout", form(&[("csrf", "wrong")])).await;
    assert_eq!(r.status(), 403);
    assert_eq!(get(&app, &jar, "/").await.status(), 200, "still signed in");
    let r = post_form(&app, &jar, "/logout", form(&[("csrf", &csrf)])).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/login?notice=logged_out");
    let cleared = set_cookie(&r, "incidex_session").expect("session cookie cleared");
    assert!(cleared.is_empty());
}

async fn pages_show_what_the_api_shows(backend: Backend) {
    let Some(w) = world(backend).await else {
        return;
    };
    let app = &w.app;
    let (jar, _) = login(app, "analyst", PASSWORD).await;
    // Amber: analysts read it, as in the API.
    let r = get(app, &jar, &format!("/reports/{}", w.amber)).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(html.contains("Registrar outage amberfox"));
    assert!(html.contains("TLP:AMBER"));
    // Red and drafts: the owner's only. Same 404 as for no report at all.
    for id in [&w.red, &w.draft, &"no-such-report".to_owned()] {
        let r = get(app, &jar, &format!("/reports/{id}")).await;
        assert_eq!(r.status(), 404, "{id}");
        let html = r.text().await.expect("html");
        assert!(html.contains("Report not found"), "{html}");
        assert!(!html.contains("redkite") && !html.contains("draftowl"));
        let api = app
            .authed(
                Method::GET,
                &format!("/api/v1/reports/{id}"),
                &w.analyst_api,
            )
            .send()
            .await
            .expect("sent");
        assert_eq!(api.status(), 404, "the API agrees");
    }
    // Search: the same hits as the API for the same query string.
    let r = get(app, &jar, "/?q=redkite").await;
    let html = r.text().await.expect("html");
    assert!(html.contains("No incidents found"), "red is never listed");
    let r = get(app, &jar, "/?q=amberfox").await;
    assert!(r.text().await.expect("html").contains(&w.amber));
    // A bad query is an error state, not a crash.
    let r = get(app, &jar, "/?q=%22unclosed&limit=0").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.expect("html").contains("could not run"));
    // The filer's name never appears: not in a report nor in search.
    let r = get(app, &jar, "/?q=registrar").await;
    let html = r.text().await.expect("html");
    assert!(!html.contains("Demo Fixed") && !html.contains("DemoFix"));
    let trends = get(app, &jar, "/trends").await;
    assert_eq!(trends.status(), 200);
    let html = trends.text().await.expect("html");
    assert!(html.contains("33 published reports"), "{html}");
    // A reporter's API token is no web session; admins may not sign in.
    let jar_reporter = Jar {
        sid: jar.sid.clone(),
        session: Some(w.reporter.clone()),
    };
    let r = get(app, &jar_reporter, &format!("/reports/{}", w.amber)).await;
    assert_eq!(r.status(), 303);
    assert!(location(&r).contains("notice=denied"));
    app.create_user("root", Role::Admin, PASSWORD);
    let r = try_login(app, "root", PASSWORD).await;
    assert_eq!(r.status(), 403);
    assert!(set_cookie(&r, "incidex_session").is_none());
}

async fn sign_in_is_throttled_after_failures(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_user("ana", Role::Analyst, PASSWORD);
    // The address's failure budget (3) and the one that goes past it.
    for _ in 0..4 {
        let r = try_login(&app, "ana", "wrong password here").await;
        assert_eq!(r.status(), 401);
        assert!(r.text().await.expect("html").contains("not right"));
    }
    let r = try_login(&app, "ana", PASSWORD).await;
    assert_eq!(r.status(), 429);
    assert!(set_cookie(&r, "incidex_session").is_none());
    assert!(r.text().await.expect("html").contains("Too many"));
}

// --------------------------------------------------------------- browser

struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    dir
}

/// Starts chromedriver and a headless Chromium session; `None` (with a
/// message) when chromedriver is not installed, outside CI.
async fn browser() -> Option<Browser> {
    if !Path::new(CHROMEDRIVER).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{CHROMEDRIVER} must be installed in CI (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "skipped browser test: {CHROMEDRIVER} is not installed (apt-get install chromium chromium-driver)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let driver = tokio::process::Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("profile dir");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-background-networking", "--disable-quic", "--no-first-run",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = loop {
        let attempt = ClientBuilder::rustls()
            .expect("tls")
            .capabilities(caps.clone())
            .connect(&url)
            .await;
        match attempt {
            Ok(c) => break c,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a browser session: {e}"),
        }
    };
    Some(Browser {
        client,
        _driver: driver,
        _profile: profile,
    })
}

impl Browser {
    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).expect("write png");
    }

    async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The first element matching `css`, waiting for it to appear: a form
    /// submission or a click returns before the next page has loaded, so
    /// looking only once races the navigation.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click");
    }

    async fn wait_path(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let p = self.path().await;
            if p.starts_with(prefix) {
                return p;
            }
            assert!(Instant::now() < deadline, "expected {prefix}, at {p}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Log in, search, apply a facet, open a report, follow a similar
/// incident, open a cluster and add a lesson, search and filter lessons,
/// view trends, log out; screenshots at desktop and phone width.
async fn analyst_flow_in_a_browser(backend: Backend) {
    let Some(b) = browser().await else {
        return;
    };
    let Some(w) = world(backend).await else {
        let _ = b.client.close().await;
        return;
    };
    let shots = backend == Backend::Sqlite;
    let c = &b.client;
    c.goto(&w.app.url("/trends")).await.expect("goto");
    assert_eq!(b.wait_path("/login").await, "/login?next=%2Ftrends");
    if shots {
        b.shot("login-1280").await;
    }
    // A wrong password first: the form says so and keeps the username.
    let f = c
        .form(Locator::Css("form.stack"))
        .await
        .expect("login form");
    f.set_by_name("username", "analyst")
        .await
        .expect("username");
    f.set_by_name("password", "not the password")
        .await
        .expect("password");
    f.submit().await.expect("submit");
    assert!(b.text("#login-error").await.contains("not right"));
    let f = c
        .form(Locator::Css("form.stack"))
        .await
        .expect("login form");
    f.set_by_name("password", PASSWORD).await.expect("password");
    f.submit().await.expect("submit");
    assert_eq!(
        b.wait_path("/trends").await,
        "/trends",
        "back where we were"
    );
    let svgs = c.find_all(Locator::Css("svg.chart")).await.expect("charts");
    assert_eq!(svgs.len(), 5, "three over time, two of durations");
    if shots {
        b.shot("trends-1280").await;
    }

    // Search.
    c.goto(&w.app.url("/")).await.expect("goto");
    let q = c.find(Locator::Css("#q")).await.expect("query box");
    q.send_keys("emergency calls").await.expect("type");
    b.click(".query-row button[type=submit]").await;
    let path = b.wait_path("/?q=emergency").await;
    assert!(path.contains("q=emergency+calls"), "{path}");
    let count = b.text(".results-count").await;
    assert!(count.contains("of"), "{count}");
    let hits = c.find_all(Locator::Css(".hit")).await.expect("hits");
    assert!(!hits.is_empty());
    assert!(
        !c.find_all(Locator::Css(".snippet mark"))
            .await
            .expect("marks")
            .is_empty(),
        "matches are highlighted"
    );

    // Apply a facet: the filter lands in the URL and as a removable chip.
    let facet = c
        .find(Locator::Css(
            r#"a.facet-link[data-facet="root_cause_category"]"#,
        ))
        .await
        .expect("a root-cause facet");
    let facet_count: u64 = facet
        .find(Locator::Css(".count"))
        .await
        .expect("count")
        .text()
        .await
        .expect("text")
        .parse()
        .expect("a number");
    facet.click().await.expect("click facet");
    let path = b.wait_path("/?q=emergency").await;
    assert!(path.contains("root_cause_category="), "{path}");
    let count = b.text(".results-count").await;
    assert!(
        count.ends_with(&format!("of {facet_count} incidents"))
            || count.ends_with(&format!("of {facet_count} incident")),
        "{count} vs {facet_count}"
    );
    assert_eq!(
        c.find_all(Locator::Css(".chip:not(.chip-clear)"))
            .await
            .expect("chips")
            .len(),
        1
    );
    let shared = path.clone();
    if shots {
        b.shot("search-1280").await;
    }

    // Open a report, then follow a similar incident.
    let title = b.text(".hit h3 a").await;
    b.click(".hit h3 a").await;
    let report_path = b.wait_path("/reports/").await;
    assert_eq!(b.text("#report-title").await, title);
    assert!(
        !c.find_all(Locator::Css(".flags li"))
            .await
            .expect("flags")
            .is_empty()
    );
    if shots {
        b.shot("report-1280").await;
    }
    let similar = c
        .find_all(Locator::Css(".similar-link"))
        .await
        .expect("similar");
    assert!(!similar.is_empty(), "similar incidents are listed");
    assert!(
        !c.find_all(Locator::Css(".reasons li"))
            .await
            .expect("reasons")
            .is_empty(),
        "with explanations"
    );
    let next_title = similar[0].text().await.expect("title");
    similar[0].click().await.expect("follow");
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.path().await == report_path {
        assert!(Instant::now() < deadline, "did not navigate");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(b.text("#report-title").await, next_title);

    // Clusters: open the largest, add a curated lesson through its form.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = w
            .app
            .authed(Method::GET, "/api/v1/clusters", &w.analyst_api)
            .send()
            .await
            .expect("sent");
        let body: Value = r.json().await.expect("json");
        if body["total"].as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no clusters: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.goto(&w.app.url("/clusters?sort=size"))
        .await
        .expect("goto");
    b.click(".clusters .hit h2 a").await;
    let cluster_path = b.wait_path("/clusters/").await;
    assert!(
        !c.find_all(Locator::Css(".member-link"))
            .await
            .expect("members")
            .is_empty()
    );
    if shots {
        b.shot("cluster-1280").await;
    }
    let lesson = "Rehearse the failover of twin subscriber databases under full load";
    let f = c
        .form(Locator::Css("form.stack"))
        .await
        .expect("lesson form");
    f.set_by_name("text", lesson).await.expect("text");
    f.submit().await.expect("submit");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let texts = c
            .find_all(Locator::Css(".lesson-text"))
            .await
            .expect("lessons");
        let mut found = false;
        for t in texts {
            found |= t.text().await.is_ok_and(|x| x == lesson);
        }
        if found {
            break;
        }
        assert!(Instant::now() < deadline, "curated lesson not shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(b.path().await.starts_with(&cluster_path));

    // Lessons: search, then filter by category.
    c.goto(&w.app.url("/lessons?q=redundant"))
        .await
        .expect("goto");
    assert!(b.text(".results-count").await.contains("of"));
    b.click(r#"a.facet-link[data-facet="category"]"#).await;
    let path = b.wait_path("/lessons?").await;
    assert!(path.contains("category="), "{path}");
    assert!(
        !c.find_all(Locator::Css(".lesson"))
            .await
            .expect("lessons")
            .is_empty()
    );
    // Endorse the first lesson listed: the count goes up by one and the
    // button gives way to a note.
    let first = c.find(Locator::Css("li.lesson")).await.expect("a lesson");
    let item = first.attr("id").await.expect("attr").expect("lesson id");
    let count = |text: String| -> i64 {
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("endorsement count")
    };
    let counter = format!("#{item} .meta span[title]");
    let before = count(b.text(&counter).await);
    b.click(&format!("#{item} form.endorse button")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while c
        .find(Locator::Css(&format!("#{item} .endorsed")))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "endorsement not shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(b.text(&counter).await), before + 1);
    assert!(
        b.path().await.starts_with("/lessons?"),
        "back on the same list"
    );
    if shots {
        b.shot("lessons-1280").await;
    }

    // A report the analyst may not read.
    c.goto(&w.app.url(&format!("/reports/{}", w.red)))
        .await
        .expect("goto");
    assert_eq!(b.text("h1").await, "Report not found");

    // Shareable URLs: the same search in a fresh page load.
    c.goto(&w.app.url(&shared)).await.expect("goto");
    assert!(
        b.text(".results-count")
            .await
            .contains(&facet_count.to_string())
    );

    // Phone width.
    c.set_window_size(390, 844).await.expect("resize");
    if shots {
        b.shot("search-390").await;
        c.goto(&w.app.url(&report_path)).await.expect("goto");
        b.shot("report-390").await;
        c.goto(&w.app.url("/trends")).await.expect("goto");
        b.shot("trends-390").await;
        c.goto(&w.app.url("/clusters")).await.expect("goto");
        b.shot("clusters-390").await;
    }

    // Sign out (the header's form, with its CSRF token); pages then need a login.
    b.click("form.signout button").await;
    assert_eq!(b.wait_path("/login").await, "/login?notice=logged_out");
    assert!(b.text(".notice").await.contains("signed out"));
    if shots {
        b.shot("login-390").await;
    }
    c.goto(&w.app.url("/")).await.expect("goto");
    assert_eq!(b.wait_path("/login").await, "/login");
    let _ = c.clone().close().await;
}

/// Digests in the UI: the list, one digest as its self-contained page
/// (styled under its own Content-Security-Policy) and in other formats;
/// the members' digest is not the analyst's.
async fn digests_page_lists_and_serves_digests(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.digests.enabled = false).await else {
        return;
    };
    app.create_user("analyst", Role::Analyst, PASSWORD);
    let op = app.create_operator("Demo Fixed", &[], None);
    let reporter = app.token_for(Role::Reporter, Some(&op)).await;
    let week = incidex_registry::digests::Period::containing(
        incidex_registry::digests::DigestKind::Weekly,
        incidex_schema::db::reports::now(),
    )
    .previous();
    for (tlp, marker) in [
        ("green", "greenheron"),
        ("amber", "amberfox"),
        ("red", "redkite"),
    ] {
        let id = file(&app, &reporter, tlp, marker, true).await;
        let mut conn = app.state.registry.pool.get().expect("connection");
        incidex_schema::db::testing::backdate_report(
            &mut conn,
            &id,
            week.start + chrono::TimeDelta::days(2),
        )
        .expect("backdate");
    }
    let state = app.state.clone();
    let summary = actix_web::rt::task::spawn_blocking(move || {
        incidex_registry::digests::scheduler::tick(
            &state.registry.digests,
            incidex_schema::db::reports::now(),
        )
    })
    .await
    .expect("task")
    .expect("tick");
    assert_eq!(summary.produced.len(), 2, "{summary:?}");
    let id = format!("weekly-{}-analysts", week.label());

    assert_eq!(
        location(&app.get("/digests").await),
        "/login?next=%2Fdigests"
    );
    let (jar, _) = login(&app, "analyst", PASSWORD).await;
    let list = get(&app, &jar, "/digests").await;
    assert_eq!(list.status(), 200);
    let html = list.text().await.expect("html");
    assert!(html.contains(&format!("href=\"/digests/{id}\"")), "{html}");
    assert!(html.contains(&format!("/digests/{id}?format=csv")));
    assert!(html.contains("aria-current=\"page\">Digests"));
    let page = get(&app, &jar, &format!("/digests/{id}")).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .expect("csp")
        .to_owned();
    assert!(
        csp.contains("style-src 'sha256-") && !csp.contains("script"),
        "{csp}"
    );
    let html = page.text().await.expect("html");
    assert!(html.contains("amberfox") && html.contains("greenheron") && !html.contains("redkite"));
    let csv = get(&app, &jar, &format!("/digests/{id}?format=csv")).await;
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .expect("type")
            .starts_with("text/csv")
    );
    let members = get(
        &app,
        &jar,
        &format!("/digests/weekly-{}-members", week.label()),
    )
    .await;
    assert_eq!(members.status(), 404);
    assert!(
        members
            .text()
            .await
            .expect("html")
            .contains("Digest not found")
    );

    let Some(b) = browser().await else {
        return;
    };
    let c = &b.client;
    c.goto(&app.url("/digests")).await.expect("goto");
    b.wait_path("/login").await;
    let f = c
        .form(Locator::Css("form.stack"))
        .await
        .expect("login form");
    f.set_by_name("username", "analyst")
        .await
        .expect("username");
    f.set_by_name("password", PASSWORD).await.expect("password");
    f.submit().await.expect("submit");
    assert_eq!(b.wait_path("/digests").await, "/digests");
    if backend == Backend::Sqlite {
        b.shot("digests-1280").await;
    }
    b.click(".digest-item h2 a").await;
    b.wait_path(&format!("/digests/{id}")).await;
    assert!(b.text("h1").await.starts_with("Weekly digest"));
    // The inline stylesheet applies: its hash is in the page's CSP.
    let border = c
        .execute(
            "return getComputedStyle(document.querySelector('header.digest')).borderBottomStyle",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(border, json!("solid"));
    if backend == Backend::Sqlite {
        b.shot("digest-1280").await;
    }
    let _ = c.clone().close().await;
}

on_both_backends!(
    digests_page_lists_and_serves_digests,
    logged_out_pages_redirect_to_login,
    posts_without_csrf_are_refused,
    pages_show_what_the_api_shows,
    sign_in_is_throttled_after_failures,
    analyst_flow_in_a_browser,
);
