//! Lessons learned as queryable records.
//!
//! Policy:
//! - Every lesson of a published report is a record linked to it (and so,
//!   through the report, to its cluster). [`sync_report_lessons`] writes
//!   them in the transaction of the publication or amendment that makes
//!   them: a lesson whose text is unchanged keeps its id (and its
//!   endorsements), new texts get new records, removed texts and every
//!   lesson of a withdrawn report are deleted. The text is the report's
//!   stored lesson, already anonymised at intake.
//! - Analysts add curated lessons to a cluster; their text is anonymised
//!   like report text (every member's names and aliases, identifiers; there
//!   is no filer whose own terms would apply).
//! - Category: given by the analyst for a curated lesson, otherwise the
//!   keyword rule of [`LessonCategory::classify`] (see
//!   `docs/clusters-and-lessons.md`).
//! - Visibility: a report lesson is shown to whoever may read its report
//!   ([`Viewer`]); a curated lesson to whoever may see its cluster (at least
//!   one visible member). Totals and facet counts count only shown lessons.
//!   No lesson carries the filer.
//! - Endorsements ("we applied this too") are stored under a keyed hash of
//!   the member, counted once per member and never attributed.
//! - Full text: an in-process search over the lessons the reader may see,
//!   after the structured filters, with the search index's analyser (stems,
//!   telecom vocabulary). Every word must appear, a quoted phrase as
//!   written; ranking is tf-idf over the visible lessons. Analysed texts are
//!   memoised by text, so a query costs little more than one pass over the
//!   visible lessons.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::NaiveDate;
use incidex_indexer::analysis::{Mode, analyse, is_stop_word};
use incidex_schema::db::DbConnection;
use incidex_schema::db::lessons::{
    self as store, LessonCandidate, LessonPlacement, LessonRow, SOURCE_CURATED, SOURCE_REPORT,
};
use incidex_schema::db::reports::{self, ReportRow, now};
use incidex_schema::report::{
    MAX_LESSON_CHARS, NetworkDomain, ReportContent, ReportStatus, RootCauseCategory, Service,
    Trigger,
};
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::anonymise::SensitiveTerms;
use crate::clustering::Viewer;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::intake::AnonymiserCache;
use crate::views::StoredRedaction;

/// What a lesson is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum LessonCategory {
    /// Rolling out, testing and reverting changes, procedures.
    ChangeManagement,
    /// Supervision, alarms, detection.
    Monitoring,
    /// Redundancy, diversity, failover, backups.
    Redundancy,
    /// Crisis handling, escalation, communication, restoration.
    IncidentResponse,
    /// Dimensioning, overload protection.
    Capacity,
    /// Vendors, suppliers, contractors, third parties.
    Supplier,
    /// Attacks, access control, hardening.
    Security,
    /// Power, cooling, buildings, cables and other physical plant.
    Facilities,
    Other,
}

/// Keywords of each category, in priority order (ties go to the earlier).
const KEYWORDS: &[(LessonCategory, &[&str])] = &[
    (
        LessonCategory::ChangeManagement,
        &[
            "change",
            "rollout",
            "roll",
            "upgrade",
            "update",
            "release",
            "rollback",
            "revert",
            "staged",
            "stage",
            "progressive",
            "progressively",
            "gradual",
            "gradually",
            "canary",
            "pilot",
            "test",
            "testing",
            "validate",
            "validation",
            "procedure",
            "approval",
            "review",
            "maintenance",
            "window",
            "configuration",
            "config",
            "commands",
            "deploy",
            "deployment",
            "fleet",
            "batch",
            "automation",
            "script",
        ],
    ),
    (
        LessonCategory::Monitoring,
        &[
            "monitor",
            "monitoring",
            "supervise",
            "supervision",
            "alarm",
            "alert",
            "alerting",
            "detect",
            "detection",
            "dashboard",
            "telemetry",
            "probe",
            "visibility",
            "observability",
            "kpi",
            "metrics",
            "logging",
            "logs",
            "expiry",
            "expiration",
            "inventory",
        ],
    ),
    (
        LessonCategory::Redundancy,
        &[
            "redundancy",
            "redundant",
            "diverse",
            "diversity",
            "diversify",
            "failover",
            "fallback",
            "backup",
            "resilience",
            "resilient",
            "geographic",
            "separate",
            "separation",
            "spare",
            "dual",
            "standby",
            "single",
            "independent",
            "duplicate",
        ],
    ),
    (
        LessonCategory::IncidentResponse,
        &[
            "crisis",
            "escalate",
            "escalation",
            "communicate",
            "communication",
            "notify",
            "notification",
            "inform",
            "customers",
            "authorities",
            "regulator",
            "runbook",
            "playbook",
            "drill",
            "exercise",
            "coordination",
            "coordinate",
            "convene",
            "restore",
            "restoration",
            "response",
            "respond",
            "recovery",
        ],
    ),
    (
        LessonCategory::Capacity,
        &[
            "capacity",
            "overload",
            "overloaded",
            "load",
            "throttle",
            "throttling",
            "dimension",
            "dimensioning",
            "scaling",
            "scale",
            "congestion",
            "surge",
            "peak",
            "headroom",
        ],
    ),
    (
        LessonCategory::Supplier,
        &[
            "vendor",
            "supplier",
            "third-party",
            "contract",
            "sla",
            "partner",
            "contractor",
            "outsourced",
            "provider",
        ],
    ),
    (
        LessonCategory::Security,
        &[
            "security",
            "secure",
            "attack",
            "ddos",
            "vulnerability",
            "malware",
            "ransomware",
            "authentication",
            "access",
            "credential",
            "intrusion",
            "hardening",
            "encryption",
            "firewall",
        ],
    ),
    (
        LessonCategory::Facilities,
        &[
            "power",
            "battery",
            "generator",
            "fuel",
            "cooling",
            "hvac",
            "fire",
            "flood",
            "flooding",
            "building",
            "mains",
            "grid",
            "ups",
            "earthquake",
            "weather",
            "cable",
            "duct",
            "excavation",
        ],
    ),
];

