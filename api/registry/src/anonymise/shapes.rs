//! Identifiers recognised by the shape of a token or a short phrase rather
//! than by a fixed syntax: network element, host and site names without a
//! domain, service and user accounts, AS numbers, MCC-MNC codes and cell
//! ids, circuit ids, postal addresses, coordinates, and ranges of IMSIs or
//! MSISDNs.
//!
//! # Element and host names
//!
//! Operators name their elements `mme-lon-3`, `med-02`, `cscf01.par`,
//! `RTR-PAR-CORE-01`, `HH0412`. 3GPP names its interfaces and functions
//! `S1-MME`, `SGSN-MME`, `P-CSCF`, `N2`, `S6a`, `Iu-PS`, and releases,
//! standards and units look alike too (`R15`, `LTE-1800`, `CVE-2021-44228`,
//! `SHA-256`). A token is taken for a host when, after splitting it at `-`
//! and `.`:
//! * it is in one case (all lower or all upper case letters, with digits);
//! * it is not wholly made of technical vocabulary (`data/technical-terms.txt`)
//!   and numbers that the vocabulary takes (`LTE-1800`, `RU50`, `N26`);
//! * it starts with a letter, and it has a digit, or three or more segments,
//!   or ends with a one- or two-character segment (`stp-lag-a`, `hss-b`);
//!   single-segment tokens need at least two letters then at least two
//!   digits (`HH0412`, `pgw07`), or one digit after a common element word
//!   (`sbc1`, `node7`).
//!
//! Years, durations and counts glued to words (`mid-2024`, `2-year`,
//! `144-fibre`) start with a digit or end in a year and are not hosts.

use std::sync::LazyLock;

use regex::Regex;

use super::context::{continues_from_left, continues_number, next_token};
use super::lists;
use super::scan::Scan;
use super::{Found, RedactionKind as K, Tier};

macro_rules! regex {
    ($name:ident, $pattern:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new($pattern).expect(concat!("static regex ", stringify!($name), " is valid"))
        });
    };
}

/// `first`: the first pass over the original text. Element and account
/// names are decided by the token alone (the must-keep veto never applies
/// to names starting with a letter), and a token that touches a
/// placeholder never has their shape (it holds `[` or `]`), so the
/// re-check of the rendered text cannot find new ones and skips them.
pub(crate) fn detect(
    scan: Scan<'_>,
    trigger_hits: &[(usize, usize, usize)],
    first: bool,
    found: &mut Found,
) {
    let triggers = Triggers::from_hits(trigger_hits);
    if first {
        tokens(scan, found);
    }
    keyworded_accounts(scan, &triggers, found);
    asns(scan, found);
    plmns(scan, &triggers, found);
    circuits(scan, &triggers, found);
    references(scan, &triggers, found);
    coordinates(scan, &triggers, found);
    addresses(scan, &triggers, found);
    ranges(scan, found);
}

// ----------------------------------------------------------- triggers ----

/// Families of phrase detectors, each announced by words that must be in
/// the text for it to run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    Account,
    Circuit,
    Postcode,
    LatLon,
    Plmn,
    Street,
    Germanic,
    Reference,
}

/// Folded trigger words. One automaton pass over the folded text tells
/// which families can match and where their keywords are, so that the
/// keyword-led patterns run only on a short window after each keyword
/// rather than over the whole text (their case-insensitive, Unicode-aware
/// regexes are slow over kilobytes).
const TRIGGER_WORDS: &[(&str, Family)] = &[
    ("user name", Family::Account),
    ("username", Family::Account),
    ("user id", Family::Account),
    ("userid", Family::Account),
    ("uid", Family::Account),
    ("login", Family::Account),
    ("logon", Family::Account),
    ("account", Family::Account),
    ("service account", Family::Account),
    ("system account", Family::Account),
    ("bind account", Family::Account),
    ("domain account", Family::Account),
    ("admin account", Family::Account),
    ("user account", Family::Account),
    ("logged in as", Family::Account),
    ("logged on as", Family::Account),
    ("signed in as", Family::Account),
    ("running as", Family::Account),
    ("ran as", Family::Account),
    ("run as", Family::Account),
    ("as user", Family::Account),
    ("circuit", Family::Circuit),
    ("ckt", Family::Circuit),
    ("cct", Family::Circuit),
    ("cid", Family::Circuit),
    ("service id", Family::Circuit),
    ("line id", Family::Circuit),
    ("leased line", Family::Circuit),
    ("wavelength", Family::Circuit),
    ("lambda id", Family::Circuit),
    ("evc", Family::Circuit),
    ("e-line", Family::Circuit),
    ("e-lan", Family::Circuit),
    ("vc id", Family::Circuit),
    ("pseudowire", Family::Circuit),
    ("pw id", Family::Circuit),
    ("postcode", Family::Postcode),
    ("post code", Family::Postcode),
    ("postal code", Family::Postcode),
    ("zip", Family::Postcode),
    ("zip code", Family::Postcode),
    ("plz", Family::Postcode),
    ("code postal", Family::Postcode),
    ("lat", Family::LatLon),
    ("latitude", Family::LatLon),
    ("lon", Family::LatLon),
    ("long", Family::LatLon),
    ("longitude", Family::LatLon),
    ("lng", Family::LatLon),
    ("mcc", Family::Plmn),
    ("plmn", Family::Plmn),
    ("plmns", Family::Plmn),
    ("plmn id", Family::Plmn),
    ("plmn-id", Family::Plmn),
    ("hplmn", Family::Plmn),
    ("vplmn", Family::Plmn),
    ("hni", Family::Plmn),
    ("police", Family::Reference),
    ("crime", Family::Reference),
    ("court", Family::Reference),
    ("pv", Family::Reference),
    ("procès-verbal", Family::Reference),
    ("street", Family::Street),
    ("st.", Family::Street),
    ("road", Family::Street),
    ("rd", Family::Street),
    ("avenue", Family::Street),
    ("ave", Family::Street),
    ("boulevard", Family::Street),
    ("blvd", Family::Street),
    ("lane", Family::Street),
    ("drive", Family::Street),
    ("way", Family::Street),
    ("place", Family::Street),
    ("square", Family::Street),
    ("court", Family::Street),
    ("terrace", Family::Street),
    ("parkway", Family::Street),
    ("highway", Family::Street),
    ("close", Family::Street),
    ("crescent", Family::Street),
    ("quay", Family::Street),
    ("wharf", Family::Street),
    ("embankment", Family::Street),
    ("gardens", Family::Street),
    ("row", Family::Street),
    ("mews", Family::Street),
    ("rue", Family::Street),
    ("allée", Family::Street),
    ("chemin", Family::Street),
    ("impasse", Family::Street),
    ("quai", Family::Street),
    ("calle", Family::Street),
    ("avenida", Family::Street),
    ("paseo", Family::Street),
    ("carrer", Family::Street),
    ("viale", Family::Street),
    ("piazza", Family::Street),
    ("corso", Family::Street),
    ("largo", Family::Street),
    ("rua", Family::Street),
    ("travessa", Family::Street),
    ("praça", Family::Street),
    ("route", Family::Street),
    ("cours", Family::Street),
    ("plaza", Family::Street),
    ("via", Family::Street),
    ("straße", Family::Germanic),
    ("strasse", Family::Germanic),
    ("str.", Family::Germanic),
    ("weg ", Family::Germanic),
    ("platz ", Family::Germanic),
    ("allee ", Family::Germanic),
    ("gasse ", Family::Germanic),
    ("damm ", Family::Germanic),
    ("ufer ", Family::Germanic),
    ("chaussee ", Family::Germanic),
    ("laan ", Family::Germanic),
    ("straat ", Family::Germanic),
    ("gracht ", Family::Germanic),
    ("plein ", Family::Germanic),
    ("gatan ", Family::Germanic),
    ("vägen ", Family::Germanic),
    ("gata ", Family::Germanic),
    ("veien ", Family::Germanic),
    ("vej ", Family::Germanic),
    ("gade ", Family::Germanic),
    (" den ", Family::Germanic),
    (" der ", Family::Germanic),
    (" dem ", Family::Germanic),
    (" zum ", Family::Germanic),
    (" zur ", Family::Germanic),
    (" auf ", Family::Germanic),
    (" unter ", Family::Germanic),
    ("ul.", Family::Germanic),
    ("al.", Family::Germanic),
    ("pl.", Family::Germanic),
    ("os.", Family::Germanic),
    ("nám.", Family::Germanic),
    ("nábř.", Family::Germanic),
];

