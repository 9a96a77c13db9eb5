//! Unit tests: one group per class of identifier, must-keep tokens, the
//! shared test-case corpus, and the structural guarantees (offsets,
//! placeholders, idempotence).

use super::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn scrub_with(operators: &[&str], terms: &[&str], text: &str) -> Scrubbed {
    Anonymiser::new(&strings(operators)).scrub(text, &SensitiveTerms::new(&strings(terms)))
}

fn scrub(text: &str) -> Scrubbed {
    scrub_with(&[], &[], text)
}

/// Asserts that every byte of `token` (first occurrence in `text`) is inside
/// a redaction, and that at least one covering redaction is of `kind`.
#[track_caller]
fn assert_redacted(out: &Scrubbed, text: &str, token: &str, kind: RedactionKind) {
    let start = text
        .find(token)
        .unwrap_or_else(|| panic!("test bug: {token:?} not in {text:?}"));
    let end = start + token.len();
    let covering: Vec<&Redaction> = out
        .redactions
        .iter()
        .filter(|r| r.start < end && start < r.end)
        .collect();
    let mut pos = start;
    for r in &covering {
        if r.start <= pos {
            pos = pos.max(r.end);
        }
    }
    assert!(
        pos >= end,
        "{token:?} not fully redacted in {text:?}\n -> {:?}\n {:?}",
        out.text,
        out.redactions
    );
    assert!(
        covering.iter().any(|r| r.kind == kind),
        "{token:?} redacted as {:?}, expected {kind:?} (output {:?})",
        covering.iter().map(|r| r.kind).collect::<Vec<_>>(),
        out.text
    );
    assert!(
        !out.text.contains(token),
        "{token:?} survives in {:?}",
        out.text
    );
}

/// Asserts that no redaction touches `token` and it is in the output.
#[track_caller]
fn assert_kept(out: &Scrubbed, text: &str, token: &str) {
    let start = text
        .find(token)
        .unwrap_or_else(|| panic!("test bug: {token:?} not in {text:?}"));
    let end = start + token.len();
    let touching: Vec<&Redaction> = out
        .redactions
        .iter()
        .filter(|r| r.start < end && start < r.end)
        .collect();
    assert!(
        touching.is_empty(),
        "{token:?} was redacted in {text:?}: {touching:?} -> {:?}",
        out.text
    );
    assert!(
        out.text.contains(token),
        "{token:?} missing from {:?}",
        out.text
    );
}

// ------------------------------------------------------------- phones ----

#[test]
fn phone_numbers_national_and_international() {
    let text = "The customer reported the fault from 07 12 34 56 78 and was called back on \
                +33 1 23 45 67 89; the German roaming partner's hotline 0049 151 2345 6789 \
                confirmed. UK desk: +44 (0)20 7946 0958 or 020 7946 0958. US bridge \
                (212) 555-1234, +1-212-555-1234, Berlin 030 1234567, mobile 0151 23456789, \
                dotted 01.02.20.24.56 and compact +33612345678.";
    let out = scrub(text);
    for phone in [
        "07 12 34 56 78",
        "+33 1 23 45 67 89",
        "0049 151 2345 6789",
        "+44 (0)20 7946 0958",
        "020 7946 0958",
        "(212) 555-1234",
        "+1-212-555-1234",
        "030 1234567",
        "0151 23456789",
        "01.02.20.24.56",
        "+33612345678",
    ] {
        assert_redacted(&out, text, phone, RedactionKind::Phone);
    }
    assert_eq!(out.count(RedactionKind::Phone), 11);
}

#[test]
fn phone_numbers_after_keywords() {
    let text = "MSISDN 33612345678 lost service; tel. 612345678; SMS from 4915123456789.";
    let out = scrub(text);
    for phone in ["33612345678", "612345678", "4915123456789"] {
        assert_redacted(&out, text, phone, RedactionKind::Phone);
    }
}

#[test]
fn adjacent_phone_numbers_are_both_found() {
    let text = "call 0612345678 0698765432 now";
    let out = scrub(text);
    assert_redacted(&out, text, "0612345678", RedactionKind::Phone);
    assert_redacted(&out, text, "0698765432", RedactionKind::Phone);
    assert_eq!(out.text, "call [PHONE] [PHONE] now");
}

