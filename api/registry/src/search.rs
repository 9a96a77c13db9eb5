//! Search and similar incidents over the index: parsing the query string
//! of `GET /api/v1/search` (also what saved searches store), running it
//! with the reader's TLP levels, and "has anyone seen this?".
//!
//! Every call is limited to the TLP levels the reader may see, and the index
//! holds only the shared view of published reports.

use std::sync::Arc;

use chrono::NaiveDate;
use incidex_indexer::{
    FlagField, KeywordField, SearchRequest, SearchResults, SimilarHit, SimilarQuery, SortOrder,
};
use incidex_schema::db::DbPool;
use incidex_schema::db::reports;
use incidex_schema::identity::Role;
use incidex_schema::report::{
    Asset, NetworkDomain, OperatorType, RootCauseCategory, Service, Trigger,
};
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::conn::with_connection;
use crate::error::{RegistryError, RegistryResult};
use crate::index::IndexService;
use crate::keys::RegistryKeys;
use crate::visibility::{index_tlps, may_read_shared};

/// Most similar incidents asked for at once.
pub const MAX_K: usize = 50;
/// Longest "has anyone seen this?" text, in characters.
pub const MAX_SIMILAR_TEXT_CHARS: usize = 20_000;

fn keyword_field(name: &str) -> Option<KeywordField> {
    KeywordField::ALL.into_iter().find(|f| f.name() == name)
}

fn flag_field(name: &str) -> Option<FlagField> {
    FlagField::ALL.into_iter().find(|f| f.name() == name)
}

fn bad_param(field: &str, message: impl Into<String>) -> RegistryError {
    RegistryError::bad_parameter(field, message)
}

/// Parses the query string into a search request (repeated keys allowed).
pub fn parse_search(query: &str) -> RegistryResult<SearchRequest> {
    let mut req = SearchRequest {
        limit: 20,
        ..SearchRequest::default()
    };
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let key = key.as_ref();
        let value = value.trim();
        let date = |v: &str| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| bad_param(key, "a date YYYY-MM-DD"))
        };
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| bad_param(key, "a whole number"))
        };
        match key {
            "q" => req.query = value.to_owned(),
            "sort" => {
                req.sort = match value {
                    "" | "relevance" => SortOrder::Relevance,
                    "newest" => SortOrder::Newest,
                    "oldest" => SortOrder::Oldest,
                    _ => return Err(bad_param(key, "relevance, newest or oldest")),
                }
            }
            "limit" => req.limit = number(value)?,
            "offset" => req.offset = number(value)?,
            "facets" => req.facets = value.parse().map_err(|_| bad_param(key, "true or false"))?,
            "published_from" => {
                req.filters.published_from = Some(
                    date(value)?
                        .and_hms_opt(0, 0, 0)
                        .unwrap_or_default()
                        .and_utc(),
                )
            }
            "published_to" => {
                req.filters.published_to = Some(
                    date(value)?
                        .and_hms_opt(23, 59, 59)
                        .unwrap_or_default()
                        .and_utc(),
                )
            }
            "started_from" => req.filters.started_from = Some(date(value)?),
            "started_to" => req.filters.started_to = Some(date(value)?),
            _ => {
                if let Some(flag) = flag_field(key) {
                    let on = value.parse().map_err(|_| bad_param(key, "true or false"))?;
                    req.filters.flags.insert(flag, on);
                } else if let Some(field) = keyword_field(key) {
                    let values = req.filters.keywords.entry(field).or_default();
                    values.extend(
                        value
                            .split(',')
                            .map(str::trim)
                            .filter(|v| !v.is_empty())
                            .map(str::to_owned),
                    );
                } else {
                    return Err(bad_param(key, "unknown parameter"));
                }
            }
        }
    }
    if !(1..=200).contains(&req.limit) {
        return Err(bad_param("limit", "1 to 200"));
    }
    Ok(req)
}

/// A similar incident and why it matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarItem {
    pub id: String,
    pub title: String,
    /// 0 to 1.
    pub score: f32,
    pub text_score: f32,
    pub field_score: f32,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarResponse {
    pub items: Vec<SimilarItem>,
}

fn similar_response(hits: Vec<SimilarHit>) -> SimilarResponse {
    SimilarResponse {
        items: hits
            .into_iter()
            .map(|h| SimilarItem {
                id: h.id,
                title: h.title,
                score: h.score,
                text_score: h.text_score,
                field_score: h.field_score,
                reasons: h.reasons,
            })
            .collect(),
    }
}

