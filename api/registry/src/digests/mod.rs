//! Periodic digests: what happened in the registry in a day, an ISO week or
//! a calendar month, for one audience.
//!
//! Policy (the full story is `docs/digests.md`):
//! - Audiences follow the TLP rules of `crate::views`: a `members` digest
//!   holds only what every member may read (TLP clear and green); an
//!   `analysts` digest adds amber. Red material is never in a digest, and
//!   nothing is in one that the reader could not get from the API: incidents
//!   are the anonymised shared view, clusters and lessons are computed from
//!   the reports the audience may read. Reporters read `members` digests,
//!   analysts `analysts` digests.
//! - Content ([`build`]): reports whose publication or amendment falls in the
//!   period (current revision, still published), most severe first; clusters
//!   that started or grew in it; lessons recorded or endorsed in it;
//!   headline figures, with the previous period's for comparison.
//! - Exactly once: the scheduler ([`scheduler`]) claims each (kind, period,
//!   audience) in the database under a lease before producing it
//!   (`incidex_schema::db::digests`), stores the JSON once, and renders every
//!   other format from that JSON ([`render`]), so a digest never changes once
//!   produced and every replica serves the same bytes.
//! - `incidex digest` builds the digest of any period on demand from the
//!   database without storing it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use incidex_schema::identity::Role;
use incidex_schema::report::Tlp;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

pub mod build;
pub mod feed;
pub mod period;
pub mod render;
pub mod scheduler;

pub use build::{BuildContext, build};
pub use period::{DigestKind, Period};

use incidex_schema::db::DbConnection;

use crate::error::{RegistryError, RegistryResult};
use crate::views::SharedReport;

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/// The `[digests]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigestSettings {
    /// Whether `serve` runs the digest scheduler.
    pub enabled: bool,
    /// The kinds of period digests are produced for (a list, or
    /// comma-separated in the environment).
    #[serde(deserialize_with = "kinds")]
    pub periods: Vec<DigestKind>,
    /// How often the scheduler looks for completed periods (it also does at
    /// start-up).
    pub tick_secs: u64,
    /// Where the files of every digest are written; default
    /// `<data_dir>/digests`.
    pub export_dir: Option<PathBuf>,
    /// Completed periods that ended more than this many days ago are not
    /// caught up (at least 1).
    pub catch_up_days: u32,
    /// How long a claim on a digest lasts before another replica may take
    /// it over (the holder crashed or stopped mid-run).
    pub lease_secs: u64,
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            enabled: true,
            periods: vec![DigestKind::Weekly],
            tick_secs: 300,
            export_dir: None,
            catch_up_days: 92,
            lease_secs: 600,
        }
    }
}

impl DigestSettings {
    /// The export directory, resolved against the data directory.
    pub fn export_dir(&self, data_dir: &Path) -> PathBuf {
        self.export_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("digests"))
    }

    /// What makes these settings unusable, if anything.
    pub fn problem(&self) -> Option<String> {
        if self.tick_secs == 0 {
            return Some("digests.tick_secs must be at least 1".into());
        }
        if self.catch_up_days == 0 {
            return Some("digests.catch_up_days must be at least 1".into());
        }
        if self.lease_secs < 10 {
            return Some("digests.lease_secs must be at least 10".into());
        }
        None
    }
}

/// A list of kinds, or a comma-separated string of them (environment).
fn kinds<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<DigestKind>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Kinds {
        List(Vec<String>),
        Text(String),
    }
    let names = match Kinds::deserialize(de)? {
        Kinds::List(list) => list,
        Kinds::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    let mut out: Vec<DigestKind> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let kind: DigestKind = name.parse().map_err(serde::de::Error::custom)?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Audiences
// ---------------------------------------------------------------------------

/// Who a digest is for, which decides the TLP levels it may hold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Every member (reporters): TLP clear and green.
    Members,
    /// Analysts: TLP clear, green and amber.
    Analysts,
}

