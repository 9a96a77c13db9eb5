//! Operators, carriers and brands that are *not* members: the world list in
//! `data/operators.txt` (Debian's mobile-broadband-provider-info) and
//! `data/operators-extra.txt`, compiled once into a shared Aho-Corasick
//! automaton over folded spelling variants.
//!
//! A non-member's name identifies a roaming partner, a peer or a supplier
//! and, through them, often the filer. But the list holds names that are
//! also ordinary words or people's names ("Orange", "Three", "Salt",
//! "Rogers", "Alice") and short acronyms that are also technical terms
//! ("MTC", "AIS", "STS"). Those *weak* names are only taken with operator
//! context: written as listed and followed by a country or an operator word
//! ("Orange Belgium", "Three UK", "Salt Mobile"), or followed by a word such
//! as "customers" or "network", or preceded by "operator", "carrier",
//! "partner". Strong names are taken in any capitalisation except all lower
//! case ("claro" and "vivo" are Spanish and Portuguese words). A following
//! country or operator word is redacted with the name ("Vodafone Ireland").

use std::collections::{BTreeSet, HashMap};
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};
use regex::Regex;

use super::lists;
use super::names::{add_variants, fold_str, whole_word};
use super::scan::Scan;
use super::{Found, RedactionKind, Tier};

#[derive(Debug)]
struct Pattern {
    /// Needs operator context.
    weak: bool,
    /// The listed spellings (for the exact-case check of weak names).
    forms: Vec<&'static str>,
}

#[derive(Debug)]
struct World {
    automaton: AhoCorasick,
    patterns: Vec<Pattern>,
    /// The first word (run of letters and digits) of every pattern: most
    /// capitalised words of a report start no name, and a hash look-up
    /// rules them out before the automaton runs.
    first_words: lists::FastSet<String>,
}

/// The run of letters and digits at the start of `s`.
fn first_word(s: &str) -> &str {
    let end = s
        .char_indices()
        .find(|&(_, c)| !c.is_alphanumeric())
        .map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// Words after a name that show it is the operator ("Orange customers").
const OPERATOR_NOUNS: &[&str] = &[
    "customers",
    "customer",
    "subscribers",
    "subscriber",
    "users",
    "roamers",
    "network",
    "networks",
    "core",
    "ran",
    "sims",
    "sim",
    "peering",
    "interconnect",
    "interconnects",
    "noc",
    "mvno",
];

/// Words before a name that show it is an operator ("roaming partner Salt").
const OPERATOR_CUES: &[&str] = &[
    "operator",
    "operators",
    "carrier",
    "carriers",
    "partner",
    "partners",
    "mvno",
    "mno",
    "provider",
    "peer",
];

fn is_weak(name: &str, word: bool) -> bool {
    let folded = fold_str(name);
    let alnum = name.chars().filter(|c| c.is_alphanumeric()).count();
    word || alnum <= 2
        || lists::given_name(&folded).is_some()
        || lists::is_place_like(&folded)
        || lists::is_technical(&folded)
        || lists::is_country_or_suffix(&folded)
}

static WORLD: LazyLock<Option<World>> = LazyLock::new(|| {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut patterns: Vec<Pattern> = Vec::new();
    let mut strings: Vec<String> = Vec::new();
    for (name, word) in lists::world_operators() {
        // Names of one or two letters ("EE", "O2", "du", "Hi") would match
        // inside thousands of words and cost more than they find: members
        // register their own short names, and the others are left out.
        if name.chars().filter(|c| c.is_alphanumeric()).count() <= 2 {
            continue;
        }
        let weak = is_weak(name, word);
        let mut variants = BTreeSet::new();
        add_variants(name, &mut variants);
        for v in variants {
            // Searched in the bounded text: a leading space anchors every
            // name at a word start.
            let v = format!(" {v}");
            let i = *index.entry(v.clone()).or_insert_with(|| {
                strings.push(v);
                patterns.push(Pattern {
                    weak: false,
                    forms: Vec::new(),
                });
                patterns.len() - 1
            });
            // One weak spelling makes the pattern weak: "Orange" is listed
            // both as a brand and flagged as a word.
            patterns[i].weak |= weak;
            patterns[i].forms.push(name);
        }
    }
    // Searched anchored, a few steps at each capitalised word: the compact
    // NFA keeps those steps in cache (a full DFA for this many patterns is
    // megabytes and misses the cache at every step).
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .start_kind(StartKind::Anchored)
        .kind(Some(AhoCorasickKind::ContiguousNFA))
        .build(&strings)
        .ok()?;
    let first_words = strings
        .iter()
        .map(|p| first_word(p.trim_start()).to_string())
        .collect();
    Some(World {
        automaton,
        patterns,
        first_words,
    })
});

pub(crate) fn warm_up() {
    LazyLock::force(&WORLD);
    LazyLock::force(&GENERIC);
}

/// "Algar Telecom", "Phase3 Telecom", "Nepal Telecom", "Kalimat Telecom":
/// one or two capitalised words before an operator word name an operator
/// even when no list has it. The operator word is found first (a literal
/// search), the capitalised words are then read backwards.
static GENERIC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?-u:\b)(?:Telecom|Telekom|Telecoms|Telecommunications|Telco|Mobile|Mobility|Wireless|Cellular)(?-u:\b)",
    )
    .ok()
});