impl LessonCategory {
    pub const ALL: &'static [LessonCategory] = &[
        LessonCategory::ChangeManagement,
        LessonCategory::Monitoring,
        LessonCategory::Redundancy,
        LessonCategory::IncidentResponse,
        LessonCategory::Capacity,
        LessonCategory::Supplier,
        LessonCategory::Security,
        LessonCategory::Facilities,
        LessonCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LessonCategory::ChangeManagement => "change_management",
            LessonCategory::Monitoring => "monitoring",
            LessonCategory::Redundancy => "redundancy",
            LessonCategory::IncidentResponse => "incident_response",
            LessonCategory::Capacity => "capacity",
            LessonCategory::Supplier => "supplier",
            LessonCategory::Security => "security",
            LessonCategory::Facilities => "facilities",
            LessonCategory::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<LessonCategory> {
        LessonCategory::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == s)
    }

    /// The category whose keywords occur most often in `text` (analysed like
    /// the search index: stems, so `monitoring` counts for `monitor`); ties
    /// go to the earlier category of the table; none at all is `other`.
    pub fn classify(text: &str) -> LessonCategory {
        let table = keyword_terms();
        let mut counts = vec![0usize; table.len()];
        for token in analyse(text, Mode::Index) {
            for (i, (_, terms)) in table.iter().enumerate() {
                if terms.contains(&token.term) {
                    counts[i] += 1;
                }
            }
        }
        let mut best: Option<(usize, usize)> = None;
        for (i, n) in counts.iter().copied().enumerate() {
            if n > 0 && best.is_none_or(|(_, b)| n > b) {
                best = Some((i, n));
            }
        }
        best.map_or(LessonCategory::Other, |(i, _)| table[i].0)
    }
}

/// The keyword table, analysed once.
fn keyword_terms() -> &'static [(LessonCategory, HashSet<String>)] {
    static TERMS: OnceLock<Vec<(LessonCategory, HashSet<String>)>> = OnceLock::new();
    TERMS.get_or_init(|| {
        KEYWORDS
            .iter()
            .map(|(category, words)| {
                let terms = words
                    .iter()
                    .flat_map(|w| analyse(w, Mode::Query))
                    .map(|t| t.term)
                    .collect();
                (*category, terms)
            })
            .collect()
    })
}

/// Where a lesson comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LessonSource {
    /// A published report's lesson.
    Report,
    /// Added by an analyst to a cluster.
    Curated,
}

