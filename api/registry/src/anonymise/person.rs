//! Person names introduced by a title (`Dr.`, `Mr`, `Mme`) or a role
//! (`CEO`, `engineer`, `contact`).
//!
//! Only the name is redacted; the title or role stays, because it is useful
//! and not identifying ("our on-call engineer [PERSON] restarted the MME").
//! Names are recognised by shape: capitalised words (`Smith`, `O'Neil`,
//! `Jean-Luc`, `Łukasz`), initials (`J.`), upper-case surnames after a first
//! name (`Jean DUPONT`) and lower-case particles between them (`van`, `de`).
//!
//! Names without a title or role ([`untitled`]) are recognised with the
//! given-name and surname lists of `data/names/` (US Census 1990 and Faker
//! locales): a capitalised known given name followed by a capitalised known
//! surname or given name ("Julien Moreau", "Jane Doe", "Mei Ling Tan"), or a
//! given name alone where the words around it make it a person ("called
//! Sophie", "Julien noticed", "Sophie's laptop"). Given names that are also
//! English words ("Will", "Mark", "May") need a surname that is not a word.
//! Capitalised words of organisations, places and the network ("Call
//! Server", "Network Operations", "Media Gateway", "Border Gateway") never
//! start or continue such a name: their first word is not a given name, and
//! stop lists cover the rest.

use std::sync::LazyLock;

use super::lists::FastSet;
use super::{Found, RedactionKind, Tier};

/// Titles that introduce a name (case-sensitive, optional trailing `.`).
const TITLES: &[&str] = &[
    "Mr", "Mrs", "Ms", "Mx", "Miss", "Dr", "Prof", "Sir", "Dame", "Mme", "Mlle", "Herr", "Frau",
    "Messrs",
];

/// Abbreviated titles that need their `.` (`M. Dupont`, `Ing. Rossi`).
const DOTTED_TITLES: &[&str] = &["M", "Sr", "Sra", "Dott", "Ing", "Eng", "Dipl.-Ing"];

/// Roles and functions that introduce a name (case-insensitive, plural too).
const ROLES: &[&str] = &[
    "ceo",
    "cto",
    "cio",
    "cfo",
    "coo",
    "ciso",
    "cso",
    "vp",
    "svp",
    "evp",
    "president",
    "chairman",
    "chairwoman",
    "chairperson",
    "founder",
    "director",
    "manager",
    "engineer",
    "technician",
    "analyst",
    "administrator",
    "admin",
    "sysadmin",
    "supervisor",
    "architect",
    "consultant",
    "specialist",
    "officer",
    "spokesperson",
    "spokesman",
    "spokeswoman",
    "representative",
    "coordinator",
    "controller",
    "contact",
    "colleague",
    "employee",
    "agent",
    "lead",
    "leader",
    "dispatcher",
    "investigator",
    "inspector",
];

/// What an intro word is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Intro {
    /// Case-sensitive title, optional `.` after it.
    Title(&'static str),
    /// Case-sensitive title that includes its `.`.
    DottedTitle(&'static str),
    /// Role, any case.
    Role,
}

/// The intro words as folded patterns, in keyword-index order.
static INTROS: LazyLock<Vec<(String, Intro)>> = LazyLock::new(|| {
    let mut v: Vec<(String, Intro)> = Vec::new();
    for t in TITLES {
        v.push((t.to_ascii_lowercase(), Intro::Title(t)));
    }
    for t in DOTTED_TITLES {
        v.push((
            format!("{}.", t.to_ascii_lowercase()),
            Intro::DottedTitle(t),
        ));
    }
    for r in ROLES {
        v.push((r.to_string(), Intro::Role));
        v.push((format!("{r}s"), Intro::Role));
    }
    v
});

/// The folded keyword patterns to compile into the operator-name automaton,
/// so that the words introducing person names are found in the same scan.
pub(crate) fn intro_keywords() -> Vec<&'static str> {
    INTROS.iter().map(|(p, _)| p.as_str()).collect()
}

/// Checks an intro-keyword hit against its case rules; returns the end of
/// the intro (including a title's `.`) and whether it is a title.
fn intro_at(text: &str, index: usize, start: usize, end: usize) -> Option<(usize, bool)> {
    let (_, intro) = INTROS.get(index)?;
    let word = text.get(start..end)?;
    match intro {
        Intro::Title(t) => {
            let dot = text.get(end..).is_some_and(|r| r.starts_with('.'));
            (word == *t).then_some((end + usize::from(dot), true))
        }
        Intro::DottedTitle(t) => (word.strip_suffix('.') == Some(*t)).then_some((end, true)),
        Intro::Role => Some((end, false)),
    }
}

