//! incidex's full-text index: mapping and analysers, the change-log writer,
//! search, matching new reports against saved searches, similar incidents,
//! clustering and their evaluation.
//!
//! Policy: no HTTP and no database access. The index is derived data: the
//! API feeds it [`IndexDoc`]s (the published, anonymised view of a report,
//! with no filer identity) from the database change log, commits batches with
//! the last sequence applied, and rebuilds it aside with [`IndexHandle`].
//! Every read (search, facets, similar, clusters) takes the TLP levels the
//! reader may see and never returns or counts anything outside them.
//!
//! Performance policy: answers are pinned by `tests/golden.rs` (hits,
//! scores, totals, facets, snippets, similar incidents); a faster path must
//! give the same answers. Per-segment data a search would otherwise
//! recompute (facet profiles and TLP levels) is built by the reader's
//! warmer when a commit or merge publishes a segment, and dropped with the
//! segment, as are its bounded caches (visibility bitsets, document
//! frequencies); per-thread caches are bounded too. `benches/engine.rs`
//! measures the engine on the HTTP benchmark's corpus and queries.

pub mod analysis;
pub mod cluster;
pub mod corpus;
pub mod doc;
pub mod error;
pub mod eval;
pub mod index;
pub mod limits;
pub mod mapping;
pub mod percolate;
pub mod search;
pub mod similar;

pub use cluster::{
    Assignment, Centroid, Cluster, ClusterBuilder, ClusterInput, ClusterParams, ClusterView,
    Clustering, DocFreqs, Method, TermStats, assign, cluster_all, describe, vectorize,
};
pub use doc::{IndexDoc, Tlp};
pub use error::{IndexError, Result};
pub use index::{IncidentIndex, IncidentWriter, IndexHandle, MergeOptions, Rebuild, WriterOptions};
pub use limits::{QueryLimit, check_query};
pub use mapping::{FlagField, KeywordField};
pub use percolate::{DocMatch, MatchBatch, MatchReason};
pub use search::{FacetCounts, Filters, Hit, SearchRequest, SearchResults, SortOrder};
pub use similar::{FieldWeights, SimilarHit, SimilarQuery, SimilarityParams};
