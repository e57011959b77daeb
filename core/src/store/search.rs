//! Full-text search for contacts that works for Chinese and Latin text alike.
//!
//! Chinese has no spaces, so a word tokenizer finds nothing inside `深圳市华强科技有限公司`. We
//! index CJK runs as every single character and every adjacent pair (bigrams), Latin and digit
//! runs as lower-cased words without accents, and phone numbers as every four-digit window of
//! their digits plus their last three. One FTS5 table (`detail=none`, contentless, the `ascii`
//! tokenizer, which keeps each of our tokens whole) holds those tokens; see
//! `docs/adr/0002-search-tokens.md`.
//!
//! A query becomes an AND of tokens: one CJK character matches its unigram, a CJK run of two or
//! more matches all its bigrams (then the exact substring is checked on the row), a Latin word
//! matches as a prefix, and a phone-like query of three or four digits matches as a token prefix
//! (a window, or a word such as a QQ number), of five or more as a word prefix or all its
//! windows (then one of the row's numbers, or its text, is checked to contain the digits), so
//! any substring of three or more digits finds the number.

use crate::normalize::{self, Region};
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The name of the SQL function `outpost_phone_has(phones_json, digits)`: whether one of the
/// numbers of a contact's `phones` column contains `digits` in one of its written forms.
pub(crate) const PHONE_HAS: &str = "outpost_phone_has";

/// Digits per phone search token: few enough that the index holds at most 10,000 phone terms,
/// each with a long list of contacts, instead of one term per suffix of every number.
const PHONE_GRAM: usize = 4;

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
            fold_into(c, &mut word);
        } else {
            flush(&mut out, &mut cjk, &mut word);
        }
    }
    flush(&mut out, &mut cjk, &mut word);
    out
}

/// Adds the SQL functions search uses ([`PHONE_HAS`]) to a connection.
pub(crate) fn register_functions(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        PHONE_HAS,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let phones = ctx.get::<Option<String>>(0)?.unwrap_or_default();
            let digits = ctx.get::<Option<String>>(1)?.unwrap_or_default();
            Ok(phone_has(&phones, &digits))
        },
    )
}

/// Appends `c` to a word lower-cased, without accents (`É` → `e`) and in its ordinary width
/// (`Ｊ` → `j`, `１` → `1`), as the index holds it.
fn fold_into(c: char, word: &mut String) {
    for lower in c.to_lowercase() {
        if lower.is_ascii() {
            word.push(lower);
        } else {
            decompose_compatible(lower, |d| {
                if !is_combining_mark(d) {
                    word.extend(d.to_lowercase());
                }
            });
        }
    }
}

/// A contact's search tokens, each kept once: the index has no positions (`detail=none`), so a
/// repeated token (a city in both the company and the address, the windows a number's forms
/// share) would add nothing but work for the one thread that writes it. CJK tokens and digit
/// windows are held as integers, which sort and deduplicate far faster than strings.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    /// A character's code point, or a pair's `first << 21 | second` (above every code point).
    cjk: Vec<u64>,
    words: Vec<String>,
    /// `digits × 10,000 + value` of a digit token of up to four digits.
    digits: Vec<u32>,
}

impl Tokens {
    /// The tokens, space-separated, each once.
    pub(crate) fn into_text(mut self) -> String {
        self.cjk.sort_unstable();
        self.cjk.dedup();
        self.words.sort_unstable();
        self.words.dedup();
        self.digits.sort_unstable();
        self.digits.dedup();
        let mut out = String::with_capacity(self.cjk.len() * 7 + self.digits.len() * 5 + 64);
        let push_char = |out: &mut String, code: u64| {
            if let Some(c) = u32::try_from(code).ok().and_then(char::from_u32) {
                out.push(c);
            }
        };
        for code in self.cjk {
            if code >> 21 != 0 {
                push_char(&mut out, code >> 21);
            }
            push_char(&mut out, code & 0x1F_FFFF);
            out.push(' ');
        }
        for word in &self.words {
            out.push_str(word);
            out.push(' ');
        }
        for code in self.digits {
            let (len, value) = (code / 10_000, code % 10_000);
            // The digits of `value`, zero-padded to `len` (at most four).
            for place in (0..len).rev() {
                let digit = (value / 10u32.pow(place)) % 10;
                out.push(char::from(b'0' + digit as u8));
            }
            out.push(' ');
        }
        out
    }
}

