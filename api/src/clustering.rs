//! Clusters of similar incidents: how reports are assigned to them, and
//! what each reader sees of them.
//!
//! Policy:
//! - Assignments are stored in the database (`cluster_members`), so every
//!   replica shows the same clusters. Only published reports are clustered.
//! - Incremental: after the index follower commits, [`after_index_commit`]
//!   puts each published report without a cluster into the most similar
//!   stored cluster above the threshold (`incidex_indexer::assign`, with
//!   document frequencies from the live index) or starts a new cluster,
//!   removes reports that are no longer published, and recomputes the label
//!   of every cluster it touched. It works from what the database says is
//!   unassigned, not from the batch, so a failed pass is simply redone after
//!   the next commit (and by the periodic re-clustering).
//! - Full: [`recluster`] (`incidex recluster`, and the periodic job every
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
//!   may see ([`Viewer`]: published, and TLP clear/green for members, also
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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Connection;
use incidex_indexer::{
    Assignment, Centroid, ClusterInput, ClusterParams, DocFreqs, IncidentIndex, TermStats, assign,
    cluster_all, describe, vectorize,
};
use incidex_schema::db::clusters::{self as store, ClusterRow, MemberReport, MemberRow};
use incidex_schema::db::lessons::{self as lesson_store, ReaderScope};
use incidex_schema::db::reports::{ReportRow, now};
use incidex_schema::db::{DbConnection, DbPool, StorageResult, changes};
use incidex_schema::identity::Role;
use incidex_schema::report::{
    NetworkDomain, ReportContent, ReportStatus, RootCauseCategory, Service, Tlp, Trigger,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::auth::{Principal, RegistryKeys};
use crate::error::{ApiError, ApiResult};
use crate::lessons::Lesson;

/// Published reports assigned per incremental pass at most; with more
/// waiting, one full clustering is cheaper.
pub const ASSIGN_BATCH: i64 = 1000;
/// Length of the growth windows.
pub const GROWTH_DAYS: i64 = 7;
/// Labels computed member by member (incremental passes, on the fly) use
/// at most this many of the latest members.
pub const LABEL_SAMPLE: usize = 200;

/// Clustering parameters (the indexer's defaults, tuned on the corpora).
pub fn params() -> ClusterParams {
    ClusterParams::default()
}

/// A reader and what of the registry they may see (the TLP rules of
/// `crate::views`).
#[derive(Debug, Clone)]
pub struct Viewer {
    pub role: Role,
    /// Owner key of the reader's own reports (members only).
    pub owner_key: Option<String>,
    /// Keyed hash that the reader's endorsements are stored under: one per
    /// member for reporters, one per person for analysts, none for admins.
    pub endorser_key: Option<String>,
    tlps: Vec<&'static str>,
}

impl Viewer {
    pub fn new(principal: &Principal, keys: &RegistryKeys) -> Viewer {
        let operator = principal
            .operator_id
            .as_deref()
            .filter(|_| principal.role == Role::Reporter);
        Viewer {
            role: principal.role,
            owner_key: operator.map(|op| crate::filing::owner_key(keys, op)),
            // One endorsement per member; an analyst (registry staff or a
            // member's analyst) endorses as one person.
            endorser_key: match (principal.role, operator) {
                (Role::Reporter, Some(op)) => Some(keys.opaque_key("endorse", op)),
                (Role::Analyst, _) => {
                    Some(keys.opaque_key("endorse", &format!("user:{}", principal.subject)))
                }
                _ => None,
            },
            tlps: crate::views::readable_tlps(principal.role)
                .iter()
                .map(|t| t.as_str())
                .collect(),
        }
    }

    /// A reader class: `role`'s reading rights, no reports of its own and
    /// no endorsements (digests are written for a class, not a person).
    pub fn for_role(role: Role) -> Viewer {
        Viewer {
            role,
            owner_key: None,
            endorser_key: None,
            tlps: crate::views::readable_tlps(role)
                .iter()
                .map(|t| t.as_str())
                .collect(),
        }
    }

    /// Whether a report with this status, TLP and owner is visible.
    pub fn may_see(&self, status: &str, tlp: &str, owner_key: &str) -> bool {
        status == ReportStatus::Published.as_str()
            && (self.tlps.contains(&tlp) || self.owner_key.as_deref() == Some(owner_key))
    }

    pub fn may_see_report(&self, row: &ReportRow) -> bool {
        self.may_see(&row.status, &row.tlp, &row.owner_key)
    }

    pub fn is_owner(&self, row: &ReportRow) -> bool {
        self.owner_key.as_deref() == Some(row.owner_key.as_str())
    }

    pub fn scope(&self) -> ReaderScope<'_> {
        ReaderScope {
            tlps: &self.tlps,
            owner_key: self.owner_key.as_deref(),
        }
    }
}

