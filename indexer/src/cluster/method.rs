//! The clustering algorithms over unit sparse vectors.
//!
//! - [`buckshot`] (the default): average-linkage agglomerative clustering
//!   of an evenly spread sample, cut where the sample's mean silhouette is
//!   highest, then spherical k-means over every document from the sample
//!   clusters' centroids (Cutting et al.'s "Buckshot", with the cut chosen
//!   from the data instead of a given k).
//! - [`kmeans_silhouette`]: spherical k-means from k-means++ seeds for a
//!   ladder of k, keeping the k whose sample silhouette is highest.
//! - [`leader`]: single-pass leader clustering with refinement passes (the
//!   method before; kept for comparison).

use rustc_hash::FxHashMap;

use super::vectors::Csr;

/// Workers for the passes over all documents (the service has two cores).
const WORKERS: usize = 2;

/// Evenly spread indices of `s` of `n` documents (all when `n <= s`):
/// input order is publication order, so every period is represented.
pub fn spread_sample(n: usize, s: usize) -> Vec<usize> {
    if n <= s {
        return (0..n).collect();
    }
    (0..s).map(|i| i * n / s).collect()
}

/// Cosine similarities between the sampled rows, `s * s`, row-major.
pub fn sim_matrix(v: &Csr, sample: &[usize], dims: usize) -> Vec<f32> {
    let s = sample.len();
    let mut m = vec![0f32; s * s];
    let mut dense = vec![0f32; dims];
    for a in 0..s {
        let (ia, va) = v.row(sample[a]);
        for (&t, &w) in ia.iter().zip(va) {
            dense[t as usize] = w;
        }
        m[a * s + a] = 1.0;
        for b in a + 1..s {
            let (ib, vb) = v.row(sample[b]);
            let d: f32 = ib
                .iter()
                .zip(vb)
                .map(|(&t, &w)| w * dense[t as usize])
                .sum();
            m[a * s + b] = d;
            m[b * s + a] = d;
        }
        for &t in ia {
            dense[t as usize] = 0.0;
        }
    }
    m
}

/// A merge of the dendrogram: two points (representatives of the merged
/// clusters) and the average similarity between the clusters.
pub type Merge = (u32, u32, f32);

/// Average-linkage (UPGMA) dendrogram by the nearest-neighbour chain
/// algorithm, O(s^2) time on a similarity matrix (consumed); merges sorted
/// from the most to the least similar.
pub fn average_linkage(mut sim: Vec<f32>, s: usize) -> Vec<Merge> {
    let mut size = vec![1u32; s];
    let mut active = vec![true; s];
    let mut merges: Vec<Merge> = Vec::with_capacity(s.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    let mut remaining = s;
    while remaining > 1 {
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).unwrap_or(0));
        }
        loop {
            let a = chain[chain.len() - 1];
            let prev = if chain.len() >= 2 {
                Some(chain[chain.len() - 2])
            } else {
                None
            };
            // Most similar active neighbour; ties prefer the chain's
            // predecessor (so the chain ends) and then the lowest index.
            let mut best = usize::MAX;
            let mut best_s = f32::NEG_INFINITY;
            if let Some(p) = prev {
                best = p;
                best_s = sim[a * s + p];
            }
            for b in 0..s {
                if b == a || !active[b] {
                    continue;
                }
                let x = sim[a * s + b];
                if x > best_s || (x == best_s && Some(best) != prev && b < best) {
                    best = b;
                    best_s = x;
                }
            }
            if Some(best) == prev {
                chain.pop();
                chain.pop();
                let (x, y) = (a.min(best), a.max(best));
                merges.push((x as u32, y as u32, best_s));
                // Lance-Williams for average linkage; y's slot retires.
                let (nx, ny) = (size[x] as f32, size[y] as f32);
                for c in 0..s {
                    if active[c] && c != x && c != y {
                        let v = (nx * sim[x * s + c] + ny * sim[y * s + c]) / (nx + ny);
                        sim[x * s + c] = v;
                        sim[c * s + x] = v;
                    }
                }
                size[x] += size[y];
                active[y] = false;
                remaining -= 1;
                break;
            }
            chain.push(best);
        }
    }
    merges.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    merges
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let p = parent[parent[x as usize] as usize];
        parent[x as usize] = p;
        x = p;
    }
    x
}