#[test]
fn phone_does_not_swallow_a_following_time() {
    let text = "Ring 06 12 34 56 78 10:30 tomorrow";
    let out = scrub(text);
    assert_redacted(&out, text, "06 12 34 56 78", RedactionKind::Phone);
    assert_kept(&out, text, "10:30");
}

// ----------------------------------------------------- mobile identities ----

#[test]
fn imsi_imei_iccid() {
    let text = "The subscriber with IMSI 208150123456789 on handset IMEI 35-209900-176148-1 \
                (IMEISV 3520990017614823) and SIM ICCID 8933 0123 4567 8901 234 failed to \
                attach; a second handset 352099001761481 and SUPI imsi-310260123456789 too. \
                Card 89330123456789012345 was swapped; IMSI 234 15 0123456789 roamed.";
    let out = scrub(text);
    assert_redacted(&out, text, "208150123456789", RedactionKind::Imsi);
    assert_redacted(&out, text, "35-209900-176148-1", RedactionKind::Imei);
    assert_redacted(&out, text, "3520990017614823", RedactionKind::Imei);
    assert_redacted(&out, text, "8933 0123 4567 8901 234", RedactionKind::Iccid);
    assert_redacted(&out, text, "352099001761481", RedactionKind::Imei);
    assert_redacted(&out, text, "310260123456789", RedactionKind::Imsi);
    assert_redacted(&out, text, "89330123456789012345", RedactionKind::Iccid);
    assert_redacted(&out, text, "234 15 0123456789", RedactionKind::Imsi);
    assert!(out.text.contains("IMSI [IMSI]"), "{}", out.text);
}

#[test]
fn bare_imsi_without_keyword() {
    // Not Luhn-valid, starts with a plausible MCC digit.
    let text = "trace for 208150123456780 showed repeated attach rejects";
    let out = scrub(text);
    assert_redacted(&out, text, "208150123456780", RedactionKind::Imsi);
}

// ------------------------------------------------------------ addresses ----

#[test]
fn ip_addresses_and_prefixes() {
    let text = "The P-CSCF at 10.20.30.40 lost its route to 192.168.0.0/16 and the SBC \
                2001:db8::1 stopped answering; [2001:db8::2]:5060 and fe80::1%eth0 were \
                also down, as were 10.0.0.1-10.0.0.9, 172.16.5.4:3868, 10.20/16, \
                2001:db8:0:0:0:0:2:1/64, ::ffff:192.0.2.1 and the pool 10.20.30.x.";
    let out = scrub(text);
    for ip in [
        "10.20.30.40",
        "192.168.0.0/16",
        "2001:db8::1",
        "[2001:db8::2]:5060",
        "fe80::1%eth0",
        "10.0.0.1",
        "10.0.0.9",
        "172.16.5.4:3868",
        "10.20/16",
        "2001:db8:0:0:0:0:2:1/64",
        "::ffff:192.0.2.1",
        "10.20.30.x",
    ] {
        assert_redacted(&out, text, ip, RedactionKind::Ip);
    }
}

#[test]
fn ipv6_followed_by_colon_punctuation() {
    let text = "address 2001:db8::1: unreachable";
    let out = scrub(text);
    assert_eq!(out.text, "address [IP]: unreachable");
}

#[test]
fn mac_addresses() {
    let text = "CPE 00:1a:2b:3c:4d:5e and 00-1A-2B-3C-4D-5F, Cisco style 0011.2233.4455.";
    let out = scrub(text);
    for mac in ["00:1a:2b:3c:4d:5e", "00-1A-2B-3C-4D-5F", "0011.2233.4455"] {
        assert_redacted(&out, text, mac, RedactionKind::Mac);
    }
}

#[test]
fn emails_urls_and_hosts() {
    let text = "Escalation went to noc-duty@acme-mobile.net and jane(at)acme(dot)com; the \
                status page https://status.acme.example/incidents/42?ref=x). Internal \
                graphs at www.example.org/status. Peering with core1.par.transit.net:179 \
                and sbc1.acme-mobile.net failed; SIP URI sip:+33123456789@ims.acme.fr.";
    let out = scrub(text);
    assert_redacted(&out, text, "noc-duty@acme-mobile.net", RedactionKind::Email);
    assert_redacted(&out, text, "jane(at)acme(dot)com", RedactionKind::Email);
    assert_redacted(
        &out,
        text,
        "https://status.acme.example/incidents/42?ref=x",
        RedactionKind::Url,
    );
    assert_redacted(&out, text, "www.example.org/status", RedactionKind::Url);
    assert_redacted(&out, text, "core1.par.transit.net:179", RedactionKind::Host);
    assert_redacted(&out, text, "sbc1.acme-mobile.net", RedactionKind::Host);
    assert_redacted(
        &out,
        text,
        "sip:+33123456789@ims.acme.fr",
        RedactionKind::Url,
    );
    // Trailing punctuation stays.
    assert!(out.text.contains("[URL])."), "{}", out.text);
}

