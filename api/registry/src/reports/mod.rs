//! Reports: filing, publishing, amending, withdrawing and reading, one
//! path for each act whatever the caller (HTTP, the filing queue, `incidex
//! import`, the demo).
//!
//! - New filings and publications go through the group-commit queue
//!   ([`queue`]), which stores what arrives together in one transaction.
//! - Replacing, patching and withdrawing run one transaction each
//!   ([`Reports::replace`], [`Reports::patch`], [`Reports::withdraw`]).
//! - Anyone who is not the owner gets "not found" for a report they may
//!   not read, so nothing reveals that it exists.

pub mod filing;
pub mod idempotency;
pub mod intake;
pub mod queue;

use std::collections::HashMap;
use std::sync::Arc;

use incidex_schema::db::changes::ChangeKind;
use incidex_schema::db::reports::{self, ReportRow, now};
use incidex_schema::db::{DbConnection, DbPool};
use incidex_schema::identity::Role;
use incidex_schema::report::{ReportContent, ReportInput, ReportStatus, apply_patch};
use serde::Serialize;
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::changelog::ChangeSignal;
use crate::conn::with_connection;
use crate::error::{RegistryError, RegistryResult};
use crate::keys::{RegistryKeys, owner_key};
use crate::members::AnonymiserCache;
use crate::receipts::Receipt;
use crate::views::{OwnerReport, SharedReport, StoredRedaction};
use crate::visibility::{may_read_shared, readable_tlps};

pub use idempotency::{IdempotencyScope, Outcome, Recorded};
pub use queue::{Filing, FilingQueue, Publication, Work};

/// Largest page of reports.
pub const MAX_PAGE: i64 = 200;

/// A report as its owner sees it, with the redactions of this revision.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnedReport {
    #[serde(flatten)]
    pub report: OwnerReport,
    /// What anonymisation replaced in this revision (never the original text).
    pub redactions: Vec<StoredRedaction>,
    /// The signed receipt, when the report was filed with `publish=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Receipt>,
}

/// Publication result: the report and the signed receipt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Published {
    pub report: OwnerReport,
    pub receipt: Receipt,
}

/// What the owner will share, before publishing.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// Exactly what other members will see once published.
    pub shared: SharedReport,
    pub redactions: Vec<StoredRedaction>,
}

// One revision of a report, as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revision {
    pub revision: i32,
    pub status: ReportStatus,
    pub created_at: chrono::DateTime<chrono::Utc>,
    #[schema(value_type = ReportInput)]
    pub report: ReportContent,
    pub redactions: Vec<StoredRedaction>,
}

// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

/// A report as a reader sees it: whole for its owner, the shared view for
/// anyone else.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ReportView {
    Owned(Box<OwnedReport>),
    Shared(Box<SharedReport>),
}

/// A page of reports as a reader sees them.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ReportPage {
    Owned(Page<OwnerReport>),
    Shared(Page<SharedReport>),
}

pub(crate) fn redactions_json(redactions: &[StoredRedaction]) -> String {
    serde_json::to_string(redactions).unwrap_or_else(|_| "[]".into())
}

fn stored_redactions(
    conn: &mut DbConnection,
    row: &ReportRow,
) -> RegistryResult<Vec<StoredRedaction>> {
    let json =
        reports::latest_redactions(conn, &row.id, row.revision)?.unwrap_or_else(|| "[]".into());
    Ok(serde_json::from_str(&json)?)
}

/// The caller's own report, or "not found".
fn owned(conn: &mut DbConnection, id: &str, owner: &str) -> RegistryResult<ReportRow> {
    reports::find_report(conn, id)?
        .filter(|r| r.owner_key == owner)
        .ok_or_else(RegistryError::not_found)
}

/// The shared view of `row`, with its country shown only when at least `k`
/// members are registered there.
pub fn shared_view(
    row: &ReportRow,
    counts: &HashMap<String, usize>,
    k: usize,
) -> RegistryResult<SharedReport> {
    let content = crate::views::content_of(row)?;
    let members = content
        .context()
        .country
        .as_ref()
        .and_then(|c| counts.get(c.as_str()).copied())
        .unwrap_or(0);
    SharedReport::from_row(row, members, k)
}

/// Everything filing and reading reports needs.
#[derive(Clone)]
pub struct Reports {
    pub pool: DbPool,
    pub members: Arc<AnonymiserCache>,
    pub keys: Arc<RegistryKeys>,
    /// `iss` of publication receipts.
    pub issuer: String,
    /// A country is shown only when at least this many members share it.
    pub k_anonymity: usize,
    /// New reports, group-committed by writer threads.
    pub queue: Arc<FilingQueue>,
    /// Woken after every committed change.
    pub changed: Arc<ChangeSignal>,
}

impl std::fmt::Debug for Reports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reports").finish_non_exhaustive()
    }
}