/// The cut of the dendrogram with the highest mean silhouette (cosine
/// distance) among cuts into `2..=k_max` clusters; returns dense labels of
/// the sample points and the silhouette. Computed incrementally: the sum
/// of similarities of every point to every cluster is kept per column and
/// merged with the clusters, so each cut costs O(s * k).
pub fn silhouette_cut(sim: &[f32], s: usize, merges: &[Merge], k_max: usize) -> (Vec<usize>, f32) {
    if s < 3 {
        return ((0..s).map(|_| 0).collect(), 0.0);
    }
    let k_max = k_max.clamp(2, s - 1);
    let mut sums: Vec<f32> = sim.to_vec();
    let mut parent: Vec<u32> = (0..s as u32).collect();
    let mut size = vec![1usize; s];
    let mut best: (f32, usize) = (f32::NEG_INFINITY, s);
    let mut k = s;
    for (step, &(a, b, _)) in merges.iter().enumerate() {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        let (keep, gone) = (ra.min(rb), ra.max(rb));
        parent[gone as usize] = keep;
        size[keep as usize] += size[gone as usize];
        for i in 0..s {
            sums[i * s + keep as usize] += sums[i * s + gone as usize];
        }
        k -= 1;
        if k > k_max || k < 2 {
            continue;
        }
        let roots: Vec<usize> = (0..s)
            .filter(|&r| find(&mut parent, r as u32) == r as u32)
            .collect();
        let mut total = 0f32;
        for i in 0..s {
            let own = find(&mut parent, i as u32) as usize;
            if size[own] == 1 {
                continue;
            }
            let a = 1.0 - (sums[i * s + own] - 1.0) / (size[own] - 1) as f32;
            let mut bmin = f32::INFINITY;
            for &r in &roots {
                if r != own {
                    bmin = bmin.min(1.0 - sums[i * s + r] / size[r] as f32);
                }
            }
            let m = a.max(bmin);
            if m > 0.0 {
                total += (bmin - a) / m;
            }
        }
        let sil = total / s as f32;
        // Ties (and near-ties) go to the coarser cut.
        if sil >= best.0 - 1e-6 {
            best = (sil, step);
        }
    }
    let mut parent: Vec<u32> = (0..s as u32).collect();
    for &(a, b, _) in merges.iter().take(best.1 + 1) {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra.max(rb) as usize] = ra.min(rb);
    }
    let mut dense: FxMap<u32, usize> = FxMap::default();
    let labels = (0..s)
        .map(|i| {
            let r = find(&mut parent, i as u32);
            let next = dense.len();
            *dense.entry(r).or_insert(next)
        })
        .collect();
    (labels, best.0)
}

type FxMap<K, V> = FxHashMap<K, V>;

/// Unit centroids, stored term-major (`w[t * k + c]`) so scoring a sparse
/// document against all of them is one pass over its terms.
#[derive(Debug, Clone)]
pub struct Centroids {
    pub k: usize,
    pub w: Vec<f32>,
}

impl Centroids {
    /// Normalised mean of each cluster's members (`usize::MAX` = none).
    pub fn of(v: &Csr, assign: &[usize], k: usize, dims: usize) -> Centroids {
        let mut w = vec![0f32; dims * k];
        for (i, &c) in assign.iter().enumerate() {
            if c == usize::MAX {
                continue;
            }
            let (idx, val) = v.row(i);
            for (&t, &x) in idx.iter().zip(val) {
                w[t as usize * k + c] += x;
            }
        }
        let mut c = Centroids { k, w };
        c.normalise();
        c
    }

