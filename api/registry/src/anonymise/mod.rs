//! Free-text anonymisation: the scrubber applied to every free-text field of
//! a report before it is stored or indexed (DESIGN.md section 6).
//!
//! # Policy
//!
//! * **Privacy first.** When a token is ambiguous between an identifier and
//!   ordinary text, the scrubber redacts it, except for the technical tokens
//!   listed below, which have explicit rules.
//! * **Typed placeholders.** Each identifier is replaced by the placeholder of
//!   its class (`[PHONE]`, `[IMSI]`, `[IMEI]`, `[ICCID]`, `[IP]`, `[MAC]`,
//!   `[EMAIL]`, `[URL]`, `[HOST]`, `[TICKET]`, `[PERSON]`, `[OPERATOR]`,
//!   `[TERM]`, `[ACCOUNT]`, `[PLMN]`, `[ASN]`, `[CIRCUIT]`, `[ADDRESS]`,
//!   `[GPS]`), and every replacement is reported as a [`Redaction`] with
//!   byte offsets into the *original* text, so the filer can preview exactly
//!   what others will see.
//! * **Identifiers without a fixed syntax** are recognised by shape and
//!   context: element and host names without a domain (`mme-lon-3`,
//!   `cscf01.par`, `RTR-PAR-CORE-01`) unless they are 3GPP vocabulary
//!   (`S1-MME`, `P-CSCF`, `Iu-PS`); service and user accounts; person names
//!   from given-name and surname lists (US Census 1990, Faker locales) with
//!   capitalisation and context, not only after a title or role; operators
//!   that are not members (Debian's mobile-broadband-provider-info list and
//!   a supplement); AS numbers, MCC-MNC codes, circuit ids, postal
//!   addresses, coordinates, ranges of IMSIs and MSISDNs. The word lists are
//!   compiled into the binary and parsed once per process
//!   ([`Anonymiser::warm_up`]).
//! * **The filer's allow-list** ([`AllowList`]) keeps the filer's confirmed
//!   false positives, of any class except member names and the filer's own
//!   sensitive terms: a filer can never un-redact another member.
//! * **Names of every member.** Operator names and aliases of *all* members
//!   (not only the filer) are redacted, case-insensitively, as whole words
//!   (`Orange` is not found inside `orangery`, but is in `Orange's`,
//!   `orange01-sbc` and, via host and e-mail detection, inside
//!   `sbc1.orange.example`). A member whose name is an ordinary word
//!   (`Orange`, `Three`, `Free`) loses that word everywhere: it is their name,
//!   and a scrubber cannot tell the colour from the company.
//! * **The filer's sensitive terms** (site, project and system names) follow
//!   the same matching rules and become `[TERM]`.
//! * **Technical content survives:** 3GPP interface and function names,
//!   emergency numbers, 3GPP and other specification references, protocol
//!   and cause codes, releases, software versions and build numbers, dates,
//!   times of day, durations, percentages and counts.
//! * **Deterministic and idempotent.** Overlapping matches are resolved by
//!   strength tier, then length, then position. Placeholders are never
//!   matched again, and the output is re-checked until it is a fixed point,
//!   so `scrub(scrub(x).text) == scrub(x).text` with no new redactions.
//! * **Total.** Any UTF-8 input is accepted; the scrubber never panics and
//!   runs in time linear in the input (all context scans are bounded).
//!
//! The full rules, per class, and their known limits are documented in
//! `docs/anonymisation.md`.
//!
//! # Usage
//!
//! ```
//! use incidex_registry::anonymise::{Anonymiser, RedactionKind, SensitiveTerms};
//!
//! // Once, from every member operator's names and aliases.
//! let anonymiser = Anonymiser::new(&["Acme Mobile".into(), "Acme".into()]);
//! // Once per filer, from its own sensitive terms.
//! let terms = SensitiveTerms::new(&["Paris-Nord".into()]);
//! let out = anonymiser.scrub("Acme's SBC at Paris-Nord (10.1.2.3) failed", &terms);
//! assert_eq!(out.text, "[OPERATOR]'s SBC at [TERM] ([IP]) failed");
//! assert_eq!(out.redactions[0].kind, RedactionKind::Operator);
//! assert_eq!(out.redactions[0].original, "Acme");
//! ```

