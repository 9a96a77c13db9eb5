//! Pattern detectors for structured identifiers: URLs, e-mail addresses, MAC
//! and IP addresses, host names, phone numbers, IMSI/IMEI/ICCID and ticket
//! numbers. Each detector finds candidate spans with a regular expression
//! and then validates them in code (octet ranges, digit counts, context
//! words), which is both faster and easier to reason about than one huge
//! pattern.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use super::context::{
    char_at, char_before, continues_from_left, continues_number, is_one_of, next_token, prev_token,
};
use super::keep::is_emergency_number;
use super::scan::Scan;
use super::{Found, RedactionKind as K, Tier};

macro_rules! regex {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new($pattern).expect(concat!("static regex ", stringify!($name), " is valid"))
        });
    };
}

// ---------------------------------------------------------------- URLs ----

regex!(
    URL,
    r#"(?i:(?-u:\b)(?:(?:https?|ftps?|sftp|ssh|telnet|ldaps?|wss?|rtsp|smb|nfs|file)://|www\.)[^\s<>"`]+|(?-u:\b)sips?:[^\s<>"@]+@[^\s<>"]+|(?-u:\b)tel:\+?\d[\d\-.()]{5,}\d)"#
);

pub(crate) fn urls(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    for m in URL.find_iter(&scan.tech.text) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        // `www.` inside a longer host name (`aa.www.example`) is the host's.
        if matches!(char_before(text, start), Some('.' | '-' | '_')) {
            continue;
        }
        let end = trim_url_end(text, start, end);
        if end > start + 4 {
            found.redact(start, end, K::Url, Tier::Strongest);
        }
    }
}

/// Drops trailing sentence punctuation and unbalanced closing brackets.
fn trim_url_end(text: &str, start: usize, end: usize) -> usize {
    let Some(s) = text.get(start..end) else {
        return start;
    };
    // Opening minus closing brackets: (), [], {}.
    let mut balance = [0isize; 3];
    for c in s.chars() {
        match c {
            '(' => balance[0] += 1,
            ')' => balance[0] -= 1,
            '[' => balance[1] += 1,
            ']' => balance[1] -= 1,
            '{' => balance[2] += 1,
            '}' => balance[2] -= 1,
            _ => {}
        }
    }
    let mut len = s.len();
    for c in s.chars().rev() {
        let slot = match c {
            ')' => Some(0),
            ']' => Some(1),
            '}' => Some(2),
            _ => None,
        };
        let trim = match slot {
            Some(i) if balance[i] < 0 => {
                balance[i] += 1;
                true
            }
            Some(_) => false,
            None => matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*'),
        };
        if !trim {
            break;
        }
        len -= c.len_utf8();
    }
    start + len
}

// -------------------------------------------------------------- e-mail ----

regex!(EMAIL, r"[\w.%+\-]+@[\w\-]+(?:\.[\w\-]+)+");
regex!(
    EMAIL_OBFUSCATED,
    r"(?i)[\w.%+\-]+ ?[\[({] ?at ?[\])}] ?[\w\-]+(?: ?(?:[\[({] ?dot ?[\])}]|\.) ?[\w\-]+)+"
);

pub(crate) fn emails(scan: Scan<'_>, found: &mut Found) {
    if scan.tech.text.contains('@') {
        for m in EMAIL.find_iter(&scan.tech.text) {
            let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
                continue;
            };
            let leading_dots = m.as_str().len() - m.as_str().trim_start_matches('.').len();
            // `eslint-scope@3.7.2` is a package and its version.
            let domain = m.as_str().rsplit('@').next().unwrap_or("");
            if domain.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                continue;
            }
            found.redact(start + leading_dots, end, K::Email, Tier::Strongest);
        }
    }
    let folded = scan.folded;
    if folded.contains("at)") || folded.contains("at]") || folded.contains("at}") {
        for m in EMAIL_OBFUSCATED.find_iter(scan.text) {
            found.redact(m.start(), m.end(), K::Email, Tier::Strongest);
        }
    }
}

// ------------------------------------------------------------------ MAC ----

regex!(
    MAC,
    r"(?i)(?-u:\b)(?:[0-9a-f]{2}(?::[0-9a-f]{2}){5}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5}|[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4})(?-u:\b)"
);