    fn normalise(&mut self) {
        let k = self.k;
        let mut norm = vec![0f32; k];
        for row in self.w.chunks_exact(k) {
            for (n, x) in norm.iter_mut().zip(row) {
                *n += x * x;
            }
        }
        for n in &mut norm {
            *n = if *n > 0.0 { 1.0 / n.sqrt() } else { 0.0 };
        }
        for row in self.w.chunks_exact_mut(k) {
            for (x, n) in row.iter_mut().zip(&norm) {
                *x *= n;
            }
        }
    }

    /// Similarity of a row to every centroid, into `out`.
    pub fn scores(&self, row: (&[u32], &[f32]), out: &mut [f32]) {
        out.fill(0.0);
        let k = self.k;
        for (&t, &x) in row.0.iter().zip(row.1) {
            let c = &self.w[t as usize * k..t as usize * k + k];
            for (o, y) in out.iter_mut().zip(c) {
                *o += x * y;
            }
        }
    }

    /// The most similar centroid (lowest index on ties) and its similarity.
    pub fn best(&self, row: (&[u32], &[f32]), buf: &mut Vec<f32>) -> (usize, f32) {
        buf.resize(self.k, 0.0);
        self.scores(row, buf);
        let mut best = (0, f32::NEG_INFINITY);
        for (c, &x) in buf.iter().enumerate() {
            if x > best.1 {
                best = (c, x);
            }
        }
        best
    }
}

/// Nearest centroid of every row, in parallel.
pub fn nearest(v: &Csr, cents: &Centroids) -> Vec<(usize, f32)> {
    let n = v.rows();
    let chunk = n.div_ceil(WORKERS).max(1);
    let mut out = vec![(0usize, 0f32); n];
    std::thread::scope(|scope| {
        for (w, part) in out.chunks_mut(chunk).enumerate() {
            scope.spawn(move || {
                let mut buf = Vec::new();
                for (j, slot) in part.iter_mut().enumerate() {
                    *slot = cents.best(v.row(w * chunk + j), &mut buf);
                }
            });
        }
    });
    out
}

/// Spherical k-means (Lloyd) from the given assignment until fewer than
/// 0.1% of the rows move or `max_iter` passes; empty clusters are dropped
/// and labels renumbered densely.
pub fn lloyd(v: &Csr, mut assign: Vec<usize>, dims: usize, max_iter: usize) -> Vec<usize> {
    for _ in 0..max_iter {
        let k = dense_labels(&mut assign);
        let cents = Centroids::of(v, &assign, k, dims);
        let next = nearest(v, &cents);
        let moved = next.iter().zip(&assign).filter(|(a, b)| a.0 != **b).count();
        for (a, b) in assign.iter_mut().zip(&next) {
            *a = b.0;
        }
        if moved * 1000 <= v.rows() {
            break;
        }
    }
    dense_labels(&mut assign);
    assign
}

/// Renumbers labels densely in order of first appearance; returns how many.
pub fn dense_labels(assign: &mut [usize]) -> usize {
    let mut map: FxMap<usize, usize> = FxMap::default();
    for a in assign.iter_mut() {
        let next = map.len();
        *a = *map.entry(*a).or_insert(next);
    }
    map.len()
}

/// Most clusters a sample of `s` is cut into: enough for every plausible
/// grouping (4 * sqrt(s), at most half the sample), and it bounds the cost
/// of scoring the cuts.
pub fn max_cut(s: usize) -> usize {
    ((4.0 * (s as f64).sqrt()) as usize).clamp(2, (s / 2).max(2))
}

