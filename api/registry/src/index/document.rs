//! The projection of a stored report into the index: what any reader may
//! see of it (the shared view), never the owner.
//!
//! What is indexed: the anonymised text, the generalised context (start
//! month only; country only when k members share it; publication day
//! shown, the exact time only used to order) and the enumerated fields.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use incidex_indexer::IndexDoc;
use incidex_schema::db::DbConnection;
use incidex_schema::db::reports::{self, ReportRow};
use incidex_schema::report::{ReportContent, ReportStatus};

use crate::visibility::index_tlp;

/// The shared view of a published report as an index document.
pub fn index_doc(
    row: &ReportRow,
    content: &ReportContent,
    country_members: usize,
    k: usize,
) -> IndexDoc {
    let metrics = content.metrics();
    let location = content.shared_location(country_members, k);
    let context = content.context();
    let input = content.as_input();
    let mut doc = IndexDoc::new(row.id.clone(), input.title.clone(), index_tlp(input.tlp));
    doc.revision = u64::try_from(row.revision).unwrap_or_default();
    doc.summary = input.summary.clone();
    // Every other free-text field, for search and similarity.
    let mut body = Vec::new();
    for field in content.text_fields() {
        if field.path != "title" && field.path != "summary" && !field.path.starts_with("lessons") {
            body.push(field.text.to_owned());
        }
    }
    doc.body = body.join("\n");
    doc.lessons = input.lessons.clone();
    doc.services = input
        .affected
        .services
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    doc.network_domain = input.affected.network_domain.map(|d| d.as_str().to_owned());
    doc.other_domains = input
        .affected
        .other_network_domains
        .iter()
        .map(|d| d.as_str().to_owned())
        .collect();
    doc.assets = input
        .affected
        .assets
        .iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    doc.root_cause_category = input
        .cause
        .root_cause_category
        .map(|c| c.as_str().to_owned());
    doc.trigger = input.cause.trigger.map(|t| t.as_str().to_owned());
    doc.severity = Some(metrics.severity.as_str().to_owned());
    doc.region = location.region.map(|r| r.as_str().to_owned());
    doc.country = location.country.map(|c| c.as_str().to_owned());
    doc.scope = context.scope.map(|s| s.as_str().to_owned());
    doc.operator_type = context.operator_type.map(|o| o.as_str().to_owned());
    doc.enisa_user_hours_1m = metrics.flags.enisa_user_hours_1m;
    doc.fcc_900k_user_minutes = metrics.flags.fcc_900k_user_minutes;
    doc.emergency_service_affected = metrics.flags.emergency_service_affected;
    // The exact publication time orders results (newest first) but is never
    // shown: hits carry the day only and date filters take whole days. The
    // start is indexed as its month only, so filters cannot recover the day.
    doc.published_at = row.published_at.unwrap_or(row.updated_at).and_utc();
    doc.started_on =
        NaiveDate::from_ymd_opt(context.started_on.year(), context.started_on.month(), 1);
    doc.duration_minutes = input.impact.duration_minutes.map(u64::from);
    doc
}

/// Country member counts, for the k-anonymity of the indexed country.
fn country_members(counts: &HashMap<String, usize>, content: &ReportContent) -> usize {
    content
        .context()
        .country
        .as_ref()
        .and_then(|c| counts.get(c.as_str()).copied())
        .unwrap_or(0)
}

/// The document a report should have in the index now, or `None` when it
/// should not be there (draft, withdrawn, deleted).
pub fn current_doc(
    conn: &mut DbConnection,
    report_id: &str,
    counts: &HashMap<String, usize>,
    k: usize,
) -> anyhow::Result<Option<IndexDoc>> {
    let Some(row) = reports::find_report(conn, report_id)? else {
        return Ok(None);
    };
    published_doc(&row, counts, k)
}

/// The index document of a stored report if it is published (what any
/// reader may see of it), else `None`.
pub fn published_doc(
    row: &ReportRow,
    counts: &HashMap<String, usize>,
    k: usize,
) -> anyhow::Result<Option<IndexDoc>> {
    if row.status != ReportStatus::Published.as_str() {
        return Ok(None);
    }
    let content: ReportContent = serde_json::from_str(&row.content)?;
    let members = country_members(counts, &content);
    Ok(Some(index_doc(row, &content, members, k)))
}
