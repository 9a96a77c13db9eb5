//! A small deterministic corpus of incident-like reports in hidden
//! families, for tests and benchmarks of clustering: Zipf word-salad filler,
//! family phrases, host names, tickets, alarm codes, addresses and numbers,
//! and a confounding sentence pair from another family in one report of five.

use super::ClusterInput;
use super::method::Rng;
use crate::doc::Tlp;

/// Families: name and the phrases their reports are written with.
pub const FAMILIES: &[(&str, &[&str])] = &[
    (
        "certificate",
        &[
            "certificate expiry",
            "expired certificate",
            "tls handshake failures",
            "certificate renewal",
            "keystore rollover",
            "internal certificate authority",
        ],
    ),
    (
        "fibre",
        &[
            "fibre cut",
            "excavator severed the duct",
            "third-party civil works",
            "splicing crews",
            "backbone cable damaged",
            "diverse route missing",
        ],
    ),
    (
        "signalling",
        &[
            "signalling storm after restart",
            "registration flood",
            "attach requests surged",
            "overload control",
            "reattach storm",
            "paging load",
        ],
    ),
    (
        "power",
        &[
            "mains power loss",
            "generator failed to start",
            "battery backup drained",
            "rectifier alarm",
            "power distribution board",
            "fuel supply",
        ],
    ),
    (
        "dns",
        &[
            "dns resolver failure",
            "recursive resolvers crashed",
            "name resolution timeouts",
            "resolver cache",
            "anycast resolver nodes",
            "query backlog",
        ],
    ),
    (
        "bgp",
        &[
            "bgp route leak",
            "leaked prefixes",
            "route filters",
            "peering session",
            "more specific routes",
            "upstream transit",
        ],
    ),
];

/// Relative frequencies of the families (skewed, as in real registries).
const WEIGHTS: &[u32] = &[3, 10, 5, 7, 4, 6];

const SYLLABLES: &[&str] = &[
    "ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "qui", "ro", "su",
    "ta", "ve", "wi", "xo", "yu", "za", "bre", "cla", "dro", "fle", "gri", "plo", "stra", "tro",
    "vin",
];

/// The `r`-th filler word (letters only).
fn filler_word(mut r: usize) -> String {
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[r % SYLLABLES.len()]);
        r /= SYLLABLES.len();
        if r == 0 && w.len() >= 4 {
            return w;
        }
    }
}

fn identifier(rng: &mut Rng) -> String {
    let n = rng.next_u64();
    let kinds = ["mme", "sgw", "pgw", "hss", "rtr", "dns"];
    let sites = ["ams", "par", "ber", "lon", "mad", "rom", "vie", "osl"];
    match n % 6 {
        0 => format!(
            "{}-{}-{:02}",
            kinds[(n >> 8) as usize % kinds.len()],
            sites[(n >> 16) as usize % sites.len()],
            (n >> 24) % 40
        ),
        1 => format!("INC{}", 100_000 + (n >> 8) % 900_000),
        2 => format!("ALM-{}", 100 + (n >> 8) % 900),
        3 => format!(
            "10.{}.{}.{}",
            (n >> 8) % 256,
            (n >> 16) % 256,
            1 + (n >> 24) % 254
        ),
        4 => format!("{}", (n >> 8) % 5000),
        _ => format!("CHG-{}", 100_000 + (n >> 8) % 900_000),
    }
}

/// `n` reports and the family index of each. Report `i` depends only on
/// `(seed, i)`.
pub fn corpus(n: usize, seed: u64) -> (Vec<ClusterInput>, Vec<usize>) {
    let total: u32 = WEIGHTS.iter().sum();
    let vocab = 3000usize;
    // Zipf(1.0) cumulative weights over the filler vocabulary.
    let mut cum = Vec::with_capacity(vocab);
    let mut acc = 0f64;
    for r in 1..=vocab {
        acc += 1.0 / r as f64;
        cum.push(acc);
    }
    let mut docs = Vec::with_capacity(n);
    let mut families = Vec::with_capacity(n);
    for i in 0..n {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9) ^ (i as u64).wrapping_mul(0x85eb_ca6b));
        let mut pick = (rng.next_u64() % u64::from(total)) as u32;
        let mut fam = 0;
        while pick >= WEIGHTS[fam] {
            pick -= WEIGHTS[fam];
            fam += 1;
        }
        let phrases = FAMILIES[fam].1;
        let mut text = String::new();
        let p = |rng: &mut Rng, ph: &[&str]| {
            ph[(rng.next_u64() % ph.len() as u64) as usize].to_string()
        };
        text.push_str(&format!(
            "{} on {} ({})\n",
            capitalise(&p(&mut rng, phrases)),
            identifier(&mut rng),
            identifier(&mut rng)
        ));
        let sentences = 10 + (rng.next_u64() % 10) as usize;
        let confounder = rng.next_u64().is_multiple_of(5);
        let other =
            (fam + 1 + (rng.next_u64() % (FAMILIES.len() as u64 - 1)) as usize) % FAMILIES.len();
        for s in 0..sentences {
            let words = 8 + (rng.next_u64() % 10) as usize;
            let mut sent: Vec<String> = Vec::with_capacity(words + 4);
            for _ in 0..words {
                let x = rng.unit() * acc;
                let r = cum.partition_point(|&c| c < x);
                sent.push(filler_word(r));
            }
            if s % 2 == 0 || rng.next_u64().is_multiple_of(3) {
                let at = (rng.next_u64() % sent.len() as u64) as usize;
                sent.insert(at, p(&mut rng, phrases));
            }
            if rng.next_u64().is_multiple_of(3) {
                let at = (rng.next_u64() % sent.len() as u64) as usize;
                sent.insert(at, identifier(&mut rng));
            }
            if confounder && s < 2 {
                let at = (rng.next_u64() % sent.len() as u64) as usize;
                sent.insert(at, p(&mut rng, FAMILIES[other].1));
            }
            text.push_str(&capitalise(&sent.join(" ")));
            text.push_str(". ");
        }
        docs.push(ClusterInput {
            id: format!("syn-{i:06}"),
            tlp: Some(Tlp::Clear),
            text,
            ..Default::default()
        });
        families.push(fam);
    }
    (docs, families)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}
