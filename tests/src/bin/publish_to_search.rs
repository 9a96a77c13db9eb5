//! Measures how long a published report takes to become searchable:
//! files and publishes reports one at a time against a running server and
//! polls `GET /api/v1/search` for a marker unique to each, recording the
//! time from the publish response to the first search that finds it.
//!
//! Usage: publish_to_search URL REPORTER_ID REPORTER_SECRET READER_ID READER_SECRET [N]
//! (loopback servers only; N defaults to 50, each wait is capped at 10 s).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

async fn token(
    client: &reqwest::Client,
    url: &str,
    id: &str,
    secret: &str,
) -> Result<String, String> {
    let r: Value = client
        .post(format!("{url}/api/v1/auth/token"))
        .json(&json!({"client_id": id, "client_secret": secret}))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    r["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no token: {r}"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        return Err(
            "usage: publish_to_search URL REPORTER_ID REPORTER_SECRET READER_ID READER_SECRET [N]"
                .into(),
        );
    }
    let url = args[0].trim_end_matches('/').to_owned();
    let n: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(50);
    let client = reqwest::Client::new();
    let reporter = token(&client, &url, &args[1], &args[2]).await?;
    let reader = token(&client, &url, &args[3], &args[4]).await?;
    let mut latencies = Vec::new();
    for i in 0..n {
        let marker = format!("probe{}x{i}", std::process::id());
        let mut body = incidex_schema::report::report_input_example();
        body["summary"] = json!(format!(
            "{} Marker {marker}.",
            body["summary"].as_str().unwrap_or("")
        ));
        let created: Value = client
            .post(format!("{url}/api/v1/reports"))
            .bearer_auth(&reporter)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let id = created["id"]
            .as_str()
            .ok_or_else(|| format!("create failed: {created}"))?;
        let published = client
            .post(format!("{url}/api/v1/reports/{id}/publish"))
            .bearer_auth(&reporter)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !published.status().is_success() {
            return Err(format!("publish failed: {}", published.status()));
        }
        let start = Instant::now();
        loop {
            let found: Value = client
                .get(format!(
                    "{url}/api/v1/search?q={marker}&facets=false&limit=1"
                ))
                .bearer_auth(&reader)
                .send()
                .await
                .map_err(|e| e.to_string())?
                .json()
                .await
                .map_err(|e| e.to_string())?;
            if found["total"] == 1 {
                latencies.push(start.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if start.elapsed() > Duration::from_secs(10) {
                return Err(format!("report {id} not searchable after 10 s"));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "publish -> searchable over {n} reports: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}
