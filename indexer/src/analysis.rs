//! Text analysis for incident prose.
//!
//! Policy:
//! - Case is folded; ordinary English words are stemmed (Snowball English).
//! - Telecom vocabulary is kept intact: tokens that contain a digit (`5gc`,
//!   `112`, `408`, `s1-mme`), tokens joined by `-`, `/` or `_` (`p-cscf`,
//!   `hss/udm`), decimal numbers and versions (`3.5`, `10.2.1`) and the words of
//!   [`PROTECTED`] (`volte`, `ims`, `hss`, ...) are never stemmed. A plural of
//!   a protected word is folded onto it (`MMEs` -> `mme`).
//! - At index time a joined token is emitted whole *and* as its parts (the
//!   first part at the whole token's position, the next parts after it), so
//!   `P-CSCF` is found by `p-cscf`, by `cscf` and by the phrase `"p cscf"`.
//! - At query time a joined technical token (a part with a digit, a protected
//!   part, or written in capitals) is looked up whole, while an ordinary
//!   hyphenated word (`call-servers`) becomes the phrase of its stemmed parts.
//!   Positions advance by the number of parts in both modes so phrases that
//!   span such a token still line up.
//! - A small list of spelling variants is normalised in both modes
//!   (`fiber` -> `fibre`), and a few abbreviations also emit a plain-English
//!   concept word at the same position at index time only (`hlr`, `hss`,
//!   `udm` -> `subscriber`; `112`, `911`, `999`, `psap` -> `emergency`), so a
//!   search for the concept finds the abbreviation.
//! - Stop words are kept in the search index (phrases stay exact) and removed
//!   only when building term vectors for similarity and clustering
//!   ([`is_stop_word`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use rustc_hash::FxHasher;

use tantivy::tokenizer::{Token, TokenStream, Tokenizer};

/// Name under which the incident analyser is registered on an index.
pub const ANALYZER_NAME: &str = "incidex_text";

/// Telecom words that are never stemmed.
pub const PROTECTED: &[&str] = &[
    "3gpp", "5gc", "amf", "api", "apn", "ausf", "bgp", "bsc", "bss", "bts", "cdn", "cgnat", "cpe",
    "cscf", "ddos", "dea", "dhcp", "diameter", "dns", "dra", "dwdm", "enodeb", "epc", "esim",
    "ggsn", "gnodeb", "gpon", "gps", "gsm", "gtp", "hlr", "hss", "hvac", "imei", "ims", "imsi",
    "ipv4", "ipv6", "isis", "lte", "mme", "mms", "mpls", "msc", "msisdn", "mtu", "nat", "nodeb",
    "nr", "nrf", "ntp", "olt", "ont", "ospf", "oss", "pcf", "pcrf", "pgw", "psap", "pstn", "ptp",
    "qos", "ran", "rnc", "rpki", "sbc", "sdh", "sgsn", "sgw", "sigtran", "sim", "sip", "smf",
    "sms", "smsc", "ss7", "ssl", "stp", "tdm", "tls", "udm", "umts", "upf", "ups", "ussd", "vlan",
    "volte", "vonr", "vowifi", "vpn",
];

/// Spelling variants folded onto one form in both modes.
const NORMALISE: &[(&str, &str)] = &[
    ("fiber", "fibre"),
    ("fibers", "fibre"),
    ("fibres", "fibre"),
    ("center", "centre"),
    ("centers", "centre"),
    ("centres", "centre"),
    ("datacenter", "datacentre"),
    ("datacentre", "datacentre"),
];

/// Abbreviations that also emit a concept word at index time.
const EXPANSIONS: &[(&str, &str)] = &[
    ("hlr", "subscriber"),
    ("hss", "subscriber"),
    ("udm", "subscriber"),
    ("112", "emergency"),
    ("911", "emergency"),
    ("999", "emergency"),
    ("000", "emergency"),
    ("psap", "emergency"),
    ("volte", "voice"),
    ("vowifi", "voice"),
];

/// English stop words, dropped from similarity and clustering vectors.
const STOP_WORDS: &[&str] = &[
    "a", "about", "above", "across", "after", "again", "against", "all", "also", "am", "an", "and",
    "ani", "any", "are", "around", "as", "at", "be", "becaus", "because", "been", "befor",
    "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do", "doe",
    "does", "doing", "down", "dure", "during", "each", "few", "for", "from", "further", "had",
    "has", "have", "having", "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in",
    "into", "is", "it", "its", "itself", "just", "me", "more", "most", "my", "no", "nor", "not",
    "now", "of", "off", "on", "onc", "once", "onli", "only", "or", "other", "our", "ours", "out",
    "over", "own", "per", "same", "she", "should", "so", "some", "such", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "us", "veri", "very", "via", "was", "we", "were", "what", "when",
    "where", "whi", "which", "while", "who", "whom", "whose", "why", "will", "with", "within",
    "without", "would", "yet", "you", "your",
];

/// Whether an analysed term is a stop word (checked after stemming, so the
/// list holds both plain and stemmed forms).
pub fn is_stop_word(term: &str) -> bool {
    // Called for every token of similarity and clustering vectors: a hash
    // set answers in one probe where the binary search compared ~8 strings.
    static SET: std::sync::OnceLock<
        std::collections::HashSet<&'static str, BuildHasherDefault<FxHasher>>,
    > = std::sync::OnceLock::new();
    term.len() <= STOP_WORD_MAX_LEN
        && SET
            .get_or_init(|| STOP_WORDS.iter().copied().collect())
            .contains(term)
}

/// The longest stop word, in bytes.
const STOP_WORD_MAX_LEN: usize = 7;

fn is_protected(word: &str) -> bool {
    PROTECTED.binary_search(&word).is_ok()
}

fn lookup<'a>(table: &'a [(&'a str, &'a str)], word: &str) -> Option<&'a str> {
    table.iter().find(|(k, _)| *k == word).map(|(_, v)| *v)
}

/// Which side of the index the analyser serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Documents: joined tokens whole and in parts, concept expansions.
    Index,
    /// Queries: technical joined tokens whole, no expansions.
    Query,
}

/// One analysed token: the indexed term, its position and the byte range of
/// the original text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysedToken {
    pub term: String,
    pub position: usize,
    pub from: usize,
    pub to: usize,
}

/// The character at byte `i` of `text` and its length in bytes.
#[inline]
fn char_at(text: &str, i: usize) -> (char, usize) {
    let b = text.as_bytes()[i];
    if b < 0x80 {
        (b as char, 1)
    } else {
        let c = text[i..].chars().next().unwrap_or('\u{fffd}');
        (c, c.len_utf8())
    }
}