#[test]
fn file_names_and_abbreviations_are_not_hosts() {
    let text = "See config.yaml, readme.md, node.js and run.py, e.g. the U.S. backbone; \
                it failed.It restarted.";
    let out = scrub(text);
    assert!(out.redactions.is_empty(), "{:?}", out.redactions);
}

// -------------------------------------------------------------- tickets ----

#[test]
fn ticket_and_case_numbers() {
    let text = "Tracked as INC0012345 (change CHG0034567, problem PRB0001234); vendor case \
                00123456 and TT#123456, our ticket 4711, NOC-12345, change #4711, incident \
                no. 2024 and reference #98765.";
    let out = scrub(text);
    for id in [
        "INC0012345",
        "CHG0034567",
        "PRB0001234",
        "00123456",
        "TT#123456",
        "4711",
        "NOC-12345",
        "#4711",
        "#98765",
    ] {
        assert_redacted(&out, text, id, RedactionKind::Ticket);
    }
    assert!(out.text.contains("incident no. [TICKET]"), "{}", out.text);
}

#[test]
fn ticket_words_without_ids_keep_their_numbers() {
    let text = "In case 112 fails, the incident 2024 review and ref TS 23.401 apply; \
                the change 5.4.0.88 build was fine, see incident 2024-03-15.";
    let out = scrub(text);
    assert!(out.redactions.is_empty(), "{:?}", out.redactions);
}

// -------------------------------------------------------------- persons ----

#[test]
fn person_names_after_titles_and_roles() {
    let text = "Dr. Jane Smith from the regulator met our CEO Łukasz Nowak. The on-call \
                engineer Paul Martin restarted the MME; contact: Ahmed Benali. Mme \
                Marie-Claire DUPONT and Mr O'Neil's team agreed. Jane Doe, our NOC engineer, \
                and Kenji Watanabe (field technician) were on site. Prof. J. van der Berg \
                reviewed it.";
    let out = scrub(text);
    for name in [
        "Jane Smith",
        "Łukasz Nowak",
        "Paul Martin",
        "Ahmed Benali",
        "Marie-Claire DUPONT",
        "O'Neil",
        "Jane Doe",
        "Kenji Watanabe",
        "J. van der Berg",
    ] {
        assert_redacted(&out, text, name, RedactionKind::Person);
    }
    // Titles and roles stay.
    assert!(
        out.text
            .starts_with("Dr. [PERSON] from the regulator met our CEO [PERSON].")
    );
    assert!(out.text.contains("Mr [PERSON]'s team"), "{}", out.text);
}

#[test]
fn roles_without_names_are_untouched() {
    let text = "The engineer restarted the node. Our NOC engineer The Team lead Network \
                Operations handled it; the CEO apologised.";
    let out = scrub(text);
    assert!(out.redactions.is_empty(), "{:?}", out.redactions);
}

// ------------------------------------------------------ operators, terms ----

#[test]
fn operator_names_and_aliases() {
    let ops = [
        "Acme Mobile",
        "Acme",
        "Orange",
        "T-Mobile",
        "AT&T",
        "Télécom Sud",
    ];
    let text = "Acme's MME failed; ACME MOBILE core and acme-mobile-sbc01 followed. \
                Orange's SBC, T-Mobile and TMOBILE peers, AT&T and att.example \
                interconnects, Telecom Sud and TÉLÉCOM SUD too. The orangery was fine.";
    let out = scrub_with(&ops, &[], text);
    for name in [
        "Acme's",
        "ACME MOBILE",
        "acme-mobile",
        "Orange",
        "T-Mobile",
        "TMOBILE",
        "AT&T",
        "Telecom Sud",
        "TÉLÉCOM SUD",
    ] {
        let token = name.trim_end_matches("'s");
        let kind = RedactionKind::Operator;
        assert_redacted(&out, text, token, kind);
    }
    assert!(out.text.contains("[OPERATOR]'s MME"), "{}", out.text);
    assert!(out.text.contains("The orangery was fine."), "{}", out.text);
    assert!(
        !out.text.to_lowercase().contains("att.example"),
        "{}",
        out.text
    );
}

