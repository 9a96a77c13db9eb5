//! Typed settings: defaults, then an optional TOML file (`--config`), then
//! `INCIDEX_*` environment variables, then command-line flags; later layers
//! win. Settings are passed explicitly, never read from a global.
//!
//! Each feature owns its settings type (`incidex_registry::alerts::
//! AlertSettings`, `…::digests::DigestSettings`); this module composes them
//! and hands the registry its part ([`Settings::registry`]). One naming
//! convention in the environment: `INCIDEX_<KEY>` for a top-level key,
//! `INCIDEX_<SECTION>__<KEY>` for a key of a section (`INCIDEX_ALERTS__MAX_ATTEMPTS`,
//! `INCIDEX_DIGESTS__TICK_SECS`); the older `INCIDEX_DIGESTS_<KEY>` is
//! still read, with a warning.
//!
//! Secrets (the database URL, which may carry a password) are held in
//! [`secrecy::SecretString`] and never printed.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use incidex_registry::RegistrySettings;
use incidex_registry::alerts::AlertSettings;
use incidex_registry::digests::DigestSettings;
use incidex_schema::db::DatabaseUrl;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The prefix of every setting in the environment.
const ENV_PREFIX: &str = "INCIDEX_";
/// Sections (tables) of the settings; `INCIDEX_<SECTION>__<KEY>` sets one
/// of their keys.
const SECTIONS: &[&str] = &["alerts", "digests", "limits"];

/// Whether `key` (lowercase, after the prefix, `.` between a section and
/// its key) names a setting. Derived from the setting types themselves,
/// so a new field is readable from the environment with nothing to list.
fn is_setting(key: &str) -> bool {
    use serde_aux::serde_introspection::serde_introspect;
    match key.split_once('.') {
        Some(("alerts", k)) => serde_introspect::<AlertSettings>().contains(&k),
        Some(("digests", k)) => serde_introspect::<DigestSettings>().contains(&k),
        Some(("limits", k)) => serde_introspect::<LimitSettings>().contains(&k),
        Some(_) => false,
        None => !SECTIONS.contains(&key) && serde_introspect::<Settings>().contains(&key),
    }
}

/// The setting a variable name (after the prefix) means: `SECTION__KEY`
/// for a key of a section, else a top-level key; the older
/// `DIGESTS_<KEY>` spelling still works, with a warning.
fn env_key(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let key = match lower.split_once("__") {
        Some((section, k)) => format!("{section}.{k}"),
        None => lower.clone(),
    };
    if is_setting(&key) {
        return Some(key);
    }
    let old = lower
        .strip_prefix("digests_")
        .map(|k| format!("digests.{k}"))
        .filter(|k| is_setting(k))?;
    tracing::warn!(
        variable = %format!("{ENV_PREFIX}{name}"),
        instead = %format!("{ENV_PREFIX}DIGESTS__{}", name["DIGESTS_".len()..].to_ascii_uppercase()),
        "deprecated environment variable name; use the double underscore"
    );
    Some(old)
}

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
    /// How often the server compares its index with the database and
    /// repairs any difference (0 turns it off; `incidex reindex --check`
    /// compares on demand).
    pub index_reconcile_interval_secs: u64,
    /// Answer `/readyz` with 200 while a fresh server's index is still
    /// catching up with the database (default: 503 until it has).
    #[serde(default)]
    pub ready_while_catching_up: bool,
    /// A country is shown on shared reports only when at least this many
    /// members are registered in it.
    pub k_anonymity: usize,
    /// How often the full re-clustering runs (once across replicas); 0
    /// turns the periodic job off (`incidex recluster` still works).
    pub recluster_interval_secs: u64,
    /// The digest scheduler (`[digests]` in the file,
    /// `INCIDEX_DIGESTS__<KEY>` in the environment).
    #[serde(default)]
    pub digests: DigestSettings,
    /// Saved-search alerts (`[alerts]` in the file, `INCIDEX_ALERTS__<KEY>`
    /// in the environment).
    #[serde(default)]
    pub alerts: AlertSettings,
    /// Rate limits, lockouts and the bound on concurrent secret
    /// verifications (`[limits]` in the file, `INCIDEX_LIMITS__<KEY>` in
    /// the environment).
    #[serde(default)]
    pub limits: LimitSettings,
}

/// A rate: `burst` requests at once, refilled evenly over `period`
/// (`"10/1m"`: ten at once, then one every six seconds). Written
/// `N/DURATION` with a duration in `s`, `m` or `h` (`"5/15m"`, `"60/1h"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Rate {
    pub burst: u32,
    pub period: std::time::Duration,
}

