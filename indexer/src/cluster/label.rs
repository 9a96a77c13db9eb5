//! Labels: the words and phrases that set a cluster's members apart.
//!
//! Policy:
//! - A term is distinctive when far more members hold it than documents in
//!   general: it is scored `p_in * ln(p_in / p_bg)` (its share of the
//!   members times the log of its lift over the background share), so a
//!   word every member uses beats a rarer one, and a word everybody uses
//!   scores nothing. Word-salad filler and one report's rare words fall out
//!   by themselves.
//! - Identifier shapes (hosts, tickets, codes, numbers, addresses) are never
//!   terms (see [`super::text`]), so they can never be a label.
//! - Each of the strongest terms is shown as the 2-3-word phrase around it
//!   that members write most often (`certificate expiry`, `signalling storm
//!   after restart`), when at least 40% of the members holding the term use
//!   it; otherwise as its usual spelling. Phrases start and end with a
//!   content word and never span punctuation.
//! - Items that repeat a stem already shown are skipped.

use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};

use super::text::{Lexicon, TermCounter, is_identifier, phrase_words};
use crate::analysis::is_stop_word;

/// Members' texts read for phrases at most.
pub const PHRASE_TEXTS: usize = 120;
/// Share of the members holding a term that must use a phrase for it.
const PHRASE_SHARE: f32 = 0.4;
/// Strongest terms considered for the label and the top terms.
const TOP: usize = 8;

