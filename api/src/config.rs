//! Typed settings: defaults, then an optional TOML file (`--config`), then
//! `INCIDEX_*` environment variables, then command-line flags; later layers
//! win. Settings are passed explicitly, never read from a global.
//!
//! Secrets (the database URL, which may carry a password) are held in
//! [`secrecy::SecretString`] and never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use incidex_schema::db::DatabaseUrl;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Environment variables read as settings: `INCIDEX_` + the key in capitals.
const ENV_KEYS: &[&str] = &[
    "listen",
    "data_dir",
    "database_url",
    "log_format",
    "log_level",
    "max_body_bytes",
    "db_pool_size",
    "shutdown_timeout_secs",
    "workers",
    "filing_writers",
    "token_ttl_secs",
    "token_issuer",
    "token_audience",
    "signing_key_file",
    "ownership_secret",
    "k_anonymity",
    "recluster_interval_secs",
    "alerts__enabled",
    "alerts__retry_base_ms",
    "alerts__retry_max_ms",
    "alerts__max_attempts",
    "alerts__disable_after_failures",
    "alerts__request_timeout_ms",
    "alerts__poll_interval_ms",
    "alerts__allow_private_targets",
    "alerts__public_url",
    "alerts__max_per_owner",
];

/// Digest settings read from `INCIDEX_DIGESTS_` + the key in capitals.
const DIGEST_ENV_KEYS: &[&str] = &[
    "enabled",
    "periods",
    "tick_secs",
    "export_dir",
    "catch_up_days",
    "lease_secs",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Human-readable lines (for a terminal).
    Text,
}

/// Everything the service can be configured with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Address and port the HTTP server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, the index, keys and exports.
    pub data_dir: PathBuf,
    /// `postgres://…` or `sqlite://PATH`; default: SQLite in the data directory.
    pub database_url: Option<SecretString>,
    pub log_format: LogFormat,
    /// A tracing filter such as `info` or `incidex_api=debug,info`.
    pub log_level: String,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    pub db_pool_size: u32,
    /// How long a shutdown waits for in-flight requests.
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// Threads that group-commit new reports (default: 2 on PostgreSQL, 1
    /// on SQLite; 0 files every request in its own transaction).
    pub filing_writers: Option<usize>,
    /// Lifetime of issued access tokens.
    pub token_ttl_secs: u64,
    /// `iss` of issued tokens (and expected on them).
    pub token_issuer: String,
    /// `aud` of issued tokens (and expected on them).
    pub token_audience: String,
    /// PEM (PKCS#8 Ed25519) signing key; default: generated in `<data_dir>/keys/`.
    pub signing_key_file: Option<PathBuf>,
    /// Secret keying the stored owner of each report (>= 32 characters);
    /// default: generated in `<data_dir>/keys/`. Replicas must share it.
    pub ownership_secret: Option<SecretString>,
    /// Identity providers whose tokens are accepted (TOML only).
    #[serde(default)]
    pub external_issuers: Vec<crate::auth::ExternalIssuer>,
    /// A country is shown on shared reports only when at least this many
    /// members are registered in it.
    pub k_anonymity: usize,
    /// How often the full re-clustering runs (once across replicas); 0
    /// turns the periodic job off (`incidex recluster` still works).
    pub recluster_interval_secs: u64,
    /// The digest scheduler (`[digests]` in TOML, `INCIDEX_DIGESTS_*`).
    #[serde(default)]
    pub digests: crate::digests::DigestSettings,
    /// Saved-search alerts (`[alerts]` in the file, `INCIDEX_ALERTS__<KEY>`
    /// in the environment).
    #[serde(default)]
    pub alerts: AlertSettings,
}

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
    fn check(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(format!("alerts: {m}")));
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
        Ok(())
    }
}

/// The defaults, as a serialisable layer (secrets are not part of it).
#[derive(Serialize)]
struct Defaults {
    listen: &'static str,
    data_dir: &'static str,
    log_format: LogFormat,
    log_level: &'static str,
    max_body_bytes: usize,
    db_pool_size: u32,
    shutdown_timeout_secs: u64,
    token_ttl_secs: u64,
    token_issuer: &'static str,
    token_audience: &'static str,
    k_anonymity: usize,
    recluster_interval_secs: u64,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "./data";

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            listen: DEFAULT_LISTEN,
            data_dir: DEFAULT_DATA_DIR,
            log_format: LogFormat::Json,
            log_level: "info,tracing_actix_web=error",
            max_body_bytes: 1024 * 1024,
            db_pool_size: 16,
            shutdown_timeout_secs: 30,
            token_ttl_secs: 900,
            token_issuer: "incidex",
            token_audience: "incidex-api",
            k_anonymity: 3,
            recluster_interval_secs: 6 * 3600,
        }
    }
}

