//! The registry's rules and services, with no HTTP: intake and
//! anonymisation, filing and publishing, who may see what, the owner's and
//! the shared views, search over the index, the index follower, clusters,
//! lessons, alerts and digests.
//!
//! Policy: this crate never depends on actix-web nor names an HTTP status.
//! It returns its own error type; the `incidex-api` crate (the HTTP face)
//! turns it into a problem+json response in exactly one place.

pub mod anonymise;
