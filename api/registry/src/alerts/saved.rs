//! Saved searches as domain values: who owns one, its parsed query, and
//! the webhook signing secret.
//!
//! The query of a saved search is a query string of `GET /api/v1/search`
//! (`q=p-cscf&service=volte`), parsed by the same code, so a saved search
//! means what the search means. Parameters that only shape a page of
//! results (`sort`, `limit`, `offset`, `facets`) are refused, and filter
//! values must be known values of their field: a typo would otherwise
//! never match and nobody would notice.
//!
//! The signing secret is derived from a random per-search salt with the
//! registry's ownership secret (an HMAC), so the database holds no secret:
//! a copy of it alone cannot forge or read signatures. Rotating the
//! ownership secret changes every webhook secret.

use std::str::FromStr;

use incidex_indexer::{Filters, IndexError, KeywordField, MatchBatch, SearchRequest};
use incidex_schema::db::alerts::{OwnerKind, SavedSearchRow};
use incidex_schema::db::{DbConnection, StorageResult, identity};
use incidex_schema::identity::Role;
use incidex_schema::report::{
    Asset, CountryCode, NetworkDomain, OperatorType, Region, RootCauseCategory, Scope, Service,
    Severity, Tlp, Trigger,
};
use incidex_schema::validation::FieldError;
use rand::RngCore;

use crate::caller::{Caller, CallerKind};
use crate::keys::RegistryKeys;

/// Longest accepted query string of a saved search, in characters.
pub const MAX_SEARCH_CHARS: usize = 2_000;
/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Search parameters that shape a page of results, meaningless here.
const PAGE_PARAMETERS: &[&str] = &["sort", "limit", "offset", "facets"];

/// Who owns a saved search, and with which role's visibility it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub kind: OwnerKind,
    pub id: String,
    pub role: Role,
}

impl Owner {
    /// The owner a principal acts as: a reporter for its member operator,
    /// anyone else for itself. `None` for roles that do not read reports.
    pub fn of(principal: &Caller) -> Option<Owner> {
        let (kind, id) = match (principal.role, principal.kind) {
            (Role::Reporter, _) => (OwnerKind::Operator, principal.operator_id.clone()?),
            (Role::Admin, _) => return None,
            (Role::Analyst, CallerKind::Client) => (OwnerKind::Client, principal.subject.clone()),
            (Role::Analyst, CallerKind::User) => (OwnerKind::User, principal.subject.clone()),
            (Role::Analyst, CallerKind::External) => {
                (OwnerKind::External, principal.subject.clone())
            }
        };
        Some(Owner {
            kind,
            id,
            role: principal.role,
        })
    }

    /// The stored owner of a saved search.
    pub fn of_row(row: &SavedSearchRow) -> Option<Owner> {
        Some(Owner {
            kind: OwnerKind::parse(&row.owner_kind)?,
            id: row.owner_id.clone(),
            role: Role::parse(&row.role)?,
        })
    }

    pub fn owns(&self, row: &SavedSearchRow) -> bool {
        row.owner_kind == self.kind.as_str() && row.owner_id == self.id
    }

    /// Whether the credentials behind this owner still may read: the
    /// operator is still a member, the client is neither revoked nor
    /// expired and keeps its role, the user exists with its role. An
    /// external subject is vouched for by its identity provider at each
    /// request; here it stays valid.
    pub fn is_live(&self, conn: &mut DbConnection) -> StorageResult<bool> {
        Ok(match self.kind {
            OwnerKind::Operator => {
                self.role == Role::Reporter && identity::find_operator(conn, &self.id)?.is_some()
            }
            OwnerKind::Client => identity::find_client(conn, &self.id)?.is_some_and(|c| {
                let now = chrono::Utc::now().naive_utc();
                c.revoked_at.is_none()
                    && c.expires_at.is_none_or(|e| e > now)
                    && c.role == self.role.as_str()
            }),
            OwnerKind::User => {
                identity::find_user(conn, &self.id)?.is_some_and(|u| u.role == self.role.as_str())
            }
            OwnerKind::External => self.role != Role::Admin,
        })
    }

    /// The TLP levels this owner's saved searches match.
    pub fn visible(&self) -> &'static [Tlp] {
        crate::visibility::readable_tlps(self.role)
    }
}

/// A saved search's query, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedQuery {
    /// The query string as stored (trimmed values, empty ones dropped).
    pub canonical: String,
    pub query: String,
    pub filters: Filters,
}

fn field_error(field: &str, code: &str, message: impl Into<String>) -> FieldError {
    FieldError::new(field, code, message)
}