/// Splits text into words: runs of alphanumerics, joined by `-`, `/`, `_`
/// between alphanumerics, and by `.` or `,` between digits. Calls
/// `f(from, to, parts)` for each word with the byte ranges of its parts (a
/// dotted number is one part). Allocates nothing but `parts`.
fn for_each_word(
    text: &str,
    parts: &mut Vec<(usize, usize)>,
    mut f: impl FnMut(usize, usize, &[(usize, usize)]),
) {
    for_each_word_while(text, parts, |from, to, parts| {
        f(from, to, parts);
        true
    });
}

/// [`for_each_word`], stopping as soon as `f` returns false.
fn for_each_word_while(
    text: &str,
    parts: &mut Vec<(usize, usize)>,
    mut f: impl FnMut(usize, usize, &[(usize, usize)]) -> bool,
) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    // Whether the character at `i` is alphanumeric, and its length.
    let alnum_at = |i: usize| -> (bool, char, usize) {
        let b = bytes[i];
        if b < 0x80 {
            (b.is_ascii_alphanumeric(), b as char, 1)
        } else {
            let (c, l) = char_at(text, i);
            (c.is_alphanumeric(), c, l)
        }
    };
    // The end of the run of alphanumerics starting at `i`, and its last
    // character.
    let run = |mut i: usize, mut last: char| -> (usize, char) {
        while i < n {
            let b = bytes[i];
            if b < 0x80 {
                if !b.is_ascii_alphanumeric() {
                    break;
                }
                last = b as char;
                i += 1;
            } else {
                let (ok, c, l) = alnum_at(i);
                if !ok {
                    break;
                }
                last = c;
                i += l;
            }
        }
        (i, last)
    };
    // Whether the joiner at `i` continues the word: an alphanumeric follows,
    // and a dot or comma only between digits (decimals, versions,
    // thousands: `7,000,000` must not yield the emergency number 000).
    // Returns (continues, is a dot or comma).
    let joins = |i: usize, last: char| -> (bool, bool) {
        if i + 1 >= n || !matches!(bytes[i], b'-' | b'/' | b'_' | b'.' | b',') {
            return (false, false);
        }
        let (next_ok, next, _) = alnum_at(i + 1);
        if !next_ok {
            return (false, false);
        }
        if matches!(bytes[i], b'.' | b',') {
            (last.is_ascii_digit() && next.is_ascii_digit(), true)
        } else {
            (true, false)
        }
    };
    let mut i = 0;
    while i < n {
        // Skip separators, ASCII ones a byte at a time.
        let b = bytes[i];
        if b < 0x80 {
            if !b.is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
        } else {
            let (ok, _, l) = alnum_at(i);
            if !ok {
                i += l;
                continue;
            }
        }
        let from = i;
        let (end, mut last) = run(i, ' ');
        i = end;
        let (mut more, mut dot) = joins(i, last);
        if !more {
            // The common case: a word of one part.
            if !f(from, i, &[(from, i)]) {
                return;
            }
            continue;
        }
        parts.clear();
        parts.push((from, i));
        let mut has_dot = false;
        while more {
            has_dot |= dot;
            i += 1;
            let part_from = i;
            let (end, l) = run(i, last);
            i = end;
            last = l;
            parts.push((part_from, i));
            (more, dot) = joins(i, last);
        }
        // Dotted numbers are kept whole only: their parts carry no meaning.
        if has_dot {
            parts.clear();
            parts.push((from, i));
        }
        if !f(from, i, parts) {
            return;
        }
    }
}

/// Lowercases `s` into `out` (ASCII without allocating).
#[inline]
fn lowercase_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        out.push_str(&s.to_lowercase());
    }
}

/// Folds one simple (unjoined) lowercase word: normalisation, protected
/// vocabulary and its plurals, then stemming for ordinary words.
fn fold_word(stemmer: &frostem::Stemmer, lower: &str) -> String {
    if let Some(norm) = lookup(NORMALISE, lower) {
        return norm.to_string();
    }
    if is_protected(lower) || lower.chars().any(|c| c.is_ascii_digit()) {
        return lower.to_string();
    }
    if let Some(singular) = lower.strip_suffix('s')
        && is_protected(singular)
    {
        return singular.to_string();
    }
    // Short all-consonant abbreviations (`bgp`, `dns`) survive the stemmer
    // anyway; the stemmer leaves non-ASCII words mostly alone as well.
    stemmer.stem(lower).into_owned()
}

/// A folded word and the concept word it also emits at index time.
#[derive(Debug, Clone)]
struct Folded {
    term: Box<str>,
    expansion: Option<&'static str>,
}

/// Words folded on this thread, so that frequent words are stemmed once:
/// bounded (emptied when full at [`FOLD_CACHE_WORDS`] words, about 4 MB).
struct FoldCache {
    stemmer: frostem::Stemmer,
    words: HashMap<Box<str>, Folded, BuildHasherDefault<FxHasher>>,
}

/// Entries a thread's fold cache holds at most.
const FOLD_CACHE_WORDS: usize = 65_536;

impl FoldCache {
    fn new() -> Self {
        FoldCache {
            stemmer: frostem::Stemmer::new(frostem::Algorithm::English),
            words: HashMap::default(),
        }
    }

    /// The fold of a lowercase simple word, written to `out`; returns its
    /// expansion.
    fn fold(&mut self, lower: &str, out: &mut String) -> Option<&'static str> {
        if let Some(f) = self.words.get(lower) {
            out.clear();
            out.push_str(&f.term);
            return f.expansion;
        }
        let term = fold_word(&self.stemmer, lower);
        let expansion = lookup(EXPANSIONS, &term);
        out.clear();
        out.push_str(&term);
        if self.words.len() >= FOLD_CACHE_WORDS {
            self.words.clear();
        }
        self.words.insert(
            lower.into(),
            Folded {
                term: term.into_boxed_str(),
                expansion,
            },
        );
        expansion
    }
}

thread_local! {
    static FOLD_CACHE: RefCell<FoldCache> = RefCell::new(FoldCache::new());
}

