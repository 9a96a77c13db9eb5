//! Errors of the indexer.
//!
//! Policy: library code returns [`IndexError`]; the API maps
//! [`IndexError::InvalidQuery`] and [`IndexError::InvalidRequest`] to 400,
//! [`IndexError::NotFound`] to 404 and everything else to 500 (logged with
//! its source chain, never shown to the client).

use std::path::PathBuf;

/// Everything that can go wrong in the indexer.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The query string could not be parsed or refers to something unknown.
    #[error("invalid query: {message}")]
    InvalidQuery {
        message: String,
        /// Byte offset in the query string where the problem was found,
        /// when it can be located.
        position: Option<usize>,
    },
    /// The query string is too long, too deep or too wide to be parsed
    /// safely; it was refused before parsing.
    #[error("the query is too complex: {limit}")]
    QueryTooComplex { limit: crate::limits::QueryLimit },
    /// A search, similar or cluster request has an invalid parameter.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A document cannot be indexed as given.
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    /// No visible document with this id.
    #[error("no document with id {0}")]
    NotFound(String),
    /// The data directory is not laid out as expected.
    #[error("index directory {path} is not usable: {reason}")]
    Layout { path: PathBuf, reason: String },
    #[error("i/o error on {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("commit payload is not a valid marker: {0}")]
    Payload(String),
    #[error(transparent)]
    Tantivy(#[from] tantivy::TantivyError),
}

impl IndexError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IndexError::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = IndexError> = std::result::Result<T, E>;