pub(crate) fn macs(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    for m in MAC.find_iter(&scan.tech.text) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        // `aa:bb:cc:dd:ee:ff:00` is not a MAC address (and not an IPv6 one).
        let glued = matches!(char_at(text, end), Some(':' | '-' | '.'))
            && char_at(text, end + 1).is_some_and(|c| c.is_ascii_hexdigit());
        if !glued && !continues_from_left(text, start) {
            found.redact(start, end, K::Mac, Tier::Strong);
        }
    }
}

// ----------------------------------------------------------------- IPv6 ----

regex!(
    IPV6,
    r"(?i)(?:[0-9a-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9a-f]{1,4})?(?:%[0-9a-z_.]+)?(?:/\d{1,3})?"
);

pub(crate) fn ipv6(scan: Scan<'_>, found: &mut Found) {
    let compact = &scan.tech.text;
    if compact.bytes().filter(|&b| b == b':').nth(1).is_none() {
        return;
    }
    for m in IPV6.find_iter(compact) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        if let Some((start, end)) = validate_ipv6(scan.text, start, end) {
            found.redact(start, end, K::Ip, Tier::Strong);
        }
    }
}

fn validate_ipv6(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    let s = text.get(start..end)?;
    if !s.bytes().any(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if char_before(text, start).is_some_and(|c| c.is_alphanumeric() || c == ':') {
        return None;
    }
    // Split off prefix length and zone, parse the address with std.
    let (addr_and_zone, prefix) = match s.rsplit_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = addr_and_zone.split('%').next().unwrap_or(addr_and_zone);
    let mut core_len = addr.len();
    let mut parsed = Ipv6Addr::from_str(addr).is_ok();
    if !parsed && addr.ends_with(':') && !addr.ends_with("::") && prefix.is_none() {
        // "address 2001:db8::1: unreachable" — the colon is punctuation.
        core_len -= 1;
        parsed = Ipv6Addr::from_str(&addr[..core_len]).is_ok();
        if !parsed {
            return None;
        }
        return finish_ipv6(text, start, start + core_len);
    }
    if !parsed {
        return None;
    }
    if prefix.is_some_and(|p| p.parse::<u8>().map_or(true, |p| p > 128)) {
        return None;
    }
    if char_at(text, end).is_some_and(|c| c.is_alphanumeric() || c == ':')
        || continues_number(text, end)
    {
        return None;
    }
    finish_ipv6(text, start, end)
}

/// Includes `[...]` brackets and a `:port` suffix (`[2001:db8::1]:5060`).
fn finish_ipv6(text: &str, start: usize, end: usize) -> Option<(usize, usize)> {
    if char_before(text, start) == Some('[') && char_at(text, end) == Some(']') {
        let mut new_end = end + 1;
        if char_at(text, new_end) == Some(':') {
            let digits = text
                .get(new_end + 1..)?
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if (1..=5).contains(&digits) {
                new_end += 1 + digits;
            }
        }
        return Some((start - 1, new_end));
    }
    Some((start, end))
}

// ----------------------------------------------------------------- IPv4 ----

regex!(
    IPV4,
    r"(?-u:\b)\d{1,3}\.\d{1,3}(?:\.(?:\d{1,3}|[xX*])(?:\.(?:\d{1,3}|[xX*]))?)?(?:/\d{1,2}(?-u:\b))?(?::\d{1,5}(?-u:\b))?"
);

/// Words that, right before a dotted number, make it a version or a document
/// section rather than an address ("release 5.4.0.88", "clause 5.1.2.3").
const VERSION_WORDS: &[&str] = &[
    "version",
    "versions",
    "ver",
    "v",
    "release",
    "releases",
    "rel",
    "build",
    "builds",
    "firmware",
    "fw",
    "software",
    "sw",
    "patch",
    "hotfix",
    "load",
    "image",
    "package",
    "pkg",
    "baseline",
    "bundle",
    "upgrade",
    "upgraded",
    "upgrading",
    "update",
    "updated",
    "downgrade",
    "downgraded",
    "running",
    "section",
    "sect",
    "sec",
    "clause",
    "chapter",
    "annex",
    "table",
    "figure",
    "fig",
    "step",
    "para",
    "paragraph",
    "article",
    "ts",
    "tr",
];

/// Words after a dotted number that make it a version ("5.4.0.88 build").
const VERSION_WORDS_AFTER: &[&str] = &["build", "release", "firmware", "software", "version"];

/// Connectives skipped when looking for a context word
/// ("upgraded from 5.4.0.87 to 5.4.0.88").
const CONNECTIVES: &[&str] = &["to", "from", "is", "was", "of", "and", "or", "->", "→", "-"];

pub(crate) fn ipv4(scan: Scan<'_>, found: &mut Found) {
    for m in IPV4.find_iter(&scan.tech.text) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        if ipv4_is_address(scan.text, start, end, 0) {
            found.redact(start, end, K::Ip, Tier::Strong);
        }
    }
}