/// What clustering reads of a stored report: its shared view (no owner,
/// no country).
pub fn cluster_input(row: &ReportRow) -> anyhow::Result<ClusterInput> {
    let content: ReportContent = serde_json::from_str(&row.content)?;
    let doc = crate::indexing::index_doc(row, &content, 0, usize::MAX);
    let mut input = ClusterInput::from_doc(&doc);
    // Visibility is decided on the row's TLP column; label by the same.
    input.tlp = row.tlp.parse::<Tlp>().ok().map(crate::indexing::index_tlp);
    Ok(input)
}

/// Identifies the member revisions a label was computed from.
fn label_basis<'a>(members: impl IntoIterator<Item = (&'a str, i32)>) -> String {
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
        crate::views::readable_tlps(Role::Reporter),
        crate::views::readable_tlps(Role::Analyst),
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

/// Document frequencies counted over `inputs` (when no index is at hand).
fn stats_of(inputs: &[ClusterInput]) -> TermStats {
    let mut stats = TermStats {
        num_docs: inputs.len() as u64,
        df: HashMap::new(),
    };
    for input in inputs {
        for term in incidex_indexer::analysis::term_counts(&input.text).into_keys() {
            *stats.df.entry(term).or_default() += 1;
        }
    }
    stats
}

/// Label and top terms of `inputs`, weighted by `stats` when given.
fn describe_with(inputs: &[ClusterInput], stats: Option<&dyn DocFreqs>) -> (String, Vec<String>) {
    match stats {
        Some(stats) => describe(inputs, stats, &params()),
        None => describe(inputs, &stats_of(inputs), &params()),
    }
}

// ---------------------------------------------------------------------------
// Assignment
// ---------------------------------------------------------------------------

/// What an assignment pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AssignSummary {
    pub joined: usize,
    pub created: usize,
    pub removed: usize,
}

/// Recomputes a cluster's labels (of all its published members and of
/// what each reader class may see), first/last seen, and stores `centroid`
/// when given. A cluster left with no member and no curated lesson is
/// deleted.
fn refresh_cluster(
    conn: &mut DbConnection,
    id: &str,
    stats: &dyn DocFreqs,
    centroid: Option<&Centroid>,
) -> anyhow::Result<()> {
    let Some(mut row) = store::find_cluster(conn, id)? else {
        return Ok(());
    };
    let mut members = store::published_members(conn, id)?;
    if members.is_empty() {
        if store::count_members(conn, id)? == 0
            && lesson_store::curated_lessons(conn, id)?.is_empty()
        {
            store::delete_cluster(conn, id)?;
        }
        return Ok(());
    }
    newest_first(&mut members);
    let inputs = members
        .iter()
        .map(cluster_input)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let all: Vec<(&ReportRow, &ClusterInput)> = members.iter().zip(&inputs).collect();
    let label_of = |set: &[(&ReportRow, &ClusterInput)]| {
        let sample: Vec<ClusterInput> = set
            .iter()
            .take(LABEL_SAMPLE)
            .map(|(_, input)| (*input).clone())
            .collect();
        let (label, top_terms) = describe(&sample, stats, &params());
        SetLabel {
            basis: label_basis(set.iter().map(|(r, _)| (r.id.as_str(), r.revision))),
            label,
            top_terms,
        }
    };
    let full = label_of(&all);
    let mut shared: Vec<SetLabel> = Vec::new();
    for tlps in reader_classes() {
        let set: Vec<(&ReportRow, &ClusterInput)> = all
            .iter()
            .copied()
            .filter(|(r, _)| tlps.iter().any(|t| t.as_str() == r.tlp))
            .collect();
        if set.is_empty() {
            continue;
        }
        let basis = label_basis(set.iter().map(|(r, _)| (r.id.as_str(), r.revision)));
        if shared.iter().any(|l| l.basis == basis) {
            continue;
        }
        shared.push(if basis == full.basis {
            full.clone()
        } else {
            label_of(&set)
        });
    }
    row.label = full.label;
    row.top_terms = serde_json::to_string(&full.top_terms)?;
    row.label_basis = full.basis;
    row.shared_labels = serde_json::to_string(&shared)?;
    row.first_seen = members
        .iter()
        .map(published_time)
        .min()
        .unwrap_or(row.first_seen);
    row.last_seen = members
        .iter()
        .map(published_time)
        .max()
        .unwrap_or(row.last_seen);
    if let Some(centroid) = centroid {
        row.centroid = serde_json::to_string(centroid)?;
    }
    row.updated_at = now();
    store::update_cluster(conn, &row)?;
    Ok(())
}