impl LessonSource {
    pub fn as_str(self) -> &'static str {
        match self {
            LessonSource::Report => SOURCE_REPORT,
            LessonSource::Curated => SOURCE_CURATED,
        }
    }

    pub fn parse(s: &str) -> Option<LessonSource> {
        [LessonSource::Report, LessonSource::Curated]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A lesson as a reader sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Lesson {
    #[schema(example = "8c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")]
    pub id: String,
    /// The anonymised statement.
    #[schema(example = "Supervise emergency call completion end to end with dedicated alarms.")]
    pub text: String,
    pub category: LessonCategory,
    pub source: LessonSource,
    /// The reports it comes from (empty for a curated lesson).
    pub report_ids: Vec<String>,
    /// The cluster of its report, or the cluster it was curated for.
    pub cluster_id: Option<String>,
    /// Members who applied it too (once per member; never who).
    pub endorsements: i64,
    /// Whether the caller's member endorsed it.
    pub endorsed: bool,
    /// The report's services, network domains (main and other), root cause
    /// and trigger, from its shared view (empty for curated lessons).
    pub services: Vec<Service>,
    pub domains: Vec<NetworkDomain>,
    pub root_cause_category: Option<RootCauseCategory>,
    pub trigger: Option<Trigger>,
    /// The day the lesson was recorded.
    pub created_on: NaiveDate,
}

/// A lesson record with its filter fields decoded.
struct Decoded {
    row: LessonRow,
    cluster_id: Option<String>,
    category: LessonCategory,
    source: LessonSource,
    services: Vec<Service>,
    domains: Vec<NetworkDomain>,
    root_cause_category: Option<RootCauseCategory>,
    trigger: Option<Trigger>,
}

fn parse_list<T: FromStr>(json: &str) -> Vec<T> {
    serde_json::from_str::<Vec<String>>(json)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

impl Decoded {
    fn new(row: LessonRow, cluster_id: Option<String>) -> Decoded {
        Decoded {
            cluster_id,
            category: LessonCategory::parse(&row.category).unwrap_or(LessonCategory::Other),
            source: LessonSource::parse(&row.source).unwrap_or(LessonSource::Report),
            services: parse_list(&row.report_services),
            domains: parse_list(&row.report_domains),
            root_cause_category: row
                .report_root_cause
                .as_deref()
                .and_then(|s| s.parse().ok()),
            trigger: row.report_trigger.as_deref().and_then(|s| s.parse().ok()),
            row,
        }
    }

    fn into_lesson(self, endorsements: i64, endorsed: bool) -> Lesson {
        Lesson {
            report_ids: self.row.report_id.iter().cloned().collect(),
            id: self.row.id,
            text: self.row.text,
            category: self.category,
            source: self.source,
            cluster_id: self.cluster_id,
            endorsements,
            endorsed,
            services: self.services,
            domains: self.domains,
            root_cause_category: self.root_cause_category,
            trigger: self.trigger,
            created_on: self.row.created_at.date(),
        }
    }
}

// ---------------------------------------------------------------------------
// Report lessons
// ---------------------------------------------------------------------------

/// The report fields a lesson copies for filtering.
fn placement(content: &ReportContent, position: i32, text: &str) -> ApiResult<LessonPlacement> {
    let affected = content.affected();
    let services: Vec<&str> = affected.services.iter().map(|s| s.as_str()).collect();
    let mut domains: Vec<&str> = affected
        .network_domain
        .iter()
        .chain(&affected.other_network_domains)
        .map(|d| d.as_str())
        .collect();
    domains.sort_unstable();
    domains.dedup();
    Ok(LessonPlacement {
        position,
        category: LessonCategory::classify(text).as_str().to_owned(),
        report_services: serde_json::to_string(&services).map_err(ApiError::internal)?,
        report_domains: serde_json::to_string(&domains).map_err(ApiError::internal)?,
        report_root_cause: content
            .cause()
            .root_cause_category
            .map(|c| c.as_str().to_owned()),
        report_trigger: content.cause().trigger.map(|t| t.as_str().to_owned()),
    })
}

fn report_lesson(
    row: &ReportRow,
    text: &str,
    placed: LessonPlacement,
    at: chrono::NaiveDateTime,
) -> LessonRow {
    LessonRow {
        id: uuid::Uuid::new_v4().to_string(),
        report_id: Some(row.id.clone()),
        cluster_id: None,
        position: placed.position,
        text: text.to_owned(),
        category: placed.category,
        source: SOURCE_REPORT.to_owned(),
        report_services: placed.report_services,
        report_domains: placed.report_domains,
        report_root_cause: placed.report_root_cause,
        report_trigger: placed.report_trigger,
        created_at: at,
    }
}

/// The lesson records of a report published for the first time (a draft
/// has none), in one statement. Call it in the publishing transaction.
pub fn add_published_lessons(conn: &mut DbConnection, row: &ReportRow) -> ApiResult<()> {
    store::insert_lessons(conn, &published_lesson_rows(row)?)?;
    Ok(())
}

/// The lesson records a newly published report brings, not yet stored.
pub fn published_lesson_rows(row: &ReportRow) -> ApiResult<Vec<LessonRow>> {
    let content = crate::views::content_of(row)?;
    let at = now();
    let mut records = Vec::new();
    for (position, text) in content.lessons().iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let placed = placement(&content, i32::try_from(position).unwrap_or(i32::MAX), text)?;
        records.push(report_lesson(row, text, placed, at));
    }
    Ok(records)
}

/// Brings a report's lesson records in line with the report as stored in
/// `row`: published, one record per lesson; otherwise none. Call it in the
/// transaction that stores the change.
pub fn sync_report_lessons(conn: &mut DbConnection, row: &ReportRow) -> ApiResult<()> {
    let mut unused = store::report_lessons(conn, &row.id)?;
    if row.status == ReportStatus::Published.as_str() {
        let content = crate::views::content_of(row)?;
        let at = now();
        for (position, text) in content.lessons().iter().enumerate() {
            if text.trim().is_empty() {
                continue;
            }
            let placed = placement(&content, i32::try_from(position).unwrap_or(i32::MAX), text)?;
            if let Some(i) = unused.iter().position(|l| l.text == *text) {
                let kept = unused.swap_remove(i);
                let current = LessonPlacement {
                    position: kept.position,
                    category: kept.category.clone(),
                    report_services: kept.report_services.clone(),
                    report_domains: kept.report_domains.clone(),
                    report_root_cause: kept.report_root_cause.clone(),
                    report_trigger: kept.report_trigger.clone(),
                };
                if current != placed {
                    store::place_lesson(conn, &kept.id, &placed)?;
                }
            } else {
                store::insert_lesson(conn, &report_lesson(row, text, placed, at))?;
            }
        }
    }
    let gone: Vec<String> = unused.into_iter().map(|l| l.id).collect();
    store::delete_lessons(conn, &gone)?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Turns visible records into wire lessons with endorsement figures.
fn with_endorsements(
    conn: &mut DbConnection,
    viewer: &Viewer,
    decoded: Vec<Decoded>,
) -> ApiResult<Vec<Lesson>> {
    let ids: Vec<String> = decoded.iter().map(|d| d.row.id.clone()).collect();
    let counts = store::endorsement_counts(conn, &ids)?;
    let mine = match &viewer.endorser_key {
        Some(key) => store::endorsed_by(conn, &ids, key)?,
        None => HashSet::new(),
    };
    Ok(decoded
        .into_iter()
        .map(|d| {
            let n = counts.get(&d.row.id).copied().unwrap_or(0);
            let endorsed = mine.contains(&d.row.id);
            d.into_lesson(n, endorsed)
        })
        .collect())
}

/// The lessons of a cluster's visible members (`visible_reports`, already
/// checked) and those curated for it.
pub fn cluster_lessons(
    conn: &mut DbConnection,
    viewer: &Viewer,
    cluster_id: &str,
    visible_reports: &[String],
) -> ApiResult<Vec<Lesson>> {
    let mut decoded: Vec<Decoded> = Vec::new();
    let mut by_report: HashMap<String, Vec<LessonRow>> = HashMap::new();
    for row in store::lessons_of_reports(conn, visible_reports)? {
        if let Some(report) = &row.report_id {
            by_report.entry(report.clone()).or_default().push(row);
        }
    }
    for report in visible_reports {
        for row in by_report.remove(report).unwrap_or_default() {
            decoded.push(Decoded::new(row, Some(cluster_id.to_owned())));
        }
    }
    for row in store::curated_lessons(conn, cluster_id)? {
        decoded.push(Decoded::new(row, Some(cluster_id.to_owned())));
    }
    with_endorsements(conn, viewer, decoded)
}

/// Order of the lesson list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LessonSort {
    /// Best text match first (the default with `q`).
    Relevance,
    /// Most recently recorded first (the default without `q`).
    #[default]
    Newest,
    /// Most endorsed first.
    Endorsements,
}

/// A parsed lesson query.
#[derive(Debug, Clone, Default)]
pub struct LessonQuery {
    pub text: Option<TextQuery>,
    pub categories: Vec<LessonCategory>,
    pub sources: Vec<LessonSource>,
    pub services: Vec<Service>,
    pub domains: Vec<NetworkDomain>,
    pub root_causes: Vec<RootCauseCategory>,
    pub triggers: Vec<Trigger>,
    pub cluster: Option<String>,
    pub sort: Option<LessonSort>,
    pub limit: usize,
    pub offset: usize,
    pub facets: bool,
}

pub const MAX_LESSON_PAGE: usize = 200;

fn bad_param(field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::new(ErrorCode::InvalidParameter, format!("{field}: {message}"))
        .with_errors(vec![FieldError::new(field, "invalid_value", message)])
}

fn parse_values<T>(
    field: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    out: &mut Vec<T>,
) -> ApiResult<()> {
    for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        out.push(parse(v).ok_or_else(|| bad_param(field, format!("unknown value `{v}`")))?);
    }
    Ok(())
}