fn is_role_word(word: &str) -> bool {
    let singular = word.strip_suffix(['s', 'S']).unwrap_or(word);
    ROLES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(word) || r.eq_ignore_ascii_case(singular))
}

/// Capitalised words that follow roles but are not names.
const STOP_WORDS: &[&str] = &[
    "A",
    "About",
    "According",
    "Access",
    "After",
    "All",
    "Also",
    "Ambulance",
    "An",
    "And",
    "Any",
    "Are",
    "As",
    "At",
    "Authority",
    "Before",
    "Board",
    "But",
    "By",
    "Care",
    "Center",
    "Central",
    "Centre",
    "Committee",
    "Core",
    "Council",
    "Customer",
    "Customers",
    "Data",
    "Day",
    "Department",
    "Dept",
    "Desk",
    "Did",
    "Division",
    "Does",
    "During",
    "East",
    "Each",
    "Emergency",
    "Engineering",
    "Europe",
    "Every",
    "Field",
    "Finally",
    "Fire",
    "Fixed",
    "For",
    "Friday",
    "From",
    "Global",
    "Government",
    "Group",
    "Had",
    "Has",
    "Have",
    "He",
    "Her",
    "Here",
    "His",
    "However",
    "I",
    "If",
    "In",
    "Is",
    "It",
    "Its",
    "January",
    "July",
    "Later",
    "Level",
    "Management",
    "March",
    "Meanwhile",
    "Mobile",
    "Monday",
    "National",
    "Network",
    "Networks",
    "Night",
    "No",
    "North",
    "Not",
    "November",
    "October",
    "Of",
    "Office",
    "On",
    "Operations",
    "Operator",
    "Or",
    "Our",
    "Partner",
    "Planning",
    "Platform",
    "Police",
    "Radio",
    "Region",
    "Regional",
    "Regulator",
    "Saturday",
    "Security",
    "September",
    "Service",
    "Services",
    "She",
    "Shift",
    "Since",
    "Some",
    "South",
    "Sunday",
    "Support",
    "System",
    "Systems",
    "Team",
    "Teams",
    "Technical",
    "That",
    "The",
    "Their",
    "Then",
    "There",
    "These",
    "They",
    "This",
    "Those",
    "Thursday",
    "Tier",
    "To",
    "Today",
    "Tomorrow",
    "Transmission",
    "Transport",
    "Tuesday",
    "Unit",
    "Until",
    "Vendor",
    "Voice",
    "Was",
    "We",
    "Wednesday",
    "Were",
    "West",
    "What",
    "When",
    "Which",
    "While",
    "Who",
    "With",
    "Yes",
    "Yesterday",
    "You",
    "December",
    "February",
    "Senior",
    "Junior",
    "Chief",
    "Principal",
    "Head",
    "Deputy",
    "Assistant",
    "Acting",
    "Interim",
    "General",
    "Executive",
    "Product",
    "Project",
    "Program",
    "Programme",
    "Account",
    "Sales",
    "Marketing",
    "Legal",
    "Human",
    "Duty",
    "On-call",
    "Incident",
    "Change",
    "Problem",
];

/// Lower-case particles allowed between name words.
const PARTICLES: &[&str] = &[
    "van", "von", "de", "der", "den", "da", "di", "du", "del", "della", "des", "le", "la", "bin",
    "al", "el", "ten", "ter", "y", "dos", "das",
];

/// Words allowed between a name and a following role
/// ("Jane Doe, our senior NOC engineer").
const ROLE_MODIFIERS: &[&str] = &[
    "our",
    "the",
    "a",
    "an",
    "their",
    "its",
    "senior",
    "junior",
    "lead",
    "chief",
    "principal",
    "field",
    "network",
    "noc",
    "soc",
    "on-call",
    "duty",
    "core",
    "radio",
    "transmission",
    "transport",
    "ip",
    "ims",
    "support",
    "site",
    "night",
    "shift",
    "regional",
    "technical",
    "service",
    "operations",
    "maintenance",
    "test",
    "deputy",
    "assistant",
    "vendor",
    "vendor's",
    "security",
    "project",
    "programme",
    "program",
    "account",
    "customer",
];