/// Decides whether the dotted number at `start..end` is an IPv4 address
/// (or prefix) rather than a version number or section reference.
fn ipv4_is_address(text: &str, start: usize, end: usize, depth: u8) -> bool {
    let Some(s) = text.get(start..end) else {
        return false;
    };
    if continues_from_left(text, start) || continues_number(text, end) {
        return false;
    }
    if char_before(text, start) == Some('§') {
        return false;
    }
    let (body, port) = match s.split_once(':') {
        Some((b, p)) => (b, Some(p)),
        None => (s, None),
    };
    let (addr, prefix) = match body.split_once('/') {
        Some((a, p)) => (a, p.parse::<u8>().ok()),
        None => (body, None),
    };
    let parts: Vec<&str> = addr.split('.').collect();
    let wildcard = parts.iter().any(|p| matches!(*p, "x" | "X" | "*"));
    match (parts.len(), prefix) {
        (4, Some(p)) if p > 32 => return false,
        (4, _) => {}
        (2 | 3, Some(p)) if (8..=32).contains(&p) => {}
        _ => return false,
    }
    let numeric: Vec<&str> = parts
        .iter()
        .copied()
        .filter(|p| !matches!(*p, "x" | "X" | "*"))
        .collect();
    if numeric
        .iter()
        .any(|p| p.parse::<u16>().map_or(true, |v| v > 255))
    {
        return false;
    }
    // Leading zeros ("5.04.0.088") mean a version, unless every octet is
    // zero-padded to three digits as some logs print addresses.
    let padded = numeric.iter().all(|p| p.len() == 3);
    if !padded && numeric.iter().any(|p| p.len() > 1 && p.starts_with('0')) {
        return false;
    }
    if parts.len() == 4 && !wildcard && !padded && Ipv4Addr::from_str(addr).is_err() {
        return false;
    }
    if prefix.is_some() || port.is_some() || wildcard {
        return true;
    }
    !version_context(text, start, end, depth)
}

/// True when the words around a dotted quad say it is a version number.
fn version_context(text: &str, start: usize, end: usize, depth: u8) -> bool {
    if next_token(text, end).is_some_and(|t| is_one_of(t, VERSION_WORDS_AFTER)) {
        return true;
    }
    let mut pos = start;
    for _ in 0..2 {
        let Some((token, token_start)) = prev_token(text, pos) else {
            return false;
        };
        if is_one_of(token, VERSION_WORDS) || token.ends_with('§') {
            return true;
        }
        if token.starts_with(|c: char| c.is_ascii_digit()) && depth < 3 {
            // Chained lists: "from 5.4.0.87 to 5.4.0.88". The previous
            // number decides for this one.
            let offset = token.as_ptr() as usize - text.as_ptr() as usize;
            if let Some(m) = IPV4.find(token)
                && m.start() == 0
                && m.as_str().contains('.')
            {
                return !ipv4_is_address(text, offset, offset + m.end(), depth + 1);
            }
            return false;
        }
        if !is_one_of(token, CONNECTIVES) {
            return false;
        }
        pos = token_start;
    }
    false
}

// ---------------------------------------------------------------- hosts ----

regex!(
    HOST,
    r"(?i)(?-u:\b)(?:[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}(?-u:\b)(?::\d{1,5}(?-u:\b))?"
);

/// Generic and infrastructure top-level domains accepted for host names.
const GENERIC_TLDS: &[&str] = &[
    "com",
    "net",
    "org",
    "info",
    "biz",
    "io",
    "gov",
    "edu",
    "mil",
    "int",
    "mobi",
    "tel",
    "name",
    "pro",
    "aero",
    "coop",
    "app",
    "dev",
    "cloud",
    "tech",
    "online",
    "site",
    "network",
    "local",
    "lan",
    "internal",
    "intranet",
    "intra",
    "corp",
    "home",
    "arpa",
    "localdomain",
    "localhost",
    "svc",
    "cluster",
    "example",
    "test",
    "invalid",
    "telecom",
    "mobile",
    "digital",
    "systems",
    "services",
    "global",
    "eu",
    "asia",
    "africa",
    "email",
    "host",
    "link",
    "zone",
    "one",
    "xyz",
    "top",
    "club",
    "gprs",
    "3gppnetwork",
];

