//! The `incidex` command line. Every subcommand does real work; options that
//! touch the database are the same everywhere (`--data-dir`, `--database-url`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

mod admin;
mod eval;
mod import;

use crate::app::{self, Application};
use crate::config::{LogFormat, Overrides, Settings};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "incidex",
    version,
    about = "Cross-operator registry of anonymised network-malfunction reports"
)]
pub struct Cli {
    /// TOML configuration file (settings: listen, data_dir, database_url,
    /// log_format, log_level, max_body_bytes, db_pool_size,
    /// shutdown_timeout_secs, workers, ... as in the README; digests under
    /// a [digests] table).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (applies pending migrations first).
    Serve(ServeArgs),
    /// Apply pending database migrations, or list them with --check.
    Migrate(MigrateArgs),
    /// Print the OpenAPI document (JSON) of the HTTP API.
    Openapi,
    /// Manage member operators, API clients and web users.
    Admin(AdminArgs),
    /// File reports in bulk from a JSON Lines file, as one operator.
    Import(ImportArgs),
    /// Rebuild the search index from the database aside, then swap it in
    /// (a running server switches to it; search stays online).
    Reindex(ReindexArgs),
    /// Re-cluster every published report now, replacing all cluster
    /// assignments in one transaction (a server also does it every
    /// recluster_interval_secs).
    Recluster(ReclusterArgs),
    /// Measure similar incidents and clusters against a labelled corpus,
    /// loaded into a throwaway registry through the normal code paths.
    Eval(EvalArgs),
    /// Build the digest of one period from the database now and print it
    /// (or write it to --out); nothing is stored.
    Digest(DigestArgs),
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The kind of period: daily, weekly (ISO week) or monthly; UTC boundaries.
    #[arg(long, value_parser = parse_kind)]
    pub period: incidex_registry::digests::DigestKind,
    /// A date (YYYY-MM-DD) or UTC date-time in the period [default: now, the current period]
    #[arg(long, value_name = "DATE", value_parser = parse_at)]
    pub at: Option<chrono::NaiveDateTime>,
    /// Output format.
    #[arg(long, value_parser = ["json", "csv", "md", "html"])]
    pub format: String,
    /// Write to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Who it is for: members (TLP clear and green) or analysts (also amber).
    #[arg(long, default_value = "members", value_parser = parse_audience)]
    pub audience: incidex_registry::digests::Audience,
    #[command(flatten)]
    pub storage: StorageArgs,
}

fn parse_kind(s: &str) -> Result<incidex_registry::digests::DigestKind, String> {
    s.parse()
}

fn parse_at(s: &str) -> Result<chrono::NaiveDateTime, String> {
    incidex_registry::digests::period::parse_instant(s)
        .ok_or_else(|| format!("`{s}` is not a date (YYYY-MM-DD) or an RFC 3339 date-time"))
}

