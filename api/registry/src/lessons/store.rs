//! Lesson records of published reports, kept in step with the report in
//! the transaction of every publication, amendment and withdrawal.

use incidex_schema::db::DbConnection;
use incidex_schema::db::lessons::{self as store, LessonPlacement, LessonRow, SOURCE_REPORT};
use incidex_schema::db::reports::{ReportRow, now};
use incidex_schema::report::{ReportContent, ReportStatus};

use super::LessonCategory;
use crate::error::RegistryResult;

// ---------------------------------------------------------------------------
// Report lessons
// ---------------------------------------------------------------------------

/// The report fields a lesson copies for filtering.
fn placement(
    content: &ReportContent,
    position: i32,
    text: &str,
) -> RegistryResult<LessonPlacement> {
    let affected = content.affected();
    let services: Vec<&str> = affected.services.iter().map(|s| s.as_str()).collect();
    let mut domains: Vec<&str> = affected
        .network_domain
        .iter()
        .chain(&affected.other_network_domains)
        .map(|d| d.as_str())
        .collect();
    domains.sort_unstable();
    domains.dedup();
    Ok(LessonPlacement {
        position,
        category: LessonCategory::classify(text).as_str().to_owned(),
        report_services: serde_json::to_string(&services)?,
        report_domains: serde_json::to_string(&domains)?,
        report_root_cause: content
            .cause()
            .root_cause_category
            .map(|c| c.as_str().to_owned()),
        report_trigger: content.cause().trigger.map(|t| t.as_str().to_owned()),
    })
}

fn report_lesson(
    row: &ReportRow,
    text: &str,
    placed: LessonPlacement,
    at: chrono::NaiveDateTime,
) -> LessonRow {
    LessonRow {
        id: uuid::Uuid::new_v4().to_string(),
        report_id: Some(row.id.clone()),
        cluster_id: None,
        position: placed.position,
        text: text.to_owned(),
        category: placed.category,
        source: SOURCE_REPORT.to_owned(),
        report_services: placed.report_services,
        report_domains: placed.report_domains,
        report_root_cause: placed.report_root_cause,
        report_trigger: placed.report_trigger,
        created_at: at,
    }
}

/// The lesson records of a report published for the first time (a draft
/// has none), in one statement. Call it in the publishing transaction.
pub fn add_published_lessons(conn: &mut DbConnection, row: &ReportRow) -> RegistryResult<()> {
    store::insert_lessons(conn, &published_lesson_rows(row)?)?;
    Ok(())
}

/// The lesson records a newly published report brings, not yet stored.
pub fn published_lesson_rows(row: &ReportRow) -> RegistryResult<Vec<LessonRow>> {
    let content = crate::views::content_of(row)?;
    let at = now();
    let mut records = Vec::new();
    for (position, text) in content.lessons().iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let placed = placement(&content, i32::try_from(position).unwrap_or(i32::MAX), text)?;
        records.push(report_lesson(row, text, placed, at));
    }
    Ok(records)
}

/// Brings a report's lesson records in line with the report as stored in
/// `row`: published, one record per lesson; otherwise none. Call it in the
/// transaction that stores the change.
pub fn sync_report_lessons(conn: &mut DbConnection, row: &ReportRow) -> RegistryResult<()> {
    let mut unused = store::report_lessons(conn, &row.id)?;
    if row.status == ReportStatus::Published.as_str() {
        let content = crate::views::content_of(row)?;
        let at = now();
        for (position, text) in content.lessons().iter().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            let placed = placement(&content, i32::try_from(position).unwrap_or(i32::MAX), text)?;
            if let Some(i) = unused.iter().position(|l| l.text == *text) {
                let kept = unused.swap_remove(i);
                let current = LessonPlacement {
                    position: kept.position,
                    category: kept.category.clone(),
                    report_services: kept.report_services.clone(),
                    report_domains: kept.report_domains.clone(),
                    report_root_cause: kept.report_root_cause.clone(),
                    report_trigger: kept.report_trigger.clone(),
                };
                if current != placed {
                    store::place_lesson(conn, &kept.id, &placed)?;
                }
            } else {
                store::insert_lesson(conn, &report_lesson(row, text, placed, at))?;
            }
        }
    }
    let gone: Vec<String> = unused.into_iter().map(|l| l.id).collect();
    store::delete_lessons(conn, &gone)?;
    Ok(())
}
