//! Case-insensitive, whole-word matching of operator names and sensitive terms.
//!
//! Names are compiled once into an Aho-Corasick automaton over *folded*
//! patterns. At scrub time the text is folded the same way into a buffer of
//! exactly the same byte length (see [`fold_into`]), so a match in the folded
//! buffer is a match at the same byte offsets in the original text.

use std::collections::BTreeSet;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Names longer than this (in bytes, after normalisation) are ignored: they
/// are not names but pasted text, and would only bloat the automaton.
const MAX_NAME_LEN: usize = 200;

/// Up to this many patterns the automaton is built as a full DFA.
const MAX_DFA_PATTERNS: usize = 2_000;

/// Separators used to generate spelling variants of multi-word names
/// (`Acme Mobile` -> `acme-mobile`, `acme_mobile`, `acme.mobile`, `acmemobile`).
const JOINERS: [&str; 5] = [" ", "-", "_", ".", ""];

/// A compiled set of names (operator names and aliases, or sensitive terms),
/// optionally with extra keywords found in the same scan (the words that
/// introduce person names).
#[derive(Debug, Clone)]
pub(crate) struct NameMatcher {
    engine: Engine,
    /// Patterns `0..names` are name variants; the rest are keywords.
    names: usize,
    /// Keywords from this index on are word endings ("straße" in
    /// "Hauptstraße"): only their right boundary is checked.
    suffix_from: usize,
}

#[derive(Debug, Clone)]
enum Engine {
    Empty,
    Automaton(AhoCorasick),
    /// Only used if the automaton cannot be built (it cannot for names within
    /// [`MAX_NAME_LEN`], but building must never panic).
    Naive(Vec<String>),
}

impl NameMatcher {
    pub(crate) fn new(names: &[String]) -> Self {
        Self::with_keywords(names, &[])
    }

    /// `keywords` must already be folded (lower case).
    pub(crate) fn with_keywords(names: &[String], keywords: &[&str]) -> Self {
        Self::with_keyword_suffixes(names, keywords, usize::MAX)
    }

    /// Like [`NameMatcher::with_keywords`]; keywords from index
    /// `suffix_from` on only need to end a word.
    pub(crate) fn with_keyword_suffixes(
        names: &[String],
        keywords: &[&str],
        suffix_from: usize,
    ) -> Self {
        let mut set = BTreeSet::new();
        for name in names {
            add_variants(name, &mut set);
        }
        let names = set.len();
        let mut patterns: Vec<String> = set.into_iter().collect();
        patterns.extend(keywords.iter().map(|k| k.to_string()));
        let engine = if patterns.is_empty() {
            Engine::Empty
        } else {
            // A full DFA is the fastest to search and small for a few hundred
            // short names; beyond that let the library choose (a DFA over
            // thousands of patterns costs a lot of memory and build time).
            let kind = (patterns.len() <= MAX_DFA_PATTERNS).then_some(AhoCorasickKind::DFA);
            match AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .kind(kind)
                .build(&patterns)
                .or_else(|_| {
                    AhoCorasick::builder()
                        .match_kind(MatchKind::Standard)
                        .build(&patterns)
                }) {
                Ok(ac) => Engine::Automaton(ac),
                Err(_) => Engine::Naive(patterns),
            }
        };
        NameMatcher {
            engine,
            names,
            suffix_from,
        }
    }

    pub(crate) fn empty() -> Self {
        NameMatcher {
            engine: Engine::Empty,
            names: 0,
            suffix_from: usize::MAX,
        }
    }

    /// Number of compiled name spelling variants.
    pub(crate) fn pattern_count(&self) -> usize {
        self.names
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.names == 0
    }

    /// Calls `on_name(start, end)` for every whole-word occurrence of a name
    /// and `on_keyword(index, start, end)` for every whole-word occurrence of
    /// a keyword (overlapping occurrences included, in no particular order).
    /// `folded` must be the output of [`fold_into`] for `text`.
    pub(crate) fn find(
        &self,
        text: &str,
        folded: &str,
        mut on_name: impl FnMut(usize, usize),
        mut on_keyword: impl FnMut(usize, usize, usize),
    ) {
        let mut report = |id: usize, start: usize, end: usize| {
            let suffix = id >= self.names && id - self.names >= self.suffix_from;
            let ok = if suffix {
                ends_word(text, start, end)
            } else {
                whole_word(text, start, end)
            };
            if ok {
                if id < self.names {
                    on_name(start, end);
                } else {
                    on_keyword(id - self.names, start, end);
                }
            }
        };
        match &self.engine {
            Engine::Empty => {}
            Engine::Automaton(ac) => {
                for m in ac.find_overlapping_iter(folded) {
                    report(m.pattern().as_usize(), m.start(), m.end());
                }
            }
            Engine::Naive(patterns) => {
                for (id, pattern) in patterns.iter().enumerate() {
                    for (start, _) in folded.match_indices(pattern.as_str()) {
                        report(id, start, start + pattern.len());
                    }
                }
            }
        }
    }
}