/// Folds a lowercase simple word through this thread's cache; returns the
/// expansion (index mode only uses it).
fn fold_cached(lower: &str, out: &mut String) -> Option<&'static str> {
    FOLD_CACHE.with(|c| match c.try_borrow_mut() {
        Ok(mut cache) => cache.fold(lower, out),
        // Re-entered from within a fold (not done today): no cache.
        Err(_) => {
            let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
            let term = fold_word(&stemmer, lower);
            out.clear();
            out.push_str(&term);
            lookup(EXPANSIONS, &term)
        }
    })
}

/// Reusable buffers of one analysis.
#[derive(Default)]
struct Scratch {
    parts: Vec<(usize, usize)>,
    lower: String,
    term: String,
    part_lower: Vec<String>,
}

/// The analysis itself: calls `emit(term, position, from, to)` for each
/// token, in the order [`analyse`] returns them.
fn analyse_with(
    text: &str,
    mode: Mode,
    scratch: &mut Scratch,
    mut emit: impl FnMut(&str, usize, usize, usize),
) {
    let Scratch {
        parts,
        lower,
        term,
        part_lower,
    } = scratch;
    let mut position = 0usize;
    for_each_word(text, parts, |from, to, parts| {
        let whole_raw = &text[from..to];
        lowercase_into(whole_raw, lower);
        if parts.len() == 1 {
            let expansion = fold_cached(lower, term);
            emit(term, position, from, to);
            if mode == Mode::Index
                && let Some(concept) = expansion
            {
                emit(concept, position, from, to);
            }
            position += 1;
            return;
        }
        while part_lower.len() < parts.len() {
            part_lower.push(String::new());
        }
        for (&(f, t), out) in parts.iter().zip(part_lower.iter_mut()) {
            lowercase_into(&text[f..t], out);
        }
        let part_lower = &part_lower[..parts.len()];
        match mode {
            Mode::Index => {
                emit(lower, position, from, to);
                for (i, (&(f, t), p)) in parts.iter().zip(part_lower).enumerate() {
                    let expansion = fold_cached(p, term);
                    emit(term, position + i, f, t);
                    if let Some(concept) = expansion {
                        emit(concept, position + i, f, t);
                    }
                }
            }
            Mode::Query => {
                let technical = part_lower
                    .iter()
                    .any(|p| p.chars().any(|c| c.is_ascii_digit()) || is_protected(p))
                    || (whole_raw.chars().any(char::is_alphabetic)
                        && !whole_raw.chars().any(char::is_lowercase));
                if technical {
                    emit(lower, position, from, to);
                } else {
                    for (i, (&(f, t), p)) in parts.iter().zip(part_lower).enumerate() {
                        fold_cached(p, term);
                        emit(term, position + i, f, t);
                    }
                }
            }
        }
        position += parts.len();
    });
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs [`analyse_with`] with this thread's buffers (fresh ones when they
/// are in use further up the stack).
fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut Scratch::default()),
    })
}

/// Analyses `text` into tokens for the given mode.
pub fn analyse(text: &str, mode: Mode) -> Vec<AnalysedToken> {
    let mut out = Vec::new();
    with_scratch(|scratch| {
        analyse_with(text, mode, scratch, |term, position, from, to| {
            out.push(AnalysedToken {
                term: term.to_string(),
                position,
                from,
                to,
            })
        })
    });
    out
}

/// Calls `f(term, from, to)` for each token of `text` as [`analyse`]
/// returns them, without allocating a token list.
pub fn for_each_token(text: &str, mode: Mode, mut f: impl FnMut(&str, usize, usize)) {
    with_scratch(|scratch| analyse_with(text, mode, scratch, |term, _, from, to| f(term, from, to)))
}

/// The query terms a snippet highlights, with their weights (as tantivy's
/// `SnippetGenerator` takes them).
#[derive(Debug, Clone)]
pub(crate) struct HighlightTerms {
    terms: std::collections::BTreeMap<String, f32>,
    /// First characters of the terms: a word can only fold to a term with
    /// the same first character (folding keeps it), so other words are
    /// never folded.
    first_chars: Vec<char>,
    /// A term is a concept word that abbreviations emit (`emergency`, ...).
    concepts: bool,
    /// What a word must start with (ASCII-lowercased) to fold to each term:
    /// the term less its last two characters (folding only changes the end
    /// of a word: `happy` -> `happi`, `hoping` -> `hope`). `None` when a
    /// term is not ASCII or is a concept word (whose token is not the
    /// word's fold).
    prefixes: Option<Vec<String>>,
}