/// Two-letter country-code TLDs.
const CC_TLDS: &str = "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et fi fj fk fm fo fr ga gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw";

/// Country codes that are also English words or file extensions: a two-label
/// name with one of these (`file.py`, `done.it`) is not taken as a host.
const AMBIGUOUS_TLDS: &[&str] = &[
    "as", "at", "be", "by", "do", "go", "in", "is", "it", "me", "my", "no", "so", "to", "us", "am",
    "ai", "id", "ps", "pl", "py", "sh", "md", "rs", "cc", "ml", "pm", "mk", "ac", "ad", "ag", "an",
    "on", "or", "sc", "sk", "ts", "js", "tf", "mo", "mr", "ms", "st", "tv",
];

fn is_tld(tld: &str) -> bool {
    tld.len() >= 2
        && (GENERIC_TLDS.iter().any(|t| t.eq_ignore_ascii_case(tld))
            || (tld.len() == 2 && CC_TLDS.split(' ').any(|t| t.eq_ignore_ascii_case(tld))))
}

pub(crate) fn hosts(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    for m in HOST.find_iter(&scan.tech.text) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        let s = m.as_str();
        let name = s.split(':').next().unwrap_or(s);
        let labels = name.split('.').count();
        let tld = name.rsplit('.').next().unwrap_or("");
        let same_case = tld.bytes().all(|b| b.is_ascii_lowercase())
            || tld.bytes().all(|b| b.is_ascii_uppercase());
        if !same_case || !is_tld(tld) {
            continue;
        }
        if labels == 2 && AMBIGUOUS_TLDS.iter().any(|t| t.eq_ignore_ascii_case(tld)) {
            continue;
        }
        if continues_from_left(text, start) || matches!(char_before(text, start), Some('@' | '.')) {
            continue;
        }
        found.redact(start, end, K::Host, Tier::Strong);
    }
}

// --------------------------------------------------------------- phones ----

regex!(
    PHONE,
    r"(?x)
      # Loose shapes with bounded length (a scan stays linear); digit counts
      # are checked, and over-long matches trimmed, in `fit_phone`.
      \+[1-9](?:[\ .\-/]?(?:\(\d{1,4}\)|\d)){1,24}
    | (?-u:\b)00[1-9](?:[\ .\-/]?(?:\(\d{1,4}\)|\d)){1,24}
    | \(0\d{1,5}\)(?:[\ .\-/]?\d){1,16}
    | (?-u:\b)0[1-9](?:[\ .\-/]?\d){1,16}
    | (?:(?-u:\b)1[\ .\-])?(?:\(\d{3}\)\ ?|(?-u:\b)[2-9]\d{2}[\ .\-])\d{3}[\ .\-]\d{4}(?-u:\b)
    "
);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum PhoneForm {
    /// `+33 1 23 45 67 89`
    Plus,
    /// `0049 151 2345 6789`
    DoubleZero,
    /// `07 12 34 56 78`, `(020) 7946 0958`
    National,
    /// `(212) 555-1234`, `212-555-1234`
    NorthAmerican,
    /// Any number of 6-15 digits after a word such as "tel" or "MSISDN".
    Keyword,
}

impl PhoneForm {
    fn digit_range(self) -> (usize, usize) {
        match self {
            PhoneForm::Plus => (8, 15),
            PhoneForm::DoubleZero => (10, 17),
            PhoneForm::National => (9, 12),
            PhoneForm::NorthAmerican => (10, 11),
            PhoneForm::Keyword => (6, 15),
        }
    }

    fn tier(self) -> Tier {
        match self {
            PhoneForm::Plus | PhoneForm::DoubleZero => Tier::Strong,
            _ => Tier::Weak,
        }
    }
}

pub(crate) fn phones(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    let compact = &scan.tech.text;
    let mut pos = 0;
    while let Some(m) = PHONE.find_at(compact, pos) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            pos = m.end();
            continue;
        };
        let s = m.as_str();
        let form = if s.starts_with('+') {
            PhoneForm::Plus
        } else if s.starts_with("00") {
            PhoneForm::DoubleZero
        } else if s.starts_with('0') || s.starts_with("(0") {
            PhoneForm::National
        } else {
            PhoneForm::NorthAmerican
        };
        let glued_left = if form == PhoneForm::Plus {
            char_before(text, start).is_some_and(|c| c.is_alphanumeric())
        } else {
            continues_from_left(text, start)
        };
        match (glued_left, fit_phone(text, start, end, form)) {
            (false, Some(new_end)) => {
                found.redact(start, new_end, K::Phone, form.tier());
                pos = m.start() + (new_end - start);
            }
            // Restart just after the first group so that a second number
            // swallowed by an over-long match is still found.
            _ => pos = next_group_start(compact, m.start(), m.end()),
        }
    }
}

