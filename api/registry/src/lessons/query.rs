//! Querying lessons: filters, facets, full text and pages over the
//! lessons a reader may see; endorsements and curated lessons.

use std::collections::{BTreeMap, HashSet};

use incidex_schema::db::DbConnection;
use incidex_schema::db::lessons::{self as store, LessonCandidate, LessonRow, SOURCE_CURATED};
use incidex_schema::db::reports::{self, now};
use incidex_schema::report::{
    MAX_LESSON_CHARS, NetworkDomain, RootCauseCategory, Service, Trigger,
};
use incidex_schema::validation::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::read::with_endorsements;
use super::text::TextQuery;
use super::{Decoded, Lesson, LessonCategory, LessonSource};
use crate::anonymise::SensitiveTerms;
use crate::error::{RegistryError, RegistryResult};
use crate::members::AnonymiserCache;
use crate::views::StoredRedaction;
use crate::visibility::Viewer;

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

fn bad_param(field: &str, message: impl Into<String>) -> RegistryError {
    RegistryError::bad_parameter(field, message)
}

fn parse_values<T>(
    field: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
    out: &mut Vec<T>,
) -> RegistryResult<()> {
    for v in value.split(',').map(str::trim).filter(|v| !v.is_empty()) {
        out.push(parse(v).ok_or_else(|| bad_param(field, format!("unknown value `{v}`")))?);
    }
    Ok(())
}

impl LessonQuery {
    /// Parses `GET /api/v1/lessons`'s query string (repeated or
    /// comma-separated values; any value of a list matches).
    pub fn parse(query: &str) -> RegistryResult<LessonQuery> {
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
                    let too_complex = RegistryError::query_too_complex;
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
fn visible_lessons(conn: &mut DbConnection, viewer: &Viewer) -> RegistryResult<Vec<Decoded>> {
    let candidates: Vec<LessonCandidate> = store::readable_lessons(conn, viewer.scope())?;
    let clusters = if candidates.iter().any(|c| c.lesson.report_id.is_none()) {
        crate::clusters::visible_cluster_ids(conn, viewer)?
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
pub fn all_visible(conn: &mut DbConnection, viewer: &Viewer) -> RegistryResult<Vec<Lesson>> {
    let visible = visible_lessons(conn, viewer)?;
    with_endorsements(conn, viewer, visible)
}

/// `GET /api/v1/lessons`: query, filters, facets, one page.
pub fn list_lessons(
    conn: &mut DbConnection,
    viewer: &Viewer,
    query: &LessonQuery,
) -> RegistryResult<LessonList> {
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
fn lesson_visible(
    conn: &mut DbConnection,
    viewer: &Viewer,
    lesson: &LessonRow,
) -> RegistryResult<bool> {
    match (&lesson.report_id, &lesson.cluster_id) {
        (Some(report), _) => {
            Ok(reports::find_report(conn, report)?.is_some_and(|r| viewer.may_see_report(&r)))
        }
        (None, Some(cluster)) => Ok(crate::clusters::cluster_visible(conn, viewer, cluster)?),
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
) -> RegistryResult<Endorsement> {
    let key = viewer
        .endorser_key
        .clone()
        .ok_or_else(|| RegistryError::Forbidden("only members endorse lessons".into()))?;
    incidex_schema::db::write_transaction(conn, |conn| {
        let lesson = store::find_lesson(conn, lesson_id)?.ok_or_else(RegistryError::not_found)?;
        if !lesson_visible(conn, viewer, &lesson)? {
            return Err(RegistryError::not_found());
        }
        if let Some(report) = &lesson.report_id
            && reports::find_report(conn, report)?.is_some_and(|r| viewer.is_owner(&r))
        {
            return Err(RegistryError::Conflict(
                "a member does not endorse the lessons of its own reports".into(),
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
) -> RegistryResult<CuratedLesson> {
    let text = input.text.trim();
    if text.is_empty() {
        return Err(RegistryError::Invalid(vec![FieldError::new(
            "text",
            "blank",
            "must not be blank",
        )]));
    }
    if text.chars().count() > MAX_LESSON_CHARS {
        return Err(RegistryError::Invalid(vec![FieldError::new(
            "text",
            "too_long",
            format!("at most {MAX_LESSON_CHARS} characters"),
        )]));
    }
    incidex_schema::db::write_transaction(conn, |conn| {
        if !crate::clusters::cluster_visible(conn, viewer, cluster_id)? {
            return Err(RegistryError::not_found());
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
