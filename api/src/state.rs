//! Shared application state handed to handlers.

use std::sync::Arc;

use incidex_schema::db::DbPool;

use crate::auth::{RegistryKeys, SecretHasher, TokenService};
use crate::config::Settings;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub settings: Arc<Settings>,
    pub keys: Arc<RegistryKeys>,
    pub tokens: Arc<TokenService>,
    pub hasher: Arc<SecretHasher>,
    /// Cached anonymisation matchers and member counts.
    pub members: Arc<crate::intake::AnonymiserCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
