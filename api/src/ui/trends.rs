//! The trends page: incidents per year of onset by root cause, service and
//! network domain, and how durations are distributed. Computed from the
//! shared views of the published reports the analyst may read (the same
//! reports the API lists), never from owner data.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use incidex_schema::db::reports;
use incidex_schema::report::DurationBand;

use super::charts::{Series, duration_strip, histogram, quantile, stacked_bars};
use super::session::Session;
use super::{Chrome, render};
use crate::http::ApiResult;
use crate::http::db;
use crate::state::AppState;
use incidex_registry::labels::{label, minutes};
use incidex_registry::reports::{MAX_PAGE, shared_view};
use incidex_registry::views::SharedReport;
use incidex_registry::visibility::readable_tlps;

/// The categories (slugs) a report counts under in one chart.
type Categories = fn(&SharedReport) -> Vec<String>;

/// Series shown by name per chart; the rest are summed as "Other".
const TOP_SERIES: usize = 7;

struct Chart {
    id: &'static str,
    heading: &'static str,
    caption: String,
    svg: String,
    /// Header row and body rows of the same data as a table.
    table_head: Vec<String>,
    table_rows: Vec<Vec<String>>,
}

struct Stat {
    term: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "trends.html")]
struct TrendsPage {
    chrome: Chrome,
    total: usize,
    span: String,
    stats: Vec<Stat>,
    charts: Vec<Chart>,
}

/// Every shared report the role may read.
fn visible_reports(
    conn: &mut incidex_schema::db::DbConnection,
    state: &AppState,
    role: incidex_schema::identity::Role,
) -> ApiResult<Vec<SharedReport>> {
    let tlps: Vec<&'static str> = readable_tlps(role).iter().map(|t| t.as_str()).collect();
    let counts = state.registry.members.country_counts(conn)?;
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let (rows, total) = reports::list_published(conn, &tlps, MAX_PAGE, offset)?;
        for row in &rows {
            out.push(shared_view(row, &counts, state.settings.k_anonymity)?);
        }
        offset += rows.len() as i64;
        if rows.is_empty() || offset >= total {
            return Ok(out);
        }
    }
}

fn year(r: &SharedReport) -> Option<i32> {
    r.context.when.month.get(..4)?.parse().ok()
}

/// Counts per year per category, the biggest categories first.
fn by_year(
    reports: &[SharedReport],
    years: &[i32],
    field: &str,
    categories: impl Fn(&SharedReport) -> Vec<String>,
) -> Vec<Series> {
    let mut counts: BTreeMap<String, BTreeMap<i32, u64>> = BTreeMap::new();
    for r in reports {
        let Some(y) = year(r) else { continue };
        let mut cats = categories(r);
        if cats.is_empty() {
            cats.push("unknown".to_owned());
        }
        for c in cats {
            *counts.entry(c).or_default().entry(y).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, BTreeMap<i32, u64>)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| {
        let (ta, tb) = (a.1.values().sum::<u64>(), b.1.values().sum::<u64>());
        (a.0 == "unknown")
            .cmp(&(b.0 == "unknown"))
            .then(tb.cmp(&ta))
            .then(a.0.cmp(&b.0))
    });
    let mut series: Vec<Series> = Vec::new();
    let mut other = vec![0u64; years.len()];
    for (i, (name, per_year)) in ranked.iter().enumerate() {
        let values: Vec<u64> = years
            .iter()
            .map(|y| per_year.get(y).copied().unwrap_or(0))
            .collect();
        if i < TOP_SERIES {
            series.push(Series {
                name: if name == "unknown" {
                    "Not stated".to_owned()
                } else {
                    label(field, name)
                },
                values,
            });
        } else {
            for (o, v) in other.iter_mut().zip(values) {
                *o += v;
            }
        }
    }
    if other.iter().any(|v| *v > 0) {
        series.push(Series {
            name: "Other".to_owned(),
            values: other,
        });
    }
    series
}

fn table(years: &[String], series: &[Series]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut head = vec!["Year".to_owned()];
    head.extend(series.iter().map(|s| s.name.clone()));
    let rows = years
        .iter()
        .enumerate()
        .map(|(i, y)| {
            let mut row = vec![y.clone()];
            row.extend(series.iter().map(|s| s.values[i].to_string()));
            row
        })
        .collect();
    (head, rows)
}