impl LessonQuery {
    /// Parses `GET /api/v1/lessons`'s query string (repeated or
    /// comma-separated values; any value of a list matches).
    pub fn parse(query: &str) -> ApiResult<LessonQuery> {
        let mut q = LessonQuery {
            limit: 20,
            facets: true,
            ..LessonQuery::default()
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let key = key.as_ref();
            let value = value.trim();
            let number = |v: &str| {
                v.parse::<usize>()
                    .map_err(|_| bad_param(key, "a whole number"))
            };
            match key {
                "q" => {
                    use incidex_indexer::limits::{MAX_QUERY_CHARS, MAX_QUERY_TERMS, QueryLimit};
                    let too_complex = crate::routes::search::query_too_complex;
                    if value.chars().count() > MAX_QUERY_CHARS {
                        return Err(too_complex("q", QueryLimit::Length));
                    }
                    if value.split_whitespace().count() > MAX_QUERY_TERMS {
                        return Err(too_complex("q", QueryLimit::Terms));
                    }
                    q.text = TextQuery::parse(value).map_err(|m| bad_param("q", m))?
                }
                "category" => parse_values(key, value, LessonCategory::parse, &mut q.categories)?,
                "source" => parse_values(key, value, LessonSource::parse, &mut q.sources)?,
                "service" => parse_values(key, value, |v| v.parse().ok(), &mut q.services)?,
                "domain" => parse_values(key, value, |v| v.parse().ok(), &mut q.domains)?,
                "root_cause_category" => {
                    parse_values(key, value, |v| v.parse().ok(), &mut q.root_causes)?
                }
                "trigger" => parse_values(key, value, |v| v.parse().ok(), &mut q.triggers)?,
                "cluster" => q.cluster = Some(value.to_owned()).filter(|v| !v.is_empty()),
                "sort" => {
                    q.sort = Some(match value {
                        "relevance" => LessonSort::Relevance,
                        "newest" => LessonSort::Newest,
                        "endorsements" => LessonSort::Endorsements,
                        _ => return Err(bad_param(key, "relevance, newest or endorsements")),
                    })
                }
                "limit" => q.limit = number(value)?,
                "offset" => q.offset = number(value)?,
                "facets" => {
                    q.facets = value.parse().map_err(|_| bad_param(key, "true or false"))?
                }
                _ => return Err(bad_param(key, "unknown parameter")),
            }
        }
        if !(1..=MAX_LESSON_PAGE).contains(&q.limit) {
            return Err(bad_param("limit", format!("1 to {MAX_LESSON_PAGE}")));
        }
        Ok(q)
    }