/// One incremental pass, inside the caller's transaction: reports no longer
/// published leave their cluster; published reports without a cluster (up
/// to [`ASSIGN_BATCH`]) join the closest one or start one; the clusters
/// touched (including those of `changed` reports and `touched`) get fresh
/// labels.
pub fn update_assignments(
    conn: &mut DbConnection,
    stats: &dyn DocFreqs,
    changed: &[String],
    mut touched: BTreeSet<String>,
) -> anyhow::Result<AssignSummary> {
    store::lock_assignments(conn)?;
    let mut summary = AssignSummary::default();
    for member in store::unpublished_members(conn)? {
        store::delete_member(conn, &member.report_id)?;
        touched.insert(member.cluster_id);
        summary.removed += 1;
    }
    // Amended members change their cluster's label (not its centroid: the
    // full re-clustering repairs that drift).
    for id in changed {
        if let Some(member) = store::member_of(conn, id)? {
            touched.insert(member.cluster_id);
        }
    }
    let pending = store::unassigned_published(conn, ASSIGN_BATCH)?;
    if !pending.is_empty() {
        let params = params();
        let clusters = store::all_clusters(conn)?;
        let mut ids: Vec<String> = clusters.iter().map(|c| c.id.clone()).collect();
        let mut centroids = clusters
            .iter()
            .map(|c| serde_json::from_str::<Centroid>(&c.centroid))
            .collect::<Result<Vec<_>, _>>()?;
        let mut grown = BTreeSet::new();
        let at = now();
        for report in &pending {
            let input = cluster_input(report)?;
            let vector = vectorize(&input, stats, &params);
            let index = match assign(&input, &centroids, stats, &params) {
                Assignment::Join { cluster, .. } => {
                    summary.joined += 1;
                    cluster
                }
                Assignment::New => {
                    let empty = Centroid {
                        terms: Vec::new(),
                        size: 0,
                    };
                    let id = uuid::Uuid::new_v4().to_string();
                    store::insert_cluster(
                        conn,
                        &ClusterRow {
                            id: id.clone(),
                            label: String::new(),
                            top_terms: "[]".into(),
                            centroid: serde_json::to_string(&empty)?,
                            label_basis: String::new(),
                            shared_labels: "[]".into(),
                            first_seen: published_time(report),
                            last_seen: published_time(report),
                            created_at: at,
                            updated_at: at,
                        },
                    )?;
                    ids.push(id);
                    centroids.push(empty);
                    summary.created += 1;
                    ids.len() - 1
                }
            };
            centroids[index].absorb(&vector);
            grown.insert(index);
            store::insert_member(
                conn,
                &MemberRow {
                    report_id: report.id.clone(),
                    cluster_id: ids[index].clone(),
                    joined_at: at,
                },
            )?;
        }
        for index in grown {
            touched.remove(&ids[index]);
            refresh_cluster(conn, &ids[index], stats, Some(&centroids[index]))?;
        }
    }
    for id in touched {
        refresh_cluster(conn, &id, stats, None)?;
    }
    Ok(summary)
}

/// The index follower's hook, called after each commit: brings cluster
/// assignments up to date with the published reports. Never fails: an error
/// is logged and the work is redone after the next commit.
pub fn after_index_commit<'a>(
    conn: &mut DbConnection,
    index: &IncidentIndex,
    changed: impl IntoIterator<Item = &'a str>,
) {
    let changed: Vec<String> = changed.into_iter().map(str::to_owned).collect();
    let result = (|| -> anyhow::Result<()> {
        if store::count_unassigned(conn)? > ASSIGN_BATCH {
            // First start on an existing registry, or a bulk import.
            if let Some(s) = recluster(conn, ReclusterMode::Now)? {
                tracing::info!(
                    reports = s.reports,
                    clusters = s.clusters,
                    "clustered a backlog of reports"
                );
            }
            return Ok(());
        }
        let summary =
            conn.transaction(|conn| update_assignments(conn, index, &changed, BTreeSet::new()))?;
        if summary != AssignSummary::default() {
            tracing::debug!(
                joined = summary.joined,
                created = summary.created,
                removed = summary.removed,
                "cluster assignments updated"
            );
        }
        Ok(())
    })();
    if let Err(e) = result {
        tracing::warn!(error = ?e, "incremental clustering failed; retried after the next index commit");
    }
}

// ---------------------------------------------------------------------------
// Full re-clustering
// ---------------------------------------------------------------------------

/// How a full re-clustering is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReclusterMode {
    /// Run now, after any run in progress (`incidex recluster`).
    Now,
    /// The periodic job: skipped while another replica runs it, or when a
    /// run finished less than `interval` ago.
    Periodic { interval: Duration },
}

/// What a full re-clustering did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReclusterSummary {
    /// Published reports clustered.
    pub reports: usize,
    /// Clusters with at least one member afterwards.
    pub clusters: usize,
    /// Clusters that kept the id of an earlier cluster.
    pub kept_ids: usize,
    /// Reports that changed while the clustering was computed (assigned
    /// incrementally instead).
    pub changed_meanwhile: usize,
}

