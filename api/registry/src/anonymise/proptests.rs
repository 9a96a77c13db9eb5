//! Property tests: planted identifiers are always removed, must-keep tokens
//! are never touched, and on any input the scrubber does not panic, reports
//! consistent offsets and is idempotent.

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use proptest::prelude::*;

use super::*;

/// Member operators known to the property-test scrubber.
const OPERATORS: &[&str] = &[
    "Acme Mobile",
    "Acme",
    "Globex Telecom",
    "Initech",
    "Umbrella Net",
];
/// Sensitive terms known to the property-test scrubber.
const TERMS: &[&str] = &["Paris-Nord", "Project Falcon", "OSS-Atlas", "Riverside DC"];

static ANONYMISER: LazyLock<Anonymiser> =
    LazyLock::new(|| Anonymiser::new(&OPERATORS.iter().map(|s| s.to_string()).collect::<Vec<_>>()));
static TERMS_COMPILED: LazyLock<SensitiveTerms> =
    LazyLock::new(|| SensitiveTerms::new(&TERMS.iter().map(|s| s.to_string()).collect::<Vec<_>>()));

fn run(text: &str) -> Scrubbed {
    ANONYMISER.scrub(text, &TERMS_COMPILED)
}

/// Neutral prose: no digits, no context words (version, call, ticket,
/// engineer, ...), no count nouns, no member names.
const FILLER: &[&str] = &[
    "the",
    "core",
    "network",
    "restarted",
    "after",
    "we",
    "observed",
    "traffic",
    "at",
    "while",
    "signalling",
    "storm",
    "and",
    "degraded",
    "in",
    "region",
    "north",
    "links",
    "were",
    "then",
    "recovered",
    "gradually",
    "with",
    "alarms",
    "for",
    "our",
    "packet",
    "gateway",
    "failed",
    "over",
    "backup",
    "path",
    "voice",
    "data",
    "outage",
    "began",
    "when",
    "a",
    "configuration",
    "was",
    "applied",
    "by",
    "team",
    "during",
    "maintenance",
    "window",
    "roaming",
    "partner",
    "reported",
    "loss",
    "of",
    "registration",
    "service",
    "é",
    "über",
    "naïve",
    "—",
    "…",
];

fn filler() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FILLER), 0..8).prop_map(|w| w.join(" "))
}

/// A planted identifier: the text to insert, and the byte range (within it)
/// that must end up inside redactions.
#[derive(Clone, Debug)]
struct Planted {
    text: String,
    core: std::ops::Range<usize>,
}

impl Planted {
    fn whole(text: String) -> Planted {
        let core = 0..text.len();
        Planted { text, core }
    }

    fn after(prefix: &str, ident: String) -> Planted {
        let core = prefix.len()..prefix.len() + ident.len();
        Planted {
            text: format!("{prefix}{ident}"),
            core,
        }
    }
}

fn digits(n: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..10, n).prop_map(|d| d.iter().map(|x| char::from(b'0' + x)).collect())
}

fn luhn_digit(body: &str) -> char {
    (0..10u8)
        .map(|d| char::from(b'0' + d))
        .find(|&d| detect::luhn_valid(&format!("{body}{d}")))
        .unwrap_or('0')
}

fn phone() -> impl Strategy<Value = Planted> {
    let pair = || (0u8..100).prop_map(|n| format!("{n:02}"));
    prop_oneof![
        // French national, spaced / dotted / compact
        (1u8..10, pair(), pair(), pair(), pair(), 0..3usize).prop_map(|(a, b, c, d, e, style)| {
            let sep = [" ", ".", ""][style];
            Planted::whole(format!("0{a}{sep}{b}{sep}{c}{sep}{d}{sep}{e}"))
        }),
        // French international
        (1u8..10, pair(), pair(), pair(), pair())
            .prop_map(|(a, b, c, d, e)| Planted::whole(format!("+33 {a} {b} {c} {d} {e}"))),
        // German, 00 prefix
        (digits(4), digits(4)).prop_map(|(a, b)| Planted::whole(format!("0049 151 {a} {b}"))),
        // UK, (0) trunk marker
        (digits(4), digits(4)).prop_map(|(a, b)| Planted::whole(format!("+44 (0)20 {a} {b}"))),
        // North American
        (200u16..1000, digits(3), digits(4))
            .prop_map(|(a, b, c)| Planted::whole(format!("({a}) {b}-{c}"))),
        // MSISDN after a keyword
        (1u8..10, digits(9)).prop_map(|(cc, n)| Planted::after("MSISDN ", format!("{cc}{n}"))),
    ]
}