/// Is this trigger a word ending ("straße" in "Hauptstraße") rather than
/// a word?
fn is_suffix(word: &str, family: Family) -> bool {
    family == Family::Germanic
        && !word.starts_with(' ')
        && !matches!(word, "ul." | "al." | "pl." | "os." | "nám." | "nábř.")
}

/// The trigger words, folded and trimmed, words first and word endings
/// last, for the member-name automaton (one pass over the text finds
/// member names, the words that introduce persons and these triggers), and
/// the index of the first word ending.
pub(crate) fn trigger_keywords() -> (Vec<&'static str>, usize) {
    let words = TRIGGER_WORDS
        .iter()
        .filter(|(w, f)| !is_suffix(w, *f))
        .map(|(w, _)| w.trim());
    let suffixes = TRIGGER_WORDS
        .iter()
        .filter(|(w, f)| is_suffix(w, *f))
        .map(|(w, _)| w.trim());
    let mut all: Vec<&'static str> = words.collect();
    let suffix_from = all.len();
    all.extend(suffixes);
    (all, suffix_from)
}

/// The family of each entry of [`trigger_keywords`], in the same order.
static TRIGGER_FAMILIES: LazyLock<Vec<Family>> = LazyLock::new(|| {
    let words = TRIGGER_WORDS.iter().filter(|(w, f)| !is_suffix(w, *f));
    let suffixes = TRIGGER_WORDS.iter().filter(|(w, f)| is_suffix(w, *f));
    words.chain(suffixes).map(|&(_, f)| f).collect()
});

/// Which families can match, and where their whole-word keywords start.
#[derive(Debug, Default)]
struct Triggers {
    keywords: Vec<(Family, usize)>,
}

impl Triggers {
    /// From the trigger hits of the member-name automaton: `(index into
    /// trigger_keywords, start, end)`, boundaries already checked.
    fn from_hits(hits: &[(usize, usize, usize)]) -> Triggers {
        let mut t = Triggers::default();
        for &(index, start, _) in hits {
            if let Some(&family) = TRIGGER_FAMILIES.get(index) {
                t.keywords.push((family, start));
            }
        }
        t.keywords.sort_unstable_by_key(|&(_, s)| s);
        t.keywords.dedup_by_key(|&mut (f, s)| (f as u8, s));
        t
    }

    /// Disjoint windows of the text around the keywords of `family`
    /// (street types: the house number and name come before them, the town
    /// and postcode after).
    fn around<'t>(&self, text: &'t str, family: Family) -> Vec<(usize, &'t str)> {
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for &(f, at) in &self.keywords {
            if f != family {
                continue;
            }
            let mut lo = at.saturating_sub(BEFORE);
            while !text.is_char_boundary(lo) {
                lo -= 1;
            }
            let mut hi = (at + WINDOW).min(text.len());
            while !text.is_char_boundary(hi) {
                hi -= 1;
            }
            // Cut at whitespace so no token is seen half.
            if lo > 0 {
                lo = text[lo..at].find(' ').map_or(at, |i| lo + i + 1);
            }
            match spans.last_mut() {
                Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                _ => spans.push((lo, hi)),
            }
        }
        spans
            .into_iter()
            .filter_map(|(lo, hi)| Some((lo, text.get(lo..hi)?)))
            .collect()
    }

    /// Windows of the text that start at a keyword of `family`.
    fn windows<'t>(
        &'t self,
        text: &'t str,
        family: Family,
    ) -> impl Iterator<Item = (usize, &'t str)> + 't {
        self.keywords
            .iter()
            .filter(move |&&(f, _)| f == family)
            .filter_map(move |&(_, start)| {
                let mut end = (start + WINDOW).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                Some((start, text.get(start..end)?))
            })
    }
}

/// How far after a keyword its identifier is looked for (bytes).
const WINDOW: usize = 120;
/// How far before a street type its number and name are looked for.
const BEFORE: usize = 80;

// ------------------------------------------------------------ tokens ----

/// Leading and trailing punctuation that is not part of a token.
fn trim_token(raw: &str) -> (usize, &str) {
    let start_trimmed =
        raw.trim_start_matches(['(', '[', '{', '"', '\'', '<', '\u{2018}', '\u{201c}']);
    let lead = raw.len() - start_trimmed.len();
    let mut t = start_trimmed.trim_end_matches([
        '.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\'', '>', '\u{2019}', '\u{201d}',
    ]);
    for suffix in ["'s", "\u{2019}s"] {
        if let Some(s) = t.strip_suffix(suffix) {
            t = s.trim_end_matches(['.', ',', ';', ':']);
        }
    }
    (lead, t)
}

/// Walks the whitespace-delimited tokens of the text and classifies those
/// that can be element names or accounts.
fn tokens(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    let bytes = text.as_bytes();
    // The whitespace tokens were already cut by the zone builder.
    for &(start, end, technical) in scan.tokens {
        // Accounts and element names start with a letter (after opening
        // punctuation), and hold a digit or inner punctuation.
        let Some(first) = bytes[start..end]
            .iter()
            .find(|b| !matches!(b, b'(' | b'[' | b'{' | b'"' | b'\'' | b'<'))
        else {
            continue;
        };
        if !first.is_ascii_alphabetic() || end - start > 120 {
            continue;
        }
        if !technical {
            let inner = &bytes[start..end.saturating_sub(1)];
            if !inner
                .iter()
                .any(|b| matches!(b, b'-' | b'_' | b'\\' | b'='))
            {
                continue;
            }
        }
        let Some(raw) = text.get(start..end) else {
            continue;
        };
        let (lead, token) = trim_token(raw);
        if token.len() < 2 {
            continue;
        }
        let s = start + lead;
        let e = s + token.len();
        let folded = scan.folded.get(s..e).unwrap_or(token);
        if let Some(kind) = account_shape(token) {
            found.redact(s, e, K::Account, kind);
        } else if is_host_shape(token, folded) {
            found.redact(s, e, K::Host, Tier::Weak);
        }
    }
}

