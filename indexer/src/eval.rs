//! Evaluation: retrieval metrics for similar incidents, agreement metrics
//! for clusters, and the plain TF-IDF cosine baseline.
//!
//! Policy: every figure for our method and for the baseline is computed by
//! the same functions over the same documents; a document's own label is
//! never an input of the method being scored (the caller blanks it).

use std::collections::HashMap;

/// Precision at `k` of one ranked list: the share of the first `k` positions
/// holding a relevant result (missing positions count as misses).
pub fn precision_at_k(relevant: &[bool], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    relevant.iter().take(k).filter(|r| **r).count() as f64 / k as f64
}

/// Reciprocal rank of the first relevant result (0 when there is none).
pub fn reciprocal_rank(relevant: &[bool]) -> f64 {
    relevant
        .iter()
        .position(|r| *r)
        .map_or(0.0, |p| 1.0 / (p + 1) as f64)
}

/// Mean of the values (0 for none).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Joint and marginal counts of two partitions.
type Contingency = (
    HashMap<(usize, usize), u64>,
    HashMap<usize, u64>,
    HashMap<usize, u64>,
);

fn contingency(a: &[usize], b: &[usize]) -> Contingency {
    let mut n_ij = HashMap::new();
    let mut a_i = HashMap::new();
    let mut b_j = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *n_ij.entry((x, y)).or_insert(0) += 1;
        *a_i.entry(x).or_insert(0) += 1;
        *b_j.entry(y).or_insert(0) += 1;
    }
    (n_ij, a_i, b_j)
}

fn comb2(n: u64) -> f64 {
    (n as f64) * (n as f64 - 1.0) / 2.0
}

/// Adjusted Rand index of two partitions given as one cluster id per item
/// (Hubert and Arabie). 1 for identical partitions, about 0 for chance.
pub fn adjusted_rand_index(a: &[usize], b: &[usize]) -> f64 {
    assert_eq!(a.len(), b.len(), "partitions of different sizes");
    let n = a.len() as u64;
    if n < 2 {
        return 1.0;
    }
    let (n_ij, a_i, b_j) = contingency(a, b);
    let index: f64 = n_ij.values().map(|&v| comb2(v)).sum();
    let sum_a: f64 = a_i.values().map(|&v| comb2(v)).sum();
    let sum_b: f64 = b_j.values().map(|&v| comb2(v)).sum();
    let expected = sum_a * sum_b / comb2(n);
    let max = (sum_a + sum_b) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        // Both partitions trivial (all singletons or one block): identical.
        return if a_i.len() == b_j.len() { 1.0 } else { 0.0 };
    }
    (index - expected) / (max - expected)
}

/// Normalised mutual information, arithmetic-mean normalisation
/// (`MI / ((H(a) + H(b)) / 2)`, as scikit-learn's default).
pub fn normalized_mutual_info(a: &[usize], b: &[usize]) -> f64 {
    assert_eq!(a.len(), b.len(), "partitions of different sizes");
    let n = a.len() as f64;
    if a.is_empty() {
        return 1.0;
    }
    let (n_ij, a_i, b_j) = contingency(a, b);
    let h = |m: &HashMap<usize, u64>| -> f64 {
        m.values()
            .map(|&v| {
                let p = v as f64 / n;
                -p * p.ln()
            })
            .sum()
    };
    let (ha, hb) = (h(&a_i), h(&b_j));
    let mut mi = 0.0;
    for (&(i, j), &v) in &n_ij {
        let p = v as f64 / n;
        mi += p * (p / ((a_i[&i] as f64 / n) * (b_j[&j] as f64 / n))).ln();
    }
    let denom = (ha + hb) / 2.0;
    if denom <= 0.0 {
        // Both partitions are a single block: they agree.
        return 1.0;
    }
    (mi / denom).clamp(0.0, 1.0)
}

