//! Full-text matching over lessons with the search index's analyser.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, OnceLock};

use lru::LruCache;

use incidex_indexer::analysis::{Mode, analyse, is_stop_word};

// ---------------------------------------------------------------------------
// Full text
// ---------------------------------------------------------------------------

/// A full-text query over lessons: every clause must match. A clause is a
/// word (its analysed tokens, consecutive) or a quoted phrase.
#[derive(Debug, Clone, PartialEq)]
pub struct TextQuery {
    /// Each clause: (term, position) as the query analyser produced them.
    clauses: Vec<Vec<(String, usize)>>,
}

/// Term positions of one analysed text.
#[derive(Debug, Default)]
struct Analysed {
    positions: HashMap<String, Vec<usize>>,
}

impl Analysed {
    fn of(text: &str) -> Analysed {
        let mut positions: HashMap<String, Vec<usize>> = HashMap::new();
        for token in analyse(text, Mode::Index) {
            positions
                .entry(token.term)
                .or_default()
                .push(token.position);
        }
        Analysed { positions }
    }

    /// How often the clause occurs (a phrase: its terms at consecutive
    /// positions, as the analyser placed them).
    fn occurrences(&self, clause: &[(String, usize)]) -> usize {
        let Some(((first, p0), rest)) = clause.split_first() else {
            return 0;
        };
        let Some(starts) = self.positions.get(first) else {
            return 0;
        };
        starts
            .iter()
            .filter(|&&start| {
                rest.iter().all(|(term, p)| {
                    self.positions
                        .get(term)
                        .is_some_and(|ps| ps.contains(&(start + (p - p0))))
                })
            })
            .count()
    }
}

/// Analysed lesson texts, memoised by text (a pure function of the text,
/// so the memo can never be stale), the least recently used dropped first.
fn analysed_all(texts: &[&str]) -> Vec<Arc<Analysed>> {
    type Memo = Mutex<LruCache<String, Arc<Analysed>>>;
    static MEMO: OnceLock<Memo> = OnceLock::new();
    const MAX_MEMO: NonZeroUsize = NonZeroUsize::new(200_000).expect("non-zero");
    let memo = MEMO.get_or_init(|| Mutex::new(LruCache::new(MAX_MEMO)));
    let mut out: Vec<Option<Arc<Analysed>>> = match memo.lock() {
        Ok(mut guard) => texts.iter().map(|t| guard.get(*t).cloned()).collect(),
        Err(_) => vec![None; texts.len()],
    };
    let mut fresh = Vec::new();
    for (slot, text) in out.iter_mut().zip(texts) {
        if slot.is_none() {
            let a = Arc::new(Analysed::of(text));
            fresh.push(((*text).to_owned(), a.clone()));
            *slot = Some(a);
        }
    }
    if !fresh.is_empty()
        && let Ok(mut guard) = memo.lock()
    {
        for (text, analysed) in fresh {
            guard.put(text, analysed);
        }
    }
    out.into_iter().map(Option::unwrap_or_default).collect()
}

impl TextQuery {
    /// `None` for a query with no searchable word; an error for an
    /// unbalanced quote.
    pub fn parse(q: &str) -> Result<Option<TextQuery>, String> {
        if q.matches('"').count() % 2 == 1 {
            return Err("a quoted phrase is not closed".into());
        }
        let mut clauses = Vec::new();
        for (i, part) in q.split('"').enumerate() {
            let phrase = i % 2 == 1;
            let pieces: Vec<&str> = if phrase {
                vec![part]
            } else {
                part.split_whitespace().collect()
            };
            for piece in pieces {
                let clause: Vec<(String, usize)> = analyse(piece, Mode::Query)
                    .into_iter()
                    .map(|t| (t.term, t.position))
                    .collect();
                // A lone stop word ("the", "and", "or") would only narrow
                // the result arbitrarily.
                if clause.is_empty() || (!phrase && clause.iter().all(|(t, _)| is_stop_word(t))) {
                    continue;
                }
                clauses.push(clause);
            }
        }
        Ok((!clauses.is_empty()).then_some(TextQuery { clauses }))
    }

