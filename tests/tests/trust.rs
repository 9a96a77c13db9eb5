//! Trust under attack (issue 13), through the real server on both
//! backends: strict input at the edge, authentication before the body,
//! rate limits and lockouts that an outsider cannot turn against a
//! member, bounded secret verification, the OAuth 2.0 client-credentials
//! form of the token endpoint, security-event logs and request ids.
//!
//! Requests "from another address" bind the client to another loopback
//! address (127.0.0.2, …): the server sees a different peer.

use std::io::Write;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use incidex_registry::members::login::{self as credentials, MAX_FAILED_LOGINS};
use incidex_schema::db::identity::{self, Credential};
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// A client whose requests come from `ip` (a loopback address).
fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().expect("ip"))
        .build()
        .expect("client")
}

async fn login_as(
    app: &TestApp,
    client: &reqwest::Client,
    username: &str,
    password: &str,
) -> reqwest::Response {
    client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .expect("sent")
}

fn lenient(s: &mut incidex_api::Settings) {
    s.limits.failures_per_address = incidex_api::config::Rate::new(1000, 60);
}

// ------------------------------------------------------------ strict input

async fn control_characters_are_refused_at_the_edge(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &[], Some("FR"));
    let reporter = app.token_for(Role::Reporter, Some(&op)).await;
    let admin = app.token_for(Role::Admin, None).await;

    // Unauthenticated JSON routes: a field error, not a 500.
    for (path, body, field) in [
        (
            "/api/v1/auth/token",
            json!({"client_id": "ic_\u{0}", "client_secret": "x"}),
            "client_id",
        ),
        (
            "/api/v1/auth/login",
            json!({"username": "ana\u{0}", "password": "x"}),
            "username",
        ),
    ] {
        let r = app
            .client
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .expect("sent");
        let p = problem(r, 422, "validation_failed").await;
        assert_eq!(p["errors"][0]["field"], field, "{path}: {p}");
        assert_eq!(p["errors"][0]["code"], "control_character", "{path}");
    }
    // An operator name with a NUL (or an escape sequence) is never stored.
    for name in ["Evil\u{0}Corp", "Evil\u{1b}[31mCorp", "Evil\u{85}Corp"] {
        let (status, p) = app
            .send(
                Method::POST,
                "/api/v1/admin/operators",
                &admin,
                Some(&json!({"name": name})),
            )
            .await;
        assert_eq!(status, 422, "{p}");
        assert_eq!(p["errors"][0]["field"], "name");
    }
    let (_, ops) = app
        .send(Method::GET, "/api/v1/admin/operators", &admin, None)
        .await;
    assert_eq!(ops["items"].as_array().expect("items").len(), 1, "{ops}");
    // Tabs and line breaks are fine in free text.
    let mut report = incidex_schema::report::report_input_example();
    report["summary"] = json!("Line one.\nLine two,\tindented.\r\nLine three.");
    let (status, body) = app
        .send(Method::POST, "/api/v1/reports", &reporter, Some(&report))
        .await;
    assert_eq!(status, 201, "{body}");
    report["title"] = json!("A title with a \u{7} bell");
    let (status, p) = app
        .send(Method::POST, "/api/v1/reports", &reporter, Some(&report))
        .await;
    assert_eq!(
        (status, p["errors"][0]["field"].clone()),
        (422, json!("title"))
    );

    // Path ids and query values: 400 naming the parameter.
    for (path, field) in [
        ("/api/v1/reports/a%00b", "id"),
        ("/api/v1/reports/a%00b/revisions", "id"),
        ("/api/v1/clusters/a%00b", "id"),
        ("/api/v1/saved-searches/%00", "id"),
        ("/api/v1/search?q=outage%00", "q"),
        ("/api/v1/lessons?q=%00", "q"),
    ] {
        let r = app
            .authed(Method::GET, path, &reporter)
            .send()
            .await
            .expect("sent");
        let p = problem(r, 400, "invalid_parameter").await;
        assert_eq!(p["errors"][0]["field"], field, "{path}: {p}");
        assert_eq!(p["errors"][0]["code"], "control_character", "{path}");
    }
    let r = app
        .authed(Method::POST, "/api/v1/admin/clients/ic_%00/revoke", &admin)
        .send()
        .await
        .expect("sent");
    let p = problem(r, 400, "invalid_parameter").await;
    assert_eq!(p["errors"][0]["field"], "client_id");
}