/// Turns string labels into dense ids.
pub fn label_ids<S: AsRef<str>>(labels: &[S]) -> Vec<usize> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    labels
        .iter()
        .map(|l| {
            let next = ids.len();
            *ids.entry(l.as_ref()).or_insert(next)
        })
        .collect()
}

/// Mean retrieval figures over a set of queries.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RetrievalScores {
    pub queries: usize,
    pub p_at_1: f64,
    pub p_at_3: f64,
    pub p_at_5: f64,
    pub mrr: f64,
}

/// Scores rankings: `rankings[q]` lists result item indices for query item
/// `q`, best first; a result is relevant when it has the query's label.
pub fn score_rankings<S: AsRef<str> + PartialEq>(
    labels: &[S],
    rankings: &[Vec<usize>],
) -> RetrievalScores {
    let mut p1 = Vec::new();
    let mut p3 = Vec::new();
    let mut p5 = Vec::new();
    let mut rr = Vec::new();
    for (q, ranking) in rankings.iter().enumerate() {
        let rel: Vec<bool> = ranking.iter().map(|&r| labels[r] == labels[q]).collect();
        p1.push(precision_at_k(&rel, 1));
        p3.push(precision_at_k(&rel, 3));
        p5.push(precision_at_k(&rel, 5));
        rr.push(reciprocal_rank(&rel));
    }
    RetrievalScores {
        queries: rankings.len(),
        p_at_1: mean(&p1),
        p_at_3: mean(&p3),
        p_at_5: mean(&p5),
        mrr: mean(&rr),
    }
}