fn build(reports: &[SharedReport]) -> (Vec<Stat>, Vec<Chart>, String) {
    let found: Vec<i32> = reports.iter().filter_map(year).collect();
    let (Some(first), Some(last)) = (found.iter().min(), found.iter().max()) else {
        return (Vec::new(), Vec::new(), String::new());
    };
    let years: Vec<i32> = (*first..=*last).collect();
    let year_labels: Vec<String> = years.iter().map(|y| y.to_string()).collect();
    let span = if first == last {
        first.to_string()
    } else {
        format!("{first}–{last}")
    };
    let mut charts = Vec::new();
    let groups: [(&str, &str, &str, Categories); 3] = [
        (
            "root-cause",
            "By root cause",
            "root_cause_category",
            (|r: &SharedReport| {
                r.cause
                    .root_cause_category
                    .map(|c| c.as_str().to_owned())
                    .into_iter()
                    .collect()
            }),
        ),
        (
            "service",
            "By affected service",
            "service",
            (|r: &SharedReport| {
                r.affected
                    .services
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect()
            }),
        ),
        (
            "domain",
            "By network domain",
            "domain",
            (|r: &SharedReport| {
                r.affected
                    .network_domain
                    .map(|d| d.as_str().to_owned())
                    .into_iter()
                    .collect()
            }),
        ),
    ];
    for (id, heading, field, categories) in groups {
        let series = by_year(reports, &years, field, categories);
        let (table_head, table_rows) = table(&year_labels, &series);
        let caption = match field {
            "service" => "Incidents per year of onset; an incident affecting several services counts once for each.".to_owned(),
            "domain" => "Incidents per year of onset, by the domain where the fault sat.".to_owned(),
            _ => "Incidents per year of onset, by ENISA root-cause category.".to_owned(),
        };
        charts.push(Chart {
            id,
            heading,
            svg: stacked_bars(
                &format!("Incidents per year {}", heading.to_lowercase()),
                &year_labels,
                &series,
            ),
            caption,
            table_head,
            table_rows,
        });
    }

    let durations: Vec<u32> = reports
        .iter()
        .filter_map(|r| r.impact.duration_minutes)
        .collect();
    let bins: Vec<(String, u64)> = DurationBand::ALL
        .iter()
        .map(|b| {
            let n = durations
                .iter()
                .filter(|m| DurationBand::of_minutes(**m) == *b)
                .count() as u64;
            (b.as_str().to_owned(), n)
        })
        .collect();
    charts.push(Chart {
        id: "duration-bands",
        heading: "Duration of customer impact",
        caption: format!(
            "How many incidents lasted how long ({} of {} reports give a duration).",
            durations.len(),
            reports.len()
        ),
        svg: histogram("Incidents by duration band", &bins),
        table_head: vec!["Duration".to_owned(), "Incidents".to_owned()],
        table_rows: bins
            .iter()
            .map(|(b, n)| vec![b.clone(), n.to_string()])
            .collect(),
    });
    let mut sorted: Vec<f64> = durations.iter().map(|m| f64::from(*m)).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| minutes(quantile(&sorted, p).round() as u32);
    let mut stats = vec![Stat {
        term: "Incidents",
        value: reports.len().to_string(),
    }];
    if !sorted.is_empty() {
        charts.push(Chart {
            id: "duration-spread",
            heading: "Every duration, log scale",
            caption: "Each dot is one incident; the box spans the middle half, the red line is the median.".to_owned(),
            svg: duration_strip("Durations of customer impact on a log scale", &durations),
            table_head: vec!["Quantile".to_owned(), "Duration".to_owned()],
            table_rows: [
                ("Shortest", 0.0),
                ("First quartile", 0.25),
                ("Median", 0.5),
                ("Third quartile", 0.75),
                ("Longest", 1.0),
            ]
            .iter()
            .map(|(n, p)| vec![(*n).to_owned(), q(*p)])
            .collect(),
        });
        stats.push(Stat {
            term: "Median duration",
            value: q(0.5),
        });
        stats.push(Stat {
            term: "Middle half",
            value: format!("{} – {}", q(0.25), q(0.75)),
        });
        stats.push(Stat {
            term: "Longest",
            value: q(1.0),
        });
    }
    (stats, charts, span)
}

/// `GET /trends`
pub async fn page(s: Session, state: web::Data<AppState>) -> HttpResponse {
    let chrome = Chrome::new("Trends", "trends", &s);
    let role = s.principal.role;
    let st = state.get_ref().clone();
    let reports = match db(&state, move |conn| visible_reports(conn, &st, role)).await {
        Ok(r) => r,
        Err(e) => return s.finish(super::internal_error(chrome, &e)),
    };
    let (stats, charts, span) = build(&reports);
    s.finish(render(
        StatusCode::OK,
        &TrendsPage {
            chrome,
            total: reports.len(),
            span,
            stats,
            charts,
        },
    ))
}
