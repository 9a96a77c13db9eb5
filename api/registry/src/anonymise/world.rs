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

use aho_corasick::{AhoCorasick, MatchKind};
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
        let weak = is_weak(name, word);
        let mut variants = BTreeSet::new();
        add_variants(name, &mut variants);
        for v in variants {
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
    let automaton = AhoCorasick::builder()
        .match_kind(MatchKind::Standard)
        .build(&strings)
        .ok()?;
    Some(World {
        automaton,
        patterns,
    })
});

pub(crate) fn warm_up() {
    LazyLock::force(&WORLD);
    LazyLock::force(&GENERIC);
}

/// "Algar Telecom", "Phase3 Telecom", "Nepal Telecom", "Kalimat Telecom":
/// one or two capitalised words before an operator word name an operator
/// even when no list has it.
static GENERIC: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?-u:\b)(\p{Lu}[\p{L}\d&'\-]*(?:\ \p{Lu}[\p{L}\d&'\-]*)?)\ (?:Telecom|Telekom|Telecoms|Telecommunications|Telco|Mobile|Mobility|Wireless|Cellular)(?-u:\b)",
    )
    .ok()
});

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

fn generic_operators(scan: Scan<'_>, found: &mut Found) {
    let Some(re) = GENERIC.as_ref() else { return };
    let (text, folded) = (scan.text, scan.folded);
    if !(folded.contains("tele")
        || folded.contains("mobil")
        || folded.contains("wireless")
        || folded.contains("cellular"))
    {
        return;
    }
    for caps in re.captures_iter(text) {
        let (Some(all), Some(name)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let mut start = name.start();
        // Drop a leading stop word ("Our Algar Telecom" is unlikely, but
        // "The Phase3 Telecom ring" is not).
        let first_end = text[start..name.end()]
            .find(' ')
            .map_or(name.end(), |i| start + i);
        let first = folded.get(start..first_end).unwrap_or("");
        if NOT_OPERATOR_WORDS.contains(&first) || lists::is_technical(first) {
            if first_end == name.end() {
                continue;
            }
            start = first_end + 1;
        }
        let first_end = text[start..name.end()]
            .find(' ')
            .map_or(name.end(), |i| start + i);
        let first = folded.get(start..first_end).unwrap_or("");
        if NOT_OPERATOR_WORDS.contains(&first) || lists::is_technical(first) {
            continue;
        }
        found.redact(start, all.end(), RedactionKind::Operator, Tier::Strong);
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
pub(crate) fn operators(scan: Scan<'_>, found: &mut Found) {
    generic_operators(scan, found);
    let Some(world) = WORLD.as_ref() else {
        return;
    };
    let (text, folded) = (scan.text, scan.folded);
    for m in world.automaton.find_overlapping_iter(folded) {
        let (start, end) = (m.start(), m.end());
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
