//! Reconciling the index with the database: which published reports the
//! index lacks or shows at an old revision, and which documents it holds
//! that are not published (any more). The follower makes the index right
//! by construction; this is the second line: it finds what a bug, a manual
//! change of the database or a restored backup left behind, and repairs it
//! (periodically in the server, `incidex reindex --check` reports it).
//!
//! Only reports the index claims to have processed are compared: a report
//! with a change at or after the index's position is still on its way.

use std::collections::{BTreeSet, HashMap};

use incidex_indexer::IncidentIndex;
use incidex_schema::db::DbConnection;
use incidex_schema::db::changes::{self, Position};
use incidex_schema::db::clusters::published_revisions;

/// What differs between the index and the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Difference {
    /// Published reports the index does not hold.
    pub missing: BTreeSet<String>,
    /// Reports the index holds at another revision: (id, indexed, current).
    pub stale: Vec<(String, u64, u64)>,
    /// Documents of reports that are not published.
    pub extra: BTreeSet<String>,
    /// Published reports compared.
    pub published: usize,
    /// Reports with changes the index has not reached yet (left out).
    pub pending: usize,
}

impl Difference {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.stale.is_empty() && self.extra.is_empty()
    }

    /// Every report id that needs repair.
    pub fn ids(&self) -> Vec<String> {
        self.missing
            .iter()
            .chain(self.extra.iter())
            .cloned()
            .chain(self.stale.iter().map(|(id, _, _)| id.clone()))
            .collect()
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_empty() {
            return write!(
                f,
                "index in step with the database: {} published reports ({} with changes still on their way)",
                self.published, self.pending
            );
        }
        writeln!(
            f,
            "index differs from the database: {} missing, {} at an old revision, {} not published",
            self.missing.len(),
            self.stale.len(),
            self.extra.len()
        )?;
        for id in &self.missing {
            writeln!(f, "missing {id}")?;
        }
        for (id, indexed, current) in &self.stale {
            writeln!(
                f,
                "stale {id} (indexed revision {indexed}, current {current})"
            )?;
        }
        for id in &self.extra {
            writeln!(f, "not published {id}")?;
        }
        Ok(())
    }
}

/// Compares `index`, standing at `position`, with the database.
pub fn compare(
    index: &IncidentIndex,
    position: Position,
    conn: &mut DbConnection,
) -> anyhow::Result<Difference> {
    // The index first: what is published after this read shows up as
    // pending or missing, and a repair reads the current row anyway.
    let indexed = index.id_revisions()?;
    let pending = changes::pending_reports(conn, position)?;
    let published: HashMap<String, i32> = published_revisions(conn)?.into_iter().collect();
    let mut diff = Difference {
        published: published.len(),
        pending: pending.len(),
        ..Difference::default()
    };
    for (id, revision) in &published {
        if pending.contains(id) {
            continue;
        }
        let current = u64::try_from(*revision).unwrap_or_default();
        match indexed.get(id) {
            None => {
                diff.missing.insert(id.clone());
            }
            Some(&r) if r != current => diff.stale.push((id.clone(), r, current)),
            Some(_) => {}
        }
    }
    for id in indexed.keys() {
        if !published.contains_key(id) && !pending.contains(id) {
            diff.extra.insert(id.clone());
        }
    }
    diff.stale.sort();
    Ok(diff)
}
