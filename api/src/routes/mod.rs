//! The routes table: every HTTP route, one module per endpoint group,
//! registered through `utoipa_actix_web` so each lands in the OpenAPI spec.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod admin;
pub mod alerts;
pub mod anonymise;
pub mod auth;
pub mod clusters;
pub mod digests;
pub mod health;
pub mod lessons;
pub mod reports;
pub mod search;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .service(auth::token)
        .service(auth::login)
        .service(auth::keys)
        .service(admin::create_operator)
        .service(admin::list_operators)
        .service(admin::create_client)
        .service(admin::list_clients)
        .service(admin::revoke_client)
        .service(admin::create_user)
        .service(admin::list_users)
        .service(reports::create)
        .service(reports::list)
        .service(reports::read)
        .service(reports::replace)
        .service(reports::edit)
        .service(reports::publish)
        .service(reports::withdraw)
        .service(reports::revisions)
        .service(reports::preview)
        .service(reports::verify_receipt)
        .service(search::search)
        .service(search::similar_to_report)
        .service(search::similar_to_text)
        .service(anonymise::anonymise)
        .service(anonymise::get_terms)
        .service(anonymise::put_terms)
        .service(clusters::list)
        .service(clusters::read)
        .service(clusters::add_lesson)
        .service(lessons::list)
        .service(lessons::endorse)
        // The feed before `{id}`, which would otherwise take `feed.atom`.
        .service(digests::list)
        .service(digests::atom)
        .service(digests::read)
        .service(alerts::create)
        .service(alerts::list)
        .service(alerts::read)
        .service(alerts::remove)
        .service(alerts::enable)
        .service(alerts::disable)
        .service(alerts::rotate_secret)
        .service(alerts::test)
        .service(alerts::deliveries);
}