const MAX_NAME_WORDS: usize = 4;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    /// `Smith`, `O'Neil`, `Jean-Luc`
    Name,
    /// `J.`
    Initial,
    /// `DUPONT` (only after a name word)
    Caps,
    /// `van`, `de`
    Particle,
}

/// Classifies one space-delimited word; `word` excludes the trailing `.` of
/// an initial, which the caller passes in `dotted`.
fn classify(word: &str, dotted: bool) -> Option<Word> {
    let mut chars = word.chars();
    let first = chars.next()?;
    if PARTICLES.contains(&word) {
        return Some(Word::Particle);
    }
    if !first.is_uppercase() {
        return None;
    }
    if word.chars().count() == 1 {
        return dotted.then_some(Word::Initial);
    }
    if !word
        .chars()
        .all(|c| c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-'))
    {
        return None;
    }
    if word.ends_with(['-', '\'', '\u{2019}']) {
        return None;
    }
    let base = strip_possessive(word);
    if STOP_WORDS.contains(&base)
        || is_role_word(base)
        || TITLES.contains(&base)
        || DOTTED_TITLES.contains(&base)
    {
        return None;
    }
    if base.chars().any(char::is_lowercase) {
        Some(Word::Name)
    } else if base.chars().count() >= 2 {
        Some(Word::Caps)
    } else {
        None
    }
}

fn strip_possessive(word: &str) -> &str {
    word.strip_suffix("'s")
        .or_else(|| word.strip_suffix("\u{2019}s"))
        .unwrap_or(word)
}

/// Longest name word considered, in characters.
const MAX_WORD_CHARS: usize = 40;

/// One word of the text starting at `pos`: `(word, dotted, end)`.
fn word_at(text: &str, pos: usize) -> Option<(&str, bool, usize)> {
    let rest = text.get(pos..)?;
    let mut len = rest.len();
    for (n, (i, c)) in rest.char_indices().enumerate() {
        if !(c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-')) {
            len = i;
            break;
        }
        if n >= MAX_WORD_CHARS {
            return None;
        }
    }
    if len == 0 {
        return None;
    }
    let word = &rest[..len];
    let dotted = rest[len..].starts_with('.');
    Some((
        word,
        dotted,
        pos + len + usize::from(dotted && word.chars().count() == 1),
    ))
}

/// Parses a name starting at `pos`; returns its span. The name must contain
/// at least one [`Word::Name`], and at least `min_words` name-like words.
fn parse_forward(text: &str, pos: usize, min_words: usize) -> Option<(usize, usize)> {
    let mut cursor = pos;
    let mut end = None;
    let mut words = 0;
    let mut has_name = false;
    let mut particles = 0;
    let mut last_was_name = false;
    for _ in 0..MAX_NAME_WORDS + 2 {
        let Some((word, dotted, word_end)) = word_at(text, cursor) else {
            break;
        };
        match classify(word, dotted) {
            Some(Word::Particle) if words > 0 && particles < 2 => particles += 1,
            Some(Word::Name) => {
                has_name = true;
                last_was_name = true;
                words += 1;
                particles = 0;
                end = Some(cursor + strip_possessive(word).len());
            }
            Some(Word::Initial) => {
                words += 1;
                last_was_name = false;
                particles = 0;
                end = Some(word_end);
            }
            Some(Word::Caps) if last_was_name || particles > 0 => {
                words += 1;
                particles = 0;
                end = Some(cursor + strip_possessive(word).len());
            }
            _ => break,
        }
        if words >= MAX_NAME_WORDS || word != strip_possessive(word) {
            break;
        }
        // Words must be separated by exactly one space (or the `.` of an
        // initial followed by a space).
        match text.get(word_end..).and_then(|r| r.chars().next()) {
            Some(' ') => cursor = word_end + 1,
            _ => break,
        }
    }
    match end {
        Some(end) if has_name && words >= min_words => Some((pos, end)),
        _ => None,
    }
}

/// Parses a name that ends just before `pos` (going backwards): used for
/// "Jane Doe, our NOC engineer" and "Jane Doe (engineer)". Needs at least
/// two name words.
fn parse_backward(text: &str, pos: usize) -> Option<(usize, usize)> {
    let before = text.get(..pos)?;
    let end = before.trim_end_matches(' ').len();
    let words: Vec<(usize, &str)> = before[..end]
        .rsplitn(MAX_NAME_WORDS, ' ')
        .scan(end, |cursor, w| {
            *cursor -= w.len();
            let start = *cursor;
            *cursor = cursor.saturating_sub(1);
            Some((start, w))
        })
        .collect();
    let mut start = None;
    let mut count = 0;
    let mut has_name = false;
    for (i, (word_start, word)) in words.iter().enumerate() {
        if i == MAX_NAME_WORDS - 1 && words.len() == MAX_NAME_WORDS {
            // rsplitn's last piece is the rest of the text.
            break;
        }
        let (bare, dotted) = match word.strip_suffix('.') {
            Some(b) => (b, true),
            None => (*word, false),
        };
        match classify(bare, dotted) {
            Some(Word::Name) => has_name = true,
            Some(Word::Caps | Word::Initial) => {}
            _ => break,
        }
        if bare
            .chars()
            .any(|c| !(c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-')))
        {
            break;
        }
        count += 1;
        start = Some(*word_start);
    }
    match start {
        Some(start) if has_name && count >= 2 => Some((start, end)),
        _ => None,
    }
}

/// How far back from a role the "Jane Doe, our NOC engineer" form is
/// looked for (bytes).
const BACKWARD_WINDOW: usize = 120;

/// Finds names introduced by titles and roles. `intros` are the keyword hits
/// `(keyword index, start, end)` reported by the operator-name automaton.
pub(crate) fn persons(text: &str, intros: &[(usize, usize, usize)], found: &mut Found) {
    for &(index, start, end) in intros {
        let Some((intro_end, titled)) = intro_at(text, index, start, end) else {
            continue;
        };
        // Forward: "Dr. Jane Smith", "engineer John Doe", "contact: Jane Doe".
        let rest = text.get(intro_end..).unwrap_or("");
        let gap = rest
            .char_indices()
            .take(4)
            .find(|&(_, c)| !(c == ' ' || c == ':' || c == ',' || c == '\t'))
            .map(|(i, _)| i);
        if let Some(gap) = gap {
            let between = &rest[..gap];
            let ok_gap = if titled {
                gap <= 1 && !between.contains([':', ','])
            } else {
                gap >= 1 && between.matches([':', ',']).count() <= 1
            };
            if ok_gap && let Some((s, e)) = parse_forward(text, intro_end + gap, 1) {
                found.redact(s, e, RedactionKind::Person, Tier::Weak);
            }
        }
        if !titled {
            backward(text, start, found);
        }
    }
}

/// "Jane Doe, our NOC engineer", "Jane Doe (engineer)": a name before a
/// comma or parenthesis, then up to three modifier words, then the role
/// starting at `role_start`.
fn backward(text: &str, role_start: usize, found: &mut Found) {
    let mut window_start = role_start.saturating_sub(BACKWARD_WINDOW);
    while !text.is_char_boundary(window_start) {
        window_start += 1;
    }
    let Some(window) = text.get(window_start..role_start) else {
        return;
    };
    let mut pos = window.len();
    for _ in 0..3 {
        let before = window[..pos].trim_end_matches(' ');
        let Some(word_start) = before.rfind(' ').map(|i| i + 1) else {
            break;
        };
        let word = &before[word_start..];
        let (paren, word) = match word.strip_prefix('(') {
            Some(w) => (true, w),
            None => (false, word),
        };
        if !is_role_modifier(word) {
            break;
        }
        // Keep an opening parenthesis for the check below.
        pos = word_start + usize::from(paren);
        if paren {
            break;
        }
    }
    let before = window[..pos].trim_end_matches(' ');
    let stem = before
        .strip_suffix(',')
        .or_else(|| before.strip_suffix('('))
        .or_else(|| before.strip_suffix(" -"));
    if let Some(stem) = stem
        && let Some((s, e)) = parse_backward(window, stem.len())
        // A name cut by the window edge is not a name.
        && (s > 0 || window_start == 0)
    {
        found.redact(
            window_start + s,
            window_start + e,
            RedactionKind::Person,
            Tier::Weak,
        );
    }
}

fn is_role_modifier(word: &str) -> bool {
    ROLE_MODIFIERS.iter().any(|m| m.eq_ignore_ascii_case(word))
}

/// Capitalised words that are not part of a person's name even when a name
/// list has them ("Jane Server" is not a name; "Grace Period" neither).
const NOT_NAME_WORDS: &[&str] = &[
    "server",
    "servers",
    "gateway",
    "gateways",
    "network",
    "networks",
    "operations",
    "core",
    "media",
    "border",
    "service",
    "services",
    "cluster",
    "centre",
    "center",
    "controller",
    "function",
    "router",
    "switch",
    "node",
    "nodes",
    "platform",
    "group",
    "street",
    "road",
    "avenue",
    "exchange",
    "station",
    "tower",
    "site",
    "sites",
    "data",
    "cloud",
    "call",
    "calls",
    "control",
    "session",
    "policy",
    "register",
    "home",
    "location",
    "subscriber",
    "mobile",
    "management",
    "engine",
    "protocol",
    "portal",
    "bridge",
    "link",
    "line",
    "park",
    "plaza",
    "hall",
    "house",
    "building",
    "campus",
    "hub",
    "room",
    "floor",
    "bay",
    "rack",
    "power",
    "energy",
    "grid",
    "water",
    "fire",
    "police",
    "ambulance",
    "hospital",
    "university",
    "college",
    "school",
    "airport",
    "stadium",
    "arena",
    "valley",
    "river",
    "lake",
    "mountain",
    "hill",
    "beach",
    "port",
    "harbour",
    "harbor",
    "bank",
    "capital",
    "labs",
    "lab",
    "systems",
    "system",
    "software",
    "solutions",
    "technologies",
    "corp",
    "inc",
    "ltd",
    "limited",
    "company",
    "co",
    "authority",
    "agency",
    "ministry",
    "office",
    "commission",
    "board",
    "council",
    "court",
    "period",
    "time",
    "day",
    "night",
    "week",
    "month",
    "year",
    "hour",
    "minute",
    "team",
    "support",
    "desk",
    "operator",
    "operators",
    "carrier",
    "partner",
    "vendor",
    "customer",
    "customers",
    "region",
    "zone",
    "area",
    "county",
    "state",
    "city",
    "town",
    "village",
    "district",
    "province",
    "north",
    "south",
    "east",
    "west",
    "central",
    "upper",
    "lower",
    "new",
    "old",
    "great",
    "little",
    "saint",
    "st",
    "fort",
    "mount",
    "lord",
    "king",
    "queen",
    "prince",
    "princess",
    "bay",
    "cape",
    "island",
    "islands",
    "coast",
    "gulf",
    "sea",
    "ocean",
    "release",
    "version",
    "update",
    "upgrade",
    "patch",
    "build",
    "test",
    "tests",
    "review",
    "report",
    "reports",
    "analysis",
    "summary",
    "timeline",
    "impact",
    "cause",
    "resolution",
    "lessons",
    "lesson",
    "action",
    "actions",
    "incident",
    "outage",
    "event",
    "events",
    "status",
    "page",
    "pages",
    "status",
    "monitor",
    "monitoring",
    "alarm",
    "alarms",
    "ticket",
    "change",
    "problem",
    "request",
    "major",
    "minor",
    "critical",
    "high",
    "low",
    "medium",
    "level",
];

/// Words before a lone given name that make it a person ("called Sophie").
const PERSON_CUES_BEFORE: &[&str] = &[
    "named",
    "called",
    "by",
    "told",
    "asked",
    "cc",
    "thanks",
    "thank",
    "ping",
    "pinged",
    "contact",
    "contacted",
    "emailed",
    "messaged",
    "phoned",
    "paged",
    "ask",
    "tell",
    "call",
    "page",
    "dear",
    "hi",
    "hello",
];

/// Words after a lone given name that make it a person ("Julien noticed").
const PERSON_CUES_AFTER: &[&str] = &[
    "said", "says", "wrote", "writes", "saw", "knew", "took", "made", "ran", "went", "came",
    "found", "thinks", "thought", "told", "asked", "agreed", "was", "has", "had", "would", "could",
    "did", "who",
];

/// Capitalised words that start place names: "New York", "Saint Denis",
/// "Port Louis". A name-list word after them is part of the place.
const PLACE_PREFIXES: &[&str] = &[
    "new", "saint", "st", "san", "santa", "sao", "são", "fort", "port", "mount", "lake", "cape",
    "north", "south", "east", "west", "upper", "lower", "great", "little", "old", "royal", "la",
    "le", "los", "las", "el", "bad", "den", "sankt",
];

/// The folded stop words, role words (and plurals) and the words of
/// [`NOT_NAME_WORDS`], as one set.
static NOT_NAME_SET: LazyLock<FastSet<String>> = LazyLock::new(|| {
    let mut set: FastSet<String> = NOT_NAME_WORDS.iter().map(|w| w.to_string()).collect();
    set.extend(STOP_WORDS.iter().map(|w| w.to_lowercase()));
    set.extend(ROLES.iter().map(|w| w.to_string()));
    set.extend(ROLES.iter().map(|w| format!("{w}s")));
    set
});

fn not_name_word(folded: &str) -> bool {
    NOT_NAME_SET.contains(folded)
        || super::lists::is_technical(folded)
        || super::lists::is_country_or_suffix(folded)
}

/// Given-name look-up, including hyphenated given names ("Marc-André",
/// "Jean-Luc": every part a given name).
fn given(folded: &str) -> Option<bool> {
    if let Some(word) = super::lists::given_name(folded) {
        return Some(word);
    }
    if folded.contains('-') {
        let mut any_word = false;
        for part in folded.split('-') {
            any_word |= super::lists::given_name(part)?;
        }
        return Some(any_word);
    }
    None
}

/// Title case: an upper-case letter, then at least one lower-case letter
/// (`Julien`, `O'Neil`, `Marc-André`; not `NOC`, not `J`).
fn title_case(word: &str) -> bool {
    let mut chars = word.chars();
    chars.next().is_some_and(char::is_uppercase) && word.chars().skip(1).any(char::is_lowercase)
}

/// A word that can start a word of a name: not glued to a preceding letter,
/// digit or token punctuation (`svc_Julien`, `x.Jane`, `@Jane`).
fn word_start_ok(text: &str, pos: usize) -> bool {
    !super::context::char_before(text, pos).is_some_and(|c| {
        c.is_alphanumeric() || matches!(c, '_' | '.' | '@' | '-' | '/' | '\\' | '\'' | '\u{2019}')
    })
}

/// The word following `end` after exactly one space, with its folded form.
fn following<'t>(
    text: &'t str,
    folded: &'t str,
    end: usize,
) -> Option<(&'t str, &'t str, bool, usize, usize)> {
    if !text.get(end..)?.starts_with(' ') {
        return None;
    }
    let start = end + 1;
    let (word, dotted, word_end) = word_at(text, start)?;
    let bare_end = start + strip_possessive(word).len();
    Some((word, folded.get(start..bare_end)?, dotted, start, word_end))
}

/// Names without a title or role, from the name lists (see the module
/// documentation).
pub(crate) fn untitled(text: &str, folded: &str, starts: &[usize], found: &mut Found) {
    let mut pos = 0;
    for &start in starts {
        if start < pos || !text[start..].starts_with(|c: char| c.is_uppercase()) {
            continue;
        }
        let Some((word, _, word_end)) = word_at(text, start) else {
            continue;
        };
        pos = word_end.max(start + 1);
        if !word_start_ok(text, start) || !title_case(word) {
            continue;
        }
        let bare = strip_possessive(word);
        let Some(first_folded) = folded.get(start..start + bare.len()) else {
            continue;
        };
        let Some(first_is_word) = given(first_folded) else {
            // Not in the lists: still a person right after "named", or after
            // "called" when "who" follows ("called Lindiwe, who ...").
            // Or before a known surname that is not also a word ("Sjur
            // Haugland", "Tunde Adeyemi"): given-name lists are never
            // complete.
            let end = cued_unknown_name(text, folded, start)
                .or_else(|| unknown_then_surname(text, folded, start, word));
            if let Some(end) = end {
                found.redact(start, end, RedactionKind::Person, Tier::Weak);
                pos = pos.max(end);
            }
            continue;
        };
        if not_name_word(first_folded) {
            continue;
        }
        let possessive = bare.len() != word.len();
        if previous_word_is_place_prefix(text, folded, start) {
            continue;
        }
        // Following name words.
        let mut end = start + bare.len();
        let mut words = 1;
        let mut strong_surname = false;
        let mut cursor = start + word.len();
        let mut particles = 0;
        while words < MAX_NAME_WORDS && !possessive {
            let Some((w, f, dotted, w_start, w_end)) = following(text, folded, cursor) else {
                break;
            };
            if PARTICLES.contains(&w) && particles < 2 {
                particles += 1;
                cursor = w_start + w.len();
                continue;
            }
            if w.chars().count() == 1 && dotted && w.chars().all(char::is_uppercase) {
                // A middle initial: "John F. Kennedy".
                cursor = w_end;
                continue;
            }
            // A surname in capitals after a first name: "Jean DUPONT".
            let capitals_surname = w.len() >= 2
                && w.chars().all(char::is_uppercase)
                && super::lists::surname(f).is_some();
            if !title_case(w) && !capitals_surname {
                break;
            }
            if not_name_word(f) {
                break;
            }
            let sur = super::lists::surname(f);
            let giv = given(f);
            // After a given name that is not a word, an unknown capitalised
            // word is taken as the surname ("Ahmad Faizal"): surname lists
            // are never complete either.
            let unknown_surname = words == 1
                && !first_is_word
                && !super::lists::is_place_like(first_folded)
                && name_shaped(w)
                && !super::lists::is_english_word(f);
            if sur.is_none() && giv.is_none() && !unknown_surname {
                break;
            }
            strong_surname |= unknown_surname;
            strong_surname |= sur == Some(false) || giv == Some(false);
            words += 1;
            particles = 0;
            end = w_start + strip_possessive(w).len();
            cursor = w_start + w.len();
            if strip_possessive(w).len() != w.len() {
                break;
            }
        }
        let accept = if words >= 2 {
            !first_is_word || strong_surname
        } else {
            !first_is_word
                && !super::lists::is_place_like(first_folded)
                && lone_name_context(text, folded, start, start + word.len(), possessive)
        };
        if accept {
            found.redact(start, end, RedactionKind::Person, Tier::Weak);
            pos = pos.max(end);
        }
    }
}

/// A word of letters only (apostrophes and hyphens inside), at least three.
fn name_shaped(word: &str) -> bool {
    let bare = strip_possessive(word);
    bare.chars().count() >= 3
        && bare
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, '\'' | '\u{2019}' | '-'))
}