fn ran_recently(conn: &mut DbConnection, interval: Duration) -> StorageResult<bool> {
    let Some(run) = store::last_run(conn)? else {
        return Ok(false);
    };
    // Slack, so a replica whose timer fires a moment early still runs.
    let min_gap = interval.mul_f64(0.9);
    Ok((now() - run.finished_at)
        .to_std()
        .map_or(true, |age| age < min_gap))
}

/// Clusters every published report again and replaces all assignments in
/// one transaction. `None` when skipped (see [`ReclusterMode`]).
pub fn recluster(
    conn: &mut DbConnection,
    mode: ReclusterMode,
) -> anyhow::Result<Option<ReclusterSummary>> {
    if let ReclusterMode::Periodic { interval } = mode
        && ran_recently(conn, interval)?
    {
        return Ok(None);
    }
    // The expensive part runs on a snapshot, outside any lock.
    let through = changes::latest_seq(conn)?;
    let rows = store::published_chronological(conn)?;
    let inputs = rows
        .iter()
        .map(cluster_input)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let clustering = cluster_all(&inputs, &params());
    conn.transaction(|conn| {
        if !store::lock_recluster(conn, mode == ReclusterMode::Now)? {
            return Ok(None);
        }
        store::lock_assignments(conn)?;
        if let ReclusterMode::Periodic { interval } = mode
            && ran_recently(conn, interval)?
        {
            return Ok(None);
        }
        let changed: BTreeSet<String> = changes::changes_after(conn, through, i64::MAX)?
            .into_iter()
            .map(|c| c.report_id)
            .collect();
        let n = clustering.clusters.len();
        let mut all: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, c) in clustering.assignments.iter().enumerate() {
            all[*c].push(i);
        }
        let kept: Vec<Vec<usize>> = all
            .iter()
            .map(|m| {
                m.iter()
                    .copied()
                    .filter(|&i| !changed.contains(&rows[i].id))
                    .collect()
            })
            .collect();

        // Which old cluster each new one continues: most shared members first.
        let old_members: HashMap<String, MemberRow> = store::all_members(conn)?
            .into_iter()
            .map(|m| (m.report_id.clone(), m))
            .collect();
        let old_clusters: HashMap<String, ClusterRow> = store::all_clusters(conn)?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        let mut overlap: HashMap<(usize, &str), usize> = HashMap::new();
        for (c, members) in kept.iter().enumerate() {
            for &i in members {
                if let Some(m) = old_members.get(&rows[i].id) {
                    *overlap.entry((c, m.cluster_id.as_str())).or_default() += 1;
                }
            }
        }
        let mut pairs: Vec<((usize, &str), usize)> = overlap.into_iter().collect();
        pairs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut continues: Vec<Option<String>> = vec![None; n];
        let mut taken: HashSet<&str> = HashSet::new();
        for ((c, old), _) in &pairs {
            if continues[*c].is_none() && taken.insert(old) {
                continues[*c] = Some((*old).to_owned());
            }
        }

        // Labels of what each reader class may see, from the clustering's
        // own vectors.
        let revision: HashMap<&str, i32> =
            rows.iter().map(|r| (r.id.as_str(), r.revision)).collect();
        let mut shared: Vec<Vec<SetLabel>> = vec![Vec::new(); n];
        for tlps in reader_classes() {
            let levels: Vec<_> = tlps
                .iter()
                .map(|t| crate::indexing::index_tlp(*t))
                .collect();
            for view in clustering.visible(&levels) {
                let basis = label_basis(
                    view.members
                        .iter()
                        .map(|id| (id.as_str(), revision.get(id.as_str()).copied().unwrap_or(0))),
                );
                if !shared[view.cluster].iter().any(|l| l.basis == basis) {
                    shared[view.cluster].push(SetLabel {
                        basis,
                        label: view.label,
                        top_terms: view.top_terms,
                    });
                }
            }
        }

        store::delete_all_members(conn)?;
        let at = now();
        let mut final_ids: Vec<Option<String>> = vec![None; n];
        let mut touched = BTreeSet::new();
        let mut summary = ReclusterSummary {
            reports: rows.len(),
            clusters: 0,
            kept_ids: 0,
            changed_meanwhile: rows.iter().filter(|r| changed.contains(&r.id)).count(),
        };
        for (c, cluster) in clustering.clusters.iter().enumerate() {
            if kept[c].is_empty() {
                continue;
            }
            let id = continues[c]
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
            let previous = old_clusters.get(&id);
            let times: Vec<NaiveDateTime> =
                all[c].iter().map(|&i| published_time(&rows[i])).collect();
            let row = ClusterRow {
                id: id.clone(),
                label: cluster.label.clone(),
                top_terms: serde_json::to_string(&cluster.top_terms)?,
                centroid: serde_json::to_string(&cluster.centroid)?,
                // The label was computed from the whole snapshot.
                label_basis: label_basis(
                    all[c]
                        .iter()
                        .map(|&i| (rows[i].id.as_str(), rows[i].revision)),
                ),
                shared_labels: serde_json::to_string(&shared[c])?,
                first_seen: times.iter().copied().min().unwrap_or(at),
                last_seen: times.iter().copied().max().unwrap_or(at),
                created_at: previous.map_or(at, |p| p.created_at),
                updated_at: at,
            };
            if previous.is_some() {
                store::update_cluster(conn, &row)?;
                summary.kept_ids += 1;
            } else {
                store::insert_cluster(conn, &row)?;
            }
            for &i in &kept[c] {
                let report_id = &rows[i].id;
                let joined_at = old_members
                    .get(report_id)
                    .filter(|m| m.cluster_id == id)
                    .map_or(at, |m| m.joined_at);
                store::insert_member(
                    conn,
                    &MemberRow {
                        report_id: report_id.clone(),
                        cluster_id: id.clone(),
                        joined_at,
                    },
                )?;
            }
            if kept[c].len() < all[c].len() {
                // Its label includes a report that changed meanwhile.
                touched.insert(id.clone());
            }
            final_ids[c] = Some(id);
            summary.clusters += 1;
        }

        // Old clusters that were not continued. Curated lessons follow most
        // of the former members; a cluster whose members are all gone keeps
        // its lessons (shown to nobody).
        let kept_ids: HashSet<&str> = final_ids.iter().flatten().map(String::as_str).collect();
        let curated = lesson_store::clusters_with_curated_lessons(conn)?;
        let mut gone: Vec<&String> = old_clusters
            .keys()
            .filter(|id| !kept_ids.contains(id.as_str()))
            .collect();
        gone.sort();
        for old in gone {
            if curated.contains(old) {
                let target = pairs
                    .iter()
                    .find(|((c, o), _)| *o == old.as_str() && final_ids[*c].is_some())
                    .and_then(|((c, _), _)| final_ids[*c].clone());
                if let Some(target) = target {
                    lesson_store::move_curated_lessons(conn, old, &target)?;
                    store::delete_cluster(conn, old)?;
                }
            } else {
                store::delete_cluster(conn, old)?;
            }
        }

        // Reports changed meanwhile (and published since) join incrementally.
        let changed: Vec<String> = changed.into_iter().collect();
        update_assignments(conn, &clustering.stats, &changed, touched)?;
        store::record_run(
            conn,
            &store::ReclusterRun {
                id: uuid::Uuid::new_v4().to_string(),
                finished_at: now(),
                reports: i32::try_from(summary.reports).unwrap_or(i32::MAX),
                clusters: i32::try_from(summary.clusters).unwrap_or(i32::MAX),
            },
        )?;
        Ok(Some(summary))
    })
}