fn parse_audience(s: &str) -> Result<incidex_registry::digests::Audience, String> {
    incidex_registry::digests::Audience::parse(s)
        .ok_or_else(|| format!("unknown audience `{s}` (members, analysts)"))
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// JSON Lines corpus (telecom format, or postmortems with title/summary/text).
    pub file: PathBuf,
    /// The field holding the label (e.g. root_cause_category, trigger, danluu_section).
    #[arg(long)]
    pub label: String,
    /// How many similar incidents per report.
    #[arg(long, default_value_t = 5)]
    pub k: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReclusterArgs {
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct ReindexArgs {
    /// Only compare the index with the database (report ids and revisions)
    /// and print the differences; exit 1 when there is one. Changes nothing.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// JSON Lines file: one report body (or telecom corpus record) per line.
    pub file: PathBuf,
    /// The filing operator (name or id).
    #[arg(long)]
    pub operator: String,
    /// Publish each report after filing it.
    #[arg(long)]
    pub publish: bool,
    #[arg(long, value_enum, default_value_t = import::InputFormat::Auto)]
    pub format: import::InputFormat,
    /// What to do with a bad line.
    #[arg(long, value_enum, default_value_t = import::OnError::Stop)]
    pub on_error: import::OnError,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Register a member operator; prints its id.
    CreateOperator {
        /// The operator's name (scrubbed from every report's free text).
        #[arg(long)]
        name: String,
        /// Another name or brand (repeatable); also scrubbed.
        #[arg(long = "alias", value_name = "ALIAS")]
        aliases: Vec<String>,
        /// ISO 3166-1 alpha-2 country code.
        #[arg(long)]
        country: Option<String>,
        /// e.g. mobile_operator, fixed_operator.
        #[arg(long = "type", value_name = "TYPE")]
        operator_type: Option<String>,
    },
    /// List member operators.
    ListOperators,
    /// Create an API client; prints its id and secret (shown only once).
    CreateClient {
        /// Operator name or id (required for reporters).
        #[arg(long)]
        operator: Option<String>,
        #[arg(long, value_parser = parse_role)]
        role: incidex_schema::identity::Role,
        /// The client stops working after this many days.
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
    },
    /// List API clients.
    ListClients,
    /// Revoke an API client: its tokens stop working at once.
    RevokeClient {
        /// The client id.
        client_id: String,
    },
    /// Create a web user; the password is read from standard input.
    CreateUser {
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = parse_role)]
        role: incidex_schema::identity::Role,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List web users.
    ListUsers,
}

fn parse_role(s: &str) -> Result<incidex_schema::identity::Role, String> {
    incidex_schema::identity::Role::parse(s)
        .ok_or_else(|| format!("unknown role `{s}` (reporter, analyst, admin)"))
}

/// Where the data lives; shared by every subcommand that touches the database.
#[derive(Debug, Clone, Args)]
pub struct StorageArgs {
    /// Directory for the SQLite database, the index and keys [default: ./data]
    #[arg(long, value_name = "DIR", env = "INCIDEX_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// postgres://USER@HOST/DB or sqlite://PATH [default: sqlite in the data directory]
    #[arg(
        long,
        value_name = "URL",
        env = "INCIDEX_DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR:PORT", env = "INCIDEX_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Log output format [default: json]
    #[arg(long, value_enum, env = "INCIDEX_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Demo mode: into an empty registry, file the telecom corpus as three
    /// demo operators and create the web user `analyst` (password from
    /// INCIDEX_DEMO_PASSWORD, else generated and logged once).
    #[arg(long)]
    pub demo: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only list applied and pending migrations; exit 1 if any are pending.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub storage: StorageArgs,
}

impl StorageArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            ..Overrides::default()
        }
    }
}