#[test]
fn operator_names_inside_hosts_and_emails() {
    let ops = ["Acme Mobile"];
    let text = "Traffic from sbc1.acme-mobile.net and mme.acmemobile.internal and \
                ops@acme-mobile.example plus core.acme-mobile (no TLD).";
    let out = scrub_with(&ops, &[], text);
    let lower = out.text.to_lowercase();
    assert!(!lower.contains("acme"), "{}", out.text);
    assert_redacted(&out, text, "sbc1.acme-mobile.net", RedactionKind::Host);
    assert_redacted(&out, text, "ops@acme-mobile.example", RedactionKind::Email);
    assert!(out.text.contains("core.[OPERATOR]"), "{}", out.text);
}

#[test]
fn ordinary_words_that_are_member_names_are_redacted() {
    // Documented trade-off: "Three" is a member, so the number word goes too.
    let out = scrub_with(&["Three", "Free"], &[], "three nodes restarted for free");
    assert_eq!(out.text, "[OPERATOR] nodes restarted for [OPERATOR]");
}

#[test]
fn sensitive_terms() {
    let terms = ["Paris-Nord", "Project Falcon", "OSS-Atlas", "AS64500"];
    let text = "The Paris Nord site (paris-nord) hosts project falcon's OSS-ATLAS probes; \
                PROJECT-FALCON dashboards and the as64500 peering were affected.";
    let out = scrub_with(&[], &terms, text);
    for term in [
        "Paris Nord",
        "paris-nord",
        "project falcon",
        "OSS-ATLAS",
        "PROJECT-FALCON",
        "as64500",
    ] {
        assert_redacted(&out, text, term, RedactionKind::Term);
    }
    assert!(out.text.contains("[TERM]'s"), "{}", out.text);
}

#[test]
fn terms_beat_weaker_classes_and_must_keep_tokens() {
    // A filer may list something that looks technical; their list wins.
    let out = scrub_with(&[], &["Core 2024"], "the Core 2024 programme at 10:30");
    assert_eq!(out.text, "the [TERM] programme at 10:30");
}

// ------------------------------------------------------------ must keep ----

#[test]
fn must_keep_technical_tokens() {
    let text = "Emergency calls to 112, 911, 999, 000, 15, 17, 18, 113, 117, 118 and 144 \
                failed per TS 23.401 and 3GPP TS 24.229 §5.1 (also TS 29.274 §8.4, TR \
                38.913, ETSI TS 123 401 V15.2.0, RFC 3261, ITU-T Q.850, GSMA IR.92). \
                Causes: SIP 408, SIP/2.0 503 Service Unavailable, GTP cause 72, Diameter \
                5012, Diameter result code 5012, Q.850 cause 41, HTTP 503. Software \
                19.2.1, release 5.4.0.88, upgraded from 5.4.0.87 to 5.4.0.88, v16.4.0, \
                firmware: 21.3R2-S1, build 2023101512. At 06:24, 22:33:15, 6:30 pm and \
                06h30 UTC; for 12 hours 13 minutes, 90 min, 2.5 hours, 150 ms and 37 h. \
                41% and 3.5 % of 11,800 calls, 23,621 emergency calls, 400,000 businesses, \
                12 million customers, 1 500 000 subscribers, 125000000 devices and 1,789 \
                cell sites; dated 2024-03-15 and 15/03/2024, log 20240315103000, \
                CVE-2021-44228 on LTE-1800.";
    let out = scrub(text);
    assert!(
        out.redactions.is_empty(),
        "unexpected redactions: {:?}",
        out.redactions
    );
    assert_eq!(out.text, text);
}

#[test]
fn dotted_quads_version_or_address() {
    let text = "running 5.4.0.88 on 5.4.0.88 then version 10.2.0.1";
    let out = scrub(text);
    assert_eq!(out.text, "running 5.4.0.88 on [IP] then version 10.2.0.1");
    // Leading zeros and octets over 255 are versions.
    let out = scrub("images 5.04.0.088 and 300.1.2.3 exist");
    assert!(out.redactions.is_empty(), "{:?}", out.redactions);
}

