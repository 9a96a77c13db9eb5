//! The routes table: every HTTP route, one module per endpoint group,
//! registered through `utoipa_actix_web` so each lands in the OpenAPI spec.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod admin;
pub mod auth;
pub mod health;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(auth::token)
        .service(auth::login)
        .service(auth::keys)
        .service(admin::create_operator)
        .service(admin::list_operators)
        .service(admin::create_client)
        .service(admin::list_clients)
        .service(admin::revoke_client)
        .service(admin::create_user)
        .service(admin::list_users);
}
