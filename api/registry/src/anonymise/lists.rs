//! Word lists compiled into the binary (`include_str!`) and parsed once, on
//! first use, into hash sets shared by every scrub.
//!
//! The lists live in `api/registry/data/`; their sources and licences are
//! named in the README there. All keys are *folded* (see
//! [`super::names::fold_into`]), so a word is looked up by slicing the
//! folded text at the word's offsets: no allocation per lookup.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

/// FNV-1a: the name sets are looked up a few hundred times per report with
/// short keys, where SipHash's setup dominates. (No denial-of-service
/// concern: the keys are fixed lists, the lookups only read.)
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;
pub(crate) type FastSet<K> = HashSet<K, BuildHasherDefault<Fnv>>;

/// A hash set of a fixed word list (for lists long enough that a linear
/// scan per token shows in the profile).
pub(crate) fn word_set(words: &[&'static str]) -> FastSet<&'static str> {
    words.iter().copied().collect()
}

const GIVEN_NAMES: &str = include_str!("../../data/names/given-names.txt");
const SURNAMES: &str = include_str!("../../data/names/surnames.txt");
const OPERATORS: &str = include_str!("../../data/operators.txt");
const OPERATORS_EXTRA: &str = include_str!("../../data/operators-extra.txt");
const PLMN_CODES: &str = include_str!("../../data/plmn-codes.txt");
const TECHNICAL_TERMS: &str = include_str!("../../data/technical-terms.txt");
const COUNTRIES: &str = include_str!("../../data/countries.txt");
const PLACE_NAMES: &str = include_str!("../../data/place-names.txt");
const ENGLISH_WORDS: &str = include_str!("../../data/english-words.txt");

/// Lines of a list file, without comments and blank lines, with the
/// optional `\tw` flag ("also an ordinary English word") split off.
fn entries(list: &'static str) -> impl Iterator<Item = (&'static str, bool)> {
    list.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('\t') {
            Some((name, flag)) => (name, flag.trim() == "w"),
            None => (l, false),
        })
}

/// Whitespace-separated words of a list file, without comment lines.
fn words(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.lines()
        .filter(|l| !l.starts_with('#'))
        .flat_map(str::split_whitespace)
}

fn folded(word: &str) -> String {
    word.chars().map(super::names::fold_char).collect()
}

/// Given names: value is true when the name is also an English word
/// ("will", "may", "mark").
static GIVEN: LazyLock<NameSet> = LazyLock::new(|| NameSet::new(GIVEN_NAMES));

/// Surnames: value is true when the surname is also an English word
/// ("doe", "call", "server").
static SURNAME: LazyLock<NameSet> = LazyLock::new(|| NameSet::new(SURNAMES));

/// Lower-case English words: an unknown capitalised word that is one
/// ("Because", "Northern") is not an unknown name.
static ENGLISH: LazyLock<NameSet> = LazyLock::new(|| NameSet::new(ENGLISH_WORDS));

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.write(bytes);
    h.finish()
}

/// A name list as 64-bit hashes (no string compare, one cache line per
/// probe) behind a small Bloom filter: most capitalised words of a report
/// are not names, and the filter (a few dozen kilobytes, cache-resident)
/// rejects them without touching the table.
#[derive(Debug)]
struct NameSet {
    bloom: Vec<u64>,
    table: FastMap<u64, bool>,
}

impl NameSet {
    fn new(list: &'static str) -> NameSet {
        let table: FastMap<u64, bool> =
            entries(list).map(|(n, w)| (fnv(n.as_bytes()), w)).collect();
        // About 12 bits per name: under 1% false positives with 4 probes.
        let words = (table.len() * 12 / 64).next_power_of_two().max(64);
        let mut bloom = vec![0u64; words];
        for &h in table.keys() {
            for bit in Self::bits(h, words * 64) {
                bloom[bit / 64] |= 1 << (bit % 64);
            }
        }
        NameSet { bloom, table }
    }

    fn bits(h: u64, size: usize) -> impl Iterator<Item = usize> {
        let (a, b) = (h, h.rotate_left(32) | 1);
        (0..4u64).map(move |i| (a.wrapping_add(i.wrapping_mul(b)) as usize) & (size - 1))
    }