/// True when `c` is a letter or a digit of the same category as `edge`, i.e.
/// the match would cut a word (`orange|ry`) or a number (`O2|3`) in two.
fn glued(adjacent: Option<char>, edge: Option<char>) -> bool {
    match (adjacent, edge) {
        (Some(a), Some(e)) => {
            (a.is_alphabetic() && e.is_alphabetic()) || (a.is_numeric() && e.is_numeric())
        }
        _ => false,
    }
}

/// The match ends a word (whatever comes before it).
fn ends_word(text: &str, start: usize, end: usize) -> bool {
    match (text.get(start..end), text.get(end..)) {
        (Some(inner), Some(after)) => !glued(after.chars().next(), inner.chars().next_back()),
        _ => false,
    }
}

/// Whole-word-ish test: the match must not continue a word of the same kind
/// on either side. Letters next to digits are a boundary (`acme01` matches
/// `acme`), so are punctuation, `_` and apostrophes (`Acme's`).
pub(crate) fn whole_word(text: &str, start: usize, end: usize) -> bool {
    let (Some(before), Some(inner), Some(after)) =
        (text.get(..start), text.get(start..end), text.get(end..))
    else {
        return false;
    };
    !glued(before.chars().next_back(), inner.chars().next())
        && !glued(after.chars().next(), inner.chars().next_back())
}

/// Folds one character for matching. The result always has the same UTF-8
/// length as `c`, so folded text keeps the byte offsets of the original.
/// ASCII letters are lower-cased and ASCII whitespace becomes a space; other
/// characters are lower-cased when their lower case is a single character
/// of the same length (true for nearly all letters), and kept otherwise.
pub(crate) fn fold_char(c: char) -> char {
    if c.is_ascii() {
        if c.is_ascii_whitespace() {
            ' '
        } else {
            c.to_ascii_lowercase()
        }
    } else {
        let mut lower = c.to_lowercase();
        match (lower.next(), lower.next()) {
            (Some(l), None) if l.len_utf8() == c.len_utf8() => l,
            _ => c,
        }
    }
}

/// Writes the folded form of `text` into `buf` (cleared first). The result has
/// exactly `text.len()` bytes and the same character boundaries.
pub(crate) fn fold_into(text: &str, buf: &mut String) {
    // Folded as bytes in place (every replacement has the length of what it
    // replaces) and validated once: `String::replace_range` would move the
    // rest of the buffer at every newline.
    let mut out = std::mem::take(buf).into_bytes();
    out.clear();
    out.extend_from_slice(text.as_bytes());
    out.make_ascii_lowercase();
    let mut i = 0;
    while i < out.len() {
        let b = out[i];
        if b < 0x80 {
            if b != b' ' && b.is_ascii_whitespace() {
                out[i] = b' ';
            }
            i += 1;
            continue;
        }
        // A multi-byte character: fold it in place (same length).
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            i += 1;
            continue;
        };
        let folded = fold_char(c);
        if folded != c {
            let mut tmp = [0u8; 4];
            let encoded = folded.encode_utf8(&mut tmp).as_bytes();
            out[i..i + encoded.len()].copy_from_slice(encoded);
        }
        i += c.len_utf8();
    }
    *buf = String::from_utf8(out).unwrap_or_else(|_| text.to_owned());
    debug_assert_eq!(buf.len(), text.len());
}

pub(crate) fn fold_str(s: &str) -> String {
    s.chars().map(fold_char).collect()
}

/// A name is only matched when it has at least two letters or digits, and a
/// purely numeric name needs at least four digits: `3` or `02` would
/// otherwise erase counts, durations and emergency numbers.
fn meaningful(variant: &str) -> bool {
    let alnum = variant.chars().filter(|c| c.is_alphanumeric()).count();
    let letters = variant.chars().filter(|c| c.is_alphabetic()).count();
    alnum >= 2 && (letters > 0 || alnum >= 4)
}

fn insert(set: &mut BTreeSet<String>, variant: String) {
    if meaningful(&variant) && variant.len() <= MAX_NAME_LEN {
        set.insert(variant);
    }
}

