//! The report page, `/reports/{id}`: the shared view of a published report
//! (exactly what `GET /api/v1/reports/{id}` gives a non-owner) laid out for
//! reading, with the similar incidents and why they matched.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use incidex_schema::db::reports;

use super::session::Session;
use super::{Chrome, message_page, render};
use crate::http::db;
use crate::http::{ApiError, ErrorCode};
use crate::state::AppState;
use incidex_registry::labels::{label, minutes, offset};
use incidex_registry::views::SharedReport;
use incidex_registry::visibility::{index_tlps as visible_tlps, may_read_shared};

/// How many similar incidents the page lists.
const SIMILAR_K: usize = 5;

struct Fact {
    term: &'static str,
    value: String,
}

struct Section {
    heading: &'static str,
    facts: Vec<Fact>,
    /// Paragraphs of free text, each with a heading.
    texts: Vec<(&'static str, String)>,
}

struct Flag {
    label: &'static str,
    detail: &'static str,
    on: bool,
}

struct Step {
    at: String,
    event: String,
}

struct SimilarView {
    id: String,
    title: String,
    percent: u32,
    text_percent: u32,
    field_percent: u32,
    reasons: Vec<String>,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    chrome: Chrome,
    id: String,
    title: String,
    summary: String,
    tlp: String,
    tlp_label: String,
    severity: String,
    severity_label: String,
    published_on: String,
    revision: i32,
    key_facts: Vec<Fact>,
    flags: Vec<Flag>,
    sections: Vec<Section>,
    chain: Vec<(&'static str, String)>,
    timeline: Vec<Step>,
    lessons: Vec<String>,
    notes: Option<String>,
    similar: Vec<SimilarView>,
    similar_note: Option<String>,
}

fn fact(facts: &mut Vec<Fact>, term: &'static str, value: Option<String>) {
    if let Some(value) = value.filter(|v| !v.is_empty()) {
        facts.push(Fact { term, value });
    }
}

fn list<T: Copy>(items: &[T], f: impl Fn(T) -> &'static str) -> Option<String> {
    (!items.is_empty()).then(|| items.iter().map(|x| f(*x)).collect::<Vec<_>>().join(", "))
}

/// A similarity reason from the indexer (`same trigger: config_change`)
/// with its taxonomy slugs turned into labels.
fn humanise_reason(reason: &str) -> String {
    let Some((head, values)) = reason.split_once(": ") else {
        return reason.to_owned();
    };
    let field = match head {
        "same trigger" => "trigger",
        "same root cause" => "root_cause_category",
        "same network domain" | "domains involved" => "domain",
        "shared assets" => "asset",
        "services affected" => "service",
        "same operator type" => "operator_type",
        _ => return reason.to_owned(),
    };
    let values: Vec<String> = values.split(", ").map(|v| label(field, v)).collect();
    format!("{head}: {}", values.join(", "))
}

fn percent(x: f32) -> u32 {
    (x.clamp(0.0, 1.0) * 100.0).round() as u32
}

fn build(r: SharedReport) -> ReportPage {
    let ctx = &r.context;
    let mut key_facts = Vec::new();
    fact(
        &mut key_facts,
        "Started",
        Some(format!(
            "{} · {}{}",
            ctx.when.month,
            ctx.when.day_of_week.label(),
            ctx.when
                .block
                .map(|b| format!(" · {} local", b.as_str()))
                .unwrap_or_default()
        )),
    );
    fact(
        &mut key_facts,
        "Duration",
        r.impact.duration_minutes.map(minutes),
    );
    fact(
        &mut key_facts,
        "Subscribers",
        ctx.subscriber_band.map(|b| b.as_str().to_owned()),
    );
    fact(
        &mut key_facts,
        "Where",
        match (&ctx.location.country, ctx.location.region) {
            (Some(c), Some(region)) => Some(format!("{} ({})", c.as_str(), region.label())),
            (Some(c), None) => Some(c.as_str().to_owned()),
            (None, Some(region)) => Some(region.label().to_owned()),
            (None, None) => None,
        },
    );

    let mut context = Vec::new();
    fact(
        &mut context,
        "Scope",
        ctx.scope.map(|s| s.label().to_owned()),
    );
    fact(
        &mut context,
        "Operator type",
        ctx.operator_type.map(|o| o.label().to_owned()),
    );
    fact(
        &mut context,
        "Duration band",
        ctx.duration_band.map(|b| b.as_str().to_owned()),
    );

    let mut affected = Vec::new();
    fact(
        &mut affected,
        "Services",
        list(&r.affected.services, |s| s.label()),
    );
    fact(
        &mut affected,
        "Main domain",
        r.affected.network_domain.map(|d| d.label().to_owned()),
    );
    fact(
        &mut affected,
        "Other domains",
        list(&r.affected.other_network_domains, |d| d.label()),
    );
    fact(
        &mut affected,
        "Assets",
        list(&r.affected.assets, |a| a.label()),
    );

    let mut cause = Vec::new();
    fact(
        &mut cause,
        "Root cause",
        r.cause.root_cause_category.map(|c| c.label().to_owned()),
    );
    fact(
        &mut cause,
        "Trigger",
        r.cause.trigger.map(|t| t.label().to_owned()),
    );
    fact(
        &mut cause,
        "Third party involved",
        r.cause
            .third_party_involved
            .map(|b| if b { "Yes" } else { "No" }.to_owned()),
    );
    let mut cause_texts = Vec::new();
    if let Some(d) = &r.cause.detailed_cause {
        cause_texts.push(("Detailed cause", d.clone()));
    }
    let mut chain = Vec::new();
    if let Some(c) = &r.cause.causal_chain {
        for (name, text) in [
            ("Initiating event", &c.initiating_event),
            ("Latent condition", &c.latent_condition),
            ("Propagation", &c.propagation),
            ("Recovery obstacle", &c.recovery_obstacle),
        ] {
            if let Some(t) = text {
                chain.push((name, t.clone()));
            }
        }
    }

    let mut impact = Vec::new();
    fact(
        &mut impact,
        "Duration",
        r.impact.duration_minutes.map(minutes),
    );
    fact(&mut impact, "Duration note", r.impact.duration_note.clone());
    fact(
        &mut impact,
        "Emergency calls failed",
        r.impact
            .emergency_calls
            .as_ref()
            .map(|e| match e.share_percent {
                Some(p) => format!("{} ({p:.1} % of attempts)", e.failed),
                None => e.failed.to_string(),
            }),
    );
    fact(
        &mut impact,
        "Redundancy",
        r.impact.redundancy.as_ref().map(|red| match red.sites {
            Some(n) => format!("{} ({n} sites)", red.outcome.label()),
            None => red.outcome.label().to_owned(),
        }),
    );
    let mut impact_texts = Vec::new();
    if let Some(d) = &r.impact.description {
        impact_texts.push(("Impact", d.clone()));
    }

    let resp = &r.response;
    let mut response = Vec::new();
    fact(
        &mut response,
        "Detected by",
        resp.detection_source.map(|d| d.label().to_owned()),
    );
    for (term, value) in [
        ("Time to detect", resp.minutes_to_detect),
        ("Time to diagnose", resp.minutes_to_diagnose),
        ("Time to restore", resp.minutes_to_restore),
        ("Authorities told after", resp.minutes_to_notify_authorities),
        (
            "Other operators told after",
            resp.minutes_to_notify_operators,
        ),
    ] {
        fact(&mut response, term, value.map(minutes));
    }
    fact(
        &mut response,
        "Restored by",
        list(&resp.restoration_methods, |m| m.label()),
    );
    let mut response_texts = Vec::new();
    if let Some(n) = &resp.restoration_notes {
        response_texts.push(("Restoration", n.clone()));
    }

    let sections = vec![
        Section {
            heading: "Context",
            facts: context,
            texts: Vec::new(),
        },
        Section {
            heading: "Affected systems",
            facts: affected,
            texts: Vec::new(),
        },
        Section {
            heading: "Cause",
            facts: cause,
            texts: cause_texts,
        },
        Section {
            heading: "Impact",
            facts: impact,
            texts: impact_texts,
        },
        Section {
            heading: "Response",
            facts: response,
            texts: response_texts,
        },
    ]
    .into_iter()
    .filter(|s| !s.facts.is_empty() || !s.texts.is_empty())
    .collect();

    let mut steps = r.timeline.clone();
    steps.sort_by_key(|e| e.offset_minutes);
    let flags = r.metrics.flags;
    ReportPage {
        chrome: Chrome::default(),
        id: r.id.clone(),
        title: r.title.clone(),
        summary: r.summary.clone(),
        tlp: r.tlp.as_str().to_owned(),
        tlp_label: label("tlp", r.tlp.as_str()),
        severity: r.metrics.severity.as_str().to_owned(),
        severity_label: r.metrics.severity.label().to_owned(),
        published_on: r
            .published_on
            .map(|d| d.format("%-d %B %Y").to_string())
            .unwrap_or_default(),
        revision: r.revision,
        key_facts,
        flags: vec![
            Flag {
                label: "ENISA threshold",
                detail: "at least 1,000,000 user-hours",
                on: flags.enisa_user_hours_1m,
            },
            Flag {
                label: "FCC threshold",
                detail: "at least 30 minutes and 900,000 user-minutes",
                on: flags.fcc_900k_user_minutes,
            },
            Flag {
                label: "Emergency service",
                detail: "emergency calls affected",
                on: flags.emergency_service_affected,
            },
        ],
        sections,
        chain,
        timeline: steps
            .into_iter()
            .map(|e| Step {
                at: offset(e.offset_minutes),
                event: e.event,
            })
            .collect(),
        lessons: r.lessons,
        notes: r.notes,
        similar: Vec::new(),
        similar_note: None,
    }
}

/// `GET /reports/{id}`
pub async fn page(s: Session, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let chrome = Chrome::new("Report", "search", &s);
    let id = path.into_inner();
    let principal = s.principal.clone();
    let st = state.get_ref().clone();
    let index = state.registry.live_index();
    let visible = visible_tlps(principal.role);
    let loaded = db(&state, move |conn| {
        let row = reports::find_report(conn, &id)?.ok_or_else(ApiError::not_found)?;
        // The same rule as the API: 404 for anything this reader may not see.
        if !may_read_shared(principal.role, &row) {
            return Err(ApiError::not_found());
        }
        let counts = st.registry.members.country_counts(conn)?;
        let shared =
            incidex_registry::reports::shared_view(&row, &counts, st.settings.k_anonymity)?;
        let similar = index.map(|index| index.similar_to(&id, SIMILAR_K, &visible));
        Ok((shared, similar))
    })
    .await;
    let (shared, similar) = match loaded {
        Ok(x) => x,
        Err(e) if e.code() == ErrorCode::NotFound => {
            return s.finish(message_page(
                StatusCode::NOT_FOUND,
                chrome,
                "Report not found",
                "There is no report with this id, or it is not one you may read.",
            ));
        }
        Err(e) => return s.finish(super::internal_error(chrome, &e)),
    };
    let mut view = build(shared);
    view.chrome = Chrome::new(view.title.clone(), "search", &s);
    match similar {
        Some(Ok(hits)) => {
            view.similar = hits
                .into_iter()
                .map(|h| SimilarView {
                    id: h.id,
                    title: h.title,
                    percent: percent(h.score),
                    text_percent: percent(h.text_score),
                    field_percent: percent(h.field_score),
                    reasons: h.reasons.iter().map(|r| humanise_reason(r)).collect(),
                })
                .collect();
            if view.similar.is_empty() {
                view.similar_note =
                    Some("No similar incidents among the reports you may read.".into());
            }
        }
        Some(Err(incidex_indexer::IndexError::NotFound(_))) => {
            view.similar_note = Some(
                "This report is still being indexed; similar incidents will appear shortly.".into(),
            );
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "similar incidents failed");
            view.similar_note = Some("Similar incidents are unavailable right now.".into());
        }
        None => view.similar_note = Some("Search is not running on this server.".into()),
    }
    s.finish(render(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_labels() {
        assert_eq!(
            humanise_reason("same root cause: malicious_action"),
            "same root cause: Malicious action"
        );
        assert_eq!(
            humanise_reason("shared terms: dns, utc"),
            "shared terms: dns, utc"
        );
        assert_eq!(humanise_reason("odd"), "odd");
    }
}
