//! The `[alerts]` settings.

use serde::{Deserialize, Serialize};

/// Saved searches and their webhooks (docs/alerts.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertSettings {
    /// Run the matcher and the webhook sender in `serve`.
    pub enabled: bool,
    /// Delay before the first retry; it doubles with each failure (with
    /// jitter) up to `retry_max_ms`.
    pub retry_base_ms: u64,
    pub retry_max_ms: u64,
    /// Attempts per notification before it is abandoned.
    pub max_attempts: u32,
    /// Failed attempts in a row (any notification of one saved search)
    /// after which the saved search is disabled.
    pub disable_after_failures: u32,
    /// Timeout of one webhook request, connection included.
    pub request_timeout_ms: u64,
    /// How often the matcher and the sender look for work other replicas
    /// made and for retries that fell due.
    pub poll_interval_ms: u64,
    /// Let webhooks target loopback, private, link-local and other
    /// non-public addresses (tests, closed networks). Off: the registry
    /// must not be a way into the network it runs in.
    pub allow_private_targets: bool,
    /// Base of the links in notifications (`https://incidex.example.org`);
    /// default `http://<listen>`.
    pub public_url: Option<String>,
    /// Saved searches one owner may have.
    pub max_per_owner: u32,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            enabled: true,
            retry_base_ms: 30_000,
            retry_max_ms: 3_600_000,
            max_attempts: 8,
            disable_after_failures: 15,
            request_timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            allow_private_targets: false,
            public_url: None,
            max_per_owner: 50,
        }
    }
}

impl AlertSettings {
    /// What makes these settings unusable, if anything.
    pub fn problem(&self) -> Option<String> {
        let bad = |m: &str| Some(format!("alerts: {m}"));
        if self.max_attempts == 0 || self.disable_after_failures == 0 || self.max_per_owner == 0 {
            return bad(
                "max_attempts, disable_after_failures and max_per_owner must be at least 1",
            );
        }
        if self.retry_base_ms == 0 || self.retry_max_ms < self.retry_base_ms {
            return bad("retry_base_ms must be positive and at most retry_max_ms");
        }
        if self.request_timeout_ms == 0 || self.poll_interval_ms == 0 {
            return bad("request_timeout_ms and poll_interval_ms must be positive");
        }
        if let Some(url) = &self.public_url {
            let parsed = reqwest::Url::parse(url);
            if !parsed.is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
                return bad("public_url must be an http or https URL");
            }
        }
        None
    }
}
