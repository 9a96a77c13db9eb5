//! Authentication and roles through the real HTTP API, on both backends.

use incidex_api::auth::Claims;
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp, on_both_backends, problem};
use reqwest::Method;
use serde_json::{Value, json};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn token_exchange_and_bad_credentials(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &["Acme"], Some("FR"));
    let (id, secret) = app.create_client(Role::Reporter, Some(&op));

    let response = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"client_id": id, "client_secret": secret}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let token = body["access_token"].as_str().expect("token");
    let claims = app.state.tokens.validate(token).expect("valid token");
    assert_eq!(claims.sub, id);
    assert_eq!(claims.op.as_deref(), Some(op.as_str()));
    assert_eq!(claims.roles, vec![Role::Reporter]);
    assert_eq!(
        (claims.iss.as_str(), claims.aud.as_str()),
        ("incidex", "incidex-api")
    );

    for (client_id, client_secret) in [(id.as_str(), "wrong"), ("ic_unknown", secret.as_str())] {
        let response = app
            .client
            .post(app.url("/api/v1/auth/token"))
            .json(&json!({"client_id": client_id, "client_secret": client_secret}))
            .send()
            .await
            .expect("sent");
        assert!(response.headers().get("www-authenticate").is_some());
        let body = problem(response, 401, "unauthenticated").await;
        assert_eq!(
            body["detail"], "invalid credentials",
            "no hint which part was wrong"
        );
    }

    // The JWK set publishes the key the token names.
    let jwks: Value = app.get("/api/v1/keys").await.json().await.expect("json");
    assert_eq!(jwks["keys"][0]["kid"], app.state.registry.keys.kid);
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
}

async fn bad_tokens_are_rejected(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let (id, _) = app.create_client(Role::Admin, None);
    let good = Claims {
        sub: id,
        op: None,
        roles: vec![Role::Admin],
        kind: "client".into(),
        iss: "incidex".into(),
        aud: "incidex-api".into(),
        iat: now(),
        nbf: now(),
        exp: now() + 600,
    };
    let sign = |c: &Claims| app.state.tokens.sign(c).expect("sign");
    let ok = app
        .authed(Method::GET, "/api/v1/admin/operators", &sign(&good))
        .send()
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200, "the untouched token works");

    let expired = Claims {
        iat: now() - 3600,
        nbf: now() - 3600,
        exp: now() - 120,
        ..good.clone()
    };
    let early = Claims {
        nbf: now() + 3600,
        exp: now() + 7200,
        ..good.clone()
    };
    let issuer = Claims {
        iss: "evil".into(),
        ..good.clone()
    };
    let audience = Claims {
        aud: "other".into(),
        ..good.clone()
    };
    let mut hs_header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs_header.kid = Some(app.state.registry.keys.kid.clone());
    let wrong_alg = jsonwebtoken::encode(
        &hs_header,
        &good,
        &jsonwebtoken::EncodingKey::from_secret(
            app.state.registry.keys.public_key_b64().as_bytes(),
        ),
    )
    .expect("encode");
    let good_token = sign(&good);
    let mut parts: Vec<String> = good_token.split('.').map(str::to_owned).collect();
    let forged = Claims {
        sub: "someone-else".into(),
        ..good.clone()
    };
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        serde_json::to_vec(&forged).expect("json"),
    );
    let tampered = parts.join(".");

    for (what, token, detail) in [
        ("expired", sign(&expired), "token is expired"),
        ("not yet valid", sign(&early), "token is not valid yet"),
        ("wrong issuer", sign(&issuer), "token has the wrong issuer"),
        (
            "wrong audience",
            sign(&audience),
            "token has the wrong audience",
        ),
        (
            "wrong algorithm",
            wrong_alg,
            "token signature or algorithm is invalid",
        ),
        (
            "tampered",
            tampered,
            "token signature or algorithm is invalid",
        ),
        ("garbage", "abc.def.ghi".to_owned(), "token is malformed"),
    ] {
        let response = app
            .authed(Method::GET, "/api/v1/admin/operators", &token)
            .send()
            .await
            .expect("sent");
        assert!(
            response.headers().get("www-authenticate").is_some(),
            "{what}"
        );
        let body = problem(response, 401, "unauthenticated").await;
        assert_eq!(body["detail"], detail, "{what}");
    }
    let missing = app.get("/api/v1/admin/operators").await;
    problem(missing, 401, "unauthenticated").await;
}