    fn matches(&self, d: &Decoded) -> bool {
        fn any<T: PartialEq>(wanted: &[T], have: &[T]) -> bool {
            wanted.is_empty() || wanted.iter().any(|w| have.contains(w))
        }
        fn one<T: PartialEq>(wanted: &[T], have: Option<&T>) -> bool {
            wanted.is_empty() || have.is_some_and(|h| wanted.contains(h))
        }
        one(&self.categories, Some(&d.category))
            && one(&self.sources, Some(&d.source))
            && any(&self.services, &d.services)
            && any(&self.domains, &d.domains)
            && one(&self.root_causes, d.root_cause_category.as_ref())
            && one(&self.triggers, d.trigger.as_ref())
            && self
                .cluster
                .as_ref()
                .is_none_or(|c| d.cluster_id.as_ref() == Some(c))
    }
}

/// A page of lessons.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LessonList {
    /// Lessons the caller may see that match.
    pub total: usize,
    pub items: Vec<Lesson>,
    /// Field -> value -> count over every match (not just this page):
    /// `category`, `source`, `service`, `domain`, `root_cause_category`,
    /// `trigger`.
    #[schema(value_type = Object)]
    pub facets: BTreeMap<String, BTreeMap<String, usize>>,
    pub limit: usize,
    pub offset: usize,
    pub next_offset: Option<usize>,
}

fn facet_counts<'a>(
    matched: impl Iterator<Item = &'a Decoded>,
) -> BTreeMap<String, BTreeMap<String, usize>> {
    let mut facets: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut add = |field: &str, value: &str| {
        *facets
            .entry(field.to_owned())
            .or_default()
            .entry(value.to_owned())
            .or_default() += 1;
    };
    for d in matched {
        add("category", d.category.as_str());
        add("source", d.source.as_str());
        for s in &d.services {
            add("service", s.as_str());
        }
        for dom in &d.domains {
            add("domain", dom.as_str());
        }
        if let Some(c) = d.root_cause_category {
            add("root_cause_category", c.as_str());
        }
        if let Some(t) = d.trigger {
            add("trigger", t.as_str());
        }
    }
    facets
}

/// Lessons the reader may see, with curated lessons of invisible clusters
/// left out.
fn visible_lessons(conn: &mut DbConnection, viewer: &Viewer) -> ApiResult<Vec<Decoded>> {
    let candidates: Vec<LessonCandidate> = store::readable_lessons(conn, viewer.scope())?;
    let clusters = if candidates.iter().any(|c| c.lesson.report_id.is_none()) {
        crate::clustering::visible_cluster_ids(conn, viewer)?
    } else {
        HashSet::new()
    };
    Ok(candidates
        .into_iter()
        .filter(|c| {
            c.lesson.report_id.is_some()
                || c.cluster_id
                    .as_ref()
                    .is_some_and(|id| clusters.contains(id))
        })
        .map(|c| Decoded::new(c.lesson, c.cluster_id))
        .collect())
}

/// Every lesson the reader may see, with endorsement counts (digests).
pub fn all_visible(conn: &mut DbConnection, viewer: &Viewer) -> ApiResult<Vec<Lesson>> {
    let visible = visible_lessons(conn, viewer)?;
    with_endorsements(conn, viewer, visible)
}