/// Byte offset after the first digit group of `start..end` (at least one
/// character past `start`, so a scan always advances).
fn next_group_start(text: &str, start: usize, end: usize) -> usize {
    let s = text.get(start..end).unwrap_or("");
    let skip = s
        .char_indices()
        .skip(1)
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '+' || c == '('))
        .map_or(s.len(), |(i, _)| i);
    (start + skip.max(1)).min(text.len().max(start + 1))
}

/// Digits of a phone candidate, ignoring a `(0)` trunk marker.
fn phone_digits(s: &str) -> usize {
    let all = s.bytes().filter(u8::is_ascii_digit).count();
    all - s.matches("(0)").count()
}

/// Trims a phone candidate until its digit count fits the form and it does
/// not run into a time, decimal or date; returns the new end.
fn fit_phone(text: &str, start: usize, mut end: usize, form: PhoneForm) -> Option<usize> {
    let (min, max) = form.digit_range();
    // No phone number is longer than this (15 digits, separators, `(0)`);
    // cap first so that trimming stays cheap on pathological runs.
    const MAX_PHONE_BYTES: usize = 40;
    if end - start > MAX_PHONE_BYTES {
        let bytes = text.as_bytes();
        let mut cap = start + MAX_PHONE_BYTES;
        if bytes.get(cap - 1).is_some_and(u8::is_ascii_digit)
            && bytes.get(cap).is_some_and(u8::is_ascii_digit)
        {
            cap = trim_last_group(text, start, cap)?;
        }
        end = cap;
    }
    loop {
        let s = text.get(start..end)?;
        let digits = phone_digits(s);
        if digits < min {
            return None;
        }
        if digits > max || continues_number(text, end) {
            end = trim_last_group(text, start, end)?;
            continue;
        }
        if matches!(form, PhoneForm::National | PhoneForm::Keyword) && starts_with_date(s) {
            return None;
        }
        return Some(end);
    }
}

/// Removes the last digit group (and the separator before it).
fn trim_last_group(text: &str, start: usize, end: usize) -> Option<usize> {
    let s = text.get(start..end)?;
    let cut = s.rfind([' ', '.', '-', '/', '('])?;
    let kept = s[..cut].trim_end_matches([' ', '.', '-', '/', '(']);
    if kept.is_empty() {
        return None;
    }
    Some(start + kept.len())
}

/// Exactly a date: `2024-03-15`, `15/03/2024`, `15.03.24`.
fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split(['-', '/', '.']).collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let lens = (parts[0].len(), parts[1].len(), parts[2].len());
    matches!(lens, (4, 1..=2, 1..=2) | (1..=2, 1..=2, 2 | 4))
}

/// `05.03.2024`, `06/03/24 10` — a date, possibly followed by more numbers.
/// A date followed by the *same* separator (`01.02.20.24.56`) is a phone.
fn starts_with_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits_at = |i: usize| b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    let d1 = digits_at(0);
    if !(1..=2).contains(&d1) || d1 >= b.len() {
        return false;
    }
    let sep = b[d1];
    if !matches!(sep, b'.' | b'/' | b'-') {
        return false;
    }
    let d2 = digits_at(d1 + 1);
    let after_month = d1 + 1 + d2;
    if !(1..=2).contains(&d2) || after_month >= b.len() || b[after_month] != sep {
        return false;
    }
    let d3 = digits_at(after_month + 1);
    let after_year = after_month + 1 + d3;
    (d3 == 2 || d3 == 4) && b.get(after_year).is_none_or(|&c| c != sep)
}

// ------------------------------------------------- IMSI / IMEI / ICCID ----

regex!(
    MOBILE_ID_SHAPED,
    r"(?x)(?-u:\b)(?:
        \d{2}[\ \-/]\d{6}[\ \-/]\d{6}(?:[\ \-/]\d{1,2})?
      | \d{8}[\ \-/]\d{6}(?:[\ \-/]\d{1,2})?
      | \d{6}[\ \-/]\d{2}[\ \-/]\d{6}(?:[\ \-/]\d{1,2})?
      | [2-7]\d{2}[\ \-.]\d{2,3}[\ \-.]\d{9,10}
      | 89\d{2}(?:[\ \-]\d{4}){3}[\ \-]\d{3,4}[Ff]?
    )(?-u:\b)"
);