/// A member caller's operator id, or "forbidden".
fn member_of(caller: &Caller) -> RegistryResult<&str> {
    caller
        .operator_id
        .as_deref()
        .filter(|_| caller.role == Role::Reporter)
        .ok_or_else(|| RegistryError::Forbidden("only reporters have reports of their own".into()))
}

impl Reports {
    /// The stored owner key of `operator_id`'s reports.
    pub fn owner_key(&self, operator_id: &str) -> String {
        owner_key(&self.keys, operator_id)
    }

    /// The idempotency scope of a caller's requests (a keyed hash).
    pub fn idempotency_scope(&self, caller: &Caller) -> String {
        self.keys.opaque_key("idem", &caller.subject)
    }

    /// Stores a filing or publication with whatever else is being filed at
    /// the same time (group commit); on its own only when the queue is
    /// full. Wakes the followers of the change log once it is committed.
    pub async fn store(&self, work: Work) -> RegistryResult<Recorded> {
        let publishes = work.publishes();
        let recorded = match self.queue.submit(work) {
            Ok(answer) => answer
                .await
                .map_err(|_| RegistryError::Unavailable("the service is shutting down".into()))?,
            Err(work) => {
                let ctx = self.queue.context().clone();
                tokio::task::spawn_blocking(move || {
                    with_connection(&ctx.pool, |conn| queue::store_one(&ctx, conn, *work))
                })
                .await
                .map_err(RegistryError::internal)?
            }
        }?;
        if publishes {
            self.changed.notify();
        }
        Ok(recorded)
    }

    /// A report as `caller` may see it: whole for its owner, the shared
    /// view of a published report its role may read, else "not found".
    pub fn read(&self, caller: &Caller, id: &str) -> RegistryResult<ReportView> {
        let owner = caller.owner_key(&self.keys);
        with_connection(&self.pool, |conn| {
            let row = reports::find_report(conn, id)?.ok_or_else(RegistryError::not_found)?;
            if owner.as_deref() == Some(row.owner_key.as_str()) {
                let redactions = stored_redactions(conn, &row)?;
                return Ok(ReportView::Owned(Box::new(OwnedReport {
                    report: OwnerReport::from_row(&row)?,
                    redactions,
                    receipt: None,
                })));
            }
            if !may_read_shared(caller.role, &row) {
                return Err(RegistryError::not_found());
            }
            let counts = self.members.country_counts(conn)?;
            Ok(ReportView::Shared(Box::new(shared_view(
                &row,
                &counts,
                self.k_anonymity,
            )?)))
        })
    }

    /// The caller's own reports (any status, or only `status`).
    pub fn list_mine(
        &self,
        caller: &Caller,
        status: Option<ReportStatus>,
        limit: i64,
        offset: i64,
    ) -> RegistryResult<Page<OwnerReport>> {
        let owner = self.owner_key(member_of(caller)?);
        with_connection(&self.pool, |conn| {
            let status = status.map(|s| s.as_str());
            let (rows, total) = reports::list_owned(conn, &owner, status, limit, offset)?;
            let items = rows
                .iter()
                .map(OwnerReport::from_row)
                .collect::<RegistryResult<Vec<_>>>()?;
            Ok(Page {
                items,
                total,
                limit,
                offset,
            })
        })
    }

    /// The published reports `role` may read, newest first.
    pub fn list_shared(
        &self,
        role: Role,
        limit: i64,
        offset: i64,
    ) -> RegistryResult<Page<SharedReport>> {
        let tlps: Vec<&'static str> = readable_tlps(role).iter().map(|t| t.as_str()).collect();
        with_connection(&self.pool, |conn| {
            let (rows, total) = reports::list_published(conn, &tlps, limit, offset)?;
            let counts = self.members.country_counts(conn)?;
            let items = rows
                .iter()
                .map(|r| shared_view(r, &counts, self.k_anonymity))
                .collect::<RegistryResult<Vec<_>>>()?;
            Ok(Page {
                items,
                total,
                limit,
                offset,
            })
        })
    }

    /// Replaces a report's content: a draft is edited, a published report
    /// amended (a new revision). Only the owner may.
    pub fn replace(
        &self,
        caller: &Caller,
        id: &str,
        content: ReportContent,
    ) -> RegistryResult<OwnedReport> {
        let operator = member_of(caller)?;
        let owner = self.owner_key(operator);
        let out = with_connection(&self.pool, |conn| {
            incidex_schema::db::write_transaction(conn, |conn| {
                let row = owned(conn, id, &owner)?;
                self.save_content(conn, operator, row, content)
            })
        })?;
        self.changed.notify();
        Ok(out)
    }

