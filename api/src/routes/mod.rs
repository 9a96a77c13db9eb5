//! The routes table: every HTTP route, one module per endpoint group,
//! registered through `utoipa_actix_web` so each lands in the OpenAPI spec.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod health;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz).service(health::readyz);
}
