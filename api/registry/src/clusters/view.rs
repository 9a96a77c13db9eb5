//! What a reader sees of clusters: only the members it may read, with
//! their size, dates, growth, label and lessons.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

use lru::LruCache;

use chrono::NaiveDate;
use incidex_indexer::DocFreqs;
use incidex_schema::db::DbConnection;
use incidex_schema::db::clusters::{self as store, ClusterRow, MemberReport};
use incidex_schema::db::reports::ReportRow;
use incidex_schema::report::{NetworkDomain, RootCauseCategory, Service, Trigger};
use serde::Serialize;
use utoipa::ToSchema;

use super::classes::{ClassView, view_for};
use super::*;
use crate::error::{RegistryError, RegistryResult};
use crate::lessons::Lesson;
use crate::visibility::Viewer;
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
    /// Visible members, latest publication first (one page of them: see
    /// `members_total`).
    pub members: Vec<ClusterMember>,
    /// Visible members in all.
    pub members_total: usize,
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
/// a function of its members' revisions, so an entry never goes stale),
/// the least recently used dropped first.
type LabelMemo = Mutex<LruCache<(String, String), (String, Vec<String>)>>;

fn label_memo() -> &'static LabelMemo {
    const ENTRIES: std::num::NonZeroUsize = std::num::NonZeroUsize::new(10_000).expect("non-zero");
    static MEMO: OnceLock<LabelMemo> = OnceLock::new();
    MEMO.get_or_init(|| Mutex::new(LruCache::new(ENTRIES)))
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
) -> RegistryResult<HashSet<String>> {
    Ok(seen(conn, viewer, None)?
        .into_iter()
        .map(|s| s.row.id)
        .collect())
}

/// Whether the reader may see this cluster.
pub fn cluster_visible(conn: &mut DbConnection, viewer: &Viewer, id: &str) -> RegistryResult<bool> {
    Ok(!seen(conn, viewer, Some(id))?.is_empty())
}

/// Changed reports beyond which every cluster is read live (a backlog the
/// clustering pass has not reached yet).
const LIVE_BEYOND: usize = 2_000;

/// How a reader sees one cluster: from its stored class view, or live
/// from the memberships when members changed since the view was stored
/// (or the reader has unshared reports of its own in it).
enum Seen {
    Stored(ClassView),
    Live(Group),
}

struct SeenCluster {
    row: ClusterRow,
    seen: Seen,
}

impl SeenCluster {
    fn summary(&self, today: NaiveDate) -> ClusterSummary {
        match &self.seen {
            Seen::Live(group) => group.summary(today, String::new(), Vec::new()),
            Seen::Stored(view) => {
                let (last_7_days, previous_7_days) = view.growth(today);
                ClusterSummary {
                    id: self.row.id.clone(),
                    label: String::new(),
                    top_terms: Vec::new(),
                    size: view.size,
                    first_seen: view.first_seen,
                    last_seen: view.last_seen,
                    growth: Growth {
                        last_7_days,
                        previous_7_days,
                    },
                }
            }
        }
    }

    /// The label the reader may see (stored for the view's member set, or
    /// computed from the visible members and memoised).
    fn label(
        &self,
        conn: &mut DbConnection,
        stats: Option<&dyn DocFreqs>,
    ) -> RegistryResult<(String, Vec<String>)> {
        match &self.seen {
            Seen::Stored(view) => match stored_label(&self.row, &view.basis) {
                Some(label) => Ok(label),
                None => {
                    let group = Group {
                        id: self.row.id.clone(),
                        visible: store::members_of_clusters(
                            conn,
                            std::slice::from_ref(&self.row.id),
                        )?,
                    };
                    label_for(conn, &group, &self.row, None, stats)
                }
            },
            Seen::Live(group) => label_for(conn, group, &self.row, None, stats),
        }
    }
}

