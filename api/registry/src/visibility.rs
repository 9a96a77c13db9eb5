//! Who may see what: every rule in one place.
//!
//! - Drafts and withdrawn reports: only the owner.
//! - Published reports by TLP: `clear` and `green`, every member and
//!   analyst; `amber`, analysts and the owner; `red`, the owner only.
//!   Administrators manage the registry and read no reports.
//! - The owner is recognised by the keyed hash of its operator
//!   ([`owner_key`]), never by a stored operator id.
//! - Everyone but the owner sees the shared view (`crate::views`); the
//!   index holds only that view, so search, similar incidents, clusters,
//!   lessons, alerts and digests apply the same levels through
//!   [`readable_tlps`] / [`index_tlps`] / [`Viewer`].

use incidex_indexer::Tlp as IndexTlp;
use incidex_schema::db::lessons::ReaderScope;
use incidex_schema::db::reports::ReportRow;
use incidex_schema::identity::Role;
use incidex_schema::report::{ReportStatus, Tlp};

use crate::caller::Caller;
use crate::keys::{RegistryKeys, owner_key};

/// The TLP levels a non-owner with `role` may read.
pub fn readable_tlps(role: Role) -> &'static [Tlp] {
    match role {
        Role::Analyst => &[Tlp::Clear, Tlp::Green, Tlp::Amber],
        Role::Reporter => &[Tlp::Clear, Tlp::Green],
        Role::Admin => &[],
    }
}

/// Whether a reader with `role` (not the owner) may read this stored report.
pub fn may_read_shared(role: Role, row: &ReportRow) -> bool {
    row.status == ReportStatus::Published.as_str()
        && readable_tlps(role).iter().any(|t| t.as_str() == row.tlp)
}

/// The index's name for a TLP level.
pub fn index_tlp(tlp: Tlp) -> IndexTlp {
    match tlp {
        Tlp::Clear => IndexTlp::Clear,
        Tlp::Green => IndexTlp::Green,
        Tlp::Amber => IndexTlp::Amber,
        Tlp::Red => IndexTlp::Red,
    }
}

/// The TLP levels a reader with `role` may see in the index.
pub fn index_tlps(role: Role) -> Vec<IndexTlp> {
    readable_tlps(role).iter().map(|t| index_tlp(*t)).collect()
}

/// A reader and what of the registry they may see .
#[derive(Debug, Clone)]
pub struct Viewer {
    pub role: Role,
    /// Owner key of the reader's own reports (members only).
    pub owner_key: Option<String>,
    /// Keyed hash that the reader's endorsements are stored under: one per
    /// member for reporters, one per person for analysts, none for admins.
    pub endorser_key: Option<String>,
    pub(crate) tlps: Vec<&'static str>,
}

impl Viewer {
    pub fn new(caller: &Caller, keys: &RegistryKeys) -> Viewer {
        let operator = caller
            .operator_id
            .as_deref()
            .filter(|_| caller.role == Role::Reporter);
        Viewer {
            role: caller.role,
            owner_key: operator.map(|op| owner_key(keys, op)),
            // One endorsement per member; an analyst (registry staff or a
            // member's analyst) endorses as one person.
            endorser_key: match (caller.role, operator) {
                (Role::Reporter, Some(op)) => Some(keys.opaque_key("endorse", op)),
                (Role::Analyst, _) => {
                    Some(keys.opaque_key("endorse", &format!("user:{}", caller.subject)))
                }
                _ => None,
            },
            tlps: readable_tlps(caller.role)
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
            tlps: readable_tlps(role).iter().map(|t| t.as_str()).collect(),
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