impl Rate {
    pub const fn new(burst: u32, period_secs: u64) -> Rate {
        Rate {
            burst,
            period: std::time::Duration::from_secs(period_secs),
        }
    }
}

impl TryFrom<String> for Rate {
    type Error = String;

    fn try_from(text: String) -> Result<Rate, String> {
        let bad = || format!("`{text}` is not a rate such as 10/1m (N per duration in s, m or h)");
        let (n, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let burst: u32 = n.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let (number, unit) = period.split_at(period.len().saturating_sub(1));
        let number: u64 = if number.is_empty() {
            1
        } else {
            number.parse().map_err(|_| bad())?
        };
        let secs = match unit {
            "s" => number,
            "m" => number.saturating_mul(60),
            "h" => number.saturating_mul(3600),
            _ => return Err(bad()),
        };
        if burst == 0 || secs == 0 {
            return Err(bad());
        }
        Ok(Rate::new(burst, secs))
    }
}

impl From<Rate> for String {
    fn from(rate: Rate) -> String {
        let secs = rate.period.as_secs();
        if secs.is_multiple_of(3600) {
            format!("{}/{}h", rate.burst, secs / 3600)
        } else if secs.is_multiple_of(60) {
            format!("{}/{}m", rate.burst, secs / 60)
        } else {
            format!("{}/{secs}s", rate.burst)
        }
    }
}

/// Rate limits and lockouts. Every budget is kept in this process's
/// memory (per replica); lockouts of credentials are kept in the database
/// (shared by all replicas).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// `false` turns every rate limit off (lockouts stay).
    pub enabled: bool,
    /// Token requests per client id.
    pub token_per_client: Rate,
    /// Token requests per client address.
    pub token_per_address: Rate,
    /// Login attempts per username (API and web UI).
    pub login_per_username: Rate,
    /// Login attempts per client address (API and web UI).
    pub login_per_address: Rate,
    /// Failed token requests and logins per client address; past it the
    /// address is refused for the whole period. Keep it below the
    /// lockout's count (5) and the period at least the lockout's window
    /// (15 minutes), so one address alone cannot lock a credential out.
    pub failures_per_address: Rate,
    /// API requests that change something (POST, PUT, PATCH, DELETE), per client.
    pub api_writes: Rate,
    /// Searches (search, similar incidents, lessons), per client.
    pub api_searches: Rate,
    /// Other API reads, per client.
    pub api_reads: Rate,
    /// Secret and password verifications (argon2) running at once;
    /// default: half the cores, at least 1.
    pub verify_concurrency: Option<usize>,
    /// How long a token request or login waits for a verification slot
    /// before it is answered 503.
    pub verify_wait_ms: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            enabled: true,
            token_per_client: Rate::new(10, 60),
            token_per_address: Rate::new(60, 60),
            login_per_username: Rate::new(10, 60),
            login_per_address: Rate::new(30, 60),
            failures_per_address: Rate::new(3, 15 * 60),
            api_writes: Rate::new(300, 60),
            api_searches: Rate::new(600, 60),
            api_reads: Rate::new(1200, 60),
            verify_concurrency: None,
            verify_wait_ms: 2000,
        }
    }
}

impl LimitSettings {
    /// How many verifications may run at once.
    pub fn verify_concurrency(&self) -> usize {
        self.verify_concurrency.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
        })
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
    index_reconcile_interval_secs: u64,
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
            index_reconcile_interval_secs: 600,
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
        // `INCIDEX_LISTEN` is `listen`, `INCIDEX_ALERTS__MAX_ATTEMPTS` is
        // `alerts.max_attempts`; variables that are no setting (the tests',
        // the demo's) are left alone.
        let env =
            Env::prefixed(ENV_PREFIX).filter_map(|name| env_key(name.as_str()).map(Into::into));
        let settings: Settings = figment
            .merge(env)
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Invalid(one_line(&e)))?;
        if let Some(problem) = settings.digests.problem() {
            return Err(ConfigError::Invalid(problem));
        }
        if let Some(problem) = settings.alerts.problem() {
            return Err(ConfigError::Invalid(problem));
        }
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

    /// The registry's part of the settings.
    pub fn registry(&self) -> RegistrySettings {
        RegistrySettings {
            data_dir: self.data_dir.clone(),
            k_anonymity: self.k_anonymity,
            issuer: self.token_issuer.clone(),
            filing_writers: self.filing_writers,
            recluster_interval_secs: self.recluster_interval_secs,
            public_url: self.public_url(),
            signing_key_file: self.signing_key_file.clone(),
            ownership_secret: self.ownership_secret.clone(),
            alerts: self.alerts.clone(),
            digests: self.digests.clone(),
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
        use incidex_registry::digests::DigestKind;
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
