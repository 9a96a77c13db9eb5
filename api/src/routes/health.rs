//! Liveness, readiness (with how far the search index is behind) and the
//! Prometheus metrics.

use actix_web::{HttpResponse, get, web};
use incidex_registry::index::Lag;
use incidex_schema::db::migration_status;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::{ApiError, ApiResult, ErrorCode};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "postgres")]
    pub database: &'static str,
    /// How many migrations the database has applied.
    pub migrations_applied: usize,
    /// How far the search index is behind the database (absent where this
    /// process runs no index).
    pub index: Option<IndexLag>,
}

/// How far the search index is behind the database.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexLag {
    /// The index follower's position in the change log.
    pub position: i64,
    /// Changes to reports not in the index yet.
    pub changes_behind: i64,
    /// Seconds since the oldest of them was made (0 when none).
    pub seconds_behind: i64,
    /// Whether the index has caught up with the database since start-up.
    pub caught_up: bool,
}

impl From<Lag> for IndexLag {
    fn from(l: Lag) -> IndexLag {
        IndexLag {
            position: l.position,
            changes_behind: l.changes,
            seconds_behind: l.seconds,
            caught_up: l.caught_up,
        }
    }
}

/// The process is up and serving HTTP.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database is reachable, every migration is applied, and the search
/// index has caught up with the database since start-up (unless
/// `ready_while_catching_up`); the body says how far behind the index is.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, body = Readiness),
        (status = 503, response = crate::http::responses::ServiceUnavailable),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let registry = state.registry.clone();
    let checked = web::block(move || {
        let mut conn = registry
            .pool
            .get()
            .map_err(|e| format!("no database connection: {e}"))?;
        let backend = conn.backend();
        let status =
            migration_status(&mut conn).map_err(|e| format!("cannot read migrations: {e}"))?;
        drop(conn);
        let lag = match &registry.index {
            Some(index) => Some(
                index
                    .lag()
                    .map_err(|e| format!("cannot read the index lag: {e}"))?,
            ),
            None => None,
        };
        Ok::<_, String>((backend, status, lag))
    })
    .await?;
    match checked {
        Ok((backend, status, lag)) if status.pending.is_empty() => {
            if let Some(reason) = catching_up(lag, state.settings.ready_while_catching_up) {
                return Err(ApiError::new(ErrorCode::ServiceUnavailable, reason));
            }
            Ok(HttpResponse::Ok().json(Readiness {
                status: "ready",
                database: backend.as_str(),
                migrations_applied: status.applied.len(),
                index: lag.map(IndexLag::from),
            }))
        }
        Ok((_, status, _)) => Err(ApiError::new(
            ErrorCode::ServiceUnavailable,
            format!("{} migrations pending", status.pending.len()),
        )),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            Err(ApiError::new(
                ErrorCode::ServiceUnavailable,
                "the database is not reachable",
            ))
        }
    }
}

/// Why a server is not ready yet although its database is: its index has
/// not caught up once since start-up (unless serving meanwhile is allowed).
fn catching_up(lag: Option<Lag>, allowed: bool) -> Option<String> {
    let lag = lag?;
    (!lag.caught_up && !allowed).then(|| {
        format!(
            "the search index is catching up: {} changes ({} s) behind",
            lag.changes, lag.seconds
        )
    })
}

/// Prometheus metrics: request latency per route, the search index's lag
/// and indexing rate, the number of clusters, and more (text exposition
/// format).
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let registry = state.registry.clone();
    // Figures read at scrape time; a failure leaves the last value.
    let _ = web::block(move || crate::telemetry::refresh_gauges(&registry)).await;
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::telemetry::metrics_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_while_a_fresh_index_catches_up() {
        let behind = Lag {
            position: 10,
            changes: 90_000,
            seconds: 12,
            caught_up: false,
        };
        let reason = catching_up(Some(behind), false).expect("not ready");
        assert!(reason.contains("90000 changes"), "{reason}");
        assert_eq!(
            catching_up(Some(behind), true),
            None,
            "allowed by the setting"
        );
        let caught_up = Lag {
            caught_up: true,
            ..behind
        };
        assert_eq!(
            catching_up(Some(caught_up), false),
            None,
            "lag alone is reported, not refused"
        );
        assert_eq!(catching_up(None, false), None, "no index in this process");
    }
}