mod context;
mod detect;
mod keep;
mod lists;
mod names;
mod person;
mod scan;
mod shapes;
mod world;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use keep::EMERGENCY_NUMBERS;
use names::NameMatcher;
use scan::{Scan, Zones};

/// The class of a redacted identifier.
#[derive(
    Serialize, Deserialize, ToSchema, Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord,
)]
#[serde(rename_all = "snake_case")]
pub enum RedactionKind {
    /// Phone number (national, international, MSISDN).
    Phone,
    /// International mobile subscriber identity.
    Imsi,
    /// International mobile equipment identity (also IMEISV).
    Imei,
    /// SIM card serial number.
    Iccid,
    /// IPv4 or IPv6 address or prefix.
    Ip,
    /// MAC address.
    Mac,
    /// E-mail address.
    Email,
    /// URL or SIP/tel URI.
    Url,
    /// Host name: fully qualified, or a network element or site name
    /// recognised by its shape (`mme-lon-3`, `cscf01.par`, `RTR-PAR-CORE-01`).
    Host,
    /// Ticket, case, change or work-order number.
    Ticket,
    /// Person name (after a title or role, or from the name lists).
    Person,
    /// Name or alias of a member operator, or any other operator, carrier
    /// or brand of the world list.
    Operator,
    /// One of the filer's own sensitive terms.
    Term,
    /// Service, system or user account, user id (`svc_mediation`,
    /// `root@host`, `CORP\\jdoe`, `user id u419273`).
    Account,
    /// Mobile network code: MCC-MNC pair, PLMN id, cell global id.
    Plmn,
    /// Autonomous system number (`AS3215`).
    Asn,
    /// Circuit, line or service id announced as such.
    Circuit,
    /// Postal address, street name or postcode.
    Address,
    /// Geographic coordinates.
    Gps,
}

impl RedactionKind {
    /// Every kind, in declaration order.
    pub const ALL: [RedactionKind; 19] = [
        RedactionKind::Phone,
        RedactionKind::Imsi,
        RedactionKind::Imei,
        RedactionKind::Iccid,
        RedactionKind::Ip,
        RedactionKind::Mac,
        RedactionKind::Email,
        RedactionKind::Url,
        RedactionKind::Host,
        RedactionKind::Ticket,
        RedactionKind::Person,
        RedactionKind::Operator,
        RedactionKind::Term,
        RedactionKind::Account,
        RedactionKind::Plmn,
        RedactionKind::Asn,
        RedactionKind::Circuit,
        RedactionKind::Address,
        RedactionKind::Gps,
    ];

