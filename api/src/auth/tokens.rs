//! Issuing and validating JWTs.

use std::collections::HashSet;
use std::path::PathBuf;

use incidex_schema::identity::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use incidex_registry::keys::RegistryKeys;
use sha2::{Digest, Sha256};

/// Leeway for clock skew when checking `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// The claims incidex issues and expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The client id or user id.
    pub sub: String,
    /// The operator a reporter acts for (absent for registry principals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<String>,
    pub roles: Vec<Role>,
    /// `client` or `user`; tokens of external issuers carry `external`.
    #[serde(default = "external_kind")]
    pub kind: String,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

fn external_kind() -> String {
    "external".to_owned()
}

/// An identity provider whose tokens are accepted (configuration).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuer {
    /// Expected `iss`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// The `kid` its tokens carry in their header.
    pub kid: String,
    /// One of RS256, RS384, RS512, PS256, ES256, ES384, EdDSA.
    pub algorithm: String,
    /// PEM file with the provider's public key.
    pub public_key_file: PathBuf,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("token is malformed")]
    Malformed,
    #[error("token is signed with an unknown key")]
    UnknownKey,
    #[error("token is expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token has the wrong issuer")]
    WrongIssuer,
    #[error("token has the wrong audience")]
    WrongAudience,
    #[error("token signature or algorithm is invalid")]
    BadSignature,
    #[error("token lacks a required claim")]
    MissingClaim,
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

/// Issues registry tokens and validates registry and external tokens.
pub struct TokenService {
    kid: String,
    encoding: EncodingKey,
    verifiers: Vec<(String, Verifier)>,
    issuer: String,
    audience: String,
    ttl_secs: u64,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn validation(alg: Algorithm, issuer: &str, audience: &str) -> Validation {
    let mut v = Validation::new(alg);
    v.algorithms = vec![alg];
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience]);
    v.required_spec_claims = ["exp", "nbf", "iss", "aud", "sub"]
        .iter()
        .map(|s| s.to_string())
        .collect::<HashSet<_>>();
    v
}

impl TokenService {
    pub fn new(
        keys: &RegistryKeys,
        issuer: &str,
        audience: &str,
        ttl_secs: u64,
        external: &[ExternalIssuer],
    ) -> anyhow::Result<TokenService> {
        let mut verifiers = vec![(
            keys.kid.clone(),
            Verifier {
                key: DecodingKey::from_ed_der(keys.verifying_key().as_bytes()),
                validation: validation(Algorithm::EdDSA, issuer, audience),
            },
        )];
        for ext in external {
            let alg: Algorithm = ext.algorithm.parse().map_err(|_| {
                anyhow::anyhow!(
                    "external issuer {}: unknown algorithm {}",
                    ext.issuer,
                    ext.algorithm
                )
            })?;
            let pem = std::fs::read(&ext.public_key_file).map_err(|e| {
                anyhow::anyhow!(
                    "external issuer {}: cannot read {}: {e}",
                    ext.issuer,
                    ext.public_key_file.display()
                )
            })?;
            let key = match alg {
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512 => DecodingKey::from_rsa_pem(&pem),
                Algorithm::ES256 | Algorithm::ES384 => DecodingKey::from_ec_pem(&pem),
                Algorithm::EdDSA => DecodingKey::from_ed_pem(&pem),
                _ => anyhow::bail!(
                    "external issuer {}: shared-secret algorithms are not accepted",
                    ext.issuer
                ),
            }
            .map_err(|e| anyhow::anyhow!("external issuer {}: bad public key: {e}", ext.issuer))?;
            if ext.kid == keys.kid {
                anyhow::bail!(
                    "external issuer {}: kid {} clashes with the registry key",
                    ext.issuer,
                    ext.kid
                );
            }
            verifiers.push((
                ext.kid.clone(),
                Verifier {
                    key,
                    validation: validation(alg, &ext.issuer, &ext.audience),
                },
            ));
        }
        Ok(TokenService {
            kid: keys.kid.clone(),
            encoding: EncodingKey::from_ed_der(&keys.pkcs8_der()),
            verifiers,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl_secs,
        })
    }

    pub fn ttl_secs(&self) -> u64 {
        self.ttl_secs
    }

    /// A signed token for `subject`, valid from now for the configured TTL.
    pub fn issue(
        &self,
        subject: &str,
        kind: &str,
        operator: Option<&str>,
        role: Role,
    ) -> anyhow::Result<String> {
        let now = now_secs();
        let claims = Claims {
            sub: subject.to_owned(),
            op: operator.map(str::to_owned),
            roles: vec![role],
            kind: kind.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
        };
        self.sign(&claims)
    }

