//! The search page, `/`: the page's query string is the query string of
//! `GET /api/v1/search`, so a search is a shareable URL and the API and the
//! page always agree.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::session::Session;
use super::{Chrome, render};
use crate::http::blocking;
use crate::state::AppState;
use incidex_registry::labels::{field_label, label};
use incidex_registry::search::parse_search;

/// The facets offered as filters, in order.
const FACETS: [&str; 6] = [
    "service",
    "domain",
    "root_cause_category",
    "trigger",
    "severity",
    "region",
];
/// Values shown per facet before "more".
const FACET_VISIBLE: usize = 8;
const PAGE_SIZE: usize = 20;

/// The query string as ordered key/value pairs.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Params {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
                .filter(|(_, v)| !v.is_empty())
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// These parameters and `key=value`.
    pub fn with(mut self, key: &str, value: &str) -> Params {
        self.0.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Whether `key` has `value` (list filters may be comma-separated).
    pub fn has(&self, key: &str, value: &str) -> bool {
        self.0
            .iter()
            .any(|(k, v)| k == key && v.split(',').any(|x| x.trim() == value))
    }

    fn without_page(&self) -> Params {
        Params(
            self.0
                .iter()
                .filter(|(k, _)| k != "offset")
                .cloned()
                .collect(),
        )
    }

    /// These parameters with `key=value` added, or removed when present.
    pub fn toggled(&self, key: &str, value: &str) -> Params {
        let mut p = self.without_page();
        if p.has(key, value) {
            p.0 =
                p.0.into_iter()
                    .filter_map(|(k, v)| {
                        if k != key {
                            return Some((k, v));
                        }
                        let rest: Vec<&str> = v
                            .split(',')
                            .map(str::trim)
                            .filter(|x| *x != value)
                            .collect();
                        (!rest.is_empty()).then(|| (k, rest.join(",")))
                    })
                    .collect();
        } else {
            p.0.push((key.to_owned(), value.to_owned()));
        }
        p
    }

    pub fn without(&self, key: &str) -> Params {
        let mut p = self.without_page();
        p.0.retain(|(k, _)| k != key);
        p
    }

    pub fn with_offset(&self, offset: usize) -> Params {
        let mut p = self.without_page();
        if offset > 0 {
            p.0.push(("offset".to_owned(), offset.to_string()));
        }
        p
    }

    pub fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        s.finish()
    }

    /// The search page's URL with these parameters.
    pub fn url(&self) -> String {
        self.url_at("/")
    }

    /// The URL of the page at `path` with these parameters.
    pub fn url_at(&self, path: &str) -> String {
        match self.query() {
            q if q.is_empty() => path.to_owned(),
            q => format!("{path}?{q}"),
        }
    }

    /// The parameters as key/value pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.0.clone()
    }
}

struct FacetValue {
    label: String,
    count: u64,
    url: String,
    selected: bool,
}

struct FacetGroup {
    field: &'static str,
    label: &'static str,
    values: Vec<FacetValue>,
    more: Vec<FacetValue>,
}

struct Chip {
    label: String,
    remove_url: String,
}

struct HitView {
    id: String,
    title: String,
    /// HTML-escaped by the indexer, with `<mark>` around matches.
    snippet: String,
    published_on: String,
    severity: Option<(String, String)>,
    tags: Vec<String>,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    chrome: Chrome,
    q: String,
    sort: String,
    started_from: String,
    started_to: String,
    /// Active filters the form must keep.
    hidden: Vec<(String, String)>,
    chips: Vec<Chip>,
    clear_url: String,
    facets: Vec<FacetGroup>,
    hits: Vec<HitView>,
    total: u64,
    first: usize,
    last: usize,
    prev_url: Option<String>,
    next_url: Option<String>,
    error: Option<String>,
    filtered: bool,
}

/// Parameters set by the form's own fields (not kept as hidden inputs).
const FORM_FIELDS: [&str; 5] = ["q", "sort", "started_from", "started_to", "offset"];

