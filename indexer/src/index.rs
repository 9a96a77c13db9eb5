//! Opening the index, the single writer, the durable sequence marker and the
//! build-aside-then-swap layout.
//!
//! Policy:
//! - One [`IncidentWriter`] per index (tantivy holds a lock file); it is meant
//!   to be owned by one task that follows the database change log.
//! - [`IncidentWriter::upsert`] deletes by id before adding, so replaying
//!   operations is idempotent. Nothing is visible or durable until
//!   [`IncidentWriter::commit`], which stores the last change-log sequence it
//!   covers in the commit's payload, atomically with the documents. After a
//!   crash the follower reads [`IncidentIndex::last_committed_seq`] and
//!   replays from the next sequence; an uncommitted batch is simply redone.
//! - Under a data directory ([`IndexHandle`]) each full build lives in its
//!   own `gen-<n>/` folder and a small `CURRENT` file (written to a temporary
//!   file, synced, then renamed) names the live one. `reindex` builds the next
//!   generation aside while searches go on against the current one, then
//!   swaps readers over atomically.
//! - Cost and memory ([`WriterOptions`]): documents are analysed and indexed
//!   by the writer's threads; `upsert` only queues them (tantivy queues up
//!   to 10,000 documents, about 16 KB each for a 5 KB report, when the
//!   caller outruns indexing) and `commit` waits for the queue, writes the
//!   segments, syncs and reloads the reader (whose warmer builds the new
//!   segments' tables). Each commit costs tens of milliseconds and leaves
//!   a small segment per thread: commit a steady trickle every 100-200 ms,
//!   but a backlog in batches of thousands. Segments are merged by
//!   [`MergeOptions`]; [`IncidentWriter::compact`] merges everything after
//!   a bulk build.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::directory::MmapDirectory;
use tantivy::query::{
    BooleanQuery, ConstScorer, EnableScoring, Explanation, Occur, Query, Scorer, TermQuery, Weight,
};
use tantivy::schema::IndexRecordOption;
use tantivy::tokenizer::TokenizerManager;
use tantivy::{
    DocId, Index, IndexReader, IndexWriter, ReloadPolicy, Score, Searcher, SegmentReader,
    TantivyDocument, Warmer,
};

use crate::doc::{IndexDoc, Tlp};
use crate::error::{IndexError, Result};
use crate::mapping::{Fields, KeywordField, query_tokenizers, register_analyzers};
use crate::search::{DocBitsSet, SegmentTables, visibility_mask};

/// Options for the index writer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WriterOptions {
    /// Indexing threads (the service machine has two cores, shared).
    pub threads: usize,
    /// Total memory budget of the writer in bytes, shared by its threads
    /// (tantivy needs at least 15 MB per thread). A thread writes its
    /// documents out as a segment when its share is full, or on commit.
    pub heap_bytes: usize,
    /// When segments are merged.
    pub merge: MergeOptions,
}

/// One indexing thread and 64 MB: the serving process's follower (a
/// trickle of commits, and catching up while searches go on; the thread
/// that reads the database and builds documents runs beside it).
impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            threads: 1,
            heap_bytes: 64 * 1024 * 1024,
            merge: MergeOptions::default(),
        }
    }
}

impl WriterOptions {
    /// Two indexing threads and 128 MB, for building a whole index aside
    /// (`reindex`, a large backlog with few searches): larger segments,
    /// fewer merges. Follow the build with [`IncidentWriter::compact`].
    pub fn bulk() -> Self {
        WriterOptions {
            threads: 2,
            heap_bytes: 128 * 1024 * 1024,
            merge: MergeOptions::default(),
        }
    }
}

/// When the writer merges segments (tantivy's log merge policy): segments
/// are grouped in tiers of similar size (each tier `tier_factor` times
/// larger than the next), and a tier is merged into one segment as soon as
/// it holds `min_segments` of them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MergeOptions {
    /// Segments of one tier merged together; 0 never merges (tests that
    /// need a fixed segment layout).
    pub min_segments: usize,
    /// Size ratio between tiers.
    pub tier_factor: f64,
    /// Segments with fewer documents all form the lowest tier.
    pub min_tier_docs: u32,
    /// A tier with a segment whose share of deleted documents exceeds this
    /// is merged even when it holds fewer segments (reclaims replaced
    /// reports).
    pub max_deleted_ratio: f32,
}

