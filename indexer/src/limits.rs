//! Bounds on a user query, checked before it is parsed.
//!
//! Policy: tantivy's query grammar is a recursive-descent parser, and so is
//! the building of a query from its syntax tree: a query nested a few
//! thousand levels deep (`((((…`, `NOT NOT NOT …`, `a AND (b AND (…`)
//! overflows the stack of the thread that parses it and aborts the whole
//! process. Every query string therefore goes through [`check_query`] first,
//! a single flat scan that neither recurses nor allocates per character, and
//! is refused with [`IndexError::QueryTooComplex`] naming the limit when it
//! is too long, too deep or has too many terms. The limits are generous for
//! people and for saved searches, and far below what could hurt the
//! process.

use std::fmt;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
/// Deepest nesting: open parentheses plus a chain of `NOT`s.
pub const MAX_QUERY_DEPTH: usize = 8;
/// Most terms (words, quoted phrases, `*`) in one query.
pub const MAX_QUERY_TERMS: usize = 64;
/// Longest single term or phrase, in characters.
pub const MAX_TERM_CHARS: usize = 200;

/// Which bound a query crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLimit {
    /// More than [`MAX_QUERY_CHARS`] characters.
    Length,
    /// Nested deeper than [`MAX_QUERY_DEPTH`].
    Depth,
    /// More than [`MAX_QUERY_TERMS`] terms.
    Terms,
    /// A term longer than [`MAX_TERM_CHARS`] characters.
    TermLength,
}

impl QueryLimit {
    /// Stable machine name of the limit.
    pub fn name(self) -> &'static str {
        match self {
            QueryLimit::Length => "max_query_chars",
            QueryLimit::Depth => "max_query_depth",
            QueryLimit::Terms => "max_query_terms",
            QueryLimit::TermLength => "max_term_chars",
        }
    }

    /// The bound itself.
    pub fn max(self) -> usize {
        match self {
            QueryLimit::Length => MAX_QUERY_CHARS,
            QueryLimit::Depth => MAX_QUERY_DEPTH,
            QueryLimit::Terms => MAX_QUERY_TERMS,
            QueryLimit::TermLength => MAX_TERM_CHARS,
        }
    }
}

impl fmt::Display for QueryLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            QueryLimit::Length => "characters in a query",
            QueryLimit::Depth => "levels of nesting (parentheses and NOT)",
            QueryLimit::Terms => "terms in a query",
            QueryLimit::TermLength => "characters in one term",
        };
        write!(f, "at most {} {what} ({})", self.max(), self.name())
    }
}

/// Refuses a query that is too long, too deep or too wide to parse safely,
/// naming the first limit it crosses.
pub fn check_query(query: &str) -> Result<(), QueryLimit> {
    let too = Err;
    if query.chars().count() > MAX_QUERY_CHARS {
        return too(QueryLimit::Length);
    }
    let mut depth = 0usize;
    let mut nots = 0usize;
    let mut terms = 0usize;
    let mut in_phrase = false;
    let mut escaped = false;
    // Characters of the current word (outside a phrase) or phrase.
    let mut run = 0usize;
    let mut word = String::new();
    for c in query.chars() {
        if escaped {
            escaped = false;
            run += 1;
            if !in_phrase {
                word.push(c);
            }
        } else if in_phrase {
            match c {
                '\\' => escaped = true,
                '"' => {
                    in_phrase = false;
                    nots = 0;
                    terms += 1;
                    run = 0;
                }
                _ => run += 1,
            }
        } else {
            match c {
                '\\' => escaped = true,
                '"' => {
                    end_word(&mut word, &mut nots, &mut terms);
                    in_phrase = true;
                    run = 0;
                }
                '(' => {
                    end_word(&mut word, &mut nots, &mut terms);
                    depth += 1;
                    run = 0;
                }
                ')' => {
                    end_word(&mut word, &mut nots, &mut terms);
                    depth = depth.saturating_sub(1);
                    nots = 0;
                    run = 0;
                }
                c if c.is_whitespace() => {
                    end_word(&mut word, &mut nots, &mut terms);
                    run = 0;
                }
                c => {
                    run += 1;
                    // Operators are short; a long word only needs its length.
                    if word.len() < 4 {
                        word.push(c);
                    } else {
                        word.replace_range(.., "____");
                    }
                }
            }
        }
        if depth + nots > MAX_QUERY_DEPTH {
            return too(QueryLimit::Depth);
        }
        if terms > MAX_QUERY_TERMS {
            return too(QueryLimit::Terms);
        }
        if run > MAX_TERM_CHARS {
            return too(QueryLimit::TermLength);
        }
    }
    end_word(&mut word, &mut nots, &mut terms);
    if in_phrase {
        terms += 1;
    }
    if depth + nots > MAX_QUERY_DEPTH {
        return too(QueryLimit::Depth);
    }
    if terms > MAX_QUERY_TERMS {
        return too(QueryLimit::Terms);
    }
    Ok(())
}