regex!(BARE_DIGITS, r"(?-u:\b)\d{9,}[Ff]?(?-u:\b)");

pub(crate) fn mobile_ids(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    for m in MOBILE_ID_SHAPED.find_iter(&scan.tech.text) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        if continues_from_left(text, start) || continues_number(text, end) {
            continue;
        }
        let s = m.as_str();
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        let first_group = s.bytes().take_while(u8::is_ascii_digit).count();
        let kind = if s.starts_with("89") && digits >= 18 {
            K::Iccid
        } else if first_group == 3 {
            K::Imsi
        } else {
            K::Imei
        };
        found.redact(start, end, kind, Tier::Strong);
    }
    for m in BARE_DIGITS.find_iter(&scan.tech.text) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        if continues_from_left(text, start) || continues_number(text, end) {
            continue;
        }
        if matches!(char_before(text, start), Some('+' | '#')) {
            continue;
        }
        if let Some(kind) = classify_digits(m.as_str()) {
            found.redact(start, end, kind, Tier::Weak);
        }
    }
}

/// Types a run of 9-22 bare digits. Runs of 17-22 digits that do not start
/// with the ICCID prefix `89` are left alone (correlation ids, timestamps).
fn classify_digits(s: &str) -> Option<K> {
    let digits = s.trim_end_matches(['F', 'f']);
    let n = digits.len();
    if n > 22 {
        return None;
    }
    if digits.starts_with("89") && (18..=22).contains(&n) {
        return Some(K::Iccid);
    }
    match n {
        9..=13 => Some(K::Phone),
        14 | 16 => Some(K::Imei),
        15 if luhn_valid(digits) => Some(K::Imei),
        15 if matches!(digits.as_bytes()[0], b'2'..=b'7') => Some(K::Imsi),
        15 => Some(K::Phone),
        _ => None,
    }
}

