//! The alert matcher: follows the report change log and queues a
//! notification for every active saved search a newly published (or
//! amended) report matches.
//!
//! Each step reads the final changes at the stored cursor (a position in
//! the change log, as the index follower's), builds the shared view of the revision each
//! publication or amendment made, as the index holds it, into a
//! [`MatchBatch`] and runs every active saved search on it with its owner's
//! visibility. Then, in one
//! transaction under the matcher lock, it checks that the cursor has not
//! moved, records the notifications (idempotently) and advances the
//! cursor. A crash before the commit redoes the step; a replica that finds
//! the cursor moved drops its work; so each match is recorded once.
//!
//! Which reports: a `published` change notifies every matching saved
//! search; an `amended` change only those never notified about that report
//! (it now matches, or is now readable to them), as `report.amended`. A
//! saved search only hears of changes made after it was created. Each
//! change is matched as the revision it made (so the outcome does not
//! depend on when the matcher gets to it), provided the report is still
//! published: a report withdrawn since is skipped.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use incidex_indexer::{DocMatch, IndexDoc, IndexError, MatchBatch, MatchReason};
use incidex_schema::db::alerts::{self, DeliveryRow, DeliveryStatus, SavedSearchRow};
use incidex_schema::db::changes::{self, ChangeKind, ChangeRow};
use incidex_schema::db::clusters::reports_by_id;
use incidex_schema::db::reports::{self, ReportRow, now};
use incidex_schema::db::{DbConnection, DbPool, write_transaction};
use incidex_schema::report::{ReportContent, ReportStatus};
use serde::Serialize;

use super::saved::{Owner, SavedQuery};
use crate::index::published_doc;
use crate::members::AnonymiserCache;
use crate::visibility::index_tlp;

/// The cursor's name: a position in the change log (see
/// `incidex_schema::db::changes`). (Until positions, the cursor "matcher"
/// held a sequence number; it is left alone, and a matcher on positions
/// starts from the present like a first run.)
pub const CURSOR: &str = "matcher-position";
/// Changes taken per step at most.
pub const BATCH: i64 = 200;

pub const EVENT_PUBLISHED: &str = "report.published";
pub const EVENT_AMENDED: &str = "report.amended";

/// The JSON body of a notification. Only what the subscriber may read:
/// the shared view's title, TLP and publication day, never the filer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Notification {
    /// `report.published` or `report.amended`.
    pub event: String,
    /// The same on every retry: receivers de-duplicate on it.
    pub delivery_id: String,
    pub saved_search_id: String,
    pub saved_search_name: String,
    pub report_id: String,
    pub revision: i32,
    pub title: String,
    pub tlp: String,
    pub published_on: Option<chrono::NaiveDate>,
    /// Why it matched: the words of the query found in the report (as the
    /// report writes them, with the field) and the report's values for the
    /// filters.
    pub matched: Vec<Reason>,
    /// Where the subscriber reads the report through the API.
    pub link: String,
}

/// One reason a report matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    #[schema(example = "summary")]
    pub field: String,
    #[schema(example = "P-CSCF")]
    pub value: String,
}

impl From<MatchReason> for Reason {
    fn from(r: MatchReason) -> Reason {
        Reason {
            field: r.field,
            value: r.value,
        }
    }
}

/// What one step did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Change-log entries consumed.
    pub consumed: usize,
    /// Notifications queued.
    pub queued: usize,
    /// A full batch was taken: there may be more right away.
    pub more: bool,
}

/// The revision a publication or amendment made, as matched.
struct Candidate {
    seq: i64,
    report_id: String,
    event: &'static str,
    changed_at: NaiveDateTime,
    revision: i32,
    doc: IndexDoc,
}

/// The matcher's state between steps.
pub struct Matcher {
    pool: DbPool,
    members: std::sync::Arc<AnonymiserCache>,
    k: usize,
    public_url: String,
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Matcher").finish_non_exhaustive()
    }
}

impl Matcher {
    pub fn new(
        pool: DbPool,
        members: std::sync::Arc<AnonymiserCache>,
        k: usize,
        public_url: String,
    ) -> Matcher {
        Matcher {
            pool,
            members,
            k,
            public_url,
        }
    }