/// The capitalised word ending just before `end` (one space before
/// `end`): its start.
fn capitalised_word_before(text: &str, end: usize) -> Option<usize> {
    let before = text.get(..end)?.strip_suffix(' ')?;
    let start = before
        .char_indices()
        .rev()
        .take(40)
        .take_while(|&(_, c)| c.is_alphanumeric() || matches!(c, '&' | '\'' | '-'))
        .last()
        .map(|(i, _)| i)?;
    before[start..]
        .starts_with(|c: char| c.is_uppercase() || c.is_ascii_digit())
        .then_some(start)
}

/// Capitalised words before "Telecom" or "Mobile" that do not make an
/// operator name ("Our Mobile", "Nokia Mobile", "Public Safety Mobile").
const NOT_OPERATOR_WORDS: &[&str] = &[
    "the",
    "our",
    "their",
    "a",
    "an",
    "your",
    "this",
    "that",
    "its",
    "his",
    "her",
    "mobile",
    "global",
    "national",
    "international",
    "fixed",
    "private",
    "public",
    "prepaid",
    "postpaid",
    "local",
    "regional",
    "emergency",
    "personal",
    "home",
    "business",
    "enterprise",
    "radio",
    "nokia",
    "ericsson",
    "huawei",
    "zte",
    "samsung",
    "cisco",
    "juniper",
    "apple",
    "android",
    "windows",
    "google",
    "microsoft",
    "amazon",
    "qualcomm",
    "intel",
    "mediatek",
    "critical",
    "safety",
    "first",
    "all",
    "some",
    "many",
    "most",
    "other",
    "and",
    "or",
    "for",
    "with",
    "in",
    "on",
    "at",
    "to",
    "from",
    "by",
    "of",
    "european",
    "american",
    "african",
    "asian",
    "total",
    "major",
    "new",
    "old",
    "legacy",
    "next",
    "digital",
    "smart",
    "virtual",
    "secure",
];

static NOT_OPERATOR_SET: LazyLock<lists::FastSet<&'static str>> =
    LazyLock::new(|| lists::word_set(NOT_OPERATOR_WORDS));

fn generic_operators(scan: Scan<'_>, found: &mut Found) {
    let Some(re) = GENERIC.as_ref() else { return };
    let (text, folded) = (scan.text, scan.folded);
    let usable = |start: usize, end: usize| {
        let word = folded.get(start..end).unwrap_or("");
        !NOT_OPERATOR_SET.contains(word) && !lists::is_technical(word)
    };
    for m in re.find_iter(text) {
        let Some(first) = capitalised_word_before(text, m.start()) else {
            continue;
        };
        if !usable(first, m.start() - 1) {
            continue;
        }
        // A second capitalised word before it: "Liquid Intelligent Telecom".
        let mut start = first;
        if let Some(second) = capitalised_word_before(text, first)
            && usable(second, first - 1)
        {
            start = second;
        }
        found.redact(start, m.end(), RedactionKind::Operator, Tier::Strong);
    }
}