/// Luhn check as used by IMEI check digits.
pub(crate) fn luhn_valid(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(b.wrapping_sub(b'0'));
        if d > 9 {
            return false;
        }
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

// -------------------------------------------------------------- tickets ----

regex!(
    TICKET,
    r"(?x)
      (?-u:\b)(?:INC|CHG|PRB|PRBTASK|RITM|REQ|SCTASK|CTASK|PTASK|TASK|CRQ|WO|WOR|SR|CR|TT|CS|TKT)[-_\#:]?\d{5,}(?:[-/]\d+)*(?-u:\b)
    | (?-u:\b)[A-Z][A-Z0-9]{1,9}-\d{4,}(?:-[A-Z0-9]*\d[A-Z0-9]*)*(?-u:\b)
    | \#\d{5,}(?-u:\b)
    "
);

/// Prefixes of `ABC-1234` shaped tokens that are standards, frequency bands
/// or public identifiers rather than ticket keys.
const NOT_TICKET_PREFIXES: &[&str] = &[
    "RFC", "ISO", "IEC", "IEEE", "CVE", "CWE", "GSM", "LTE", "UMTS", "DCS", "PCS", "NR", "EN",
    "ITU", "ETSI", "TS", "TR", "ANSI", "DIN", "BS", "IR", "GSMA", "AS", "ASN", "UTF", "SHA", "MD",
    "AES", "DES", "RSA", "TLS", "SSL", "DOCSIS", "COVID", "AMR", "EVS", "STM", "OC", "MPLS",
    "BAND", "WCDMA", "CDMA", "EDGE", "GPRS", "HSPA", "VOLTE", "IMS", "EPC", "SA", "NSA", "FDD",
    "TDD", "DVB", "ATSC",
];

pub(crate) fn tickets(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    for m in TICKET.find_iter(&scan.tech.text) {
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        let s = m.as_str();
        if s.starts_with('#') {
            if char_before(text, start).is_some_and(|c| !c.is_whitespace() && c != '(') {
                continue;
            }
        } else if let Some((prefix, _)) = s.split_once('-')
            && NOT_TICKET_PREFIXES.contains(&prefix)
        {
            continue;
        }
        if continues_number(text, end) {
            continue;
        }
        // Service-management prefixes (INC, CHG, ...) are unambiguous.
        let tier = if s.starts_with(|c: char| c.is_ascii_uppercase()) && !s.contains('-') {
            Tier::Strong
        } else {
            Tier::Weak
        };
        found.redact(start, end, K::Ticket, tier);
    }
}

// ------------------------------------------------- keyword-led numbers ----

regex!(
    KEYWORDED,
    r"(?xi)(?-u:\b)(?:
        # IMSI 208150123456789, IMEI: 35-209900-176148-1, SUPI imsi-..., MSISDN 336...
        (?:imeisv|imei|imsi|iccid|msisdn|supi|gpsi|e\.?164)(?-u:\b)
        (?:\s*(?:no\.?|number|nr\.?|\#|id))?\s*[:=\#]?\s*(?:(?:is|was|of)\s+)?
        (?:(?:imsi|imei|msisdn)-)?(?:\+?\d[\d\ \-./]{4,30}\d[Ff]?)
        # tel. 612345678, called 0612345678, SMS from 4915123456789
      | (?:tel|telephone|phone|mobile|cell|fax|hotline|whatsapp|call(?:ed)?|ring|dial(?:l?ed)?|sms)(?-u:\b)
        (?:\s+(?:no\.?|number|nr\.?|num))?\s*[:.\#]?\s*(?:(?:on|at|to|from)\s+)?
        (?:\+?\d[\d\ .\-/()]{4,24}\d)
        # ticket 4711, case 00123456, change #4711, incident no. 2024
      | (?:trouble\s+ticket|ticket|tkt|tt|case|incident|ref|reference|work\s+order|change\s+request|change|service\s+request|request)(?-u:\b)
        (?:\s*(?:no\.?|number|nr\.?|id|\#))?\s*[:\#]?\s*
        (?:[a-z]{0,6}[-_\#]?\d[\w\-/]*)
    )"
);

/// Identifiers announced by a keyword: mobile identities, phone numbers
/// after "tel"/"call", and ticket numbers after "ticket"/"case". Runs over
/// the keyed zones.
pub(crate) fn keyworded(scan: Scan<'_>, found: &mut Found) {
    for m in KEYWORDED.find_iter(&scan.keyed.text) {
        let Some((start, end)) = scan.keyed.span(m.start(), m.end()) else {
            continue;
        };
        let Some(matched) = scan.text.get(start..end) else {
            continue;
        };
        let (keyword, keyword_len) = leading_keyword(matched);
        let rest = &matched[keyword_len..];
        if ID_KEYWORDS.contains(&keyword.as_str()) || TEL_KEYWORDS.contains(&keyword.as_str()) {
            // The number starts at the first `+` or digit after the keyword.
            let Some(offset) = rest.find(|c: char| c == '+' || c.is_ascii_digit()) else {
                continue;
            };
            let number_start = start + keyword_len + offset;
            if ID_KEYWORDS.contains(&keyword.as_str()) {
                mobile_id_after_keyword(scan.text, &keyword, number_start, end, found);
            } else if let Some(end) = fit_phone(scan.text, number_start, end, PhoneForm::Keyword) {
                found.redact(number_start, end, K::Phone, Tier::Weak);
            }
        } else {
            // The id is the trailing run of id characters; anything between
            // the keyword and the id other than `:` is a marker ("no.", "#").
            let id_len = rest
                .bytes()
                .rev()
                .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'/'))
                .count();
            let id_offset = rest.len() - id_len;
            let between = rest[..id_offset].trim_matches(|c: char| c.is_whitespace() || c == ':');
            let marked = !between.is_empty();
            let id_start = start + keyword_len + id_offset;
            ticket_after_keyword(
                scan.text,
                &keyword,
                marked,
                &rest[id_offset..],
                id_start,
                found,
            );
        }
    }
}

/// Keywords that announce a mobile identity (or, for `msisdn`, a number).
const ID_KEYWORDS: &[&str] = &[
    "imeisv", "imei", "imsi", "iccid", "msisdn", "supi", "gpsi", "e.164", "e164",
];
/// Keywords that announce a phone number.
const TEL_KEYWORDS: &[&str] = &[
    "tel",
    "telephone",
    "phone",
    "mobile",
    "cell",
    "fax",
    "hotline",
    "whatsapp",
    "call",
    "called",
    "ring",
    "dial",
    "dialed",
    "dialled",
    "sms",
];

/// The lower-cased keyword at the start of a [`KEYWORDED`] match and its
/// length in bytes (two-word keywords such as "trouble ticket" included).
fn leading_keyword(matched: &str) -> (String, usize) {
    let lower = matched.to_ascii_lowercase();
    for special in ["e.164", "e164"] {
        if lower.starts_with(special) {
            return (special.to_string(), special.len());
        }
    }
    let first = lower.bytes().take_while(u8::is_ascii_alphabetic).count();
    let mut len = first;
    if matches!(&lower[..first], "trouble" | "work" | "change" | "service") {
        let gap = lower[first..]
            .bytes()
            .take_while(u8::is_ascii_whitespace)
            .count();
        let second = lower[first + gap..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        let word = &lower[first + gap..first + gap + second];
        if gap > 0 && matches!(word, "ticket" | "order" | "request") {
            len = first + gap + second;
        }
    }
    let keyword = lower[..len]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (keyword, len)
}

fn mobile_id_after_keyword(
    text: &str,
    word: &str,
    start: usize,
    mut end: usize,
    found: &mut Found,
) {
    let word = word.to_ascii_lowercase();
    let (kind, min, max) = match word.as_str() {
        "imsi" | "supi" => (K::Imsi, 6, 15),
        "imei" | "imeisv" => (K::Imei, 8, 16),
        "iccid" => (K::Iccid, 10, 22),
        _ => (K::Phone, 6, 15),
    };
    loop {
        let Some(s) = text.get(start..end) else {
            return;
        };
        let digits = s.bytes().filter(u8::is_ascii_digit).count();
        if digits < min {
            return;
        }
        if digits > max || continues_number(text, end) {
            match trim_last_group(text, start, end) {
                Some(e) => end = e,
                None => return,
            }
            continue;
        }
        found.redact(start, end, kind, Tier::Strong);
        return;
    }
}

fn ticket_after_keyword(
    text: &str,
    word: &str,
    marked: bool,
    id: &str,
    id_start: usize,
    found: &mut Found,
) {
    let (id_start, id) = match id.strip_prefix('#') {
        Some(rest) => (id_start + 1, rest),
        None => (id_start, id),
    };
    let id = id.trim_end_matches(['-', '/', '_']);
    let end = id_start + id.len();
    let digits = id.bytes().filter(u8::is_ascii_digit).count();
    let word = word.to_ascii_lowercase();
    let loose_word =
        !(matches!(word.as_str(), "ticket" | "tkt" | "tt" | "case") || word.starts_with("trouble"));
    let year_like = id.len() == 4 && (id.starts_with("19") || id.starts_with("20")) && digits == 4;
    if digits < 3
        || (loose_word && !marked && (digits < 4 || year_like))
        || (!marked && (is_emergency_number(id) || is_date(id)))
        || continues_number(text, end)
    {
        return;
    }
    let start = if char_before(text, id_start) == Some('#') {
        id_start - 1
    } else {
        id_start
    };
    // The keyword is strong evidence: not vetoed by must-keep spans
    // ("case 100000 packets" is a case number, not a count).
    found.redact(start, end, K::Ticket, Tier::Strong);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn() {
        assert!(luhn_valid("352099001761481"));
        assert!(!luhn_valid("352099001761482"));
        assert!(!luhn_valid("35209900176148x"));
    }

    #[test]
    fn digits_classification() {
        assert_eq!(classify_digits("352099001761481"), Some(K::Imei));
        assert_eq!(classify_digits("208150123456789"), Some(K::Imsi));
        assert_eq!(classify_digits("89330123456789012345"), Some(K::Iccid));
        assert_eq!(classify_digits("4915123456789"), Some(K::Phone));
        assert_eq!(classify_digits("12345678901234567"), None);
    }

    #[test]
    fn dates() {
        assert!(is_date("2024-03-15"));
        assert!(is_date("15/03/2024"));
        assert!(is_date("15.03.24"));
        assert!(!is_date("2022-07-08-RCI-0042"));
        assert!(!is_date("4711"));
    }

    #[test]
    fn date_prefix() {
        assert!(starts_with_date("05.03.2024 10"));
        assert!(starts_with_date("05/03/24"));
        assert!(!starts_with_date("01.02.20.24.56"));
        assert!(!starts_with_date("0612345678"));
    }

    #[test]
    fn url_trimming() {
        let t = "(see https://x.example/a_(b)).";
        let start = t.find("https").expect("present");
        let end = trim_url_end(t, start, t.len());
        assert_eq!(&t[start..end], "https://x.example/a_(b)");
    }
}