/// An unknown capitalised word followed by a known surname that is not an
/// English word: returns the end of the surname.
fn unknown_then_surname(text: &str, folded: &str, start: usize, word: &str) -> Option<usize> {
    let bare = strip_possessive(word);
    if bare.len() != word.len() || !name_shaped(word) {
        return None;
    }
    // The cheap test first: most capitalised words are not followed by
    // another one.
    let (w, f, _, w_start, _) = following(text, folded, start + word.len())?;
    if !title_case(w) {
        return None;
    }
    let first = folded.get(start..start + bare.len())?;
    if not_name_word(first)
        || not_name_word(f)
        || PLACE_PREFIXES.contains(&first)
        || super::lists::surname(f) != Some(false)
        || super::lists::is_english_word(first)
        || super::lists::is_place_like(first)
        || previous_word_is_place_prefix(text, folded, start)
    {
        return None;
    }
    Some(w_start + strip_possessive(w).len())
}

/// A capitalised word (and a second one) that the lists do not know, right
/// after "named", or after "called" with "who" after the name.
fn cued_unknown_name(text: &str, folded: &str, start: usize) -> Option<usize> {
    let before = folded.get(..start)?.strip_suffix(' ')?;
    let cue = if before.ends_with(" named") {
        "named"
    } else if before.ends_with(" called") {
        "called"
    } else {
        return None;
    };
    let (word, _, word_end) = word_at(text, start)?;
    let bare = strip_possessive(word);
    let first = folded.get(start..start + bare.len())?;
    if !title_case(word) || not_name_word(first) || super::lists::is_place_like(first) {
        return None;
    }
    let mut end = start + bare.len();
    if bare.len() == word.len()
        && let Some((w, f, _, w_start, _)) = following(text, folded, word_end)
        && title_case(w)
        && !not_name_word(f)
    {
        end = w_start + strip_possessive(w).len();
    }
    let after = text.get(end..)?;
    let who = after.starts_with(", who") || after.starts_with(" who");
    (cue == "named" || who).then_some(end)
}

