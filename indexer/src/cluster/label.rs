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
    let min_count = if m >= 4 { 2 } else { 1 };
    let mut out: Vec<(u32, f32, usize)> = count
        .into_iter()
        .filter(|&(t, c)| c >= min_count && !skip(t))
        .filter_map(|(t, c)| {
            let p_in = c as f32 / m as f32;
            let p_bg = bg(t).max(1e-9);
            (p_in > p_bg).then(|| (t, p_in * (p_in / p_bg).ln(), c))
        })
        .collect();
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
    let mut stem_of: FxHashMap<String, Vec<String>> = FxHashMap::default();
    // The analysed terms of a word as written (a joined word has several).
    let mut stem = |w: &str| -> Vec<String> {
        if let Some(s) = stem_of.get(w) {
            return s.clone();
        }
        let mut ids = Vec::new();
        counter.terms(w, &mut ids);
        let s: Vec<String> = ids
            .iter()
            .map(|&i| counter.lexicon.term(i).to_string())
            .collect();
        stem_of.insert(w.to_string(), s.clone());
        s
    };
    // phrase -> (documents using it, top terms it holds, its stems)
    let mut support: FxHashMap<String, (usize, Vec<usize>, Vec<String>)> = FxHashMap::default();
    let mut holders = vec![0usize; top.len()];
    for text in texts.iter().take(PHRASE_TEXTS) {
        let words = phrase_words(text);
        let stems: Vec<Vec<String>> = words
            .iter()
            .map(|w| w.as_deref().map(&mut stem).unwrap_or_default())
            .collect();
        let mut seen: FxHashSet<String> = FxHashSet::default();
        let mut held = vec![false; top.len()];
        for (i, s) in stems.iter().enumerate() {
            for k in s.iter().filter_map(|s| wanted.get(s.as_str())) {
                held[*k] = true;
            }
            for n in 2..=3 {
                if i + n > words.len() {
                    break;
                }
                let span = &words[i..i + n];
                let Some(span) = span
                    .iter()
                    .map(|w| w.as_deref())
                    .collect::<Option<Vec<&str>>>()
                else {
                    break;
                };
                if span
                    .iter()
                    .any(|w| is_identifier(w) || w.chars().count() < 2)
                    || is_stop_word(span[0])
                    || is_stop_word(span[n - 1])
                {
                    continue;
                }
                let hits: Vec<usize> = stems[i..i + n]
                    .iter()
                    .flatten()
                    .filter_map(|s| wanted.get(s.as_str()).copied())
                    .collect();
                if hits.is_empty() {
                    continue;
                }
                let phrase = span.join(" ");
                if seen.insert(phrase.clone()) {
                    let e = support.entry(phrase).or_insert_with(|| {
                        let st = stems[i..i + n].iter().flatten().cloned().collect();
                        (0, hits, st)
                    });
                    e.0 += 1;
                }
            }
        }
        for (h, x) in holders.iter_mut().zip(held) {
            *h += usize::from(x);
        }
    }
    let mut phrases: Vec<(&String, &(usize, Vec<usize>, Vec<String>))> = support.iter().collect();
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