#[test]
fn emergency_numbers_in_telecom_prose() {
    let text = "About 2,145 people could not reach 000, and 911 centres switched to ten-digit \
                numbers; 112 and 999 recovered at 10:30 after 90 minutes.";
    let out = scrub(text);
    assert!(out.redactions.is_empty(), "{:?}", out.redactions);
}

// --------------------------------------------------- structure, offsets ----

#[test]
fn offsets_point_into_the_original_text() {
    let ops = ["Acme"];
    let text = "Ünïcödé Acme 📡 call +33 1 23 45 67 89 — Dr. José Müller at 10.0.0.1.";
    let out = scrub_with(&ops, &[], text);
    assert_eq!(out.redactions.len(), 4, "{:?}", out.redactions);
    let mut rebuilt = String::new();
    let mut pos = 0;
    for r in &out.redactions {
        assert_eq!(&text[r.start..r.end], r.original);
        assert_eq!(r.placeholder, r.kind.placeholder());
        rebuilt.push_str(&text[pos..r.start]);
        rebuilt.push_str(&r.placeholder);
        pos = r.end;
    }
    rebuilt.push_str(&text[pos..]);
    assert_eq!(rebuilt, out.text);
}

#[test]
fn existing_placeholders_are_never_rematched() {
    let ops = ["Phone", "Operator", "Host"];
    let text = "[PHONE] [OPERATOR] [HOST] [IP] stay, but Phone the Host.";
    let out = scrub_with(&ops, &["TERM"], text);
    assert_eq!(
        out.text,
        "[PHONE] [OPERATOR] [HOST] [IP] stay, but [OPERATOR] the [OPERATOR]."
    );
    assert_eq!(out.redactions.len(), 2);
}

#[test]
fn idempotent_on_realistic_text() {
    let ops = ["Acme Mobile", "Acme", "Orange"];
    let terms = ["Paris-Nord", "build"];
    let text = "Acme's SBC at Paris-Nord (10.1.2.3, sbc1.acme-mobile.net) failed after \
                build 2023101512; engineer Paul Martin (+33 6 12 34 56 78) opened \
                INC0012345.";
    let anonymiser = Anonymiser::new(&strings(&ops));
    let terms = SensitiveTerms::new(&strings(&terms));
    let once = anonymiser.scrub(text, &terms);
    let twice = anonymiser.scrub(&once.text, &terms);
    assert_eq!(twice.text, once.text);
    assert!(twice.redactions.is_empty(), "{:?}", twice.redactions);
    // "build" is a term here, so the build number lost its context and is
    // redacted too (fixed-point re-check).
    assert!(!once.text.contains("2023101512"), "{}", once.text);
}

#[test]
fn overlapping_candidates_resolve_to_the_longest_strongest() {
    let ops = ["Acme"];
    // The e-mail contains a host and an operator name; the URL contains a
    // host, a phone-like path and the operator.
    let text = "ops@acme.example and https://acme.example/0612345678 ok";
    let out = scrub_with(&ops, &[], text);
    assert_eq!(out.text, "[EMAIL] and [URL] ok");
}

#[test]
fn empty_and_whitespace_input() {
    let a = Anonymiser::new(&[]);
    let t = SensitiveTerms::empty();
    assert_eq!(a.scrub("", &t), Scrubbed::default());
    assert_eq!(a.scrub("  \n\t ", &t).text, "  \n\t ");
}

#[test]
fn kinds_serialise_in_snake_case() {
    for kind in RedactionKind::ALL {
        let json = serde_json::to_string(&kind).expect("serialisable");
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        let back: RedactionKind = serde_json::from_str(&json).expect("deserialisable");
        assert_eq!(back, kind);
        assert_eq!(
            kind.placeholder(),
            format!("[{}]", kind.as_str().to_uppercase())
        );
    }
}

// -------------------------------------------------------------- corpus ----

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    text: String,
    operators: Vec<String>,
    sensitive_terms: Vec<String>,
    must_remove: Vec<String>,
    must_keep: Vec<String>,
}

