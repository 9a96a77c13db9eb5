//! Rate limits, the failure throttle per address, familiar addresses and
//! the bound on concurrent secret verifications.
//!
//! Policy: token requests are limited per client id and per address,
//! logins per username and per address, API calls per authenticated
//! client in three budgets (writes, searches, other reads); each budget is
//! a GCRA rate (`governor`) of `burst` requests refilled over a period. A
//! limited request is answered 429 with `Retry-After`. Failed token
//! requests and logins also count against their address, which is refused
//! for the budget's whole period once past it: the budget is below the
//! lockout's count and its period as long as the lockout's window, so one
//! address alone cannot lock a credential out. An address a credential was used
//! from successfully is *familiar* to it and is not subject to its lockout
//! (see `incidex_registry::members::login`). At most
//! `limits.verify_concurrency` argon2 verifications run at once; the rest
//! wait up to `limits.verify_wait_ms`, then get 503, so a flood of bad
//! secrets can neither starve other requests of CPU or connections nor
//! grow memory without bound.
//!
//! Everything here lives in this process's memory: with several replicas
//! each keeps its own budgets (a client may get up to N times a budget
//! through N replicas) and its own familiar addresses; the lockouts are in
//! the database and shared.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use lru::LruCache;
use std::sync::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::{LimitSettings, Rate};

/// Which budget a refused request exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    TokenPerClient,
    TokenPerAddress,
    LoginPerUsername,
    LoginPerAddress,
    FailuresPerAddress,
    ApiWrites,
    ApiSearches,
    ApiReads,
}

impl Budget {
    pub fn as_str(self) -> &'static str {
        match self {
            Budget::TokenPerClient => "token_per_client",
            Budget::TokenPerAddress => "token_per_address",
            Budget::LoginPerUsername => "login_per_username",
            Budget::LoginPerAddress => "login_per_address",
            Budget::FailuresPerAddress => "failures_per_address",
            Budget::ApiWrites => "api_writes",
            Budget::ApiSearches => "api_searches",
            Budget::ApiReads => "api_reads",
        }
    }
}

/// A request over its budget: when to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub budget: Budget,
    /// Whole seconds until the budget allows a request again (at least 1).
    pub retry_after_secs: u64,
}

/// Addresses and credentials remembered at most (least recently used
/// forgotten first).
const MAX_REMEMBERED: usize = 65_536;
/// Checks between two sweeps of idle keys out of the limiters.
const SWEEP_EVERY: u64 = 8192;

struct Keyed<K: Hash + Eq + Clone> {
    budget: Budget,
    limiter: DefaultKeyedRateLimiter<K>,
}

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn new(budget: Budget, rate: Rate) -> Keyed<K> {
        Keyed {
            budget,
            limiter: RateLimiter::keyed(quota(rate)),
        }
    }

    fn check(&self, key: &K) -> Result<(), Limited> {
        self.limiter.check_key(key).map_err(|not_until| Limited {
            budget: self.budget,
            retry_after_secs: whole_secs(not_until.wait_time_from(DefaultClock::default().now())),
        })
    }

    fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

