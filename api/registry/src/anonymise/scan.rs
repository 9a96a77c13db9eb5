//! Restricting the regex scans to the parts of the text that can matter.
//!
//! Every structured identifier (number, address, host, URL, e-mail, ticket)
//! lies within *technical tokens*: whitespace-delimited tokens that contain
//! an ASCII digit, an `@`, `://`, or a `.`, `:` or `/` between two letters or
//! digits. Prose words never do. The structural detectors therefore run over
//! a [`Compact`] text made of the runs of technical tokens only, and the
//! keyword-led detectors (`IMSI 2081...`, `ticket 4711`, `tel 06...`) over
//! the same runs extended backwards by a few tokens. Matches are mapped back
//! to byte offsets in the original text; all validation looks at the
//! original. On ordinary prose this cuts the scanned bytes several-fold.

/// Separator between zones in a compact text: a newline (ends every pattern
/// that stops at whitespace) followed by a control character that no
/// pattern matches (stops `\s*` from reaching into the next zone).
const SEPARATOR: &str = "\n\u{1}";

/// How far a keyed zone reaches back before its first technical token.
/// Keywords are at most "keyword no. is" away from their number.
const LOOKBACK_TOKENS: usize = 3;
const LOOKBACK_BYTES: usize = 40;

/// Zones of one text, concatenated with [`SEPARATOR`]s.
#[derive(Debug, Default)]
pub(crate) struct Compact {
    pub(crate) text: String,
    /// `(start in compact text, start in original text, length)`.
    zones: Vec<(usize, usize, usize)>,
}

impl Compact {
    fn build(&mut self, original: &str, zones: &[(usize, usize)]) {
        self.text.clear();
        self.zones.clear();
        for &(start, end) in zones {
            if let Some(zone) = original.get(start..end) {
                self.zones.push((self.text.len(), start, zone.len()));
                self.text.push_str(zone);
                self.text.push_str(SEPARATOR);
            }
        }
    }

    /// Maps a match `start..end` of the compact text to the original text;
    /// `None` if it crosses a zone boundary.
    pub(crate) fn span(&self, start: usize, end: usize) -> Option<(usize, usize)> {
        let i = self.zones.partition_point(|&(c, _, _)| c <= start);
        let (c, o, len) = *self.zones.get(i.checked_sub(1)?)?;
        (end <= c + len && end >= start).then(|| (o + (start - c), o + (end - c)))
    }
}

/// What a detector looks at: the original text, its folded form and its
/// compact views.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scan<'a> {
    pub(crate) text: &'a str,
    pub(crate) folded: &'a str,
    /// `" "` + the folded text with list punctuation blanked (see
    /// [`bounded_into`]): byte `i + 1` of it is byte `i` of the text.
    pub(crate) bounded: &'a str,
    pub(crate) tech: &'a Compact,
    pub(crate) keyed: &'a Compact,
    /// Whitespace-delimited tokens: `(start, end, technical)`.
    pub(crate) tokens: &'a [(usize, usize, bool)],
}

/// Writes `" "` followed by `folded` with the punctuation that can precede
/// or follow a word in prose (brackets, quotes, commas, slashes, ...)
/// replaced by spaces. Automata whose patterns start with a space then
/// match at word starts only, which avoids thousands of matches of short
/// words inside longer ones ("one" in "phone", "lat" in "latency").
pub(crate) fn bounded_into(folded: &str, buf: &mut String) {
    let mut bytes = std::mem::take(buf).into_bytes();
    bytes.clear();
    bytes.reserve(folded.len() + 1);
    bytes.push(b' ');
    // Only ASCII bytes are replaced, by ASCII: the result stays UTF-8.
    bytes.extend(folded.bytes().map(|b| {
        if matches!(
            b,
            b'(' | b')'
                | b'['
                | b']'
                | b'{'
                | b'}'
                | b'"'
                | b','
                | b';'
                | b'/'
                | b'\\'
                | b'|'
                | b'<'
                | b'>'
                | b'?'
                | b'*'
                | b'#'
                | b'='
                | b'~'
                | b'`'
                | b'^'
                | b'%'
                | b'$'
                | b'@'
                | b':'
                | b'!'
        ) {
            b' '
        } else {
            b
        }
    }));
    *buf = String::from_utf8(bytes).unwrap_or_default();
}