    /// The indices of `texts` that match, with a tf-idf score over `texts`.
    pub fn score(&self, texts: &[&str]) -> Vec<(usize, f32)> {
        let analysed = analysed_all(texts);
        let mut hits: Vec<(usize, Vec<usize>)> = Vec::new();
        let mut df = vec![0usize; self.clauses.len()];
        for (i, a) in analysed.iter().enumerate() {
            let counts: Vec<usize> = self.clauses.iter().map(|c| a.occurrences(c)).collect();
            for (d, &n) in df.iter_mut().zip(&counts) {
                if n > 0 {
                    *d += 1;
                }
            }
            if counts.iter().all(|&n| n > 0) {
                hits.push((i, counts));
            }
        }
        let n = texts.len().max(1) as f32;
        hits.into_iter()
            .map(|(i, counts)| {
                let score = counts
                    .iter()
                    .zip(&df)
                    .map(|(&tf, &df)| (1.0 + n / df.max(1) as f32).ln() * (1.0 + (tf as f32).ln()))
                    .sum();
                (i, score)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lessons::*;

    #[test]
    fn classifies_by_keywords() {
        let c = LessonCategory::classify;
        assert_eq!(
            c(
                "Roll changes and bulk commands out to call servers progressively, never to the whole fleet at once."
            ),
            LessonCategory::ChangeManagement
        );
        assert_eq!(
            c("Supervise emergency call completion end to end with dedicated alarms."),
            LessonCategory::Monitoring
        );
        assert_eq!(
            c("Convene a crisis cell within 30 minutes of any emergency-call degradation."),
            LessonCategory::IncidentResponse
        );
        assert_eq!(
            c("Keep batteries and generators at every hub sized for eight hours."),
            LessonCategory::Facilities
        );
        assert_eq!(c("Nothing in particular."), LessonCategory::Other);
    }

    #[test]
    fn every_category_round_trips() {
        for c in LessonCategory::ALL {
            assert_eq!(LessonCategory::parse(c.as_str()), Some(*c));
            assert_eq!(
                serde_json::to_value(c).expect("json"),
                serde_json::json!(c.as_str())
            );
        }
    }

    #[test]
    fn text_query_needs_every_word_and_phrases_in_order() {
        let texts = [
            "Monitor the P-CSCF registrations with alarms.",
            "Alarms on the registrations of the P-CSCF were missing.",
            "Upgrade the call servers one site at a time.",
        ];
        let ids = |q: &str| -> Vec<usize> {
            let query = TextQuery::parse(q).expect("parses").expect("not empty");
            let mut v: Vec<usize> = query.score(&texts).into_iter().map(|(i, _)| i).collect();
            v.sort();
            v
        };
        assert_eq!(ids("alarms p-cscf"), vec![0, 1]);
        assert_eq!(ids("\"p-cscf registrations\""), vec![0]);
        assert_eq!(ids("\"registrations p-cscf\""), Vec::<usize>::new());
        assert_eq!(ids("\"registrations with alarms\""), vec![0]);
        assert_eq!(ids("upgrades AND site"), vec![2]);
        assert_eq!(ids("monitoring"), vec![0]);
        assert!(TextQuery::parse("\"open").is_err());
        // Rarer words weigh more; repeated words a little more.
        let ranked = TextQuery::parse("alarms probes")
            .expect("parses")
            .expect("not empty")
            .score(&[
                "Alarms, alarms and probes.",
                "Alarms and probes.",
                "Alarms only.",
                "Alarms again.",
            ]);
        assert_eq!(ranked.len(), 2);
        assert!(ranked[0].1 > ranked[1].1, "{ranked:?}");
        let single = TextQuery::parse("probes").expect("parses").expect("q");
        let common = TextQuery::parse("alarms").expect("parses").expect("q");
        let texts = ["Alarms and probes.", "Alarms only.", "Alarms again."];
        assert!(single.score(&texts)[0].1 > common.score(&texts)[0].1);
        assert_eq!(TextQuery::parse("the and").expect("parses"), None);
    }
}
