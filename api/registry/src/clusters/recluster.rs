//! Full re-clustering of every published report, keeping cluster ids
//! where members stay together.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use diesel::Connection;
use incidex_indexer::{ClusterBuilder, ClusterInput};
use incidex_schema::db::clusters::{self as store, ClusterRow, MemberRow};
use incidex_schema::db::lessons as lesson_store;
use incidex_schema::db::reports::{ReportRow, now};
use incidex_schema::db::{DbConnection, StorageResult, changes};

use super::classes::{Counted, views_of};
use serde::Serialize;

use super::*;
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

/// Reports read per page.
const PAGE: i64 = 1_000;

/// What a re-clustering keeps of each report it read.
struct Snapshot {
    id: String,
    revision: i32,
    tlp: String,
    published: NaiveDateTime,
}

impl Snapshot {
    fn of(row: &ReportRow) -> Snapshot {
        Snapshot {
            id: row.id.clone(),
            revision: row.revision,
            tlp: row.tlp.clone(),
            published: published_time(row),
        }
    }
}

/// The clustering inputs of a page, built on every core.
fn inputs_of(rows: &[ReportRow]) -> anyhow::Result<Vec<ClusterInput>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if rows.len() < 64 || threads < 2 {
        return rows.iter().map(cluster_input).collect();
    }
    let chunk = rows.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(cluster_input)
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("clustering input builder panicked"))??,
            );
        }
        Ok(out)
    })
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
    // The expensive part runs on a snapshot, outside any lock, reading
    // the published reports page by page (oldest first) into the builder,
    // which keeps term ids and counts, not texts.
    // Every change below this position is in what is read next (or found
    // changed below and assigned incrementally).
    let head = changes::head(conn)?;
    let mut builder = ClusterBuilder::new(params());
    let mut rows: Vec<Snapshot> = Vec::new();
    let mut after: Option<(NaiveDateTime, String)> = None;
    loop {
        let page = store::published_chronological_page(
            conn,
            after.as_ref().map(|(at, id)| (*at, id.as_str())),
            PAGE,
        )?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.published_at.map(|at| (at, last.id.clone()));
        builder.extend(&inputs_of(&page)?);
        rows.extend(page.iter().map(Snapshot::of));
        if after.is_none() {
            break;
        }
    }
    let clustering = builder.finish();
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
        // Reports changed meanwhile: amended, withdrawn or raised in TLP
        // since the snapshot (published ones new since then are unassigned
        // and join incrementally below).
        let now_published: HashMap<String, i32> =
            store::published_revisions(conn)?.into_iter().collect();
        let changed: BTreeSet<String> = rows
            .iter()
            .filter(|r| now_published.get(&r.id) != Some(&r.revision))
            .map(|r| r.id.clone())
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
                .map(|t| crate::visibility::index_tlp(*t))
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
            let times: Vec<NaiveDateTime> = all[c].iter().map(|&i| rows[i].published).collect();
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
                class_views: serde_json::to_string(&views_of(
                    &kept[c]
                        .iter()
                        .map(|&i| Counted {
                            id: &rows[i].id,
                            revision: rows[i].revision,
                            tlp: &rows[i].tlp,
                            published_on: rows[i].published.date(),
                        })
                        .collect::<Vec<_>>(),
                ))?,
            };
            if previous.is_some() {
                store::update_cluster(conn, &row)?;
                summary.kept_ids += 1;
            } else {
                store::insert_cluster(conn, &row)?;
            }
            let members: Vec<MemberRow> = kept[c]
                .iter()
                .map(|&i| {
                    let report_id = &rows[i].id;
                    MemberRow {
                        report_id: report_id.clone(),
                        cluster_id: id.clone(),
                        joined_at: old_members
                            .get(report_id)
                            .filter(|m| m.cluster_id == id)
                            .map_or(at, |m| m.joined_at),
                    }
                })
                .collect();
            store::insert_members(conn, &members)?;
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
        store::advance_stamp(conn, head)?;
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