/// "Has anyone seen this?": free text plus optional structured fields.
/// Nothing sent here is stored or logged.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "We plan to run bulk reconnection commands on all call servers during a modernisation; what went wrong for others?", "assets": ["call_server"], "trigger": "routine_commands", "k": 5}))]
pub struct SimilarRequest {
    pub text: String,
    #[serde(default)]
    pub services: Vec<Service>,
    pub network_domain: Option<NetworkDomain>,
    #[serde(default)]
    pub other_domains: Vec<NetworkDomain>,
    #[serde(default)]
    pub assets: Vec<Asset>,
    pub trigger: Option<Trigger>,
    pub root_cause_category: Option<RootCauseCategory>,
    pub operator_type: Option<OperatorType>,
    pub k: Option<usize>,
}

fn check_k(k: Option<usize>) -> RegistryResult<usize> {
    let k = k.unwrap_or(5);
    if (1..=MAX_K).contains(&k) {
        Ok(k)
    } else {
        Err(bad_param("k", format!("1 to {MAX_K}")))
    }
}

/// Search and similar incidents over this process's index.
#[derive(Clone)]
pub struct Search {
    pub pool: DbPool,
    pub keys: Arc<RegistryKeys>,
    /// `None` where this process runs no index (commands other than `serve`).
    pub index: Option<Arc<IndexService>>,
}

impl std::fmt::Debug for Search {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Search").finish_non_exhaustive()
    }
}

impl Search {
    fn index(&self) -> RegistryResult<Arc<incidex_indexer::IncidentIndex>> {
        self.index
            .as_ref()
            .map(|i| i.handle.current())
            .ok_or_else(|| RegistryError::Unavailable("the search index is not running".into()))
    }

    /// Runs a search with the TLP levels `role` may read. Blocking.
    pub fn search(&self, role: Role, req: &SearchRequest) -> RegistryResult<SearchResults> {
        Ok(self.index()?.search(req, &index_tlps(role))?)
    }

    /// The incidents most similar to a report: one the caller may read, or
    /// the caller's own (even a draft). Blocking.
    pub fn similar_to_report(
        &self,
        caller: &Caller,
        id: &str,
        k: Option<usize>,
    ) -> RegistryResult<SimilarResponse> {
        let k = check_k(k)?;
        let index = self.index()?;
        let visible = index_tlps(caller.role);
        let owner = caller.owner_key(&self.keys);
        let hits = with_connection(&self.pool, |conn| {
            let row = reports::find_report(conn, id)?.ok_or_else(RegistryError::not_found)?;
            if owner.as_deref() == Some(row.owner_key.as_str()) {
                // The owner's own report, whatever its status: probe with its content.
                let content = crate::views::content_of(&row)?;
                let doc = crate::index::document::index_doc(&row, &content, 0, usize::MAX);
                let probe = SimilarQuery::from_doc(&doc);
                let mut hits = index.similar_to_text(&probe, k + 1, &visible)?;
                hits.retain(|h| h.id != row.id);
                hits.truncate(k);
                return Ok(hits);
            }
            if !may_read_shared(caller.role, &row) {
                return Err(RegistryError::not_found());
            }
            Ok(index.similar_to(id, k, &visible)?)
        })?;
        Ok(similar_response(hits))
    }

    /// Incidents similar to a description, without filing anything.
    /// Blocking.
    pub fn similar_to_text(
        &self,
        role: Role,
        r: SimilarRequest,
    ) -> RegistryResult<SimilarResponse> {
        let k = check_k(r.k)?;
        if r.text.trim().is_empty()
            && r.assets.is_empty()
            && r.services.is_empty()
            && r.trigger.is_none()
        {
            return Err(RegistryError::Invalid(vec![FieldError::new(
                "text",
                "blank",
                "give some text or structured fields",
            )]));
        }
        if r.text.chars().count() > MAX_SIMILAR_TEXT_CHARS {
            return Err(RegistryError::Invalid(vec![FieldError::new(
                "text",
                "too_long",
                format!("at most {MAX_SIMILAR_TEXT_CHARS} characters"),
            )]));
        }
        let probe = SimilarQuery {
            text: r.text,
            services: r.services.iter().map(|s| s.as_str().to_owned()).collect(),
            network_domain: r.network_domain.map(|d| d.as_str().to_owned()),
            other_domains: r
                .other_domains
                .iter()
                .map(|d| d.as_str().to_owned())
                .collect(),
            assets: r.assets.iter().map(|a| a.as_str().to_owned()).collect(),
            trigger: r.trigger.map(|t| t.as_str().to_owned()),
            root_cause_category: r.root_cause_category.map(|c| c.as_str().to_owned()),
            operator_type: r.operator_type.map(|o| o.as_str().to_owned()),
            // The description is compared with the candidates' summaries too.
            summary: None,
        };
        let hits = self
            .index()?
            .similar_to_text(&probe, k, &index_tlps(role))?;
        Ok(similar_response(hits))
    }
}