async fn duplicate_json_keys_are_refused(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.token_for(Role::Admin, None).await;
    let r = app
        .authed(Method::POST, "/api/v1/admin/operators", &admin)
        .header("content-type", "application/json")
        .body(r#"{"name": "First Mobile", "country": "FR", "name": "Second Mobile"}"#)
        .send()
        .await
        .expect("sent");
    let p = problem(r, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "name");
    assert_eq!(p["errors"][0]["code"], "duplicate_key");
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .header("content-type", "application/json")
        .body(r#"{"client_id": "ic_a", "client_secret": "x", "client_secret": "y"}"#)
        .send()
        .await
        .expect("sent");
    let p = problem(r, 422, "validation_failed").await;
    assert_eq!(p["errors"][0]["field"], "client_secret");
    let (_, ops) = app
        .send(Method::GET, "/api/v1/admin/operators", &admin, None)
        .await;
    assert_eq!(ops["items"], json!([]), "nothing stored");
}

async fn authentication_is_decided_before_the_body(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &[], Some("FR"));
    let (reporter_id, secret) = app.create_client(Role::Reporter, Some(&op));
    let reporter = app.token(&reporter_id, &secret).await;
    let (admin_id, admin_secret) = app.create_client(Role::Admin, None);
    let admin = app.token(&admin_id, &admin_secret).await;
    let keeper = app.token_for(Role::Admin, None).await;
    for id in [&reporter_id, &admin_id] {
        let r = app
            .authed(
                Method::POST,
                &format!("/api/v1/admin/clients/{id}/revoke"),
                &keeper,
            )
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 204);
    }
    // Invalid bodies, wrong media types, bad queries and paths: the
    // revoked credential decides.
    let cases: Vec<(Method, &str, &str, Option<&str>)> = vec![
        (
            Method::POST,
            "/api/v1/reports",
            &reporter,
            Some("{\"title\": 1}"),
        ),
        (Method::POST, "/api/v1/reports", &reporter, Some("not json")),
        (Method::PUT, "/api/v1/reports/x", &reporter, Some("{}")),
        (Method::PATCH, "/api/v1/reports/x", &reporter, Some("[]")),
        (
            Method::POST,
            "/api/v1/similar",
            &reporter,
            Some("{\"nope\": true}"),
        ),
        (Method::POST, "/api/v1/anonymise", &reporter, Some("{}")),
        (
            Method::PUT,
            "/api/v1/operators/me/sensitive-terms",
            &reporter,
            Some("{}"),
        ),
        (
            Method::POST,
            "/api/v1/saved-searches",
            &reporter,
            Some("{}"),
        ),
        (
            Method::POST,
            "/api/v1/admin/operators",
            &admin,
            Some("{\"name\": 5}"),
        ),
        (Method::POST, "/api/v1/admin/clients", &admin, Some("{}")),
        (Method::POST, "/api/v1/admin/users", &admin, Some("{}")),
        (Method::GET, "/api/v1/reports?limit=0", &reporter, None),
        (Method::GET, "/api/v1/search?q=%00", &reporter, None),
        (Method::GET, "/api/v1/reports/a%00", &reporter, None),
    ];
    for (method, path, token, body) in cases {
        let mut req = app.authed(method.clone(), path, token);
        if let Some(body) = body {
            req = req
                .header("content-type", "application/json")
                .body(body.to_owned());
        }
        let r = req.send().await.expect("sent");
        let status = r.status();
        assert_eq!(status, 401, "{method} {path}");
        problem(r, 401, "unauthenticated").await;
    }
}

// ------------------------------------------------------------ lockouts

