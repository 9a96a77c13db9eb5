//! Structured logs: tracing with JSON (or text) output, one root span per
//! request carrying its request id, and one "request completed" event per
//! request with method, route, status and latency. Metrics: the process's
//! Prometheus recorder (the `metrics` facade, which the registry records
//! through too), with a latency histogram per route.

use std::sync::OnceLock;
use std::time::Instant;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Logs go to stdout; `RUST_LOG`, when set,
/// overrides the configured level.
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true);
    // try_init: a second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Root span builder: the default fields plus a completion event.
#[derive(Debug)]
pub struct RequestSpan;

struct StartedAt(Instant);

/// The request's id: a well-formed incoming `X-Request-Id` (1 to 128
/// visible ASCII characters from `A-Za-z0-9._:-`), else a new UUID. It is
/// on every log line of the request and echoed in the response.
#[derive(Debug, Clone)]
pub struct RequestIdValue(pub String);

/// The largest incoming request id honoured.
pub const MAX_REQUEST_ID: usize = 128;

/// A well-formed incoming request id, if the request carries one.
pub fn incoming_request_id(request: &actix_web::HttpRequest) -> Option<String> {
    let value = request.headers().get("x-request-id")?.to_str().ok()?.trim();
    let ok = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    ok.then(|| value.to_owned())
}

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(StartedAt(Instant::now()));
        let request_id = incoming_request_id(request.request())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        request
            .extensions_mut()
            .insert(RequestIdValue(request_id.clone()));
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "default".to_owned());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.uri().path_and_query().map(|p| p.as_str()).unwrap_or(""),
            http.client_ip = %request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
            request_id = %request_id,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        let _entered = span.enter();
        match outcome {
            Ok(response) => {
                let elapsed_ms = response
                    .request()
                    .extensions()
                    .get::<StartedAt>()
                    .map(|s| s.0.elapsed().as_secs_f64() * 1000.0);
                let status = response.status().as_u16();
                if let Some(ms) = elapsed_ms {
                    let request = response.request();
                    let route = request
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".to_owned());
                    metrics::histogram!(
                        "incidex_http_request_duration_seconds",
                        "method" => request.method().as_str().to_owned(),
                        "route" => route,
                        "status" => status.to_string(),
                    )
                    .record(ms / 1000.0);
                }
                if status >= 500 {
                    tracing::error!(status, elapsed_ms, "request completed");
                } else {
                    tracing::info!(status, elapsed_ms, "request completed");
                }
            }
            Err(error) => tracing::error!(error = %error, "request failed"),
        }
    }
}

/// Latency buckets, in seconds: fine below 10 ms where search lives.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
];

/// The process's Prometheus recorder, installed on first use (one per
/// process, shared by every server a test starts).
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), LATENCY_BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder was installed first (a test
        // harness); this handle then renders nothing, which is harmless.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// The metrics in Prometheus text format.
pub fn metrics_text() -> String {
    prometheus().render()
}

/// Figures read at scrape time from the registry. Blocking.
pub fn refresh_gauges(registry: &incidex_registry::Registry) -> anyhow::Result<()> {
    if let Some(index) = &registry.index {
        let lag = index.lag()?;
        metrics::gauge!("incidex_index_position").set(lag.position as f64);
    }
    let mut conn = registry.pool.get()?;
    let clusters = incidex_schema::db::clusters::count_clusters(&mut conn)?;
    metrics::gauge!("incidex_clusters").set(clusters as f64);
    let published = incidex_schema::db::reports::count_published(&mut conn)?;
    metrics::gauge!("incidex_published_reports").set(published as f64);
    Ok(())
}
