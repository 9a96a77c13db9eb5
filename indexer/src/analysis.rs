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

use std::collections::HashMap;

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
    STOP_WORDS.binary_search(&term).is_ok()
}

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

/// A raw word found by the splitter: byte range and the ranges of its parts.
struct RawWord {
    from: usize,
    to: usize,
    parts: Vec<(usize, usize)>,
}

fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '/' | '_' | '.' | ',')
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
            if i + 1 < chars.len() && is_joiner(chars[i].1) && chars[i + 1].1.is_alphanumeric() {
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

/// Terms with their frequency and a readable surface form (the most
/// frequent original spelling, lowercased), for similarity and clustering:
/// stop words, one-character terms and bare numbers of more than four digits
/// are left out.
pub fn term_counts(text: &str) -> HashMap<String, (u32, String)> {
    let mut counts: HashMap<String, (u32, HashMap<String, u32>)> = HashMap::new();
    for tok in analyse(text, Mode::Index) {
        if !is_vector_term(&tok.term) {
            continue;
        }
        let entry = counts.entry(tok.term).or_default();
        entry.0 += 1;
        *entry
            .1
            .entry(text[tok.from..tok.to].to_lowercase())
            .or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(term, (n, surfaces))| {
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

/// The tantivy tokenizer wrapping [`analyse`].
#[derive(Debug, Clone)]
pub struct IncidentTokenizer {
    mode: Mode,
}

impl IncidentTokenizer {
    pub fn new(mode: Mode) -> Self {
        Self { mode }
    }
}

/// Token stream over pre-analysed tokens.
#[derive(Debug)]
pub struct IncidentTokenStream {
    tokens: Vec<Token>,
    next: usize,
    current: Token,
}

impl Tokenizer for IncidentTokenizer {
    type TokenStream<'a> = IncidentTokenStream;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> IncidentTokenStream {
        let tokens = analyse(text, self.mode)
            .into_iter()
            .map(|t| Token {
                offset_from: t.from,
                offset_to: t.to,
                position: t.position,
                text: t.term,
                position_length: 1,
            })
            .collect();
        IncidentTokenStream {
            tokens,
            next: 0,
            current: Token::default(),
        }
    }
}

impl TokenStream for IncidentTokenStream {
    fn advance(&mut self) -> bool {
        match self.tokens.get_mut(self.next) {
            Some(tok) => {
                self.current = std::mem::take(tok);
                self.next += 1;
                true
            }
            None => false,
        }
    }

    fn token(&self) -> &Token {
        &self.current
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str, mode: Mode) -> Vec<String> {
        analyse(text, mode).into_iter().map(|t| t.term).collect()
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