impl Audience {
    pub const ALL: &'static [Audience] = &[Audience::Members, Audience::Analysts];

    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Members => "members",
            Audience::Analysts => "analysts",
        }
    }

    pub fn parse(s: &str) -> Option<Audience> {
        Audience::ALL.iter().copied().find(|a| a.as_str() == s)
    }

    /// The role whose reading rights the audience has.
    pub fn role(self) -> Role {
        match self {
            Audience::Members => Role::Reporter,
            Audience::Analysts => Role::Analyst,
        }
    }

    /// The audience of a reader with `role` (admins read no report content,
    /// so they have none).
    pub fn of_role(role: Role) -> Option<Audience> {
        match role {
            Role::Reporter => Some(Audience::Members),
            Role::Analyst => Some(Audience::Analysts),
            Role::Admin => None,
        }
    }

    /// The TLP levels a digest for this audience may hold.
    pub fn tlps(self) -> &'static [Tlp] {
        crate::visibility::readable_tlps(self.role())
    }
}

/// The id of a digest: `weekly-2026-W40-members`.
pub fn digest_id(period: &Period, audience: Audience) -> String {
    format!(
        "{}-{}-{}",
        period.kind.as_str(),
        period.label(),
        audience.as_str()
    )
}

// ---------------------------------------------------------------------------
// The digest (wire and stored form)
// ---------------------------------------------------------------------------

/// A digest: what happened in the registry in one period, as one audience
/// may see it. This JSON is what is stored; the CSV, Markdown, HTML and
/// Atom forms are rendered from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Digest {
    /// `kind-label-audience`, e.g. `weekly-2026-W40-members`.
    #[schema(example = "weekly-2026-W40-members")]
    pub id: String,
    pub kind: DigestKind,
    pub audience: Audience,
    pub period: PeriodInfo,
    /// When it was produced.
    pub generated_at: DateTime<Utc>,
    /// The TLP levels it may hold (red never).
    pub tlps: Vec<Tlp>,
    /// Headline figures of the period.
    pub figures: Figures,
    /// The period before, with its figures for comparison.
    pub previous: PreviousPeriod,
    /// This period's figures minus the previous period's.
    pub changes: FigureChanges,
    /// Reports published or amended in the period, most severe first.
    pub incidents: Vec<DigestIncident>,
    pub clusters: DigestClusters,
    pub lessons: DigestLessons,
}

/// A period: `[start, end)` in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PeriodInfo {
    /// `2026-10-05` (daily), `2026-W40` (weekly, ISO week) or `2026-10` (monthly).
    #[schema(example = "2026-W40")]
    pub label: String,
    /// First instant of the period.
    pub start: DateTime<Utc>,
    /// First instant after the period.
    pub end: DateTime<Utc>,
}