/// Merge four segments of a tier into one, tiers four times apart, from
/// 1,000 documents: a steady trickle of one-report commits keeps about four
/// segments beside the large ones (tantivy's default, 8 per tier from
/// 10,000 documents, averaged 6 and peaked at 10, and merged 9,000-document
/// segments again for every few reports); a bulk build ends with one to
/// five. A segment with more than 30% of its documents replaced or deleted
/// is merged again (tantivy's default never does).
impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            min_segments: 4,
            tier_factor: 4.0,
            min_tier_docs: 1_000,
            max_deleted_ratio: 0.3,
        }
    }
}

impl MergeOptions {
    /// Never merge.
    pub fn none() -> Self {
        MergeOptions {
            min_segments: 0,
            ..Default::default()
        }
    }

    fn policy(&self) -> Box<dyn tantivy::indexer::MergePolicy> {
        if self.min_segments == 0 {
            return Box::new(tantivy::indexer::NoMergePolicy);
        }
        let mut p = tantivy::indexer::LogMergePolicy::default();
        p.set_min_num_segments(self.min_segments.max(2));
        p.set_level_log_size(self.tier_factor.max(1.01).log2());
        p.set_min_layer_size(self.min_tier_docs);
        p.set_del_docs_ratio_before_merge(self.max_deleted_ratio.clamp(0.01, 1.0));
        Box::new(p)
    }
}

/// Doc store block size of new indexes (tantivy's default is 16 KiB).
///
/// Each hit of a search decompresses the block holding its document. With
/// reports of about 5 KB, 8 KiB blocks hold one or two: a 10-hit page
/// decompresses about half as much as with 16 KiB blocks (measured 10 µs a
/// document instead of 13), for a doc store 4% larger. LZ4, not zstd:
/// tantivy's zstd store makes a fresh decompression context for every
/// block, which measured 31-40 µs a document (+0.2 ms a page) for a store
/// a third smaller. Existing indexes keep the settings they were created
/// with.
pub const DOCSTORE_BLOCK_BYTES: usize = 8 * 1024;

fn store_settings() -> tantivy::IndexSettings {
    tantivy::IndexSettings {
        docstore_compression: tantivy::store::Compressor::Lz4,
        docstore_blocksize: DOCSTORE_BLOCK_BYTES,
        ..Default::default()
    }
}

/// What the commit payload holds.
#[derive(Debug, Serialize, Deserialize)]
struct CommitMarker {
    last_seq: i64,
}

/// An incident index: the tantivy index, a reader and the schema handles.
pub struct IncidentIndex {
    index: Index,
    reader: IndexReader,
    /// Per-segment facet and visibility tables; the reader's warmer fills
    /// them (it holds a weak reference, this is the strong one).
    tables: Arc<SegmentTables>,
    fields: Fields,
    query_tokenizers: TokenizerManager,
    dir: Option<PathBuf>,
}

