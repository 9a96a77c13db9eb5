//! Authentication: JWTs, the credential cache and the role extractors
//! (the keys and secret hashing are the registry's).
//!
//! Policy: tokens are EdDSA (Ed25519) JWTs signed with the registry's key
//! (generated on first start under `<data_dir>/keys/` unless configured);
//! the algorithm is pinned per key, and expiry, not-before, issuer and
//! audience are always checked with a 30-second leeway. Tokens of an
//! external identity provider are accepted when its public key is
//! configured. Client tokens stop working as soon as the client is revoked
//! or expires: a request checks the client's row, or finds the check in
//! [`CredentialCache`], which a revocation invalidates (see `cache.rs` for
//! how, across replicas too).

mod cache;
pub mod guard;
mod login;
mod principal;
pub mod throttle;
pub(crate) mod tokens;

pub use cache::{CredentialCache, EPOCH_POLL};
pub use guard::{authenticate, client_address};
pub use incidex_registry::keys::{KeyError, RegistryKeys};
pub use incidex_registry::members::{SecretHasher, generate_secret};
pub use login::{CredentialError, check_client, check_password, is_client_id, rate_limited};
pub use principal::{Admin, Analyst, AnyRole, Principal, PrincipalKind, Reader, Reporter};
pub use throttle::Throttle;
pub use tokens::{Claims, ExternalIssuer, TokenError, TokenService};
