//! Sparse document vectors: a compact store of term counts while reports
//! are read, then unit tf-idf vectors over the selected terms.

/// Rows of `(u32 column, f32 value)`, compressed (CSR).
#[derive(Debug, Clone, Default)]
pub struct Csr {
    pub indptr: Vec<usize>,
    pub idx: Vec<u32>,
    pub val: Vec<f32>,
}

impl Csr {
    pub fn new() -> Self {
        Csr {
            indptr: vec![0],
            idx: Vec::new(),
            val: Vec::new(),
        }
    }

    pub fn rows(&self) -> usize {
        self.indptr.len() - 1
    }

    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.idx[a..b], &self.val[a..b])
    }

    pub fn push_row(&mut self, row: &[(u32, f32)]) {
        for &(c, v) in row {
            self.idx.push(c);
            self.val.push(v);
        }
        self.indptr.push(self.idx.len());
    }
}

/// Term counts of every document read so far: `(term id, tf)` sorted by
/// term id, five bytes per distinct term of a document, in fixed blocks
/// (no doubling of one huge buffer, and blocks are freed as soon as the
/// vectors are built from them).
#[derive(Debug, Clone, Default)]
pub struct CountStore {
    ids: Vec<Vec<u32>>,
    tfs: Vec<Vec<u8>>,
    /// Block and offset of each document's first entry, and its length.
    docs: Vec<(u32, u32, u32)>,
}

/// Entries per block (4 MiB of ids).
const BLOCK: usize = 1 << 20;

impl CountStore {
    pub fn new() -> Self {
        CountStore::default()
    }

    /// Adds a document from its term ids (with repeats; sorted in place).
    /// Counts saturate at 255, far beyond where `1 + ln tf` still matters.
    pub fn push(&mut self, terms: &mut [u32]) {
        terms.sort_unstable();
        let distinct =
            terms.windows(2).filter(|w| w[0] != w[1]).count() + usize::from(!terms.is_empty());
        let fits = self
            .ids
            .last()
            .is_some_and(|b| b.capacity() - b.len() >= distinct);
        if !fits {
            let cap = BLOCK.max(distinct);
            self.ids.push(Vec::with_capacity(cap));
            self.tfs.push(Vec::with_capacity(cap));
        }
        let b = self.ids.len() - 1;
        let (ids, tfs) = (&mut self.ids[b], &mut self.tfs[b]);
        let start = ids.len();
        let mut i = 0;
        while i < terms.len() {
            let t = terms[i];
            let mut j = i;
            while j < terms.len() && terms[j] == t {
                j += 1;
            }
            ids.push(t);
            tfs.push((j - i).min(255) as u8);
            i = j;
        }
        self.docs
            .push((b as u32, start as u32, (ids.len() - start) as u32));
    }

    pub fn docs(&self) -> usize {
        self.docs.len()
    }

    pub fn doc(&self, i: usize) -> impl Iterator<Item = (u32, u32)> + '_ {
        let (b, start, len) = self.docs[i];
        let (b, a, e) = (b as usize, start as usize, (start + len) as usize);
        self.ids[b][a..e]
            .iter()
            .zip(&self.tfs[b][a..e])
            .map(|(&t, &n)| (t, u32::from(n)))
    }

    /// Frees the blocks that hold only documents before `i`.
    pub fn free_before(&mut self, i: usize) {
        let Some(&(b, _, _)) = self.docs.get(i) else {
            return;
        };
        for k in 0..b as usize {
            if self.ids[k].capacity() > 0 {
                self.ids[k] = Vec::new();
                self.tfs[k] = Vec::new();
            }
        }
    }

    /// Entries held (distinct terms summed over documents).
    pub fn entries(&self) -> usize {
        self.docs.iter().map(|d| d.2 as usize).sum()
    }
}

/// Sublinear term frequency.
pub fn tf_weight(tf: u32) -> f32 {
    1.0 + (tf.max(1) as f32).ln()
}

/// Smoothed inverse document frequency (never zero).
pub fn idf(n: u64, df: u64) -> f32 {
    ((1.0 + n as f32) / (1.0 + df as f32)).ln() + 1.0
}

/// Scales `v` to length `length` (no-op for a zero vector).
pub fn normalise(v: &mut [(u32, f32)], length: f32) {
    let norm = v.iter().map(|e| e.1 * e.1).sum::<f32>().sqrt();
    if norm > 0.0 {
        for e in v.iter_mut() {
            e.1 *= length / norm;
        }
    }
}