    /// The placeholder that replaces identifiers of this kind.
    pub const fn placeholder(self) -> &'static str {
        match self {
            RedactionKind::Phone => "[PHONE]",
            RedactionKind::Imsi => "[IMSI]",
            RedactionKind::Imei => "[IMEI]",
            RedactionKind::Iccid => "[ICCID]",
            RedactionKind::Ip => "[IP]",
            RedactionKind::Mac => "[MAC]",
            RedactionKind::Email => "[EMAIL]",
            RedactionKind::Url => "[URL]",
            RedactionKind::Host => "[HOST]",
            RedactionKind::Ticket => "[TICKET]",
            RedactionKind::Person => "[PERSON]",
            RedactionKind::Operator => "[OPERATOR]",
            RedactionKind::Term => "[TERM]",
            RedactionKind::Account => "[ACCOUNT]",
            RedactionKind::Plmn => "[PLMN]",
            RedactionKind::Asn => "[ASN]",
            RedactionKind::Circuit => "[CIRCUIT]",
            RedactionKind::Address => "[ADDRESS]",
            RedactionKind::Gps => "[GPS]",
        }
    }

    /// Tie-break between candidates of the same tier and length at the same
    /// position: the more specific class wins (a Cisco-style MAC address
    /// `0011.2233.4455` is also a plausible `00` phone number).
    const fn specificity(self) -> u8 {
        match self {
            RedactionKind::Url => 0,
            RedactionKind::Email => 1,
            RedactionKind::Mac => 2,
            RedactionKind::Ip => 3,
            RedactionKind::Iccid => 4,
            RedactionKind::Imei => 5,
            RedactionKind::Imsi => 6,
            RedactionKind::Host => 7,
            RedactionKind::Operator => 8,
            RedactionKind::Term => 9,
            RedactionKind::Gps => 10,
            RedactionKind::Plmn => 11,
            RedactionKind::Account => 12,
            RedactionKind::Asn => 13,
            RedactionKind::Circuit => 14,
            RedactionKind::Address => 15,
            RedactionKind::Phone => 16,
            RedactionKind::Ticket => 17,
            RedactionKind::Person => 18,
        }
    }

    /// The serialised (snake_case) name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RedactionKind::Phone => "phone",
            RedactionKind::Imsi => "imsi",
            RedactionKind::Imei => "imei",
            RedactionKind::Iccid => "iccid",
            RedactionKind::Ip => "ip",
            RedactionKind::Mac => "mac",
            RedactionKind::Email => "email",
            RedactionKind::Url => "url",
            RedactionKind::Host => "host",
            RedactionKind::Ticket => "ticket",
            RedactionKind::Person => "person",
            RedactionKind::Operator => "operator",
            RedactionKind::Term => "term",
            RedactionKind::Account => "account",
            RedactionKind::Plmn => "plmn",
            RedactionKind::Asn => "asn",
            RedactionKind::Circuit => "circuit",
            RedactionKind::Address => "address",
            RedactionKind::Gps => "gps",
        }
    }
}

impl fmt::Display for RedactionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One replacement made by the scrubber.
#[derive(Serialize, Deserialize, ToSchema, Clone, PartialEq, Eq, Debug)]
pub struct Redaction {
    /// Class of the identifier.
    pub kind: RedactionKind,
    /// Byte offset of the first byte of the identifier in the original text.
    pub start: usize,
    /// Byte offset just past the identifier in the original text.
    pub end: usize,
    /// The identifier as it appeared in the original text. Only ever shown
    /// to the filer (draft preview); never stored with the published report.
    pub original: String,
    /// The placeholder that replaced it, e.g. `[PHONE]`.
    pub placeholder: String,
}

/// The result of scrubbing one text.
#[derive(Serialize, ToSchema, Clone, PartialEq, Eq, Debug, Default)]
pub struct Scrubbed {
    /// The anonymised text.
    pub text: String,
    /// The replacements, in text order, non-overlapping.
    pub redactions: Vec<Redaction>,
}

impl Scrubbed {
    /// Number of redactions of `kind`.
    pub fn count(&self, kind: RedactionKind) -> usize {
        self.redactions.iter().filter(|r| r.kind == kind).count()
    }
}

/// The scrubber, built once from every member operator's names and aliases
/// (rebuild it when operators change). Cheap to share: wrap it in an `Arc`
/// or clone it (the compiled automaton is reference-counted).
#[derive(Debug, Clone)]
pub struct Anonymiser {
    /// Member names, then the words that introduce persons, then the
    /// trigger words of the phrase detectors (one automaton, one pass).
    operators: NameMatcher,
    /// Number of person-introducing keywords.
    intros: usize,
}

/// A filer's own sensitive terms (site, project and system names), compiled
/// once per operator and reused for every report it files.
#[derive(Debug, Clone)]
pub struct SensitiveTerms {
    matcher: NameMatcher,
}