/// Runs the parsed command; the binary prints the error on one line.
pub fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve(args) => {
            let overrides = Overrides {
                listen: args.listen,
                log_format: args.log_format,
                ..args.storage.overrides()
            };
            let settings = Settings::load(cli.config.as_deref(), &overrides)?;
            telemetry::init(settings.log_format, &settings.log_level);
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(settings).await?;
                if args.demo {
                    seed_demo(app.state()).await?;
                }
                app.run().await.context("server failed")
            })?;
            tracing::info!("stopped");
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Migrate(args) => {
            let settings = Settings::load(cli.config.as_deref(), &args.storage.overrides())?;
            telemetry::init(LogFormat::Text, "warn");
            migrate(&settings, args.check)
        }
        Command::Admin(args) => {
            let settings = Settings::load(cli.config.as_deref(), &args.storage.overrides())?;
            telemetry::init(LogFormat::Text, "warn");
            admin::run(&settings, args.json, args.command)?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Import(args) => {
            let settings = Settings::load(cli.config.as_deref(), &args.storage.overrides())?;
            telemetry::init(LogFormat::Text, "warn");
            let summary = import::run(
                settings,
                &args.file,
                &args.operator,
                args.publish,
                args.format,
                args.on_error,
            )?;
            if args.json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                println!(
                    "filed {}, already filed {}, published {}, failed {}",
                    summary.filed,
                    summary.already_filed,
                    summary.published,
                    summary.failed.len()
                );
            }
            Ok(if summary.failed.is_empty() {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            })
        }
        Command::Reindex(args) => {
            let settings = Settings::load(cli.config.as_deref(), &args.storage.overrides())?;
            telemetry::init(LogFormat::Text, "warn");
            let state = app::build_state(std::sync::Arc::new(settings), false)?;
            let handle = incidex_indexer::IndexHandle::open(state.settings.data_dir.join("index"))?;
            if args.check {
                let index = handle.current();
                let position = index.last_committed_seq()?.unwrap_or(0);
                let mut conn = state.registry.pool.get()?;
                let diff =
                    incidex_registry::index::reconcile::compare(&index, position, &mut conn)?;
                print!("{diff}");
                if diff.is_empty() {
                    println!();
                    return Ok(std::process::ExitCode::SUCCESS);
                }
                return Ok(std::process::ExitCode::FAILURE);
            }
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} reports")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let count = incidex_registry::index::Follower::rebuild(
                &state.registry.pool,
                &handle,
                &state.registry.members,
                state.settings.k_anonymity,
                |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )?;
            bar.finish_and_clear();
            println!(
                "reindexed {count} published reports into generation {}",
                handle.generation()
            );
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Eval(args) => {
            telemetry::init(LogFormat::Text, "error");
            let report = eval::run(&args.file, &args.label, args.k)?;
            if args.json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print!("{report}");
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Recluster(args) => {
            let settings = Settings::load(cli.config.as_deref(), &args.storage.overrides())?;
            telemetry::init(LogFormat::Text, "warn");
            let pool = app::open_database(&settings)?;
            let mut conn = pool.get().context("cannot connect to the database")?;
            let summary = incidex_registry::clusters::recluster(
                &mut conn,
                incidex_registry::clusters::ReclusterMode::Now,
            )?
            .context("re-clustering did not run")?;
            if args.json {
                println!("{}", serde_json::to_string(&summary)?);
            } else {
                println!(
                    "re-clustered {} published reports into {} clusters ({} kept their id)",
                    summary.reports, summary.clusters, summary.kept_ids
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Digest(args) => {
            let settings = Settings::load(cli.config.as_deref(), &args.storage.overrides())?;
            telemetry::init(LogFormat::Text, "warn");
            digest(&settings, &args)?;
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Openapi => {
            let spec = app::openapi()
                .to_pretty_json()
                .context("cannot serialise the OpenAPI document")?;
            println!("{spec}");
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// `incidex digest`: builds the digest of the period containing `--at`
/// from the database (as the scheduler would, without storing it).
fn digest(settings: &Settings, args: &DigestArgs) -> anyhow::Result<()> {
    use incidex_registry::digests::render::{self, Format};
    let format = Format::parse(&args.format).context("unknown format")?;
    let at = args.at.unwrap_or_else(incidex_schema::db::reports::now);
    let period = incidex_registry::digests::Period::containing(args.period, at);
    let pool = app::open_database(settings)?;
    let mut conn = pool.get().context("cannot connect to the database")?;
    let members = incidex_registry::members::AnonymiserCache::default();
    let ctx = incidex_registry::digests::BuildContext {
        members: &members,
        k_anonymity: settings.k_anonymity,
        stats: None,
    };
    let digest =
        incidex_registry::digests::build(&mut conn, ctx, period, args.audience, chrono::Utc::now())
            .map_err(|e| anyhow::anyhow!("cannot build the digest: {e:?}"))?;
    let body = render::render(&digest, format)?;
    match &args.out {
        Some(path) => std::fs::write(path, body)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(body.as_bytes())
                .and_then(|()| out.flush())
                .context("cannot write to standard output")?;
        }
    }
    Ok(())
}

fn migrate(settings: &Settings, check: bool) -> anyhow::Result<std::process::ExitCode> {
    let url = settings.database_url()?;
    if let incidex_schema::db::DatabaseUrl::Sqlite(_) = url {
        incidex_registry::prepare_data_dir(&settings.data_dir)?;
    }
    let manager = incidex_schema::db::ConnectionManager::new(url.clone(), &Default::default());
    let mut conn = manager
        .connect()
        .with_context(|| format!("cannot connect to database {url}"))?;
    if check {
        let status = incidex_schema::db::migration_status(&mut conn)?;
        for v in &status.applied {
            println!("applied {v}");
        }
        for v in &status.pending {
            println!("pending {v}");
        }
        return Ok(if status.pending.is_empty() {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::FAILURE
        });
    }
    let applied =
        incidex_schema::db::run_migrations(&mut conn).context("database migrations failed")?;
    if applied.is_empty() {
        println!("database {url} is up to date");
    }
    for v in &applied {
        println!("applied {v}");
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `serve --demo`: seeds off the async workers and logs what it did; a
/// generated password is logged once, here.
async fn seed_demo(state: &crate::state::AppState) -> anyhow::Result<()> {
    // Read at the edge, deliberately not a setting: it only matters here.
    let password = std::env::var("INCIDEX_DEMO_PASSWORD").ok();
    let registry = state.registry.clone();
    let outcome = actix_web::rt::task::spawn_blocking(move || {
        incidex_registry::demo::seed(&registry.reports, &registry.hasher, password)
    })
    .await
    .context("demo seeding task failed")??;
    tracing::info!(newly_published = outcome.published, "demo registry ready");
    match (&outcome.generated_password, outcome.user_created) {
        (Some(password), _) => tracing::info!(
            username = incidex_registry::demo::DEMO_USER,
            password = %password,
            "demo analyst created; sign in at /login with this password (shown only now)"
        ),
        (None, true) => tracing::info!(
            username = incidex_registry::demo::DEMO_USER,
            "demo analyst created with the password from INCIDEX_DEMO_PASSWORD"
        ),
        (None, false) => tracing::info!(
            username = incidex_registry::demo::DEMO_USER,
            "demo analyst already exists; its password is unchanged"
        ),
    }
    Ok(())
}