/// `GET /api/v1/lessons`: query, filters, facets, one page.
pub fn list_lessons(
    conn: &mut DbConnection,
    viewer: &Viewer,
    query: &LessonQuery,
) -> ApiResult<LessonList> {
    let visible = visible_lessons(conn, viewer)?;
    let filtered: Vec<usize> = (0..visible.len())
        .filter(|&i| query.matches(&visible[i]))
        .collect();
    // (index into `visible`, relevance)
    let mut matched: Vec<(usize, f32)> = match &query.text {
        Some(text) => {
            let texts: Vec<&str> = filtered
                .iter()
                .map(|&i| visible[i].row.text.as_str())
                .collect();
            text.score(&texts)
                .into_iter()
                .map(|(j, score)| (filtered[j], score))
                .collect()
        }
        None => filtered.into_iter().map(|i| (i, 0.0)).collect(),
    };
    let facets = if query.facets {
        facet_counts(matched.iter().map(|&(i, _)| &visible[i]))
    } else {
        BTreeMap::new()
    };
    let sort = query.sort.unwrap_or(if query.text.is_some() {
        LessonSort::Relevance
    } else {
        LessonSort::Newest
    });
    let newest = |a: usize, b: usize| {
        let (a, b) = (&visible[a].row, &visible[b].row);
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| a.report_id.cmp(&b.report_id))
            .then_with(|| a.position.cmp(&b.position))
            .then_with(|| a.id.cmp(&b.id))
    };
    match sort {
        LessonSort::Relevance => {
            matched.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| newest(a.0, b.0)))
        }
        LessonSort::Newest => matched.sort_by(|a, b| newest(a.0, b.0)),
        LessonSort::Endorsements => {
            let counts = store::all_endorsement_counts(conn)?;
            let n = |i: usize| counts.get(&visible[i].row.id).copied().unwrap_or(0);
            matched.sort_by(|a, b| n(b.0).cmp(&n(a.0)).then_with(|| newest(a.0, b.0)));
        }
    }
    let total = matched.len();
    let page: Vec<usize> = matched
        .iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|&(i, _)| i)
        .collect();
    let mut slots: Vec<Option<Decoded>> = visible.into_iter().map(Some).collect();
    let decoded: Vec<Decoded> = page.iter().filter_map(|&i| slots[i].take()).collect();
    let items = with_endorsements(conn, viewer, decoded)?;
    let end = query.offset.saturating_add(items.len());
    Ok(LessonList {
        total,
        next_offset: (end < total).then_some(end),
        items,
        facets,
        limit: query.limit,
        offset: query.offset,
    })
}

/// Whether the reader may see this lesson.
fn lesson_visible(conn: &mut DbConnection, viewer: &Viewer, lesson: &LessonRow) -> ApiResult<bool> {
    match (&lesson.report_id, &lesson.cluster_id) {
        (Some(report), _) => {
            Ok(reports::find_report(conn, report)?.is_some_and(|r| viewer.may_see_report(&r)))
        }
        (None, Some(cluster)) => Ok(crate::clustering::cluster_visible(conn, viewer, cluster)?),
        (None, None) => Ok(false),
    }
}

/// The outcome of an endorsement.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Endorsement {
    pub lesson_id: String,
    /// Members who endorsed the lesson, the caller included.
    pub endorsements: i64,
    /// Always true: the caller's member endorses it.
    pub endorsed: bool,
}

/// Records that the reader's member applied a lesson too (once per member;
/// repeating it changes nothing). 404 for a lesson the reader may not see;
/// 409 for a lesson of the member's own report.
pub fn endorse(
    conn: &mut DbConnection,
    viewer: &Viewer,
    lesson_id: &str,
) -> ApiResult<Endorsement> {
    let key = viewer
        .endorser_key
        .clone()
        .ok_or_else(|| ApiError::new(ErrorCode::Forbidden, "only members endorse lessons"))?;
    incidex_schema::db::write_transaction(conn, |conn| {
        let lesson = store::find_lesson(conn, lesson_id)?.ok_or_else(ApiError::not_found)?;
        if !lesson_visible(conn, viewer, &lesson)? {
            return Err(ApiError::not_found());
        }
        if let Some(report) = &lesson.report_id
            && reports::find_report(conn, report)?.is_some_and(|r| viewer.is_owner(&r))
        {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "a member does not endorse the lessons of its own reports",
            ));
        }
        store::endorse(conn, lesson_id, &key, now())?;
        let endorsements = store::endorsement_counts(conn, &[lesson_id.to_owned()])?
            .get(lesson_id)
            .copied()
            .unwrap_or(0);
        Ok(Endorsement {
            lesson_id: lesson_id.to_owned(),
            endorsements,
            endorsed: true,
        })
    })
}

/// A curated lesson as an analyst writes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Stage bulk command runs on call servers: one site first, then the rest after an hour without alarms.", "category": "change_management"}))]
pub struct NewCuratedLesson {
    /// The statement (at most 2,000 characters); anonymised before it is stored.
    pub text: String,
    /// Default: derived from the text.
    pub category: Option<LessonCategory>,
}