impl SensitiveTerms {
    /// Compiles `terms`. Blank terms, terms with fewer than two letters or
    /// digits and purely numeric terms shorter than four digits are ignored.
    pub fn new(terms: &[String]) -> SensitiveTerms {
        SensitiveTerms {
            matcher: NameMatcher::new(terms),
        }
    }

    /// No terms.
    pub fn empty() -> SensitiveTerms {
        SensitiveTerms {
            matcher: NameMatcher::empty(),
        }
    }

    /// True when no usable term was given.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_empty()
    }

    /// Number of compiled spelling variants (for diagnostics).
    pub fn pattern_count(&self) -> usize {
        self.matcher.pattern_count()
    }
}

impl Default for SensitiveTerms {
    fn default() -> Self {
        SensitiveTerms::empty()
    }
}

impl Default for Anonymiser {
    fn default() -> Self {
        Anonymiser::new(&[])
    }
}

/// A filer's allow-list: words and phrases the filer has confirmed are not
/// identifiers (a monitoring system called "Atlas", a product called
/// "Phoenix"), compiled once per operator like [`SensitiveTerms`].
///
/// An allowed phrase is matched like a sensitive term (case-insensitive,
/// whole word, separator variants). A candidate redaction that lies
/// entirely inside an allowed occurrence is dropped, whatever its class,
/// except the names and aliases of member operators and the filer's own
/// sensitive terms: a filer can keep its own false positives, never another
/// member's name.
#[derive(Debug, Clone)]
pub struct AllowList {
    matcher: NameMatcher,
}

impl AllowList {
    /// Compiles `entries`; the same filtering as for [`SensitiveTerms::new`]
    /// applies.
    pub fn new(entries: &[String]) -> AllowList {
        AllowList {
            matcher: NameMatcher::new(entries),
        }
    }

    /// Nothing allowed.
    pub fn empty() -> AllowList {
        AllowList {
            matcher: NameMatcher::empty(),
        }
    }

    /// True when no usable entry was given.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_empty()
    }
}

impl Default for AllowList {
    fn default() -> Self {
        AllowList::empty()
    }
}

/// How many times the output is re-checked for identifiers that only became
/// detectable once their context was redacted (see [`Anonymiser::scrub`]).
const MAX_ROUNDS: usize = 4;

impl Anonymiser {
    /// Compiles the names and aliases of every member operator. The same
    /// filtering as for [`SensitiveTerms::new`] applies.
    pub fn new(operator_names: &[String]) -> Anonymiser {
        let mut keywords = person::intro_keywords();
        let intros = keywords.len();
        let (triggers, suffix_from) = shapes::trigger_keywords();
        keywords.extend(triggers);
        Anonymiser {
            operators: NameMatcher::with_keyword_suffixes(
                operator_names,
                &keywords,
                intros + suffix_from,
            ),
            intros,
        }
    }

    /// Loads the shared word lists (names, operators, vocabulary) now rather
    /// than on the first scrub. Optional: call it at start-up to keep the
    /// one-off cost (tens of milliseconds) out of the first request.
    pub fn warm_up() {
        lists::warm_up();
        world::warm_up();
    }

    /// Number of compiled operator-name spelling variants (for diagnostics).
    pub fn operator_pattern_count(&self) -> usize {
        self.operators.pattern_count()
    }

    /// Scrubs `text`: every detected identifier is replaced by its typed
    /// placeholder. Never panics; idempotent. Same as [`Anonymiser::scrub_with`]
    /// with an empty allow-list.
    pub fn scrub(&self, text: &str, terms: &SensitiveTerms) -> Scrubbed {
        self.scrub_with(text, terms, &AllowList::empty())
    }