/// Sixteen threads guess at once: at most `MAX_FAILED_LOGINS` guesses are
/// verified before the lock, because each attempt is charged before its
/// verification in one conditional UPDATE.
async fn parallel_guesses_are_verified_at_most_the_lockout_count(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_user("analyst", Role::Analyst, PASSWORD);
    let op = app.create_operator("Acme Mobile", &[], Some("FR"));
    let (client_id, _) = app.create_client(Role::Reporter, Some(&op));
    let pool = app.state.registry.pool.clone();
    let hasher = app.state.registry.hasher.clone();
    let verified = Arc::new(AtomicUsize::new(0));
    let client_verified = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let (pool, hasher) = (pool.clone(), hasher.clone());
            let (verified, client_verified) = (verified.clone(), client_verified.clone());
            let client_id = client_id.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let outcome = credentials::check_password(&pool, "analyst", false, |hash| {
                        if hash.is_some() {
                            verified.fetch_add(1, Ordering::SeqCst);
                        }
                        hasher.verify("wrong password!", hash)
                    })
                    .expect("checked");
                    assert!(outcome.is_err());
                    let outcome = credentials::check_client(&pool, &client_id, false, |hash| {
                        if hash.is_some() {
                            client_verified.fetch_add(1, Ordering::SeqCst);
                        }
                        hasher.verify("wrong secret", hash)
                    })
                    .expect("checked");
                    assert!(outcome.is_err());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("guessing thread");
    }
    assert_eq!(
        verified.load(Ordering::SeqCst),
        MAX_FAILED_LOGINS as usize,
        "passwords verified of 160 parallel guesses"
    );
    assert_eq!(
        client_verified.load(Ordering::SeqCst),
        MAX_FAILED_LOGINS as usize,
        "client secrets verified of 160 parallel guesses"
    );
    let mut conn = pool.get().expect("connection");
    let user = identity::find_user_by_username(&mut conn, "analyst")
        .expect("read")
        .expect("user");
    assert!(
        identity::locked_until(&mut conn, Credential::User(&user.id))
            .expect("read")
            .is_some()
    );
    assert!(
        identity::locked_until(&mut conn, Credential::Client(&client_id))
            .expect("read")
            .is_some()
    );
}

/// Locked and unknown users get the same answer; an outsider who locks a
/// user out does not lock the user out where the user signs in from.
async fn a_lockout_is_indistinguishable_and_spares_the_owner(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, lenient).await else {
        return;
    };
    app.create_user("analyst", Role::Analyst, PASSWORD);
    let owner = client_from("127.0.0.1");
    let outsider = client_from("127.0.0.2");
    assert_eq!(
        login_as(&app, &owner, "analyst", PASSWORD).await.status(),
        200
    );

    for _ in 0..MAX_FAILED_LOGINS {
        let r = login_as(&app, &outsider, "analyst", "a wrong guess").await;
        problem(r, 401, "unauthenticated").await;
    }
    // Locked now: even the right password from the outsider's address is
    // refused, exactly as an unknown user is.
    let locked = login_as(&app, &outsider, "analyst", PASSWORD).await;
    let locked_headers = locked.headers().get("www-authenticate").cloned();
    let locked = problem(locked, 401, "unauthenticated").await;
    let unknown = login_as(&app, &outsider, "nobody-here", PASSWORD).await;
    assert_eq!(
        unknown.headers().get("www-authenticate").cloned(),
        locked_headers
    );
    let unknown = problem(unknown, 401, "unauthenticated").await;
    assert_eq!(locked, unknown, "no difference between locked and unknown");

    // The owner, from a familiar address, still signs in.
    let r = login_as(&app, &owner, "analyst", PASSWORD).await;
    assert_eq!(r.status(), 200);
}

/// With the default limits, one address is throttled before it could lock
/// a user out.
async fn one_address_cannot_lock_a_user_out(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    app.create_user("analyst", Role::Analyst, PASSWORD);
    let outsider = client_from("127.0.0.3");
    let mut throttled = None;
    for _ in 0..20 {
        let r = login_as(&app, &outsider, "analyst", "a wrong guess").await;
        if r.status() == 429 {
            throttled = Some(r);
            break;
        }
        problem(r, 401, "unauthenticated").await;
    }
    let r = throttled.expect("the address is throttled");
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after");
    assert!(retry >= 1);
    problem(r, 429, "rate_limited").await;
    let mut conn = app.state.registry.pool.get().expect("connection");
    let user = identity::find_user_by_username(&mut conn, "analyst")
        .expect("read")
        .expect("user");
    assert_eq!(
        identity::locked_until(&mut conn, Credential::User(&user.id)).expect("read"),
        None,
        "not locked"
    );
    // Another address signs in at once.
    let r = login_as(&app, &client_from("127.0.0.4"), "analyst", PASSWORD).await;
    assert_eq!(r.status(), 200);
}