/// A stored curated lesson and what anonymisation replaced in it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CuratedLesson {
    #[serde(flatten)]
    pub lesson: Lesson,
    /// What was redacted (never the original text).
    pub redactions: Vec<StoredRedaction>,
}

/// Adds an analyst's lesson to a cluster the analyst may see (404 otherwise).
pub fn add_curated(
    conn: &mut DbConnection,
    members: &AnonymiserCache,
    viewer: &Viewer,
    cluster_id: &str,
    input: NewCuratedLesson,
) -> ApiResult<CuratedLesson> {
    let text = input.text.trim();
    if text.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            "text",
            "blank",
            "must not be blank",
        )]));
    }
    if text.chars().count() > MAX_LESSON_CHARS {
        return Err(ApiError::validation(vec![FieldError::new(
            "text",
            "too_long",
            format!("at most {MAX_LESSON_CHARS} characters"),
        )]));
    }
    incidex_schema::db::write_transaction(conn, |conn| {
        if !crate::clustering::cluster_visible(conn, viewer, cluster_id)? {
            return Err(ApiError::not_found());
        }
        let scrubbed = members
            .anonymiser(conn)?
            .scrub(text, &SensitiveTerms::empty());
        let category = input
            .category
            .unwrap_or_else(|| LessonCategory::classify(&scrubbed.text));
        let row = LessonRow {
            id: uuid::Uuid::new_v4().to_string(),
            report_id: None,
            cluster_id: Some(cluster_id.to_owned()),
            position: 0,
            text: scrubbed.text,
            category: category.as_str().to_owned(),
            source: SOURCE_CURATED.to_owned(),
            report_services: "[]".into(),
            report_domains: "[]".into(),
            report_root_cause: None,
            report_trigger: None,
            created_at: now(),
        };
        store::insert_lesson(conn, &row)?;
        let redactions = scrubbed
            .redactions
            .into_iter()
            .map(|r| StoredRedaction {
                field: "text".into(),
                kind: r.kind,
                start: r.start,
                end: r.end,
                placeholder: r.placeholder,
            })
            .collect();
        Ok(CuratedLesson {
            lesson: Decoded::new(row, Some(cluster_id.to_owned())).into_lesson(0, false),
            redactions,
        })
    })
}

// ---------------------------------------------------------------------------
// Full text
// ---------------------------------------------------------------------------

/// A full-text query over lessons: every clause must match. A clause is a
/// word (its analysed tokens, consecutive) or a quoted phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery {
    /// Each clause: (term, position) as the query analyser produced them.
    clauses: Vec<Vec<(String, usize)>>,
}

/// Term positions of one analysed text.
#[derive(Debug, Default)]
struct Analysed {
    positions: HashMap<String, Vec<usize>>,
}

impl Analysed {
    fn of(text: &str) -> Analysed {
        let mut positions: HashMap<String, Vec<usize>> = HashMap::new();
        for token in analyse(text, Mode::Index) {
            positions
                .entry(token.term)
                .or_default()
                .push(token.position);
        }
        Analysed { positions }
    }

    /// How often the clause occurs (a phrase: its terms at consecutive
    /// positions, as the analyser placed them).
    fn occurrences(&self, clause: &[(String, usize)]) -> usize {
        let Some(((first, p0), rest)) = clause.split_first() else {
            return 0;
        };
        let Some(starts) = self.positions.get(first) else {
            return 0;
        };
        starts
            .iter()
            .filter(|&&start| {
                rest.iter().all(|(term, p)| {
                    self.positions
                        .get(term)
                        .is_some_and(|ps| ps.contains(&(start + (p - p0))))
                })
            })
            .count()
    }
}