    /// Scrubs `text` keeping what the filer's `allow` list confirms is not an
    /// identifier (see [`AllowList`]). Never panics; idempotent for a given
    /// allow-list.
    pub fn scrub_with(&self, text: &str, terms: &SensitiveTerms, allow: &AllowList) -> Scrubbed {
        let mut work = Work::default();
        let mut spans = self.detect(text, terms, allow, true, &mut work);
        let mut rendered = render(text, &spans);
        // A redaction can remove the context that kept a neighbouring token
        // (a sensitive term that happens to be "build" before a build
        // number, for instance). Re-check the output until nothing new is
        // found, mapping new finds back to the original text.
        for _ in 0..MAX_ROUNDS {
            if spans.is_empty() {
                break;
            }
            let extra = self.detect(&rendered, terms, allow, false, &mut work);
            if extra.is_empty() {
                break;
            }
            spans = merge(&spans, &extra);
            rendered = render(text, &spans);
        }
        let redactions = spans
            .iter()
            .map(|s| Redaction {
                kind: s.kind,
                start: s.start,
                end: s.end,
                original: text.get(s.start..s.end).unwrap_or_default().to_owned(),
                placeholder: s.kind.placeholder().to_owned(),
            })
            .collect();
        Scrubbed {
            text: rendered,
            redactions,
        }
    }

    /// Finds the redactions of one pass: sorted, non-overlapping spans.
    fn detect(
        &self,
        text: &str,
        terms: &SensitiveTerms,
        allow: &AllowList,
        first: bool,
        work: &mut Work,
    ) -> Vec<Span> {
        work.found.redact.clear();
        names::fold_into(text, &mut work.folded);
        scan::bounded_into(&work.folded, &mut work.bounded);
        work.zones.build(text);
        let scan = Scan {
            text,
            folded: &work.folded,
            bounded: &work.bounded,
            tech: &work.zones.tech,
            keyed: &work.zones.keyed,
            tokens: &work.zones.tokens,
        };
        let found = &mut work.found;
        detect::urls(scan, found);
        detect::emails(scan, found);
        detect::macs(scan, found);
        detect::ipv6(scan, found);
        detect::ipv4(scan, found);
        detect::hosts(scan, found);
        detect::phones(scan, found);
        detect::mobile_ids(scan, found);
        detect::tickets(scan, found);
        detect::keyworded(scan, found);
        let intros = &mut work.intros;
        intros.clear();
        let trigger_hits = &mut work.triggers;
        trigger_hits.clear();
        let intro_count = self.intros;
        self.operators.find(
            text,
            scan.folded,
            |s, e| found.redact_locked(s, e, RedactionKind::Operator, Tier::Strong),
            |i, s, e| {
                if i < intro_count {
                    intros.push((i, s, e));
                } else {
                    trigger_hits.push((i - intro_count, s, e));
                }
            },
        );
        let starts = &work.zones.starts;
        shapes::detect(scan, trigger_hits, first, found);
        world::operators(scan, starts, found);
        person::persons(text, intros, found);
        person::untitled(text, scan.folded, starts, found);
        person::repeat_names(text, starts, found);
        terms.matcher.find(
            text,
            scan.folded,
            |s, e| found.redact_locked(s, e, RedactionKind::Term, Tier::Strong),
            |_, _, _| {},
        );
        work.allowed.clear();
        let allowed = &mut work.allowed;
        allow
            .matcher
            .find(text, scan.folded, |s, e| allowed.push((s, e)), |_, _, _| {});
        resolve(
            text,
            &mut work.found.redact,
            &mut work.protected,
            &mut work.allowed,
        )
    }
}

/// Strength of a candidate: lower wins an overlap regardless of length.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Tier {
    /// URLs and e-mail addresses: they contain host names, user names and
    /// numbers that would otherwise be matched piecemeal.
    Strongest,
    /// Self-evident identifiers (IP, MAC, host, `+`/`00` phone numbers,
    /// IMSI/IMEI/ICCID by shape or keyword) and operator names and terms.
    Strong,
    /// Identifiers recognised by weaker evidence (national phone numbers,
    /// bare digit runs, tickets, person names). These are dropped when they
    /// lie entirely inside a must-keep span.
    Weak,
}