/// Adds the index tokens of free text.
pub(crate) fn text_tokens(text: &str, out: &mut Tokens) {
    for seg in segments(text) {
        match seg {
            Segment::Word(w) => out.words.push(w),
            Segment::Cjk(chars) => {
                for (i, c) in chars.iter().enumerate() {
                    let code = u64::from(u32::from(*c));
                    out.cjk.push(code);
                    if let Some(next) = chars.get(i + 1) {
                        out.cjk.push(code << 21 | u64::from(u32::from(*next)));
                    }
                }
            }
        }
    }
}

/// A character's pinyin readings as pinyin keyboards type them (`ü` as `v`): the usual one,
/// and for a `surname` its surname reading where that differs (单 `dan` and `shan`, 曾 `ceng`
/// and `zeng`; `dedup::keys`).
fn readings(c: char, surname: bool) -> Vec<String> {
    use pinyin::ToPinyin;
    let mut out: Vec<String> = Vec::new();
    if let Some(p) = c.to_pinyin() {
        out.push(p.plain().replace('ü', "v"));
    }
    if let Some(r) = surname
        .then(|| crate::dedup::keys::surname_reading(c))
        .flatten()
    {
        if !out.iter().any(|o| o == r) {
            out.push(r.to_string());
        }
    }
    out
}

/// Adds the pinyin tokens of a person's name, so that reps can type what their keyboard gives
/// before it turns into characters: for each run of Han characters, the whole run's reading
/// (`wangfang`; `wang`, `wangf` and `zhangw` are its prefixes, and a query of several Latin
/// words also looks for them joined, so `wang fang` finds it too) and its initials (`wf`); the
/// first character adds its surname reading where it has another (单 `shan`).
///
/// Companies get none: each term costs about 2 bytes a contact at 100,000 (`outpost-bench
/// store`), and a company's initials alone took the store past its 3x target
/// (docs/adr/0002-search-tokens.md, "Schema 13").
pub(crate) fn pinyin_tokens(name: &str, out: &mut Tokens) {
    let mut first_run = true;
    for seg in segments(name) {
        let Segment::Cjk(chars) = seg else {
            first_run = false;
            continue;
        };
        let per_char: Vec<Vec<String>> = chars
            .iter()
            .enumerate()
            .map(|(i, c)| readings(*c, first_run && i == 0))
            .collect();
        first_run = false;
        // Characters without a reading (kana, rare Han) break the run.
        for run in per_char.split(Vec::is_empty) {
            let Some((lead, rest)) = run.split_first() else {
                continue;
            };
            let usual = |r: &Vec<String>| r.first().cloned().unwrap_or_default();
            let rest_text: String = rest.iter().map(usual).collect();
            let rest_initials: String = rest
                .iter()
                .filter_map(|r| usual(r).chars().next())
                .collect();
            for reading in lead {
                out.words.push(format!("{reading}{rest_text}"));
                if !rest.is_empty() {
                    let initial = reading.chars().next().unwrap_or_default();
                    out.words.push(format!("{initial}{rest_initials}"));
                }
            }
        }
    }
}

/// The digit strings a number is found by: its E.164 digits and its national forms (with the
/// trunk `0` where the country dials one). An extension is not part of them.
pub(crate) fn phone_forms(e164: &str) -> Vec<String> {
    let e164 = normalize::main_number(e164);
    let mut forms = vec![e164
        .chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()];
    for national in normalize::national_forms(e164) {
        if !forms.contains(&national) {
            forms.push(national);
        }
    }
    forms
}

