//! Liveness and readiness.

use actix_web::{HttpResponse, get, web};
use incidex_schema::db::migration_status;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::{ApiError, ApiResult, ErrorCode, Problem};
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
}

/// The process is up and serving HTTP.
#[utoipa::path(tag = "operations", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database is reachable and every migration is applied.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, body = Readiness),
        (status = 503, description = "database unreachable or migrations pending", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let pool = state.registry.pool.clone();
    let checked = web::block(move || {
        let mut conn = pool
            .get()
            .map_err(|e| format!("no database connection: {e}"))?;
        let backend = conn.backend();
        let status =
            migration_status(&mut conn).map_err(|e| format!("cannot read migrations: {e}"))?;
        Ok::<_, String>((backend, status))
    })
    .await?;
    match checked {
        Ok((backend, status)) if status.pending.is_empty() => {
            Ok(HttpResponse::Ok().json(Readiness {
                status: "ready",
                database: backend.as_str(),
                migrations_applied: status.applied.len(),
            }))
        }
        Ok((_, status)) => Err(ApiError::new(
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