/// The two compact views of a text.
#[derive(Debug, Default)]
pub(crate) struct Zones {
    /// Runs of technical tokens.
    pub(crate) tech: Compact,
    /// The same runs with up to [`LOOKBACK_TOKENS`] preceding tokens.
    pub(crate) keyed: Compact,
    pub(crate) tokens: Vec<(usize, usize, bool)>,
    /// Offsets of the words that start with a capital letter or a digit.
    pub(crate) starts: Vec<usize>,
    spans: Vec<(usize, usize)>,
}

const SPACE: u8 = 1;
const MARK: u8 = 2;
const PUNCT: u8 = 4;
/// An ASCII capital or digit (a digit is also `MARK`).
const CAPITAL: u8 = 8;
/// The first byte of a multi-byte character.
const MULTI: u8 = 16;
/// Prose punctuation that the bounded text blanks (see [`bounded_into`]).
const BLANK: u8 = 32;

/// Byte classes: ASCII whitespace, bytes that make a token technical on
/// their own (digits, `@`), and punctuation that may (`.`, `:`, `/`).
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[0x0b] = SPACE;
    t[0x0c] = SPACE;
    let mut d = b'0';
    while d <= b'9' {
        t[d as usize] = MARK | CAPITAL;
        d += 1;
    }
    let mut c = b'A';
    while c <= b'Z' {
        t[c as usize] = CAPITAL;
        c += 1;
    }
    let mut m = 0xC0;
    while m < 256 {
        t[m] = MULTI;
        m += 1;
    }
    let blanks = b"()[]{}\",;/\\|<>?*#=~`^%$@:!";
    let mut k = 0;
    while k < blanks.len() {
        t[blanks[k] as usize] |= BLANK;
        k += 1;
    }
    t[b'@' as usize] |= MARK;
    t[b'.' as usize] |= PUNCT;
    t[b':' as usize] |= PUNCT;
    t[b'/' as usize] |= PUNCT;
    t
};

/// Is the whitespace-delimited token technical (see the module docs)?
fn is_technical(token: &[u8]) -> bool {
    let mut prev_alnum = false;
    for (i, &b) in token.iter().enumerate() {
        match b {
            b'0'..=b'9' | b'@' => return true,
            b'.' | b':' | b'/' => {
                let next_alnum = token.get(i + 1).is_some_and(u8::is_ascii_alphanumeric);
                if prev_alnum && (next_alnum || token[i + 1..].starts_with(b"//")) {
                    return true;
                }
                prev_alnum = false;
            }
            _ => prev_alnum = b.is_ascii_alphanumeric() || b >= 0x80,
        }
    }
    false
}

/// Could the token (after leading punctuation) start with one of the
/// keywords that announce identifiers (`imsi`, `tel`, `ticket`, ...; see
/// `detect::KEYWORDED`)? Compares the first three letters.
fn may_start_keyword(token: &[u8]) -> bool {
    let skip = token
        .iter()
        .position(u8::is_ascii_alphanumeric)
        .unwrap_or(token.len());
    let mut p = [0u8; 3];
    for (slot, b) in p.iter_mut().zip(&token[skip..]) {
        *slot = b.to_ascii_lowercase();
    }
    matches!(
        &p,
        b"ims"
            | b"ime"
            | b"icc"
            | b"msi"
            | b"sup"
            | b"gps"
            | b"e.1"
            | b"e16"
            | b"tel"
            | b"pho"
            | b"mob"
            | b"cel"
            | b"fax"
            | b"hot"
            | b"wha"
            | b"cal"
            | b"rin"
            | b"dia"
            | b"sms"
            | b"tro"
            | b"tic"
            | b"tkt"
            | b"cas"
            | b"inc"
            | b"ref"
            | b"wor"
            | b"cha"
            | b"ser"
            | b"req"
    ) || (p[0] == b't' && p[1] == b't' && !p[2].is_ascii_alphanumeric())
}

