//! Terms of a report for clustering, and the shapes that never count.
//!
//! Policy:
//! - Terms are the shared analyser's ([`analyse`] in index mode), so the
//!   search index's document frequencies apply to them.
//! - Stop words, one-character terms and anything shaped like an identifier
//!   are dropped: numbers, tokens with a run of two or more digits or with
//!   more than one digit run (`alm-633`, `mme-ams-07`, `10.0.0.1`, `inc123`,
//!   `r16.2.3`, `0x1a2b`), and the parts of such a token except telecom
//!   words (`mme` of `mme-ams-07` stays, `ams` goes). Short codes with one
//!   digit (`5gc`, `ss7`, `3gpp`, `ipv4`) stay: they name technology, not an
//!   instance of it.
//! - Analysis is memoised per whitespace-separated chunk: a corpus repeats
//!   its words, so each distinct word is analysed (and stemmed) once.
//!   Chunks with a digit are not memoised (identifiers rarely repeat).

use rustc_hash::FxHashMap;

use crate::analysis::{Mode, PROTECTED, analyse, is_stop_word, is_vector_term};

/// Whether a token (a term or a word as written, any case) has the shape
/// of an identifier or a number rather than a word.
pub fn is_identifier(token: &str) -> bool {
    let mut runs = 0usize;
    let mut run = 0usize;
    let mut longest = 0usize;
    let mut letters = false;
    for c in token.chars() {
        if c.is_ascii_digit() {
            if run == 0 {
                runs += 1;
            }
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
            letters |= c.is_alphabetic();
        }
    }
    if runs == 0 {
        return false;
    }
    !letters || longest >= 2 || runs >= 2 || token.chars().count() > 6
}

fn is_protected(word: &str) -> bool {
    PROTECTED.binary_search(&word).is_ok()
}

/// Whether an analysed term may be a dimension of a clustering vector.
pub fn is_cluster_term(term: &str) -> bool {
    is_vector_term(term) && !is_stop_word(term) && !is_identifier(term)
}

/// Interned terms with a readable surface form each.
#[derive(Debug, Default, Clone)]
pub struct Lexicon {
    ids: FxHashMap<Box<str>, u32>,
    terms: Vec<Box<str>>,
    surfaces: Vec<Box<str>>,
}

impl Lexicon {
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn get(&self, term: &str) -> Option<u32> {
        self.ids.get(term).copied()
    }

    pub fn term(&self, id: u32) -> &str {
        &self.terms[id as usize]
    }

    /// The shortest spelling seen (`expiry` for `expiri`), ties broken
    /// alphabetically: a reader recognises it and it is stable.
    pub fn surface(&self, id: u32) -> &str {
        &self.surfaces[id as usize]
    }

    pub fn intern(&mut self, term: &str, surface: &str) -> u32 {
        if let Some(&id) = self.ids.get(term) {
            let s = &mut self.surfaces[id as usize];
            if (surface.len(), surface) < (s.len(), &**s) {
                *s = surface.into();
            }
            return id;
        }
        let id = self.terms.len() as u32;
        self.ids.insert(term.into(), id);
        self.terms.push(term.into());
        self.surfaces.push(surface.into());
        id
    }
}

/// Memoised analysis into term ids of a [`Lexicon`].
#[derive(Debug, Default)]
pub struct TermCounter {
    pub lexicon: Lexicon,
    cache: FxHashMap<Box<str>, Box<[u32]>>,
    buf: String,
    scratch: Vec<u32>,
}

/// Distinct chunks memoised at most (a bound on memory for odd corpora).
const CACHE_LIMIT: usize = 1 << 20;

impl TermCounter {
    /// Appends the term ids of `text` (with repeats) to `out`.
    pub fn terms(&mut self, text: &str, out: &mut Vec<u32>) {
        for chunk in text.split_whitespace() {
            let chunk = chunk.trim_matches(|c: char| !c.is_alphanumeric());
            if chunk.is_empty() {
                continue;
            }
            self.buf.clear();
            if chunk.chars().any(char::is_uppercase) {
                self.buf.push_str(&chunk.to_lowercase());
            } else {
                self.buf.push_str(chunk);
            }
            if let Some(ids) = self.cache.get(self.buf.as_str()) {
                out.extend_from_slice(ids);
                continue;
            }
            let key = std::mem::take(&mut self.buf);
            self.scratch.clear();
            analyse_chunk(&key, &mut self.lexicon, &mut self.scratch);
            out.extend_from_slice(&self.scratch);
            if self.cache.len() < CACHE_LIMIT && !key.chars().any(|c| c.is_ascii_digit()) {
                self.cache
                    .insert(key.as_str().into(), self.scratch.as_slice().into());
            }
            self.buf = key;
        }
    }
}

