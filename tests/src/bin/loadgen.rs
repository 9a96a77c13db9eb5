//! `loadgen`: a filing load generator for a running incidex server.
//!
//! It exchanges an API client's credentials for a token, then runs
//! `--concurrency` workers that each loop: `POST /api/v1/reports` with a
//! report from the telecom corpus, then `POST /api/v1/reports/{id}/publish`.
//! One *filing* is both steps succeeding. With `--one-request` a filing is
//! one `POST /api/v1/reports?publish=true` (file and publish in one
//! request and transaction). It prints filings per second and
//! latency percentiles (per filing and per step), errors by step and status,
//! and finally one machine-readable JSON line (starting with `{"loadgen"`).
//!
//! Bounded: it stops after `--duration-secs` and/or `--filings`, whichever
//! comes first, and only talks to loopback addresses.
//!
//! ```text
//! loadgen --url http://127.0.0.1:8080 --client-id ic_… --client-secret … \
//!         [--concurrency 32] [--duration-secs 20] [--filings N] [--warmup-secs 3]
//! ```

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const USAGE: &str = "\
loadgen: file and publish reports against a running incidex server (loopback only)

usage: loadgen --url URL --client-id ID --client-secret SECRET [options]

  --url URL               base URL, e.g. http://127.0.0.1:8080 (loopback only)
  --client-id ID          reporter API client id    (or LOADGEN_CLIENT_ID)
  --client-secret SECRET  reporter API client secret (or LOADGEN_CLIENT_SECRET)
  --concurrency N         concurrent workers, each one filing at a time [32]
  --duration-secs S       measured duration [20; at most 600]
  --filings N             stop after N measured filings (with no --duration-secs: no time
                          limit beyond 600 s)
  --warmup-secs S         unmeasured warm-up before the measurement [3]
  --no-idempotency-key    do not send an Idempotency-Key header (default: a fresh key per
                          create and per publish, as a retrying client would)
  --one-request           file and publish with one POST /api/v1/reports?publish=true
                          instead of a create and a publish
  --threads N             client runtime threads [available cores]
  --label TEXT            label echoed in the JSON result line
  --help                  this text
";

/// Upper bounds, so a typo cannot turn into an hour-long run.
const MAX_DURATION_SECS: f64 = 600.0;
const MAX_WARMUP_SECS: f64 = 60.0;
const MAX_CONCURRENCY: usize = 1024;
const MAX_FILINGS: u64 = 10_000_000;
/// How many failures are printed in full.
const MAX_REPORTED_ERRORS: u32 = 10;
/// Per-request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
struct Args {
    url: String,
    client_id: String,
    client_secret: String,
    concurrency: usize,
    duration_secs: f64,
    filings: Option<u64>,
    warmup_secs: f64,
    idempotency_key: bool,
    one_request: bool,
    threads: Option<usize>,
    label: Option<String>,
}

fn parse_num<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("{flag}: `{value}` is not a valid number"))
}

fn parse_args(raw: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let mut url = None;
    let mut client_id = std::env::var("LOADGEN_CLIENT_ID").ok();
    let mut client_secret = std::env::var("LOADGEN_CLIENT_SECRET").ok();
    let mut concurrency = 32usize;
    let mut duration_secs: Option<f64> = None;
    let mut filings: Option<u64> = None;
    let mut warmup_secs = 3.0f64;
    let mut idempotency_key = true;
    let mut one_request = false;
    let mut threads = None;
    let mut label = None;

    let mut it = raw.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--no-idempotency-key" => {
                idempotency_key = false;
                continue;
            }
            "--one-request" => {
                one_request = true;
                continue;
            }
            _ => {}
        }
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--client-id" => client_id = Some(value()?),
            "--client-secret" => client_secret = Some(value()?),
            "--concurrency" => concurrency = parse_num(&flag, &value()?)?,
            "--duration-secs" => duration_secs = Some(parse_num(&flag, &value()?)?),
            "--filings" => filings = Some(parse_num(&flag, &value()?)?),
            "--warmup-secs" => warmup_secs = parse_num(&flag, &value()?)?,
            "--threads" => threads = Some(parse_num(&flag, &value()?)?),
            "--label" => label = Some(value()?),
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }

    let url = url.ok_or("--url is required")?;
    let client_id = client_id.ok_or("--client-id is required")?;
    let client_secret = client_secret.ok_or("--client-secret is required")?;
    if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
        return Err(format!("--concurrency must be 1-{MAX_CONCURRENCY}"));
    }
    let duration_secs = match (duration_secs, filings) {
        (Some(d), _) => d,
        (None, Some(_)) => MAX_DURATION_SECS,
        (None, None) => 20.0,
    };
    if !(duration_secs > 0.0 && duration_secs <= MAX_DURATION_SECS) {
        return Err(format!(
            "--duration-secs must be in (0, {MAX_DURATION_SECS}]"
        ));
    }
    if !(0.0..=MAX_WARMUP_SECS).contains(&warmup_secs) {
        return Err(format!("--warmup-secs must be in [0, {MAX_WARMUP_SECS}]"));
    }
    if let Some(n) = filings
        && !(1..=MAX_FILINGS).contains(&n)
    {
        return Err(format!("--filings must be 1-{MAX_FILINGS}"));
    }
    if threads == Some(0) {
        return Err("--threads must be at least 1".into());
    }
    Ok(Some(Args {
        url: url.trim_end_matches('/').to_owned(),
        client_id,
        client_secret,
        concurrency,
        duration_secs,
        filings,
        warmup_secs,
        idempotency_key,
        one_request,
        threads,
        label,
    }))
}