async fn client_secrets_lock_out_like_passwords(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, lenient).await else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &[], Some("FR"));
    let (id, secret) = app.create_client(Role::Reporter, Some(&op));
    let outsider = client_from("127.0.0.2");
    let token = |client: &reqwest::Client, secret: &str| {
        client
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"client_id": id, "client_secret": secret}))
            .send()
    };
    for _ in 0..MAX_FAILED_LOGINS {
        problem(
            token(&outsider, "wrong").await.expect("sent"),
            401,
            "unauthenticated",
        )
        .await;
    }
    let r = token(&outsider, &secret).await.expect("sent");
    problem(r, 401, "unauthenticated").await;
    let mut conn = app.state.registry.pool.get().expect("connection");
    assert!(
        identity::locked_until(&mut conn, Credential::Client(&id))
            .expect("read")
            .is_some()
    );
}

// ------------------------------------------------------------ rate limits

async fn token_requests_are_limited_per_client_and_address(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.limits.token_per_client = incidex_api::config::Rate::new(2, 60);
        s.limits.token_per_address = incidex_api::config::Rate::new(4, 60);
    })
    .await
    else {
        return;
    };
    let (a, a_secret) = app.create_client(Role::Analyst, None);
    let (b, b_secret) = app.create_client(Role::Analyst, None);
    let from = client_from("127.0.0.5");
    let ask = |client: &reqwest::Client, id: &str, secret: &str| {
        client
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"client_id": id, "client_secret": secret}))
            .send()
    };
    assert_eq!(ask(&from, &a, &a_secret).await.expect("sent").status(), 200);
    assert_eq!(ask(&from, &a, &a_secret).await.expect("sent").status(), 200);
    let r = ask(&from, &a, &a_secret).await.expect("sent");
    assert!(r.headers().get("retry-after").is_some());
    let p = problem(r, 429, "rate_limited").await;
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("token_per_client"),
        "{p}"
    );
    // Another client from the same address: one left of the address's four
    // (the refused request counted against the address too).
    assert_eq!(ask(&from, &b, &b_secret).await.expect("sent").status(), 200);
    let p = problem(
        ask(&from, &b, &b_secret).await.expect("sent"),
        429,
        "rate_limited",
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("token_per_address"),
        "{p}"
    );
    // Another address still may.
    let other = client_from("127.0.0.6");
    assert_eq!(
        ask(&other, &b, &b_secret).await.expect("sent").status(),
        200
    );
}

async fn api_budgets_are_per_client(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.limits.api_reads = incidex_api::config::Rate::new(2, 60);
        s.limits.api_writes = incidex_api::config::Rate::new(1, 60);
    })
    .await
    else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &[], Some("FR"));
    let a = app.token_for(Role::Reporter, Some(&op)).await;
    let b = app.token_for(Role::Reporter, Some(&op)).await;
    for _ in 0..2 {
        let (status, _) = app.send(Method::GET, "/api/v1/reports", &a, None).await;
        assert_eq!(status, 200);
    }
    let r = app
        .authed(Method::GET, "/api/v1/reports", &a)
        .send()
        .await
        .expect("sent");
    assert!(r.headers().get("retry-after").is_some());
    problem(r, 429, "rate_limited").await;
    // Searches have their own budget; another client its own.
    let (status, _) = app.send(Method::GET, "/api/v1/search?q=x", &a, None).await;
    assert_eq!(status, 200);
    let (status, _) = app.send(Method::GET, "/api/v1/reports", &b, None).await;
    assert_eq!(status, 200);
    let body = json!(["Site A"]);
    let path = "/api/v1/operators/me/sensitive-terms";
    assert_eq!(app.send(Method::PUT, path, &a, Some(&body)).await.0, 200);
    assert_eq!(app.send(Method::PUT, path, &a, Some(&body)).await.0, 429);
}