impl std::fmt::Debug for IncidentIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentIndex")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl IncidentIndex {
    /// Opens the index in `dir`, creating the directory and an empty index
    /// when needed.
    pub fn open_or_create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
        let mmap = MmapDirectory::open(dir).map_err(|e| IndexError::Layout {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        })?;
        let index = Index::builder()
            .schema(Fields::build_schema())
            .settings(store_settings())
            .open_or_create(mmap)?;
        Self::from_index(index, Some(dir.to_path_buf()))
    }

    /// An index held in memory only (tests, evaluation).
    pub fn create_in_ram() -> Result<Self> {
        Self::from_index(Index::create_in_ram(Fields::build_schema()), None)
    }

    fn from_index(index: Index, dir: Option<PathBuf>) -> Result<Self> {
        register_analyzers(&index);
        let fields = Fields::from_schema(index.schema())?;
        let tables = Arc::new(SegmentTables::default());
        let warmer: Arc<dyn Warmer> = tables.clone();
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .warmers(vec![Arc::downgrade(&warmer)])
            .try_into()?;
        Ok(IncidentIndex {
            index,
            reader,
            tables,
            fields,
            query_tokenizers: query_tokenizers(),
            dir,
        })
    }

    /// The directory holding the index (`None` when in memory).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Opens the writer with default options.
    pub fn writer(&self) -> Result<IncidentWriter> {
        self.writer_with(WriterOptions::default())
    }

    /// Opens the writer. Fails while another writer on this index is alive.
    pub fn writer_with(&self, opts: WriterOptions) -> Result<IncidentWriter> {
        let writer = self
            .index
            .writer_with_num_threads(opts.threads.max(1), opts.heap_bytes)?;
        writer.set_merge_policy(opts.merge.policy());
        Ok(IncidentWriter {
            writer,
            fields: self.fields.clone(),
            reader: self.reader.clone(),
            last_seq: self.last_committed_seq()?,
            pending: 0,
        })
    }

    /// The change-log sequence recorded by the last commit, read from the
    /// index's metadata on disk; `None` for an index never committed with a
    /// sequence.
    pub fn last_committed_seq(&self) -> Result<Option<i64>> {
        let metas = self.index.load_metas()?;
        match metas.payload {
            None => Ok(None),
            Some(p) => serde_json::from_str::<CommitMarker>(&p)
                .map(|m| Some(m.last_seq))
                .map_err(|e| IndexError::Payload(format!("{e}: {p}"))),
        }
    }

    /// Number of segments searches go through.
    pub fn num_segments(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Number of documents visible to searches (all TLP levels).
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Bytes on disk by part and field (`postings.summary`,
    /// `positions.title`, `store`, ...), summed over the live segments: what
    /// the index spends its space on.
    pub fn space_usage(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        let usage = self
            .searcher()
            .space_usage()
            .map_err(|e| IndexError::io(self.dir.clone().unwrap_or_default(), e))?;
        let mut out = std::collections::BTreeMap::new();
        let mut add = |key: String, n: u64| *out.entry(key).or_insert(0u64) += n;
        for seg in usage.segments() {
            for (part, per_field) in [
                ("terms", seg.termdict()),
                ("postings", seg.postings()),
                ("positions", seg.positions()),
                ("fast", seg.fast_fields()),
                ("fieldnorms", seg.fieldnorms()),
            ] {
                for f in per_field.fields() {
                    add(format!("{part}.{}", f.field_name()), f.total().get_bytes());
                }
            }
            add("store".into(), seg.store().total().get_bytes());
            add("deletes".into(), seg.deletes().get_bytes());
        }
        Ok(out)
    }

    /// Makes the latest commit visible to searches. Commits through this
    /// crate's writer reload by themselves.
    pub fn reload(&self) -> Result<()> {
        Ok(self.reader.reload()?)
    }

    /// The stored document with this id, if the reader may see it.
    pub fn get(&self, id: &str, visibility: &[Tlp]) -> Result<Option<IndexDoc>> {
        let searcher = self.searcher();
        Ok(self.find(&searcher, id, visibility)?.map(|(_, d)| d))
    }

    pub(crate) fn find(
        &self,
        searcher: &Searcher,
        id: &str,
        visibility: &[Tlp],
    ) -> Result<Option<(tantivy::DocAddress, IndexDoc)>> {
        let q = BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(TermQuery::new(
                    self.fields.id_term(id),
                    IndexRecordOption::Basic,
                )) as Box<dyn Query>,
            ),
            (Occur::Must, self.visibility_query(visibility)),
        ]);
        let top = searcher.search(&q, &TopDocs::with_limit(1).order_by_score())?;
        match top.first() {
            None => Ok(None),
            Some((_, addr)) => {
                let d: TantivyDocument = searcher.doc(*addr)?;
                Ok(Some((*addr, self.fields.from_document(&d))))
            }
        }
    }

    /// Every visible document, in index order (for re-clustering from the
    /// index). Loads all stored documents: meant for batch jobs.
    pub fn all_docs(&self, visibility: &[Tlp]) -> Result<Vec<IndexDoc>> {
        let searcher = self.searcher();
        let q = self.visibility_query(visibility);
        let addrs = searcher.search(&q, &tantivy::collector::DocSetCollector)?;
        let mut addrs: Vec<_> = addrs.into_iter().collect();
        addrs.sort();
        addrs
            .into_iter()
            .map(|a| {
                Ok(self
                    .fields
                    .from_document(&searcher.doc::<TantivyDocument>(a)?))
            })
            .collect()
    }

    /// The id and revision of every live document, read from the fast
    /// fields (no stored document is loaded): what a reconciliation
    /// compares with the database.
    pub fn id_revisions(&self) -> Result<std::collections::HashMap<String, u64>> {
        let searcher = self.searcher();
        let mut out = std::collections::HashMap::with_capacity(searcher.num_docs() as usize);
        for segment in searcher.segment_readers() {
            let fast = segment.fast_fields();
            let ids = fast
                .str(crate::mapping::F_ID)?
                .ok_or_else(|| IndexError::Layout {
                    path: Default::default(),
                    reason: "the id field is not a fast field".into(),
                })?;
            let revisions = fast.u64(crate::mapping::F_REVISION)?;
            let mut id = String::new();
            for doc in segment.doc_ids_alive() {
                let Some(ord) = ids.term_ords(doc).next() else {
                    continue;
                };
                id.clear();
                ids.ord_to_str(ord, &mut id)
                    .map_err(|e| IndexError::io("index", e))?;
                let revision = revisions.first(doc).unwrap_or(0);
                out.insert(id.clone(), revision);
            }
        }
        Ok(out)
    }

    /// A query matching exactly the documents at the given TLP levels (none
    /// when `visibility` is empty): the documents whose tlp term is one of
    /// theirs, read from the segment tables (no postings are decoded).
    pub(crate) fn visibility_query(&self, visibility: &[Tlp]) -> Box<dyn Query> {
        Box::new(VisibilityQuery {
            tables: self.tables.clone(),
            mask: visibility_mask(visibility),
        })
    }

    pub(crate) fn segment_tables(&self) -> Arc<SegmentTables> {
        self.tables.clone()
    }

    pub(crate) fn searcher(&self) -> Searcher {
        self.reader.searcher()
    }

    pub(crate) fn fields(&self) -> &Fields {
        &self.fields
    }

    pub(crate) fn tantivy_index(&self) -> &Index {
        &self.index
    }

    pub(crate) fn query_tokenizers(&self) -> &TokenizerManager {
        &self.query_tokenizers
    }

    pub(crate) fn keyword_field(&self, k: KeywordField) -> tantivy::schema::Field {
        self.fields.keyword(k)
    }
}

