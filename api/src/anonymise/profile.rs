use super::*;
use std::time::Instant;
#[test]
fn profile_detectors() {
    let text = std::fs::read_to_string("/tmp/report.txt").unwrap();
    let n = 3000;
    let mut folded = String::new();
    macro_rules! t {
        ($name:expr, $e:expr) => {{
            let st = Instant::now();
            for _ in 0..n {
                let mut found = Found::default();
                $e(&mut found);
                std::hint::black_box(&found);
            }
            println!(
                "{:>12}: {:>8.1} us",
                $name,
                st.elapsed().as_secs_f64() * 1e6 / n as f64
            );
        }};
    }
    names::fold_into(&text, &mut folded);
    let st = Instant::now();
    for _ in 0..n {
        names::fold_into(&text, &mut folded);
    }
    println!("fold: {:.1}", st.elapsed().as_secs_f64() * 1e6 / n as f64);
    t!("urls", |f: &mut Found| detect::urls(&text, f));
    t!("emails", |f: &mut Found| detect::emails(&text, &folded, f));
    t!("macs", |f: &mut Found| detect::macs(&text, f));
    t!("ipv6", |f: &mut Found| detect::ipv6(&text, f));
    t!("ipv4", |f: &mut Found| detect::ipv4(&text, f));
    t!("hosts", |f: &mut Found| detect::hosts(&text, f));
    t!("phones", |f: &mut Found| detect::phones(&text, f));
    t!("mobile_ids", |f: &mut Found| detect::mobile_ids(&text, f));
    t!("tickets", |f: &mut Found| detect::tickets(&text, f));
    t!("persons", |f: &mut Found| person::persons(&text, f));
    let mut keep = Vec::new();
    let st = Instant::now();
    for _ in 0..n {
        keep.clear();
        keep::keep_spans(&text, &mut keep);
    }
    println!("keep: {:.1}", st.elapsed().as_secs_f64() * 1e6 / n as f64);
    let ops: Vec<String> = [
        "Acme Mobile",
        "Acme",
        "Orange",
        "SFR",
        "Free Mobile",
        "Vodafone",
        "Telstra",
        "Optus",
        "Swisscom",
        "Rogers",
        "BT",
        "EE",
        "Deutsche Telekom",
        "T-Mobile",
        "AT&T",
        "Verizon",
        "SK Telecom",
        "KT Corporation",
        "CenturyLink",
        "Level 3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let a = Anonymiser::new(&ops);
    t!("names", |f: &mut Found| a.operators.find(
        &text,
        &folded,
        |s, e| f.redact(s, e, RedactionKind::Operator, Tier::Strong)
    ));
    let terms = SensitiveTerms::empty();
    let st = Instant::now();
    for _ in 0..n {
        std::hint::black_box(a.scrub(&text, &terms));
    }
    println!(
        "scrub total: {:.1}",
        st.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}

#[test]
fn profile_regexes() {
    let text = std::fs::read_to_string("/tmp/report.txt").unwrap();
    let n = 3000;
    for (name, re) in [
        ("URL", &*detect::URL),
        ("MAC", &*detect::MAC),
        ("IPV6", &*detect::IPV6),
        ("IPV4", &*detect::IPV4),
        ("HOST", &*detect::HOST),
        ("PHONE", &*detect::PHONE),
        ("PHONE_KEYWORD", &*detect::PHONE_KEYWORD),
        ("MOBILE_ID_SHAPED", &*detect::MOBILE_ID_SHAPED),
        ("MOBILE_ID_KEYWORD", &*detect::MOBILE_ID_KEYWORD),
        ("BARE_DIGITS", &*detect::BARE_DIGITS),
        ("TICKET", &*detect::TICKET),
        ("TICKET_KEYWORD", &*detect::TICKET_KEYWORD),
    ] {
        let st = Instant::now();
        let mut c = 0;
        for _ in 0..n {
            c += re.find_iter(&text).count();
        }
        println!(
            "{:>18}: {:>8.1} us  ({} matches)",
            name,
            st.elapsed().as_secs_f64() * 1e6 / n as f64,
            c / n
        );
    }
}