impl HighlightTerms {
    pub(crate) fn new(terms: std::collections::BTreeMap<String, f32>) -> Self {
        let mut first_chars: Vec<char> = terms.keys().filter_map(|t| t.chars().next()).collect();
        first_chars.sort_unstable();
        first_chars.dedup();
        let concepts = terms
            .keys()
            .any(|t| EXPANSIONS.iter().any(|(_, c)| *c == t.as_str()));
        let prefixes = (!concepts && terms.keys().all(|t| t.is_ascii())).then(|| {
            terms
                .keys()
                .map(|t| t[..t.len().saturating_sub(2).max(1).min(t.len())].to_string())
                .collect()
        });
        HighlightTerms {
            terms,
            first_chars,
            concepts,
            prefixes,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    fn score(&self, term: &str) -> Option<f32> {
        if term.is_ascii() {
            self.terms.get(term).copied()
        } else {
            self.terms.get(&term.to_lowercase()).copied()
        }
    }
}

fn first_lower(s: &str) -> Option<char> {
    let c = s.chars().next()?;
    if c.is_ascii() {
        Some(c.to_ascii_lowercase())
    } else {
        c.to_lowercase().next()
    }
}

/// The best snippet fragment of a text: the highlighted stretch of at most
/// `max_bytes` bytes, as tantivy's `SnippetGenerator` chooses it over the
/// tokens of the index-mode analyser (fragments cut greedily from the start
/// of the text; the highest sum of matched terms' weights wins, the earliest
/// among equals). The same answer, without analysing words that cannot
/// match: only words starting like a query term are folded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fragment {
    pub(crate) start: usize,
    pub(crate) stop: usize,
    /// Highlighted byte ranges of `text`, in token order.
    pub(crate) highlighted: Vec<std::ops::Range<usize>>,
    score: f32,
}

pub(crate) fn best_fragment(
    text: &str,
    terms: &HighlightTerms,
    max_bytes: usize,
) -> Option<Fragment> {
    if terms.is_empty() {
        return None;
    }
    // Where the last possible match starts: the fragments after it score
    // nothing, so the scan stops once one starts past it.
    let limit = match match_limit(text, terms) {
        Limit::None => return None,
        Limit::At(at) => at,
        Limit::Unknown => usize::MAX,
    };
    let mut cut = Cutter {
        max_bytes,
        cur: Fragment::at(0),
        best: None,
    };
    let mut lower = String::new();
    let mut term = String::new();
    let mut parts = Vec::new();
    for_each_word_while(text, &mut parts, |from, to, parts| {
        if cut.cur.start > limit {
            return false;
        }
        if parts.len() > 1 {
            let whole = &text[from..to];
            let score = match first_lower(whole) {
                Some(c) if terms.first_chars.contains(&c) => {
                    lowercase_into(whole, &mut lower);
                    terms.score(&lower)
                }
                _ => None,
            };
            cut.token(from, to, score);
        }
        for &(f, t) in parts {
            // One simple word (or part): its token, and the concept token
            // when it has one.
            let raw = &text[f..t];
            let first = first_lower(raw).unwrap_or(' ');
            let may_match = terms.first_chars.contains(&first);
            // A concept token matters when it may match, or when the word is
            // longer than a fragment (the repeated token then starts one).
            let concept_may_match = terms.concepts && EXPANSION_FIRST.contains(&first);
            if !may_match && !concept_may_match && t - f <= max_bytes {
                cut.token(f, t, None);
                continue;
            }
            lowercase_into(raw, &mut lower);
            let expansion = fold_cached(&lower, &mut term);
            cut.token(f, t, if may_match { terms.score(&term) } else { None });
            if let Some(concept) = expansion {
                cut.token(f, t, terms.score(concept));
            }
        }
        true
    });
    cut.finish()
}

/// How far into a text a snippet's matches can be.
enum Limit {
    /// No word of the text can fold to a query term.
    None,
    /// No match starts after this byte.
    At(usize),
    /// Not known: the whole text is scanned.
    Unknown,
}

/// Characters outside ASCII whose lowercase holds ASCII letters (`K` Kelvin
/// sign -> `k`, `İ` -> `i̇`): a text holding one is scanned whole.
const ASCII_LOWERING: [char; 2] = ['\u{130}', '\u{212a}'];

fn match_limit(text: &str, terms: &HighlightTerms) -> Limit {
    let Some(prefixes) = &terms.prefixes else {
        return Limit::Unknown;
    };
    if !text.is_ascii() && text.contains(ASCII_LOWERING) {
        return Limit::Unknown;
    }
    LOWER_TEXT.with(|buf| {
        let Ok(mut lower) = buf.try_borrow_mut() else {
            return Limit::Unknown;
        };
        lower.clear();
        lower.push_str(text);
        lower.make_ascii_lowercase();
        prefixes
            .iter()
            .filter_map(|p| lower.rfind(p.as_str()))
            .max()
            .map_or(Limit::None, Limit::At)
    })
}

thread_local! {
    static LOWER_TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// First characters of the words that emit a concept ([`EXPANSIONS`]).
const EXPANSION_FIRST: [char; 7] = ['0', '1', '9', 'h', 'p', 'u', 'v'];

/// tantivy's `search_fragments` and `select_best_fragment_combination`,
/// keeping only the best fragment so far.
struct Cutter {
    max_bytes: usize,
    cur: Fragment,
    best: Option<Fragment>,
}

impl Fragment {
    fn at(start: usize) -> Fragment {
        Fragment {
            start,
            stop: start,
            highlighted: Vec::new(),
            score: 0.0,
        }
    }
}

impl Cutter {
    #[inline]
    fn token(&mut self, from: usize, to: usize, score: Option<f32>) {
        // Offsets never go backwards past a fragment's start; tantivy
        // computes this difference in usize as well.
        if to.wrapping_sub(self.cur.start) > self.max_bytes {
            let done = std::mem::replace(&mut self.cur, Fragment::at(from));
            self.offer(done);
        }
        self.cur.stop = to;
        if let Some(s) = score {
            self.cur.score += s;
            self.cur.highlighted.push(from..to);
        }
    }

    /// The highest score wins, the earliest among equals.
    fn offer(&mut self, f: Fragment) {
        if f.score > 0.0 && self.best.as_ref().is_none_or(|b| f.score > b.score) {
            self.best = Some(f);
        }
    }

    fn finish(mut self) -> Option<Fragment> {
        let last = std::mem::replace(&mut self.cur, Fragment::at(0));
        self.offer(last);
        self.best
    }
}

/// The fragment as HTML: escaped as tantivy's `Snippet::to_html` escapes
/// (`&`, `<`, `>`, `"`, `'`), highlights merged where they overlap and
/// wrapped in `prefix`/`postfix`.
pub(crate) fn fragment_html(text: &str, f: &Fragment, prefix: &str, postfix: &str) -> String {
    let fragment = &text[f.start..f.stop];
    // A joined word longer than a fragment can leave its whole-word
    // highlight reaching past the fragment's end (tantivy then panics on
    // the slice); such a highlight is cut at the end.
    let mut ranges: Vec<std::ops::Range<usize>> = f
        .highlighted
        .iter()
        .map(|r| r.start.clamp(f.start, f.stop) - f.start..r.end.clamp(f.start, f.stop) - f.start)
        .filter(|r| r.start < r.end)
        .collect();
    ranges.sort_by_key(|r| (r.start, r.end));
    ranges.dedup();
    let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if last.end > r.start => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let mut html = String::with_capacity(fragment.len() + 32);
    let mut from = 0;
    for r in merged {
        escape_minimal(&fragment[from..r.start], &mut html);
        html.push_str(prefix);
        escape_minimal(&fragment[r.clone()], &mut html);
        html.push_str(postfix);
        from = r.end;
    }
    escape_minimal(&fragment[from..], &mut html);
    html
}

/// `htmlescape::encode_minimal`, which tantivy's snippets use.
fn escape_minimal(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#x27;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Terms with their frequency and a readable surface form (the most
/// frequent original spelling, lowercased), for similarity and clustering:
/// stop words, one-character terms and bare numbers of more than four digits
/// are left out.
pub fn term_counts(text: &str) -> HashMap<String, (u32, String)> {
    // Per term: its count and its surface forms with their counts (a term
    // rarely has more than two, so a short list beats a map).
    type Surfaces = Vec<(String, u32)>;
    let mut counts: HashMap<String, (u32, Surfaces), BuildHasherDefault<FxHasher>> =
        HashMap::default();
    let mut surface = String::new();
    for_each_token(text, Mode::Index, |term, from, to| {
        if !is_vector_term(term) {
            return;
        }
        let entry = match counts.get_mut(term) {
            Some(e) => e,
            None => counts.entry(term.to_string()).or_default(),
        };
        entry.0 += 1;
        lowercase_into(&text[from..to], &mut surface);
        match entry.1.iter_mut().find(|(s, _)| *s == surface) {
            Some((_, n)) => *n += 1,
            None => entry.1.push((surface.clone(), 1)),
        }
    });
    counts
        .into_iter()
        .map(|(term, (n, surfaces))| {
            // The most frequent spelling; the first in byte order among
            // equals.
            let surface = surfaces
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
                .map(|(s, _)| s)
                .unwrap_or_else(|| term.clone());
            (term, (n, surface))
        })
        .collect()
}

/// Whether a term is worth a dimension in a similarity vector.
pub fn is_vector_term(term: &str) -> bool {
    if term.chars().count() < 2 || is_stop_word(term) {
        return false;
    }
    // Years, counts, decimals and other numbers are noise for similarity;
    // short codes (112, 408, 5gc) are kept.
    let numeric = term
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',');
    !(numeric && (term.len() > 4 || !term.chars().all(|c| c.is_ascii_digit())))
}

/// The tantivy tokenizer wrapping [`analyse`]. It keeps its token buffer
/// between texts, so indexing allocates nothing per token once warm; in
/// index mode it reuses the tokens of a text analysed just before on the
/// same thread (the `all` field repeats every other text field).
#[derive(Debug)]
pub struct IncidentTokenizer {
    mode: Mode,
    tokens: Vec<Token>,
    len: usize,
}

impl Clone for IncidentTokenizer {
    fn clone(&self) -> Self {
        IncidentTokenizer::new(self.mode)
    }
}

impl IncidentTokenizer {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            tokens: Vec::new(),
            len: 0,
        }
    }

