//! Verified credentials, remembered so that a busy client's requests skip
//! the signature check and the database lookup of its client row.
//!
//! An entry is the principal a token proved, valid while all of these hold:
//! the token has not expired (same leeway as validation), the client row's
//! own expiry has not passed, and the identity epoch is the one the entry
//! was checked at. The epoch is a counter the database moves on in the same
//! transaction as every revocation ([`incidex_schema::db::identity::epoch`]).
//! This process reads it every [`EPOCH_POLL`] and at once after a
//! revocation it made itself; entries are not used at all when the last
//! successful read is older than [`EPOCH_MAX_AGE`] (database unreachable,
//! poller stopped), so a revocation on another replica takes effect here
//! within one poll interval, and one made here takes effect at once.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use incidex_schema::db::{DbConnection, StorageResult, identity};
use lru::LruCache;

use incidex_registry::Caller;

/// How often the identity epoch is read.
pub const EPOCH_POLL: Duration = Duration::from_millis(200);
/// Entries are trusted only while the epoch was read this recently.
pub const EPOCH_MAX_AGE: Duration = Duration::from_secs(2);
/// Tokens remembered at most (least recently used go first).
pub const CAPACITY: usize = 10_000;

/// What a token proved, and until when.
#[derive(Debug, Clone)]
struct Entry {
    principal: Caller,
    /// The token's `exp` plus the validation leeway (Unix seconds).
    usable_until: u64,
    /// The client row's own expiry, if any.
    credential_expires: Option<NaiveDateTime>,
    epoch: i64,
}

/// Token hash -> verified principal; shared by the HTTP workers.
pub struct CredentialCache {
    entries: Mutex<LruCache<[u8; 32], Entry>>,
    /// Last epoch read, or -1 before the first read.
    epoch: AtomicI64,
    /// When it was read: milliseconds since `started`.
    epoch_read_ms: AtomicU64,
    started: Instant,
}

impl Default for CredentialCache {
    fn default() -> Self {
        CredentialCache {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
            )),
            epoch: AtomicI64::new(-1),
            epoch_read_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl std::fmt::Debug for CredentialCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialCache")
            .field("epoch", &self.epoch.load(Ordering::Acquire))
            .finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

impl CredentialCache {
    /// The epoch as last read, when that read is recent enough to trust.
    pub fn current_epoch(&self) -> Option<i64> {
        let epoch = self.epoch.load(Ordering::Acquire);
        if epoch < 0 {
            return None;
        }
        let read_ms = self.epoch_read_ms.load(Ordering::Acquire);
        let age_ms = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .saturating_sub(read_ms);
        (Duration::from_millis(age_ms) <= EPOCH_MAX_AGE).then_some(epoch)
    }

    /// Reads the epoch from the database (the poller, and after a
    /// revocation made by this process).
    pub fn refresh(&self, conn: &mut DbConnection) -> StorageResult<i64> {
        let epoch = identity::epoch(conn)?;
        self.set_epoch(epoch);
        Ok(epoch)
    }

    fn set_epoch(&self, epoch: i64) {
        // Never move backwards (a slow poll may finish after a newer read).
        self.epoch.fetch_max(epoch, Ordering::AcqRel);
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.epoch_read_ms.store(now_ms, Ordering::Release);
    }

    /// The principal `key`'s token proved, if that still holds.
    pub fn lookup(&self, key: &[u8; 32]) -> Option<Caller> {
        let epoch = self.current_epoch()?;
        let mut entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        let now = chrono::Utc::now().naive_utc();
        let usable = entry.epoch == epoch
            && unix_now() <= entry.usable_until
            && entry.credential_expires.is_none_or(|e| e > now);
        if usable {
            Some(entry.principal.clone())
        } else {
            entries.pop(key);
            None
        }
    }

    /// Remembers a principal checked against the database at `epoch` (read
    /// with [`CredentialCache::current_epoch`] *before* the check).
    pub fn store(
        &self,
        key: [u8; 32],
        principal: Caller,
        usable_until: u64,
        credential_expires: Option<NaiveDateTime>,
        epoch: i64,
    ) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.put(
                key,
                Entry {
                    principal,
                    usable_until,
                    credential_expires,
                    epoch,
                },
            );
        }
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.entries.lock().map(|e| e.is_empty()).unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::tokens::token_key;
    use incidex_registry::CallerKind as PrincipalKind;
    use incidex_schema::identity::Role;

    fn principal() -> Caller {
        Caller {
            subject: "client-1".into(),
            kind: PrincipalKind::Client,
            operator_id: Some("op".into()),
            role: Role::Reporter,
        }
    }

    #[test]
    fn nothing_is_trusted_before_the_epoch_is_read() {
        let cache = CredentialCache::default();
        let key = token_key("t");
        cache.store(key, principal(), unix_now() + 60, None, 0);
        assert!(cache.lookup(&key).is_none());
        cache.set_epoch(0);
        assert_eq!(cache.lookup(&key).expect("hit").subject, "client-1");
    }

    #[test]
    fn a_new_epoch_drops_entries() {
        let cache = CredentialCache::default();
        cache.set_epoch(3);
        let key = token_key("t");
        cache.store(key, principal(), unix_now() + 60, None, 3);
        assert!(cache.lookup(&key).is_some());
        cache.set_epoch(4);
        assert!(cache.lookup(&key).is_none());
        // and it stays gone when the epoch is read again
        cache.set_epoch(4);
        assert!(cache.lookup(&key).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn the_epoch_never_moves_back() {
        let cache = CredentialCache::default();
        cache.set_epoch(7);
        cache.set_epoch(5);
        assert_eq!(cache.current_epoch(), Some(7));
    }

    #[test]
    fn expired_tokens_and_credentials_are_not_served() {
        let cache = CredentialCache::default();
        cache.set_epoch(1);
        let old = token_key("old");
        cache.store(old, principal(), unix_now() - 1, None, 1);
        assert!(cache.lookup(&old).is_none());
        let lapsed = token_key("lapsed");
        let past = chrono::Utc::now().naive_utc() - chrono::TimeDelta::seconds(1);
        cache.store(lapsed, principal(), unix_now() + 60, Some(past), 1);
        assert!(cache.lookup(&lapsed).is_none());
    }

    #[test]
    fn a_stale_epoch_read_disables_the_cache() {
        let cache = CredentialCache {
            started: Instant::now() - EPOCH_MAX_AGE * 3,
            ..CredentialCache::default()
        };
        // Read "at start", i.e. three max-ages ago.
        cache.epoch.store(1, Ordering::Release);
        cache.epoch_read_ms.store(0, Ordering::Release);
        assert_eq!(cache.current_epoch(), None);
        let key = token_key("t");
        cache.store(key, principal(), unix_now() + 60, None, 1);
        assert!(cache.lookup(&key).is_none());
    }
}