async fn revoked_clients_stop_working_at_once(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let admin = app.token_for(Role::Admin, None).await;
    let op = app.create_operator("Acme Mobile", &[], None);
    let created: Value = app
        .authed(Method::POST, "/api/v1/admin/clients", &admin)
        .json(&json!({"operator": "Acme Mobile", "role": "reporter"}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(created["operator_id"], op);
    let id = created["client_id"].as_str().expect("id").to_owned();
    let secret = created["client_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let reporter = app.token(&id, &secret).await;
    let before = app
        .authed(Method::GET, "/api/v1/admin/operators", &reporter)
        .send()
        .await
        .expect("sent");
    problem(before, 403, "forbidden").await;

    let revoked = app
        .authed(
            Method::POST,
            &format!("/api/v1/admin/clients/{id}/revoke"),
            &admin,
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(revoked.status(), 204);
    let after = app
        .authed(Method::GET, "/api/v1/admin/operators", &reporter)
        .send()
        .await
        .expect("sent");
    let body = problem(after, 401, "unauthenticated").await;
    assert!(body["detail"].as_str().expect("detail").contains("revoked"));
    let exchange = app
        .client
        .post(app.url("/api/v1/auth/token"))
        .json(&json!({"client_id": id, "client_secret": secret}))
        .send()
        .await
        .expect("sent");
    problem(exchange, 401, "unauthenticated").await;

    let listed: Value = app
        .authed(Method::GET, "/api/v1/admin/clients", &admin)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let entry = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["client_id"] == id.as_str())
        .expect("listed");
    assert_eq!(entry["revoked"], true);
    assert!(entry.get("client_secret").is_none() && entry.get("secret_hash").is_none());
}

/// A revocation made outside this server (another replica, or
/// `incidex admin revoke-client`) reaches it through the database: tokens
/// this server has already verified stop working too.
async fn revocations_elsewhere_take_effect(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &[], None);
    let (id, secret) = app.create_client(Role::Reporter, Some(&op));
    let token = app.token(&id, &secret).await;
    for _ in 0..3 {
        let (status, body) = app
            .send(Method::GET, "/api/v1/reports?mine=true", &token, None)
            .await;
        assert_eq!(status, 200, "{body}");
    }
    {
        let mut conn = app.state.registry.pool.get().expect("connection");
        incidex_registry::members::revoke_client(&mut conn, &id).expect("revoked");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (status, body) = app
            .send(Method::GET, "/api/v1/reports?mine=true", &token, None)
            .await;
        if status == 401 {
            assert_eq!(body["code"], "unauthenticated");
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "a client revoked in the database still works"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn admin_routes_need_the_admin_role(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let op = app.create_operator("Acme Mobile", &[], None);
    let admin = app.token_for(Role::Admin, None).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    let reporter = app.token_for(Role::Reporter, Some(&op)).await;
    let routes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/api/v1/admin/operators", None),
        (
            Method::POST,
            "/api/v1/admin/operators",
            Some(json!({"name": "Beta Telecom", "aliases": ["Beta"], "country": "de"})),
        ),
        (Method::GET, "/api/v1/admin/clients", None),
        (
            Method::POST,
            "/api/v1/admin/clients",
            Some(json!({"role": "analyst"})),
        ),
        (Method::GET, "/api/v1/admin/users", None),
        (
            Method::POST,
            "/api/v1/admin/users",
            Some(
                json!({"username": "alice", "role": "analyst", "password": "a long enough password"}),
            ),
        ),
    ];
    for (method, path, body) in &routes {
        for (who, token) in [("analyst", &analyst), ("reporter", &reporter)] {
            let mut req = app.authed(method.clone(), path, token);
            if let Some(b) = body {
                req = req.json(b);
            }
            problem(req.send().await.expect("sent"), 403, "forbidden").await;
            let _ = who;
        }
        let mut anonymous = app.client.request(method.clone(), app.url(path));
        if let Some(b) = body {
            anonymous = anonymous.json(b);
        }
        problem(
            anonymous.send().await.expect("sent"),
            401,
            "unauthenticated",
        )
        .await;
        let mut req = app.authed(method.clone(), path, &admin);
        if let Some(b) = body {
            req = req.json(b);
        }
        let response = req.send().await.expect("sent");
        let expected = if *method == Method::POST { 201 } else { 200 };
        assert_eq!(response.status(), expected, "{method} {path} as admin");
    }
    let ops: Value = app
        .authed(Method::GET, "/api/v1/admin/operators", &admin)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let beta = ops["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|o| o["name"] == "Beta Telecom")
        .expect("created");
    assert_eq!(beta["country"], "DE");
    assert_eq!(beta["aliases"], json!(["Beta"]));

    // Admin input is validated field by field.
    let bad = app
        .authed(Method::POST, "/api/v1/admin/operators", &admin)
        .json(&json!({"name": " ", "aliases": ["x".repeat(101)], "country": "France"}))
        .send()
        .await
        .expect("sent");
    let body = problem(bad, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().expect("field"))
        .collect();
    assert_eq!(fields, vec!["name", "aliases[0]", "country"]);
    let dup = app
        .authed(Method::POST, "/api/v1/admin/operators", &admin)
        .json(&json!({"name": "Acme Mobile"}))
        .send()
        .await
        .expect("sent");
    problem(dup, 409, "conflict").await;
    let no_op = app
        .authed(Method::POST, "/api/v1/admin/clients", &admin)
        .json(&json!({"role": "reporter"}))
        .send()
        .await
        .expect("sent");
    let body = problem(no_op, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "operator");
}

async fn users_log_in_and_are_locked_out_after_failures(backend: Backend) {
    // Room for the failures of one address, to reach the user's lockout.
    let Some(app) = TestApp::spawn_with(backend, |s| {
        s.limits.failures_per_address = incidex_api::config::Rate::new(100, 60)
    })
    .await
    else {
        return;
    };
    app.create_user("analyst", Role::Analyst, "correct horse battery staple");
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.8".parse::<std::net::IpAddr>().expect("ip"))
        .build()
        .expect("client");
    let login = |client: &reqwest::Client, password: &'static str| {
        client
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"username": "analyst", "password": password}))
            .send()
    };
    let ok = login(&app.client, "correct horse battery staple")
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
    let token: Value = ok.json().await.expect("json");
    let claims = app
        .state
        .tokens
        .validate(token["access_token"].as_str().expect("token"))
        .expect("valid");
    assert_eq!(claims.roles, vec![Role::Analyst]);
    for _ in 0..5 {
        problem(
            login(&elsewhere, "wrong password").await.expect("sent"),
            401,
            "unauthenticated",
        )
        .await;
    }
    // Locked: even the right password is refused from there, answered
    // like a wrong one (nothing tells that the account is locked)...
    let body = problem(
        login(&elsewhere, "correct horse battery staple")
            .await
            .expect("sent"),
        401,
        "unauthenticated",
    )
    .await;
    assert_eq!(body["detail"], "invalid credentials");
    // ...but not from where the user signed in before.
    let ok = login(&app.client, "correct horse battery staple")
        .await
        .expect("sent");
    assert_eq!(ok.status(), 200);
}

async fn framework_errors_are_problems(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |s| s.max_body_bytes = 4096).await else {
        return;
    };
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/token"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    problem(
        post(b"{\"client_id\": ".to_vec(), "application/json")
            .await
            .expect("sent"),
        400,
        "malformed_json",
    )
    .await;
    problem(
        post(b"client_id=x".to_vec(), "text/plain")
            .await
            .expect("sent"),
        415,
        "unsupported_media_type",
    )
    .await;
    let big = serde_json::to_vec(&json!({"client_id": "x".repeat(5000), "client_secret": "y"}))
        .expect("json");
    problem(
        post(big, "application/json").await.expect("sent"),
        413,
        "payload_too_large",
    )
    .await;
    let body = problem(
        post(
            b"{\"client_id\": \"a\", \"client_secret\": \"b\", \"scope\": \"all\"}".to_vec(),
            "application/json",
        )
        .await
        .expect("sent"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "scope");
    assert_eq!(body["errors"][0]["code"], "unknown_field");
    let body = problem(
        post(b"{\"client_id\": \"a\"}".to_vec(), "application/json")
            .await
            .expect("sent"),
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "client_secret");
    assert_eq!(body["errors"][0]["code"], "required");
}

on_both_backends!(
    token_exchange_and_bad_credentials,
    bad_tokens_are_rejected,
    revoked_clients_stop_working_at_once,
    revocations_elsewhere_take_effect,
    admin_routes_need_the_admin_role,
    users_log_in_and_are_locked_out_after_failures,
    framework_errors_are_problems,
);