    fn fill(&mut self, text: &str) {
        let mut n = 0usize;
        let tokens = &mut self.tokens;
        with_scratch(|scratch| {
            analyse_with(text, self.mode, scratch, |term, position, from, to| {
                if n == tokens.len() {
                    tokens.push(Token::default());
                }
                let t = &mut tokens[n];
                t.text.clear();
                t.text.push_str(term);
                t.position = position;
                t.offset_from = from;
                t.offset_to = to;
                t.position_length = 1;
                n += 1;
            })
        });
        self.len = n;
    }
}

/// Texts analysed last on this thread in index mode, with their tokens.
struct Recent {
    entries: Vec<(String, Vec<Token>)>,
    next: usize,
}

/// How many texts [`Recent`] keeps, and the longest it keeps.
const RECENT_TEXTS: usize = 8;
const RECENT_MAX_BYTES: usize = 256 * 1024;

thread_local! {
    static RECENT: RefCell<Recent> = const { RefCell::new(Recent { entries: Vec::new(), next: 0 }) };
}

fn copy_tokens(from: &[Token], to: &mut Vec<Token>) {
    if to.len() < from.len() {
        to.resize_with(from.len(), Token::default);
    }
    for (src, dst) in from.iter().zip(to.iter_mut()) {
        dst.text.clear();
        dst.text.push_str(&src.text);
        dst.offset_from = src.offset_from;
        dst.offset_to = src.offset_to;
        dst.position = src.position;
        dst.position_length = src.position_length;
    }
}

/// Token stream over the tokenizer's buffer.
#[derive(Debug)]
pub struct IncidentTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
    /// What `token()` shows before the first `advance()`.
    none: Token,
}

impl Tokenizer for IncidentTokenizer {
    type TokenStream<'a> = IncidentTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> IncidentTokenStream<'a> {
        let memo = self.mode == Mode::Index && text.len() <= RECENT_MAX_BYTES;
        let hit = memo
            && RECENT.with(|r| {
                let r = r.borrow();
                match r.entries.iter().find(|(t, _)| t == text) {
                    Some((_, toks)) => {
                        copy_tokens(toks, &mut self.tokens);
                        self.len = toks.len();
                        true
                    }
                    None => false,
                }
            });
        if !hit {
            self.fill(text);
            if memo {
                RECENT.with(|r| {
                    let mut r = r.borrow_mut();
                    let slot = r.next % RECENT_TEXTS;
                    r.next = r.next.wrapping_add(1);
                    if r.entries.len() <= slot {
                        r.entries.push((String::new(), Vec::new()));
                    }
                    let (t, toks) = &mut r.entries[slot];
                    t.clear();
                    t.push_str(text);
                    let tokens = &self.tokens[..self.len];
                    copy_tokens(tokens, toks);
                    toks.truncate(tokens.len());
                });
            }
        }
        IncidentTokenStream {
            tokens: &mut self.tokens[..self.len],
            next: 0,
            none: Token::default(),
        }
    }
}