/// Starts the periodic re-clustering on the current actix runtime: it
/// checks every `min(interval, 10 min)` and runs when no replica has run it
/// for `interval` (see [`recluster`]). `interval_secs == 0` turns it off.
pub fn start_periodic(pool: DbPool, interval_secs: u64) {
    if interval_secs == 0 {
        return;
    }
    let interval = Duration::from_secs(interval_secs);
    let tick = interval.min(Duration::from_secs(600));
    actix_web::rt::spawn(async move {
        let start = actix_web::rt::time::Instant::now() + tick;
        let mut timer = actix_web::rt::time::interval_at(start, tick);
        loop {
            timer.tick().await;
            let pool = pool.clone();
            let outcome = actix_web::rt::task::spawn_blocking(move || {
                let mut conn = pool.get()?;
                recluster(&mut conn, ReclusterMode::Periodic { interval })
            })
            .await;
            match outcome {
                Ok(Ok(Some(s))) => tracing::info!(
                    reports = s.reports,
                    clusters = s.clusters,
                    kept_ids = s.kept_ids,
                    "re-clustered"
                ),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => tracing::error!(error = ?e, "re-clustering failed"),
                Err(e) => tracing::error!(error = %e, "re-clustering task failed"),
            }
        }
    });
}

// ---------------------------------------------------------------------------
// What a reader sees
// ---------------------------------------------------------------------------

/// Visible members that joined the registry recently, by publication day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Growth {
    /// Published in the last 7 days (today included).
    pub last_7_days: usize,
    /// Published in the 7 days before those.
    pub previous_7_days: usize,
}

/// A cluster as the caller may see it: computed from the members the
/// caller may read only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterSummary {
    #[schema(example = "0f6c3a9e-2d41-4b8a-9e57-1c2d3e4f5a6b")]
    pub id: String,
    /// Its distinctive terms, with the structured values most members share.
    #[schema(example = "call servers, reconnection, commands (routine commands, interconnect)")]
    pub label: String,
    pub top_terms: Vec<String>,
    /// Members the caller may read.
    pub size: usize,
    /// Publication day of the earliest visible member.
    pub first_seen: NaiveDate,
    /// Publication day of the latest visible member.
    pub last_seen: NaiveDate,
    pub growth: Growth,
}

