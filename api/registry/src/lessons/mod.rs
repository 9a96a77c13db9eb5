//! Lessons learned as queryable records.
//!
//! Policy:
//! - Every lesson of a published report is a record linked to it (and so,
//!   through the report, to its cluster). [`store::sync_report_lessons`] writes
//!   them in the transaction of the publication or amendment that makes
//!   them: a lesson whose text is unchanged keeps its id (and its
//!   endorsements), new texts get new records, removed texts and every
//!   lesson of a withdrawn report are deleted. The text is the report's
//!   stored lesson, already anonymised at intake.
//! - Analysts add curated lessons to a cluster; their text is anonymised
//!   like report text (every member's names and aliases, identifiers; there
//!   is no filer whose own terms would apply).
//! - Category: given by the analyst for a curated lesson, otherwise the
//!   keyword rule of [`LessonCategory::classify`] (see
//!   `docs/clusters-and-lessons.md`).
//! - Visibility: a report lesson is shown to whoever may read its report
//!   ([`crate::visibility::Viewer`]); a curated lesson to whoever may see its cluster (at least
//!   one visible member). Totals and facet counts count only shown lessons.
//!   No lesson carries the filer.
//! - Endorsements ("we applied this too") are stored under a keyed hash of
//!   the member, counted once per member and never attributed.
//! - Full text: an in-process search over the lessons the reader may see,
//!   after the structured filters, with the search index's analyser (stems,
//!   telecom vocabulary). Every word must appear, a quoted phrase as
//!   written; ranking is tf-idf over the visible lessons. Analysed texts are
//!   memoised by text, so a query costs little more than one pass over the
//!   visible lessons.

mod category;
pub mod query;
pub mod read;
pub mod store;
pub mod text;

use std::str::FromStr;

use chrono::NaiveDate;
use incidex_schema::db::lessons::LessonRow;
use incidex_schema::report::{NetworkDomain, RootCauseCategory, Service, Trigger};
use serde::Serialize;
use utoipa::ToSchema;

pub use category::{LessonCategory, LessonSource};
pub use query::{
    CuratedLesson, Endorsement, LessonList, LessonQuery, LessonSort, MAX_LESSON_PAGE,
    NewCuratedLesson, add_curated, all_visible, endorse, list_lessons,
};
pub use read::cluster_lessons;
pub use text::TextQuery;

/// A lesson as a reader sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lesson {
    #[schema(example = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")]
    pub id: String,
    /// The anonymised statement.
    #[schema(example = "Supervise emergency call completion end to end with dedicated alarms.")]
    pub text: String,
    pub category: LessonCategory,
    pub source: LessonSource,
    /// The reports it comes from (empty for a curated lesson).
    pub report_ids: Vec<String>,
    /// The cluster of its report, or the cluster it was curated for.
    pub cluster_id: Option<String>,
    /// Members who applied it too (once per member; never who).
    pub endorsements: i64,
    /// Whether the caller's member endorsed it.
    pub endorsed: bool,
    /// The report's services, network domains (main and other), root cause
    /// and trigger, from its shared view (empty for curated lessons).
    pub services: Vec<Service>,
    pub domains: Vec<NetworkDomain>,
    pub root_cause_category: Option<RootCauseCategory>,
    pub trigger: Option<Trigger>,
    /// The day the lesson was recorded.
    pub created_on: NaiveDate,
}

/// A lesson record with its filter fields decoded.
pub(crate) struct Decoded {
    pub(crate) row: LessonRow,
    pub(crate) cluster_id: Option<String>,
    pub(crate) category: LessonCategory,
    pub(crate) source: LessonSource,
    pub(crate) services: Vec<Service>,
    pub(crate) domains: Vec<NetworkDomain>,
    pub(crate) root_cause_category: Option<RootCauseCategory>,
    pub(crate) trigger: Option<Trigger>,
}

fn parse_list<T: FromStr>(json: &str) -> Vec<T> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

impl Decoded {
    pub(crate) fn new(row: LessonRow, cluster_id: Option<String>) -> Decoded {
        Decoded {
            cluster_id,
            category: LessonCategory::parse(&row.category).unwrap_or(LessonCategory::Other),
            source: LessonSource::parse(&row.source).unwrap_or(LessonSource::Report),
            services: parse_list(&row.report_services),
            domains: parse_list(&row.report_domains),
            root_cause_category: row
                .report_root_cause
                .as_deref()
                .and_then(|s| s.parse().ok()),
            trigger: row.report_trigger.as_deref().and_then(|s| s.parse().ok()),
            row,
        }
    }

    pub(crate) fn into_lesson(self, endorsements: i64, endorsed: bool) -> Lesson {
        Lesson {
            report_ids: self.row.report_id.iter().cloned().collect(),
            id: self.row.id,
            text: self.row.text,
            category: self.category,
            source: self.source,
            cluster_id: self.cluster_id,
            endorsements,
            endorsed,
            services: self.services,
            domains: self.domains,
            root_cause_category: self.root_cause_category,
            trigger: self.trigger,
            created_on: self.row.created_at.date(),
        }
    }
}
