//! The formats of a digest, each rendered from the stored JSON alone, so a
//! stored digest renders to the same bytes every time and on every
//! replica.
//!
//! - JSON: the [`Digest`] itself (its schema is in the OpenAPI document).
//! - CSV: one row per incident, most severe first, with a header row.
//!   Free-text cells that a spreadsheet would take for a formula (starting
//!   with `=`, `+`, `-`, `@`, tab or carriage return) get a leading `'`.
//! - Markdown: headings, tables and lists, with every piece of report text
//!   escaped so that it cannot add structure, links or HTML.
//! - HTML: one self-contained page (inline stylesheet with print styles, no
//!   script, no external resource), escaped by the template engine.

use std::fmt::Write;

use askama::Template;

use super::{Digest, DigestCluster, DigestLesson, Figures, IncidentChange};
use crate::labels::{label, minutes};

/// A format a digest is served and exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Markdown,
    Html,
}

impl Format {
    pub const ALL: &'static [Format] = &[Format::Json, Format::Csv, Format::Markdown, Format::Html];

    /// The `format` parameter value and file extension.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Markdown => "md",
            Format::Html => "html",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "md" | "markdown" => Some(Format::Markdown),
            "html" => Some(Format::Html),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv",
            Format::Markdown => "text/markdown",
            Format::Html => "text/html",
        }
    }

    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8; header=present",
            Format::Markdown => "text/markdown; charset=utf-8; variant=CommonMark",
            Format::Html => "text/html; charset=utf-8",
        }
    }
}

/// Renders `digest` in `format`.
pub fn render(digest: &Digest, format: Format) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(digest)? + "\n",
        Format::Csv => csv(digest)?,
        Format::Markdown => markdown(digest),
        Format::Html => html(digest)?,
    })
}