/// First segments that make a snake_case token an account name
/// (`svc_mediation`, `ops_deploy`, `li_mediation_ro`).
const ACCOUNT_PREFIXES: &[&str] = &[
    "svc", "srv", "sa", "admin", "adm", "root", "sys", "ops", "oper", "noc", "soc", "bot", "batch",
    "cron", "backup", "bkp", "li", "sec", "dba", "mon", "nagios", "zabbix", "ansible", "deploy",
    "prov", "ftp", "sftp", "guest", "svcacct", "robot", "oam", "nms", "ems", "omc",
];

/// Last segments that make a snake_case token an account name
/// (`prov_bind`, `billing_ro`, `mediation_svc`).
const ACCOUNT_SUFFIXES: &[&str] = &[
    "svc", "srv", "sa", "admin", "adm", "bot", "bind", "ro", "rw", "readonly", "ops", "robot",
];

/// Account names by shape: `svc_mediation`, `admin_jmoreau`,
/// `CORP\svc_ossmed`, `root@host`, `cn=prov-bind,ou=svc,dc=corp`,
/// `u419273`. Returns the tier.
fn account_shape(token: &str) -> Option<Tier> {
    // DOMAIN\user
    if let Some((domain, user)) = token.split_once('\\') {
        let ok = |s: &str| {
            s.len() >= 2
                && s.starts_with(|c: char| c.is_ascii_alphabetic())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'$'))
        };
        return (ok(domain) && ok(user)).then_some(Tier::Strong);
    }
    // LDAP distinguished names.
    if token.contains('=') {
        let lower = token.to_ascii_lowercase();
        if (lower.starts_with("cn=") || lower.starts_with("uid="))
            && (lower.contains(",ou=") || lower.contains(",dc=") || lower.contains(",o="))
        {
            return Some(Tier::Strong);
        }
    }
    // user@host without a domain (with a domain it is an e-mail address).
    if let Some((user, host)) = token.split_once('@') {
        // Lower-case user names: `Compute@Edge` is a product name.
        let ok_user = !user.is_empty()
            && user.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        let ok_host = host.len() >= 2
            && host.starts_with(|c: char| c.is_ascii_alphanumeric())
            && !host.contains('.')
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        return (ok_user && ok_host).then_some(Tier::Strong);
    }
    // snake_case with an account word: svc_mediation, li_mediation_ro.
    if token.contains('_')
        && token
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        && token.starts_with(|c: char| c.is_ascii_lowercase())
    {
        let mut segs = token.split(['_', '-']);
        let first = segs.next().unwrap_or("");
        let last = token.rsplit(['_', '-']).next().unwrap_or("");
        let account = ACCOUNT_PREFIXES.contains(&first)
            || ACCOUNT_SUFFIXES.contains(&last)
            || token
                .split(['_', '-'])
                .any(|seg| seg.len() > 5 && (seg.ends_with("admin") || seg.starts_with("admin")))
            || (first.len() > 3 && first.starts_with("svc"));
        return account.then_some(Tier::Strong);
    }
    // svc-backup, sa-billing
    if let Some((first, rest)) = token.split_once('-')
        && matches!(first, "svc" | "sa" | "srv" | "svcacct")
        && !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some(Tier::Strong);
    }
    // u419273, ab123456: corporate user ids.
    let letters = token.bytes().take_while(u8::is_ascii_lowercase).count();
    let digits = token.len() - letters;
    if (1..=2).contains(&letters)
        && (5..=8).contains(&digits)
        && token[letters..].bytes().all(|b| b.is_ascii_digit())
    {
        return Some(Tier::Weak);
    }
    None
}

/// Element words that take a single digit (`sbc1`, `node7`).
const ELEMENT_WORDS: &[&str] = &[
    "node", "host", "server", "srv", "db", "web", "app", "sbc", "cr", "pe", "ce", "rtr", "sw",
    "fw", "lb", "mme", "sgw", "pgw", "smf", "amf", "upf", "hss", "hlr", "udm", "pcrf", "pcf",
    "dra", "stp", "msc", "mgw", "cscf", "tas", "smsc", "rnc", "bsc", "dns", "ntp", "vm", "ggsn",
    "sgsn", "core", "edge", "agg", "bng", "bras", "olt", "dslam", "epg", "ims", "ocs", "ldap",
];

/// File extensions: `config.yaml` is a file, not a host.
const FILE_EXTENSIONS: &[&str] = &[
    "yaml", "yml", "json", "conf", "cfg", "log", "txt", "py", "js", "sh", "md", "xml", "csv",
    "tar", "gz", "tgz", "zip", "pcap", "pcapng", "sql", "rs", "go", "java", "rb", "ini", "toml",
    "pem", "crt", "cer", "key", "bin", "img", "iso", "deb", "rpm", "exe", "dll", "so", "ts",
    "html", "htm", "php", "jar", "war", "lua", "pl", "c", "h", "cpp", "bak", "old", "tmp", "pdf",
    "doc", "docx", "xls", "xlsx", "png", "jpg", "cap", "dat", "db", "sqlite", "cnf",
];

/// Prefixes that take a number without it being an element name:
/// `LTE-1800`, `SHA-256`, `RU50`, `Rel-16`, `STM-64`, `AF41`, `NG911`.
const NUMBERED: &[&str] = &[
    "lte", "gsm", "umts", "dcs", "pcs", "band", "b", "n", "nr", "utf", "sha", "md", "aes", "des",
    "rsa", "stm", "oc", "otu", "odu", "ds", "e", "t", "j", "cve", "cwe", "rfc", "iso", "iec",
    "ieee", "ts", "tr", "itu", "etsi", "ansi", "en", "x", "h", "g", "q", "v", "ipv", "http", "tls",
    "ssl", "ssh", "snmp", "snmpv", "cat", "class", "type", "tier", "level", "phase", "step",
    "release", "rel", "r", "sr", "fp", "ep", "ru", "cu", "su", "mp", "sp", "sa", "nsa", "build",
    "version", "ver", "port", "vlan", "slot", "card", "shelf", "lane", "area", "af", "cs", "ef",
    "be", "qci", "ng", "covid", "win", "windows", "ios", "android", "python", "java", "node",
    "ubuntu", "debian", "rhel", "centos", "el", "kernel", "linux", "log", "base", "utf", "ec", "s",
    "m", "c", "p", "i", "d", "k", "gen", "pci", "pcie", "usb", "ddr", "wpa", "mpeg", "mp", "ac",
    "ax", "ad", "bt", "ble", "gbe", "ge", "xe", "et", "hu", "fe", "gi", "te", "tengig", "gig",
    "fa", "eth", "ens", "eno", "enp", "wlan", "bond", "lo", "mgmt", "year", "day", "week", "q1",
    "q2", "q3", "q4", "h1", "h2", "fy", "mid", "pre", "post", "early", "late", "top", "sip", "gtp",
    "diameter", "radius", "dhcp", "dns", "ntp", "ptp", "bgp", "ospf", "ldp", "mpls", "isis",
    "cause", "code", "error", "err", "rc", "status",
];

static NUMBERED_SET: LazyLock<lists::FastSet<&'static str>> =
    LazyLock::new(|| lists::word_set(NUMBERED));
static ELEMENT_SET: LazyLock<lists::FastSet<&'static str>> =
    LazyLock::new(|| lists::word_set(ELEMENT_WORDS));
static FILE_EXTENSION_SET: LazyLock<lists::FastSet<&'static str>> =
    LazyLock::new(|| lists::word_set(FILE_EXTENSIONS));

