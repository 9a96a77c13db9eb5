//! Clusters of similar incidents: how reports are assigned to them, and
//! what each reader sees of them.
//!
//! Policy:
//! - Assignments are stored in the database (`cluster_members`), so every
//!   replica shows the same clusters. Only published reports are clustered.
//! - Incremental: after the index follower commits, [`assign::after_index_commit`]
//!   puts each published report without a cluster into the most similar
//!   stored cluster above the threshold (`incidex_indexer::assign`, with
//!   document frequencies from the live index) or starts a new cluster,
//!   removes reports that are no longer published, and recomputes the label
//!   of every cluster it touched. It works from what the database says is
//!   unassigned, not from the batch, so a failed pass is simply redone after
//!   the next commit (and by the periodic re-clustering).
//! - Full: [`recluster::recluster`] (`incidex recluster`, and the periodic job every
//!   `recluster_interval_secs`) clusters every published report again
//!   (`incidex_indexer::cluster_all`, oldest publication first) and replaces
//!   all assignments in one transaction. A new cluster keeps the id of the
//!   old cluster it shares most members with (greedily, each old id once), so
//!   links and curated lessons survive; curated lessons of a cluster that is
//!   gone follow most of its former members. The clustering itself is
//!   computed outside the transaction; reports changed meanwhile are left out
//!   of it and assigned incrementally inside the transaction. On PostgreSQL
//!   the periodic run takes a transaction-level advisory lock and records the
//!   run, so one replica does it once per interval.
//! - Visibility: every view is computed per reader from the members they
//!   may see ([`crate::visibility::Viewer`]: published, and TLP clear/green for members, also
//!   amber for analysts, and a member's own reports at any level). Size,
//!   first/last seen (publication days), growth and the label come from
//!   those members alone; a cluster with none is not shown (404 for one).
//!   Labels are stored for every member, and for the members each reader
//!   class may see (members: clear and green; analysts: and amber), each
//!   with the hash of the member ids and revisions it was computed from. A
//!   reader gets a stored label only when that hash equals the hash of what
//!   they may see; otherwise (an owner with its own amber or red members, a
//!   change not yet processed) the label is computed from the visible
//!   members on the fly and memoised by that hash.
//! - Growth counts visible members by publication day: the last 7 days
//!   (today included) against the 7 days before. Publication days rather
//!   than assignment times, because a re-clustering re-assigns every report.
//! - Members are shown through their shared view; no filer identity.

pub mod assign;
pub mod classes;
pub mod recluster;
pub mod view;

use chrono::NaiveDateTime;
use incidex_indexer::{ClusterInput, ClusterParams, DocFreqs, TermStats, describe};
use incidex_schema::db::reports::ReportRow;
use incidex_schema::identity::Role;
use incidex_schema::report::{ReportContent, Tlp};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use assign::{AssignSummary, after_index_commit, update_assignments};
pub use recluster::{ReclusterMode, ReclusterSummary, recluster};
pub use view::{
    ClusterDetail, ClusterMember, ClusterPage, ClusterSort, ClusterSummary, Growth,
    MAX_MEMBER_PAGE, VisibleCluster, cluster_detail, cluster_visible, list_clusters, today,
    visible_cluster_ids, visible_clusters,
};

/// Published reports assigned per incremental pass at most; with more
/// waiting, one full clustering is cheaper.
pub const ASSIGN_BATCH: i64 = 1000;
/// Length of the growth windows.
pub const GROWTH_DAYS: i64 = 7;
/// Labels computed member by member (incremental passes, on the fly) use
/// at most this many of the latest members.
pub const LABEL_SAMPLE: usize = 200;

/// The joining floor of clusters started before any full clustering has
/// measured one (a full clustering sets it from the data: the 99th
/// percentile of unrelated reports' similarity; it measured 0.246 on the
/// 32 real outages of the demo, see docs/clustering.md).
pub const DEFAULT_FLOOR: f32 = 0.25;

/// Clustering parameters (the indexer's defaults, tuned on the corpora).
pub fn params() -> ClusterParams {
    ClusterParams::default()
}

/// What clustering reads of a stored report: its shared view (no owner,
/// no country).
pub fn cluster_input(row: &ReportRow) -> anyhow::Result<ClusterInput> {
    let content: ReportContent = serde_json::from_str(&row.content)?;
    let doc = crate::index::document::index_doc(row, &content, 0, usize::MAX);
    let mut input = ClusterInput::from_doc(&doc);
    // Visibility is decided on the row's TLP column; label by the same.
    input.tlp = row
        .tlp
        .parse::<Tlp>()
        .ok()
        .map(crate::visibility::index_tlp);
    Ok(input)
}

/// Identifies the member revisions a label was computed from.
pub(crate) fn label_basis<'a>(members: impl IntoIterator<Item = (&'a str, i32)>) -> String {
    let mut lines: Vec<String> = members
        .into_iter()
        .map(|(id, revision)| format!("{id}:{revision}"))
        .collect();
    lines.sort();
    let mut hash = Sha256::new();
    for line in &lines {
        hash.update(line.as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

/// The label of one set of members, with the basis of that set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SetLabel {
    basis: String,
    label: String,
    top_terms: Vec<String>,
}

/// The TLP levels of each reader class whose label is stored with the
/// cluster (members; analysts).
fn reader_classes() -> [&'static [Tlp]; 2] {
    [
        crate::visibility::readable_tlps(Role::Reporter),
        crate::visibility::readable_tlps(Role::Analyst),
    ]
}

fn newest_first(rows: &mut [ReportRow]) {
    rows.sort_by(|a, b| {
        published_time(b)
            .cmp(&published_time(a))
            .then_with(|| a.id.cmp(&b.id))
    });
}

fn published_time(row: &ReportRow) -> NaiveDateTime {
    row.published_at.unwrap_or(row.updated_at)
}

/// Label and top terms of `inputs`, weighted by `stats` when given.
fn describe_with(inputs: &[ClusterInput], stats: Option<&dyn DocFreqs>) -> (String, Vec<String>) {
    match stats {
        Some(stats) => describe(inputs, stats, &params()),
        None => describe(inputs, &TermStats::of(inputs), &params()),
    }
}