/// Documents at a set of TLP levels, as a query.
#[derive(Clone)]
struct VisibilityQuery {
    tables: Arc<SegmentTables>,
    mask: u8,
}

impl std::fmt::Debug for VisibilityQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VisibilityQuery")
            .field("mask", &self.mask)
            .finish()
    }
}

impl Query for VisibilityQuery {
    fn weight(&self, _scoring: EnableScoring<'_>) -> tantivy::Result<Box<dyn Weight>> {
        Ok(Box::new(self.clone()))
    }
}

impl Weight for VisibilityQuery {
    fn scorer(&self, reader: &SegmentReader, boost: Score) -> tantivy::Result<Box<dyn Scorer>> {
        let bits = self.tables.get(reader)?.visible_docs(self.mask);
        Ok(Box::new(ConstScorer::new(DocBitsSet::new(bits), boost)))
    }

    fn explain(&self, reader: &SegmentReader, doc: DocId) -> tantivy::Result<Explanation> {
        if self
            .tables
            .get(reader)?
            .visible_docs(self.mask)
            .contains(doc)
        {
            Ok(Explanation::new("VisibilityQuery", 1.0))
        } else {
            Err(tantivy::TantivyError::InvalidArgument(format!(
                "document {doc} is not visible"
            )))
        }
    }
}

/// The index writer: applies upserts and deletes, commits batches with the
/// change-log sequence they cover.
pub struct IncidentWriter {
    writer: IndexWriter,
    fields: Fields,
    reader: IndexReader,
    last_seq: Option<i64>,
    pending: usize,
}