/// `GET /`
pub async fn page(s: Session, req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = Params::parse(req.query_string());
    // Empty form fields make untidy URLs: drop them once, for good.
    if params.query() != req.query_string() && !req.query_string().is_empty() {
        return HttpResponse::Found()
            .insert_header((header::LOCATION, params.url()))
            .finish();
    }
    let mut view = SearchPage {
        chrome: Chrome::new(
            match params.get("q") {
                Some(q) => format!("{q} – Search"),
                None => "Search".to_owned(),
            },
            "search",
            &s,
        ),
        q: params.get("q").unwrap_or_default().to_owned(),
        sort: params.get("sort").unwrap_or("relevance").to_owned(),
        started_from: params.get("started_from").unwrap_or_default().to_owned(),
        started_to: params.get("started_to").unwrap_or_default().to_owned(),
        hidden: params
            .0
            .iter()
            .filter(|(k, _)| !FORM_FIELDS.contains(&k.as_str()))
            .cloned()
            .collect(),
        chips: Vec::new(),
        clear_url: match params.get("q") {
            Some(q) => Params(vec![("q".to_owned(), q.to_owned())]).url(),
            None => "/".to_owned(),
        },
        facets: Vec::new(),
        hits: Vec::new(),
        total: 0,
        first: 0,
        last: 0,
        prev_url: None,
        next_url: None,
        error: None,
        filtered: false,
    };
    for (k, v) in &params.0 {
        if k == "q" || k == "sort" || k == "offset" || k == "limit" {
            continue;
        }
        for value in v.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let remove = if k.starts_with("started_") || k.starts_with("published_") {
                params.without(k)
            } else {
                params.toggled(k, value)
            };
            view.chips.push(Chip {
                label: format!("{}: {}", field_label(k), label(k, value)),
                remove_url: remove.url(),
            });
        }
    }
    view.filtered = !view.chips.is_empty();

    let mut request = match parse_search(&params.query()) {
        Ok(r) => r,
        Err(e) => {
            view.error = Some(e.to_string());
            return s.finish(render(StatusCode::BAD_REQUEST, &view));
        }
    };
    if params.get("limit").is_none() {
        request.limit = PAGE_SIZE;
    }
    request.facets = true;
    let (offset, limit) = (request.offset, request.limit);
    let registry = state.registry.clone();
    let role = s.principal.role;
    let results = match blocking(move || registry.search.search(role, &request)).await {
        Ok(r) => r,
        Err(e) if e.code().status() == actix_web::http::StatusCode::BAD_REQUEST => {
            view.error = Some(e.problem().detail);
            return s.finish(render(StatusCode::BAD_REQUEST, &view));
        }
        Err(e) => return s.finish(super::internal_error(view.chrome, &e)),
    };
    view.total = results.total;
    view.first = if results.hits.is_empty() {
        0
    } else {
        offset + 1
    };
    view.last = offset + results.hits.len();
    if offset > 0 {
        view.prev_url = Some(params.with_offset(offset.saturating_sub(limit)).url());
    }
    view.next_url = results.next_offset.map(|o| params.with_offset(o).url());
    view.hits = results
        .hits
        .into_iter()
        .map(|h| {
            let mut tags = Vec::new();
            if let Some(d) = &h.network_domain {
                tags.push(label("domain", d));
            }
            if let Some(c) = &h.root_cause_category {
                tags.push(label("root_cause_category", c));
            }
            if let Some(t) = &h.trigger {
                tags.push(label("trigger", t));
            }
            tags.extend(h.services.iter().map(|x| label("service", x)));
            if let Some(r) = &h.region {
                tags.push(label("region", r));
            }
            HitView {
                id: h.id,
                title: h.title,
                snippet: h.snippet,
                published_on: h.published_at.format("%-d %b %Y").to_string(),
                severity: h.severity.map(|x| (label("severity", &x), x)),
                tags,
            }
        })
        .collect();
    view.facets = FACETS
        .iter()
        .map(|&field| {
            let counts = results.facets.get(field);
            let mut values: Vec<FacetValue> = counts
                .into_iter()
                .flatten()
                .filter(|(v, n)| **n > 0 || params.has(field, v))
                .map(|(v, n)| FacetValue {
                    label: label(field, v),
                    count: *n,
                    url: params.toggled(field, v).url(),
                    selected: params.has(field, v),
                })
                .collect();
            // Selected values stay listed even when nothing matches them.
            for (k, v) in &params.0 {
                if k != field {
                    continue;
                }
                for value in v.split(',').map(str::trim) {
                    if !counts.is_some_and(|c| c.contains_key(value)) {
                        values.push(FacetValue {
                            label: label(field, value),
                            count: 0,
                            url: params.toggled(field, value).url(),
                            selected: true,
                        });
                    }
                }
            }
            values.sort_by(|a, b| {
                b.selected
                    .cmp(&a.selected)
                    .then(b.count.cmp(&a.count))
                    .then(a.label.cmp(&b.label))
            });
            let more = if values.len() > FACET_VISIBLE {
                values.split_off(FACET_VISIBLE)
            } else {
                Vec::new()
            };
            FacetGroup {
                field,
                label: field_label(field),
                values,
                more,
            }
        })
        .filter(|g| !g.values.is_empty())
        .collect();
    s.finish(render(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facet_links_toggle_values_and_reset_the_page() {
        let p = Params::parse("q=dns&service=voice,sms&offset=20&started_from=");
        assert_eq!(p.query(), "q=dns&service=voice%2Csms&offset=20");
        assert_eq!(p.toggled("service", "sms").query(), "q=dns&service=voice");
        assert_eq!(
            p.toggled("service", "voice")
                .toggled("service", "sms")
                .query(),
            "q=dns"
        );
        assert_eq!(
            p.toggled("region", "europe").query(),
            "q=dns&service=voice%2Csms&region=europe"
        );
        assert_eq!(
            p.with_offset(40).url(),
            "/?q=dns&service=voice%2Csms&offset=40"
        );
        assert_eq!(Params::parse("").url(), "/");
    }
}
