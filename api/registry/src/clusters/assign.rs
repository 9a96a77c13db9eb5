//! Incremental assignment: after each index commit, published reports
//! without a cluster join the closest stored cluster or start one.

use std::collections::BTreeSet;

use diesel::Connection;
use incidex_indexer::IncidentIndex;
use incidex_indexer::{Assignment, Centroid, ClusterInput, DocFreqs, assign, vectorize};
use incidex_schema::db::DbConnection;
use incidex_schema::db::clusters::{self as store, ClusterRow, MemberRow};
use incidex_schema::db::lessons as lesson_store;
use incidex_schema::db::reports::{ReportRow, now};

use super::classes::{Counted, views_of};
use super::*;

/// Changed reports beyond which one full re-clustering is cheaper than
/// refreshing their clusters one by one.
const CHANGED_FOR_FULL: usize = 10_000;
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
    let counted: Vec<Counted<'_>> = members
        .iter()
        .map(|r| Counted {
            id: &r.id,
            revision: r.revision,
            tlp: &r.tlp,
            published_on: published_time(r).date(),
        })
        .collect();
    row.class_views = serde_json::to_string(&views_of(&counted))?;
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

/// One incremental pass, inside the caller's transaction: `changed` reports
/// no longer published leave their cluster; published reports without a cluster (up
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
    // Changed reports that are no longer published leave their cluster.
    let published: std::collections::HashSet<String> = changed
        .chunks(500)
        .map(|chunk| incidex_schema::db::reports::find_published(conn, chunk))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .map(|r| r.id)
        .collect();
    // Amended members change their cluster's label and views (not its
    // centroid: the full re-clustering repairs that drift).
    for member in store::clusters_of(conn, changed)? {
        if !published.contains(&member.report_id) {
            store::delete_member(conn, &member.report_id)?;
            summary.removed += 1;
        }
        touched.insert(member.cluster_id);
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
                    // Every cluster of one clustering run joins at the same
                    // floor; a new one keeps it.
                    let floor = centroids
                        .first()
                        .map(|c| c.min_similarity)
                        .filter(|f| *f > 0.0)
                        .unwrap_or(DEFAULT_FLOOR);
                    let empty = Centroid::empty(floor);
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
                            class_views: "[]".into(),
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

/// The index follower's hook, called once the index has caught up: brings
/// cluster assignments up to date with the published reports. Never fails:
/// an error is logged, `false` returned, and the work redone next time.
///
/// `position` is the change-log position the index stands at. The reports
/// changed since the clusters' stored views were last made exact (the
/// stamp, which any replica's pass may have moved) get their clusters'
/// labels and views refreshed, and the stamp moves up to `position`.
pub fn after_index_commit(conn: &mut DbConnection, index: &IncidentIndex, position: i64) -> bool {
    let result = (|| -> anyhow::Result<()> {
        let stamp = store::stamp(conn)?;
        if stamp >= position {
            // Another replica's pass (or a re-clustering) got here first.
            return Ok(());
        }
        let changed: Vec<String> = incidex_schema::db::changes::pending_reports(conn, stamp)?
            .into_iter()
            .collect();
        if changed.len() > CHANGED_FOR_FULL || store::count_unassigned(conn)? > ASSIGN_BATCH {
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
        let summary = conn.transaction(|conn| -> anyhow::Result<AssignSummary> {
            let summary = update_assignments(conn, index, &changed, BTreeSet::new())?;
            store::advance_stamp(conn, position)?;
            Ok(summary)
        })?;
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
    match result {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = ?e, "incremental clustering failed; retried after the next index commit");
            false
        }
    }
}