impl std::fmt::Debug for IncidentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncidentWriter")
            .field("last_seq", &self.last_seq)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl IncidentWriter {
    /// Adds or replaces the document with `doc.id`.
    pub fn upsert(&mut self, doc: &IndexDoc) -> Result<()> {
        let d = self.fields.to_document(doc)?;
        self.writer.delete_term(self.fields.id_term(&doc.id));
        self.writer.add_document(d)?;
        self.pending += 1;
        Ok(())
    }

    /// Removes the document with this id (no-op when absent).
    pub fn delete(&mut self, id: &str) {
        self.writer.delete_term(self.fields.id_term(id));
        self.pending += 1;
    }

    /// Operations since the last commit or rollback.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// The sequence of the last commit made or found on open.
    pub fn last_seq(&self) -> Option<i64> {
        self.last_seq
    }

    /// Makes every pending operation durable and visible, recording
    /// `last_seq` (the highest change-log sequence applied) in the same
    /// commit. A sequence lower than the previous commit's is refused: it
    /// would make the follower replay already-applied changes forever.
    pub fn commit(&mut self, last_seq: i64) -> Result<()> {
        if let Some(prev) = self.last_seq
            && last_seq < prev
        {
            return Err(IndexError::InvalidRequest(format!(
                "commit sequence {last_seq} is lower than the last committed {prev}"
            )));
        }
        let payload = serde_json::to_string(&CommitMarker { last_seq })
            .map_err(|e| IndexError::Payload(e.to_string()))?;
        let mut prepared = self.writer.prepare_commit()?;
        prepared.set_payload(&payload);
        prepared.commit()?;
        self.last_seq = Some(last_seq);
        tracing::debug!(last_seq, ops = self.pending, "index commit");
        self.pending = 0;
        self.reader.reload()?;
        Ok(())
    }

    /// Drops every pending operation.
    pub fn rollback(&mut self) -> Result<()> {
        self.writer.rollback()?;
        self.pending = 0;
        Ok(())
    }

    /// Merges every committed segment into one and waits for it, then
    /// makes the result visible: after a bulk build, searches and similar
    /// incidents then look terms up once instead of once per segment.
    /// Pending operations are left pending.
    pub fn compact(&mut self) -> Result<()> {
        // A background merge may hold some of the segments: its result
        // replaces them, so the merge of all is asked again (a few times).
        for attempt in 0.. {
            let ids = self.writer.index().searchable_segment_ids()?;
            if ids.len() <= 1 {
                break;
            }
            match self.writer.merge(&ids).wait() {
                Ok(_) => break,
                Err(e) if attempt >= 50 => return Err(e.into()),
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
            }
        }
        self.reader.reload()?;
        Ok(())
    }

    /// Waits for background merges to finish and releases the writer lock.
    pub fn finish(self) -> Result<()> {
        self.writer.wait_merging_threads()?;
        Ok(())
    }
}

const CURRENT_FILE: &str = "CURRENT";
const GEN_PREFIX: &str = "gen-";

#[derive(Debug)]
struct Live {
    generation: u64,
    index: Arc<IncidentIndex>,
}

/// The data directory's index: the live generation behind an atomic pointer,
/// and the build-aside-then-swap machinery of `reindex`.
#[derive(Debug)]
pub struct IndexHandle {
    root: PathBuf,
    live: ArcSwap<Live>,
}

/// A generation being built aside; becomes live with [`IndexHandle::swap_to`].
#[derive(Debug)]
pub struct Rebuild {
    generation: u64,
    index: IncidentIndex,
}

