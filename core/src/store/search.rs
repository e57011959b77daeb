//! Full-text search for contacts that works for Chinese and Latin text alike.
//!
//! Chinese has no spaces, so a word tokenizer finds nothing inside `深圳市华强科技有限公司`. We
//! index CJK runs as every single character and every adjacent pair (bigrams), Latin and digit
//! runs as words, and phone numbers as every suffix of their national number. One FTS5 table
//! (`detail=none`, contentless) holds those tokens; see `docs/adr/0002-search-tokens.md`.
//!
//! A query becomes an AND of tokens: one CJK character matches its unigram, a CJK run of two or
//! more matches all its bigrams (then the exact substring is checked on the row), a Latin word
//! matches as a prefix, and a phone-like query matches digit prefixes (so any substring of three
//! or more digits finds the number).

use crate::normalize;

/// Whether `c` is written without spaces between words (Han, kana, Hangul, CJK punctuation excluded).
pub(crate) fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F // Han
        | 0x3040..=0x30FF | 0x31F0..=0x31FF // kana
        | 0xAC00..=0xD7AF | 0x1100..=0x11FF // Hangul
    )
}

enum Segment {
    Cjk(Vec<char>),
    Word(String),
}

fn segments(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush = |out: &mut Vec<Segment>, cjk: &mut Vec<char>, word: &mut String| {
        if !cjk.is_empty() {
            out.push(Segment::Cjk(std::mem::take(cjk)));
        }
        if !word.is_empty() {
            out.push(Segment::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                flush(&mut out, &mut Vec::new(), &mut word);
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            if !cjk.is_empty() {
                flush(&mut out, &mut cjk, &mut String::new());
            }
            word.extend(c.to_lowercase());
        } else {
            flush(&mut out, &mut cjk, &mut word);
        }
    }
    flush(&mut out, &mut cjk, &mut word);
    out
}

/// Appends the index tokens of free text to `out`, space-separated.
pub(crate) fn text_tokens(text: &str, out: &mut String) {
    for seg in segments(text) {
        match seg {
            Segment::Word(w) => {
                out.push_str(&w);
                out.push(' ');
            }
            Segment::Cjk(chars) => {
                for (i, c) in chars.iter().enumerate() {
                    out.push(*c);
                    out.push(' ');
                    if let Some(next) = chars.get(i + 1) {
                        out.push(*c);
                        out.push(*next);
                        out.push(' ');
                    }
                }
            }
        }
    }
}

/// Appends the index tokens of an E.164 phone number: its digits and every suffix (of three or
/// more digits) of its national forms, so any digit substring is a token prefix.
pub(crate) fn phone_tokens(e164: &str, out: &mut String) {
    let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
    out.push_str(&digits);
    out.push(' ');
    for national in normalize::national_forms(e164) {
        for start in 0..national.len().saturating_sub(2) {
            out.push_str(&national[start..]);
            out.push(' ');
        }
    }
}

/// A parsed search query: the FTS5 expression and the CJK runs each match must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    /// FTS5 MATCH expression.
    pub fts: String,
    /// Substrings (CJK runs of 3+ characters) the matched row must contain verbatim.
    pub must_contain: Vec<String>,
    /// The lower-cased query, for ranking.
    pub lowered: String,
}

fn quote(token: &str) -> String {
    format!("\"{}\"", token.replace('"', "\"\""))
}

/// Turns what the rep typed into a query; `None` when there is nothing to search for.
pub(crate) fn parse_query(input: &str) -> Option<Query> {
    let lowered = input.trim().to_lowercase();
    if lowered.is_empty() {
        return None;
    }
    // A phone-like query: digits with the usual separators.
    let phone_like = lowered
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.'));
    let digits: String = lowered.chars().filter(char::is_ascii_digit).collect();
    if phone_like && digits.len() >= 3 {
        return Some(Query {
            fts: format!("{}*", quote(&digits)),
            must_contain: Vec::new(),
            lowered: digits,
        });
    }
    let mut terms = Vec::new();
    let mut must_contain = Vec::new();
    for seg in segments(&lowered) {
        match seg {
            Segment::Word(w) => terms.push(format!("{}*", quote(&w))),
            Segment::Cjk(chars) if chars.len() <= 2 => {
                terms.push(quote(&chars.iter().collect::<String>()))
            }
            Segment::Cjk(chars) => {
                for pair in chars.windows(2) {
                    let bigram: String = pair.iter().collect();
                    let term = quote(&bigram);
                    if !terms.contains(&term) {
                        terms.push(term);
                    }
                }
                must_contain.push(chars.iter().collect());
            }
        }
    }
    if terms.is_empty() {
        return None;
    }
    Some(Query {
        fts: terms.join(" AND "),
        must_contain,
        lowered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<String> {
        let mut s = String::new();
        text_tokens(text, &mut s);
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn cjk_runs_become_unigrams_and_bigrams_latin_words_stay() {
        assert_eq!(
            tokens("张伟 Zhang-Wei"),
            vec!["张", "张伟", "伟", "zhang", "wei"]
        );
        assert_eq!(
            tokens("华强Tech公司"),
            vec!["华", "华强", "强", "tech", "公", "公司", "司"]
        );
    }

    #[test]
    fn phone_tokens_cover_every_digit_substring_as_a_prefix() {
        let mut s = String::new();
        phone_tokens("+8613800138000", &mut s);
        let toks: Vec<&str> = s.split_whitespace().collect();
        assert!(toks.contains(&"8613800138000"));
        assert!(toks.contains(&"13800138000"));
        for sub in ["0013", "8000", "138001"] {
            assert!(toks.iter().any(|t| t.starts_with(sub)), "{sub}");
        }
    }

    #[test]
    fn queries() {
        let q = parse_query("张").unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"张\"");
        let q = parse_query("华强科技").unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"华强\" AND \"强科\" AND \"科技\"");
        assert_eq!(q.must_contain, vec!["华强科技"]);
        let q = parse_query("Zhang wei").unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"zhang\"* AND \"wei\"*");
        let q = parse_query("138 0013").unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"1380013\"*");
        assert!(parse_query("  ").is_none());
        assert!(parse_query("@@").is_none());
        let q = parse_query("a\"b").unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"a\"* AND \"b\"*");
    }
}