/// The baseline's tokens: lowercase alphanumeric runs, nothing else.
pub fn baseline_tokens(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Plain TF-IDF cosine: raw term frequency times `ln(N / df)`, L2-normalised
/// vectors, exhaustive cosine ranking.
#[derive(Debug, Clone)]
pub struct TfIdfBaseline {
    vectors: Vec<Vec<(u32, f32)>>,
}

impl TfIdfBaseline {
    pub fn new<S: AsRef<str>>(texts: &[S]) -> Self {
        let docs: Vec<HashMap<String, u32>> = texts
            .iter()
            .map(|t| {
                let mut m = HashMap::new();
                for tok in baseline_tokens(t.as_ref()) {
                    *m.entry(tok).or_insert(0) += 1;
                }
                m
            })
            .collect();
        let mut df: HashMap<&str, u32> = HashMap::new();
        for d in &docs {
            for t in d.keys() {
                *df.entry(t.as_str()).or_insert(0) += 1;
            }
        }
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let n = docs.len() as f32;
        let vectors = docs
            .iter()
            .map(|d| {
                let mut v: Vec<(u32, f32)> = d
                    .iter()
                    .map(|(t, tf)| {
                        let next = ids.len() as u32;
                        let id = *ids.entry(t.as_str()).or_insert(next);
                        (id, *tf as f32 * (n / df[t.as_str()] as f32).ln())
                    })
                    .filter(|e| e.1 > 0.0)
                    .collect();
                let norm = v.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
                if norm > 0.0 {
                    for e in &mut v {
                        e.1 /= norm;
                    }
                }
                v.sort_by_key(|e| e.0);
                v
            })
            .collect();
        TfIdfBaseline { vectors }
    }

    /// The unit vectors, sorted by term id (for clustering the baseline).
    pub fn vectors(&self) -> &[Vec<(u32, f32)>] {
        &self.vectors
    }

    pub fn cosine(&self, a: usize, b: usize) -> f32 {
        let (x, y) = (&self.vectors[a], &self.vectors[b]);
        let (mut i, mut j, mut s) = (0, 0, 0.0);
        while i < x.len() && j < y.len() {
            match x[i].0.cmp(&y[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    s += x[i].1 * y[j].1;
                    i += 1;
                    j += 1;
                }
            }
        }
        s
    }

    /// The `k` most similar other items of item `q` with a positive cosine.
    pub fn similar(&self, q: usize, k: usize) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = (0..self.vectors.len())
            .filter(|&i| i != q)
            .map(|i| (i, self.cosine(q, i)))
            .filter(|e| e.1 > 0.0)
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn precision_and_rr_by_hand() {
        let rel = [false, true, true, false];
        assert!(close(precision_at_k(&rel, 1), 0.0));
        assert!(close(precision_at_k(&rel, 3), 2.0 / 3.0));
        // Fewer results than k: missing positions are misses.
        assert!(close(precision_at_k(&rel, 5), 2.0 / 5.0));
        assert!(close(reciprocal_rank(&rel), 0.5));
        assert!(close(reciprocal_rank(&[false, false]), 0.0));
        assert!(close(mean(&[1.0, 0.5, 0.0]), 0.5));
    }

    #[test]
    fn mrr_over_queries_by_hand() {
        // Items 0,1 share label a; 2,3 share b.
        let labels = ["a", "a", "b", "b"];
        let rankings = vec![vec![1, 2], vec![2, 0], vec![0, 1], vec![2, 0]];
        let s = score_rankings(&labels, &rankings);
        // RR: 1, 1/2, 0, 1 -> mean 0.625; P@1: 1, 0, 0, 1 -> 0.5.
        assert!(close(s.mrr, 0.625));
        assert!(close(s.p_at_1, 0.5));
    }

    #[test]
    fn ari_by_hand() {
        assert!(close(
            adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 7, 7]),
            1.0
        ));
        // n_ij: (0,0)=2, (0,1)=1, (1,1)=1, (1,2)=2 -> index = 1+0+0+1 = 2;
        // sum_a = 3+3 = 6; sum_b = 1+1+1 = 3; C(6,2) = 15;
        // expected = 18/15 = 1.2; max = 4.5; ARI = 0.8/3.3 = 0.242424...
        let ari = adjusted_rand_index(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]);
        assert!(close(ari, 0.8 / 3.3), "{ari}");
    }

    #[test]
    fn nmi_by_hand() {
        assert!(close(
            normalized_mutual_info(&[0, 0, 1, 1], &[1, 1, 0, 0]),
            1.0
        ));
        // Independent partitions: a splits {0,1}|{2,3}, b splits {0,2}|{1,3}.
        assert!(close(
            normalized_mutual_info(&[0, 0, 1, 1], &[0, 1, 0, 1]),
            0.0
        ));
        // a=[0,0,1,1], b=[0,0,0,1]: H(a)=ln2, H(b)= -(3/4 ln 3/4 + 1/4 ln 1/4),
        // MI = 1/2 ln(1/2 / (1/2*3/4)) + 1/4 ln(1/4/(1/2*3/4)) + 1/4 ln(1/4/(1/2*1/4))
        let ha = 2f64.ln();
        let hb = -(0.75f64 * 0.75f64.ln() + 0.25 * 0.25f64.ln());
        let mi = 0.5 * (0.5f64 / 0.375).ln()
            + 0.25 * (0.25f64 / 0.375).ln()
            + 0.25 * (0.25f64 / 0.125).ln();
        let want = mi / ((ha + hb) / 2.0);
        assert!(close(
            normalized_mutual_info(&[0, 0, 1, 1], &[0, 0, 0, 1]),
            want
        ));
    }

    #[test]
    fn baseline_ranks_overlapping_text_first() {
        let b = TfIdfBaseline::new(&[
            "fibre cut backbone",
            "fibre cut metro ring",
            "software upgrade core",
            "cat",
        ]);
        let s = b.similar(0, 3);
        assert_eq!(s.first().map(|e| e.0), Some(1));
        assert!(s.iter().all(|e| e.0 != 0));
    }

    #[test]
    fn label_ids_are_dense() {
        assert_eq!(label_ids(&["x", "y", "x", "z"]), vec![0, 1, 0, 2]);
    }
}