    /// Changes some fields of a report (a JSON merge patch, RFC 7396); the
    /// same rules as [`Reports::replace`].
    pub fn patch(
        &self,
        caller: &Caller,
        id: &str,
        patch: &serde_json::Value,
    ) -> RegistryResult<OwnedReport> {
        let operator = member_of(caller)?;
        let owner = self.owner_key(operator);
        let out = with_connection(&self.pool, |conn| {
            incidex_schema::db::write_transaction(conn, |conn| {
                let row = owned(conn, id, &owner)?;
                let current = crate::views::content_of(&row)?;
                let content = apply_patch(current.as_input(), patch)?.validate()?;
                self.save_content(conn, operator, row, content)
            })
        })?;
        self.changed.notify();
        Ok(out)
    }

    /// Stores new content for the caller's report: a draft is edited in
    /// place, a published report is amended (a new revision, still
    /// published).
    fn save_content(
        &self,
        conn: &mut DbConnection,
        operator_id: &str,
        row: ReportRow,
        content: ReportContent,
    ) -> RegistryResult<OwnedReport> {
        let kind = match row.status.parse::<ReportStatus>() {
            Ok(ReportStatus::Draft) => ChangeKind::Updated,
            Ok(ReportStatus::Published) => ChangeKind::Amended,
            _ => {
                return Err(RegistryError::Conflict(
                    "a withdrawn report cannot be changed".into(),
                ));
            }
        };
        let anonymised = intake::anonymise_report(&self.members, conn, operator_id, content)?;
        let updated = ReportRow {
            revision: row.revision + 1,
            tlp: anonymised.content.tlp().as_str().to_owned(),
            content: serde_json::to_string(&anonymised.content)?,
            updated_at: now(),
            ..row
        };
        reports::save_change(
            conn,
            &updated,
            kind,
            Some(&redactions_json(&anonymised.redactions)),
        )?
        .ok_or_else(RegistryError::not_found)?;
        // An amended published report's lesson records follow its new content.
        crate::lessons::store::sync_report_lessons(conn, &updated)?;
        Ok(OwnedReport {
            report: OwnerReport::from_row(&updated)?,
            redactions: anonymised.redactions,
            receipt: None,
        })
    }

    /// Withdraws a report: nobody but the owner can read it any more.
    pub fn withdraw(&self, caller: &Caller, id: &str) -> RegistryResult<OwnerReport> {
        let owner = self.owner_key(member_of(caller)?);
        let out = with_connection(&self.pool, |conn| {
            incidex_schema::db::write_transaction(conn, |conn| {
                let row = owned(conn, id, &owner)?;
                if row.status == ReportStatus::Withdrawn.as_str() {
                    return Err(RegistryError::Conflict(
                        "the report is already withdrawn".into(),
                    ));
                }
                let withdrawn = ReportRow {
                    status: ReportStatus::Withdrawn.as_str().to_owned(),
                    updated_at: now(),
                    ..row
                };
                reports::save_change(conn, &withdrawn, ChangeKind::Withdrawn, None)?
                    .ok_or_else(RegistryError::not_found)?;
                // Withdrawn: its lesson records go too.
                crate::lessons::store::sync_report_lessons(conn, &withdrawn)?;
                OwnerReport::from_row(&withdrawn)
            })
        })?;
        self.changed.notify();
        Ok(out)
    }

    /// Every revision of the caller's report, oldest first.
    pub fn revisions(&self, caller: &Caller, id: &str) -> RegistryResult<Vec<Revision>> {
        let owner = self.owner_key(member_of(caller)?);
        with_connection(&self.pool, |conn| {
            owned(conn, id, &owner)?;
            reports::revisions(conn, id)?
                .into_iter()
                .map(|r| {
                    Ok(Revision {
                        revision: r.revision,
                        status: r.status.parse().map_err(|_| {
                            RegistryError::internal(anyhow::anyhow!(
                                "stored status {} is invalid",
                                r.status
                            ))
                        })?,
                        created_at: r.created_at.and_utc(),
                        report: serde_json::from_str(&r.content)?,
                        redactions: serde_json::from_str(&r.redactions)?,
                    })
                })
                .collect()
        })
    }

    /// Exactly what other members will see of the caller's report once
    /// published, with what anonymisation redacted.
    pub fn preview(&self, caller: &Caller, id: &str) -> RegistryResult<Preview> {
        let owner = self.owner_key(member_of(caller)?);
        with_connection(&self.pool, |conn| {
            let row = owned(conn, id, &owner)?;
            let redactions = stored_redactions(conn, &row)?;
            let counts = self.members.country_counts(conn)?;
            let as_published = ReportRow {
                status: ReportStatus::Published.as_str().to_owned(),
                published_at: row.published_at.or_else(|| Some(now())),
                ..row
            };
            Ok(Preview {
                shared: shared_view(&as_published, &counts, self.k_anonymity)?,
                redactions,
            })
        })
    }
}