/// "New York", "Saint Denis": the word before is a capitalised place
/// prefix.
fn previous_word_is_place_prefix(text: &str, folded: &str, start: usize) -> bool {
    let Some(before) = text.get(..start).and_then(|b| b.strip_suffix(' ')) else {
        return false;
    };
    let word_start = before
        .char_indices()
        .rev()
        .take(12)
        .take_while(|&(_, c)| c.is_alphabetic())
        .last()
        .map_or(before.len(), |(i, _)| i);
    let word = &before[word_start..];
    title_case(word)
        && folded
            .get(word_start..before.len())
            .is_some_and(|f| PLACE_PREFIXES.contains(&f))
}

/// Does the context make a lone given name a person? (A possessive alone
/// does not: "Okta's investigation", "Travis's image catalog".)
fn lone_name_context(text: &str, folded: &str, start: usize, end: usize, possessive: bool) -> bool {
    if possessive {
        return false;
    }
    let before = folded[..start].trim_end_matches(' ');
    let prev: &str = before
        .rsplit(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("");
    let prev_glued = before.len() + 1 >= start;
    if prev_glued && !prev.is_empty() && PERSON_CUES_BEFORE.contains(&prev) {
        return true;
    }
    let after = &text[end..];
    if after.starts_with(", who") {
        return true;
    }
    let Some(rest) = after.strip_prefix(' ') else {
        return false;
    };
    let next: &str = rest
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("");
    if next.is_empty() || !next.starts_with(|c: char| c.is_lowercase()) {
        return false;
    }
    PERSON_CUES_AFTER.contains(&next) || (next.len() > 4 && next.ends_with("ed"))
}

/// Most name words taken from found names and searched again.
const MAX_REPEATED_WORDS: usize = 32;

/// A name found once is redacted wherever its words recur as capitalised
/// whole words in the same text: "called Lindiwe, who ... Lindiwe
/// restarted", "engineer Paul Martin ... Martin said".
pub(crate) fn repeat_names(text: &str, starts: &[usize], found: &mut Found) {
    let mut words: Vec<&str> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for c in found
        .redact
        .iter()
        .filter(|c| c.kind == RedactionKind::Person)
    {
        spans.push((c.start, c.end));
        for w in text.get(c.start..c.end).unwrap_or("").split(' ') {
            let w = w.trim_end_matches('.');
            if w.chars().count() >= 3
                && title_case(w)
                && !words.contains(&w)
                && words.len() < MAX_REPEATED_WORDS
            {
                words.push(w);
            }
        }
    }
    if words.is_empty() {
        return;
    }
    // One pass over the capitalised words of the text; a cheap prefix
    // test before reading the word.
    let bytes = text.as_bytes();
    for &start in starts {
        let first = bytes[start];
        if !words.iter().any(|w| w.as_bytes()[0] == first) {
            continue;
        }
        let Some((word, _, _)) = word_at(text, start) else {
            continue;
        };
        let bare = strip_possessive(word);
        let end = start + bare.len();
        if !words.contains(&bare) || !word_start_ok(text, start) {
            continue;
        }
        // Only new places: inside a found name the word is that name's.
        if !spans.iter().any(|&(s, e)| s < end && start < e) {
            found.redact(start, end, RedactionKind::Person, Tier::Weak);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<&str> {
        let matcher = crate::anonymise::names::NameMatcher::with_keywords(&[], &intro_keywords());
        let mut folded = String::new();
        crate::anonymise::names::fold_into(text, &mut folded);
        let mut intros = Vec::new();
        matcher.find(text, &folded, |_, _| {}, |i, s, e| intros.push((i, s, e)));
        let mut found = Found::default();
        persons(text, &intros, &mut found);
        let mut v: Vec<&str> = found.redact.iter().map(|c| &text[c.start..c.end]).collect();
        v.dedup();
        v
    }

    #[test]
    fn titles_and_roles() {
        assert_eq!(names("Dr. Jane Smith called"), ["Jane Smith"]);
        assert_eq!(names("Mr O'Neil's team"), ["O'Neil"]);
        assert_eq!(names("Mme Marie-Claire DUPONT a"), ["Marie-Claire DUPONT"]);
        assert_eq!(names("Prof. J. van der Berg"), ["J. van der Berg"]);
        assert_eq!(names("Lead Architect John Smith"), ["John Smith"]);
        assert_eq!(names("their engineer Dr. Jane Smith"), ["Jane Smith"]);
        assert_eq!(names("Prof. J. van Berg said"), ["J. van Berg"]);
        assert_eq!(names("our CEO Łukasz Nowak said"), ["Łukasz Nowak"]);
        assert_eq!(names("contact: Ahmed Benali"), ["Ahmed Benali"]);
        assert_eq!(names("the engineer restarted it"), Vec::<&str>::new());
        assert_eq!(names("the engineer The"), Vec::<&str>::new());
        assert_eq!(names("engineer NOC"), Vec::<&str>::new());
        assert_eq!(names("Jane Doe, our NOC engineer, said"), ["Jane Doe"]);
        assert_eq!(names("Paul Martin (engineer) said"), ["Paul Martin"]);
        assert_eq!(names("In Paris, the engineer"), Vec::<&str>::new());
    }
}
