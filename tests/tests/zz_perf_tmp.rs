use incidex_schema::db::reports::{self, ReportRow, now};
use incidex_schema::identity::Role;
use incidex_tests::{Backend, TestApp};
use reqwest::Method;
use serde_json::Value;
use std::time::Instant;

#[actix_web::test]
async fn perf() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("app");
    let op = app.create_operator("Acme Mobile", &[], None);
    let reader = app.token_for(Role::Reporter, Some(&op)).await;
    let analyst = app.token_for(Role::Analyst, None).await;
    let records = incidex_schema::corpus::parse_jsonl(include_str!(
        "../../schema/data/telecom/incidents.jsonl"
    ))
    .expect("corpus");
    let contents: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let mut v = serde_json::to_value(r.to_report_input()).expect("json");
            let lessons = v["lessons"].as_array().cloned().unwrap_or_default();
            let mut l: Vec<Value> = lessons;
            while l.len() < 4 {
                l.push(Value::String(format!(
                    "Supervise the alarms of system {}.",
                    l.len()
                )));
            }
            v["lessons"] = Value::Array(l);
            let c = incidex_schema::report::parse_report(v).expect("valid");
            (
                serde_json::to_string(&c).expect("ser"),
                c.tlp().as_str().to_owned(),
            )
        })
        .collect();
    let n = 3000;
    let pool = app.state.pool.clone();
    let app_index = app.state.index.clone().expect("index");
    let t = Instant::now();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().expect("conn");
        use diesel::Connection;
        conn.transaction::<_, incidex_api::error::ApiError, _>(|conn| {
            for i in 0..n {
                let (content, _) = &contents[i % contents.len()];
                let at = now();
                let row = ReportRow {
                    id: format!("r{i:05}"),
                    owner_key: "k".into(),
                    status: "published".into(),
                    tlp: if i % 5 == 0 {
                        "amber".into()
                    } else {
                        "green".into()
                    },
                    revision: 1,
                    content: content.clone(),
                    created_at: at,
                    updated_at: at,
                    published_at: Some(at),
                };
                reports::insert_report(conn, &row)?;
                incidex_api::lessons::sync_report_lessons(conn, &row)?;
            }
            Ok(())
        })
        .expect("load");
        eprintln!("loaded {n} reports in {:?}", t.elapsed());
        // Let the follower index everything (and cluster on the way).
        let index = app_index.clone();
        let t2 = Instant::now();
        while index.handle.current().num_docs() < n as u64 {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_secs(3));
        eprintln!("indexed in {:?}", t2.elapsed());
        let t = Instant::now();
        let s = incidex_api::clustering::recluster(
            &mut conn,
            incidex_api::clustering::ReclusterMode::Now,
        )
        .expect("recluster");
        eprintln!("recluster {s:?} in {:?}", t.elapsed());
    })
    .await
    .expect("join");
    for (name, path, token) in [
        ("lessons, member", "/api/v1/lessons", &reader),
        ("lessons, analyst", "/api/v1/lessons", &analyst),
        ("lessons q=alarms", "/api/v1/lessons?q=alarms", &analyst),
        (
            "lessons q phrase + filter",
            "/api/v1/lessons?q=%22emergency%20calls%22&service=voice",
            &analyst,
        ),
        (
            "lessons sort=endorsements",
            "/api/v1/lessons?sort=endorsements",
            &analyst,
        ),
        ("clusters, analyst", "/api/v1/clusters", &analyst),
        ("clusters, member", "/api/v1/clusters", &reader),
    ] {
        for round in 0..3 {
            let t = Instant::now();
            let r = app
                .authed(Method::GET, path, token)
                .send()
                .await
                .expect("sent");
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.expect("json");
            eprintln!("{name} #{round}: {:?} total={}", t.elapsed(), body["total"]);
        }
    }
}