#[test]
fn corpus_cases() {
    let corpus = include_str!("../../../../tests/data/anonymisation-cases.jsonl");
    let mut cases = 0;
    for (line_no, line) in corpus.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {}: invalid case: {e}", line_no + 1));
        let anonymiser = Anonymiser::new(&case.operators);
        let terms = SensitiveTerms::new(&case.sensitive_terms);
        let out = anonymiser.scrub(&case.text, &terms);
        for token in &case.must_remove {
            assert!(
                case.text.contains(token.as_str()),
                "{}: must_remove {token:?} not in text",
                case.name
            );
            assert!(
                !out.text.contains(token.as_str()),
                "{}: {token:?} survived:\n{}",
                case.name,
                out.text
            );
        }
        for token in &case.must_keep {
            assert!(
                case.text.contains(token.as_str()),
                "{}: must_keep {token:?} not in text",
                case.name
            );
            assert!(
                out.text.contains(token.as_str()),
                "{}: {token:?} was redacted:\n{}",
                case.name,
                out.text
            );
        }
        let again = anonymiser.scrub(&out.text, &terms);
        assert_eq!(again.text, out.text, "{}: not idempotent", case.name);
        cases += 1;
    }
    assert!(cases >= 25, "corpus has only {cases} cases");
}

// ------------------------------------------------- fixed point, robustness ----

#[test]
fn redaction_that_frees_a_neighbour_is_followed_up() {
    // "Acme" glued to a number: once the name is gone, the number stands
    // alone and is a phone number.
    let out = scrub_with(&["Acme"], &[], "hotline Acme0612345678 today");
    assert_eq!(out.text, "hotline [OPERATOR][PHONE] today");
    // A person name hidden behind a sensitive term: the term wins the
    // overlap, the re-check then finds the name on its own.
    let out = scrub_with(
        &[],
        &["Paris"],
        "Paris Jane Doe, our engineer, restarted it",
    );
    assert_eq!(out.text, "[TERM] [PERSON], our engineer, restarted it");
    let kinds: Vec<RedactionKind> = out.redactions.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RedactionKind::Term, RedactionKind::Person]);
}

#[test]
fn pathological_inputs_terminate() {
    let anonymiser = Anonymiser::new(&strings(&["Acme", "Acme Mobile"]));
    let terms = SensitiveTerms::new(&strings(&["Paris-Nord"]));
    let inputs = [
        "1.".repeat(20_000),
        "engineer,".repeat(5_000),
        "Dr. ".repeat(5_000),
        ":".repeat(20_000),
        "0 ".repeat(20_000),
        "+".repeat(20_000),
        "acme".repeat(10_000),
        "[PHONE".repeat(5_000),
        "a@".repeat(10_000),
        "ticket ".repeat(5_000),
        "9".repeat(50_000),
        "é".repeat(20_000),
        "01 ".repeat(20_000),
        "+33 1".repeat(10_000),
        format!("http://x/{}", ")".repeat(20_000)),
        "a.".repeat(20_000),
        "Acme0612345678 ".repeat(2_000),
        "Dr. A".repeat(10_000),
    ];
    for input in &inputs {
        let out = anonymiser.scrub(input, &terms);
        let mut pos = 0;
        for r in &out.redactions {
            assert!(r.start >= pos && r.start < r.end && r.end <= input.len());
            pos = r.end;
        }
        let again = anonymiser.scrub(&out.text, &terms);
        assert_eq!(again.text, out.text);
    }
}

#[test]
fn empty_configuration_still_scrubs_structured_identifiers() {
    let anonymiser = Anonymiser::default();
    assert_eq!(anonymiser.operator_pattern_count(), 0);
    let terms = SensitiveTerms::default();
    assert!(terms.is_empty());
    let out = anonymiser.scrub("peer 10.0.0.1 and Dr. Jane Smith", &terms);
    assert_eq!(out.text, "peer [IP] and Dr. [PERSON]");
}

// ------------------------------------------ issue 14: identifiers leaked ----