/// Refuses anything but a plain-HTTP(S) loopback URL.
fn check_loopback(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("--url `{url}`: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "--url `{url}`: only http:// and https:// are supported"
        ));
    }
    let host = parsed.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "--url `{url}`: loadgen only targets loopback addresses (127.0.0.0/8, ::1, localhost)"
        ))
    }
}

/// The request bodies: every corpus record as a filing, serialized once.
fn corpus_bodies() -> Result<Vec<&'static str>, String> {
    let records = incidex_schema::corpus::parse_jsonl(include_str!(
        "../../../schema/data/telecom/incidents.jsonl"
    ))
    .map_err(|e| format!("telecom corpus: {e}"))?;
    if records.is_empty() {
        return Err("telecom corpus is empty".into());
    }
    records
        .iter()
        .map(|r| {
            serde_json::to_string(&r.to_report_input())
                .map(|s| &*Box::leak(s.into_boxed_str()))
                .map_err(|e| format!("cannot serialize corpus record {}: {e}", r.id))
        })
        .collect()
}

/// One measured filing, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Sample {
    create_us: u32,
    publish_us: u32,
    total_us: u32,
}

#[derive(Debug, Default)]
struct WorkerResult {
    samples: Vec<Sample>,
    /// "create 500", "publish transport", ... -> count (measured window only).
    errors: BTreeMap<String, u64>,
    /// Completion time of the last measured filing.
    last_done: Option<Instant>,
    warmup_filings: u64,
}

struct Shared {
    client: reqwest::Client,
    base: String,
    token: String,
    bodies: Vec<&'static str>,
    /// Round-robin over the corpus, across workers.
    next_body: AtomicUsize,
    idempotency_key: bool,
    one_request: bool,
    /// Measurement starts here; filings started earlier are warm-up.
    measure_from: Instant,
    /// No filing starts at or after this instant.
    stop_at: Instant,
    /// Measured filings claimed so far (for `--filings`).
    claimed: AtomicU64,
    limit: Option<u64>,
    stop: AtomicBool,
    /// Failures printed so far (the first few are shown in full).
    reported: AtomicU32,
}

enum StepError {
    Status(u16, String),
    Transport(String),
}

impl StepError {
    fn key(&self, step: &str) -> String {
        match self {
            StepError::Status(code, _) => format!("{step} {code}"),
            StepError::Transport(_) => format!("{step} transport"),
        }
    }