fn imsi() -> impl Strategy<Value = Planted> {
    (200u16..800, digits(12), any::<bool>()).prop_map(|(mcc, rest, keyword)| {
        let id = format!("{mcc}{rest}");
        if keyword {
            Planted::after("IMSI ", id)
        } else {
            Planted::whole(id)
        }
    })
}

fn imei() -> impl Strategy<Value = Planted> {
    (digits(14), 0..4usize).prop_map(|(body, style)| {
        let cd = luhn_digit(&body);
        let full = format!("{body}{cd}");
        match style {
            0 => Planted::whole(full),
            1 => Planted::whole(format!(
                "{}-{}-{}-{cd}",
                &body[..2],
                &body[2..8],
                &body[8..]
            )),
            2 => Planted::whole(format!(
                "{} {} {} {cd}",
                &body[..2],
                &body[2..8],
                &body[8..]
            )),
            _ => Planted::after("IMEI: ", full),
        }
    })
}

fn iccid() -> impl Strategy<Value = Planted> {
    (digits(17), any::<bool>()).prop_map(|(rest, grouped)| {
        let id = format!("89{rest}");
        if grouped {
            Planted::whole(format!(
                "{} {} {} {} {}",
                &id[..4],
                &id[4..8],
                &id[8..12],
                &id[12..16],
                &id[16..]
            ))
        } else {
            Planted::whole(id)
        }
    })
}

fn ipv4() -> impl Strategy<Value = Planted> {
    (any::<[u8; 4]>(), 0..3usize, 8u8..33, 1u16..65535).prop_map(|(o, style, len, port)| {
        let base = format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3]);
        Planted::whole(match style {
            0 => base,
            1 => format!("{base}/{len}"),
            _ => format!("{base}:{port}"),
        })
    })
}

fn ipv6() -> impl Strategy<Value = Planted> {
    (1u16..=u16::MAX, any::<[u16; 7]>(), any::<bool>(), 0..4usize).prop_map(
        |(first, rest, prefix, zeros)| {
            let mut seg = [first, 0, 0, 0, 0, 0, 0, 0];
            seg[1..].copy_from_slice(&rest);
            // Zero a run of segments so that `::` compression is exercised.
            for s in seg.iter_mut().skip(2).take(zeros * 2) {
                *s = 0;
            }
            let addr = Ipv6Addr::from(seg).to_string();
            Planted::whole(if prefix { format!("{addr}/64") } else { addr })
        },
    )
}

fn mac() -> impl Strategy<Value = Planted> {
    (any::<[u8; 6]>(), 0..3usize, any::<bool>()).prop_map(|(b, style, upper)| {
        let s = match style {
            0 => b
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(":"),
            1 => b
                .iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join("-"),
            _ => format!(
                "{:02x}{:02x}.{:02x}{:02x}.{:02x}{:02x}",
                b[0], b[1], b[2], b[3], b[4], b[5]
            ),
        };
        Planted::whole(if upper { s.to_uppercase() } else { s })
    })
}

fn domain() -> impl Strategy<Value = String> {
    (
        "[a-z]{3,8}",
        prop::sample::select(&["com", "net", "org", "fr", "de", "example", "internal"][..]),
    )
        .prop_map(|(name, tld)| format!("{name}.{tld}"))
}

