//! Technical content that must survive scrubbing.
//!
//! Most technical tokens (emergency numbers, 3GPP references, cause codes,
//! times, percentages) survive simply because no detector claims them: the
//! detectors need long digit runs, specific shapes or context words. The spans
//! found here are a second line of defence: a *weak* candidate (a national
//! phone number without a prefix, a bare digit run, a ticket id) that lies
//! entirely inside one of them is dropped. Strong identifiers (URLs, e-mail
//! and IP addresses, `+`-prefixed phone numbers, operator names, sensitive
//! terms) are never vetoed.

use std::sync::LazyLock;

use regex::Regex;

static KEEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?xi)
          # software version or build after a keyword: build 2023101512, firmware 5.4.0.88
          (?-u:\b)(?:version|ver|release|rel|build|firmware|fw|software|sw|patch|hotfix|load|image|package|pkg|baseline|bundle)s?\.?[\ \t]*[:=\#]?[\ \t]*(?:no\.?[\ \t]*|number[\ \t]*)?v?\d[0-9a-z.\-_]*
          # dates: 2024-03-15, 2024-03-15T10:30, 15/03/2024, 15.03.24
        | (?-u:\b)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?:[t\ ]\d{1,2}:\d{2}(?::\d{2})?)?(?-u:\b)
        | (?-u:\b)\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})(?-u:\b)
          # compact timestamps: 20240315, 202403151030, 20240315T103000
        | (?-u:\b)(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?:[t_\-]?(?:[01]\d|2[0-3])[0-5]\d(?:[0-5]\d)?)?(?-u:\b)
          # counts and quantities: 11,800 calls, 1 500 000 subscribers, 125000000 devices
          # (plain numbers up to nine digits: longer runs are identifiers, not counts)
        | (?-u:\b)(?:[1-9]\d{0,2}(?:[,\ \u{A0}\u{202F}]\d{3})+|[1-9]\d{0,8})(?:\s+(?:million|billion|thousand))?\s+(?:[a-z\-]+\s+)?(?:calls?|callers?|customers?|subscribers?|users?|devices?|handsets?|attempts?|sessions?|messages?|sms|lines?|homes?|households?|people|persons|businesses|sites?|cells?|nodes?|routers?|servers?|packets?|requests?|registrations?|transactions?|bytes|octets|minutes|seconds|hours|ms)(?-u:\b)
          # protocol and cause codes: SIP 408, GTP cause 72, Diameter result code 5012
        | (?-u:\b)(?:sip|gtp(?:-?[cu])?(?:v[12])?|diameter|http|isup|q\.850|s1ap|ngap|x2ap|nas|emm|esm|5gmm|5gsm|ranap|bssap|map|cap|radius|dns|bgp|smpp)(?:/\d\.\d)?\s+(?:(?:result|experimental|error|response|status|reject|release|failure|cause|code)\s+)*[:=\#]?\s*\d{1,4}(?-u:\b)
        ",
    )
    .expect("static regex KEEP is valid")
});

/// Emergency and public-service numbers that are never treated as
/// identifiers, even after a word like "case" or "ticket". (Detectors need
/// at least six digits for a phone number, so these short numbers are never
/// phone candidates in the first place.)
pub const EMERGENCY_NUMBERS: &[&str] = &[
    "000", "08", "061", "100", "101", "102", "103", "104", "108", "110", "111", "112", "113",
    "115", "116", "117", "118", "119", "122", "123", "133", "140", "144", "15", "155", "17", "18",
    "190", "191", "192", "193", "197", "199", "911", "999", "1122", "10111", "116000", "116111",
    "116117",
];

pub(crate) fn is_emergency_number(s: &str) -> bool {
    EMERGENCY_NUMBERS.contains(&s)
}

/// How far around a candidate the must-keep patterns are evaluated. A
/// must-keep span that covers a candidate starts at most a keyword and a few
/// words before it ("firmware version no. ...") and ends a few words after
/// it ("... million emergency calls").
const WINDOW_BEFORE: usize = 48;
const WINDOW_AFTER: usize = 64;

/// Is `start..end` entirely inside a must-keep span of `text`? Only the
/// surroundings of the candidate are scanned; the window is cut at
/// whitespace so that no token is seen half.
pub(crate) fn covered_by_keep(text: &str, start: usize, end: usize) -> bool {
    let bytes = text.as_bytes();
    let mut lo = start.saturating_sub(WINDOW_BEFORE);
    if lo > 0 && !bytes[lo - 1].is_ascii_whitespace() {
        match bytes[lo..start].iter().position(u8::is_ascii_whitespace) {
            Some(i) => lo += i + 1,
            None => lo = start,
        }
    }
    let mut hi = (end + WINDOW_AFTER).min(bytes.len());
    if hi < bytes.len() && !bytes[hi].is_ascii_whitespace() {
        match bytes[end..hi].iter().rposition(u8::is_ascii_whitespace) {
            Some(i) => hi = end + i,
            None => hi = end,
        }
    }
    let Some(window) = text.get(lo..hi) else {
        return false;
    };
    KEEP.find_iter(window)
        .any(|m| lo + m.start() <= start && lo + m.end() >= end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(text: &str) -> Vec<&str> {
        KEEP.find_iter(text).map(|m| m.as_str()).collect()
    }

    #[test]
    fn finds_keep_spans() {
        assert_eq!(spans("build 2023101512 done"), ["build 2023101512"]);
        assert_eq!(spans("on 2024-03-15T10:30 we"), ["2024-03-15T10:30"]);
        assert_eq!(spans("log 20240315103000"), ["20240315103000"]);
        assert_eq!(spans("1 500 000 subscribers"), ["1 500 000 subscribers"]);
        assert_eq!(spans("125000000 devices"), ["125000000 devices"]);
        assert_eq!(
            spans("Diameter result code 5012"),
            ["Diameter result code 5012"]
        );
        assert!(spans("0612345678 calls").is_empty());
    }

    #[test]
    fn covering_is_checked_in_a_window() {
        let text = "the rebuild 2023101512 and then firmware build 2023101512 again";
        let first = text.find("2023101512").expect("present");
        let second = text.rfind("2023101512").expect("present");
        assert!(!covered_by_keep(text, first, first + 10));
        assert!(covered_by_keep(text, second, second + 10));
        let long = format!("{} 125000000 devices", "x".repeat(100));
        let at = long.find("125").expect("present");
        assert!(covered_by_keep(&long, at, at + 9));
    }
}