/// A candidate redaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Candidate {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) kind: RedactionKind,
    pub(crate) tier: Tier,
    /// Member operator names and sensitive terms: never dropped by an
    /// allow-list.
    pub(crate) locked: bool,
}

/// Candidates collected by the detectors.
#[derive(Default, Debug)]
pub(crate) struct Found {
    pub(crate) redact: Vec<Candidate>,
}

impl Found {
    pub(crate) fn redact(&mut self, start: usize, end: usize, kind: RedactionKind, tier: Tier) {
        if start < end {
            self.redact.push(Candidate {
                start,
                end,
                kind,
                tier,
                locked: false,
            });
        }
    }

    /// A candidate that an allow-list cannot drop.
    fn redact_locked(&mut self, start: usize, end: usize, kind: RedactionKind, tier: Tier) {
        if start < end {
            self.redact.push(Candidate {
                start,
                end,
                kind,
                tier,
                locked: true,
            });
        }
    }
}

/// Scratch buffers reused across the passes of one `scrub` call.
#[derive(Default, Debug)]
struct Work {
    folded: String,
    bounded: String,
    zones: Zones,
    found: Found,
    intros: Vec<(usize, usize, usize)>,
    protected: Vec<(usize, usize)>,
    allowed: Vec<(usize, usize)>,
    triggers: Vec<(usize, usize, usize)>,
}

/// An accepted redaction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Span {
    start: usize,
    end: usize,
    kind: RedactionKind,
}

/// Does `start..end` overlap one of the sorted, disjoint `spans`?
fn overlaps(spans: &[(usize, usize)], start: usize, end: usize) -> bool {
    let i = spans.partition_point(|&(s, _)| s < end);
    i > 0 && spans[i - 1].1 > start
}

/// Is `start..end` entirely inside one of the sorted (possibly overlapping)
/// `spans`?
fn inside_any(spans: &[(usize, usize)], start: usize, end: usize) -> bool {
    let i = spans.partition_point(|&(s, _)| s <= start);
    spans[..i].iter().rev().take(8).any(|&(_, e)| e >= end)
}

/// Existing placeholders in `text` (they are never matched again).
fn placeholders(text: &str, out: &mut Vec<(usize, usize)>) {
    for (i, _) in text.match_indices('[') {
        let rest = &text[i..];
        if let Some(kind) = RedactionKind::ALL
            .iter()
            .find(|k| rest.starts_with(k.placeholder()))
        {
            out.push((i, i + kind.placeholder().len()));
        }
    }
}

