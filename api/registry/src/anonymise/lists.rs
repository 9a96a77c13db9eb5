//! Word lists compiled into the binary (`include_str!`) and parsed once, on
//! first use, into hash sets shared by every scrub.
//!
//! The lists live in `api/registry/data/`; their sources and licences are
//! named in the README there. All keys are *folded* (see
//! [`super::names::fold_into`]), so a word is looked up by slicing the
//! folded text at the word's offsets: no allocation per lookup.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

const GIVEN_NAMES: &str = include_str!("../../data/names/given-names.txt");
const SURNAMES: &str = include_str!("../../data/names/surnames.txt");
const OPERATORS: &str = include_str!("../../data/operators.txt");
const OPERATORS_EXTRA: &str = include_str!("../../data/operators-extra.txt");
const PLMN_CODES: &str = include_str!("../../data/plmn-codes.txt");
const TECHNICAL_TERMS: &str = include_str!("../../data/technical-terms.txt");
const COUNTRIES: &str = include_str!("../../data/countries.txt");
const PLACE_NAMES: &str = include_str!("../../data/place-names.txt");

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
static GIVEN: LazyLock<HashMap<&'static str, bool>> =
    LazyLock::new(|| entries(GIVEN_NAMES).collect());

/// Surnames: value is true when the surname is also an English word
/// ("doe", "call", "server").
static SURNAME: LazyLock<HashMap<&'static str, bool>> =
    LazyLock::new(|| entries(SURNAMES).collect());

static TECH: LazyLock<HashSet<String>> =
    LazyLock::new(|| words(TECHNICAL_TERMS).map(folded).collect());

static COUNTRY: LazyLock<HashSet<String>> =
    LazyLock::new(|| words(COUNTRIES).map(folded).collect());

static PLACE: LazyLock<HashSet<String>> =
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
fn lookup(map: &HashMap<&'static str, bool>, folded: &str) -> Option<bool> {
    map.get(folded).copied().or_else(|| {
        if folded.is_ascii() {
            return None;
        }
        map.get(super::names::strip_diacritics(folded).as_str())
            .copied()
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
