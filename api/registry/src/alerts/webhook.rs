//! Webhook targets, signatures and the HTTP sender.
//!
//! Policy:
//! - A target is an `http` or `https` URL with a host and no credentials.
//!   Unless `alerts.allow_private_targets` is set, it must not reach the
//!   registry's own network: loopback, private, link-local, shared,
//!   multicast, documentation and reserved addresses (and names such as
//!   `localhost` or `*.internal`) are refused when a saved search is
//!   created, and every connection is checked again after its name is
//!   resolved ([`PublicOnly`]), so a name that later points inward is
//!   refused too. Proxies from the environment are not used and redirects
//!   are not followed (a 3xx counts as a failure).
//! - Each request carries `X-Incidex-Timestamp` (Unix seconds),
//!   `X-Incidex-Signature: v1=<hex HMAC-SHA256 of "{timestamp}.{body}">`
//!   keyed with the saved search's secret, `X-Incidex-Event` and
//!   `X-Incidex-Delivery` (the same on every retry of a notification).
//! - Only a 2xx answer is a delivery; anything else, a timeout or a refused
//!   target is a failure with a short reason for the delivery log.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;

use super::settings::AlertSettings;

pub const HEADER_TIMESTAMP: &str = "x-incidex-timestamp";
pub const HEADER_SIGNATURE: &str = "x-incidex-signature";
pub const HEADER_EVENT: &str = "x-incidex-event";
pub const HEADER_DELIVERY: &str = "x-incidex-delivery";
/// Longest accepted webhook URL.
pub const MAX_URL_CHARS: usize = 2_048;

/// Why a webhook target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Private(String),
}

impl TargetError {
    /// The stable field-error code.
    pub fn code(&self) -> &'static str {
        match self {
            TargetError::Invalid(_) => "invalid_url",
            TargetError::Private(_) => "private_target",
        }
    }
}

/// Names that never resolve to a public address.
fn is_private_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || [
            ".localhost",
            ".local",
            ".internal",
            ".home.arpa",
            ".localdomain",
        ]
        .iter()
        .any(|suffix| host.ends_with(suffix))
}

/// Parses and checks a webhook URL.
pub fn check_url(raw: &str, allow_private: bool) -> Result<Url, TargetError> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(TargetError::Invalid(format!(
            "at most {MAX_URL_CHARS} characters"
        )));
    }
    let url = Url::parse(raw).map_err(|e| TargetError::Invalid(format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(TargetError::Invalid(
            "the scheme must be http or https".into(),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::Invalid(
            "credentials in the URL are not accepted; verify the signature instead".into(),
        ));
    }
    let Some(host) = url.host_str() else {
        return Err(TargetError::Invalid("the URL has no host".into()));
    };
    if allow_private {
        return Ok(url);
    }
    let inward = match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => !is_public(ip),
        Err(_) => is_private_name(host),
    };
    if inward {
        return Err(TargetError::Private(format!(
            "{host} is not a public address; webhooks must target the public internet"
        )));
    }
    Ok(url)
}

/// Whether an address is on the public internet (not loopback, private,
/// link-local, shared, multicast, documentation, benchmarking or reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            // Addresses that carry an IPv4 address are judged by it.
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let s = v6.segments();
            if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                // NAT64 (64:ff9b::/96).
                return is_public_v4(Ipv4Addr::new(
                    (s[6] >> 8) as u8,
                    s[6] as u8,
                    (s[7] >> 8) as u8,
                    s[7] as u8,
                ));
            }
            if s[0] == 0x2002 {
                // 6to4 (2002::/16) embeds the IPv4 address next.
                return is_public_v4(Ipv4Addr::new(
                    (s[1] >> 8) as u8,
                    s[1] as u8,
                    (s[2] >> 8) as u8,
                    s[2] as u8,
                ));
            }
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                || (s[0] == 0x2001 && s[1] < 0x0200) // IETF protocol assignments, Teredo
                || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
                || s[0] == 0) // ::/16 except the forms above: IPv4-compatible, reserved
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier-grade NAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Resolves names and keeps only public addresses (all when private
/// targets are allowed); a name with none left is an error.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly {
    pub allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if !allow_private && is_private_name(&host) {
                return Err(format!("{host} is not a public name").into());
            }
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

/// `v1=<hex HMAC-SHA256 of "{timestamp}.{body}">` keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    #[allow(clippy::expect_used)]
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// What one request achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    pub delivered: bool,
    /// The HTTP status, when the receiver answered.
    pub status_code: Option<u16>,
    /// Why it failed, for the delivery log.
    pub error: Option<String>,
}

