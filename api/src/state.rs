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
    /// Verified tokens, invalidated by the identity epoch.
    pub credentials: Arc<crate::auth::CredentialCache>,
    /// Cached anonymisation matchers and member counts.
    pub members: Arc<crate::intake::AnonymiserCache>,
    /// The full-text index and its follower (only in `serve`).
    pub index: Option<Arc<crate::indexing::IndexService>>,
    /// The webhook client and the wake-ups of the alert jobs.
    pub alerts: Arc<crate::alerts::Alerts>,
    /// New reports, group-committed by writer threads.
    pub filings: Arc<crate::filing_queue::FilingQueue>,
}

impl AppState {
    /// The index, or 503 where this process does not run one.
    pub fn index(&self) -> Result<&crate::indexing::IndexService, crate::error::ApiError> {
        self.index.as_deref().ok_or_else(|| {
            crate::error::ApiError::new(
                crate::error::ErrorCode::ServiceUnavailable,
                "the search index is not running",
            )
        })
    }

    /// What filing a report needs, for the path outside the queue.
    pub fn filing_context(&self) -> crate::filing_queue::FilingContext {
        crate::filing_queue::FilingContext {
            pool: self.pool.clone(),
            members: self.members.clone(),
            keys: self.keys.clone(),
            issuer: self.settings.token_issuer.clone(),
        }
    }

    /// Tells the index follower and the alert matcher that reports changed.
    pub fn reports_changed(&self) {
        if let Some(index) = &self.index {
            index.wake();
        }
        self.alerts.reports_changed();
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}
