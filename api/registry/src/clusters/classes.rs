//! What each reader class sees of a cluster, stored with it: the members
//! of the TLP levels the class reads, counted (size, first and latest
//! publication day, publications per day for the growth windows) and
//! identified by the hash of their ids and revisions (which stored label
//! applies). Listing clusters reads these instead of every membership;
//! members changed since they were computed are read live (see `view`).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use incidex_schema::identity::Role;
use serde::{Deserialize, Serialize};

use super::{GROWTH_DAYS, label_basis};
use crate::visibility::readable_tlps;

/// The reader classes whose view is stored: members and analysts.
pub const CLASSES: [Role; 2] = [Role::Reporter, Role::Analyst];

/// One reader class's view of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassView {
    /// `reporter` or `analyst`.
    pub role: String,
    pub size: usize,
    pub first_seen: NaiveDate,
    pub last_seen: NaiveDate,
    /// Visible members published per day.
    pub days: BTreeMap<NaiveDate, u32>,
    /// Hash of the visible members' ids and revisions.
    pub basis: String,
}

/// One member as the views count it.
#[derive(Debug, Clone, Copy)]
pub struct Counted<'a> {
    pub id: &'a str,
    pub revision: i32,
    pub tlp: &'a str,
    pub published_on: NaiveDate,
}

/// The stored views of a cluster with these (published) members; a class
/// that sees none of them has no view.
pub fn views_of(members: &[Counted<'_>]) -> Vec<ClassView> {
    CLASSES
        .iter()
        .filter_map(|role| {
            let tlps = readable_tlps(*role);
            let seen: Vec<&Counted<'_>> = members
                .iter()
                .filter(|m| tlps.iter().any(|t| t.as_str() == m.tlp))
                .collect();
            let first_seen = seen.iter().map(|m| m.published_on).min()?;
            let last_seen = seen.iter().map(|m| m.published_on).max()?;
            let mut days = BTreeMap::new();
            for m in &seen {
                *days.entry(m.published_on).or_insert(0) += 1;
            }
            Some(ClassView {
                role: role.as_str().to_owned(),
                size: seen.len(),
                first_seen,
                last_seen,
                days,
                basis: label_basis(seen.iter().map(|m| (m.id, m.revision))),
            })
        })
        .collect()
}

impl ClassView {
    /// Visible members published in the last 7 days (today included) and
    /// in the 7 days before.
    pub fn growth(&self, today: NaiveDate) -> (usize, usize) {
        let mut recent = 0;
        let mut previous = 0;
        for (day, n) in &self.days {
            let age = (today - *day).num_days();
            if (0..GROWTH_DAYS).contains(&age) {
                recent += *n as usize;
            } else if (GROWTH_DAYS..2 * GROWTH_DAYS).contains(&age) {
                previous += *n as usize;
            }
        }
        (recent, previous)
    }
}

/// The stored view of `role`'s class, if the cluster has one.
pub fn view_for(stored: &str, role: Role) -> Option<ClassView> {
    serde_json::from_str::<Vec<ClassView>>(stored)
        .ok()?
        .into_iter()
        .find(|v| v.role == role.as_str())
}