/// A member of a cluster: a few fields of its shared view.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterMember {
    pub id: String,
    pub title: String,
    pub published_on: Option<NaiveDate>,
    pub tlp: Tlp,
    pub root_cause_category: Option<RootCauseCategory>,
    pub trigger: Option<Trigger>,
    pub network_domain: Option<NetworkDomain>,
    pub services: Vec<Service>,
}

/// One cluster with its visible members and their lessons.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterDetail {
    #[serde(flatten)]
    pub cluster: ClusterSummary,
    /// Visible members, latest publication first.
    pub members: Vec<ClusterMember>,
    /// Lessons of the visible members, then lessons curated for the cluster.
    pub lessons: Vec<Lesson>,
}

/// A page of clusters.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClusterPage {
    pub items: Vec<ClusterSummary>,
    /// Clusters with at least one member the caller may read.
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
}

/// Order of the cluster list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClusterSort {
    /// Latest visible member first (default).
    #[default]
    Recent,
    /// Most visible members first.
    Size,
    /// Most visible members published in the last 7 days first.
    Growth,
}

/// The visible members of one cluster.
#[derive(Debug)]
struct Group {
    id: String,
    visible: Vec<MemberReport>,
}

impl Group {
    fn summary(&self, today: NaiveDate, label: String, top_terms: Vec<String>) -> ClusterSummary {
        let days: Vec<NaiveDate> = self
            .visible
            .iter()
            .filter_map(|m| m.published_at.map(|t| t.date()))
            .collect();
        let age = |d: &NaiveDate| (today - *d).num_days();
        ClusterSummary {
            id: self.id.clone(),
            label,
            top_terms,
            size: self.visible.len(),
            first_seen: days.iter().copied().min().unwrap_or(today),
            last_seen: days.iter().copied().max().unwrap_or(today),
            growth: Growth {
                last_7_days: days
                    .iter()
                    .filter(|d| (0..GROWTH_DAYS).contains(&age(d)))
                    .count(),
                previous_7_days: days
                    .iter()
                    .filter(|d| (GROWTH_DAYS..2 * GROWTH_DAYS).contains(&age(d)))
                    .count(),
            },
        }
    }

    fn basis(&self) -> String {
        label_basis(
            self.visible
                .iter()
                .map(|m| (m.report_id.as_str(), m.revision)),
        )
    }
}

/// A stored label computed from exactly the members of `basis`, if any.
fn stored_label(row: &ClusterRow, basis: &str) -> Option<(String, Vec<String>)> {
    if row.label_basis == basis {
        let top_terms = serde_json::from_str(&row.top_terms).ok()?;
        return Some((row.label.clone(), top_terms));
    }
    serde_json::from_str::<Vec<SetLabel>>(&row.shared_labels)
        .ok()?
        .into_iter()
        .find(|l| l.basis == basis)
        .map(|l| (l.label, l.top_terms))
}

/// Labels computed on the fly, by cluster and member-set basis (a label is
/// a function of its members' revisions, so an entry never goes stale).
type LabelMemo = Mutex<HashMap<(String, String), (String, Vec<String>)>>;

fn label_memo() -> &'static LabelMemo {
    static MEMO: OnceLock<LabelMemo> = OnceLock::new();
    MEMO.get_or_init(LabelMemo::default)
}

/// Groups memberships by cluster, keeping clusters with a visible member.
fn visible_groups(members: Vec<MemberReport>, viewer: &Viewer) -> Vec<Group> {
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for m in members {
        if !viewer.may_see(&m.status, &m.tlp, &m.owner_key) {
            continue;
        }
        groups
            .entry(m.cluster_id.clone())
            .or_insert_with(|| Group {
                id: m.cluster_id.clone(),
                visible: Vec::new(),
            })
            .visible
            .push(m);
    }
    groups.into_values().collect()
}

/// Ids of the clusters the reader may see (those with a visible member).
pub fn visible_cluster_ids(
    conn: &mut DbConnection,
    viewer: &Viewer,
) -> StorageResult<HashSet<String>> {
    Ok(visible_groups(store::member_reports(conn, None)?, viewer)
        .into_iter()
        .map(|g| g.id)
        .collect())
}

/// Whether the reader may see this cluster.
pub fn cluster_visible(conn: &mut DbConnection, viewer: &Viewer, id: &str) -> StorageResult<bool> {
    Ok(!visible_groups(store::member_reports(conn, Some(id))?, viewer).is_empty())
}