fn is_year(seg: &str) -> bool {
    seg.len() == 4 && (seg.starts_with("19") || seg.starts_with("20"))
}

/// Is `segment` (folded) explained by the technical vocabulary: a term,
/// a number, or a term that takes a number glued or after a hyphen?
fn technical_segment(seg: &str) -> bool {
    if seg.len() <= 1 || seg.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    if lists::is_technical(seg) || NUMBERED_SET.contains(seg) {
        return true;
    }
    // Glued number: ru50, s6a, n26, af41, r15, rel16.
    let letters = seg.bytes().take_while(u8::is_ascii_alphabetic).count();
    if letters > 0 && letters < seg.len() {
        let (word, rest) = seg.split_at(letters);
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let tail = &rest[digits..];
        if digits > 0
            && tail.len() <= 1
            && (NUMBERED_SET.contains(word) || lists::is_technical(word))
        {
            return true;
        }
    }
    // Number then a unit or generation: 5g, 10g, 100ge, 4x10g.
    let digits = seg.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && seg.len() - digits <= 3
}

/// Element, host and site names by shape (see the module documentation).
fn is_host_shape(token: &str, folded: &str) -> bool {
    let len = token.len();
    if !(2..=64).contains(&len) || !token.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return false;
    }
    let has_lower = token.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = token.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        // Iu-PS, NB-IoT, VoLTE, IPv4, eNodeB, Wi-Fi: mixed case is how
        // technical terms and prose are written, not element names.
        return false;
    }
    if token.contains("..")
        || token.ends_with(['-', '.'])
        || token.contains("-.")
        || token.contains(".-")
    {
        return false;
    }
    if cloud_region(folded) {
        return false;
    }
    if folded.contains('.') {
        return dotted_host(folded);
    }
    let count = folded.split('-').count();
    if count == 1 {
        return single_host(folded);
    }
    let first = folded.split('-').next().unwrap_or("");
    let last = folded.rsplit('-').next().unwrap_or("");
    // `stp-lag-a`: three lower-case segments ending in a one- or
    // two-character code is how elements are named, even when the words
    // happen to be technical terms.
    let element_pattern = !has_upper && count >= 3 && last.len() <= 2;
    if !element_pattern && folded.split('-').all(technical_segment) {
        return false;
    }
    if is_year(last) {
        return false;
    }
    let has_digit = folded.bytes().any(|b| b.is_ascii_digit());
    let short_tail = last.len() <= 2;
    if !(has_digit || count >= 3 || short_tail) {
        return false;
    }
    let segments = [first];
    // Two English-looking words ("follow-up", "re-run") carry no digit and
    // no one-letter tail; three or more words without a digit
    // ("end-to-end", "state-of-the-art", "I-HEARD-YOU") neither.
    if !has_digit {
        let tail_is_code = last.len() <= 2 && segments[0].len() <= 6;
        let element_first = ELEMENT_SET.contains(segments[0]) || lists::is_technical(segments[0]);
        if !(tail_is_code && element_first) {
            return false;
        }
    }
    true
}

/// Cloud regions and zones are places, not elements: `us-east-1`,
/// `europe-west1-b`, `AP-NORTHEAST-1`, `australia-southeast1`.
fn cloud_region(folded: &str) -> bool {
    const AREAS: &[&str] = &[
        "us",
        "eu",
        "ap",
        "sa",
        "ca",
        "me",
        "af",
        "il",
        "mx",
        "cn",
        "europe",
        "asia",
        "australia",
        "northamerica",
        "southamerica",
        "africa",
        "uk",
        "in",
        "jp",
        "kr",
        "us-gov",
    ];
    const DIRECTIONS: &[&str] = &[
        "east",
        "west",
        "north",
        "south",
        "central",
        "northeast",
        "southeast",
        "northwest",
        "southwest",
    ];
    let mut segs = folded.split('-');
    let (Some(area), Some(direction)) = (segs.next(), segs.next()) else {
        return false;
    };
    AREAS.contains(&area)
        && DIRECTIONS.contains(&direction.trim_end_matches(|c: char| c.is_ascii_digit()))
        && segs.all(|s| s.len() <= 2)
}

