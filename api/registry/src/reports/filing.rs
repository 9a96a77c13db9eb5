//! Every change of a report, shared by the HTTP API, the filing queue and
//! `incidex import`, so every path stores reports the same way: anonymised,
//! with a revision and a change-log entry in one transaction, and the
//! report's lesson records following its published content.

use incidex_schema::db::DbConnection;
use incidex_schema::db::reports::{self, ReportRow, now};
use incidex_schema::report::{ReportContent, ReportStatus};

use super::intake::anonymise_report;
use super::{OwnedReport, redactions_json};
use crate::error::{RegistryError, RegistryResult};
use crate::keys::RegistryKeys;
use crate::members::AnonymiserCache;
use crate::receipts::{self, Receipt, ReceiptClaims};
use crate::views::OwnerReport;

/// Anonymises and stores a new draft.
pub fn file_report(
    members: &AnonymiserCache,
    conn: &mut DbConnection,
    operator_id: &str,
    owner_key: &str,
    content: ReportContent,
) -> RegistryResult<OwnedReport> {
    let anonymised = anonymise_report(members, conn, operator_id, content)?;
    let row = new_report_row(owner_key, &anonymised.content, false, now())?;
    reports::create_with_revision(conn, &row, &redactions_json(&anonymised.redactions))?;
    Ok(OwnedReport {
        report: OwnerReport::from_row(&row)?,
        redactions: anonymised.redactions,
        receipt: None,
    })
}

/// The row of a new report (revision 1) of `owner_key`: a draft, or
/// published at `at`.
pub fn new_report_row(
    owner_key: &str,
    content: &ReportContent,
    published: bool,
    at: chrono::NaiveDateTime,
) -> RegistryResult<ReportRow> {
    let status = if published {
        ReportStatus::Published
    } else {
        ReportStatus::Draft
    };
    Ok(ReportRow {
        id: uuid::Uuid::new_v4().to_string(),
        owner_key: owner_key.to_owned(),
        status: status.as_str().to_owned(),
        tlp: content.tlp().as_str().to_owned(),
        revision: 1,
        content: serde_json::to_string(content)?,
        created_at: at,
        updated_at: at,
        published_at: published.then_some(at),
    })
}

/// The signed receipt for `row`, published at `at`.
pub fn receipt_for(
    keys: &RegistryKeys,
    issuer: &str,
    row: &ReportRow,
    at: chrono::NaiveDateTime,
) -> Receipt {
    receipts::issue(
        keys,
        ReceiptClaims {
            report_id: row.id.clone(),
            revision: row.revision,
            content_sha256: receipts::content_hash(&row.content),
            published_at: at.and_utc(),
            issuer: issuer.to_owned(),
        },
    )
}

/// Publishes the draft `id` of `owner_key` and signs a receipt for it, in
/// one transaction (the caller's, when it has one open).
pub fn publish_report(
    keys: &RegistryKeys,
    issuer: &str,
    conn: &mut DbConnection,
    id: &str,
    owner_key: &str,
) -> RegistryResult<(OwnerReport, Receipt)> {
    incidex_schema::db::atomically(conn, |conn| {
        let at = now();
        let Some(published) = reports::publish_draft(conn, id, owner_key, at)? else {
            // Not a draft of this owner: say which, without revealing
            // other operators' reports.
            let row = reports::find_report(conn, id)?
                .filter(|r| r.owner_key == owner_key)
                .ok_or_else(RegistryError::not_found)?;
            return Err(RegistryError::Conflict(format!(
                "the report is {}, not a draft",
                row.status
            )));
        };
        // Its lessons become lesson records (a draft has none yet).
        crate::lessons::store::add_published_lessons(conn, &published)?;
        let receipt = receipt_for(keys, issuer, &published, at);
        Ok((OwnerReport::from_row(&published)?, receipt))
    })
}