fn email() -> impl Strategy<Value = Planted> {
    ("[a-z]{2,8}(\\.[a-z]{2,8})?", domain())
        .prop_map(|(local, dom)| Planted::whole(format!("{local}@{dom}")))
}

fn url() -> impl Strategy<Value = Planted> {
    (
        prop::sample::select(&["https://", "http://", "ftp://"][..]),
        domain(),
        "([a-z0-9/_?=]{0,11}[a-z0-9])?",
    )
        .prop_map(|(scheme, dom, path)| Planted::whole(format!("{scheme}{dom}/{path}")))
}

fn host() -> impl Strategy<Value = Planted> {
    ("[a-z]{2,6}[0-9]{0,2}", domain()).prop_map(|(h, dom)| Planted::whole(format!("{h}.{dom}")))
}

fn ticket() -> impl Strategy<Value = Planted> {
    prop_oneof![
        (
            prop::sample::select(&["INC", "CHG", "PRB", "RITM", "CRQ"][..]),
            digits(7)
        )
            .prop_map(|(p, d)| Planted::whole(format!("{p}{d}"))),
        (
            prop::sample::select(&["case ", "ticket ", "TT ", "trouble ticket #"][..]),
            digits(6)
        )
            .prop_map(|(p, d)| Planted::after(p, d)),
        digits(5).prop_map(|d| Planted::whole(format!("NOC-{d}"))),
    ]
}

const FIRST_NAMES: &[&str] = &[
    "Jane",
    "Paul",
    "Ahmed",
    "Marie-Claire",
    "Łukasz",
    "Kenji",
    "Zoë",
    "Siobhan",
    "José",
    "Ana",
];
const LAST_NAMES: &[&str] = &[
    "Smith", "Martin", "Benali", "Nowak", "Watanabe", "O'Neil", "Müller", "Okafor", "Silva",
];

fn person() -> impl Strategy<Value = Planted> {
    (
        prop::sample::select(
            &[
                "Dr. ",
                "Mr ",
                "Mrs. ",
                "Ms ",
                "Prof. ",
                "engineer ",
                "our CEO ",
                "contact: ",
                "technician ",
            ][..],
        ),
        prop::sample::select(FIRST_NAMES),
        prop::sample::select(LAST_NAMES),
    )
        .prop_map(|(intro, first, last)| Planted::after(intro, format!("{first} {last}")))
}

fn cased(s: &str, style: usize) -> String {
    match style {
        0 => s.to_string(),
        1 => s.to_lowercase(),
        _ => s.to_uppercase(),
    }
}

fn operator() -> impl Strategy<Value = Planted> {
    (
        prop::sample::select(OPERATORS),
        0..3usize,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(name, case, hyphen, possessive)| {
            let mut s = cased(name, case);
            if hyphen {
                s = s.replace(' ', "-");
            }
            let core = 0..s.len();
            if possessive {
                s.push_str("'s");
            }
            Planted { text: s, core }
        })
}

fn term() -> impl Strategy<Value = Planted> {
    (prop::sample::select(TERMS), 0..3usize).prop_map(|(t, case)| Planted::whole(cased(t, case)))
}

/// Element and host names by shape: `mme-lon-3`, `RTR-PAR-CORE-01`,
/// `cscf01.par`, `pgw07`.
fn element() -> impl Strategy<Value = Planted> {
    let element = prop::sample::select(
        &[
            "mme", "sgw", "pgw", "hss", "cscf", "sbc", "rtr", "med", "dns", "smsc",
        ][..],
    );
    let site = prop::sample::select(
        &[
            "lon", "par", "fra", "muc", "ams", "mad", "lyo", "bcn", "osl", "waw",
        ][..],
    );
    prop_oneof![
        (element.clone(), site.clone(), 1u8..99).prop_map(|(e, s, n)| format!("{e}-{s}-{n}")),
        (element.clone(), site.clone(), 1u8..99).prop_map(|(e, s, n)| format!(
            "{}-{}-CORE-{n:02}",
            e.to_uppercase(),
            s.to_uppercase()
        )),
        (element.clone(), site.clone(), 1u8..99).prop_map(|(e, s, n)| format!("{e}{n:02}.{s}")),
        (element, 1u8..99).prop_map(|(e, n)| format!("{e}{n:02}")),
    ]
    .prop_map(Planted::whole)
}