/// Buckshot: the sample's dendrogram cut at its best silhouette seeds
/// spherical k-means over all rows. Sample clusters of one point seed
/// nothing unless the sample is the whole corpus.
pub fn buckshot(v: &Csr, dims: usize, sample_size: usize, max_iter: usize) -> Vec<usize> {
    let n = v.rows();
    if n < 3 {
        return (0..n).collect();
    }
    let sample = spread_sample(n, sample_size);
    let s = sample.len();
    let sim = sim_matrix(v, &sample, dims);
    let merges = average_linkage(sim.clone(), s);
    let (labels, _) = silhouette_cut(&sim, s, &merges, max_cut(s));
    drop(sim);
    if s == n {
        return lloyd(v, labels, dims, max_iter);
    }
    let mut sizes = vec![0usize; labels.iter().max().map_or(0, |m| m + 1)];
    for &l in &labels {
        sizes[l] += 1;
    }
    let mut seed = vec![usize::MAX; n];
    for (j, &i) in sample.iter().enumerate() {
        if sizes[labels[j]] >= 2 {
            seed[i] = labels[j];
        }
    }
    let k = sizes.len();
    let cents = Centroids::of(v, &seed, k, dims);
    let first: Vec<usize> = nearest(v, &cents).into_iter().map(|e| e.0).collect();
    lloyd(v, first, dims, max_iter)
}

/// Silhouette of a labelling of the sample (cosine distance).
pub fn silhouette(sim: &[f32], s: usize, labels: &[usize]) -> f32 {
    let k = labels.iter().max().map_or(0, |m| m + 1);
    let mut size = vec![0usize; k];
    for &l in labels {
        size[l] += 1;
    }
    let mut total = 0f32;
    let mut sums = vec![0f32; k];
    for i in 0..s {
        sums.fill(0.0);
        for j in 0..s {
            if j != i {
                sums[labels[j]] += sim[i * s + j];
            }
        }
        let own = labels[i];
        if size[own] <= 1 {
            continue;
        }
        let a = 1.0 - sums[own] / (size[own] - 1) as f32;
        let b = (0..k)
            .filter(|&c| c != own && size[c] > 0)
            .map(|c| 1.0 - sums[c] / size[c] as f32)
            .fold(f32::INFINITY, f32::min);
        if b.is_finite() {
            let m = a.max(b);
            if m > 0.0 {
                total += (b - a) / m;
            }
        }
    }
    total / s as f32
}

/// SplitMix64, for reproducible seeding.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// k-means++ seeds among the sample (indices into `sample`).
fn kmeans_pp(sim: &[f32], s: usize, k: usize, rng: &mut Rng) -> Vec<usize> {
    let mut seeds = vec![(rng.next_u64() % s as u64) as usize];
    let mut d2: Vec<f64> = (0..s)
        .map(|i| f64::from((1.0 - sim[i * s + seeds[0]]).max(0.0)).powi(2))
        .collect();
    while seeds.len() < k {
        let total: f64 = d2.iter().sum();
        if total <= 0.0 {
            break;
        }
        let mut r = rng.unit() * total;
        let mut pick = s - 1;
        for (i, d) in d2.iter().enumerate() {
            if r < *d {
                pick = i;
                break;
            }
            r -= d;
        }
        seeds.push(pick);
        for (i, d) in d2.iter_mut().enumerate() {
            let x = f64::from((1.0 - sim[i * s + pick]).max(0.0)).powi(2);
            if x < *d {
                *d = x;
            }
        }
    }
    seeds
}