    /// Matches the next batch of changes and records the notifications.
    pub fn step(&mut self) -> anyhow::Result<Step> {
        let mut conn = self.pool.get()?;
        let Some(start) = alerts::cursor(&mut conn, CURSOR)? else {
            // First run: saved searches hear of what happens from now on.
            write_transaction(&mut conn, |conn| -> anyhow::Result<()> {
                if alerts::lock_matcher(conn)? && alerts::cursor(conn, CURSOR)?.is_none() {
                    let latest = changes::head(conn)?;
                    alerts::set_cursor(conn, CURSOR, latest, now())?;
                }
                Ok(())
            })?;
            return Ok(Step::default());
        };
        let batch = changes::next_changes(&mut conn, start, BATCH)?;
        let usable = &batch.changes;
        let through = batch.next;
        if through == start {
            return Ok(Step::default());
        }
        let consumed = usable.len();
        let more = batch.more;

        let publications: Vec<&ChangeRow> = usable
            .iter()
            .filter(|c| {
                matches!(
                    ChangeKind::parse(&c.kind),
                    Some(ChangeKind::Published | ChangeKind::Amended)
                )
            })
            .collect();
        let searches = if publications.is_empty() {
            Vec::new()
        } else {
            alerts::active_saved_searches(&mut conn)?
        };
        let candidates = if searches.is_empty() {
            Vec::new()
        } else {
            self.candidates(&mut conn, &publications)?
        };
        // (saved search, candidate index, why), in change-log order.
        let mut found: Vec<(&SavedSearchRow, usize, Vec<MatchReason>)> = Vec::new();
        if !candidates.is_empty() {
            let batch = MatchBatch::new(candidates.iter().map(|c| c.doc.clone()).collect())?;
            let index: HashMap<&str, usize> = candidates
                .iter()
                .enumerate()
                .map(|(i, c)| (c.doc.id.as_str(), i))
                .collect();
            let mut live: HashMap<(String, String, String), bool> = HashMap::new();
            for search in &searches {
                for m in self.run(&mut conn, &batch, search, &mut live)? {
                    if let Some(&i) = index.get(m.id.as_str())
                        && search.created_at <= candidates[i].changed_at
                    {
                        found.push((search, i, m.reasons));
                    }
                }
            }
            found.sort_by_key(|(_, i, _)| candidates[*i].seq);
        }

        let queued = write_transaction(&mut conn, |conn| -> anyhow::Result<Option<usize>> {
            if !alerts::lock_matcher(conn)? || alerts::cursor(conn, CURSOR)? != Some(start) {
                // Another replica is at it, or was quicker.
                return Ok(None);
            }
            let ids: Vec<String> = found.iter().map(|(s, _, _)| s.id.clone()).collect();
            let active = alerts::active_among(conn, &ids)?;
            let report_ids: Vec<String> = found
                .iter()
                .map(|(_, i, _)| candidates[*i].report_id.clone())
                .collect();
            let mut notified = alerts::notified_pairs(conn, &report_ids)?;
            let at = now();
            let mut queued = 0;
            for (search, i, reasons) in &found {
                let c = &candidates[*i];
                if !active.contains(&search.id) {
                    continue;
                }
                let pair = (search.id.clone(), c.report_id.clone());
                if c.event == EVENT_AMENDED && notified.contains(&pair) {
                    continue;
                }
                let row = self.delivery(search, c, reasons, at)?;
                if alerts::insert_delivery(conn, &row)? {
                    queued += 1;
                }
                notified.insert(pair);
            }
            alerts::set_cursor(conn, CURSOR, through, at)?;
            Ok(Some(queued))
        })?;
        Ok(match queued {
            Some(queued) => Step {
                consumed,
                queued,
                more,
            },
            None => Step::default(),
        })
    }