/// Analyses one lowercase chunk (no whitespace) into kept term ids.
fn analyse_chunk(chunk: &str, lexicon: &mut Lexicon, out: &mut Vec<u32>) {
    let tokens = analyse(chunk, Mode::Index);
    // A joined word comes first, whole, then its parts within its range.
    let mut whole_end = 0usize;
    let mut whole_is_id = false;
    for tok in &tokens {
        let inside = tok.from < whole_end;
        if !inside {
            whole_end = tok.to;
            whole_is_id = is_identifier(&chunk[tok.from..tok.to]);
        }
        if whole_is_id && (!inside || !is_protected(&tok.term)) {
            continue;
        }
        if is_cluster_term(&tok.term) {
            out.push(lexicon.intern(&tok.term, &chunk[tok.from..tok.to]));
        }
    }
}

/// Words of a text as written (lowercase), split on anything that is not
/// part of a word; `None` marks a break no phrase may span (sentence and
/// clause punctuation).
pub fn phrase_words(text: &str) -> Vec<Option<String>> {
    let mut out: Vec<Option<String>> = Vec::new();
    for chunk in text.split_whitespace() {
        let lead = chunk.starts_with(|c: char| !c.is_alphanumeric());
        if lead {
            out.push(None);
        }
        let core = chunk.trim_matches(|c: char| !c.is_alphanumeric());
        if !core.is_empty() {
            out.push(Some(core.to_lowercase()));
        }
        let core_end = chunk.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
        if core_end < chunk.len() && !core.is_empty() {
            out.push(None);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_shapes() {
        for id in [
            "mme-ams-07",
            "alm-633",
            "633",
            "INC123",
            "10.0.0.1",
            "e-4312",
            "r16.2.3",
            "0x1a2b",
            "as64512",
            "chg-123456",
            "15",
        ] {
            assert!(is_identifier(id), "{id}");
        }
        for word in ["5gc", "ss7", "3gpp", "ipv4", "s1-mme", "volte", "expiry"] {
            assert!(!is_identifier(word), "{word}");
        }
    }

    #[test]
    fn identifier_parts_are_dropped_but_telecom_words_kept() {
        let mut c = TermCounter::default();
        let mut ids = Vec::new();
        c.terms(
            "Node MME-AMS-07 raised ALM-633 (ticket INC-123456).",
            &mut ids,
        );
        let terms: Vec<&str> = ids.iter().map(|&i| c.lexicon.term(i)).collect();
        assert_eq!(terms, vec!["node", "mme", "rais", "ticket"]);
    }

    #[test]
    fn memoised_analysis_matches_the_analyser() {
        let text = "Certificates expired; the certificate expiry stopped P-CSCF nodes.";
        let mut c = TermCounter::default();
        let mut a = Vec::new();
        c.terms(text, &mut a);
        let mut b = Vec::new();
        c.terms(text, &mut b);
        assert_eq!(a, b);
        let want: Vec<String> = analyse(text, Mode::Index)
            .into_iter()
            .map(|t| t.term)
            .filter(|t| is_cluster_term(t))
            .collect();
        let got: Vec<&str> = a.iter().map(|&i| c.lexicon.term(i)).collect();
        assert_eq!(got, want);
        let cert = c.lexicon.get("certif").map(|i| c.lexicon.surface(i));
        assert_eq!(cert, Some("certificate"));
    }

    #[test]
    fn phrase_words_break_at_punctuation() {
        let w = phrase_words("Storm damage, (flooded) the site.");
        let s: Vec<Option<&str>> = w.iter().map(|o| o.as_deref()).collect();
        assert_eq!(
            s,
            vec![
                Some("storm"),
                Some("damage"),
                None,
                None,
                Some("flooded"),
                None,
                Some("the"),
                Some("site"),
                None
            ]
        );
    }
}
