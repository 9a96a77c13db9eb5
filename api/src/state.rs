//! What handlers share: the registry and the HTTP face's own parts.

use std::sync::Arc;

use incidex_registry::Registry;

use crate::auth::{CredentialCache, Throttle, TokenService};
use crate::config::Settings;

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Every registry service.
    pub registry: Registry,
    pub settings: Arc<Settings>,
    pub tokens: Arc<TokenService>,
    /// Verified tokens, invalidated by the identity epoch.
    pub credentials: Arc<CredentialCache>,
    /// Rate limits, failure throttles and verification slots (this
    /// process's; see `auth::throttle`).
    pub throttle: Arc<Throttle>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
