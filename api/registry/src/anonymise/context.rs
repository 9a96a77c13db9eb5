//! Small, bounded helpers to look at the words around a candidate.
//!
//! Every scan is capped at [`MAX_SCAN`] characters so that adversarial input
//! (megabytes without a space) cannot make the scrubber quadratic.

/// How far (in characters) a context lookup scans for whitespace or a token.
const MAX_SCAN: usize = 48;

/// Punctuation trimmed from both ends of a context token.
fn is_token_punct(c: char) -> bool {
    matches!(
        c,
        '(' | ')' | '[' | ']' | '{' | '}' | ',' | ';' | ':' | '"' | '\'' | '.' | '!' | '?' | '='
    ) || c == '\u{2019}'
        || c == '\u{201c}'
        || c == '\u{201d}'
}

/// The whitespace-delimited token that ends at or before byte `pos`
/// (skipping whitespace), as `(token, token_start)`. Surrounding punctuation
/// is trimmed from the returned token but `token_start` is the raw start.
pub(crate) fn prev_token(text: &str, pos: usize) -> Option<(&str, usize)> {
    let before = text.get(..pos)?;
    let mut end = before.len();
    let mut scanned = 0;
    let mut chars = before.char_indices().rev().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if !c.is_whitespace() {
            break;
        }
        end = i;
        chars.next();
        scanned += 1;
        if scanned > MAX_SCAN {
            return None;
        }
    }
    let mut start = end;
    scanned = 0;
    for (i, c) in chars {
        if c.is_whitespace() {
            break;
        }
        start = i;
        scanned += 1;
        if scanned > MAX_SCAN {
            return None;
        }
    }
    if start == end {
        return None;
    }
    let raw = before.get(start..end)?;
    Some((raw.trim_matches(is_token_punct), start))
}

/// The whitespace-delimited token that starts at or after byte `pos`
/// (skipping whitespace), trimmed of surrounding punctuation.
pub(crate) fn next_token(text: &str, pos: usize) -> Option<&str> {
    let after = text.get(pos..)?;
    let mut start = None;
    let mut end = after.len();
    for (scanned, (i, c)) in after.char_indices().enumerate() {
        if scanned > 2 * MAX_SCAN {
            return None;
        }
        match (start, c.is_whitespace()) {
            (None, true) => {}
            (None, false) => start = Some(i),
            (Some(_), true) => {
                end = i;
                break;
            }
            (Some(_), false) => {}
        }
    }
    let raw = after.get(start?..end)?;
    Some(raw.trim_matches(is_token_punct))
}

/// Case-insensitive (ASCII) membership test.
pub(crate) fn is_one_of(token: &str, words: &[&str]) -> bool {
    words.iter().any(|w| w.eq_ignore_ascii_case(token))
}

/// The character just before byte `pos`, if any.
pub(crate) fn char_before(text: &str, pos: usize) -> Option<char> {
    text.get(..pos)?.chars().next_back()
}

/// The character at byte `pos`, if any.
pub(crate) fn char_at(text: &str, pos: usize) -> Option<char> {
    text.get(pos..)?.chars().next()
}

/// The two characters starting at byte `pos`.
pub(crate) fn two_chars_at(text: &str, pos: usize) -> (Option<char>, Option<char>) {
    let mut it = text.get(pos..).into_iter().flat_map(str::chars);
    (it.next(), it.next())
}

/// True when the number ending at `end` continues as a decimal, a time, a
/// dotted sequence or a unit directly glued to it (`12:30`, `3.5`, `10%`).
pub(crate) fn continues_number(text: &str, end: usize) -> bool {
    match two_chars_at(text, end) {
        (Some(':' | '.' | ','), Some(d)) => d.is_ascii_digit(),
        (Some('%'), _) => true,
        (Some(c), _) => c.is_alphanumeric(),
        _ => false,
    }
}

/// True when the number starting at `start` is the tail of a larger number
/// or dotted sequence (`1.2.3.4` inside `9.1.2.3.4`, `3.14` after a dot).
pub(crate) fn continues_from_left(text: &str, start: usize) -> bool {
    let Some(before) = text.get(..start) else {
        return true;
    };
    let mut it = before.chars().rev();
    match (it.next(), it.next()) {
        (Some('.' | ',' | ':'), Some(d)) => d.is_ascii_digit(),
        (Some(c), _) => c.is_alphanumeric(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_around_a_position() {
        let t = "upgraded to (version: 5.4.0.88) today";
        let pos = t.find("5.4").expect("present");
        assert_eq!(prev_token(t, pos).map(|x| x.0), Some("version"));
        let (_, start) = prev_token(t, pos).expect("token");
        assert_eq!(prev_token(t, start).map(|x| x.0), Some("to"));
        assert_eq!(next_token(t, pos + 8), Some(""));
        assert_eq!(next_token(t, pos + 9), Some("today"));
        assert_eq!(prev_token(t, 0), None);
        assert_eq!(next_token(t, t.len()), None);
    }

    #[test]
    fn scans_are_bounded() {
        let long = "x".repeat(10_000);
        assert_eq!(prev_token(&long, long.len()), None);
        assert_eq!(next_token(&long, 0), None);
    }

    #[test]
    fn number_continuation() {
        assert!(continues_number("10:30", 2));
        assert!(continues_number("3.5", 1));
        assert!(!continues_number("3. Next", 1));
        assert!(continues_from_left("9.1.2", 2));
        assert!(!continues_from_left("at 1.2", 3));
    }
}