impl SavedQuery {
    /// Parses and checks a query string for an owner with `role`; the
    /// errors name `search` or `search.<parameter>`.
    pub fn parse(search: &str, role: Role) -> Result<SavedQuery, Vec<FieldError>> {
        let search = search.trim().trim_start_matches('?');
        if search.chars().count() > MAX_SEARCH_CHARS {
            return Err(vec![field_error(
                "search",
                "too_long",
                format!("at most {MAX_SEARCH_CHARS} characters"),
            )]);
        }
        let mut errors = Vec::new();
        let mut canonical = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(search.as_bytes()) {
            let value = value.trim();
            if PAGE_PARAMETERS.contains(&key.as_ref()) {
                errors.push(field_error(
                    &format!("search.{key}"),
                    "not_allowed",
                    "a saved search has no pages or order",
                ));
                continue;
            }
            if let Some(field) = KeywordField::ALL.into_iter().find(|f| f.name() == key) {
                for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                    if let Err(e) = check_keyword(field, v, role) {
                        errors.push(e);
                    }
                }
            }
            if !value.is_empty() {
                canonical.append_pair(&key, value);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let canonical = canonical.finish();
        let request: SearchRequest = crate::search::parse_search(&canonical).map_err(|e| {
            e.field_errors()
                .into_iter()
                .map(|f| FieldError {
                    field: format!("search.{}", f.field),
                    ..f
                })
                .collect::<Vec<_>>()
        })?;
        match MatchBatch::check(&request.query, &request.filters) {
            Ok(()) => {}
            Err(IndexError::InvalidQuery { message, position }) => {
                let message = match position {
                    Some(p) => format!("{message} (at character {p})"),
                    None => message,
                };
                return Err(vec![field_error("search.q", "invalid_query", message)]);
            }
            Err(IndexError::QueryTooComplex { limit }) => {
                return Err(vec![field_error(
                    "search.q",
                    limit.name(),
                    limit.to_string(),
                )]);
            }
            Err(IndexError::InvalidRequest(m)) => {
                return Err(vec![field_error("search", "invalid_value", m)]);
            }
            Err(other) => {
                tracing::error!(error = ?other, "checking a saved search failed");
                return Err(vec![field_error(
                    "search",
                    "invalid_value",
                    "the search cannot be checked",
                )]);
            }
        }
        Ok(SavedQuery {
            canonical,
            query: request.query,
            filters: request.filters,
        })
    }
}

/// A filter value must be a known value of its field, and a `tlp` filter
/// one the owner may read.
fn check_keyword(field: KeywordField, value: &str, role: Role) -> Result<(), FieldError> {
    let lower = value.to_lowercase();
    let known = match field {
        KeywordField::Service => Service::from_str(&lower).is_ok(),
        KeywordField::NetworkDomain | KeywordField::Domain => {
            NetworkDomain::from_str(&lower).is_ok()
        }
        KeywordField::Asset => Asset::from_str(&lower).is_ok(),
        KeywordField::RootCauseCategory => RootCauseCategory::from_str(&lower).is_ok(),
        KeywordField::Trigger => Trigger::from_str(&lower).is_ok(),
        KeywordField::Severity => Severity::from_str(&lower).is_ok(),
        KeywordField::Region => Region::from_str(&lower).is_ok(),
        KeywordField::Country => CountryCode::parse(&value.to_uppercase()).is_ok(),
        KeywordField::Scope => Scope::from_str(&lower).is_ok(),
        KeywordField::OperatorType => OperatorType::from_str(&lower).is_ok(),
        KeywordField::Tlp => match Tlp::from_str(&lower) {
            Ok(tlp) if crate::visibility::readable_tlps(role).contains(&tlp) => true,
            Ok(_) => {
                return Err(field_error(
                    &format!("search.{}", field.name()),
                    "not_allowed",
                    format!("a {role} never receives {lower} reports"),
                ));
            }
            Err(_) => false,
        },
    };
    if known {
        Ok(())
    } else {
        Err(field_error(
            &format!("search.{}", field.name()),
            "invalid_value",
            format!("`{value}` is not a known value of {}", field.name()),
        ))
    }
}

/// A new random salt for a signing secret.
pub fn new_salt() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The webhook signing secret of a saved search. Receivers use the whole
/// string (prefix included) as the HMAC key.
pub fn signing_secret(keys: &RegistryKeys, saved_search_id: &str, salt: &str) -> String {
    format!(
        "whsec_{}",
        keys.opaque_key("webhook-secret", &format!("{saved_search_id}\u{0}{salt}"))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: Result<SavedQuery, Vec<FieldError>>) -> Vec<(String, String)> {
        r.expect_err("rejected")
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn parses_like_search_and_keeps_a_canonical_form() {
        let q = SavedQuery::parse(
            "?q= p-cscf &service=volte,voice&trigger=&emergency_service_affected=true",
            Role::Reporter,
        )
        .expect("valid");
        assert_eq!(
            q.canonical,
            "q=p-cscf&service=volte%2Cvoice&emergency_service_affected=true"
        );
        assert_eq!(q.query, "p-cscf");
        assert_eq!(
            q.filters.keywords[&KeywordField::Service],
            ["volte", "voice"]
        );
        assert!(
            SavedQuery::parse("", Role::Analyst).is_ok(),
            "everything readable"
        );
        assert!(SavedQuery::parse("country=fr&region=europe", Role::Analyst).is_ok());
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            fields(SavedQuery::parse("q=title:(", Role::Analyst)),
            [("search.q".to_owned(), "invalid_query".to_owned())]
        );
        assert_eq!(
            fields(SavedQuery::parse("service=vocie", Role::Analyst)),
            [("search.service".to_owned(), "invalid_value".to_owned())]
        );
        assert_eq!(
            fields(SavedQuery::parse("sort=newest&limit=5", Role::Analyst)),
            [
                ("search.sort".to_owned(), "not_allowed".to_owned()),
                ("search.limit".to_owned(), "not_allowed".to_owned())
            ]
        );
        assert_eq!(
            fields(SavedQuery::parse("tlp=amber", Role::Reporter)),
            [("search.tlp".to_owned(), "not_allowed".to_owned())]
        );
        assert!(SavedQuery::parse("tlp=amber", Role::Analyst).is_ok());
        assert_eq!(
            fields(SavedQuery::parse("colour=red", Role::Analyst)),
            [("search.colour".to_owned(), "invalid_value".to_owned())]
        );
        assert_eq!(
            fields(SavedQuery::parse(
                "started_from=2024-05-01&started_to=2024-01-01",
                Role::Analyst
            )),
            [("search".to_owned(), "invalid_value".to_owned())]
        );
        let long = format!("q={}", "a".repeat(MAX_SEARCH_CHARS));
        assert_eq!(
            fields(SavedQuery::parse(&long, Role::Analyst)),
            [("search".to_owned(), "too_long".to_owned())]
        );
    }
}
