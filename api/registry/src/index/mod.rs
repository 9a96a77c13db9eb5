//! The full-text index: the projection of reports into it, and the
//! follower that keeps it in step with the database.

pub mod document;
pub mod follower;
pub mod reconcile;

pub use document::{index_doc, published_doc};
pub use follower::{Follower, IndexService, Lag, Step};