/// Distinctive terms of a set of members, strongest first: `(term id,
/// score, members holding it)`. `bg` is the background share of a term.
pub fn distinctive(
    member_terms: &[&[u32]],
    bg: impl Fn(u32) -> f32,
    skip: impl Fn(u32) -> bool,
) -> Vec<(u32, f32, usize)> {
    let m = member_terms.len();
    let mut count: FxHashMap<u32, usize> = FxHashMap::default();
    for terms in member_terms {
        for &t in *terms {
            *count.entry(t).or_default() += 1;
        }
    }
    // A label describes what members share: terms of one member only
    // when nothing is shared (or there is one member).
    let score = |min_count: usize| -> Vec<(u32, f32, usize)> {
        count
            .iter()
            .filter(|&(&t, &c)| c >= min_count && !skip(t))
            .filter_map(|(&t, &c)| {
                let p_in = c as f32 / m as f32;
                let p_bg = bg(t).max(1e-9);
                (p_in > p_bg).then(|| (t, p_in * (p_in / p_bg).ln(), c))
            })
            .collect()
    };
    let mut out = score(2.min(m));
    if out.is_empty() {
        out = score(1);
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

/// A distinctive term by name: its analysed form and usual spelling.
pub type Named = (String, String);

/// Names the strongest distinctive terms.
pub fn name(top: &[(u32, f32, usize)], lexicon: &Lexicon) -> Vec<Named> {
    top.iter()
        .take(TOP)
        .map(|(t, _, _)| {
            (
                lexicon.term(*t).to_string(),
                lexicon.surface(*t).to_string(),
            )
        })
        .collect()
}

/// The label (`label_items` items) and top terms of a set of members from
/// their named distinctive terms and, where given, some of their texts.
/// `counter` memoises the analysis of the texts' words.
pub fn compose(
    top: &[Named],
    texts: &[&str],
    label_items: usize,
    counter: &mut TermCounter,
) -> (String, Vec<String>) {
    let top_terms: Vec<String> = top.iter().map(|(_, s)| s.clone()).collect();
    let phrases = best_phrases(top, texts, counter);
    let mut used: FxHashSet<String> = FxHashSet::default();
    let mut items: Vec<String> = Vec::new();
    for (i, (term, surface)) in top.iter().enumerate() {
        if items.len() >= label_items {
            break;
        }
        let (text, stems) = match &phrases[i] {
            Some(p) => p.clone(),
            None => (surface.clone(), vec![term.clone()]),
        };
        if stems.iter().any(|s| used.contains(s)) {
            continue;
        }
        used.extend(stems);
        items.push(text);
    }
    let label = if items.is_empty() {
        "unlabelled".to_string()
    } else {
        items.join(", ")
    };
    (label, top_terms)
}

/// Of a phrase: documents using it, the top terms it holds, its stems.
type Support = (usize, Vec<usize>, Vec<String>);

/// A distinct word of the members' texts.
struct WordInfo {
    written: String,
    /// Its analysed terms (a joined word has several).
    stems: Vec<String>,
    /// The top terms among them.
    hits: Vec<usize>,
    /// A stop word (a phrase may not start or end with one).
    stop: bool,
    /// An identifier or a single character (never in a phrase).
    odd: bool,
}

impl WordInfo {
    fn new(w: &str, wanted: &HashMap<&str, usize>, counter: &mut TermCounter) -> Self {
        let mut ids = Vec::new();
        counter.terms(w, &mut ids);
        let stems: Vec<String> = ids
            .iter()
            .map(|&i| counter.lexicon.term(i).to_string())
            .collect();
        let hits = stems
            .iter()
            .filter_map(|s| wanted.get(s.as_str()).copied())
            .collect();
        WordInfo {
            written: w.to_string(),
            stems,
            hits,
            stop: is_stop_word(w),
            odd: is_identifier(w) || w.chars().count() < 2,
        }
    }
}

/// For each top term, the phrase most members write around it (with the
/// content stems it covers), if common enough.
fn best_phrases(
    top: &[Named],
    texts: &[&str],
    counter: &mut TermCounter,
) -> Vec<Option<(String, Vec<String>)>> {
    let mut out = vec![None; top.len()];
    if texts.len() < 2 {
        return out;
    }
    let wanted: HashMap<&str, usize> = top
        .iter()
        .enumerate()
        .map(|(i, (t, _))| (t.as_str(), i))
        .collect();
    // Each distinct word as written, once: the analysed terms it yields
    // (a joined word has several) and the top terms among them.
    let mut word_ix: FxHashMap<String, u32> = FxHashMap::default();
    let mut table: Vec<WordInfo> = Vec::new();
    let mut support: FxHashMap<String, Support> = FxHashMap::default();
    let mut holders = vec![0usize; top.len()];
    let mut seen: FxHashSet<String> = FxHashSet::default();
    for text in texts.iter().take(PHRASE_TEXTS) {
        let mut words: Vec<Option<u32>> = Vec::new();
        for w in phrase_words(text) {
            words.push(w.map(|w| match word_ix.get(&w) {
                Some(&i) => i,
                None => {
                    let i = table.len() as u32;
                    table.push(WordInfo::new(&w, &wanted, counter));
                    word_ix.insert(w, i);
                    i
                }
            }));
        }
        seen.clear();
        let mut held = vec![false; top.len()];
        for i in 0..words.len() {
            let Some(w) = words[i] else { continue };
            for &k in &table[w as usize].hits {
                held[k] = true;
            }
            for n in 2..=3 {
                if i + n > words.len() {
                    break;
                }
                let Some(span) = words[i..i + n]
                    .iter()
                    .copied()
                    .collect::<Option<Vec<u32>>>()
                else {
                    break;
                };
                let info = |j: usize| &table[span[j] as usize];
                // Starts and ends with a content word; no identifier inside.
                if info(0).stop
                    || info(n - 1).stop
                    || (0..n).any(|j| info(j).odd)
                    || (0..n).all(|j| info(j).hits.is_empty())
                {
                    continue;
                }
                let hits: Vec<usize> = (0..n).flat_map(|j| info(j).hits.iter().copied()).collect();
                let span: Vec<&str> = (0..n).map(|j| info(j).written.as_str()).collect();
                let infos = (0..n).map(info);
                let phrase = span.join(" ");
                if seen.insert(phrase.clone()) {
                    let e = support.entry(phrase).or_insert_with(|| {
                        (
                            0,
                            hits,
                            infos.flat_map(|x| x.stems.iter().cloned()).collect(),
                        )
                    });
                    e.0 += 1;
                }
            }
        }
        for (h, x) in holders.iter_mut().zip(held) {
            *h += usize::from(x);
        }
    }
    let mut phrases: Vec<(&String, &Support)> = support.iter().collect();
    // Most used first; then phrases covering more top terms; then shorter.
    phrases.sort_by(|a, b| {
        (b.1.0 * (1 + b.1.1.len()))
            .cmp(&(a.1.0 * (1 + a.1.1.len())))
            .then(a.0.len().cmp(&b.0.len()))
            .then(a.0.cmp(b.0))
    });
    for (k, slot) in out.iter_mut().enumerate() {
        let need = ((holders[k] as f32 * PHRASE_SHARE).ceil() as usize).max(2);
        *slot = phrases
            .iter()
            .find(|(_, (n, hits, _))| hits.contains(&k) && *n >= need)
            .map(|(p, (_, _, stems))| ((*p).clone(), stems.clone()));
    }
    out
}