impl Zones {
    pub(crate) fn build(&mut self, text: &str) {
        let bytes = text.as_bytes();
        self.tokens.clear();
        self.starts.clear();
        let mut i = 0;
        while i < bytes.len() {
            while i < bytes.len() && CLASSES[usize::from(bytes[i])] == SPACE {
                i += 1;
            }
            let start = i;
            let mut seen = 0;
            while i < bytes.len() {
                let class = CLASSES[usize::from(bytes[i])];
                if class == SPACE {
                    break;
                }
                seen |= class;
                // Word starts with a capital or a digit, after whitespace or
                // prose punctuation (as in the bounded text): where operator
                // and person names can start.
                if class & (CAPITAL | MULTI) != 0
                    && (i == start || CLASSES[usize::from(bytes[i - 1])] & BLANK != 0)
                    && (class & CAPITAL != 0
                        || text
                            .get(i..)
                            .and_then(|r| r.chars().next())
                            .is_some_and(char::is_uppercase))
                {
                    self.starts.push(i);
                }
                i += 1;
            }
            if start < i {
                let technical =
                    seen & MARK != 0 || (seen & PUNCT != 0 && is_technical(&bytes[start..i]));
                self.tokens.push((start, i, technical));
            }
        }
        // Technical runs: consecutive technical tokens separated by spaces
        // or tabs only (`07 12 34 56 78`, `+44 (0)20 7946 0958`).
        self.spans.clear();
        for &(start, end, technical) in &self.tokens {
            if !technical {
                continue;
            }
            match self.spans.last_mut() {
                Some(last)
                    if bytes[last.1..start]
                        .iter()
                        .all(|&b| b == b' ' || b == b'\t') =>
                {
                    last.1 = end;
                }
                _ => self.spans.push((start, end)),
            }
        }
        self.tech.build(text, &self.spans);
        // Keyed runs: only where a keyword can precede the run. Extend the
        // run back to the furthest of the few preceding tokens that could
        // start a keyword (or keep the run if its own first token could).
        let mut keyed: Vec<(usize, usize)> = Vec::with_capacity(self.spans.len());
        let mut t = 0;
        for &(start, end) in &self.spans {
            while t < self.tokens.len() && self.tokens[t].0 < start {
                t += 1;
            }
            let mut new_start = None;
            for back in 0..=LOOKBACK_TOKENS {
                let Some(&(s, e, _)) = t.checked_sub(back).and_then(|j| self.tokens.get(j)) else {
                    break;
                };
                if start - s > LOOKBACK_BYTES {
                    break;
                }
                if may_start_keyword(&bytes[s..e]) {
                    new_start = Some(s);
                }
            }
            let Some(new_start) = new_start else {
                continue;
            };
            match keyed.last_mut() {
                Some(last) if new_start <= last.1 + 1 => last.1 = last.1.max(end),
                _ => keyed.push((new_start, end)),
            }
        }
        self.keyed.build(text, &keyed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tech_zones(text: &str) -> Vec<String> {
        let mut z = Zones::default();
        z.build(text);
        z.tech
            .text
            .split(SEPARATOR)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn technical_tokens() {
        assert!(is_technical(b"10.0.0.1"));
        assert!(is_technical(b"noc.acme.com"));
        assert!(is_technical(b"a@b"));
        assert!(is_technical(b"https://x"));
        assert!(is_technical(b"aa:bb:cc"));
        assert!(!is_technical(b"end."));
        assert!(!is_technical(b"word"));
        assert!(!is_technical(b"(see:"));
    }

    #[test]
    fn zones_and_mapping() {
        let text = "Call 07 12 34 56 78 now, or mail a@b.example\tfrom host.\nIMSI 208150123456789";
        assert_eq!(
            tech_zones(text),
            ["07 12 34 56 78", "a@b.example", "208150123456789"]
        );
        let mut z = Zones::default();
        z.build(text);
        // Keyed zones start at a keyword and exist only where one may be.
        assert!(z.keyed.text.starts_with("Call 07 12 34 56 78"));
        assert!(z.keyed.text.contains("IMSI 208150123456789"));
        assert!(!z.keyed.text.contains("a@b.example"));
        let at = z.tech.text.find("a@b").expect("present");
        let (s, e) = z.tech.span(at, at + 3).expect("inside a zone");
        assert_eq!(&text[s..e], "a@b");
        // A span that crosses the separator is rejected.
        assert_eq!(z.tech.span(at, at + 20), None);
    }
}