fn quota(rate: Rate) -> Quota {
    let burst = NonZeroU32::new(rate.burst.max(1)).unwrap_or(NonZeroU32::MIN);
    let replenish = (rate.period / burst.get()).max(Duration::from_nanos(1));
    Quota::with_period(replenish)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

fn whole_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The budgets of one server process.
pub struct Throttle {
    enabled: bool,
    token_per_client: Keyed<String>,
    token_per_address: Keyed<IpAddr>,
    login_per_username: Keyed<String>,
    login_per_address: Keyed<IpAddr>,
    failures_per_address: Keyed<IpAddr>,
    /// Addresses refused after too many failures, until when.
    blocked: Mutex<LruCache<IpAddr, Instant>>,
    /// How long an address is refused once past its failures: the whole
    /// period of its budget, so that the failures it made before are
    /// older than the lockout's window when it may try again.
    block_for: Duration,
    api_writes: Keyed<String>,
    api_searches: Keyed<String>,
    api_reads: Keyed<String>,
    /// Credential -> addresses it was used from successfully.
    familiar: Mutex<LruCache<String, Vec<IpAddr>>>,
    verifications: Arc<Semaphore>,
    verify_wait: Duration,
    checks: AtomicU64,
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttle")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// No verification slot came free in time.
#[derive(Debug, Clone, Copy)]
pub struct Busy;

/// Familiar addresses kept per credential.
const FAMILIAR_PER_CREDENTIAL: usize = 8;

impl Throttle {
    pub fn new(settings: &LimitSettings) -> Throttle {
        let cap =
            std::num::NonZeroUsize::new(MAX_REMEMBERED).unwrap_or(std::num::NonZeroUsize::MIN);
        Throttle {
            enabled: settings.enabled,
            token_per_client: Keyed::new(Budget::TokenPerClient, settings.token_per_client),
            token_per_address: Keyed::new(Budget::TokenPerAddress, settings.token_per_address),
            login_per_username: Keyed::new(Budget::LoginPerUsername, settings.login_per_username),
            login_per_address: Keyed::new(Budget::LoginPerAddress, settings.login_per_address),
            failures_per_address: Keyed::new(
                Budget::FailuresPerAddress,
                settings.failures_per_address,
            ),
            blocked: Mutex::new(LruCache::new(cap)),
            block_for: settings.failures_per_address.period,
            api_writes: Keyed::new(Budget::ApiWrites, settings.api_writes),
            api_searches: Keyed::new(Budget::ApiSearches, settings.api_searches),
            api_reads: Keyed::new(Budget::ApiReads, settings.api_reads),
            familiar: Mutex::new(LruCache::new(cap)),
            verifications: Arc::new(Semaphore::new(settings.verify_concurrency().max(1))),
            verify_wait: Duration::from_millis(settings.verify_wait_ms),
            checks: AtomicU64::new(0),
        }
    }

    fn tick(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            for k in [
                &self.token_per_client,
                &self.login_per_username,
                &self.api_writes,
                &self.api_searches,
                &self.api_reads,
            ] {
                k.sweep();
            }
            for k in [
                &self.token_per_address,
                &self.login_per_address,
                &self.failures_per_address,
            ] {
                k.sweep();
            }
        }
    }

    /// Whether `address` is refused for its recent failures.
    fn check_blocked(&self, address: IpAddr) -> Result<(), Limited> {
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        match blocked.get(&address).copied() {
            Some(until) if until > Instant::now() => Err(Limited {
                budget: Budget::FailuresPerAddress,
                retry_after_secs: whole_secs(until - Instant::now()),
            }),
            Some(_) => {
                blocked.pop(&address);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// A token request for `client_id` from `address`.
    pub fn token_attempt(&self, client_id: &str, address: Option<IpAddr>) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.tick();
        if let Some(a) = address {
            self.check_blocked(a)?;
            self.token_per_address.check(&a)?;
        }
        self.token_per_client.check(&client_id.to_owned())
    }

    /// A login as `username` from `address`.
    pub fn login_attempt(&self, username: &str, address: Option<IpAddr>) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.tick();
        if let Some(a) = address {
            self.check_blocked(a)?;
            self.login_per_address.check(&a)?;
        }
        self.login_per_username.check(&username.to_lowercase())
    }

    /// A failed token request or login from `address`.
    pub fn failed(&self, address: Option<IpAddr>) {
        let Some(address) = address.filter(|_| self.enabled) else {
            return;
        };
        if self.failures_per_address.check(&address).is_err() {
            let until = Instant::now() + self.block_for;
            self.blocked
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .put(address, until);
        }
    }

    /// An API call of `subject` against `budget`.
    pub fn api_call(&self, subject: &str, budget: Budget) -> Result<(), Limited> {
        if !self.enabled {
            return Ok(());
        }
        self.tick();
        let keyed = match budget {
            Budget::ApiWrites => &self.api_writes,
            Budget::ApiSearches => &self.api_searches,
            _ => &self.api_reads,
        };
        keyed.check(&subject.to_owned())
    }

    /// Whether `credential` was used successfully from `address`.
    pub fn is_familiar(&self, credential: &str, address: Option<IpAddr>) -> bool {
        let Some(address) = address else {
            return false;
        };
        self.familiar
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(credential)
            .is_some_and(|a| a.contains(&address))
    }

    /// Remembers that `credential` was used successfully from `address`.
    pub fn remember(&self, credential: &str, address: Option<IpAddr>) {
        let Some(address) = address else { return };
        let mut familiar = self.familiar.lock().unwrap_or_else(|e| e.into_inner());
        let list = familiar.get_or_insert_mut(credential.to_owned(), Vec::new);
        list.retain(|a| *a != address);
        list.insert(0, address);
        list.truncate(FAMILIAR_PER_CREDENTIAL);
    }

    /// A slot to verify one secret in; `Busy` when none came free within
    /// `limits.verify_wait_ms`.
    pub async fn verification_slot(&self) -> Result<OwnedSemaphorePermit, Busy> {
        let acquire = self.verifications.clone().acquire_owned();
        match tokio::time::timeout(self.verify_wait, acquire).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(Busy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_refuses_past_its_burst_and_says_when_to_retry() {
        let settings = LimitSettings {
            token_per_client: Rate::new(2, 60),
            ..LimitSettings::default()
        };
        let t = Throttle::new(&settings);
        assert!(t.token_attempt("ic_a", None).is_ok());
        assert!(t.token_attempt("ic_a", None).is_ok());
        let limited = t.token_attempt("ic_a", None).expect_err("third");
        assert_eq!(limited.budget, Budget::TokenPerClient);
        assert!((1..=30).contains(&limited.retry_after_secs), "{limited:?}");
        assert!(t.token_attempt("ic_b", None).is_ok(), "per client");
    }

    #[test]
    fn failures_block_an_address() {
        let settings = LimitSettings {
            failures_per_address: Rate::new(2, 600),
            ..LimitSettings::default()
        };
        let t = Throttle::new(&settings);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..3 {
            assert!(t.login_attempt("u", Some(a)).is_ok());
            t.failed(Some(a));
        }
        let limited = t.login_attempt("u", Some(a)).expect_err("blocked");
        assert_eq!(limited.budget, Budget::FailuresPerAddress);
        assert!(t.token_attempt("ic_x", Some(a)).is_err(), "for tokens too");
        assert!(
            t.login_attempt("u", Some(b)).is_ok(),
            "other addresses pass"
        );
    }

    #[test]
    fn familiar_addresses_are_remembered_per_credential() {
        let t = Throttle::new(&LimitSettings::default());
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        assert!(!t.is_familiar("user:x", Some(a)));
        t.remember("user:x", Some(a));
        assert!(t.is_familiar("user:x", Some(a)));
        assert!(!t.is_familiar("user:y", Some(a)));
        assert!(!t.is_familiar("user:x", None));
    }

    #[test]
    fn rates_parse_and_print() {
        let r = Rate::try_from("5/15m".to_owned()).expect("rate");
        assert_eq!(r, Rate::new(5, 900));
        assert_eq!(String::from(r), "5/15m");
        assert_eq!(Rate::try_from("60/1h".to_owned()), Ok(Rate::new(60, 3600)));
        assert_eq!(Rate::try_from("3/s".to_owned()), Ok(Rate::new(3, 1)));
        for bad in ["", "5", "0/1m", "5/0m", "x/1m", "5/1d"] {
            assert!(Rate::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }
}