/// 32 bad secrets at once with one verification slot and no wait: those
/// that find no slot are answered 503 at once (with Retry-After), nothing
/// fails, and other requests are served meanwhile.
async fn secret_verifications_are_bounded(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.limits.enabled = false;
        s.limits.verify_concurrency = Some(1);
        s.limits.verify_wait_ms = 0;
    })
    .await
    else {
        return;
    };
    let (id, _) = app.create_client(Role::Analyst, None);
    let analyst = app.token_for(Role::Analyst, None).await;
    let flood: Vec<_> = (0..32)
        .map(|_| {
            app.client
                .post(app.url("/api/v1/auth/token"))
                .json(&json!({"client_id": id, "client_secret": "wrong"}))
                .send()
        })
        .collect();
    let (answers, (status, _)) = futures_util::future::join(
        futures_util::future::join_all(flood),
        app.send(Method::GET, "/api/v1/reports", &analyst, None),
    )
    .await;
    assert_eq!(status, 200, "other requests are served");
    let mut busy = 0;
    for r in answers {
        let r = r.expect("sent");
        match r.status().as_u16() {
            401 => {}
            503 => {
                assert!(r.headers().get("retry-after").is_some());
                busy += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(busy > 0, "some found no verification slot");
}

// ------------------------------------------------------------ OAuth 2.0

async fn oauth2_client_credentials_form(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &[], Some("FR"));
    let (id, secret) = app.create_client(Role::Reporter, Some(&op));
    let form = |pairs: &[(&str, &str)]| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            s.append_pair(k, v);
        }
        s.finish()
    };
    let post = |body: String, basic: Option<(&str, &str)>| {
        let mut req = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some((u, p)) = basic {
            req = req.basic_auth(u, Some(p));
        }
        req.send()
    };
    // HTTP Basic, as OAuth 2.0 libraries send it.
    let r = post(
        form(&[("grant_type", "client_credentials")]),
        Some((&id, &secret)),
    )
    .await
    .expect("sent");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().expect("token");
    let (status, _) = app
        .send(Method::GET, "/api/v1/reports?mine=true", token, None)
        .await;
    assert_eq!(status, 200);
    // Credentials in the form, with a scope (ignored).
    let r = post(
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", "reports"),
        ]),
        None,
    )
    .await
    .expect("sent");
    assert_eq!(r.status(), 200);

    async fn oauth_error(r: reqwest::Response, status: u16, error: &str) -> Value {
        assert_eq!(r.status().as_u16(), status);
        let content_type = r.headers()["content-type"].clone();
        if content_type != "application/json" {
            panic!("{content_type:?}: {}", r.text().await.unwrap_or_default());
        }
        assert_eq!(r.headers()["cache-control"], "no-store");
        if status == 401 {
            assert_eq!(r.headers()["www-authenticate"], "Basic realm=\"incidex\"");
        }
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["error"], error, "{body}");
        assert!(body["error_description"].is_string());
        body
    }
    let wrong = post(
        form(&[("grant_type", "client_credentials")]),
        Some((&id, "wrong")),
    );
    oauth_error(wrong.await.expect("sent"), 401, "invalid_client").await;
    let none = post(form(&[("grant_type", "client_credentials")]), None);
    oauth_error(none.await.expect("sent"), 401, "invalid_client").await;
    let grant = post(form(&[("grant_type", "password")]), Some((&id, &secret)));
    oauth_error(grant.await.expect("sent"), 400, "unsupported_grant_type").await;
    let missing = post(form(&[("client_id", &id)]), None);
    oauth_error(missing.await.expect("sent"), 400, "invalid_request").await;
    let twice = post(
        "grant_type=client_credentials&grant_type=client_credentials".to_owned(),
        Some((&id, &secret)),
    );
    oauth_error(twice.await.expect("sent"), 400, "invalid_request").await;
    let both = post(
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &id),
            ("client_secret", &secret),
        ]),
        Some((&id, &secret)),
    );
    oauth_error(both.await.expect("sent"), 400, "invalid_request").await;
}

// ------------------------------------------------------------ logs