/// Picks the winning candidates: drops those touching an existing
/// placeholder, then accepts greedily by (tier, longest, leftmost, most
/// specific kind) without overlaps, skipping weak ones inside must-keep
/// spans.
fn resolve(
    text: &str,
    candidates: &mut Vec<Candidate>,
    protected: &mut Vec<(usize, usize)>,
    allowed: &mut [(usize, usize)],
) -> Vec<Span> {
    if candidates.is_empty() {
        return Vec::new();
    }
    protected.clear();
    placeholders(text, protected);
    if !protected.is_empty() {
        candidates.retain(|c| !overlaps(protected, c.start, c.end));
    }
    if !allowed.is_empty() {
        allowed.sort_unstable();
        candidates.retain(|c| c.locked || !inside_any(allowed, c.start, c.end));
    }
    candidates.sort_unstable_by(|a, b| {
        let key = |c: &Candidate| {
            (
                c.tier,
                usize::MAX - (c.end - c.start),
                c.start,
                c.kind.specificity(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut accepted: BTreeMap<usize, (usize, RedactionKind)> = BTreeMap::new();
    for c in candidates.iter() {
        let clash = accepted
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, &(end, _))| end > c.start);
        // Weak candidates inside a must-keep span are dropped; checked only
        // for the candidates that would otherwise win (same result as
        // filtering first, much less work).
        // Every must-keep span holds a digit, so a candidate without one
        // cannot lie inside one (and the check is not cheap).
        if !clash
            && (c.tier != Tier::Weak
                || !may_be_kept(text, c)
                || !keep::covered_by_keep(text, c.start, c.end))
        {
            accepted.insert(c.start, (c.end, c.kind));
        }
    }
    accepted
        .into_iter()
        .map(|(start, (end, kind))| Span { start, end, kind })
        .collect()
}

/// Can a must-keep span cover this weak candidate? Every must-keep span
/// holds a digit, and a name-like candidate that starts with a letter
/// could only lie inside the keyword of one ("build", "SIP"): neither is
/// possible for element names, accounts, persons and addresses starting
/// with a letter. The check itself is a regex over a window, so skip it
/// where it cannot matter.
fn may_be_kept(text: &str, c: &Candidate) -> bool {
    let bytes = &text.as_bytes()[c.start..c.end];
    if !bytes.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let named = matches!(
        c.kind,
        RedactionKind::Host
            | RedactionKind::Account
            | RedactionKind::Person
            | RedactionKind::Address
    );
    !(named && bytes[0].is_ascii_alphabetic() && !matches!(bytes[0], b'v' | b'V'))
}

/// Replaces every span of `text` by its placeholder.
fn render(text: &str, spans: &[Span]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for s in spans {
        out.push_str(text.get(pos..s.start).unwrap_or_default());
        out.push_str(s.kind.placeholder());
        pos = s.end;
    }
    out.push_str(text.get(pos..).unwrap_or_default());
    out
}

/// Merges `extra` (offsets into the text rendered from `spans`) into `spans`
/// (offsets into the original text).
fn merge(spans: &[Span], extra: &[Span]) -> Vec<Span> {
    // For each original span: where its placeholder starts and ends in the
    // rendered text.
    let mut layout = Vec::with_capacity(spans.len());
    let mut shift: isize = 0;
    for s in spans {
        let r_start = s.start.saturating_add_signed(shift);
        let r_end = r_start + s.kind.placeholder().len();
        shift += s.kind.placeholder().len() as isize - (s.end - s.start) as isize;
        layout.push((r_start, r_end, shift));
    }
    // Maps a rendered offset to an original one. Offsets inside a placeholder
    // map to the start (`is_end == false`) or end of the redacted original.
    let map = |p: usize, is_end: bool| -> usize {
        let i = layout.partition_point(|&(r_start, _, _)| r_start < p);
        if i == 0 {
            return p;
        }
        let (_, r_end, shift_after) = layout[i - 1];
        match (is_end, p < r_end, p <= r_end) {
            (false, true, _) => spans[i - 1].start,
            (true, _, true) => spans[i - 1].end,
            _ => p.saturating_add_signed(-shift_after),
        }
    };
    // Both lists are sorted and internally disjoint; merge them, uniting
    // any overlap (the later pass's kind wins: it saw more context).
    let mut all: Vec<(Span, bool)> = spans.iter().map(|&s| (s, false)).collect();
    all.extend(extra.iter().map(|e| {
        let span = Span {
            start: map(e.start, false),
            end: map(e.end, true),
            kind: e.kind,
        };
        (span, true)
    }));
    all.sort_unstable_by_key(|(s, _)| (s.start, s.end));
    let mut merged: Vec<(Span, bool)> = Vec::with_capacity(all.len());
    for (span, is_extra) in all {
        match merged.last_mut() {
            Some((last, last_extra)) if span.start < last.end => {
                last.end = last.end.max(span.end);
                if is_extra && !*last_extra {
                    last.kind = span.kind;
                    *last_extra = true;
                }
            }
            _ => merged.push((span, is_extra)),
        }
    }
    merged.into_iter().map(|(s, _)| s).collect()
}
