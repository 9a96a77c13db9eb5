//! The HTTP edge: the problem+json error and its code table, request
//! extractors, and the hop from a request to the blocking pool where
//! registry work runs.

pub mod digest;
pub mod edge;
pub mod error;
pub mod extract;
pub mod responses;

pub use edge::{Refused, RouteTable};
pub use error::{ApiError, ApiResult, ErrorCode, PROBLEM_JSON, Problem};
pub use extract::{IdempotencyKey, JsonBody};

/// Runs `f` with a pooled connection on the blocking pool; a connection
/// that saw an unexpected failure is not handed to the next request.
pub async fn db<T, E, F>(state: &crate::state::AppState, f: F) -> ApiResult<T>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
    F: FnOnce(&mut incidex_schema::db::DbConnection) -> Result<T, E> + Send + 'static,
{
    let pool = state.registry.pool.clone();
    actix_web::web::block(move || -> ApiResult<T> {
        let mut conn = pool.get().map_err(incidex_schema::db::StorageError::from)?;
        let result = f(&mut conn).map_err(Into::into);
        if result
            .as_ref()
            .is_err_and(|e| e.code().status().is_server_error())
        {
            incidex_schema::db::discard_if_lost(&mut conn);
        }
        result
    })
    .await?
}

/// Runs blocking registry work (database, index) on the blocking pool, off
/// the async workers; a registry failure becomes its problem+json answer.
pub async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> incidex_registry::RegistryResult<T> + Send + 'static,
{
    Ok(actix_web::web::block(f).await??)
}