/// Service and system accounts, user ids.
fn account() -> impl Strategy<Value = Planted> {
    prop_oneof![
        "svc_[a-z]{4,10}".prop_map(Planted::whole),
        "admin_[a-z]{3,8}".prop_map(Planted::whole),
        "[a-z]{3,6}_ro".prop_map(Planted::whole),
        "root@[a-z]{3,6}-[0-9]{1,2}".prop_map(Planted::whole),
        "u[0-9]{6}".prop_map(|id| Planted::after("user id ", id)),
    ]
}

/// Names from the lists, without a title or role.
fn untitled_person() -> impl Strategy<Value = Planted> {
    prop::sample::select(
        &[
            "Julien Moreau",
            "Jane Doe",
            "Ngozi Okafor",
            "Anders Lindqvist",
            "Priya Sharma",
            "Klaus Becker",
            "Lucía Fernández",
            "Emily Chen",
            "Marta Sánchez",
            "Oliver Bennett",
        ][..],
    )
    .prop_map(|n| Planted::whole(n.to_string()))
}

/// AS numbers, MCC-MNC pairs, coordinates.
fn network_codes() -> impl Strategy<Value = Planted> {
    prop_oneof![
        (1000u32..4_000_000).prop_map(|n| Planted::whole(format!("AS{n}"))),
        (1000u32..4_000_000).prop_map(|n| Planted::whole(format!("AS {n}"))),
        (prop::sample::select(&[(208u16, 1u16), (234, 15), (262, 2), (240, 1), (505, 2)][..]))
            .prop_map(|(mcc, mnc)| Planted::whole(format!("MCC {mcc}, MNC {mnc:02}"))),
        (1u8..80, 0u16..10000, 1u8..170, 0u16..10000)
            .prop_map(|(a, b, c, d)| Planted::whole(format!("{a}.{b:04}, {c}.{d:04}"))),
    ]
}

fn identifier() -> impl Strategy<Value = Planted> {
    prop_oneof![
        element(),
        account(),
        untitled_person(),
        network_codes(),
        phone(),
        imsi(),
        imei(),
        iccid(),
        ipv4(),
        ipv6(),
        mac(),
        email(),
        url(),
        host(),
        ticket(),
        person(),
        operator(),
        term(),
    ]
}

fn separator() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop::sample::select(
        &[
            (" ", " "),
            (", ", ", "),
            (" (", ") "),
            ("; ", ". "),
            ("\n", "\n"),
        ][..],
    )
}

/// Text made of filler with identifiers planted in it; returns the text and
/// the byte ranges that must be redacted.
fn planted_text() -> impl Strategy<Value = (String, Vec<std::ops::Range<usize>>)> {
    (
        prop::collection::vec((filler(), separator(), identifier()), 1..5),
        filler(),
    )
        .prop_map(|(parts, tail)| {
            let mut text = String::new();
            let mut cores = Vec::new();
            for (words, (open, close), planted) in parts {
                text.push_str(&words);
                text.push_str(open);
                let at = text.len();
                text.push_str(&planted.text);
                cores.push(at + planted.core.start..at + planted.core.end);
                text.push_str(close);
            }
            text.push_str(&tail);
            (text, cores)
        })
}