/// The file name of a digest in a format: `weekly-2026-W40-members.csv`.
pub fn file_name(digest_id: &str, format: Format) -> String {
    format!("{digest_id}.{}", format.as_str())
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

pub const CSV_COLUMNS: &[&str] = &[
    "digest_id",
    "period",
    "audience",
    "rank",
    "id",
    "change",
    "published_on",
    "amended_on",
    "tlp",
    "severity",
    "title",
    "root_cause_category",
    "trigger",
    "network_domain",
    "services",
    "scope",
    "region",
    "country",
    "duration_minutes",
    "duration_band",
    "subscriber_band",
    "emergency_service_affected",
    "enisa_user_hours_1m",
    "fcc_900k_user_minutes",
    "summary",
];

/// Keeps a spreadsheet from running report text as a formula.
fn cell_text(s: &str) -> String {
    match s.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
        _ => s.to_owned(),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn csv(d: &Digest) -> anyhow::Result<String> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    w.write_record(CSV_COLUMNS)?;
    for (i, inc) in d.incidents.iter().enumerate() {
        let r = &inc.report;
        let services: Vec<&str> = r.affected.services.iter().map(|s| s.as_str()).collect();
        w.write_record([
            d.id.clone(),
            d.period.label.clone(),
            d.audience.as_str().to_owned(),
            (i + 1).to_string(),
            r.id.clone(),
            inc.change.as_str().to_owned(),
            opt(r.published_on),
            opt(inc.amended_on),
            r.tlp.as_str().to_owned(),
            r.metrics.severity.as_str().to_owned(),
            cell_text(&r.title),
            opt(r.cause.root_cause_category.map(|c| c.as_str())),
            opt(r.cause.trigger.map(|t| t.as_str())),
            opt(r.affected.network_domain.map(|n| n.as_str())),
            services.join(";"),
            opt(r.context.scope.map(|s| s.as_str())),
            opt(r.context.location.region.map(|x| x.as_str())),
            opt(r.context.location.country.as_ref().map(|c| c.as_str())),
            opt(r.impact.duration_minutes),
            opt(r.context.duration_band.map(|b| b.as_str())),
            opt(r.context.subscriber_band.map(|b| b.as_str())),
            r.metrics.flags.emergency_service_affected.to_string(),
            r.metrics.flags.enisa_user_hours_1m.to_string(),
            r.metrics.flags.fcc_900k_user_minutes.to_string(),
            cell_text(&r.summary),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

// ---------------------------------------------------------------------------
// What Markdown and HTML show
// ---------------------------------------------------------------------------

/// One row of the headline table: this period, the previous one, the change.
struct FigureRow {
    label: &'static str,
    now: String,
    before: String,
    change: String,
}

/// A breakdown table: values by category in both periods.
struct Breakdown {
    heading: &'static str,
    column: &'static str,
    rows: Vec<(String, u64, u64)>,
}

struct IncidentView {
    rank: usize,
    id: String,
    title: String,
    severity: String,
    severity_slug: String,
    tlp: String,
    tlp_slug: String,
    change: String,
    facts: Vec<(&'static str, String)>,
    summary: Vec<String>,
    lessons: Vec<String>,
}

struct ClusterView {
    id: String,
    label: String,
    terms: String,
    line: String,
}

struct LessonView {
    text: String,
    line: String,
}

/// Everything both text formats show, computed once from the digest.
struct Presented {
    title: String,
    span: String,
    meta: String,
    figures: Vec<FigureRow>,
    breakdowns: Vec<Breakdown>,
    incidents: Vec<IncidentView>,
    new_clusters: Vec<ClusterView>,
    growing_clusters: Vec<ClusterView>,
    new_lessons: Vec<LessonView>,
    endorsed_lessons: Vec<LessonView>,
    previous_label: String,
}

fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{n}")
    } else {
        n.to_string()
    }
}

/// `1234567.0` as `1,234,567`.
fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn hours(f: &Figures) -> String {
    match f.user_hours.total {
        Some(h) => thousands(h),
        None if f.user_hours.incidents_with_figures == 0 => "\u{2014}".to_owned(),
        None => "withheld".to_owned(),
    }
}

fn breakdown(
    heading: &'static str,
    column: &'static str,
    field: &str,
    now: &std::collections::BTreeMap<String, u64>,
    before: &std::collections::BTreeMap<String, u64>,
) -> Breakdown {
    let mut keys: Vec<&String> = now.keys().chain(before.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut rows: Vec<(String, u64, u64, bool)> = keys
        .into_iter()
        .map(|k| {
            let name = if k == "not_stated" {
                "Not stated".to_owned()
            } else {
                label(field, k)
            };
            (
                name,
                now.get(k).copied().unwrap_or(0),
                before.get(k).copied().unwrap_or(0),
                k == "not_stated",
            )
        })
        .filter(|(_, a, b, _)| *a > 0 || *b > 0)
        .collect();
    rows.sort_by(|a, b| {
        a.3.cmp(&b.3)
            .then(b.1.cmp(&a.1))
            .then(b.2.cmp(&a.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    Breakdown {
        heading,
        column,
        rows: rows.into_iter().map(|(n, a, b, _)| (n, a, b)).collect(),
    }
}

fn cluster_view(c: &DigestCluster) -> ClusterView {
    ClusterView {
        id: c.id.clone(),
        label: c.label.clone(),
        terms: c.top_terms.join(", "),
        line: format!(
            "{} incident{} ({} in this period), first {}, latest {}",
            c.size,
            if c.size == 1 { "" } else { "s" },
            c.added,
            c.first_seen,
            c.last_seen
        ),
    }
}

/// `change_management` as `Change management`.
fn category_label(slug: &str) -> String {
    let text = slug.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

fn lesson_view(l: &DigestLesson, endorsed: bool) -> LessonView {
    let category = category_label(l.category.as_str());
    let mut line = format!("{category}, recorded {}", l.created_on);
    if l.source == "curated" {
        line.push_str(", curated");
    }
    if endorsed {
        let _ = write!(
            line,
            "; {} endorsement{} in this period, {} in all",
            l.endorsements_in_period,
            if l.endorsements_in_period == 1 {
                ""
            } else {
                "s"
            },
            l.endorsements
        );
    } else if l.endorsements > 0 {
        let _ = write!(line, "; {} endorsements", l.endorsements);
    }
    LessonView {
        text: l.text.clone(),
        line,
    }
}

fn present(d: &Digest) -> Presented {
    let f = &d.figures;
    let p = &d.previous.figures;
    let mc = |f: &Figures| {
        f.by_severity.get("major").copied().unwrap_or(0)
            + f.by_severity.get("critical").copied().unwrap_or(0)
    };
    let minutes_or_dash = |m: Option<u32>| m.map_or("\u{2014}".to_owned(), minutes);
    let figures = vec![
        FigureRow {
            label: "Incidents published or amended",
            now: f.incidents.to_string(),
            before: p.incidents.to_string(),
            change: signed(d.changes.incidents),
        },
        FigureRow {
            label: "First published",
            now: f.published.to_string(),
            before: p.published.to_string(),
            change: signed(f.published as i64 - p.published as i64),
        },
        FigureRow {
            label: "Amended",
            now: f.amended.to_string(),
            before: p.amended.to_string(),
            change: signed(f.amended as i64 - p.amended as i64),
        },
        FigureRow {
            label: "Major or critical",
            now: mc(f).to_string(),
            before: mc(p).to_string(),
            change: signed(d.changes.major_or_critical),
        },
        FigureRow {
            label: "Emergency service affected",
            now: f.emergency_service_incidents.to_string(),
            before: p.emergency_service_incidents.to_string(),
            change: signed(d.changes.emergency_service_incidents),
        },
        FigureRow {
            label: "Lost user-hours",
            now: hours(f),
            before: hours(p),
            change: d.changes.user_hours.map_or("\u{2014}".to_owned(), |h| {
                let s = thousands(h);
                if h > 0.0 { format!("+{s}") } else { s }
            }),
        },
        FigureRow {
            label: "Median duration",
            now: minutes_or_dash(f.durations.median_minutes),
            before: minutes_or_dash(p.durations.median_minutes),
            change: String::new(),
        },
        FigureRow {
            label: "Longest duration",
            now: minutes_or_dash(f.durations.longest_minutes),
            before: minutes_or_dash(p.durations.longest_minutes),
            change: String::new(),
        },
    ];
    let band = |fig: &Figures| -> std::collections::BTreeMap<String, u64> {
        fig.durations
            .by_band
            .iter()
            .map(|b| (b.band.clone(), b.count))
            .collect()
    };
    let mut durations = Breakdown {
        heading: "Durations",
        column: "Duration",
        rows: Vec::new(),
    };
    let (band_now, band_before) = (band(f), band(p));
    for b in &f.durations.by_band {
        let (a, c) = (
            band_now.get(&b.band).copied().unwrap_or(0),
            band_before.get(&b.band).copied().unwrap_or(0),
        );
        let name = if b.band == "not_stated" {
            "Not stated".to_owned()
        } else {
            b.band.clone()
        };
        durations.rows.push((name, a, c));
    }
    let breakdowns = vec![
        breakdown(
            "By severity",
            "Severity",
            "severity",
            &f.by_severity,
            &p.by_severity,
        ),
        breakdown(
            "By root cause",
            "Root cause",
            "root_cause_category",
            &f.by_root_cause,
            &p.by_root_cause,
        ),
        breakdown(
            "By service",
            "Service",
            "service",
            &f.by_service,
            &p.by_service,
        ),
        breakdown(
            "By network domain",
            "Main network domain",
            "network_domain",
            &f.by_network_domain,
            &p.by_network_domain,
        ),
        durations,
    ];
    let incidents = d
        .incidents
        .iter()
        .enumerate()
        .map(|(i, inc)| {
            let r = &inc.report;
            let mut facts: Vec<(&'static str, String)> = Vec::new();
            if let Some(c) = r.cause.root_cause_category {
                facts.push(("Root cause", c.label().to_owned()));
            }
            if let Some(t) = r.cause.trigger {
                facts.push(("Trigger", t.label().to_owned()));
            }
            if let Some(n) = r.affected.network_domain {
                facts.push(("Network domain", n.label().to_owned()));
            }
            if !r.affected.services.is_empty() {
                let s: Vec<&str> = r.affected.services.iter().map(|s| s.label()).collect();
                facts.push(("Services", s.join(", ")));
            }
            if let Some(m) = r.impact.duration_minutes {
                facts.push(("Duration", minutes(m)));
            }
            if let Some(s) = r.context.scope {
                facts.push(("Scope", s.label().to_owned()));
            }
            let place = match (&r.context.location.country, r.context.location.region) {
                (Some(c), Some(reg)) => Some(format!("{} ({})", c.as_str(), reg.label())),
                (Some(c), None) => Some(c.as_str().to_owned()),
                (None, Some(reg)) => Some(reg.label().to_owned()),
                (None, None) => None,
            };
            if let Some(place) = place {
                facts.push(("Where", place));
            }
            facts.push(("Started", r.context.when.month.clone()));
            let mut flags = Vec::new();
            if r.metrics.flags.emergency_service_affected {
                flags.push("emergency service affected");
            }
            if r.metrics.flags.enisa_user_hours_1m {
                flags.push("ENISA 1M user-hours");
            }
            if r.metrics.flags.fcc_900k_user_minutes {
                flags.push("FCC 900k user-minutes");
            }
            if !flags.is_empty() {
                facts.push(("Thresholds", flags.join(", ")));
            }
            let change = match inc.change {
                IncidentChange::Published => format!("published {}", opt(r.published_on)),
                IncidentChange::Amended => format!(
                    "amended {} (published {})",
                    opt(inc.amended_on),
                    opt(r.published_on)
                ),
            };
            IncidentView {
                rank: i + 1,
                id: r.id.clone(),
                title: r.title.clone(),
                severity: r.metrics.severity.label().to_owned(),
                severity_slug: r.metrics.severity.as_str().to_owned(),
                tlp: r.tlp.as_str().to_uppercase(),
                tlp_slug: r.tlp.as_str().to_owned(),
                change,
                facts,
                summary: r
                    .summary
                    .split('\n')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
                lessons: r.lessons.clone(),
            }
        })
        .collect();
    let tlps: Vec<String> = d.tlps.iter().map(|t| t.as_str().to_uppercase()).collect();
    Presented {
        title: format!(
            "{} digest {} \u{00b7} {}",
            d.kind.title(),
            d.period.label,
            d.audience.as_str()
        ),
        span: super::Period::parse_label(d.kind, &d.period.label)
            .map(|p| format!("{} (UTC)", p.span()))
            .unwrap_or_else(|| d.period.label.clone()),
        meta: format!(
            "TLP:{} only \u{00b7} generated {}",
            tlps.join(", TLP:"),
            d.generated_at.format("%Y-%m-%d %H:%M UTC")
        ),
        figures,
        breakdowns,
        incidents,
        new_clusters: d.clusters.new.iter().map(cluster_view).collect(),
        growing_clusters: d.clusters.growing.iter().map(cluster_view).collect(),
        new_lessons: d
            .lessons
            .new
            .iter()
            .map(|l| lesson_view(l, false))
            .collect(),
        endorsed_lessons: d
            .lessons
            .most_endorsed
            .iter()
            .map(|l| lesson_view(l, true))
            .collect(),
        previous_label: d.previous.period.label.clone(),
    }
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

/// Escapes text for one line of Markdown: no structure, link, emphasis or
/// HTML can come from it (CommonMark lets any ASCII punctuation be
/// backslash-escaped).
pub fn md_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    for (i, c) in collapsed.chars().enumerate() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '!' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '#' | '-' | '+' | '=' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    // "1. " or "1) " at the start would make an ordered list.
    if let Some(end) = out.find(|c: char| !c.is_ascii_digit())
        && end > 0
        && out[end..].starts_with(['.', ')'])
    {
        out.insert(end, '\\');
    }
    out
}

fn markdown(d: &Digest) -> String {
    let p = present(d);
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", md_inline(&p.title));
    let _ = writeln!(o, "{}  \n{}\n", md_inline(&p.span), md_inline(&p.meta));
    let _ = writeln!(o, "## Headline figures\n");
    let _ = writeln!(
        o,
        "| Figure | This period | Previous ({}) | Change |\n| --- | ---: | ---: | ---: |",
        md_inline(&p.previous_label)
    );
    for r in &p.figures {
        // Figures are ours (numbers, a dash, "withheld"): written as they are.
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            r.label, r.now, r.before, r.change
        );
    }
    o.push('\n');
    for b in &p.breakdowns {
        let _ = writeln!(o, "### {}\n", b.heading);
        if b.rows.is_empty() {
            o.push_str("None.\n\n");
            continue;
        }
        let _ = writeln!(
            o,
            "| {} | This period | Previous |\n| --- | ---: | ---: |",
            b.column
        );
        for (name, a, c) in &b.rows {
            let _ = writeln!(o, "| {} | {a} | {c} |", md_inline(name));
        }
        o.push('\n');
    }
    let _ = writeln!(o, "## Incidents ({})\n", p.incidents.len());
    if p.incidents.is_empty() {
        o.push_str("No incident was published or amended in this period.\n\n");
    }
    for i in &p.incidents {
        let _ = writeln!(o, "### {}\\. {}\n", i.rank, md_inline(&i.title));
        let _ = writeln!(
            o,
            "**{}** \u{00b7} TLP:{} \u{00b7} {} \u{00b7} id `{}`\n",
            md_inline(&i.severity),
            md_inline(&i.tlp),
            md_inline(&i.change),
            i.id.replace('`', "")
        );
        for (k, v) in &i.facts {
            let _ = writeln!(o, "- {k}: {}", md_inline(v));
        }
        o.push('\n');
        for para in &i.summary {
            let _ = writeln!(o, "{}\n", md_inline(para));
        }
        if !i.lessons.is_empty() {
            o.push_str("Lessons:\n\n");
            for l in &i.lessons {
                let _ = writeln!(o, "- {}", md_inline(l));
            }
            o.push('\n');
        }
    }
    let _ = writeln!(o, "## Clusters\n");
    for (heading, list) in [
        ("New clusters", &p.new_clusters),
        ("Growing clusters", &p.growing_clusters),
    ] {
        let _ = writeln!(o, "### {heading}\n");
        if list.is_empty() {
            o.push_str("None.\n\n");
            continue;
        }
        for c in list {
            let _ = writeln!(
                o,
                "- **{}**: {} (terms: {}; id `{}`)",
                md_inline(&c.label),
                md_inline(&c.line),
                md_inline(&c.terms),
                c.id.replace('`', "")
            );
        }
        o.push('\n');
    }
    let _ = writeln!(o, "## Lessons\n");
    for (heading, list) in [
        ("New lessons", &p.new_lessons),
        ("Most endorsed in this period", &p.endorsed_lessons),
    ] {
        let _ = writeln!(o, "### {heading}\n");
        if list.is_empty() {
            o.push_str("None.\n\n");
            continue;
        }
        for l in list {
            let _ = writeln!(o, "- {} ({})", md_inline(&l.text), md_inline(&l.line));
        }
        o.push('\n');
    }
    o.truncate(o.trim_end().len());
    o.push('\n');
    o
}

// ---------------------------------------------------------------------------
// HTML
// ---------------------------------------------------------------------------

/// The stylesheet of the self-contained HTML digest (inline, with print
/// styles).
pub const DIGEST_CSS: &str = include_str!("../../assets/digest.css");

/// The `Content-Security-Policy` of the HTML digest: no script, nothing
/// loaded, only its own inline stylesheet (by hash).
pub fn html_csp() -> &'static str {
    static CSP: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        use base64::Engine;
        use sha2::{Digest as _, Sha256};
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(DIGEST_CSS));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src data:; \
             form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
        )
    });
    CSP.as_str()
}

#[derive(Template)]
#[template(path = "digest.html")]
struct HtmlDigest<'a> {
    p: &'a Presented,
    css: &'static str,
}

fn html(d: &Digest) -> anyhow::Result<String> {
    let p = present(d);
    Ok(HtmlDigest {
        p: &p,
        css: DIGEST_CSS,
    }
    .render()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_text_cannot_add_structure() {
        assert_eq!(md_inline("# Title"), "\\# Title");
        assert_eq!(md_inline("- item"), "\\- item");
        assert_eq!(md_inline("12. item"), "12\\. item");
        assert_eq!(
            md_inline("[x](javascript:alert(1)) <b>"),
            "\\[x\\](javascript:alert(1)) \\<b\\>"
        );
        assert_eq!(md_inline("a\n\n# b | c"), "a # b \\| c");
        assert_eq!(md_inline("SIP 408 at 16:45"), "SIP 408 at 16:45");
    }

    #[test]
    fn spreadsheet_formulas_are_neutralised() {
        assert_eq!(cell_text("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell_text("-1"), "'-1");
        assert_eq!(cell_text("Core outage"), "Core outage");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(1_200_000.0), "1,200,000");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-4500.0), "-4,500");
    }
}
