//! Web users' passwords, for the API's login and the web UI's.

use incidex_registry::conn::with_connection;
use incidex_registry::members::login;
use incidex_schema::identity::Role;

use crate::http::{ApiResult, blocking};
use crate::state::AppState;

/// Verifies a web user's password with its lockout (the API's login and
/// the web UI's).
pub async fn check_password(
    state: &AppState,
    username: String,
    password: String,
) -> ApiResult<(String, Role)> {
    let registry = state.registry.clone();
    blocking(move || {
        with_connection(&registry.pool, |conn| {
            login::check_password(conn, &registry.hasher, &username, &password)
        })
    })
    .await
}