/// `pgw07`, `HH0412`, `sbc1`: letters then digits, optionally one letter.
fn single_host(folded: &str) -> bool {
    let letters = folded.bytes().take_while(u8::is_ascii_alphabetic).count();
    let rest = &folded[letters..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = &rest[digits..];
    if letters < 2
        || digits == 0
        || tail.len() > 1
        || (tail.len() == 1 && !tail.as_bytes()[0].is_ascii_alphabetic())
    {
        return false;
    }
    if letters > 8 || lists::is_technical(folded) {
        return false;
    }
    let word = &folded[..letters];
    let element = ELEMENT_SET.contains(word);
    // `dns01`, `ntp10` are elements (`dns64` is in the vocabulary).
    if (NUMBERED_SET.contains(word) && !element)
        || (lists::is_technical(word) && digits < 2 && !element)
    {
        return false;
    }
    digits >= 2 || element
}

/// `cscf01.par`, `cr2.par3`, `scscf-b.lyo`, `ntp1.core`: a first label that
/// is itself element-shaped, then short lower-case labels.
fn dotted_host(folded: &str) -> bool {
    let mut buf = [""; 8];
    let mut n = 0;
    for label in folded.split('.') {
        if n == buf.len() {
            return false;
        }
        buf[n] = label;
        n += 1;
    }
    let labels = &buf[..n];
    if labels.iter().any(|l| l.is_empty()) {
        return false;
    }
    let last = labels[labels.len() - 1];
    if FILE_EXTENSION_SET.contains(last) || last.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let first = labels[0];
    let first_digits = first.bytes().filter(u8::is_ascii_digit).count();
    let first_ok = if first.contains('-') {
        let segs: Vec<&str> = first.split('-').collect();
        !segs.iter().all(|s| technical_segment(s)) || segs.iter().any(|s| s.len() <= 2)
    } else {
        let letters = first.bytes().take_while(u8::is_ascii_alphabetic).count();
        letters >= 2
            && first_digits > 0
            && first[letters..].bytes().all(|b| b.is_ascii_alphanumeric())
    };
    first_ok
        && labels[1..]
            .iter()
            .all(|l| l.len() <= 12 && l.starts_with(|c: char| c.is_ascii_alphabetic()))
}

// -------------------------------------------------- keyword accounts ----

regex!(
    ACCOUNT_KEYWORD,
    r#"(?i)(?-u:\b)(?:user\s*(?:name|id)|userid|uid|login|logon|(?:service|system|bind|domain|admin|user)\s+account|account|logged\s+(?:in|on)\s+as|signed\s+in\s+as|running\s+as|ran\s+as|run\s+as|as\s+user)(?-u:\b)\s*[:=\#]?\s*['"‘“`]?([A-Za-z0-9_][\w.\\@$\-]{1,63})"#
);

/// Words that follow "account", "login" or "user" in prose.
const NOT_ACCOUNTS: &[&str] = &[
    "was",
    "is",
    "were",
    "are",
    "has",
    "had",
    "and",
    "or",
    "for",
    "of",
    "to",
    "from",
    "the",
    "that",
    "this",
    "with",
    "which",
    "page",
    "pages",
    "name",
    "names",
    "details",
    "data",
    "info",
    "information",
    "password",
    "passwords",
    "credentials",
    "lockout",
    "locked",
    "expired",
    "attempts",
    "attempt",
    "failure",
    "failures",
    "failed",
    "requests",
    "request",
    "manager",
    "management",
    "team",
    "teams",
    "holder",
    "holders",
    "owner",
    "owners",
    "number",
    "numbers",
    "base",
    "sessions",
    "session",
    "traffic",
    "plane",
    "equipment",
    "experience",
    "errors",
    "error",
    "id",
    "ids",
    "type",
    "types",
    "access",
    "review",
    "reviews",
    "a",
    "an",
    "in",
    "on",
    "at",
    "by",
    "be",
    "been",
    "it",
    "its",
    "their",
    "our",
    "my",
    "your",
    "any",
    "all",
    "each",
    "every",
    "no",
    "not",
    "used",
    "using",
    "could",
    "would",
    "should",
    "will",
    "can",
    "may",
    "did",
    "does",
    "as",
    "but",
    "so",
    "then",
    "when",
    "while",
    "after",
    "before",
    "into",
    "over",
    "under",
    "via",
    "per",
    "also",
    "only",
    "again",
    "successfully",
    "server",
    "servers",
    "service",
    "services",
    "system",
    "systems",
    "script",
    "scripts",
    "time",
    "times",
];

fn keyworded_accounts(scan: Scan<'_>, triggers: &Triggers, found: &mut Found) {
    for (offset, window) in triggers.windows(scan.text, Family::Account) {
        let Some(caps) = ACCOUNT_KEYWORD.captures(window) else {
            continue;
        };
        let (Some(all), Some(m)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        if all.start() != 0 {
            continue;
        }
        // After "account" only a marked token is an id ("account balances"
        // is prose); after "login", "user id", "logged in as" a plain
        // lower-case word is one too.
        let keyword = all.as_str()[..m.start() - all.start()].to_ascii_lowercase();
        let account_word = keyword
            .trim_end()
            .trim_end_matches([':', '=', '#', '\'', '"'])
            .trim_end()
            .ends_with("account");
        let (_, token) = trim_token(m.as_str());
        let token = token.trim_end_matches(['.', ',', ';', ':']);
        if token.len() < 2 || token.starts_with('[') {
            continue;
        }
        let lower = token.to_ascii_lowercase();
        if NOT_ACCOUNTS.contains(&lower.as_str()) {
            continue;
        }
        let marked = token
            .bytes()
            .any(|b| b.is_ascii_digit() || matches!(b, b'_' | b'\\' | b'@' | b'$' | b'.'));
        // A plain word after "login" is usually prose ("login
        // functionality"); after "user id" or "logged in as" it is the id.
        let id_word = keyword.contains("user")
            || keyword.contains("uid")
            || keyword.contains(" as")
            || keyword.trim_end().ends_with([':', '=']);
        let plain_id = !account_word
            && id_word
            && token.len() <= 20
            && token.bytes().all(|b| b.is_ascii_lowercase())
            && lists::given_name(&lower).is_none_or(|_| token.len() >= 3);
        if marked || plain_id {
            let start = offset + m.start();
            found.redact(start, start + token.len(), K::Account, Tier::Strong);
        }
    }
}

// --------------------------------------------------------------- ASNs ----

regex!(
    ASN,
    r"(?-u:\b)(?:(?:AS|ASN)[\ \-]?(?:number\ )?\d{1,10}|AS\ number\ \d{1,10})(?-u:\b)"
);
regex!(ASN_GLUED, r"(?-u:\b)as\d{3,10}(?-u:\b)");

fn asns(scan: Scan<'_>, found: &mut Found) {
    // Over the whole text: in "AS 3320" the number is a technical token but
    // the "AS" before it is not, so the zones would cut it.
    if scan.text.contains("AS") {
        for m in ASN.find_iter(scan.text) {
            asn_candidate(scan.text, m.start(), m.end(), found);
        }
    }
    // "as3215": glued, so a technical token.
    for m in ASN_GLUED.find_iter(&scan.tech.text) {
        if let Some((start, end)) = scan.tech.span(m.start(), m.end()) {
            asn_candidate(scan.text, start, end, found);
        }
    }
}

fn asn_candidate(text: &str, start: usize, end: usize, found: &mut Found) {
    let Some(s) = text.get(start..end) else {
        return;
    };
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    let Ok(n) = digits.parse::<u64>() else { return };
    if n == 0 || n > 4_294_967_295 || continues_number(text, end) {
        return;
    }
    // "AS 1": too short to tell from prose in capitals.
    if s.contains(' ') && digits.len() < 3 {
        return;
    }
    found.redact(start, end, K::Asn, Tier::Strong);
}

// -------------------------------------------------------------- PLMNs ----

regex!(
    MCC_MNC,
    r"(?i)(?-u:\b)MCC\s*[:=]?\s*(\d{3})\s*[,/;]?\s*(?:and\s+)?MNC\s*[:=]?\s*(\d{2,3})(?-u:\b)"
);
regex!(
    CGI,
    r"(?-u:\b)(\d{3})-(\d{2,3})-(\d{1,5})-(\d{1,9})(?-u:\b)"
);
regex!(
    PLMN_KEYWORD,
    r"(?i)(?-u:\b)(?:PLMN(?:[\ \-]?IDs?)?s?|[HV]PLMNs?|HNIs?|MCC[\-/]MNCs?|MCC\s*/\s*MNC)(?-u:\b)"
);
regex!(
    PLMN_CODE,
    r"^\s*[:=]?\s*(?:(?:and|or|,|/|;)\s*)?(\d{3})[\-/\ ]?(\d{2,3})(?-u:\b)"
);
regex!(PLMN_PAIR, r"(?-u:\b)(\d{3})[\-/](\d{2,3})(?-u:\b)");

fn plmns(scan: Scan<'_>, triggers: &Triggers, found: &mut Found) {
    let text = scan.text;
    for (offset, window) in triggers.windows(text, Family::Plmn) {
        let Some(caps) = MCC_MNC.captures(window) else {
            continue;
        };
        let (Some(m), Some(mcc)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        if m.start() == 0 && mcc.as_str().parse().is_ok_and(lists::is_mcc) {
            found.redact(offset, offset + m.end(), K::Plmn, Tier::Strong);
        }
    }
    for caps in CGI.captures_iter(&scan.tech.text) {
        let (Some(m), Some(mcc)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        if mcc.as_str().parse().is_ok_and(lists::is_mcc) && !continues_number(text, end) {
            found.redact(start, end, K::Plmn, Tier::Strong);
        }
    }
    // "PLMN 20801 and 22210", "MCC/MNC 262/02".
    for (offset, window) in triggers.windows(text, Family::Plmn) {
        let Some(m) = PLMN_KEYWORD.find(window) else {
            continue;
        };
        if m.start() != 0 {
            continue;
        }
        let mut pos = offset + m.end();
        for _ in 0..6 {
            let window_end = (pos + 24).min(text.len());
            let Some(window) = text.get(pos..window_end).or_else(|| text.get(pos..)) else {
                break;
            };
            let Some(caps) = PLMN_CODE.captures(window) else {
                break;
            };
            let (Some(code), Some(mcc)) = (caps.get(0), caps.get(1)) else {
                break;
            };
            let start = pos + mcc.start();
            let end = pos + code.end();
            if !mcc.as_str().parse().is_ok_and(lists::is_mcc) || continues_number(text, end) {
                break;
            }
            found.redact(start, end, K::Plmn, Tier::Strong);
            pos = end;
        }
    }
    // Known pairs: "208-15", "262/02".
    for caps in PLMN_PAIR.captures_iter(&scan.tech.text) {
        let (Some(m), Some(mcc), Some(mnc)) = (caps.get(0), caps.get(1), caps.get(2)) else {
            continue;
        };
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        let (Ok(mcc), Ok(mnc)) = (mcc.as_str().parse(), mnc.as_str().parse()) else {
            continue;
        };
        if lists::is_plmn(mcc, mnc)
            && !continues_from_left(text, start)
            && !continues_number(text, end)
            && !text[end..].starts_with(['-', '/'])
            && !next_token(text, end).is_some_and(is_unit)
        {
            found.redact(start, end, K::Plmn, Tier::Weak);
        }
    }
}

fn is_unit(token: &str) -> bool {
    matches!(
        token.to_ascii_lowercase().as_str(),
        "ms" | "s"
            | "sec"
            | "secs"
            | "seconds"
            | "min"
            | "mins"
            | "minutes"
            | "h"
            | "hours"
            | "days"
            | "mbit/s"
            | "gbit/s"
            | "mbps"
            | "gbps"
            | "km"
            | "m"
            | "db"
            | "dbm"
            | "%"
            | "calls"
            | "users"
            | "subscribers"
            | "sites"
            | "cells"
    )
}

// ----------------------------------------------------------- circuits ----

regex!(
    CIRCUIT,
    r"(?i)(?-u:\b)(?:circuit(?:\s+id)?|ckt|cct|cid|service\s+id|line\s+id|leased\s+line|wavelength|lambda\s+id|evc|e-line|e-lan|vc\s+id|pseudowire|pw\s+id)\s*(?:no\.?|number|ref|id|\#)?\s*[:\#]?\s*([A-Za-z0-9][A-Za-z0-9/_.:\-]{3,48})"
);

fn circuits(scan: Scan<'_>, triggers: &Triggers, found: &mut Found) {
    for (offset, window) in triggers.windows(scan.text, Family::Circuit) {
        let Some(caps) = CIRCUIT.captures(window) else {
            continue;
        };
        let (Some(all), Some(m)) = (caps.get(0), caps.get(1)) else {
            continue;
        };
        if all.start() != 0 {
            continue;
        }
        let (_, token) = trim_token(m.as_str());
        let digits = token.bytes().filter(u8::is_ascii_digit).count();
        if digits >= 3 && !token.starts_with('[') {
            let start = offset + m.start();
            found.redact(start, start + token.len(), K::Circuit, Tier::Strong);
        }
    }
}

// ---------------------------------------------- official references ----

regex!(
    REFERENCE,
    r"(?i)^(?:police|crime|court)\s+(?:report|reference|ref\.?|case|file)(?:\s+(?:no\.?|number|\#))?\s*[:\#]?\s*([A-Z0-9][A-Z0-9/\-.]{2,30}[0-9])|^(?:PV|procès-verbal)(?:\s+(?:n°|no\.?))?\s*[:\#]?\s*(\d[\d/\-.]{2,30}\d)"
);

/// Police, court and official report numbers ("police report 2024-118733",
/// "PV 2024/118"): they identify the incident in public records.
fn references(scan: Scan<'_>, triggers: &Triggers, found: &mut Found) {
    for (offset, window) in triggers.windows(scan.text, Family::Reference) {
        if let Some(caps) = REFERENCE.captures(window)
            && let Some(m) = caps.get(1).or_else(|| caps.get(2))
            && m.as_str().bytes().filter(u8::is_ascii_digit).count() >= 3
        {
            found.redact(
                offset + m.start(),
                offset + m.end(),
                K::Ticket,
                Tier::Strong,
            );
        }
    }
}

// -------------------------------------------------------- coordinates ----

regex!(
    DECIMAL_PAIR,
    r"(?:-|(?-u:\b))(\d{1,2}\.\d{3,8})°?[\ \t]?([NS])?[\ \t]*[,;/][\ \t]*(-?)(\d{1,3}\.\d{3,8})°?(?:[\ \t]?[EW](?-u:\b))?"
);
regex!(
    DMS,
    r#"\d{1,3}°\s?\d{1,2}(?:['′’]\s?(?:\d{1,2}(?:\.\d+)?(?:"|″|”|''))?)?\s?[NSEW](?-u:\b)"#
);
regex!(
    LAT_LON,
    r"(?i)(?-u:\b)(?:lat(?:itude)?|lon(?:g(?:itude)?)?|lng)\s*[:=]?\s*(-?\d{1,3}\.\d{2,8})"
);

fn coordinates(scan: Scan<'_>, triggers: &Triggers, found: &mut Found) {
    let text = scan.text;
    if text.contains('°') {
        let mut last: Option<(usize, usize)> = None;
        for m in DMS.find_iter(text) {
            // Join "69°38'56"N 18°57'18"E" into one redaction.
            match last {
                Some((s, e))
                    if text.get(e..m.start()).is_some_and(|g| {
                        g.len() <= 3 && g.chars().all(|c| c == ' ' || c == ',')
                    }) =>
                {
                    last = Some((s, m.end()));
                }
                _ => {
                    if let Some((s, e)) = last {
                        found.redact(s, e, K::Gps, Tier::Strong);
                    }
                    last = Some((m.start(), m.end()));
                }
            }
        }
        if let Some((s, e)) = last {
            found.redact(s, e, K::Gps, Tier::Strong);
        }
    }
    let decimals =
        scan.tech.text.as_bytes().windows(5).filter(|w| {
            w[0].is_ascii_digit() && w[1] == b'.' && w[2..].iter().all(u8::is_ascii_digit)
        });
    let pair = decimals.take(2).count() == 2;
    for caps in DECIMAL_PAIR.captures_iter(if pair { &scan.tech.text } else { "" }) {
        let (Some(m), Some(lat), Some(lon)) = (caps.get(0), caps.get(1), caps.get(4)) else {
            continue;
        };
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        let (Ok(lat), Ok(lon)) = (lat.as_str().parse::<f64>(), lon.as_str().parse::<f64>()) else {
            continue;
        };
        if lat > 90.0 || lon > 180.0 {
            continue;
        }
        let start = if text[start..].starts_with('-') || !continues_from_left(text, start) {
            start
        } else {
            continue;
        };
        if continues_number(text, end) {
            continue;
        }
        found.redact(start, end, K::Gps, Tier::Strong);
    }
    for (offset, window) in triggers.windows(text, Family::LatLon) {
        if let Some(caps) = LAT_LON.captures(window)
            && let (Some(all), Some(m)) = (caps.get(0), caps.get(1))
            && all.start() == 0
        {
            found.redact(offset + m.start(), offset + m.end(), K::Gps, Tier::Strong);
        }
    }
}

// ---------------------------------------------------------- addresses ----

/// A capitalised name word (street or city names).
const CAP: &str = r"\p{Lu}[\p{L}'’\-]*\.?";

regex!(
    STREET_EN,
    &format!(
        r"(?-u:\b)\d{{1,5}}[A-Za-z]?,?\ (?:{CAP}\ ){{1,4}}(?:Street|St\.|Road|Rd\.?|Avenue|Ave\.?|Boulevard|Blvd\.?|Lane|Drive|Way|Place|Square|Court|Terrace|Parkway|Highway|Close|Crescent|Quay|Wharf|Embankment|Gardens|Row|Mews)(?-u:\b)(?:\ (?:North|South|East|West|NW|NE|SW|SE))?{SUFFIX}"
    )
);

/// ", Dallas, TX 75202", ", Toronto, ON", ", 69003 Lyon", " 75202".
const SUFFIX: &str = r"(?:,\ (?:Suite|Unit|Floor|Fl\.)\ \w+)?(?:,\ (?:\d{4,5}\ )?\p{Lu}\p{Ll}[\p{L}'’\-]*(?:\ \p{Lu}\p{Ll}[\p{L}'’\-]*){0,2}){0,2}(?:,?\ [A-Z]{2}(?:\ \d{5}(?:-\d{4})?)?(?-u:\b))?(?:,?\ [A-Z]{1,2}\d[A-Z\d]?\ \d[A-Z]{2}(?-u:\b))?";

regex!(
    STREET_ROMANCE,
    &format!(
        r"(?:(?-u:\b)\d{{1,4}}(?:\ ?(?:bis|ter))?,?\ )?(?-u:\b)(?:(rue|allée|chemin|impasse|quai|calle|avenida|paseo|carrer|viale|piazza|corso|largo|rua|travessa|praça|Rue|Allée|Chemin|Impasse|Quai|Calle|Avenida|Paseo|Carrer|Viale|Piazza|Corso|Largo|Rua|Travessa|Praça)|(avenue|boulevard|place|route|cours|plaza|via|Avenue|Boulevard|Place|Route|Cours|Plaza|Via))\ (?:(?:de\ la|de|du|des|la|le|del|dei|della|di|do|da|dos|das)\ |l['’]|d['’])*{CAP}(?:\ (?:(?:de|du|des|la|le|del|di|da)\ )?{CAP}){{0,3}}(?:,?\ \d{{1,4}}(?-u:\b))?(?:,\ \d{{4,5}}\ \p{{Lu}}[\p{{L}}'’\-]+)?"
    )
);

regex!(
    STREET_GERMANIC,
    r"(?:(?-u:\b)(?:ul|al|pl|os|str|nám|nábř)\.\ ?\p{Lu}[\p{L}\-]*(?:\ \p{Lu}[\p{L}\-]*){0,2}\ \d{1,4}[a-z]?(?-u:\b))|(?-u:\b)\p{Lu}[\p{L}\-]*(?:straße|strasse|str\.|weg|platz|allee|gasse|damm|ufer|chaussee|laan|straat|gracht|plein|gatan|vägen|gata|veien|vej|gade)\ \d{1,4}[a-z]?(?-u:\b)|(?-u:\b)\p{Lu}\p{Ll}+\ (?:den|der|dem|am|an|im|zum|zur|auf|unter)\ \p{Lu}[\p{L}\-]+\ \d{1,4}[a-z]?(?-u:\b)"
);

regex!(
    POSTCODE_KEYWORD,
    r"(?i)(?-u:\b)(?:post\s?code|postal\s+code|zip(?:\s+code)?|plz|code\s+postal)\s*[:\#]?\s*([A-Z0-9][A-Z0-9\ \-]{2,8}[A-Z0-9])"
);
regex!(
    UK_POSTCODE,
    r"(?-u:\b)[A-Z]{1,2}\d[A-Z\d]?\ \d[A-Z]{2}(?-u:\b)"
);

fn addresses(scan: Scan<'_>, triggers: &Triggers, found: &mut Found) {
    let text = scan.text;
    for (offset, window) in triggers.around(text, Family::Street) {
        for m in STREET_EN.find_iter(window) {
            let (start, end) = (offset + m.start(), offset + m.end());
            found.redact(
                start,
                trim_address(text, start, end),
                K::Address,
                Tier::Weak,
            );
        }
        romance_streets(text, offset, window, found);
    }
    for (offset, window) in triggers.around(text, Family::Germanic) {
        for m in STREET_GERMANIC.find_iter(window) {
            found.redact(offset + m.start(), offset + m.end(), K::Address, Tier::Weak);
        }
    }
    for (offset, window) in triggers.windows(text, Family::Postcode) {
        if let Some(caps) = POSTCODE_KEYWORD.captures(window)
            && let (Some(all), Some(m)) = (caps.get(0), caps.get(1))
            && all.start() == 0
        {
            let code = m.as_str().trim_end();
            if code.bytes().any(|b| b.is_ascii_digit()) {
                let start = offset + m.start();
                found.redact(start, start + code.len(), K::Address, Tier::Strong);
            }
        }
    }
    for m in UK_POSTCODE.find_iter(&scan.tech.text) {
        if let Some((start, end)) = scan.tech.span(m.start(), m.end()) {
            found.redact(start, end, K::Address, Tier::Weak);
        }
    }
}

/// "14 rue de la Gare", "Calle de Alcalá 45", "avenue Jean Jaurès".
fn romance_streets(text: &str, offset: usize, window: &str, found: &mut Found) {
    for caps in STREET_ROMANCE.captures_iter(window) {
        let Some(m) = caps.get(0) else { continue };
        // "via Frankfurt", "route London": English words need a house
        // number before them or two name words after them.
        if caps.get(2).is_some() {
            let numbered = m.as_str().starts_with(|c: char| c.is_ascii_digit());
            let words = m
                .as_str()
                .split(' ')
                .filter(|w| w.starts_with(char::is_uppercase))
                .count();
            let particle = m.as_str().contains(" de ")
                || m.as_str().contains(" du ")
                || m.as_str().contains(" la ");
            let lower_type = caps
                .get(2)
                .is_some_and(|t| t.as_str().starts_with(char::is_lowercase));
            let via = caps
                .get(2)
                .is_some_and(|t| t.as_str().eq_ignore_ascii_case("via"));
            if !(numbered || (!via && lower_type && (words >= 2 || particle))) {
                continue;
            }
        }
        let (start, end) = (offset + m.start(), offset + m.end());
        found.redact(
            start,
            trim_address(text, start, end),
            K::Address,
            Tier::Weak,
        );
    }
}

/// Drops a trailing `.` (end of sentence) from an address match unless it
/// ends an abbreviation such as `St.`.
fn trim_address(text: &str, start: usize, end: usize) -> usize {
    let s = &text[start..end];
    match s.strip_suffix('.') {
        Some(rest) if !rest.ends_with("St") && !rest.ends_with("Rd") && !rest.ends_with("Ave") => {
            start + rest.len()
        }
        _ => end,
    }
}

// ------------------------------------------------------------- ranges ----

regex!(WILDCARD, r"(?-u:\b)(\+?)(\d{4,14})([xX*#]{2,11})(?-u:\b)");
regex!(
    RANGE_END,
    r"^[\ \t]*(?:to|through|until)[\ \t]+(\+?\d[\d\ ]{7,18}\d)(?-u:\b)"
);

/// Group lengths of a spaced number: "98200 00000" -> [5, 5].
fn groups(s: &str) -> Vec<usize> {
    s.trim_start_matches('+').split(' ').map(str::len).collect()
}

/// Does the compact text hold a number of nine or more digits, counting
/// digits across single spaces ("98200 00000")? Ranges need one.
fn has_long_number(compact: &str) -> bool {
    let mut digits = 0;
    let mut prev_space = false;
    for b in compact.bytes() {
        if b.is_ascii_digit() {
            digits += 1;
            if digits >= 9 {
                return true;
            }
            prev_space = false;
        } else if b == b' ' && !prev_space && digits > 0 {
            prev_space = true;
        } else {
            digits = 0;
            prev_space = false;
        }
    }
    false
}

fn ranges(scan: Scan<'_>, found: &mut Found) {
    let text = scan.text;
    let compact = &scan.tech.text;
    let wildcards = ["xx", "XX", "**", "##"].iter().any(|w| compact.contains(w));
    for caps in WILDCARD.captures_iter(if wildcards { compact } else { "" }) {
        let (Some(m), Some(plus), Some(digits), Some(wild)) =
            (caps.get(0), caps.get(1), caps.get(2), caps.get(3))
        else {
            continue;
        };
        let Some((start, end)) = scan.tech.span(m.start(), m.end()) else {
            continue;
        };
        let total = digits.as_str().len() + wild.as_str().len();
        let kind = if plus.as_str().is_empty()
            && total == 15
            && digits.as_str().starts_with(['2', '3', '4', '5', '6', '7'])
        {
            K::Imsi
        } else if total >= 8 {
            K::Phone
        } else {
            continue;
        };
        found.redact(start, end, kind, Tier::Strong);
    }
    // "98200 00000 to 98209 99999": two numbers of the same grouping form a
    // numbering range. Thousands groupings ("100 000 000 to 125 000 000")
    // are counts and are left to the count rules. Both numbers are
    // technical zones: "X-Y" is one zone, "X to Y" two consecutive ones.
    // Parsed by hand: the equivalent regexes (bounded repetitions of digit
    // groups) are slow to search.
    if !has_long_number(compact) {
        return;
    }
    let numbers = spaced_numbers(compact);
    let mut to_words: Option<bool> = None;
    for (k, &(a_start, a_end)) in numbers.iter().enumerate() {
        let Some(a) = scan.tech.span(a_start, a_end) else {
            continue;
        };
        // Same zone: "X-Y", "X - Y", "X – Y".
        if let Some(&(b_start, b_end)) = numbers.get(k + 1) {
            let between = compact.get(a_end..b_start).unwrap_or("");
            if matches!(between.trim_matches(' '), "-" | "–" | "—")
                && let Some(b) = scan.tech.span(b_start, b_end)
            {
                range_pair(text, a, b, found);
                continue;
            }
        }
        // Zone end, then "to", "through" or "until" and the next zone.
        if compact[a_end..].starts_with("\n\u{1}")
            && *to_words.get_or_insert_with(|| {
                text.contains(" to ") || text.contains(" through ") || text.contains(" until ")
            })
        {
            let window_end = (a.1 + 48).min(text.len());
            let Some(after) = text.get(a.1..window_end).or_else(|| text.get(a.1..)) else {
                continue;
            };
            let connector = [" to ", " through ", " until "]
                .iter()
                .any(|w| after.trim_start_matches('\t').starts_with(w));
            if connector
                && let Some(caps) = RANGE_END.captures(after)
                && let Some(b) = caps.get(1)
            {
                range_pair(text, a, (a.1 + b.start(), a.1 + b.end()), found);
            }
        }
    }
}

/// Runs of digit groups separated by single spaces, optionally led by `+`,
/// with at least two groups or nine digits: `(start, end)` in `compact`.
fn spaced_numbers(compact: &str) -> Vec<(usize, usize)> {
    let b = compact.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let glued = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.');
        let plus = b[i] == b'+' && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if glued || !(b[i].is_ascii_digit() || plus) {
            i += 1;
            continue;
        }
        let start = i;
        i += usize::from(plus);
        let mut end = i;
        loop {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            end = end.max(i);
            if i + 1 < b.len() && b[i] == b' ' && b[i + 1].is_ascii_digit() {
                i += 1;
                continue;
            }
            break;
        }
        if end > start && !b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
            out.push((start, end));
        }
        i = end.max(start + 1);
    }
    out
}

/// A range `a..b` of two numbers of the same grouping.
fn range_pair(text: &str, a: (usize, usize), b: (usize, usize), found: &mut Found) {
    let (Some(sa), Some(sb)) = (text.get(a.0..a.1), text.get(b.0..b.1)) else {
        return;
    };
    let (ga, gb) = (groups(sa), groups(sb));
    let digits: usize = ga.iter().sum();
    let thousands = ga.len() > 1 && ga[0] <= 3 && ga[1..].iter().all(|&g| g == 3);
    if ga != gb || digits < 9 || thousands || ga.len() < 2 {
        return;
    }
    if continues_from_left(text, a.0) || continues_number(text, b.1) {
        return;
    }
    let kind = if digits == 15 { K::Imsi } else { K::Phone };
    found.redact(a.0, a.1, kind, Tier::Strong);
    found.redact(b.0, b.1, kind, Tier::Strong);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(token: &str) -> bool {
        let folded = super::super::names::fold_str(token);
        is_host_shape(token, &folded)
    }

    #[test]
    fn element_names_by_shape() {
        for t in [
            "mme-lon-3",
            "med-02",
            "cscf01.par",
            "RTR-PAR-CORE-01",
            "HH0412",
            "pgw07",
            "stp-lag-a",
            "scscf-b.lyo",
            "cr2.par3",
            "sbc1",
            "LYO-PD-114",
        ] {
            assert!(host(t), "{t} should be a host");
        }
    }

    #[test]
    fn technical_tokens_are_not_hosts() {
        for t in [
            "S1-MME",
            "SGSN-MME",
            "P-CSCF",
            "N2",
            "Gx",
            "S6a",
            "Iu-PS",
            "5GC",
            "VoLTE",
            "R15",
            "v4.2",
            "LTE-1800",
            "CVE-2021-44228",
            "SHA-256",
            "RU50",
            "EP2",
            "GTP-U",
            "follow-up",
            "end-to-end",
            "mid-2024",
            "2-year",
            "config.yaml",
            "e.g",
            "i.e",
            "STM-64",
            "IPv4",
            "UTF-8",
            "X2-AP",
            "NB-IoT",
            "re-run",
            "S-CSCF",
            "MSC-S",
            "AF41",
            "NG911",
            "log4j",
            "sha256",
            "base64",
            "ipv6",
            "http2",
            "k8s",
            "e-mail",
            "Wi-Fi",
        ] {
            assert!(!host(t), "{t} should not be a host");
        }
    }

    #[test]
    fn accounts_by_shape() {
        for t in [
            "svc_mediation",
            "admin_jmoreau",
            "li_mediation_ro",
            "fwadmin_del",
            "CORP\\svc_ossmed",
            "root@ansible-ctl-02",
            "cn=prov-bind,ou=svc,dc=corp",
            "u419273",
        ] {
            assert!(account_shape(t).is_some(), "{t} should be an account");
        }
        for t in [
            "max_connections",
            "tcp_tw_reuse",
            "DIAMETER_UNABLE_TO_DELIVER",
            "a@b.com",
        ] {
            assert!(account_shape(t).is_none(), "{t} should not be an account");
        }
    }
}