    /// The shared view of the revision each change made, for reports that
    /// are still published (a report withdrawn since is nobody's to read).
    fn candidates(
        &self,
        conn: &mut DbConnection,
        publications: &[&ChangeRow],
    ) -> anyhow::Result<Vec<Candidate>> {
        let ids: Vec<String> = publications.iter().map(|c| c.report_id.clone()).collect();
        let current: HashMap<String, ReportRow> = reports_by_id(conn, &ids)?
            .into_iter()
            .filter(|r| r.status == ReportStatus::Published.as_str())
            .map(|r| (r.id.clone(), r))
            .collect();
        let counts = self.members.country_counts(conn)?;
        let mut out = Vec::new();
        for change in publications {
            let Some(row) = current.get(&change.report_id) else {
                continue;
            };
            let Some(revision) = reports::find_revision(conn, &row.id, change.revision)? else {
                continue;
            };
            // A revision that cannot be read is logged and skipped: one bad
            // row must not hold up everyone's alerts.
            let content: ReportContent = match serde_json::from_str(&revision.content) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, report = %row.id, revision = revision.revision, "stored revision unreadable; not matched");
                    continue;
                }
            };
            let as_published = ReportRow {
                revision: revision.revision,
                tlp: content.tlp().as_str().to_owned(),
                content: revision.content.clone(),
                ..row.clone()
            };
            let Some(mut doc) = published_doc(&as_published, &counts, self.k)? else {
                continue;
            };
            // Several revisions of one report may be in a batch: each is
            // its own document here.
            doc.id = format!("{}@{}", row.id, revision.revision);
            out.push(Candidate {
                seq: change.seq,
                report_id: row.id.clone(),
                event: if change.kind == ChangeKind::Published.as_str() {
                    EVENT_PUBLISHED
                } else {
                    EVENT_AMENDED
                },
                changed_at: change.changed_at,
                revision: revision.revision,
                doc,
            });
        }
        Ok(out)
    }

    /// One saved search over the batch, if its owner may still read.
    fn run(
        &self,
        conn: &mut DbConnection,
        batch: &MatchBatch,
        search: &SavedSearchRow,
        live: &mut HashMap<(String, String, String), bool>,
    ) -> anyhow::Result<Vec<DocMatch>> {
        let Some(owner) = Owner::of_row(search) else {
            tracing::warn!(saved_search = %search.id, "saved search with an unknown owner kind or role skipped");
            return Ok(Vec::new());
        };
        let key = (
            search.owner_kind.clone(),
            search.owner_id.clone(),
            search.role.clone(),
        );
        let is_live = match live.get(&key) {
            Some(v) => *v,
            None => {
                let v = owner.is_live(conn)?;
                live.insert(key, v);
                v
            }
        };
        if !is_live {
            return Ok(Vec::new());
        }
        let query = match SavedQuery::parse(&search.search, owner.role) {
            Ok(q) => q,
            Err(errors) => {
                // Stored queries were checked when saved; a change of the
                // taxonomy could still invalidate one.
                tracing::warn!(saved_search = %search.id, ?errors, "saved search no longer valid; skipped");
                return Ok(Vec::new());
            }
        };
        let visible: Vec<_> = owner.visible().iter().map(|t| index_tlp(*t)).collect();
        match batch.matches(&query.query, &query.filters, &visible) {
            Ok(found) => Ok(found),
            Err(
                e @ (IndexError::InvalidQuery { .. }
                | IndexError::QueryTooComplex { .. }
                | IndexError::InvalidRequest(_)),
            ) => {
                // Its own fault, not the batch's: the others go on.
                tracing::warn!(saved_search = %search.id, error = %e, "saved search cannot run; skipped");
                Ok(Vec::new())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn delivery(
        &self,
        search: &SavedSearchRow,
        c: &Candidate,
        reasons: &[MatchReason],
        at: NaiveDateTime,
    ) -> anyhow::Result<DeliveryRow> {
        let id = uuid::Uuid::new_v4().to_string();
        let body = Notification {
            event: c.event.to_owned(),
            delivery_id: id.clone(),
            saved_search_id: search.id.clone(),
            saved_search_name: search.name.clone(),
            report_id: c.report_id.clone(),
            revision: c.revision,
            title: c.doc.title.clone(),
            tlp: c.doc.tlp.as_str().to_owned(),
            published_on: Some(c.doc.published_at.date_naive()),
            matched: reasons.iter().cloned().map(Reason::from).collect(),
            link: format!("{}/api/v1/reports/{}", self.public_url, c.report_id),
        };
        Ok(DeliveryRow {
            id,
            saved_search_id: search.id.clone(),
            report_id: c.report_id.clone(),
            revision: c.revision,
            event: c.event.to_owned(),
            payload: serde_json::to_string(&body)?,
            status: DeliveryStatus::Pending.as_str().to_owned(),
            attempts: 0,
            next_attempt_at: at,
            last_attempt_at: None,
            last_status_code: None,
            last_error: None,
            created_at: at,
            updated_at: at,
            delivered_at: None,
        })
    }
}
