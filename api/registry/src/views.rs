//! What each reader sees of a report.
//!
//! - The owner sees [`OwnerReport`]: its exact values (start date and time,
//!   subscriber count, country) and the scrubbed free text as stored.
//! - Everyone else sees [`SharedReport`]: no owner, no client, no exact
//!   quasi-identifiers (start generalised to month, day of week and 6-hour
//!   block; subscribers as a band; country only when at least k members are
//!   registered there, else the region), and only the publication date.
//!
//! Who may read which report is decided in `crate::visibility`.

use chrono::{DateTime, NaiveDate, Utc};
use incidex_schema::db::reports::ReportRow;
use incidex_schema::report::{
    AffectedSystems, EmergencyCallImpact, GeneralisedContext, IncidentCause, IncidentResponse,
    Metrics, Redundancy, ReportContent, ReportInput, ReportStatus, Severity, ThresholdFlags,
    TimelineEntry, Tlp,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{RegistryError, RegistryResult};

/// A redaction as stored with a revision: where and what kind, never the
/// original text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredRedaction {
    /// The free-text field, e.g. `summary` or `lessons[1]`.
    pub field: String,
    pub kind: crate::anonymise::RedactionKind,
    /// Byte span in the submitted text.
    pub start: usize,
    pub end: usize,
    pub placeholder: String,
}

/// A report as its owner sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OwnerReport {
    #[schema(example = "5b0f3c1e-8d2a-4e7b-9c41-2f6a7d9e0b13")]
    pub id: String,
    pub status: ReportStatus,
    /// Increases with every change of content.
    pub revision: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    /// The report, with its free text anonymised.
    #[serde(flatten)]
    #[schema(inline, value_type = ReportInput)]
    pub report: ReportContent,
    pub metrics: Metrics,
}

/// What other members and analysts see of a published report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SharedReport {
    pub id: String,
    pub status: ReportStatus,
    pub revision: i32,
    /// The day it was published (not the time).
    pub published_on: Option<NaiveDate>,
    pub tlp: Tlp,
    pub title: String,
    pub summary: String,
    /// When and where, generalised.
    pub context: GeneralisedContext,
    pub affected: AffectedSystems,
    pub cause: IncidentCause,
    pub impact: SharedImpact,
    pub response: IncidentResponse,
    pub timeline: Vec<TimelineEntry>,
    pub notes: Option<String>,
    pub lessons: Vec<String>,
    pub metrics: SharedMetrics,
}

/// Impact without the exact subscriber count (see `context.subscriber_band`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SharedImpact {
    pub duration_minutes: Option<u32>,
    pub duration_note: Option<String>,
    pub emergency_calls: Option<EmergencyCallImpact>,
    pub redundancy: Option<Redundancy>,
    pub description: Option<String>,
}

/// Severity and flags; user-hours are left out because with the duration
/// they would give the exact subscriber count back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SharedMetrics {
    pub severity: Severity,
    pub flags: ThresholdFlags,
}

/// Parses a stored row's content.
pub fn content_of(row: &ReportRow) -> RegistryResult<ReportContent> {
    serde_json::from_str(&row.content).map_err(RegistryError::internal)
}

pub fn status_of(row: &ReportRow) -> RegistryResult<ReportStatus> {
    row.status.parse().map_err(|_| {
        RegistryError::internal(anyhow::anyhow!("stored status {} is invalid", row.status))
    })
}

impl OwnerReport {
    pub fn from_row(row: &ReportRow) -> RegistryResult<OwnerReport> {
        let report = content_of(row)?;
        Ok(OwnerReport {
            id: row.id.clone(),
            status: status_of(row)?,
            revision: row.revision,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
            published_at: row.published_at.map(|t| t.and_utc()),
            metrics: report.metrics(),
            report,
        })
    }
}

impl SharedReport {
    /// The shared view; `country_members` is how many members are
    /// registered in the report's country, `k` the threshold to show it.
    pub fn from_row(
        row: &ReportRow,
        country_members: usize,
        k: usize,
    ) -> RegistryResult<SharedReport> {
        let content = content_of(row)?;
        let metrics = content.metrics();
        let context = content.generalised_context(country_members, k);
        let input = content.into_input();
        Ok(SharedReport {
            id: row.id.clone(),
            status: status_of(row)?,
            revision: row.revision,
            published_on: row.published_at.map(|t| t.date()),
            tlp: input.tlp,
            title: input.title,
            summary: input.summary,
            context,
            affected: input.affected,
            cause: input.cause,
            impact: SharedImpact {
                duration_minutes: input.impact.duration_minutes,
                duration_note: input.impact.duration_note,
                emergency_calls: input.impact.emergency_calls,
                redundancy: input.impact.redundancy,
                description: input.impact.description,
            },
            response: input.response,
            timeline: input.timeline,
            notes: input.notes,
            lessons: input.lessons,
            metrics: SharedMetrics {
                severity: metrics.severity,
                flags: metrics.flags,
            },
        })
    }
}