/// Analysed lesson texts, memoised by text (a pure function of the text,
/// so the memo can never be stale). Cleared when it grows past a bound.
fn analysed_all(texts: &[&str]) -> Vec<Arc<Analysed>> {
    type Memo = Mutex<HashMap<String, Arc<Analysed>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    const MAX_MEMO: usize = 200_000;
    let memo = MEMO.get_or_init(Memo::default);
    let mut out: Vec<Option<Arc<Analysed>>> = match memo.lock() {
        Ok(guard) => texts.iter().map(|t| guard.get(*t).cloned()).collect(),
        Err(_) => vec![None; texts.len()],
    };
    let mut fresh = Vec::new();
    for (slot, text) in out.iter_mut().zip(texts) {
        if slot.is_none() {
            let a = Arc::new(Analysed::of(text));
            fresh.push(((*text).to_owned(), a.clone()));
            *slot = Some(a);
        }
    }
    if !fresh.is_empty()
        && let Ok(mut guard) = memo.lock()
    {
        if guard.len() + fresh.len() > MAX_MEMO {
            guard.clear();
        }
        guard.extend(fresh);
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

impl TextQuery {
    /// `None` for a query with no searchable word; an error for an
    /// unbalanced quote.
    pub fn parse(q: &str) -> Result<Option<TextQuery>, String> {
        if q.matches('"').count() % 2 == 1 {
            return Err("a quoted phrase is not closed".into());
        }
        let mut clauses = Vec::new();
        for (i, part) in q.split('"').enumerate() {
            let phrase = i % 2 == 1;
            let pieces: Vec<&str> = if phrase {
                vec![part]
            } else {
                part.split_whitespace().collect()
            };
            for piece in pieces {
                let clause: Vec<(String, usize)> = analyse(piece, Mode::Query)
                    .into_iter()
                    .map(|t| (t.term, t.position))
                    .collect();
                // A lone stop word ("the", "and", "or") would only narrow
                // the result arbitrarily.
                if clause.is_empty() || (!phrase && clause.iter().all(|(t, _)| is_stop_word(t))) {
                    continue;
                }
                clauses.push(clause);
            }
        }
        Ok((!clauses.is_empty()).then_some(TextQuery { clauses }))
    }

    /// The indices of `texts` that match, with a tf-idf score over `texts`.
    pub fn score(&self, texts: &[&str]) -> Vec<(usize, f32)> {
        let analysed = analysed_all(texts);
        let mut hits: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut df = vec![0usize; self.clauses.len()];
        for (i, a) in analysed.iter().enumerate() {
            let counts: Vec<usize> = self.clauses.iter().map(|c| a.occurrences(c)).collect();
            for (d, &n) in df.iter_mut().zip(&counts) {
                if n > 0 {
                    *d += 1;
                }
            }
            if counts.iter().all(|&n| n > 0) {
                hits.push((i, counts));
            }
        }
        let n = texts.len().max(1) as f32;
        hits.into_iter()
            .map(|(i, counts)| {
                let score = counts
                    .iter()
                    .zip(&df)
                    .map(|(&tf, &df)| (1.0 + n / df.max(1) as f32).ln() * (1.0 + (tf as f32).ln()))
                    .sum();
                (i, score)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_keywords() {
        let c = LessonCategory::classify;
        assert_eq!(
            c(
                "Roll changes and bulk commands out to call servers progressively, never to the whole fleet at once."
            ),
            LessonCategory::ChangeManagement
        );
        assert_eq!(
            c("Supervise emergency call completion end to end with dedicated alarms."),
            LessonCategory::Monitoring
        );
        assert_eq!(
            c("Convene a crisis cell within 30 minutes of any emergency-call degradation."),
            LessonCategory::IncidentResponse
        );
        assert_eq!(
            c("Keep batteries and generators at every hub sized for eight hours."),
            LessonCategory::Facilities
        );
        assert_eq!(c("Nothing in particular."), LessonCategory::Other);
    }

    #[test]
    fn every_category_round_trips() {
        for c in LessonCategory::ALL {
            assert_eq!(LessonCategory::parse(c.as_str()), Some(*c));
            assert_eq!(
                serde_json::to_value(c).expect("json"),
                serde_json::json!(c.as_str())
            );
        }
    }

    #[test]
    fn text_query_needs_every_word_and_phrases_in_order() {
        let texts = [
            "Monitor the P-CSCF registrations with alarms.",
            "Alarms on the registrations of the P-CSCF were missing.",
            "Upgrade the call servers one site at a time.",
        ];
        let ids = |q: &str| -> Vec<usize> {
            let query = TextQuery::parse(q).expect("parses").expect("not empty");
            let mut v: Vec<usize> = query.score(&texts).into_iter().map(|(i, _)| i).collect();
            v.sort();
            v
        };
        assert_eq!(ids("alarms p-cscf"), vec![0, 1]);
        assert_eq!(ids("\"p-cscf registrations\""), vec![0]);
        assert_eq!(ids("\"registrations p-cscf\""), Vec::<usize>::new());
        assert_eq!(ids("\"registrations with alarms\""), vec![0]);
        assert_eq!(ids("upgrades AND site"), vec![2]);
        assert_eq!(ids("monitoring"), vec![0]);
        assert!(TextQuery::parse("\"open").is_err());
        // Rarer words weigh more; repeated words a little more.
        let ranked = TextQuery::parse("alarms probes")
            .expect("parses")
            .expect("not empty")
            .score(&[
                "Alarms, alarms and probes.",
                "Alarms and probes.",
                "Alarms only.",
                "Alarms again.",
            ]);
        assert_eq!(ranked.len(), 2);
        assert!(ranked[0].1 > ranked[1].1, "{ranked:?}");
        let single = TextQuery::parse("probes").expect("parses").expect("q");
        let common = TextQuery::parse("alarms").expect("parses").expect("q");
        let texts = ["Alarms and probes.", "Alarms only.", "Alarms again."];
        assert!(single.score(&texts)[0].1 > common.score(&texts)[0].1);
        assert_eq!(TextQuery::parse("the and").expect("parses"), None);
    }
}