    fn detail(&self) -> &str {
        match self {
            StepError::Status(_, d) | StepError::Transport(d) => d,
        }
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

/// Sends one POST; returns the response's `Location` header on success.
async fn post(
    shared: &Shared,
    path: &str,
    body: Option<&'static str>,
    expect: u16,
) -> Result<Option<String>, StepError> {
    let mut req = shared
        .client
        .post(format!("{}{path}", shared.base))
        .bearer_auth(&shared.token);
    if let Some(body) = body {
        req = req.header("content-type", "application/json").body(body);
    }
    if shared.idempotency_key {
        req = req.header("idempotency-key", uuid::Uuid::new_v4().simple().to_string());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| StepError::Transport(e.to_string()))?;
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    // Read the whole body so that the connection goes back to the pool.
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| StepError::Transport(e.to_string()))?;
    if status == expect {
        Ok(location)
    } else {
        let detail = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        Err(StepError::Status(status, detail))
    }
}

async fn worker(shared: Arc<Shared>, index: usize) -> WorkerResult {
    let mut out = WorkerResult::default();
    loop {
        let started = Instant::now();
        if started >= shared.stop_at || shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let measured = started >= shared.measure_from;
        if measured
            && let Some(limit) = shared.limit
            && shared.claimed.fetch_add(1, Ordering::Relaxed) >= limit
        {
            shared.stop.store(true, Ordering::Relaxed);
            break;
        }
        let n = shared.next_body.fetch_add(1, Ordering::Relaxed);
        let body = shared.bodies[n % shared.bodies.len()];

        let outcome = async {
            if shared.one_request {
                post(&shared, "/api/v1/reports?publish=true", Some(body), 201)
                    .await
                    .map_err(|e| ("create+publish", e))?;
                let done = Instant::now();
                return Ok::<_, (&str, StepError)>((done, done));
            }
            let location = post(&shared, "/api/v1/reports", Some(body), 201)
                .await
                .map_err(|e| ("create", e))?;
            let created = Instant::now();
            let location = location.ok_or((
                "create",
                StepError::Status(201, "no Location header".into()),
            ))?;
            let id = location.rsplit('/').next().unwrap_or_default().to_owned();
            post(&shared, &format!("/api/v1/reports/{id}/publish"), None, 200)
                .await
                .map_err(|e| ("publish", e))?;
            Ok::<_, (&str, StepError)>((created, Instant::now()))
        }
        .await;

        match outcome {
            Ok((created, done)) => {
                if measured {
                    out.samples.push(Sample {
                        create_us: micros(created - started),
                        publish_us: micros(done - created),
                        total_us: micros(done - started),
                    });
                    out.last_done = Some(done);
                } else {
                    out.warmup_filings += 1;
                }
            }
            Err((step, e)) => {
                if measured {
                    *out.errors.entry(e.key(step)).or_default() += 1;
                    out.last_done = Some(Instant::now());
                }
                if shared.reported.fetch_add(1, Ordering::Relaxed) < MAX_REPORTED_ERRORS {
                    eprintln!("worker {index}: {step} failed: {}", e.detail());
                }
                if matches!(e, StepError::Transport(_)) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    out
}

#[derive(Debug, serde::Serialize)]
struct Percentiles {
    mean: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

/// Percentiles in milliseconds (nearest rank).
fn percentiles(mut values: Vec<u32>) -> Option<Percentiles> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = |p: f64| {
        let i = ((p / 100.0) * values.len() as f64).ceil() as usize;
        f64::from(values[i.clamp(1, values.len()) - 1]) / 1000.0
    };
    let sum: f64 = values.iter().map(|&v| f64::from(v)).sum();
    Some(Percentiles {
        mean: sum / values.len() as f64 / 1000.0,
        p50: rank(50.0),
        p90: rank(90.0),
        p99: rank(99.0),
        p999: rank(99.9),
        max: f64::from(values[values.len() - 1]) / 1000.0,
    })
}

async fn fetch_token(
    client: &reqwest::Client,
    args: &Args,
) -> Result<(String, Option<u64>), String> {
    let resp = client
        .post(format!("{}/api/v1/auth/token", args.url))
        .json(&json!({"client_id": args.client_id, "client_secret": args.client_secret}))
        .send()
        .await
        .map_err(|e| format!("token request failed: {e}"))?;
    let status = resp.status();
    let body: Value = resp
        .json()
        .await
        .map_err(|e| format!("token response is not JSON: {e}"))?;
    if !status.is_success() {
        return Err(format!("token request refused ({status}): {body}"));
    }
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or("token response has no access_token")?
        .to_owned();
    Ok((token, body.get("expires_in").and_then(Value::as_u64)))
}

async fn run(args: Args) -> Result<bool, String> {
    check_loopback(&args.url)?;
    let bodies = corpus_bodies()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;

    let (token, expires_in) = fetch_token(&client, &args).await?;
    let needed = args.warmup_secs + args.duration_secs + REQUEST_TIMEOUT.as_secs_f64();
    if let Some(ttl) = expires_in
        && (ttl as f64) < needed
    {
        return Err(format!(
            "the token lives {ttl} s but the run may take {needed:.0} s; shorten --duration-secs"
        ));
    }

    let begin = Instant::now();
    let measure_from = begin + Duration::from_secs_f64(args.warmup_secs);
    let shared = Arc::new(Shared {
        client,
        base: args.url.clone(),
        token,
        bodies,
        next_body: AtomicUsize::new(0),
        idempotency_key: args.idempotency_key,
        one_request: args.one_request,
        measure_from,
        stop_at: measure_from + Duration::from_secs_f64(args.duration_secs),
        claimed: AtomicU64::new(0),
        limit: args.filings,
        stop: AtomicBool::new(false),
        reported: AtomicU32::new(0),
    });
    eprintln!(
        "loadgen: {} workers against {} (warm-up {} s, then {}), {} corpus bodies, idempotency keys {}",
        args.concurrency,
        args.url,
        args.warmup_secs,
        match args.filings {
            Some(n) if args.duration_secs >= MAX_DURATION_SECS => format!("at most {n} filings"),
            Some(n) => format!("at most {n} filings or {} s", args.duration_secs),
            None => format!("{} s", args.duration_secs),
        },
        shared.bodies.len(),
        if args.idempotency_key { "on" } else { "off" },
    );

    let handles: Vec<_> = (0..args.concurrency)
        .map(|i| tokio::spawn(worker(shared.clone(), i)))
        .collect();
    let mut results = Vec::with_capacity(handles.len());
    for h in handles {
        results.push(h.await.map_err(|e| format!("worker panicked: {e}"))?);
    }

    let mut samples = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut last_done = None::<Instant>;
    let mut warmup = 0;
    for r in results {
        samples.extend(r.samples);
        for (k, v) in r.errors {
            *errors.entry(k).or_default() += v;
        }
        last_done = last_done.max(r.last_done);
        warmup += r.warmup_filings;
    }
    let elapsed = last_done
        .map(|t| t.saturating_duration_since(measure_from).as_secs_f64())
        .unwrap_or(0.0);
    let ok = samples.len() as u64;
    let failed: u64 = errors.values().sum();
    let rate = |n: u64| {
        if elapsed > 0.0 {
            n as f64 / elapsed
        } else {
            0.0
        }
    };
    let filing = percentiles(samples.iter().map(|s| s.total_us).collect());
    let create = percentiles(samples.iter().map(|s| s.create_us).collect());
    let publish = percentiles(samples.iter().map(|s| s.publish_us).collect());

    println!();
    println!(
        "filings: {ok} ok, {failed} failed in {elapsed:.2} s (after {warmup} warm-up filings)"
    );
    let requests_per_filing = if args.one_request { 1 } else { 2 };
    println!(
        "throughput: {:.1} filings/s ({:.1} HTTP requests/s)",
        rate(ok),
        rate(requests_per_filing * ok)
    );
    println!("latency ms      mean      p50      p90      p99    p99.9      max");
    for (name, p) in [
        ("filing", &filing),
        ("create", &create),
        ("publish", &publish),
    ] {
        if let Some(p) = p {
            println!(
                "  {name:<9} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                p.mean, p.p50, p.p90, p.p99, p.p999, p.max
            );
        }
    }
    if errors.is_empty() {
        println!("errors: none");
    } else {
        println!("errors by step and status:");
        for (k, v) in &errors {
            println!("  {k:<20} {v}");
        }
    }
    let result = json!({
        "loadgen": "filing",
        "label": args.label,
        "url": args.url,
        "concurrency": args.concurrency,
        "idempotency_keys": args.idempotency_key,
        "warmup_filings": warmup,
        "elapsed_secs": elapsed,
        "filings": ok,
        "failed": failed,
        "filings_per_sec": rate(ok),
        "requests_per_sec": rate(requests_per_filing * ok),
        "one_request": args.one_request,
        "latency_ms": {"filing": filing, "create": create, "publish": publish},
        "errors": errors,
    });
    println!("{result}");
    Ok(ok > 0 && failed == 0)
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = args.threads {
        builder.worker_threads(n);
    }
    let runtime = match builder.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("loadgen: some filings failed (or none succeeded)");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Option<Args>, String> {
        parse_args(list.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn parses_flags_and_defaults() {
        let a = args(&[
            "--url=http://127.0.0.1:9/",
            "--client-id",
            "ic_x",
            "--client-secret",
            "s",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.url, "http://127.0.0.1:9");
        assert_eq!(a.concurrency, 32);
        assert_eq!(a.duration_secs, 20.0);
        assert!(a.idempotency_key);
        assert!(args(&["--help"]).unwrap().is_none());
        assert!(args(&["--url", "http://127.0.0.1:9", "--bogus"]).is_err());
    }

    #[test]
    fn only_loopback_targets() {
        assert!(check_loopback("http://127.0.0.1:8080").is_ok());
        assert!(check_loopback("http://localhost:8080").is_ok());
        assert!(check_loopback("http://[::1]:8080").is_ok());
        assert!(check_loopback("http://10.0.0.1:8080").is_err());
        assert!(check_loopback("http://example.com").is_err());
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let p = percentiles((1..=100).map(|v| v * 1000).collect()).unwrap();
        assert_eq!(p.p50, 50.0);
        assert_eq!(p.p90, 90.0);
        assert_eq!(p.p99, 99.0);
        assert_eq!(p.max, 100.0);
        assert!(percentiles(Vec::new()).is_none());
    }

    #[test]
    fn every_corpus_record_serializes() {
        assert!(corpus_bodies().unwrap().len() >= 32);
    }
}