impl TokenStream for IncidentTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        match self.next.checked_sub(1) {
            Some(i) => &self.tokens[i],
            None => &self.none,
        }
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.next.checked_sub(1) {
            Some(i) => &mut self.tokens[i],
            None => &mut self.none,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analyser as first written (a character vector, a list of words,
    /// no caches), kept to check the faster one against.
    mod reference {
        use super::super::*;

        fn is_joiner(c: char) -> bool {
            matches!(c, '-' | '/' | '_' | '.' | ',')
        }

        struct RawWord {
            from: usize,
            to: usize,
            parts: Vec<(usize, usize)>,
        }

        /// Splits text into words: runs of alphanumerics, joined by `-`, `/`, `_`
        /// between alphanumerics, and by `.` between digits.
        fn split_words(text: &str) -> Vec<RawWord> {
            let chars: Vec<(usize, char)> = text.char_indices().collect();
            let mut words = Vec::new();
            let mut i = 0;
            while i < chars.len() {
                if !chars[i].1.is_alphanumeric() {
                    i += 1;
                    continue;
                }
                let from = chars[i].0;
                let mut parts = Vec::new();
                let mut part_from = from;
                let mut has_dot = false;
                loop {
                    while i < chars.len() && chars[i].1.is_alphanumeric() {
                        i += 1;
                    }
                    let part_to = chars.get(i).map_or(text.len(), |c| c.0);
                    parts.push((part_from, part_to));
                    // A joiner continues the word only when an alphanumeric follows;
                    // a dot or comma only between digits (decimals, versions,
                    // thousands: `7,000,000` must not yield the emergency number 000).
                    if i + 1 < chars.len()
                        && is_joiner(chars[i].1)
                        && chars[i + 1].1.is_alphanumeric()
                    {
                        if matches!(chars[i].1, '.' | ',') {
                            let prev_digit = chars[i - 1].1.is_ascii_digit();
                            let next_digit = chars[i + 1].1.is_ascii_digit();
                            if !(prev_digit && next_digit) {
                                break;
                            }
                            has_dot = true;
                        }
                        i += 1;
                        part_from = chars[i].0;
                        continue;
                    }
                    break;
                }
                let to = parts.last().map_or(from, |p| p.1);
                // Dotted numbers are kept whole only: their parts carry no meaning.
                if has_dot {
                    parts = vec![(from, to)];
                }
                words.push(RawWord { from, to, parts });
            }
            words
        }

        /// Analyses `text` into tokens for the given mode.
        pub fn analyse(text: &str, mode: Mode) -> Vec<AnalysedToken> {
            let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
            let mut out = Vec::new();
            let mut position = 0usize;
            for word in split_words(text) {
                let whole_raw = &text[word.from..word.to];
                let whole = whole_raw.to_lowercase();
                if word.parts.len() == 1 {
                    let term = fold_word(&stemmer, &whole);
                    let expansion = if mode == Mode::Index {
                        lookup(EXPANSIONS, &term)
                    } else {
                        None
                    };
                    out.push(AnalysedToken {
                        term,
                        position,
                        from: word.from,
                        to: word.to,
                    });
                    if let Some(concept) = expansion {
                        out.push(AnalysedToken {
                            term: concept.to_string(),
                            position,
                            from: word.from,
                            to: word.to,
                        });
                    }
                    position += 1;
                    continue;
                }
                let parts: Vec<(usize, usize, String)> = word
                    .parts
                    .iter()
                    .map(|&(f, t)| (f, t, text[f..t].to_lowercase()))
                    .collect();
                let technical = parts
                    .iter()
                    .any(|(_, _, p)| p.chars().any(|c| c.is_ascii_digit()) || is_protected(p))
                    || (whole_raw.chars().any(char::is_alphabetic)
                        && !whole_raw.chars().any(char::is_lowercase));
                match mode {
                    Mode::Index => {
                        out.push(AnalysedToken {
                            term: whole.clone(),
                            position,
                            from: word.from,
                            to: word.to,
                        });
                        for (i, (f, t, p)) in parts.iter().enumerate() {
                            let term = fold_word(&stemmer, p);
                            let expansion = lookup(EXPANSIONS, &term);
                            out.push(AnalysedToken {
                                term,
                                position: position + i,
                                from: *f,
                                to: *t,
                            });
                            if let Some(concept) = expansion {
                                out.push(AnalysedToken {
                                    term: concept.to_string(),
                                    position: position + i,
                                    from: *f,
                                    to: *t,
                                });
                            }
                        }
                    }
                    Mode::Query if technical => {
                        out.push(AnalysedToken {
                            term: whole,
                            position,
                            from: word.from,
                            to: word.to,
                        });
                    }
                    Mode::Query => {
                        for (i, (f, t, p)) in parts.iter().enumerate() {
                            out.push(AnalysedToken {
                                term: fold_word(&stemmer, p),
                                position: position + i,
                                from: *f,
                                to: *t,
                            });
                        }
                    }
                }
                position += parts.len();
            }
            out
        }
    }

    fn terms(text: &str, mode: Mode) -> Vec<String> {
        analyse(text, mode).into_iter().map(|t| t.term).collect()
    }

    /// Texts mixing the cases the splitter and folder tell apart.
    fn tricky_text() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            "P-CSCF",
            "p-cscf",
            "S1-MME",
            "HSS/UDM",
            "call-servers",
            "MMEs",
            "SBCs",
            "hsses",
            "VoLTE",
            "volte",
            "112",
            "000",
            "7,000,000",
            "10.2.1",
            "3.5",
            "a.b",
            "1,a",
            "x-",
            "-y",
            "fiber",
            "Fibres",
            "datacenter",
            "routers",
            "failed.Then",
            "Störung",
            "façade",
            "İstanbul",
            "ΣΑΣ",
            "東京",
            "½",
            "x_y_z",
            "A-B-C",
            "under_score",
            "dying",
            "skies",
            "hoping",
            "The",
            "and",
            "emergency",
            "Subscriber",
            "psaps",
            "udmness",
            " ",
            "  ",
            "\n",
            ".",
            ",",
            "-",
            "/",
            "_",
            "'",
            "\"",
            "(",
            "é",
            "ß",
            "ǅ",
            "…",
            "possibility",
            "possibly",
            "relational",
            "happy",
            "\u{212a}elvin",
            "Kelvin",
            "İSTANBUL",
            "istanbul",
            "generously",
            "centers",
            "troubled",
        ]);
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn analyser_matches_the_reference(text in tricky_text(), spaced in proptest::bool::ANY) {
            let text = if spaced { text.replace("", " ") } else { text };
            for mode in [Mode::Index, Mode::Query] {
                proptest::prop_assert_eq!(analyse(&text, mode), reference::analyse(&text, mode));
            }
        }

        #[test]
        fn analyser_matches_the_reference_on_any_text(text in "\\PC{0,80}") {
            for mode in [Mode::Index, Mode::Query] {
                proptest::prop_assert_eq!(analyse(&text, mode), reference::analyse(&text, mode));
            }
        }
    }

    /// tantivy's own snippet over the index analyser: fragment text,
    /// highlights and HTML.
    fn tantivy_snippet(
        text: &str,
        terms: &std::collections::BTreeMap<String, f32>,
        max: usize,
    ) -> Option<(String, Vec<std::ops::Range<usize>>, String)> {
        use tantivy::snippet::SnippetGenerator;
        let generator = SnippetGenerator::new(
            terms.clone(),
            tantivy::tokenizer::TextAnalyzer::from(IncidentTokenizer::new(Mode::Index)),
            tantivy::schema::Field::from_field_id(0),
            max,
        );
        let mut s = generator.snippet(text);
        if s.highlighted().is_empty() {
            return None;
        }
        s.set_snippet_prefix_postfix("<mark>", "</mark>");
        Some((
            s.fragment().to_string(),
            s.highlighted().to_vec(),
            s.to_html(),
        ))
    }

    fn ours(
        text: &str,
        terms: &std::collections::BTreeMap<String, f32>,
        max: usize,
    ) -> Option<(String, Vec<std::ops::Range<usize>>, String)> {
        let f = best_fragment(text, &HighlightTerms::new(terms.clone()), max)?;
        let rel = f
            .highlighted
            .iter()
            .map(|r| r.start - f.start..r.end - f.start)
            .collect();
        Some((
            text[f.start..f.stop].to_string(),
            rel,
            fragment_html(text, &f, "<mark>", "</mark>"),
        ))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn snippets_are_tantivys(
            text in tricky_text(),
            picks in proptest::collection::vec(0usize..1000, 0..4),
            extra in proptest::sample::select(vec!["", "emergency", "subscriber", "voice", "router", "p-cscf", "s1"]),
            weights in proptest::collection::vec(1u32..50, 4),
            max in proptest::sample::select(vec![1usize, 3, 5, 10, 20, 40, 80, 200]),
        ) {
            let text = text.replace("  ", " <b>&'\"</b> ");
            let analysed = analyse(&text, Mode::Index);
            let mut terms = std::collections::BTreeMap::new();
            for (i, p) in picks.iter().enumerate() {
                if !analysed.is_empty() {
                    let t = &analysed[p % analysed.len()].term;
                    terms.insert(t.clone(), 1.0 / weights[i] as f32);
                }
            }
            if !extra.is_empty() {
                terms.insert(extra.to_string(), 0.5);
            }
            let theirs = std::panic::catch_unwind(|| tantivy_snippet(&text, &terms, max));
            match theirs {
                Ok(theirs) => proptest::prop_assert_eq!(ours(&text, &terms, max), theirs),
                // tantivy panics on a highlight reaching past its fragment
                // (a joined word longer than the fragment): ours cuts it.
                Err(_) => {
                    let html = ours(&text, &terms, max);
                    proptest::prop_assert!(html.is_some());
                }
            }
        }

        #[test]
        fn folding_keeps_the_first_character(word in "[a-zA-Z0-9\\p{L}]{1,16}") {
            let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
            let lower = word.to_lowercase();
            let folded = fold_word(&stemmer, &lower);
            proptest::prop_assert_eq!(folded.chars().next(), lower.chars().next());
            proptest::prop_assert_eq!(folded.to_lowercase(), folded);
        }
    }

    #[test]
    fn folding_keeps_the_first_character_of_english_words() {
        let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schema/data/telecom/incidents.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut n = 0;
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let lower = w.to_lowercase();
            let folded = fold_word(&stemmer, &lower);
            assert_eq!(folded.chars().next(), lower.chars().next(), "{w}");
            n += 1;
        }
        // Snowball's exceptional forms too.
        for w in [
            "dying",
            "lying",
            "tying",
            "skies",
            "skis",
            "idly",
            "gently",
            "ugly",
            "early",
            "only",
            "singly",
            "news",
            "howe",
            "atlas",
            "cosmos",
            "bias",
            "andes",
            "yelled",
            "yesterday",
            "generously",
            "hoping",
            "ies",
            "sses",
            "ing",
            "ed",
        ] {
            let folded = fold_word(&stemmer, w);
            assert_eq!(folded.chars().next(), w.chars().next(), "{w}");
        }
        assert!(n > 5_000, "{n} words");
    }

    #[test]
    fn a_joined_word_longer_than_the_snippet_is_highlighted_without_panicking() {
        let word = format!("{}b", "a1-".repeat(100));
        let text = format!("before {word} after");
        let mut terms = std::collections::BTreeMap::new();
        terms.insert(word.clone(), 0.5);
        // tantivy's own snippet slices past its fragment here.
        assert!(std::panic::catch_unwind(|| tantivy_snippet(&text, &terms, 200)).is_err());
        let (fragment, _, html) = ours(&text, &terms, 200).expect("a fragment");
        assert!(
            html.starts_with("<mark>") && html.ends_with("</mark>"),
            "{html}"
        );
        assert_eq!(html, format!("<mark>{fragment}</mark>"));
    }

    #[test]
    fn snippets_are_tantivys_on_long_telecom_text() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schema/data/telecom/incidents.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let mut checked = 0;
        for (i, line) in text.lines().enumerate() {
            let analysed = analyse(line, Mode::Index);
            for (j, max) in [(7usize, 200usize), (131, 150), (977, 40), (3, 1000)] {
                let mut terms = std::collections::BTreeMap::new();
                terms.insert(analysed[(i * j) % analysed.len()].term.clone(), 0.25);
                terms.insert(
                    analysed[(i * j * 7 + 1) % analysed.len()].term.clone(),
                    0.125,
                );
                terms.insert("emergency".to_string(), 0.5);
                assert_eq!(
                    ours(line, &terms, max),
                    tantivy_snippet(line, &terms, max),
                    "line {i}"
                );
                checked += 1;
            }
        }
        assert!(checked > 100);
    }

    #[test]
    fn tokenizer_streams_what_analyse_returns_and_reuses_recent_texts() {
        let texts = [
            "The P-CSCF failed after 10.2.1; 112 calls dropped",
            "",
            "Second text with VoLTE",
            "The P-CSCF failed after 10.2.1; 112 calls dropped",
        ];
        let mut tok = IncidentTokenizer::new(Mode::Index);
        for text in texts {
            let mut stream = tok.token_stream(text);
            let mut got = Vec::new();
            while stream.advance() {
                let t = stream.token();
                got.push(AnalysedToken {
                    term: t.text.clone(),
                    position: t.position,
                    from: t.offset_from,
                    to: t.offset_to,
                });
            }
            assert_eq!(got, reference::analyse(text, Mode::Index), "{text:?}");
        }
    }

    #[test]
    fn only_the_listed_characters_lowercase_to_ascii() {
        let found: Vec<char> = (0x80u32..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.to_lowercase().any(|l| l.is_ascii()))
            .collect();
        assert_eq!(found, ASCII_LOWERING.to_vec());
    }

    #[test]
    fn folding_changes_at_most_the_last_two_characters() {
        let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
        let check = |w: &str| {
            let lower = w.to_lowercase();
            let folded = fold_word(&stemmer, &lower);
            let n = folded.chars().count().saturating_sub(2).max(1);
            let prefix: String = folded.chars().take(n).collect();
            assert!(lower.starts_with(&prefix), "{w} -> {folded}");
        };
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../schema/data/telecom/incidents.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        for w in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            check(w);
        }
        for w in [
            "possibility",
            "possibly",
            "relational",
            "conditional",
            "hoping",
            "happy",
            "dying",
            "skies",
            "generously",
            "sensitivity",
            "organization",
            "creation",
            "operator",
            "valency",
            "dependably",
            "fiber",
            "fibers",
            "centers",
            "datacenter",
            "troubled",
            "hopping",
            "ponies",
            "tied",
            "agreed",
            "feed",
            "electricity",
            "electrical",
            "hopefulness",
            "formality",
            "analogies",
            "callousness",
            "MMEs",
        ] {
            check(w);
        }
    }

    proptest::proptest! {
        #[test]
        fn folding_changes_at_most_the_last_two_characters_of_any_word(word in "[a-z]{1,14}(ing|ed|ies|ly|ation|ational|ility|ness|ize|ization|ful|s|y|e)?") {
            let stemmer = frostem::Stemmer::new(frostem::Algorithm::English);
            let folded = fold_word(&stemmer, &word);
            let n = folded.chars().count().saturating_sub(2).max(1);
            let prefix: String = folded.chars().take(n).collect();
            proptest::prop_assert!(word.starts_with(&prefix), "{} -> {}", word, folded);
        }
    }

    #[test]
    fn expansion_first_characters_are_those_of_the_expansions() {
        let mut first: Vec<char> = EXPANSIONS
            .iter()
            .filter_map(|(k, _)| k.chars().next())
            .collect();
        first.sort_unstable();
        first.dedup();
        assert_eq!(first, EXPANSION_FIRST.to_vec());
    }

    #[test]
    fn stop_words_are_found_and_fit_the_length_bound() {
        assert_eq!(
            STOP_WORDS.iter().map(|w| w.len()).max(),
            Some(STOP_WORD_MAX_LEN)
        );
        assert!(STOP_WORDS.iter().all(|w| is_stop_word(w)));
        assert!(!is_stop_word("router") && !is_stop_word("") && !is_stop_word("withouts"));
    }

    #[test]
    fn word_lists_are_sorted_for_binary_search() {
        assert!(
            PROTECTED.windows(2).all(|w| w[0] < w[1]),
            "PROTECTED not sorted"
        );
        assert!(
            STOP_WORDS.windows(2).all(|w| w[0] < w[1]),
            "STOP_WORDS not sorted"
        );
    }

    #[test]
    fn folds_case_and_stems_ordinary_words() {
        assert_eq!(
            terms("Failures Restarted", Mode::Index),
            vec!["failur", "restart"]
        );
    }

    #[test]
    fn keeps_telecom_tokens_intact() {
        let t = terms(
            "The P-CSCF and S1-MME links, VoLTE, 5GC, HSS and SIP 408",
            Mode::Index,
        );
        for want in [
            "p-cscf", "p", "cscf", "s1-mme", "s1", "mme", "volte", "5gc", "hss", "sip", "408",
        ] {
            assert!(t.contains(&want.to_string()), "missing {want} in {t:?}");
        }
        // `ims` would become `im` and `volte` `volt` with a plain stemmer.
        assert_eq!(terms("IMS VoLTE", Mode::Query), vec!["ims", "volte"]);
    }

    #[test]
    fn plural_of_protected_word_is_folded() {
        assert_eq!(
            terms("two MMEs and SBCs", Mode::Query),
            vec!["two", "mme", "and", "sbc"]
        );
    }

    #[test]
    fn query_mode_keeps_technical_compounds_whole_and_splits_ordinary_ones() {
        assert_eq!(terms("P-CSCF", Mode::Query), vec!["p-cscf"]);
        assert_eq!(terms("s1-mme", Mode::Query), vec!["s1-mme"]);
        assert_eq!(terms("call-servers", Mode::Query), vec!["call", "server"]);
    }

    #[test]
    fn positions_line_up_across_compounds() {
        let idx = analyse("P-CSCF failed", Mode::Index);
        let q = analyse("P-CSCF failed", Mode::Query);
        let pos = |v: &[AnalysedToken], t: &str| v.iter().find(|x| x.term == t).map(|x| x.position);
        assert_eq!(pos(&idx, "fail"), Some(2));
        assert_eq!(pos(&q, "fail"), Some(2));
        assert_eq!(pos(&idx, "p-cscf"), pos(&q, "p-cscf"));
    }

    #[test]
    fn decimals_and_versions_stay_whole() {
        assert_eq!(
            terms("release 10.2.1 at 3.5 GHz.", Mode::Index),
            vec!["releas", "10.2.1", "at", "3.5", "ghz"]
        );
    }

    #[test]
    fn thousands_separators_keep_numbers_whole() {
        let t = terms(
            "7,000,000 customers; calls to 000 failed, then",
            Mode::Index,
        );
        assert_eq!(t.iter().filter(|x| *x == "emergency").count(), 1, "{t:?}");
        assert!(t.contains(&"7,000,000".to_string()) && t.contains(&"then".to_string()));
        assert!(!is_vector_term("7,000,000") && !is_vector_term("3.5") && is_vector_term("112"));
    }

    #[test]
    fn sentence_dots_do_not_join_words() {
        assert_eq!(terms("failed.Then", Mode::Index), vec!["fail", "then"]);
    }

    #[test]
    fn expansions_only_at_index_time() {
        let idx = terms("112 calls to the HLR", Mode::Index);
        assert!(idx.contains(&"emergency".to_string()) && idx.contains(&"subscriber".to_string()));
        let q = terms("112 calls to the HLR", Mode::Query);
        assert!(!q.contains(&"emergency".to_string()));
    }

    #[test]
    fn normalises_spelling_variants() {
        assert_eq!(terms("fiber fibres", Mode::Query), vec!["fibre", "fibre"]);
    }

    #[test]
    fn term_counts_drop_stop_words_and_keep_surface() {
        let c = term_counts("The upgrades of the upgrade and the HSS");
        assert!(!c.contains_key("the"));
        assert_eq!(c.get("upgrad").map(|x| x.0), Some(2));
        assert_eq!(c.get("hss").map(|x| x.1.as_str()), Some("hss"));
    }

    #[test]
    fn offsets_point_at_original_text() {
        let text = "Our S1-MME failed";
        for t in analyse(text, Mode::Index) {
            assert!(t.from < t.to && t.to <= text.len());
        }
        let whole = analyse(text, Mode::Index)
            .into_iter()
            .find(|t| t.term == "s1-mme");
        assert_eq!(whole.map(|t| &text[t.from..t.to]), Some("S1-MME"));
    }

    #[test]
    fn unicode_text_does_not_panic() {
        let t = terms("Störung im Kernnetz — façade ½ 東京", Mode::Index);
        assert!(!t.is_empty());
    }
}