/// The word (letters, digits, `&`, `+`) starting at or after `pos`, skipping
/// spaces and one `'s`: `(start, end)` in bytes.
fn next_word(text: &str, pos: usize) -> Option<(usize, usize)> {
    let rest = text.get(pos..)?;
    let rest_trim = rest
        .strip_prefix("'s")
        .or_else(|| rest.strip_prefix("\u{2019}s"))
        .unwrap_or(rest);
    let skipped = rest.len() - rest_trim.len();
    let spaces = rest_trim.len() - rest_trim.trim_start_matches([' ', '\t']).len();
    if spaces == 0 && skipped == 0 {
        return None;
    }
    let start = pos + skipped + spaces;
    let len = text
        .get(start..)?
        .char_indices()
        .take(40)
        .find(|&(_, c)| !c.is_alphanumeric())
        .map_or_else(|| text.len() - start, |(i, _)| i);
    (len > 0).then_some((start, start + len))
}

/// The word just before `pos` (skipping spaces), folded.
fn prev_word(folded: &str, pos: usize) -> Option<&str> {
    let before = folded.get(..pos)?.trim_end_matches([' ', '\t']);
    let start = before
        .char_indices()
        .rev()
        .take(40)
        .take_while(|&(_, c)| c.is_alphanumeric())
        .last()
        .map(|(i, _)| i)?;
    before.get(start..)
}

/// Finds non-member operator names. Runs over the whole text (names are
/// found in the folded text by the shared automaton).
pub(crate) fn operators(scan: Scan<'_>, starts: &[usize], found: &mut Found) {
    generic_operators(scan, found);
    let Some(world) = WORLD.as_ref() else {
        return;
    };
    let (text, folded) = (scan.text, scan.folded);
    // Names start with a capital letter or a digit where they are written
    // as names ("Vodafone", "1&1", "Telefónica"); an anchored search at each
    // such word start finds the longest name there. Much cheaper than
    // scanning for every name everywhere.
    let bounded = scan.bounded.as_bytes();
    for &at in starts {
        if bounded.get(at) != Some(&b' ')
            || !world
                .first_words
                .contains(first_word(folded.get(at..).unwrap_or("")))
        {
            continue;
        }
        let input = Input::new(scan.bounded)
            .span(at..scan.bounded.len())
            .anchored(Anchored::Yes);
        let Some(m) = world.automaton.find(input) else {
            continue;
        };
        // Pattern " name" at bounded offset s is "name" at text offset s.
        let (start, end) = (m.start(), m.end() - 1);
        if !whole_word(text, start, end) {
            continue;
        }
        let Some(pattern) = world.patterns.get(m.pattern().as_usize()) else {
            continue;
        };
        let Some(original) = text.get(start..end) else {
            continue;
        };
        // An all-lower-case occurrence of a capitalised brand is a word.
        if !original.chars().any(char::is_uppercase)
            && pattern
                .forms
                .iter()
                .all(|f| f.chars().any(char::is_uppercase))
        {
            continue;
        }
        let next = next_word(text, end);
        let next_folded = next.and_then(|(s, e)| folded.get(s..e)).unwrap_or("");
        if pattern.weak {
            let exact = pattern
                .forms
                .iter()
                .any(|f| *f == original || f.to_uppercase() == original);
            let capitalised_next = next
                .and_then(|(s, _)| text.get(s..))
                .is_some_and(|r| r.starts_with(|c: char| c.is_uppercase()));
            let context = (capitalised_next && lists::is_country_or_suffix(next_folded))
                || OPERATOR_NOUNS.contains(&next_folded)
                || prev_word(folded, start).is_some_and(|w| OPERATOR_CUES.contains(&w));
            if !exact || !context {
                continue;
            }
        }
        // "Vodafone Ireland", "Telia Carrier", "Airtel Nigeria Limited".
        let mut span_end = end;
        let mut cursor = next;
        for _ in 0..2 {
            let Some((s, e)) = cursor else { break };
            let word = folded.get(s..e).unwrap_or("");
            let capitalised = text
                .get(s..)
                .is_some_and(|r| r.starts_with(|c: char| c.is_uppercase()));
            // Not across a possessive: "Orange's France network".
            if !capitalised
                || !lists::is_country_or_suffix(word)
                || text.get(span_end..s).is_some_and(|g| g.contains('\''))
            {
                break;
            }
            span_end = e;
            cursor = next_word(text, e);
        }
        found.redact(start, span_end, RedactionKind::Operator, Tier::Strong);
    }
}