/// The clusters (or the one cluster `only`) the reader sees at least one
/// member of.
fn seen(
    conn: &mut DbConnection,
    viewer: &Viewer,
    only: Option<&str>,
) -> RegistryResult<Vec<SeenCluster>> {
    let rows: Vec<ClusterRow> = match only {
        Some(id) => store::find_cluster(conn, id)?.into_iter().collect(),
        None => store::all_clusters(conn)?,
    };
    if rows.is_empty() || viewer.tlps.is_empty() && viewer.owner_key.is_none() {
        return Ok(Vec::new());
    }
    let stamp = store::stamp(conn)?;
    let pending: Vec<String> = incidex_schema::db::changes::pending_reports(conn, stamp)?
        .into_iter()
        .collect();
    let mut live: HashSet<String> = if pending.len() > LIVE_BEYOND {
        rows.iter().map(|r| r.id.clone()).collect()
    } else {
        store::clusters_of(conn, &pending)?
            .into_iter()
            .map(|m| m.cluster_id)
            .collect()
    };
    if let Some(owner) = &viewer.owner_key {
        live.extend(
            store::own_unshared_members(conn, owner, &viewer.tlps)?
                .into_iter()
                .map(|m| m.cluster_id),
        );
    }
    let mut stored: Vec<(ClusterRow, Option<ClassView>)> = rows
        .into_iter()
        .map(|row| {
            let view = (!live.contains(&row.id))
                .then(|| view_for(&row.class_views, viewer.role))
                .flatten();
            (row, view)
        })
        .collect();
    // Clusters without a stored view for this class are read live too
    // (none of its members is visible to the class, or the view predates
    // stored views).
    let to_read: Vec<String> = stored
        .iter()
        .filter(|(row, view)| view.is_none() && (live.contains(&row.id) || row.class_views == "[]"))
        .map(|(row, _)| row.id.clone())
        .collect();
    let mut groups: HashMap<String, Group> =
        visible_groups(store::members_of_clusters(conn, &to_read)?, viewer)
            .into_iter()
            .map(|g| (g.id.clone(), g))
            .collect();
    Ok(stored
        .drain(..)
        .filter_map(|(row, view)| match view {
            Some(view) if view.size > 0 => Some(SeenCluster {
                row,
                seen: Seen::Stored(view),
            }),
            Some(_) => None,
            None => groups.remove(&row.id).map(|group| SeenCluster {
                row,
                seen: Seen::Live(group),
            }),
        })
        .collect())
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
) -> RegistryResult<(String, Vec<String>)> {
    let basis = group.basis();
    if let Some(stored) = stored_label(row, &basis) {
        return Ok(stored);
    }
    let key = (row.id.clone(), basis);
    if let Ok(mut memo) = label_memo().lock()
        && let Some(label) = memo.get(&key)
    {
        return Ok(label.clone());
    }
    let mut rows: Vec<ReportRow> = match visible_rows {
        Some(rows) => rows.to_vec(),
        None => {
            // Only the latest members are read: a label is made of them.
            let mut latest: Vec<&MemberReport> = group.visible.iter().collect();
            latest.sort_by(|a, b| {
                b.published_at
                    .cmp(&a.published_at)
                    .then_with(|| a.report_id.cmp(&b.report_id))
            });
            let ids: Vec<String> = latest
                .iter()
                .take(LABEL_SAMPLE)
                .map(|m| m.report_id.clone())
                .collect();
            store::reports_by_id(conn, &ids)?
        }
    };
    newest_first(&mut rows);
    rows.truncate(LABEL_SAMPLE);
    let inputs = rows
        .iter()
        .map(cluster_input)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let label = describe_with(&inputs, stats);
    if let Ok(mut memo) = label_memo().lock() {
        memo.put(key, label.clone());
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
) -> RegistryResult<Vec<VisibleCluster>> {
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
) -> RegistryResult<ClusterPage> {
    let today = today();
    // Order on what is cheap (no labels); labels only for the page.
    let mut keyed: Vec<(ClusterSummary, SeenCluster)> = seen(conn, viewer, None)?
        .into_iter()
        .map(|c| (c.summary(today), c))
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
    let mut items = Vec::with_capacity(limit.min(total));
    for (mut summary, cluster) in keyed.into_iter().skip(offset).take(limit) {
        let (label, top_terms) = cluster.label(conn, stats)?;
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

/// Most members listed on a cluster's page.
pub const MAX_MEMBER_PAGE: i64 = 200;

/// One cluster as the reader may see it, with one page of its visible
/// members (latest publication first) and their lessons, and the lessons
/// curated for it; 404 when they may see no member.
pub fn cluster_detail(
    conn: &mut DbConnection,
    viewer: &Viewer,
    stats: Option<&dyn DocFreqs>,
    id: &str,
    limit: i64,
    offset: i64,
) -> RegistryResult<ClusterDetail> {
    let cluster = seen(conn, viewer, Some(id))?
        .into_iter()
        .next()
        .ok_or_else(RegistryError::not_found)?;
    let (reports, members_total) = store::visible_member_page(
        conn,
        id,
        &viewer.tlps,
        viewer.owner_key.as_deref(),
        limit,
        offset,
    )?;
    let (label, top_terms) = cluster.label(conn, stats)?;
    let mut summary = cluster.summary(today());
    summary.label = label;
    summary.top_terms = top_terms;
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
        cluster: summary,
        members,
        members_total: usize::try_from(members_total).unwrap_or_default(),
        lessons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use incidex_schema::db::reports::now;

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
            tlps: crate::visibility::readable_tlps(role)
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
            class_views: "[]".into(),
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