    /// Signs arbitrary claims with the registry key (also used by tests to
    /// mint expired or not-yet-valid tokens).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Checks signature (with the algorithm pinned for the key named by
    /// `kid`), expiry, not-before, issuer and audience.
    pub fn validate(&self, token: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let (_, verifier) = self
            .verifiers
            .iter()
            .find(|(k, _)| *k == kid)
            .ok_or(TokenError::UnknownKey)?;
        let data = jsonwebtoken::decode::<Claims>(token, &verifier.key, &verifier.validation)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::ExpiredSignature => TokenError::Expired,
                    K::ImmatureSignature => TokenError::NotYetValid,
                    K::InvalidIssuer => TokenError::WrongIssuer,
                    K::InvalidAudience => TokenError::WrongAudience,
                    K::MissingRequiredClaim(_) => TokenError::MissingClaim,
                    K::InvalidSignature
                    | K::InvalidAlgorithm
                    | K::InvalidAlgorithmName
                    | K::InvalidKeyFormat => TokenError::BadSignature,
                    _ => TokenError::Malformed,
                }
            })?;
        if data.claims.roles.is_empty() {
            return Err(TokenError::MissingClaim);
        }
        Ok(data.claims)
    }
}

/// The cache key of a bearer token.
pub fn token_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service() -> (tempfile::TempDir, TokenService) {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = RegistryKeys::load_or_create(dir.path(), None, None).expect("keys");
        let svc = TokenService::new(&keys, "incidex", "incidex-api", 900, &[]).expect("service");
        (dir, svc)
    }

    fn claims(svc: &TokenService) -> Claims {
        let token = svc
            .issue("client-1", "client", Some("op-1"), Role::Reporter)
            .expect("issue");
        svc.validate(&token).expect("valid")
    }

    #[test]
    fn issued_tokens_validate() {
        let (_d, svc) = service();
        let c = claims(&svc);
        assert_eq!(c.sub, "client-1");
        assert_eq!(c.op.as_deref(), Some("op-1"));
        assert_eq!(c.roles, vec![Role::Reporter]);
        assert_eq!(c.exp - c.iat, 900);
    }

    #[test]
    fn bad_tokens_are_rejected_for_the_right_reason() {
        let (_d, svc) = service();
        let base = claims(&svc);
        let now = now_secs();
        let expired = Claims {
            exp: now - LEEWAY_SECS - 60,
            iat: now - 1000,
            nbf: now - 1000,
            ..base.clone()
        };
        assert_eq!(
            svc.validate(&svc.sign(&expired).expect("sign")),
            Err(TokenError::Expired)
        );
        let future = Claims {
            nbf: now + LEEWAY_SECS + 600,
            exp: now + 2000,
            ..base.clone()
        };
        assert_eq!(
            svc.validate(&svc.sign(&future).expect("sign")),
            Err(TokenError::NotYetValid)
        );
        let issuer = Claims {
            iss: "someone-else".into(),
            ..base.clone()
        };
        assert_eq!(
            svc.validate(&svc.sign(&issuer).expect("sign")),
            Err(TokenError::WrongIssuer)
        );
        let audience = Claims {
            aud: "other-api".into(),
            ..base.clone()
        };
        assert_eq!(
            svc.validate(&svc.sign(&audience).expect("sign")),
            Err(TokenError::WrongAudience)
        );

        // Tampered payload: swap the role, keep the signature.
        let token = svc.sign(&base).expect("sign");
        let parts: Vec<&str> = token.split('.').collect();
        let admin = Claims {
            roles: vec![Role::Admin],
            ..base.clone()
        };
        let payload = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            serde_json::to_vec(&admin).expect("json"),
        );
        let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
        assert_eq!(svc.validate(&tampered), Err(TokenError::BadSignature));

        // Algorithm confusion: HS256 keyed with the public key is refused.
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(svc.kid.clone());
        let hs = jsonwebtoken::encode(&header, &base, &EncodingKey::from_secret(b"anything"))
            .expect("encode");
        assert_eq!(svc.validate(&hs), Err(TokenError::BadSignature));

        assert_eq!(svc.validate("not.a.token"), Err(TokenError::Malformed));
        let mut unknown = Header::new(Algorithm::EdDSA);
        unknown.kid = Some("nope".into());
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other = RegistryKeys::load_or_create(other_dir.path(), None, None).expect("keys");
        let foreign = jsonwebtoken::encode(
            &unknown,
            &base,
            &EncodingKey::from_ed_der(&other.pkcs8_der()),
        )
        .expect("encode");
        assert_eq!(svc.validate(&foreign), Err(TokenError::UnknownKey));
        // Right kid, wrong key.
        let mut ours = Header::new(Algorithm::EdDSA);
        ours.kid = Some(svc.kid.clone());
        let forged =
            jsonwebtoken::encode(&ours, &base, &EncodingKey::from_ed_der(&other.pkcs8_der()))
                .expect("encode");
        assert_eq!(svc.validate(&forged), Err(TokenError::BadSignature));
    }
}