    fn get(&self, folded: &str) -> Option<bool> {
        let h = fnv(folded.as_bytes());
        let size = self.bloom.len() * 64;
        if Self::bits(h, size).any(|bit| self.bloom[bit / 64] & (1 << (bit % 64)) == 0) {
            return None;
        }
        self.table.get(&h).copied()
    }
}

static TECH: LazyLock<FastSet<String>> =
    LazyLock::new(|| words(TECHNICAL_TERMS).map(folded).collect());

static COUNTRY: LazyLock<FastSet<String>> =
    LazyLock::new(|| words(COUNTRIES).map(folded).collect());

static PLACE: LazyLock<FastSet<String>> =
    LazyLock::new(|| words(PLACE_NAMES).map(folded).collect());

static PLMN: LazyLock<HashSet<(u16, u16)>> = LazyLock::new(|| {
    PLMN_CODES
        .lines()
        .filter_map(|l| {
            let (mcc, mnc) = l.split_once(' ')?;
            Some((mcc.parse().ok()?, mnc.parse().ok()?))
        })
        .collect()
});

static MCC: LazyLock<HashSet<u16>> = LazyLock::new(|| PLMN.iter().map(|&(mcc, _)| mcc).collect());

/// Looks `folded` up, then its diacritic-free form: the lists spell some
/// names both ways and some only without (`zielinski` for `Zieliński`).
fn lookup(map: &NameSet, folded: &str) -> Option<bool> {
    map.get(folded).or_else(|| {
        if folded.is_ascii() {
            return None;
        }
        map.get(super::names::strip_diacritics(folded).as_str())
    })
}

/// `Some(is_english_word)` if `folded` is a known given name.
pub(crate) fn given_name(folded: &str) -> Option<bool> {
    lookup(&GIVEN, folded)
}

/// `Some(is_english_word)` if `folded` is a known surname.
pub(crate) fn surname(folded: &str) -> Option<bool> {
    lookup(&SURNAME, folded)
}

/// An ordinary English word (folded).
pub(crate) fn is_english_word(folded: &str) -> bool {
    ENGLISH.get(folded).is_some()
}

/// A 3GPP/IETF/IT term ("mme", "s1-mme", "vlan").
pub(crate) fn is_technical(folded: &str) -> bool {
    TECH.contains(folded)
}

/// A country, region or operator-suffix word ("ireland", "uk", "telecom").
pub(crate) fn is_country_or_suffix(folded: &str) -> bool {
    COUNTRY.contains(folded)
}

/// A given name that is also a well-known place, product or season.
pub(crate) fn is_place_like(folded: &str) -> bool {
    PLACE.contains(folded)
}

/// A mobile country code in use.
pub(crate) fn is_mcc(mcc: u16) -> bool {
    MCC.contains(&mcc)
}

/// An MCC-MNC pair in use.
pub(crate) fn is_plmn(mcc: u16, mnc: u16) -> bool {
    PLMN.contains(&(mcc, mnc))
}

/// Operator and brand names of the world list with their "ordinary word"
/// flag (see `data/README.md`).
pub(crate) fn world_operators() -> impl Iterator<Item = (&'static str, bool)> {
    entries(OPERATORS).chain(entries(OPERATORS_EXTRA))
}

/// Forces every list to load (for benchmarks and start-up warm-up).
pub(crate) fn warm_up() {
    LazyLock::force(&GIVEN);
    LazyLock::force(&SURNAME);
    LazyLock::force(&ENGLISH);
    LazyLock::force(&TECH);
    LazyLock::force(&COUNTRY);
    LazyLock::force(&PLACE);
    LazyLock::force(&MCC);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_load_and_answer() {
        assert_eq!(given_name("julien"), Some(false));
        assert_eq!(given_name("will"), Some(true));
        assert!(surname("moreau").is_some());
        assert_eq!(surname("server"), Some(true));
        assert!(given_name("gateway").is_none());
        assert!(is_technical("s1-mme"));
        assert!(is_technical("volte"));
        assert!(is_country_or_suffix("ireland"));
        assert!(is_place_like("sydney"));
        assert!(is_mcc(208));
        assert!(is_plmn(208, 1));
        assert!(world_operators().any(|(n, _)| n == "Vodafone"));
    }
}