/// Counts the word that just ended: `NOT` deepens the nesting until the
/// next term, other operators count for nothing, anything else is a term.
fn end_word(word: &mut String, nots: &mut usize, terms: &mut usize) {
    if word.is_empty() {
        return;
    }
    match word.as_str() {
        "NOT" => *nots += 1,
        "AND" | "OR" | "&&" | "||" | "IN" | "TO" => {}
        _ => {
            *nots = 0;
            *terms += 1;
        }
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(q: &str) -> Option<QueryLimit> {
        check_query(q).err()
    }

    #[test]
    fn ordinary_queries_pass() {
        for q in [
            "",
            "certificate expiry",
            "\"signalling storm\" AND (hss OR udm) NOT test",
            "title:(dns AND resolver) -bgp +outage",
            "NOT NOT dns",
            "published_at:[2024-01-01T00:00:00Z TO 2024-02-01T00:00:00Z]",
            "a\\(b",
        ] {
            assert_eq!(limit(q), None, "{q}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}a", "(".repeat(2_100));
        assert_eq!(limit(&deep), Some(QueryLimit::Length));
        let deep = format!("{}a{}", "(".repeat(9), ")".repeat(9));
        assert_eq!(limit(&deep), Some(QueryLimit::Depth));
        let ok = format!("{}a{}", "(".repeat(8), ")".repeat(8));
        assert_eq!(limit(&ok), None);
        let field = format!("{}a", "title:(".repeat(9));
        assert_eq!(limit(&field), Some(QueryLimit::Depth));
        let and = (0..9).map(|i| format!("t{i} AND (")).collect::<String>();
        assert_eq!(limit(&and), Some(QueryLimit::Depth));
        assert_eq!(limit(&"NOT ".repeat(9)), Some(QueryLimit::Depth));
        assert_eq!(
            limit(&format!("(((( {} a", "NOT ".repeat(5))),
            Some(QueryLimit::Depth)
        );
    }

    #[test]
    fn parentheses_inside_phrases_and_escapes_do_not_nest() {
        let q = format!("\"{}\"", "(".repeat(50));
        assert_eq!(limit(&q), None);
        let q = "\\(".repeat(50);
        assert_eq!(limit(&q), None);
    }

    #[test]
    fn width_and_term_length_are_bounded() {
        let wide = (0..65)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(limit(&wide), Some(QueryLimit::Terms));
        let ok = (0..64)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        assert_eq!(limit(&ok), None);
        assert_eq!(limit(&"x".repeat(201)), Some(QueryLimit::TermLength));
        let phrase = format!("\"{}\"", "ab ".repeat(80));
        assert_eq!(limit(&phrase), Some(QueryLimit::TermLength));
    }

    #[test]
    fn the_message_names_the_limit() {
        let message = QueryLimit::Depth.to_string();
        assert!(message.contains("max_query_depth"), "{message}");
        assert!(message.contains('8'), "{message}");
    }
}