impl Rebuild {
    /// The new, empty index to fill (take its writer, upsert everything,
    /// commit with the sequence the snapshot covers).
    pub fn index(&self) -> &IncidentIndex {
        &self.index
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl IndexHandle {
    /// Opens the live generation under `root` (creating `gen-1` on a fresh
    /// directory) and removes generations older than it.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| IndexError::io(&root, e))?;
        let generation = match read_current(&root)? {
            Some(g) => g,
            None => {
                // The folder exists before the pointer names it.
                let dir = gen_dir(&root, 1);
                fs::create_dir_all(&dir).map_err(|e| IndexError::io(&dir, e))?;
                write_current(&root, 1)?;
                1
            }
        };
        let index = IncidentIndex::open_or_create(gen_dir(&root, generation))?;
        let handle = IndexHandle {
            root,
            live: ArcSwap::from_pointee(Live {
                generation,
                index: Arc::new(index),
            }),
        };
        handle.remove_stale_generations()?;
        Ok(handle)
    }

    /// The live index. Searches hold the returned `Arc` for their duration,
    /// so a swap never pulls an index out from under a running search.
    pub fn current(&self) -> Arc<IncidentIndex> {
        self.live.load().index.clone()
    }

    /// Number of the live generation (changes on every swap).
    pub fn generation(&self) -> u64 {
        self.live.load().generation
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates an empty next generation beside the live one.
    pub fn prepare_rebuild(&self) -> Result<Rebuild> {
        let next = self.max_generation_on_disk()?.max(self.generation()) + 1;
        let dir = gen_dir(&self.root, next);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(|e| IndexError::io(&dir, e))?;
        }
        Ok(Rebuild {
            generation: next,
            index: IncidentIndex::open_or_create(&dir)?,
        })
    }

    /// Makes a rebuilt generation live: `CURRENT` is replaced atomically,
    /// then readers switch. The old generation stays on disk until
    /// [`IndexHandle::remove_stale_generations`] (call it once the old
    /// writer is dropped).
    pub fn swap_to(&self, rebuild: Rebuild) -> Result<()> {
        if rebuild.generation <= self.generation() {
            return Err(IndexError::InvalidRequest(format!(
                "generation {} is not newer than the live {}",
                rebuild.generation,
                self.generation()
            )));
        }
        rebuild.index.reload()?;
        write_current(&self.root, rebuild.generation)?;
        self.live.store(Arc::new(Live {
            generation: rebuild.generation,
            index: Arc::new(rebuild.index),
        }));
        tracing::info!(generation = rebuild.generation, "index generation swapped");
        Ok(())
    }

    /// Switches to a newer generation another process (`incidex reindex`)
    /// made live on disk; returns whether it switched.
    pub fn adopt_from_disk(&self) -> Result<bool> {
        let Some(on_disk) = read_current(&self.root)? else {
            return Ok(false);
        };
        if on_disk <= self.generation() {
            return Ok(false);
        }
        let index = IncidentIndex::open_or_create(gen_dir(&self.root, on_disk))?;
        self.live.store(Arc::new(Live {
            generation: on_disk,
            index: Arc::new(index),
        }));
        tracing::info!(generation = on_disk, "adopted index generation from disk");
        Ok(true)
    }

    /// Deletes the `gen-<n>` folders older than the live one; returns how
    /// many. Newer ones are left alone: another process may be building one.
    pub fn remove_stale_generations(&self) -> Result<usize> {
        let live = self.generation();
        let mut removed = 0;
        for (g, path) in list_generations(&self.root)? {
            if g < live {
                fs::remove_dir_all(&path).map_err(|e| IndexError::io(&path, e))?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn max_generation_on_disk(&self) -> Result<u64> {
        Ok(list_generations(&self.root)?
            .into_iter()
            .map(|(g, _)| g)
            .max()
            .unwrap_or(0))
    }
}

fn gen_dir(root: &Path, generation: u64) -> PathBuf {
    root.join(format!("{GEN_PREFIX}{generation}"))
}

fn list_generations(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root).map_err(|e| IndexError::io(root, e))? {
        let entry = entry.map_err(|e| IndexError::io(root, e))?;
        let name = entry.file_name();
        if let Some(g) = name
            .to_str()
            .and_then(|n| n.strip_prefix(GEN_PREFIX))
            .and_then(|n| n.parse().ok())
            && entry.path().is_dir()
        {
            out.push((g, entry.path()));
        }
    }
    Ok(out)
}

fn read_current(root: &Path) -> Result<Option<u64>> {
    let path = root.join(CURRENT_FILE);
    match fs::read_to_string(&path) {
        Ok(s) => {
            let g = s
                .trim()
                .strip_prefix(GEN_PREFIX)
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| IndexError::Layout {
                    path: path.clone(),
                    reason: format!("unexpected content {s:?}"),
                })?;
            if !gen_dir(root, g).is_dir() {
                return Err(IndexError::Layout {
                    path,
                    reason: format!("names {GEN_PREFIX}{g}, which does not exist"),
                });
            }
            Ok(Some(g))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(IndexError::io(path, e)),
    }
}

/// Replaces `CURRENT` atomically: temporary file, fsync, rename, fsync of the
/// directory, so a crash leaves either the old or the new pointer.
fn write_current(root: &Path, generation: u64) -> Result<()> {
    let tmp = root.join(format!("{CURRENT_FILE}.tmp"));
    let path = root.join(CURRENT_FILE);
    {
        let mut f = fs::File::create(&tmp).map_err(|e| IndexError::io(&tmp, e))?;
        writeln!(f, "{GEN_PREFIX}{generation}").map_err(|e| IndexError::io(&tmp, e))?;
        f.sync_all().map_err(|e| IndexError::io(&tmp, e))?;
    }
    fs::rename(&tmp, &path).map_err(|e| IndexError::io(&path, e))?;
    fs::File::open(root)
        .and_then(|d| d.sync_all())
        .map_err(|e| IndexError::io(root, e))?;
    Ok(())
}