/// Flags given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {path} cannot be read")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("invalid database URL: {0}")]
    DatabaseUrl(#[from] incidex_schema::db::DatabaseUrlError),
}

impl Settings {
    /// Layers defaults, the TOML file, the environment and `overrides`.
    pub fn load(
        config_file: Option<&Path>,
        overrides: &Overrides,
    ) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Defaults::default()));
        if let Some(path) = config_file {
            // A named file must exist: a typo should not silently mean "defaults".
            std::fs::metadata(path).map_err(|source| ConfigError::Unreadable {
                path: path.to_owned(),
                source,
            })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        // `INCIDEX_ALERTS__MAX_ATTEMPTS` is `alerts.max_attempts`.
        let env = Env::prefixed("INCIDEX_")
            .filter(|key| ENV_KEYS.iter().any(|k| key == *k))
            .split("__");
        // `INCIDEX_DIGESTS_TICK_SECS` is `digests.tick_secs`.
        let digests_env = Env::prefixed("INCIDEX_DIGESTS_")
            .filter(|key| DIGEST_ENV_KEYS.iter().any(|k| key == *k))
            .map(|key| format!("digests.{key}").into());
        let settings: Settings = figment
            .merge(env)
            .merge(digests_env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Invalid(one_line(&e)))?;
        if let Some(problem) = settings.digests.problem() {
            return Err(ConfigError::Invalid(problem));
        }
        settings.alerts.check()?;
        Ok(settings)
    }

    /// Where links in notifications point: `alerts.public_url`, else the
    /// listen address.
    pub fn public_url(&self) -> String {
        match &self.alerts.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The database the settings select: the URL's scheme decides the backend.
    pub fn database_url(&self) -> Result<DatabaseUrl, ConfigError> {
        match &self.database_url {
            Some(url) => Ok(DatabaseUrl::parse(url.expose_secret())?),
            None => Ok(DatabaseUrl::sqlite_in(&self.data_dir)),
        }
    }

    pub fn shutdown_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.shutdown_timeout_secs)
    }
}