/// The label for `group` as this reader may see it: a stored label of
/// exactly the visible members (every reader class has one), else one
/// computed from the latest visible members and memoised.
fn label_for(
    conn: &mut DbConnection,
    group: &Group,
    row: &ClusterRow,
    visible_rows: Option<&[ReportRow]>,
    stats: Option<&dyn DocFreqs>,
) -> ApiResult<(String, Vec<String>)> {
    let basis = group.basis();
    if let Some(stored) = stored_label(row, &basis) {
        return Ok(stored);
    }
    let key = (row.id.clone(), basis);
    if let Ok(memo) = label_memo().lock()
        && let Some(label) = memo.get(&key)
    {
        return Ok(label.clone());
    }
    let mut rows: Vec<ReportRow> = match visible_rows {
        Some(rows) => rows.to_vec(),
        None => {
            let ids: Vec<String> = group.visible.iter().map(|m| m.report_id.clone()).collect();
            store::reports_by_id(conn, &ids)?
        }
    };
    newest_first(&mut rows);
    rows.truncate(LABEL_SAMPLE);
    let inputs = rows
        .iter()
        .map(cluster_input)
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(ApiError::internal)?;
    let label = describe_with(&inputs, stats);
    if let Ok(mut memo) = label_memo().lock() {
        if memo.len() >= 10_000 {
            memo.clear();
        }
        memo.insert(key, label.clone());
    }
    Ok(label)
}

/// A cluster as a reader sees it, with its visible members.
#[derive(Debug, Clone)]
pub struct VisibleCluster {
    pub id: String,
    pub label: String,
    pub top_terms: Vec<String>,
    /// The members the reader may see.
    pub members: Vec<MemberReport>,
}

/// The clusters the reader may see whose visible members `keep` selects,
/// labelled from those members as for any other view (digests).
pub fn visible_clusters(
    conn: &mut DbConnection,
    viewer: &Viewer,
    stats: Option<&dyn DocFreqs>,
    keep: impl Fn(&[MemberReport]) -> bool,
) -> ApiResult<Vec<VisibleCluster>> {
    let groups: Vec<Group> = visible_groups(store::member_reports(conn, None)?, viewer)
        .into_iter()
        .filter(|g| keep(&g.visible))
        .collect();
    let ids: Vec<String> = groups.iter().map(|g| g.id.clone()).collect();
    let rows: HashMap<String, ClusterRow> = store::clusters_by_id(conn, &ids)?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let Some(row) = rows.get(&group.id) else {
            continue;
        };
        let (label, top_terms) = label_for(conn, &group, row, None, stats)?;
        out.push(VisibleCluster {
            id: group.id,
            label,
            top_terms,
            members: group.visible,
        });
    }
    Ok(out)
}

/// Today, for the growth windows.
pub fn today() -> NaiveDate {
    chrono::Utc::now().date_naive()
}

/// The clusters the reader may see, one page.
pub fn list_clusters(
    conn: &mut DbConnection,
    viewer: &Viewer,
    stats: Option<&dyn DocFreqs>,
    sort: ClusterSort,
    limit: usize,
    offset: usize,
) -> ApiResult<ClusterPage> {
    let today = today();
    let groups = visible_groups(store::member_reports(conn, None)?, viewer);
    // Order on what is cheap (no labels); labels only for the page.
    let mut keyed: Vec<(ClusterSummary, Group)> = groups
        .into_iter()
        .map(|g| (g.summary(today, String::new(), Vec::new()), g))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let primary = match sort {
            ClusterSort::Recent => b.last_seen.cmp(&a.last_seen).then(b.size.cmp(&a.size)),
            ClusterSort::Size => b.size.cmp(&a.size).then(b.last_seen.cmp(&a.last_seen)),
            ClusterSort::Growth => b
                .growth
                .last_7_days
                .cmp(&a.growth.last_7_days)
                .then(b.size.cmp(&a.size)),
        };
        primary.then_with(|| a.id.cmp(&b.id))
    });
    let total = keyed.len();
    let page: Vec<(ClusterSummary, Group)> = keyed.into_iter().skip(offset).take(limit).collect();
    let ids: Vec<String> = page.iter().map(|(s, _)| s.id.clone()).collect();
    let rows: HashMap<String, ClusterRow> = store::clusters_by_id(conn, &ids)?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut items = Vec::with_capacity(page.len());
    for (mut summary, group) in page {
        let row = rows
            .get(&group.id)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("cluster row missing")))?;
        let (label, top_terms) = label_for(conn, &group, row, None, stats)?;
        summary.label = label;
        summary.top_terms = top_terms;
        items.push(summary);
    }
    Ok(ClusterPage {
        items,
        total,
        limit,
        offset,
    })
}