/// k-means for k in a ladder up to `k_max`, keeping the result whose
/// labelling of the sample has the highest silhouette.
pub fn kmeans_silhouette(
    v: &Csr,
    dims: usize,
    sample_size: usize,
    k_max: usize,
    max_iter: usize,
) -> Vec<usize> {
    let n = v.rows();
    if n < 3 {
        return (0..n).collect();
    }
    let sample = spread_sample(n, sample_size);
    let s = sample.len();
    let sim = sim_matrix(v, &sample, dims);
    let mut best: (f32, Vec<usize>) = (f32::NEG_INFINITY, (0..n).map(|_| 0).collect());
    let mut k = 2;
    while k <= k_max.min(s - 1) {
        let mut rng = Rng(k as u64);
        let seeds = kmeans_pp(&sim, s, k, &mut rng);
        let mut seed = vec![usize::MAX; n];
        for (c, &j) in seeds.iter().enumerate() {
            seed[sample[j]] = c;
        }
        let cents = Centroids::of(v, &seed, seeds.len(), dims);
        let first: Vec<usize> = nearest(v, &cents).into_iter().map(|e| e.0).collect();
        let assign = lloyd(v, first, dims, max_iter);
        let labels: Vec<usize> = sample.iter().map(|&i| assign[i]).collect();
        let sil = silhouette(&sim, s, &labels);
        if sil > best.0 + 1e-6 {
            best = (sil, assign);
        }
        k = if k < 8 { k + 2 } else { k + k / 4 };
    }
    best.1
}

/// Leader clustering: each row joins the most similar cluster (cosine to
/// the summed vector) at or above `threshold`, else starts one; then
/// `passes` reassignment passes. Exact scan of all clusters: for the
/// comparison only.
pub fn leader(v: &Csr, dims: usize, threshold: f32, passes: usize) -> Vec<usize> {
    let n = v.rows();
    let mut sums: Vec<FxMap<u32, f32>> = Vec::new();
    let mut norm2: Vec<f32> = Vec::new();
    let mut postings: Vec<Vec<u32>> = vec![Vec::new(); dims];
    let mut assign = vec![0usize; n];
    let mut acc: FxMap<u32, ()> = FxMap::default();
    for (i, slot) in assign.iter_mut().enumerate() {
        let (idx, val) = v.row(i);
        acc.clear();
        for &t in idx {
            for &c in &postings[t as usize] {
                acc.insert(c, ());
            }
        }
        let mut best: Option<(usize, f32)> = None;
        for &c in acc.keys() {
            let c = c as usize;
            let dot: f32 = idx
                .iter()
                .zip(val)
                .map(|(t, w)| w * sums[c].get(t).copied().unwrap_or(0.0))
                .sum();
            let sim = dot / norm2[c].sqrt().max(1e-12);
            if best.is_none_or(|(bc, b)| sim > b || (sim == b && c < bc)) {
                best = Some((c, sim));
            }
        }
        let c = match best {
            Some((c, s)) if s >= threshold => c,
            _ => {
                sums.push(FxMap::default());
                norm2.push(0.0);
                sums.len() - 1
            }
        };
        let sum = &mut sums[c];
        let mut dot = 0.0;
        for (&t, &w) in idx.iter().zip(val) {
            let e = sum.entry(t).or_insert_with(|| {
                postings[t as usize].push(c as u32);
                0.0
            });
            dot += *e * w;
            *e += w;
        }
        norm2[c] += 2.0 * dot + val.iter().map(|w| w * w).sum::<f32>();
        *slot = c;
    }
    drop(sums);
    drop(postings);
    if passes > 0 {
        assign = lloyd(v, assign, dims, passes);
    }
    dense_labels(&mut assign);
    assign
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_linkage_merges_closest_first() {
        // Points 0,1 close; 2,3 close; the pairs far apart.
        let s = 4;
        let sim = vec![
            1.0, 0.9, 0.1, 0.0, //
            0.9, 1.0, 0.0, 0.1, //
            0.1, 0.0, 1.0, 0.8, //
            0.0, 0.1, 0.8, 1.0,
        ];
        let m = average_linkage(sim.clone(), s);
        assert_eq!((m[0].0, m[0].1), (0, 1));
        assert_eq!((m[1].0, m[1].1), (2, 3));
        assert!((m[2].2 - 0.05).abs() < 1e-6);
        let (labels, sil) = silhouette_cut(&sim, s, &m, 3);
        assert_eq!(labels, vec![0, 0, 1, 1]);
        assert!((sil - silhouette(&sim, s, &labels)).abs() < 1e-5);
    }
}