/// The four identifiers that reached other members in the review of issue
/// 14, and the curated lesson that kept "Jane Doe".
#[test]
fn issue_14_leaked_identifiers_are_removed() {
    let ops = ["Acme Mobile", "Acme"];
    let text = "At 07:12 the MME pool lost S1-MME associations after mme-lon-3 rebooted; \
                the mediation server med-02 rejected the login of svc_mediation, and the \
                change was pushed from the laptop of an engineer named Julien Moreau.";
    let out = scrub_with(&ops, &[], text);
    assert_redacted(&out, text, "mme-lon-3", RedactionKind::Host);
    assert_redacted(&out, text, "med-02", RedactionKind::Host);
    assert_redacted(&out, text, "svc_mediation", RedactionKind::Account);
    assert_redacted(&out, text, "Julien Moreau", RedactionKind::Person);
    for keep in ["07:12", "MME", "S1-MME"] {
        assert_kept(&out, text, keep);
    }
    let lesson = "Lesson: if the Call Server and the Media Gateway disagree, call Jane Doe on \
                  +44 20 7946 0958 before touching the Border Gateway config.";
    let out = scrub(lesson);
    assert_redacted(&out, lesson, "Jane Doe", RedactionKind::Person);
    assert_redacted(&out, lesson, "+44 20 7946 0958", RedactionKind::Phone);
    for keep in ["Call Server", "Media Gateway", "Border Gateway"] {
        assert_kept(&out, lesson, keep);
    }
}

// ---------------------------------------------- element and host names ----

#[test]
fn element_and_site_names_by_shape() {
    let text = "The P-CSCF pair cscf01.par and cscf02.par, the core router RTR-PAR-CORE-01, \
                the STP stp-lag-a, site HH0412 and gateway pgw07 all logged S6a and Gx \
                errors towards the HSS/UDM; the SGSN-MME and the 5GC were fine.";
    let out = scrub(text);
    for host in [
        "cscf01.par",
        "cscf02.par",
        "RTR-PAR-CORE-01",
        "stp-lag-a",
        "HH0412",
        "pgw07",
    ] {
        assert_redacted(&out, text, host, RedactionKind::Host);
    }
    for keep in ["P-CSCF", "STP", "S6a", "Gx", "HSS/UDM", "SGSN-MME", "5GC"] {
        assert_kept(&out, text, keep);
    }
}

#[test]
fn interface_release_and_protocol_tokens_survive() {
    let text = "N2 and N3 failed, Iu-PS and Gb were fine, VoLTE on R15 (21.3.2, v4.2, \
                Rel-16, RU50 EP2) returned SIP 408 and GTP cause 72; LTE-1800 and NR n78 \
                carried 112, 911, 999, 000, 15, 17, 18 and 113 calls for 47 minutes at 38%; \
                CVE-2021-44228, SHA-256, X2-AP, S-CSCF, MSC-S, us-east-1 and COVID-19 too.";
    let out = scrub(text);
    assert!(out.redactions.is_empty(), "{:?}", out.redactions);
}

// ----------------------------------------------------------- accounts ----

#[test]
fn service_and_user_accounts() {
    let text = "The job ran as root@ansible-ctl-02 under the domain account CORP\\svc_ossmed; \
                admin_jmoreau, li_mediation_ro and the bind account \
                cn=prov-bind,ou=svc,dc=corp were used, user id u419273 and login nocop17 too. \
                The account balances and max_connections were not touched.";
    let out = scrub(text);
    for account in [
        "root@ansible-ctl-02",
        "CORP\\svc_ossmed",
        "admin_jmoreau",
        "li_mediation_ro",
        "cn=prov-bind,ou=svc,dc=corp",
        "u419273",
        "nocop17",
    ] {
        assert_redacted(&out, text, account, RedactionKind::Account);
    }
    assert_kept(&out, text, "balances");
    assert_kept(&out, text, "max_connections");
}

// ------------------------------------------------------------- persons ----

#[test]
fn person_names_without_title_from_name_lists() {
    let text = "Julien Moreau and Ngozi Okafor joined; Carlos Martín García, Mei Ling Tan and \
                Marc-André Tremblay followed. M. Dupont and Dr Ngozi Okafor signed. Later \
                the team called Sophie, who restarted it.";
    let out = scrub(text);
    for name in [
        "Julien Moreau",
        "Ngozi Okafor",
        "Carlos Martín García",
        "Mei Ling Tan",
        "Marc-André Tremblay",
        "Dupont",
        "Sophie",
    ] {
        assert_redacted(&out, text, name, RedactionKind::Person);
    }
}

#[test]
fn capitalised_network_and_place_words_are_not_persons() {
    let text = "The Call Server, Network Operations, the Media Gateway and the Border Gateway \
                Protocol team met in New York and Sydney; Will Restart was the plan's name, \
                and traffic from Paris moved. May 2024 was calm.";
    let out = scrub(text);
    assert!(
        out.count(RedactionKind::Person) == 0,
        "{:?} -> {}",
        out.redactions,
        out.text
    );
}

