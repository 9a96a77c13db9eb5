//! Client secrets and passwords: argon2id hashes only, never the value.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use rand::RngCore;

/// Hashes and verifies secrets with argon2id.
#[derive(Debug, Clone)]
pub struct SecretHasher {
    argon2: Argon2<'static>,
    /// Verified against when the account does not exist, so an unknown id
    /// takes as long as a wrong secret.
    dummy_hash: String,
}

impl Default for SecretHasher {
    fn default() -> Self {
        SecretHasher::new(Params::DEFAULT_M_COST, Params::DEFAULT_T_COST)
    }
}

impl SecretHasher {
    /// `memory_kib` and `iterations` as argon2 parameters (OWASP minimum:
    /// 19 MiB, 2 iterations, which are the defaults).
    pub fn new(memory_kib: u32, iterations: u32) -> SecretHasher {
        let params = Params::new(memory_kib, iterations, 1, None).unwrap_or_default();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut hasher = SecretHasher {
            argon2,
            dummy_hash: String::new(),
        };
        // If this failed the dummy stays empty, which never verifies: still safe.
        hasher.dummy_hash = hasher.hash("incidex-dummy-secret").unwrap_or_default();
        hasher
    }

    /// A PHC string (`$argon2id$v=19$...`) with a fresh random salt.
    pub fn hash(&self, secret: &str) -> Result<String, argon2::password_hash::Error> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt)?;
        Ok(self
            .argon2
            .hash_password(secret.as_bytes(), &salt)?
            .to_string())
    }

    /// Whether `secret` matches `hash` (a PHC string); `None` hash checks
    /// against a dummy so the time taken does not reveal unknown ids.
    pub fn verify(&self, secret: &str, hash: Option<&str>) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash);
        let ok = PasswordHash::new(hash)
            .map(|parsed| {
                self.argon2
                    .verify_password(secret.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        known && ok
    }
}

/// A new random secret: 32 bytes, URL-safe base64 without padding.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let h = SecretHasher::new(1024, 1);
        let a = h.hash("s3cret").expect("hash");
        let b = h.hash("s3cret").expect("hash");
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(h.verify("s3cret", Some(&a)));
        assert!(!h.verify("wrong", Some(&a)));
        assert!(
            !h.verify("incidex-dummy-secret", None),
            "unknown ids never verify"
        );
        assert!(!h.verify("s3cret", Some("not a hash")));
        assert_ne!(generate_secret(), generate_secret());
        assert_eq!(generate_secret().len(), 43);
    }
}
