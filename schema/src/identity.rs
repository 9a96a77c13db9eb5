//! Who may do what: roles of API clients and users.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a principal may do (DESIGN.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An operator's system: files and manages its own reports, reads what
    /// is shared with members.
    Reporter,
    /// Registry or member analyst: reads everything shared, curates.
    Analyst,
    /// Manages operators, clients and users.
    Admin,
}

impl Role {
    pub const ALL: &'static [Role] = &[Role::Reporter, Role::Analyst, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reporter => "reporter",
            Role::Analyst => "analyst",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