/// Adds the index tokens of an E.164 phone number: every window of [`PHONE_GRAM`] digits of
/// each of its forms, and each form's last three digits. Any substring of three digits is then
/// a token prefix, and any longer one is covered by its windows.
pub(crate) fn phone_tokens(e164: &str, out: &mut Tokens) {
    // At most four digits each: the value stays under 10,000.
    let code = |digits: &[u8]| {
        let value = digits
            .iter()
            .fold(0u32, |v, b| v * 10 + u32::from(b - b'0'));
        digits.len() as u32 * 10_000 + value
    };
    for form in phone_forms(e164) {
        let digits = form.as_bytes();
        if !digits.iter().all(u8::is_ascii_digit) {
            continue;
        }
        out.digits.extend(digits.windows(PHONE_GRAM).map(code));
        let last = &digits[digits.len().saturating_sub(PHONE_GRAM - 1)..];
        if !last.is_empty() {
            out.digits.push(code(last));
        }
    }
}

/// Whether one of the numbers in `phones` (a contact's JSON list of E.164 numbers) contains
/// `digits` in one of its forms: the check that turns "has all the windows" into "contains".
pub(crate) fn phone_has(phones: &str, digits: &str) -> bool {
    let list: Vec<String> = serde_json::from_str(phones).unwrap_or_default();
    list.iter()
        .any(|p| phone_forms(p).iter().any(|form| form.contains(digits)))
}

/// A parsed search query: the FTS5 expression and the CJK runs each match must contain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Query {
    /// FTS5 MATCH expression.
    pub fts: String,
    /// Substrings (CJK runs of 3+ characters) the matched row must contain verbatim.
    pub must_contain: Vec<String>,
    /// Digits (five or more) one of the matched row's numbers, or its text, must contain.
    pub phone_digits: Option<String>,
    /// The lower-cased query, for ranking.
    pub lowered: String,
}

fn quote(token: &str) -> String {
    format!("\"{}\"", token.replace('"', "\"\""))
}

/// The digits a phone-like query looks for: a whole number typed in any form the contact form
/// accepts (`0086 138…`, `+86 138…`, a trunk `0` before a mobile, `013800138000`) as its
/// national number, which every stored form contains; a part of one typed with the
/// international prefix `00` and the region's country code (`0086 138`) as the digits after
/// the `00`; else the digits typed.
fn phone_query_digits(typed: &str, digits: String, region: Region) -> String {
    if digits.len() >= 7 {
        if let Ok(e164) = normalize::phone("query", typed, region) {
            if let Some(national) = normalize::national_forms(&e164).pop() {
                return national;
            }
        }
        // `0` + a mobile: the trunk prefix some type before every number.
        if let Some(mobile) = digits.strip_prefix('0').filter(|m| m.starts_with('1')) {
            if let Ok(e164) = normalize::phone("query", mobile, region) {
                if let Some(national) = normalize::national_forms(&e164).pop() {
                    return national;
                }
            }
        }
    }
    let country = region.country_code().to_string();
    match digits.strip_prefix("00") {
        Some(rest) if rest.len() >= country.len() + 3 && rest.starts_with(&country) => {
            rest.to_string()
        }
        _ => digits,
    }
}

