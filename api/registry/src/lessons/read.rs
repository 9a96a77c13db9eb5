//! Lessons as a reader sees them, with endorsement figures.

use std::collections::{HashMap, HashSet};

use incidex_schema::db::DbConnection;
use incidex_schema::db::lessons::{self as store, LessonRow};

use super::{Decoded, Lesson};
use crate::error::RegistryResult;
use crate::visibility::Viewer;

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Turns visible records into wire lessons with endorsement figures.
pub(crate) fn with_endorsements(
    conn: &mut DbConnection,
    viewer: &Viewer,
    decoded: Vec<Decoded>,
) -> RegistryResult<Vec<Lesson>> {
    let ids: Vec<String> = decoded.iter().map(|d| d.row.id.clone()).collect();
    let counts = store::endorsement_counts(conn, &ids)?;
    let mine = match &viewer.endorser_key {
        Some(key) => store::endorsed_by(conn, &ids, key)?,
        None => HashSet::new(),
    };
    Ok(decoded
        .into_iter()
        .map(|d| {
            let n = counts.get(&d.row.id).copied().unwrap_or(0);
            let endorsed = mine.contains(&d.row.id);
            d.into_lesson(n, endorsed)
        })
        .collect())
}

/// The lessons of a cluster's visible members (`visible_reports`, already
/// checked) and those curated for it.
pub fn cluster_lessons(
    conn: &mut DbConnection,
    viewer: &Viewer,
    cluster_id: &str,
    visible_reports: &[String],
) -> RegistryResult<Vec<Lesson>> {
    let mut decoded: Vec<Decoded> = Vec::new();
    let mut by_report: HashMap<String, Vec<LessonRow>> = HashMap::new();
    for row in store::lessons_of_reports(conn, visible_reports)? {
        if let Some(report) = &row.report_id {
            by_report.entry(report.clone()).or_default().push(row);
        }
    }
    for report in visible_reports {
        for row in by_report.remove(report).unwrap_or_default() {
            decoded.push(Decoded::new(row, Some(cluster_id.to_owned())));
        }
    }
    for row in store::curated_lessons(conn, cluster_id)? {
        decoded.push(Decoded::new(row, Some(cluster_id.to_owned())));
    }
    with_endorsements(conn, viewer, decoded)
}
