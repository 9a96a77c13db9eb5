//! Who is asking: the registry's view of an authenticated caller, whatever
//! credential (API client, web user, external token) it came with. The
//! HTTP face authenticates; the registry only reads this.

use incidex_schema::identity::Role;

use crate::keys::{RegistryKeys, owner_key};

/// The kind of credential behind a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallerKind {
    /// An API client (client id and secret).
    Client,
    /// A web user (username and password).
    User,
    /// A token of a configured external identity provider.
    External,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The credential's subject (client id, user id, external subject).
    pub subject: String,
    pub kind: CallerKind,
    /// The member operator a reporter acts for.
    pub operator_id: Option<String>,
    pub role: Role,
}

impl Caller {
    /// The owner key of the caller's reports, for a member.
    pub fn owner_key(&self, keys: &RegistryKeys) -> Option<String> {
        self.operator_id.as_deref().map(|op| owner_key(keys, op))
    }
}