fn keep_token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(
            &[
                "S1-MME",
                "SGSN-MME",
                "P-CSCF",
                "S-CSCF",
                "MSC-S",
                "N2",
                "N26",
                "Gx",
                "S6a",
                "Iu-PS",
                "HSS/UDM",
                "5GC",
                "VoLTE",
                "R15",
                "Rel-16",
                "LTE-1800",
                "X2-AP",
                "GTP-U",
                "NB-IoT",
                "us-east-1",
                "Call Server",
                "Media Gateway",
                "Border Gateway",
                "Network Operations",
                "CVE-2021-44228",
                "SHA-256",
                "RU50 EP2",
            ][..]
        )
        .prop_map(str::to_string),
        (1u8..30, 0u8..10).prop_map(|(a, b)| format!("v{a}.{b}")),
        prop::sample::select(EMERGENCY_NUMBERS).prop_map(str::to_string),
        (1u8..40, 1u16..1000).prop_map(|(a, b)| format!("TS {a}.{b:03}")),
        (21u8..39, 1u16..1000, 1u8..10, 1u8..10)
            .prop_map(|(a, b, c, d)| format!("3GPP TS {a}.{b:03} §{c}.{d}")),
        (400u16..700).prop_map(|c| format!("SIP {c}")),
        (0u8..=255).prop_map(|c| format!("GTP cause {c}")),
        (1000u16..6000).prop_map(|c| format!("Diameter {c}")),
        (1000u16..6000).prop_map(|c| format!("Diameter result code {c}")),
        (1u8..128).prop_map(|c| format!("Q.850 cause {c}")),
        (1u8..40, 0u8..20, 0u8..100).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (
            prop::sample::select(
                &[
                    "release ",
                    "build ",
                    "firmware ",
                    "version ",
                    "software ",
                    "v"
                ][..]
            ),
            1u8..40,
            0u8..20,
            0u8..10,
            0u16..1000
        )
            .prop_map(|(k, a, b, c, d)| format!("{k}{a}.{b}.{c}.{d}")),
        (2015u16..2030, 1u8..13, 1u8..29, 0u8..24)
            .prop_map(|(y, m, d, h)| format!("build {y}{m:02}{d:02}{h:02}")),
        (0u8..24, 0u8..60).prop_map(|(h, m)| format!("{h:02}:{m:02}")),
        (0u8..24, 0u8..60, 0u8..60).prop_map(|(h, m, s)| format!("{h:02}:{m:02}:{s:02}")),
        (0u8..24, 0u8..60).prop_map(|(h, m)| format!("{h:02}h{m:02}")),
        (1u16..100, 1u8..60).prop_map(|(h, m)| format!("{h} hours {m} minutes")),
        (
            1u16..1000,
            prop::sample::select(&["min", "ms", "s", "h", "seconds", "days"][..])
        )
            .prop_map(|(n, u)| format!("{n} {u}")),
        (0u8..100, 0u8..10).prop_map(|(a, b)| format!("{a}.{b}%")),
        (0u8..101).prop_map(|a| format!("{a}%")),
        (1u16..1000, 0u16..1000).prop_map(|(a, b)| format!("{a},{b:03} calls")),
        (1u16..1000, 0u16..1000, 0u16..1000)
            .prop_map(|(a, b, c)| format!("{a},{b:03},{c:03} emergency calls")),
        (1u16..1000, 0u16..1000, 0u16..1000)
            .prop_map(|(a, b, c)| format!("{a} {b:03} {c:03} subscribers")),
        (1u16..500).prop_map(|n| format!("{n} million customers")),
        (2000u16..2030, 1u8..13, 1u8..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
    ]
}

fn kept_text() -> impl Strategy<Value = (String, Vec<std::ops::Range<usize>>)> {
    (
        prop::collection::vec((filler(), separator(), keep_token()), 1..6),
        filler(),
    )
        .prop_map(|(parts, tail)| {
            let mut text = String::new();
            let mut ranges = Vec::new();
            for (words, (open, close), token) in parts {
                text.push_str(&words);
                text.push_str(open);
                let at = text.len();
                text.push_str(&token);
                ranges.push(at..at + token.len());
                text.push_str(close);
            }
            text.push_str(&tail);
            (text, ranges)
        })
}