/// One cluster as the reader may see it; 404 when they may see no member.
pub fn cluster_detail(
    conn: &mut DbConnection,
    viewer: &Viewer,
    stats: Option<&dyn DocFreqs>,
    id: &str,
) -> ApiResult<ClusterDetail> {
    let group = visible_groups(store::member_reports(conn, Some(id))?, viewer)
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)?;
    let row = store::find_cluster(conn, id)?.ok_or_else(ApiError::not_found)?;
    let ids: Vec<String> = group.visible.iter().map(|m| m.report_id.clone()).collect();
    let mut reports = store::reports_by_id(conn, &ids)?;
    // Visibility was decided on the same rows' columns; check again on the
    // rows read now.
    reports.retain(|r| viewer.may_see_report(r));
    reports.sort_by(|a, b| {
        b.published_at
            .cmp(&a.published_at)
            .then_with(|| a.id.cmp(&b.id))
    });
    let (label, top_terms) = label_for(conn, &group, &row, Some(&reports), stats)?;
    let mut members = Vec::with_capacity(reports.len());
    for r in &reports {
        let content = crate::views::content_of(r)?;
        let input = content.as_input();
        members.push(ClusterMember {
            id: r.id.clone(),
            title: input.title.clone(),
            published_on: r.published_at.map(|t| t.date()),
            tlp: input.tlp,
            root_cause_category: input.cause.root_cause_category,
            trigger: input.cause.trigger,
            network_domain: input.affected.network_domain,
            services: input.affected.services.clone(),
        });
    }
    let visible_ids: Vec<String> = reports.iter().map(|r| r.id.clone()).collect();
    let lessons = crate::lessons::cluster_lessons(conn, viewer, id, &visible_ids)?;
    Ok(ClusterDetail {
        cluster: group.summary(today(), label, top_terms),
        members,
        lessons,
    })
}

/// Document frequencies for labels computed on the fly: the live index
/// where this process runs one.
pub fn live_stats(state: &crate::state::AppState) -> Option<Arc<IncidentIndex>> {
    state.index.as_ref().map(|i| i.handle.current())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, tlp: &str, owner: &str) -> MemberReport {
        MemberReport {
            cluster_id: "c".into(),
            report_id: id.into(),
            status: "published".into(),
            tlp: tlp.into(),
            owner_key: owner.into(),
            revision: 1,
            published_at: Some(now()),
            joined_at: now(),
        }
    }

    fn viewer(role: Role, owner: Option<&str>) -> Viewer {
        Viewer {
            role,
            owner_key: owner.map(str::to_owned),
            endorser_key: None,
            tlps: crate::views::readable_tlps(role)
                .iter()
                .map(|t| t.as_str())
                .collect(),
        }
    }

    #[test]
    fn stored_labels_only_for_exactly_the_visible_members() {
        let mut withdrawn = member("w", "green", "o1");
        withdrawn.status = "withdrawn".into();
        let all = vec![
            member("g", "green", "o1"),
            member("a", "amber", "o1"),
            member("r", "red", "o1"),
            withdrawn,
        ];
        let shared = vec![
            SetLabel {
                basis: label_basis([("g", 1)]),
                label: "members".into(),
                top_terms: vec![],
            },
            SetLabel {
                basis: label_basis([("g", 1), ("a", 1)]),
                label: "analysts".into(),
                top_terms: vec![],
            },
        ];
        let row = ClusterRow {
            id: "c".into(),
            label: "everyone".into(),
            top_terms: "[]".into(),
            centroid: "{}".into(),
            label_basis: label_basis([("g", 1), ("a", 1), ("r", 1)]),
            shared_labels: serde_json::to_string(&shared).expect("json"),
            first_seen: now(),
            last_seen: now(),
            created_at: now(),
            updated_at: now(),
        };
        let label = |v: &Viewer| {
            let group = visible_groups(all.clone(), v).into_iter().next()?;
            stored_label(&row, &group.basis()).map(|l| l.0)
        };
        // Each reader gets the label of exactly what it may see; the
        // withdrawn member counts for nobody.
        assert_eq!(
            label(&viewer(Role::Reporter, Some("o2"))),
            Some("members".into())
        );
        assert_eq!(label(&viewer(Role::Analyst, None)), Some("analysts".into()));
        assert_eq!(
            label(&viewer(Role::Reporter, Some("o1"))),
            Some("everyone".into())
        );
        // A newer revision of a member: no stored label fits any more.
        let mut amended = all.clone();
        amended[0].revision = 2;
        let group = visible_groups(amended, &viewer(Role::Reporter, Some("o2")))
            .into_iter()
            .next()
            .expect("visible");
        assert!(stored_label(&row, &group.basis()).is_none());
        // Nothing visible: no cluster at all.
        let only_red = vec![member("r", "red", "o1")];
        assert!(visible_groups(only_red, &viewer(Role::Analyst, None)).is_empty());
    }

    #[test]
    fn label_basis_ignores_order_and_sees_revisions() {
        let a = label_basis([("a", 1), ("b", 2)]);
        assert_eq!(a, label_basis([("b", 2), ("a", 1)]));
        assert_ne!(a, label_basis([("a", 1), ("b", 3)]));
        assert_ne!(a, label_basis([("a", 1)]));
    }
}
