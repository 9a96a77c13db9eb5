//! The Atom feed of an audience's digests (RFC 4287), newest first. Each
//! entry links to the digest in every format; its content lists the
//! incidents' titles. Rendered from stored digests only: the same digests
//! and links give the same feed.

use atom_syndication::{Content, Entry, Feed, Generator, Link, Person, Text};
use chrono::{DateTime, FixedOffset, Utc};

use super::render::Format;
use super::{Audience, Digest, DigestKind};

/// Entries in a feed, at most.
pub const FEED_ENTRIES: i64 = 50;

/// One line saying what is in a digest.
pub fn headline(d: &Digest) -> String {
    let f = &d.figures;
    let mut parts = vec![format!(
        "{} incident{} published or amended",
        f.incidents,
        if f.incidents == 1 { "" } else { "s" }
    )];
    if f.emergency_service_incidents > 0 {
        parts.push(format!(
            "{} affecting the emergency service",
            f.emergency_service_incidents
        ));
    }
    let critical = f.by_severity.get("critical").copied().unwrap_or(0);
    if critical > 0 {
        parts.push(format!("{critical} critical"));
    }
    parts.push(format!(
        "{} new and {} growing cluster{}",
        d.clusters.new.len(),
        d.clusters.growing.len(),
        if d.clusters.growing.len() == 1 {
            ""
        } else {
            "s"
        }
    ));
    parts.push(format!(
        "{} new lesson{}",
        d.lessons.new.len(),
        if d.lessons.new.len() == 1 { "" } else { "s" }
    ));
    format!("{}.", parts.join("; "))
}

fn fixed(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

/// The feed of `digests` (newest first) for `audience`; `href` gives the
/// link to a digest in a format, `self_href` the feed's own address.
pub fn feed(
    digests: &[Digest],
    audience: Audience,
    kind: Option<DigestKind>,
    self_href: &str,
    href: impl Fn(&Digest, Format) -> String,
) -> String {
    let entries: Vec<Entry> = digests
        .iter()
        .map(|d| {
            let mut items = String::new();
            for i in d.incidents.iter().take(50) {
                items.push_str(&format!(
                    "<li>{} ({}, TLP:{})</li>",
                    html_escape::encode_quoted_attribute(&i.report.title),
                    i.report.metrics.severity.as_str(),
                    i.report.tlp.as_str().to_uppercase()
                ));
            }
            let body = format!(
                "<p>{}</p>{}",
                html_escape::encode_quoted_attribute(&headline(d)),
                if items.is_empty() {
                    String::new()
                } else {
                    format!("<ul>{items}</ul>")
                }
            );
            Entry {
                id: format!("urn:incidex:digest:{}", d.id),
                title: Text::plain(format!(
                    "{} digest {} ({})",
                    d.kind.title(),
                    d.period.label,
                    d.audience.as_str()
                )),
                updated: fixed(d.generated_at),
                published: Some(fixed(d.generated_at)),
                summary: Some(Text::plain(headline(d))),
                content: Some(Content {
                    value: Some(body),
                    content_type: Some("html".to_owned()),
                    ..Content::default()
                }),
                links: [Format::Html, Format::Json, Format::Markdown, Format::Csv]
                    .into_iter()
                    .map(|f| Link {
                        href: href(d, f),
                        rel: "alternate".to_owned(),
                        mime_type: Some(f.media_type().to_owned()),
                        title: Some(format!("{} ({})", d.id, f.as_str())),
                        ..Link::default()
                    })
                    .collect(),
                ..Entry::default()
            }
        })
        .collect();
    let updated = digests
        .iter()
        .map(|d| d.generated_at)
        .max()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let scope = match kind {
        Some(k) => format!("{}:{}", audience.as_str(), k.as_str()),
        None => audience.as_str().to_owned(),
    };
    let feed = Feed {
        id: format!("urn:incidex:digests:{scope}"),
        title: Text::plain(match kind {
            Some(k) => format!("incidex {} digests ({})", k.as_str(), audience.as_str()),
            None => format!("incidex digests ({})", audience.as_str()),
        }),
        subtitle: Some(Text::plain(format!(
            "What was published and learned in the registry, as {} may read it (TLP:{})",
            audience.as_str(),
            audience
                .tlps()
                .iter()
                .map(|t| t.as_str().to_uppercase())
                .collect::<Vec<_>>()
                .join(", TLP:")
        ))),
        updated: fixed(updated),
        authors: vec![Person {
            name: "incidex".to_owned(),
            ..Person::default()
        }],
        generator: Some(Generator {
            value: "incidex".to_owned(),
            version: Some(env!("CARGO_PKG_VERSION").to_owned()),
            ..Generator::default()
        }),
        links: vec![Link {
            href: self_href.to_owned(),
            rel: "self".to_owned(),
            mime_type: Some("application/atom+xml".to_owned()),
            ..Link::default()
        }],
        entries,
        ..Feed::default()
    };
    feed.to_string()
}
