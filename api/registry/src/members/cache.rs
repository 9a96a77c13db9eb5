//! What the registry knows about its members for anonymisation: every
//! member operator's names and aliases, each one's sensitive terms, and how
//! many members are registered per country (k-anonymity).
//!
//! The compiled matchers are cached per
//! identity epoch (a counter the database moves on in the same transaction
//! as every member registration or change of sensitive terms), so one
//! cheap query per use keeps the cache exact across replicas too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use incidex_schema::db::identity;
use incidex_schema::db::{DbConnection, StorageError};

use crate::anonymise::{Anonymiser, SensitiveTerms};

/// Members registered per country.
type CountryCounts = Arc<HashMap<String, usize>>;

/// What the registry knows about its members at one identity epoch.
pub struct Members {
    epoch: i64,
    anonymiser: Arc<Anonymiser>,
    countries: CountryCounts,
    /// Each operator's sensitive terms as stored.
    term_lists: HashMap<String, Vec<String>>,
    /// Compiled on first use.
    compiled: Mutex<HashMap<String, Arc<SensitiveTerms>>>,
}

impl std::fmt::Debug for Members {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Members")
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

impl Members {
    fn load(conn: &mut DbConnection, epoch: i64) -> Result<Members, StorageError> {
        let mut names = Vec::new();
        let mut countries: HashMap<String, usize> = HashMap::new();
        let mut term_lists = HashMap::new();
        for op in identity::list_operators(conn)? {
            names.extend(op.alias_list()?);
            term_lists.insert(op.id.clone(), op.sensitive_term_list()?);
            if let Some(country) = &op.country {
                *countries.entry(country.clone()).or_default() += 1;
            }
            names.push(op.name);
        }
        Ok(Members {
            epoch,
            anonymiser: Arc::new(Anonymiser::new(&names)),
            countries: Arc::new(countries),
            term_lists,
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// The anonymiser for every member's names and aliases.
    pub fn anonymiser(&self) -> Arc<Anonymiser> {
        self.anonymiser.clone()
    }

    /// How many members are registered per country (for k-anonymity).
    pub fn country_counts(&self) -> CountryCounts {
        self.countries.clone()
    }

    /// The compiled sensitive terms of `operator_id`.
    pub fn terms(&self, operator_id: &str) -> Result<Arc<SensitiveTerms>, StorageError> {
        if let Ok(guard) = self.compiled.lock()
            && let Some(t) = guard.get(operator_id)
        {
            return Ok(t.clone());
        }
        let list = self
            .term_lists
            .get(operator_id)
            .ok_or_else(|| StorageError::Corrupt(format!("operator {operator_id} is missing")))?;
        let terms = Arc::new(SensitiveTerms::new(list));
        if let Ok(mut guard) = self.compiled.lock() {
            guard.insert(operator_id.to_owned(), terms.clone());
        }
        Ok(terms)
    }
}

/// The members of the current identity epoch; cheap to share.
#[derive(Default)]
pub struct AnonymiserCache {
    current: Mutex<Option<Arc<Members>>>,
}

impl std::fmt::Debug for AnonymiserCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnonymiserCache").finish_non_exhaustive()
    }
}

impl AnonymiserCache {
    /// The members as of now: one query for the epoch, and a reload only
    /// when it moved.
    pub fn members(&self, conn: &mut DbConnection) -> Result<Arc<Members>, StorageError> {
        let epoch = identity::epoch(conn)?;
        if let Ok(guard) = self.current.lock()
            && let Some(m) = guard.as_ref()
            && m.epoch == epoch
        {
            return Ok(m.clone());
        }
        let members = Arc::new(Members::load(conn, epoch)?);
        if let Ok(mut guard) = self.current.lock() {
            // Keep the newest of two concurrent reloads.
            if guard.as_ref().is_none_or(|m| m.epoch <= epoch) {
                *guard = Some(members.clone());
            }
        }
        Ok(members)
    }

    /// The anonymiser for the current operator list.
    pub fn anonymiser(&self, conn: &mut DbConnection) -> Result<Arc<Anonymiser>, StorageError> {
        Ok(self.members(conn)?.anonymiser())
    }

    /// How many members are registered per country (for k-anonymity).
    pub fn country_counts(&self, conn: &mut DbConnection) -> Result<CountryCounts, StorageError> {
        Ok(self.members(conn)?.country_counts())
    }
}
