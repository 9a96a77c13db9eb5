//! The registry's rules and services, with no HTTP: intake and
//! anonymisation, filing and publishing, who may see what, the owner's and
//! the shared views, search over the index, the index follower, clusters,
//! lessons, alerts and digests.
//!
//! Policy: this crate never depends on actix-web nor names an HTTP status.
//! It returns its own error type ([`RegistryError`]); the `incidex-api`
//! crate (the HTTP face) turns it into a problem+json response in exactly
//! one place. Its modules take the parts they need explicitly (a pool, the
//! keys, the member cache); only this file composes them into the
//! [`Registry`] handle, and no module imports it.
//!
//! Layers, from the bottom: `error`, `keys`, `caller`, `conn`, `work`,
//! `changelog`, `anonymise`, `labels` -> `members`, `visibility`, `views`,
//! `receipts` -> `index::document`, `lessons`, `clusters`, `reports` ->
//! `index::follower`, `search`, `alerts`, `digests`, `demo`.

pub mod alerts;
pub mod anonymise;
pub mod caller;
pub mod changelog;
pub mod clusters;
pub mod conn;
pub mod demo;
pub mod digests;
pub mod error;
pub mod index;
pub mod keys;
pub mod labels;
pub mod lessons;
pub mod members;
pub mod receipts;
pub mod reports;
pub mod search;
pub mod views;
pub mod visibility;
pub mod work;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use incidex_schema::db::{self, DatabaseUrl, DbPool, PoolOptions};
use secrecy::SecretString;

pub use caller::{Caller, CallerKind};
pub use error::{RegistryError, RegistryResult};

use alerts::{AlertSettings, Alerts};
use changelog::ChangeSignal;
use digests::DigestSettings;
use digests::scheduler::DigestScheduler;
use index::IndexService;
use keys::RegistryKeys;
use members::{AnonymiserCache, SecretHasher};
use reports::{FilingQueue, Reports};
use search::Search;

/// What the registry is configured with (composed by the HTTP face's
/// configuration from its file, environment and flags).
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    /// The SQLite database (by default), the index, keys and exports.
    pub data_dir: PathBuf,
    /// A country is shown to others only when at least this many members
    /// are registered in it.
    pub k_anonymity: usize,
    /// `iss` of publication receipts (the token issuer).
    pub issuer: String,
    /// Threads that group-commit new reports (`None`: per backend).
    pub filing_writers: Option<usize>,
    /// How often the full re-clustering runs; 0 turns it off.
    pub recluster_interval_secs: u64,
    /// Base of links in notifications.
    pub public_url: String,
    pub signing_key_file: Option<PathBuf>,
    pub ownership_secret: Option<SecretString>,
    pub alerts: AlertSettings,
    pub digests: DigestSettings,
}

/// Makes sure a directory exists and is writable.
pub fn prepare_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data directory {} cannot be created", dir.display()))?;
    let probe = dir.join(".incidex-write-test");
    std::fs::write(&probe, b"ok")
        .with_context(|| format!("data directory {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Opens the database `url` names and applies pending migrations.
pub fn open_database(url: &DatabaseUrl, pool_size: u32) -> anyhow::Result<DbPool> {
    if let DatabaseUrl::Sqlite(path) = url
        && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
    {
        prepare_data_dir(parent)?;
    }
    let options = PoolOptions {
        max_size: pool_size,
        ..PoolOptions::default()
    };
    let pool = db::build_pool(url.clone(), &options)
        .with_context(|| format!("cannot connect to database {url}"))?;
    let mut conn = pool
        .get()
        .with_context(|| format!("cannot connect to database {url}"))?;
    let applied = db::run_migrations(&mut conn).context("database migrations failed")?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), database = %url, "applied migrations");
    }
    Ok(pool)
}

/// The registry: every service over one database, one key set and (in
/// `serve`) one index. Cheap to clone.
#[derive(Clone)]
pub struct Registry {
    pub pool: DbPool,
    pub settings: Arc<RegistrySettings>,
    pub keys: Arc<RegistryKeys>,
    pub hasher: Arc<SecretHasher>,
    /// Cached anonymisation matchers and member counts.
    pub members: Arc<AnonymiserCache>,
    /// The full-text index and its follower (only in `serve`).
    pub index: Option<Arc<IndexService>>,
    pub reports: Reports,
    pub search: Search,
    pub alerts: Arc<Alerts>,
    pub digests: DigestScheduler,
    /// Woken after every committed change of a report.
    pub changed: Arc<ChangeSignal>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

impl Registry {
    /// Loads the keys and starts the services over `pool`; with
    /// `with_index`, opens the index (its follower runs when the job runner
    /// steps it). Blocking.
    pub fn open(
        settings: RegistrySettings,
        pool: DbPool,
        with_index: bool,
    ) -> anyhow::Result<Registry> {
        prepare_data_dir(&settings.data_dir)?;
        let keys = Arc::new(RegistryKeys::load_or_create(
            &settings.data_dir,
            settings.signing_key_file.as_deref(),
            settings.ownership_secret.as_ref(),
        )?);
        let members = Arc::new(AnonymiserCache::default());
        let index = if with_index {
            let service = IndexService::open(
                &settings.data_dir,
                pool.clone(),
                members.clone(),
                settings.k_anonymity,
            )
            .context("cannot open the search index")?;
            Some(Arc::new(service))
        } else {
            None
        };
        let alerts = Arc::new(
            Alerts::new(
                pool.clone(),
                members.clone(),
                keys.clone(),
                settings.alerts.clone(),
                settings.k_anonymity,
                settings.public_url.clone(),
            )
            .context("cannot set up the webhook client")?,
        );
        let changed = Arc::new(ChangeSignal::default());
        if let Some(index) = &index {
            let index = index.clone();
            changed.subscribe(move || index.wake());
        }
        {
            let alerts = alerts.clone();
            changed.subscribe(move || alerts.reports_changed());
        }
        let backend = pool
            .get()
            .context("cannot connect to the database")?
            .backend();
        let queue = FilingQueue::start(
            reports::queue::FilingContext {
                pool: pool.clone(),
                members: members.clone(),
                keys: keys.clone(),
                issuer: settings.issuer.clone(),
            },
            settings
                .filing_writers
                .unwrap_or_else(|| reports::queue::writers_for(backend)),
        )
        .context("cannot start the filing writers")?;
        let reports = Reports {
            pool: pool.clone(),
            members: members.clone(),
            keys: keys.clone(),
            issuer: settings.issuer.clone(),
            k_anonymity: settings.k_anonymity,
            queue: Arc::new(queue),
            changed: changed.clone(),
        };
        let search = Search {
            pool: pool.clone(),
            keys: keys.clone(),
            index: index.clone(),
        };
        let digests = DigestScheduler {
            pool: pool.clone(),
            members: members.clone(),
            k_anonymity: settings.k_anonymity,
            export_dir: settings.digests.export_dir(&settings.data_dir),
            settings: settings.digests.clone(),
            index: index.clone(),
        };
        Ok(Registry {
            pool,
            settings: Arc::new(settings),
            keys,
            hasher: Arc::new(SecretHasher::default()),
            members,
            index,
            reports,
            search,
            alerts,
            digests,
            changed,
        })
    }

    /// The live index, where this process runs one.
    pub fn live_index(&self) -> Option<Arc<incidex_indexer::IncidentIndex>> {
        self.index.as_ref().map(|i| i.handle.current())
    }
}