// ------------------------------------------ operators and quasi-identifiers ----

#[test]
fn non_member_operators_with_country_suffixes() {
    let ops = ["Acme Mobile"];
    let text = "Roamers from Vodafone Ireland and Telia Sweden, peers Swisscom and MTN, and \
                Orange Belgium were affected; the orange alarm and three nodes were not.";
    let out = scrub_with(&ops, &[], text);
    for op in [
        "Vodafone Ireland",
        "Telia Sweden",
        "Swisscom",
        "MTN",
        "Orange Belgium",
    ] {
        assert_redacted(&out, text, op, RedactionKind::Operator);
    }
    assert_kept(&out, text, "orange alarm");
    assert_kept(&out, text, "three nodes");
}

#[test]
fn asn_plmn_circuit_coordinates_addresses_ranges() {
    let text = "Routes from AS3215 and AS 3320 were lost; MCC 240, MNC 01 and PLMN 20801 and \
                22210 roamers, cell 234-15-12345-1; circuit FR-PAR-10G-0042; the cut at \
                45.7601, 4.8590 and 69°38'56\"N 18°57'18\"E; 14 rue de la Gare, 69003 Lyon and \
                1200 Commerce Street, Dallas, TX 75202; IMSIs 50502xxxxxxxxxx and numbers \
                98200 00000 to 98209 99999.";
    let out = scrub(text);
    assert_redacted(&out, text, "AS3215", RedactionKind::Asn);
    assert_redacted(&out, text, "AS 3320", RedactionKind::Asn);
    assert_redacted(&out, text, "MCC 240, MNC 01", RedactionKind::Plmn);
    assert_redacted(&out, text, "20801", RedactionKind::Plmn);
    assert_redacted(&out, text, "22210", RedactionKind::Plmn);
    assert_redacted(&out, text, "234-15-12345-1", RedactionKind::Plmn);
    assert_redacted(&out, text, "FR-PAR-10G-0042", RedactionKind::Circuit);
    assert_redacted(&out, text, "45.7601, 4.8590", RedactionKind::Gps);
    assert_redacted(&out, text, "69°38'56\"N 18°57'18\"E", RedactionKind::Gps);
    assert_redacted(
        &out,
        text,
        "14 rue de la Gare, 69003 Lyon",
        RedactionKind::Address,
    );
    assert_redacted(
        &out,
        text,
        "1200 Commerce Street, Dallas, TX 75202",
        RedactionKind::Address,
    );
    assert_redacted(&out, text, "50502xxxxxxxxxx", RedactionKind::Imsi);
    assert_redacted(&out, text, "98200 00000", RedactionKind::Phone);
    assert_redacted(&out, text, "98209 99999", RedactionKind::Phone);
}

// ---------------------------------------------------------- allow-list ----

#[test]
fn allow_list_keeps_false_positives_but_never_member_names() {
    let anonymiser = Anonymiser::new(&strings(&["Acme Mobile", "Acme"]));
    let terms = SensitiveTerms::new(&strings(&["Riverside"]));
    let text = "Sydney Carter checked pgw07 at Riverside; Acme's core was fine.";
    let plain = anonymiser.scrub(text, &terms);
    assert_eq!(plain.count(RedactionKind::Person), 1, "{}", plain.text);
    assert_eq!(plain.count(RedactionKind::Host), 1, "{}", plain.text);
    let allow = AllowList::new(&strings(&["pgw07", "Acme", "Riverside"]));
    let out = anonymiser.scrub_with(text, &terms, &allow);
    assert_eq!(
        out.text,
        "[PERSON] checked pgw07 at [TERM]; [OPERATOR]'s core was fine."
    );
    // Same result twice: idempotent with the allow-list too.
    let again = anonymiser.scrub_with(&out.text, &terms, &allow);
    assert_eq!(again.text, out.text);
    assert!(again.redactions.is_empty());
    assert!(AllowList::empty().is_empty());
}

#[test]
fn official_references() {
    let text = "Police reference PV 2024/118 and police report 2024-118733 were filed.";
    let out = scrub(text);
    assert_redacted(&out, text, "2024/118", RedactionKind::Ticket);
    assert_redacted(&out, text, "2024-118733", RedactionKind::Ticket);
}