/// Adds the folded spelling variants of one name.
pub(crate) fn add_variants(name: &str, set: &mut BTreeSet<String>) {
    let normalised = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if normalised.is_empty() || normalised.len() > MAX_NAME_LEN {
        return;
    }
    let folded = fold_str(&normalised);
    let mut bases = vec![folded.clone()];
    let plain = strip_diacritics(&folded);
    if plain != folded {
        bases.push(plain);
    }
    for base in bases {
        if base.contains('\'') {
            insert(set, base.replace('\'', "\u{2019}"));
        }
        if base.contains('\u{2019}') {
            insert(set, base.replace('\u{2019}', "'"));
        }
        let words: Vec<&str> = base
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if words.len() > 1 {
            for joiner in JOINERS {
                insert(set, words.join(joiner));
            }
        }
        insert(set, base);
    }
}

/// Removes the common Latin diacritics so that `Télécom` also matches
/// `Telecom` (the text is not stripped, only the patterns gain a variant).
pub(crate) fn strip_diacritics(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let plain = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
            'æ' => "ae",
            'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => "c",
            'ď' | 'đ' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
            'ğ' | 'ĝ' | 'ġ' | 'ģ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
            'ķ' => "k",
            'ĺ' | 'ļ' | 'ľ' | 'ł' => "l",
            'ñ' | 'ń' | 'ņ' | 'ň' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
            'œ' => "oe",
            'ŕ' | 'ř' => "r",
            'ś' | 'š' | 'ş' | 'ș' => "s",
            'ß' => "ss",
            'ť' | 'ţ' | 'ț' => "t",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
            'ý' | 'ÿ' => "y",
            'ź' | 'ż' | 'ž' => "z",
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(plain);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(names: &[&str], text: &str) -> Vec<String> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let m = NameMatcher::new(&names);
        let mut folded = String::new();
        fold_into(text, &mut folded);
        let mut out = Vec::new();
        m.find(
            text,
            &folded,
            |s, e| out.push(text[s..e].to_string()),
            |_, _, _| {},
        );
        out
    }

    #[test]
    fn fold_keeps_byte_length() {
        for text in ["ÉTAT İstanbul ẞtraße Ωmega", "a\tb\nc", "ǅ ǈ ﬃ K"] {
            let mut buf = String::new();
            fold_into(text, &mut buf);
            assert_eq!(buf.len(), text.len(), "{text}");
        }
    }

    #[test]
    fn variants_cover_separators_and_diacritics() {
        let found = matches(
            &["Acme Mobile", "Télécom Sud"],
            "ACME-MOBILE, acme_mobile, AcmeMobile, acme.mobile and Telecom Sud, TÉLÉCOM SUD",
        );
        assert_eq!(
            found,
            [
                "ACME-MOBILE",
                "acme_mobile",
                "AcmeMobile",
                "acme.mobile",
                "Telecom Sud",
                "TÉLÉCOM SUD"
            ]
        );
    }

    #[test]
    fn whole_word_rules() {
        assert!(matches(&["Orange"], "the orangery").is_empty());
        assert_eq!(matches(&["Orange"], "Orange's core"), ["Orange"]);
        assert_eq!(matches(&["Orange"], "orange01-sbc"), ["orange"]);
        assert!(matches(&["O2"], "O23 is not it").is_empty());
        assert_eq!(matches(&["O2"], "O2-UK"), ["O2"]);
    }

    #[test]
    fn keywords_are_reported_separately() {
        let m = NameMatcher::with_keywords(&["Acme".to_string()], &["dr", "engineer"]);
        let text = "Dr. Acme and the ACME engineer, not the address";
        let mut folded = String::new();
        fold_into(text, &mut folded);
        let mut names = Vec::new();
        let mut keywords = Vec::new();
        m.find(
            text,
            &folded,
            |s, e| names.push(&text[s..e]),
            |id, s, e| keywords.push((id, &text[s..e])),
        );
        keywords.sort();
        assert_eq!(names, ["Acme", "ACME"]);
        assert_eq!(keywords, [(0, "Dr"), (1, "engineer")]);
        assert_eq!(m.pattern_count(), 1);
    }

    #[test]
    fn trivial_names_are_ignored() {
        let names: Vec<String> = ["3", "", "  ", "02", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(NameMatcher::new(&names).is_empty());
        assert_eq!(NameMatcher::new(&["5012".to_string()]).pattern_count(), 1);
    }
}