/// Turns what the rep typed into a query; `None` when there is nothing to search for. Full-width
/// digits, letters and punctuation are folded first; a number is read in `region`.
pub(crate) fn parse_query(input: &str, region: Region) -> Option<Query> {
    let folded = normalize::fold(input);
    let lowered = folded.trim().to_lowercase();
    if lowered.is_empty() {
        return None;
    }
    // A phone-like query: digits with the usual separators.
    let phone_like = lowered
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.'));
    let digits: String = lowered.chars().filter(char::is_ascii_digit).collect();
    if phone_like && digits.len() >= 3 {
        let digits = phone_query_digits(&lowered, digits, region);
        // A prefix of a word too, as before phones had windows: a QQ number in an email
        // (`1380013@qq.com`), a street number. Up to four digits the prefix covers the windows.
        let prefix = format!("{}*", quote(&digits));
        if digits.len() <= PHONE_GRAM {
            return Some(Query {
                fts: prefix,
                must_contain: Vec::new(),
                phone_digits: None,
                lowered: digits,
            });
        }
        let mut windows: Vec<&str> = (0..=digits.len() - PHONE_GRAM)
            .filter_map(|i| digits.get(i..i + PHONE_GRAM))
            .collect();
        windows.sort_unstable();
        windows.dedup();
        let windows: Vec<String> = windows.into_iter().map(quote).collect();
        return Some(Query {
            fts: format!("{prefix} OR ({})", windows.join(" AND ")),
            must_contain: Vec::new(),
            // Windows can be spread over a number: the row must contain the digits.
            phone_digits: Some(digits.clone()),
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
    // Several Latin words may be one name's pinyin typed with spaces (`wang fang`), which the
    // index holds joined (`pinyin_tokens`): look for the joined form too.
    let words: Vec<String> = segments(&lowered)
        .into_iter()
        .filter_map(|s| match s {
            Segment::Word(w) => Some(w),
            Segment::Cjk(_) => None,
        })
        .collect();
    let fts = if words.len() >= 2
        && words.len() == terms.len()
        && words
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_lowercase()))
    {
        format!("({}) OR {}*", terms.join(" AND "), quote(&words.concat()))
    } else {
        terms.join(" AND ")
    };
    Some(Query {
        fts,
        must_contain,
        phone_digits: None,
        lowered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tokens `add` makes of `text`, sorted.
    fn made(text: &str, add: fn(&str, &mut Tokens)) -> Vec<String> {
        let mut t = Tokens::default();
        add(text, &mut t);
        let mut list: Vec<String> = t
            .into_text()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        list.sort();
        list
    }

    fn tokens(text: &str) -> Vec<String> {
        made(text, text_tokens)
    }

    fn sorted(list: &[&str]) -> Vec<String> {
        let mut list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        list.sort();
        list
    }

    #[test]
    fn cjk_runs_become_unigrams_and_bigrams_latin_words_stay() {
        assert_eq!(
            tokens("张伟 Zhang-Wei"),
            sorted(&["张", "张伟", "伟", "zhang", "wei"])
        );
        assert_eq!(
            tokens("华强Tech公司"),
            sorted(&["华", "华强", "强", "tech", "公", "公司", "司"])
        );
        // Each once: a city in the company and the address, a word typed twice.
        assert_eq!(
            tokens("深圳市 深圳 Tech tech"),
            sorted(&["深", "深圳", "圳", "圳市", "市", "tech"])
        );
    }

    #[test]
    fn pinyin_of_names() {
        let pinyin = |text: &str| made(text, pinyin_tokens);
        assert_eq!(pinyin("王芳"), sorted(&["wangfang", "wf"]));
        assert_eq!(pinyin("单伟"), sorted(&["danwei", "dw", "shanwei", "sw"]));
        // ü as v; a Latin part breaks the run; only the first character is a surname.
        assert_eq!(pinyin("吕"), sorted(&["lv"]));
        assert_eq!(pinyin("单 Tech 曾"), sorted(&["dan", "shan", "ceng"]));
    }

    #[test]
    fn latin_words_lose_case_and_accents() {
        assert_eq!(
            tokens("José MÜLLER Ærø"),
            sorted(&["jose", "muller", "ærø"])
        );
        // Decomposed input (e + combining acute) gives the same word.
        assert_eq!(tokens("Jose\u{301}"), vec!["jose"]);
    }

    /// Every substring of three or more digits of every form of a number is found by the query
    /// it makes: a three-digit prefix of a token, or all its windows as tokens and the
    /// containment check.
    #[test]
    fn every_digit_substring_of_a_number_is_found_by_its_query() {
        for e164 in ["+8613800138000", "+862088886666", "+14155550123"] {
            let mut t = Tokens::default();
            phone_tokens(e164, &mut t);
            let s = t.into_text();
            let toks: Vec<&str> = s.split_whitespace().collect();
            let zero_led = if e164.starts_with("+86138") {
                "0013"
            } else {
                "0208"
            };
            if e164 != "+14155550123" {
                assert!(
                    toks.contains(&zero_led),
                    "windows keep leading zeros: {toks:?}"
                );
            }
            let phones = format!("[\"{e164}\"]");
            for form in phone_forms(e164) {
                for start in 0..form.len() {
                    for end in start + 3..=form.len() {
                        let sub = &form[start..end];
                        let q =
                            parse_query(sub, Region::default()).unwrap_or_else(|| unreachable!());
                        if sub.len() == 3 {
                            assert!(toks.iter().any(|t| t.starts_with(sub)), "{e164}: {sub}");
                            continue;
                        }
                        let windows = q
                            .fts
                            .split_once(" OR (")
                            .map_or(q.fts.as_str(), |(_, w)| w.trim_end_matches(')'));
                        for term in windows.split(" AND ") {
                            let term = term.trim_end_matches('*').trim_matches('"');
                            assert!(toks.contains(&term), "{e164}: {sub} needs {term}");
                        }
                        if let Some(d) = &q.phone_digits {
                            assert!(phone_has(&phones, d), "{e164}: {sub}");
                        }
                    }
                }
            }
        }
        // The national form with the trunk 0 and the E.164 digits are both forms.
        assert_eq!(
            phone_forms("+862088886666"),
            vec!["862088886666", "02088886666", "2088886666"]
        );
    }

    #[test]
    fn digits_spread_over_a_number_are_not_a_match() {
        // 13801233800 has the windows of 13800 (1380 and 3800) but not 13800 itself.
        let q = parse_query("13800", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"13800\"* OR (\"1380\" AND \"3800\")");
        let d = q.phone_digits.unwrap_or_else(|| unreachable!());
        assert!(!phone_has(r#"["+8613801233800"]"#, &d));
        assert!(phone_has(r#"["+8613912345678", "+8613800138000"]"#, &d));
        assert!(!phone_has("not json", &d));
    }

    #[test]
    fn queries() {
        let q = parse_query("张", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"张\"");
        let q = parse_query("华强科技", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"华强\" AND \"强科\" AND \"科技\"");
        assert_eq!(q.must_contain, vec!["华强科技"]);
        // Several Latin words: each as a prefix, or joined as one name's pinyin.
        let q = parse_query("Zhang wei", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "(\"zhang\"* AND \"wei\"*) OR \"zhangwei\"*");
        let q = parse_query("Zhang 伟", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"zhang\"* AND \"伟\"");
        let q = parse_query("138 0013", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(
            q.fts,
            "\"1380013\"* OR (\"0013\" AND \"1380\" AND \"3800\" AND \"8001\")"
        );
        assert_eq!(q.phone_digits.as_deref(), Some("1380013"));
        let q = parse_query("(138)", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "\"138\"*");
        let q = parse_query("8000", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!((q.fts.as_str(), q.phone_digits), ("\"8000\"*", None));
        assert!(parse_query("  ", Region::default()).is_none());
        assert!(parse_query("@@", Region::default()).is_none());
        // FTS syntax typed is text: a quote splits words, never closes a string.
        let q = parse_query("a\"b", Region::default()).unwrap_or_else(|| unreachable!());
        assert_eq!(q.fts, "(\"a\"* AND \"b\"*) OR \"ab\"*");
    }
}
