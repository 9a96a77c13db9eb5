//! Signed publication receipts.
//!
//! On publish the owner receives a receipt: report id, revision, the
//! SHA-256 of the published content and the time, signed with the
//! registry's Ed25519 key. It can be verified by `POST /api/v1/receipts/verify`
//! or offline: the signature is Ed25519 over the UTF-8 bytes of the
//! receipt's `payload` member exactly as sent, and the public key is the
//! `x` of the key with the receipt's `kid` in `GET /api/v1/keys`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, Verifier};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::keys::RegistryKeys;

/// What a receipt attests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptClaims {
    pub report_id: String,
    pub revision: i32,
    /// Hex SHA-256 of the published content (the report JSON as stored).
    pub content_sha256: String,
    pub published_at: DateTime<Utc>,
    pub issuer: String,
}

/// A signed receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    /// The signed bytes: `ReceiptClaims` as compact JSON.
    pub payload: String,
    /// Base64url Ed25519 signature of `payload`.
    pub signature: String,
    /// Id of the signing key (see `GET /api/v1/keys`).
    pub kid: String,
    /// `payload` parsed, for convenience (not what is signed).
    pub claims: ReceiptClaims,
}

pub fn content_hash(content_json: &str) -> String {
    hex::encode(Sha256::digest(content_json.as_bytes()))
}

pub fn issue(keys: &RegistryKeys, claims: ReceiptClaims) -> Receipt {
    let payload = serde_json::to_string(&claims).unwrap_or_default();
    let signature = keys.signing_key().sign(payload.as_bytes());
    Receipt {
        signature: URL_SAFE_NO_PAD.encode(signature.to_bytes()),
        kid: keys.kid.clone(),
        payload,
        claims,
    }
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptProblem {
    #[error("signed with an unknown key")]
    UnknownKey,
    #[error("the signature is malformed")]
    MalformedSignature,
    #[error("the signature does not match the payload")]
    BadSignature,
    #[error("the claims differ from the signed payload")]
    ClaimsMismatch,
}

/// Checks the signature over `payload` and that `claims` say the same.
pub fn verify(keys: &RegistryKeys, receipt: &Receipt) -> Result<ReceiptClaims, ReceiptProblem> {
    if receipt.kid != keys.kid {
        return Err(ReceiptProblem::UnknownKey);
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(&receipt.signature)
        .map_err(|_| ReceiptProblem::MalformedSignature)?;
    let signature =
        Signature::from_slice(&bytes).map_err(|_| ReceiptProblem::MalformedSignature)?;
    keys.verifying_key()
        .verify(receipt.payload.as_bytes(), &signature)
        .map_err(|_| ReceiptProblem::BadSignature)?;
    let signed: ReceiptClaims =
        serde_json::from_str(&receipt.payload).map_err(|_| ReceiptProblem::ClaimsMismatch)?;
    if signed != receipt.claims {
        return Err(ReceiptProblem::ClaimsMismatch);
    }
    Ok(signed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_verify_and_tampering_is_caught() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = RegistryKeys::load_or_create(dir.path(), None, None).expect("keys");
        let claims = ReceiptClaims {
            report_id: "r1".into(),
            revision: 2,
            content_sha256: content_hash("{}"),
            published_at: Utc::now(),
            issuer: "incidex".into(),
        };
        let receipt = issue(&keys, claims.clone());
        assert_eq!(verify(&keys, &receipt), Ok(claims.clone()));

        let mut tampered = receipt.clone();
        tampered.payload = tampered.payload.replace("\"revision\":2", "\"revision\":3");
        assert_eq!(verify(&keys, &tampered), Err(ReceiptProblem::BadSignature));
        let mut lying = receipt.clone();
        lying.claims.revision = 3;
        assert_eq!(verify(&keys, &lying), Err(ReceiptProblem::ClaimsMismatch));
        let mut garbled = receipt.clone();
        garbled.signature = "!!".into();
        assert_eq!(
            verify(&keys, &garbled),
            Err(ReceiptProblem::MalformedSignature)
        );
        let other = tempfile::tempdir().expect("tempdir");
        let other_keys = RegistryKeys::load_or_create(other.path(), None, None).expect("keys");
        assert_eq!(
            verify(&other_keys, &receipt),
            Err(ReceiptProblem::UnknownKey)
        );
    }
}
