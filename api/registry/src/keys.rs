//! The registry's Ed25519 key (signs tokens and receipts) and the
//! ownership secret (keys the hash that stores who filed a report).
//!
//! Both are generated on first start under `<data_dir>/keys/` with mode
//! 0600, or loaded from configured files. Several replicas must share them:
//! configure the same files (or secret) on each.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path} cannot be read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} cannot be written: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} is not a PKCS#8 Ed25519 private key in PEM")]
    Invalid { path: PathBuf },
    #[error("the ownership secret must be at least 32 characters")]
    WeakOwnershipSecret,
}

/// Keys loaded once at start-up and shared by handlers.
pub struct RegistryKeys {
    signing: SigningKey,
    /// Key id: the first 16 hex digits of SHA-256 of the public key.
    pub kid: String,
    ownership: SecretBox<[u8; 32]>,
}

impl std::fmt::Debug for RegistryKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl RegistryKeys {
    /// Loads (or creates) the keys. `signing_key_file` and
    /// `ownership_secret` override the files in `<data_dir>/keys/`.
    pub fn load_or_create(
        data_dir: &Path,
        signing_key_file: Option<&Path>,
        ownership_secret: Option<&SecretString>,
    ) -> Result<RegistryKeys, KeyError> {
        let key_dir = data_dir.join("keys");
        let signing = match signing_key_file {
            Some(path) => read_signing_key(path)?,
            None => {
                let path = key_dir.join("signing-ed25519.pem");
                if path.exists() {
                    read_signing_key(&path)?
                } else {
                    let mut seed = [0u8; 32];
                    rand::rng().fill_bytes(&mut seed);
                    let key = SigningKey::from_bytes(&seed);
                    let pem = key
                        .to_pkcs8_pem(Default::default())
                        .map_err(|_| KeyError::Invalid { path: path.clone() })?;
                    write_private(&path, pem.as_bytes())?;
                    key
                }
            }
        };
        let ownership = match ownership_secret {
            Some(secret) => {
                let secret = secret.expose_secret();
                if secret.len() < 32 {
                    return Err(KeyError::WeakOwnershipSecret);
                }
                Sha256::digest(secret.as_bytes()).into()
            }
            None => {
                let path = key_dir.join("ownership.key");
                if path.exists() {
                    let text = std::fs::read_to_string(&path).map_err(|source| KeyError::Read {
                        path: path.clone(),
                        source,
                    })?;
                    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
                    let bytes = bytes.ok_or_else(|| KeyError::Invalid { path: path.clone() })?;
                    let mut out = [0u8; 32];
                    out.copy_from_slice(&bytes);
                    out
                } else {
                    let mut out = [0u8; 32];
                    rand::rng().fill_bytes(&mut out);
                    write_private(&path, hex::encode(out).as_bytes())?;
                    out
                }
            }
        };
        let kid = hex::encode(&Sha256::digest(signing.verifying_key().as_bytes())[..8]);
        Ok(RegistryKeys {
            signing,
            kid,
            ownership: SecretBox::new(Box::new(ownership)),
        })
    }

    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key, base64url (the JWK `x` member).
    pub fn public_key_b64(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.verifying_key().as_bytes())
    }

    /// PKCS#8 DER of the private key, as jsonwebtoken's EncodingKey wants it.
    pub fn pkcs8_der(&self) -> Vec<u8> {
        self.signing
            .to_pkcs8_der()
            .map(|d| d.as_bytes().to_vec())
            .unwrap_or_default()
    }

    /// A keyed hash naming a party without revealing it: the same input
    /// always gives the same key, and nobody without the secret can tell
    /// which party a key belongs to (DESIGN.md section 6).
    pub fn opaque_key(&self, purpose: &str, id: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        #[allow(clippy::expect_used)]
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.ownership.expose_secret())
            .expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(id.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// The stored owner of an operator's reports: a keyed hash, so the
/// database alone does not say who filed what.
pub fn owner_key(keys: &RegistryKeys, operator_id: &str) -> String {
    keys.opaque_key("owner", operator_id)
}

fn read_signing_key(path: &Path) -> Result<SigningKey, KeyError> {
    let pem = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_owned(),
        source,
    })?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|_| KeyError::Invalid {
        path: path.to_owned(),
    })
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let err = |source| KeyError::Write {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_once_and_reloaded() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = RegistryKeys::load_or_create(dir.path(), None, None).expect("create");
        let b = RegistryKeys::load_or_create(dir.path(), None, None).expect("reload");
        assert_eq!(a.kid, b.kid);
        assert_eq!(a.opaque_key("owner", "op1"), b.opaque_key("owner", "op1"));
        assert_ne!(a.opaque_key("owner", "op1"), a.opaque_key("owner", "op2"));
        assert_ne!(a.opaque_key("owner", "op1"), a.opaque_key("idem", "op1"));
        assert!(!format!("{a:?}").contains(&hex::encode(a.pkcs8_der())));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("keys/ownership.key"))
                .expect("stat")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = tempfile::tempdir().expect("tempdir");
        let c = RegistryKeys::load_or_create(other.path(), None, None).expect("create");
        assert_ne!(a.kid, c.kid, "each registry has its own key");
        assert_ne!(a.opaque_key("owner", "op1"), c.opaque_key("owner", "op1"));
    }

    #[test]
    fn a_configured_secret_is_used_and_must_be_strong() {
        let dir = tempfile::tempdir().expect("tempdir");
        let weak = SecretString::from("short");
        assert!(matches!(
            RegistryKeys::load_or_create(dir.path(), None, Some(&weak)),
            Err(KeyError::WeakOwnershipSecret)
        ));
        let strong = SecretString::from("a-very-long-shared-ownership-secret-for-replicas");
        let a = RegistryKeys::load_or_create(dir.path(), None, Some(&strong)).expect("keys");
        let other = tempfile::tempdir().expect("tempdir");
        let b = RegistryKeys::load_or_create(other.path(), None, Some(&strong)).expect("keys");
        assert_eq!(a.opaque_key("owner", "x"), b.opaque_key("owner", "x"));
        assert!(!dir.path().join("keys/ownership.key").exists());
    }
}