/// Characters that exercise the detectors: digits, separators, brackets,
/// `@`, `:`, letters that form names and TLDs, placeholders, multi-byte
/// characters and combining marks.
fn junk() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[0-9]{1,6}",
        "[a-fA-F0-9:.]{1,12}",
        "[ .,:;/()\\[\\]#@+%§'’\\-_\n\t]{1,3}",
        "[A-Z][a-z]{1,6}",
        "[a-z]{1,6}",
        prop::sample::select(
            &[
                "[PHONE]",
                "[IP]",
                "[OPERATOR]",
                "[TERM",
                "PHONE]",
                "Dr. ",
                "engineer ",
                "IMSI ",
                "ticket ",
                "case ",
                "version ",
                "build ",
                "+33 ",
                "00",
                "0",
                "::",
                "www.",
                "https://",
                "acme",
                "Acme Mobile",
                "paris-nord",
                ".com",
                "é",
                "İ",
                "ẞ",
                "\u{301}",
                "📡",
                "\u{a0}",
                "\u{2019}s",
                "K",
            ][..]
        )
        .prop_map(str::to_string),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Structural invariants of any result.
fn check_invariants(text: &str, out: &Scrubbed) -> Result<(), TestCaseError> {
    let mut pos = 0;
    let mut rebuilt = String::new();
    for r in &out.redactions {
        prop_assert!(r.start < r.end, "empty redaction {r:?}");
        prop_assert!(r.start >= pos, "overlapping or unsorted redactions");
        prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        prop_assert_eq!(&text[r.start..r.end], r.original.as_str());
        prop_assert_eq!(r.placeholder.as_str(), r.kind.placeholder());
        rebuilt.push_str(&text[pos..r.start]);
        rebuilt.push_str(&r.placeholder);
        pos = r.end;
    }
    rebuilt.push_str(&text[pos..]);
    prop_assert_eq!(&rebuilt, &out.text);
    Ok(())
}

fn check_idempotent(out: &Scrubbed) -> Result<(), TestCaseError> {
    let again = run(&out.text);
    prop_assert_eq!(&again.text, &out.text);
    prop_assert!(
        again.redactions.is_empty(),
        "new redactions: {:?}",
        again.redactions
    );
    Ok(())
}

/// `cases` unless the standard `PROPTEST_CASES` variable overrides it (for
/// long soak runs: `PROPTEST_CASES=100000 cargo test --release`).
fn config(cases: u32) -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}

proptest! {
    #![proptest_config(config(600))]

    #[test]
    fn planted_identifiers_are_removed((text, cores) in planted_text()) {
        let out = run(&text);
        for core in &cores {
            let mut pos = core.start;
            for r in &out.redactions {
                if r.start <= pos && r.end > pos {
                    pos = r.end;
                }
            }
            prop_assert!(
                pos >= core.end,
                "{:?} not removed from {:?}: {:?}",
                &text[core.clone()], text, out.text
            );
        }
        check_invariants(&text, &out)?;
        check_idempotent(&out)?;
    }

    #[test]
    fn must_keep_tokens_are_never_touched((text, ranges) in kept_text()) {
        let out = run(&text);
        for range in &ranges {
            for r in &out.redactions {
                prop_assert!(
                    r.end <= range.start || r.start >= range.end,
                    "{:?} touched by {:?} in {:?}",
                    &text[range.clone()], r, text
                );
            }
        }
        prop_assert_eq!(&out.text, &text);
    }

    #[test]
    fn mixed_text_is_idempotent(
        (planted, _) in planted_text(),
        (kept, _) in kept_text(),
    ) {
        let text = format!("{planted} {kept}");
        let out = run(&text);
        check_invariants(&text, &out)?;
        check_idempotent(&out)?;
    }
}

proptest! {
    #![proptest_config(config(2500))]

    #[test]
    fn never_panics_on_arbitrary_utf8(text in any::<String>()) {
        let out = run(&text);
        check_invariants(&text, &out)?;
        check_idempotent(&out)?;
    }

    #[test]
    fn never_panics_on_detector_shaped_junk(text in junk()) {
        let out = run(&text);
        check_invariants(&text, &out)?;
        check_idempotent(&out)?;
    }
}