impl SendOutcome {
    fn failed(status_code: Option<u16>, error: impl Into<String>) -> SendOutcome {
        SendOutcome {
            delivered: false,
            status_code,
            error: Some(error.into()),
        }
    }
}

/// One notification to send.
#[derive(Debug, Clone)]
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    pub event: &'a str,
    pub delivery_id: &'a str,
    pub body: &'a [u8],
}

/// The HTTP client of webhooks.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
}

impl Sender {
    pub fn new(settings: &AlertSettings) -> anyhow::Result<Sender> {
        let timeout = Duration::from_millis(settings.request_timeout_ms);
        let client = reqwest::Client::builder()
            .user_agent(concat!("incidex-webhooks/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout)
            .dns_resolver(PublicOnly {
                allow_private: settings.allow_private_targets,
            })
            .build()?;
        Ok(Sender {
            client,
            allow_private: settings.allow_private_targets,
            timeout,
        })
    }

    /// Signs and POSTs one notification.
    pub async fn send(&self, out: &Outgoing<'_>) -> SendOutcome {
        // Literal addresses are not resolved, so they are checked here.
        let url = match check_url(out.url, self.allow_private) {
            Ok(url) => url,
            Err(e) => return SendOutcome::failed(None, format!("target refused: {e}")),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(HEADER_EVENT, out.event)
            .header(HEADER_DELIVERY, out.delivery_id)
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature(out.secret, timestamp, out.body))
            .body(out.body.to_vec())
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => SendOutcome {
                delivered: true,
                status_code: Some(r.status().as_u16()),
                error: None,
            },
            Ok(r) if r.status().is_redirection() => SendOutcome::failed(
                Some(r.status().as_u16()),
                format!("HTTP {}: redirects are not followed", r.status().as_u16()),
            ),
            Ok(r) => SendOutcome::failed(
                Some(r.status().as_u16()),
                format!("HTTP {}", r.status().as_u16()),
            ),
            Err(e) if e.is_timeout() => SendOutcome::failed(
                None,
                format!("no answer within {} ms", self.timeout.as_millis()),
            ),
            Err(e) if e.is_connect() => {
                SendOutcome::failed(None, format!("cannot connect: {}", root_cause(&e)))
            }
            Err(e) => SendOutcome::failed(None, format!("request failed: {}", root_cause(&e))),
        }
    }
}

/// The innermost error's message (reqwest's own mentions the URL only).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let text = cause.to_string();
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_inward_targets_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://localhost/hook",
            "http://api.localhost/hook",
            "http://metadata.google.internal/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[64:ff9b::a00:1]/",
            "http://[2002:c0a8:101::1]/",
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            let e = check_url(url, false).expect_err(url);
            assert_eq!(e.code(), "private_target", "{url}: {e}");
            assert!(
                check_url(url, true).is_ok(),
                "{url} allowed when configured"
            );
        }
        for url in [
            "https://hooks.example.org/incidex",
            "http://93.184.215.14:8443/x",
            "https://[2606:4700::1111]/",
        ] {
            assert!(check_url(url, false).is_ok(), "{url}");
        }
    }

    #[test]
    fn refuses_malformed_targets() {
        for url in [
            "ftp://hooks.example.org/",
            "not a url",
            "https://user:pw@hooks.example.org/",
            "file:///etc/passwd",
        ] {
            let e = check_url(url, true).expect_err(url);
            assert_eq!(e.code(), "invalid_url", "{url}: {e}");
        }
        let long = format!("https://hooks.example.org/{}", "a".repeat(MAX_URL_CHARS));
        assert_eq!(
            check_url(&long, true).expect_err("long").code(),
            "invalid_url"
        );
    }

    #[test]
    fn signature_is_hmac_of_timestamp_and_body() {
        // Known answer: HMAC-SHA256(key="whsec_test", "1700000000.{}").
        let sig = signature("whsec_test", 1_700_000_000, b"{}");
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"whsec_test").expect("key");
        mac.update(b"1700000000.{}");
        assert_eq!(
            sig,
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_ne!(sig, signature("whsec_test", 1_700_000_001, b"{}"));
        assert_ne!(sig, signature("whsec_other", 1_700_000_000, b"{}"));
    }

    #[tokio::test]
    async fn the_resolver_drops_inward_addresses() {
        let strict = PublicOnly {
            allow_private: false,
        };
        let e = match strict.resolve("localhost".parse().expect("name")).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e,
        };
        assert!(e.to_string().contains("localhost"), "{e}");
        let open = PublicOnly {
            allow_private: true,
        };
        let addrs: Vec<SocketAddr> = open
            .resolve("localhost".parse().expect("name"))
            .await
            .expect("resolves")
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