impl PeriodInfo {
    pub fn of(period: &Period) -> PeriodInfo {
        PeriodInfo {
            label: period.label(),
            start: period.start.and_utc(),
            end: period.end.and_utc(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviousPeriod {
    pub period: PeriodInfo,
    pub figures: Figures,
}

/// Headline figures over the incidents of a period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Figures {
    /// Reports published or amended in the period.
    pub incidents: u64,
    /// Of those, first published in the period.
    pub published: u64,
    /// Of those, published before and amended in the period.
    pub amended: u64,
    /// Incidents per computed severity (`minor`, `major`, `critical`).
    pub by_severity: std::collections::BTreeMap<String, u64>,
    /// Incidents per ENISA root-cause category (`not_stated` when missing).
    pub by_root_cause: std::collections::BTreeMap<String, u64>,
    /// Incidents per affected service (an incident counts once per service).
    pub by_service: std::collections::BTreeMap<String, u64>,
    /// Incidents per main network domain (`not_stated` when missing).
    pub by_network_domain: std::collections::BTreeMap<String, u64>,
    /// Incidents that affected the emergency service.
    pub emergency_service_incidents: u64,
    pub user_hours: UserHours,
    pub durations: Durations,
}

/// Lost user-hours, added up over the incidents that report both
/// subscribers and duration.
///
/// A single incident's user-hours, with its duration, would give its exact
/// subscriber count back (which the shared view never shows), so the total
/// is shown only when at least `k_anonymity` incidents contribute, and
/// rounded to two significant figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserHours {
    /// Rounded to two significant figures; `null` when fewer incidents than
    /// the registry's k-anonymity threshold report the figures.
    pub total: Option<f64>,
    /// Incidents whose user-hours are known.
    pub incidents_with_figures: u64,
}

/// How long the incidents lasted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Durations {
    /// Incidents per duration band (`<1h`, `1h-4h`, `4h-12h`, `12h-24h`,
    /// `1d-7d`, `>=7d`, and `not_stated`); every band is present.
    pub by_band: Vec<BandCount>,
    /// Median duration in minutes of the incidents that state one.
    pub median_minutes: Option<u32>,
    /// Longest stated duration in minutes.
    pub longest_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BandCount {
    #[schema(example = "1h-4h")]
    pub band: String,
    pub count: u64,
}

/// This period's figures minus the previous period's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FigureChanges {
    pub incidents: i64,
    pub emergency_service_incidents: i64,
    /// Incidents of severity major or critical.
    pub major_or_critical: i64,
    /// `null` unless both totals are shown.
    pub user_hours: Option<f64>,
}

/// Whether an incident entered the digest by publication or amendment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentChange {
    /// First published in the period.
    Published,
    /// Published earlier, amended in the period.
    Amended,
}

impl IncidentChange {
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentChange::Published => "published",
            IncidentChange::Amended => "amended",
        }
    }
}

/// An incident of the period: the report's shared (anonymised) view, as
/// `GET /api/v1/reports/{id}` shows it to the audience, and how it entered
/// the digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestIncident {
    pub change: IncidentChange,
    /// Day of its latest amendment in the period.
    pub amended_on: Option<NaiveDate>,
    /// The shared view; its `id` is the report id.
    #[serde(flatten)]
    pub report: SharedReport,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestClusters {
    /// Clusters whose first incident (that the audience may read) was
    /// published in the period.
    pub new: Vec<DigestCluster>,
    /// Older clusters that gained incidents in the period, most gained first.
    pub growing: Vec<DigestCluster>,
}

/// A cluster as the audience sees it at the end of the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestCluster {
    pub id: String,
    pub label: String,
    pub top_terms: Vec<String>,
    /// Incidents in it published before the end of the period.
    pub size: u64,
    /// Of those, published in the period.
    pub added: u64,
    pub first_seen: NaiveDate,
    pub last_seen: NaiveDate,
    /// The incidents published in the period.
    pub added_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestLessons {
    /// Lessons recorded in the period (from published reports, or curated).
    pub new: Vec<DigestLesson>,
    /// Lessons endorsed in the period, most endorsements in it first (at
    /// most 10).
    pub most_endorsed: Vec<DigestLesson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DigestLesson {
    pub id: String,
    pub text: String,
    pub category: crate::lessons::LessonCategory,
    /// `report` or `curated`.
    #[schema(example = "report")]
    pub source: String,
    pub report_ids: Vec<String>,
    pub cluster_id: Option<String>,
    pub created_on: NaiveDate,
    /// Endorsements in all, when the digest was produced.
    pub endorsements: i64,
    /// Endorsements recorded in the period.
    pub endorsements_in_period: i64,
}

/// The stored digest `id` if the audience may read it (done and theirs),
/// else "not found".
pub fn stored_digest(
    conn: &mut DbConnection,
    id: &str,
    audience: Audience,
) -> RegistryResult<Digest> {
    let row = incidex_schema::db::digests::find(conn, id)?;
    let row = row
        .filter(|r| {
            r.status == incidex_schema::db::digests::STATUS_DONE && r.audience == audience.as_str()
        })
        .ok_or_else(RegistryError::not_found)?;
    let content = row
        .content
        .ok_or_else(|| RegistryError::internal(anyhow::anyhow!("done digest without content")))?;
    Ok(serde_json::from_str(&content)?)
}