/// figment's error, with every cause, on one line.
fn one_line(e: &figment::Error) -> String {
    e.clone()
        .into_iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
// figment's Jail closures return figment::Error, which is large; not ours to shrink.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_select_sqlite_in_the_data_dir() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let s = Settings::load(None, &Overrides::default()).expect("defaults load");
            assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
            assert_eq!(s.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
            assert_eq!(s.log_format, LogFormat::Json);
            assert_eq!(s.max_body_bytes, 1024 * 1024);
            assert_eq!(
                s.database_url().expect("url"),
                DatabaseUrl::Sqlite(PathBuf::from("./data/incidex.db"))
            );
            Ok(())
        });
    }

    #[test]
    fn file_then_env_then_flags() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file(
                "incidex.toml",
                "listen = \"0.0.0.0:9000\"\ndata_dir = \"/srv/incidex\"\nlog_format = \"text\"\nmax_body_bytes = 2048\n",
            )?;
            jail.set_env("INCIDEX_DATA_DIR", "/env/data");
            jail.set_env("INCIDEX_DATABASE_URL", "postgres://app:pw@db/incidex");
            // Variables that are not settings (tests, demo) are ignored.
            jail.set_env("INCIDEX_TEST_DATABASE_URL", "postgres://elsewhere");
            let overrides = Overrides {
                listen: Some("127.0.0.1:7000".parse().expect("addr")),
                ..Overrides::default()
            };
            let s = Settings::load(Some(Path::new("incidex.toml")), &overrides).expect("load");
            assert_eq!(s.listen.to_string(), "127.0.0.1:7000", "flag beats file");
            assert_eq!(s.data_dir, PathBuf::from("/env/data"), "env beats file");
            assert_eq!(s.log_format, LogFormat::Text, "file beats default");
            assert_eq!(s.max_body_bytes, 2048);
            assert_eq!(
                s.database_url().expect("url").backend(),
                incidex_schema::db::Backend::Postgres
            );
            Ok(())
        });
    }

    #[test]
    fn alert_settings_from_file_and_env() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let s = Settings::load(None, &Overrides::default()).expect("defaults");
            assert_eq!(s.alerts, AlertSettings::default());
            assert!(
                !s.alerts.allow_private_targets,
                "private targets are refused by default"
            );
            jail.create_file(
                "incidex.toml",
                "[alerts]\nmax_attempts = 3\npublic_url = \"https://incidex.example.org/\"\n",
            )?;
            jail.set_env("INCIDEX_ALERTS__ALLOW_PRIVATE_TARGETS", "true");
            jail.set_env("INCIDEX_ALERTS__RETRY_BASE_MS", "50");
            let s = Settings::load(Some(Path::new("incidex.toml")), &Overrides::default())
                .expect("load");
            assert_eq!(s.alerts.max_attempts, 3);
            assert_eq!(s.alerts.retry_base_ms, 50);
            assert!(s.alerts.allow_private_targets);
            assert_eq!(
                s.alerts.request_timeout_ms, 10_000,
                "unset keys keep defaults"
            );
            assert_eq!(s.public_url(), "https://incidex.example.org");

            jail.create_file("typo.toml", "[alerts]\nmax_attempt = 3\n")?;
            let e = Settings::load(Some(Path::new("typo.toml")), &Overrides::default())
                .expect_err("unknown key");
            assert!(e.to_string().contains("max_attempt"), "{e}");
            jail.create_file("zero.toml", "[alerts]\nmax_attempts = 0\n")?;
            let e = Settings::load(Some(Path::new("zero.toml")), &Overrides::default())
                .expect_err("zero attempts");
            assert!(e.to_string().contains("max_attempts"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn secrets_are_never_printed() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("INCIDEX_DATABASE_URL", "postgres://app:hunter2@db/incidex");
            let s = Settings::load(None, &Overrides::default()).expect("load");
            assert!(!format!("{s:?}").contains("hunter2"));
            assert!(
                !s.database_url()
                    .expect("url")
                    .to_string()
                    .contains("hunter2")
            );
            Ok(())
        });
    }

    #[test]
    fn digest_settings_from_file_and_env() {
        use crate::digests::DigestKind;
        Jail::expect_with(|jail| {
            jail.clear_env();
            let s = Settings::load(None, &Overrides::default()).expect("defaults");
            assert!(s.digests.enabled);
            assert_eq!(s.digests.periods, vec![DigestKind::Weekly]);
            assert_eq!(
                s.digests.export_dir(&s.data_dir),
                PathBuf::from("./data/digests")
            );
            jail.create_file(
                "incidex.toml",
                "[digests]\nperiods = [\"daily\", \"monthly\"]\ntick_secs = 60\nexport_dir = \"/srv/out\"\n",
            )?;
            jail.set_env("INCIDEX_DIGESTS_CATCH_UP_DAYS", "10");
            let s = Settings::load(Some(Path::new("incidex.toml")), &Overrides::default())
                .expect("load");
            assert_eq!(
                s.digests.periods,
                vec![DigestKind::Daily, DigestKind::Monthly]
            );
            assert_eq!(s.digests.tick_secs, 60);
            assert_eq!(s.digests.catch_up_days, 10);
            assert_eq!(s.digests.export_dir(&s.data_dir), PathBuf::from("/srv/out"));
            jail.set_env("INCIDEX_DIGESTS_PERIODS", "weekly,daily");
            jail.set_env("INCIDEX_DIGESTS_ENABLED", "false");
            let s = Settings::load(None, &Overrides::default()).expect("load");
            assert_eq!(
                s.digests.periods,
                vec![DigestKind::Weekly, DigestKind::Daily]
            );
            assert!(!s.digests.enabled);
            jail.set_env("INCIDEX_DIGESTS_PERIODS", "fortnightly");
            let e = Settings::load(None, &Overrides::default()).expect_err("bad period");
            assert!(e.to_string().contains("fortnightly"), "{e}");
            jail.set_env("INCIDEX_DIGESTS_PERIODS", "weekly");
            jail.set_env("INCIDEX_DIGESTS_TICK_SECS", "0");
            let e = Settings::load(None, &Overrides::default()).expect_err("zero tick");
            assert!(e.to_string().contains("tick_secs"), "{e}");
            jail.create_file("typo.toml", "[digests]\nperiod = [\"daily\"]\n")?;
            let e = Settings::load(Some(Path::new("typo.toml")), &Overrides::default())
                .expect_err("unknown key");
            assert!(e.to_string().contains("period"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn bad_configuration_is_named() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("broken.toml", "listen = [\n")?;
            let e = Settings::load(Some(Path::new("broken.toml")), &Overrides::default())
                .expect_err("malformed TOML");
            assert!(e.to_string().starts_with("invalid configuration"), "{e}");

            jail.create_file("typo.toml", "lisen = \"127.0.0.1:1\"\n")?;
            let e = Settings::load(Some(Path::new("typo.toml")), &Overrides::default())
                .expect_err("unknown key");
            assert!(e.to_string().contains("lisen"), "{e}");

            let e = Settings::load(Some(Path::new("missing.toml")), &Overrides::default())
                .expect_err("missing file");
            assert!(e.to_string().contains("missing.toml"), "{e}");

            jail.set_env("INCIDEX_DATABASE_URL", "mysql://x@y/z");
            let s = Settings::load(None, &Overrides::default()).expect("load");
            let e = s.database_url().expect_err("unsupported scheme");
            assert!(e.to_string().contains("mysql"), "{e}");
            Ok(())
        });
    }
}