/// Everything the tracing subscriber of this test binary wrote (JSON
/// lines), captured once for all tests of the binary.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_env_filter("warn,incidex_api=info")
            .with_writer(move || Capture(writer.clone()))
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log_lines(logs: &Arc<Mutex<Vec<u8>>>, needle: &str) -> Vec<Value> {
    let bytes = logs.lock().expect("log buffer").clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter(|l| l.contains(needle))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

async fn security_events_are_logged(backend: Backend) {
    let logs = captured_logs();
    let Some(app) = TestApp::spawn_with(backend, |s| {
        lenient(s);
        s.limits.login_per_username =
            incidex_api::config::Rate::new(MAX_FAILED_LOGINS as u32 + 1, 60);
    })
    .await
    else {
        return;
    };
    let user = format!("ana-{}", backend.as_str());
    app.create_user(&user, Role::Analyst, PASSWORD);
    let outsider = client_from("127.0.0.7");
    for _ in 0..MAX_FAILED_LOGINS {
        login_as(&app, &outsider, &user, "a wrong guess").await;
    }
    // One more: locked (a failure), then one over the username's budget.
    login_as(&app, &outsider, &user, "a wrong guess").await;
    let limited = login_as(&app, &outsider, &user, "a wrong guess").await;
    assert_eq!(limited.status(), 429);
    let events = |event: &str| -> Vec<Value> {
        log_lines(&logs, &user)
            .into_iter()
            .filter(|l| l["security_event"] == event)
            .collect()
    };
    let failed = events("authentication_failed");
    assert_eq!(
        failed.len(),
        MAX_FAILED_LOGINS as usize + 1,
        "one per failure"
    );
    for line in &failed {
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["address"], "127.0.0.7");
        assert!(line["span"]["request_id"].is_string(), "{line}");
    }
    assert_eq!(events("credential_locked").len(), 1);
    assert_eq!(events("rate_limited").len(), 1);

    // A revoked client's token and secret.
    let (id, secret) = app.create_client(Role::Analyst, None);
    let token = app.token(&id, &secret).await;
    let admin = app.token_for(Role::Admin, None).await;
    let path = format!("/api/v1/admin/clients/{id}/revoke");
    assert_eq!(app.send(Method::POST, &path, &admin, None).await.0, 204);
    assert_eq!(
        app.send(Method::GET, "/api/v1/reports", &token, None)
            .await
            .0,
        401
    );
    let r = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"client_id": id, "client_secret": secret}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 401);
    let stale: Vec<Value> = log_lines(&logs, &id)
        .into_iter()
        .filter(|l| l["security_event"] == "stale_credential_used")
        .collect();
    assert_eq!(stale.len(), 2, "{stale:?}");
}

async fn incoming_request_ids_are_honoured(backend: Backend) {
    let logs = captured_logs();
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let id = format!(
        "trace-{}-{}",
        backend.as_str(),
        uuid::Uuid::new_v4().simple()
    );
    let r = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("x-request-id", &id)
        .json(&json!({"username": "nobody", "password": "x"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.headers()["x-request-id"], id.as_str());
    assert_eq!(r.status(), 401);
    let lines = log_lines(&logs, &id);
    assert!(
        lines
            .iter()
            .any(|l| l["security_event"] == "authentication_failed"
                && l["span"]["request_id"] == id.as_str()),
        "the failure is logged under the caller's request id"
    );
    // Malformed ids are replaced by a fresh one.
    for bad in ["has spaces in it", &"x".repeat(200), "semi;colon"] {
        let r = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", bad)
            .send()
            .await
            .expect("sent");
        let echoed = r.headers()["x-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned();
        assert_ne!(echoed, bad);
        assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed}");
    }
    let r = app.get("/healthz").await;
    assert!(uuid::Uuid::parse_str(r.headers()["x-request-id"].to_str().expect("ascii")).is_ok());
}

on_both_backends!(
    control_characters_are_refused_at_the_edge,
    duplicate_json_keys_are_refused,
    authentication_is_decided_before_the_body,
    parallel_guesses_are_verified_at_most_the_lockout_count,
    a_lockout_is_indistinguishable_and_spares_the_owner,
    one_address_cannot_lock_a_user_out,
    client_secrets_lock_out_like_passwords,
    token_requests_are_limited_per_client_and_address,
    api_budgets_are_per_client,
    secret_verifications_are_bounded,
    oauth2_client_credentials_form,
    security_events_are_logged,
    incoming_request_ids_are_honoured,
);
