//! Normalization of what reps type: phone numbers to E.164 (with an extension kept as
//! `;ext=123`), emails to lower case, and full-width digits, letters and punctuation (what a
//! Chinese input method types: `１３８`, `（0755）`, `ｗａｎｇ＠ｑｑ．ｃｏｍ`) folded to ASCII first.

use crate::error::{Error, Result};
use phonenumber::{country, Mode};
use std::borrow::Cow;

/// A phone region (ISO 3166 alpha-2, e.g. `CN`) used for numbers typed without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(country::Id);

impl Region {
    /// Parses a region code such as `CN`, `HK`, `US` (case-insensitive).
    pub fn parse(code: &str) -> Result<Region> {
        code.trim()
            .to_ascii_uppercase()
            .parse::<country::Id>()
            .map(Region)
            .map_err(|_| Error::validation("region", code, "not an ISO 3166 region code like CN"))
    }

    /// The region code, e.g. `CN`.
    pub fn code(&self) -> String {
        let code: &str = self.0.as_ref();
        code.to_string()
    }

    /// The region's country calling code, e.g. 86 for `CN` (0 if the metadata lacks it).
    pub fn country_code(&self) -> u16 {
        let code: &str = self.0.as_ref();
        phonenumber::metadata::DATABASE
            .by_id(code)
            .map_or(0, |m| m.country_code())
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(country::Id::CN)
    }
}

/// Folds the compatibility forms of ASCII characters to ASCII: full-width digits, letters and
/// punctuation (`１３８`, `Ｊｏｈｎ`, `（`, `＠`, `．`) and the ideographic space, as NFKC does,
/// and leaves every other character alone (Chinese text is not touched). Borrowed when there
/// is nothing to fold.
pub fn fold(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut buf = String::new();
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
            continue;
        }
        buf.clear();
        unicode_normalization::char::decompose_compatible(c, |d| buf.push(d));
        if !buf.is_empty() && buf.is_ascii() && buf != c.to_string() {
            out.push_str(&buf);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Longest phone number we parse, in characters (with separators and an extension).
pub const MAX_PHONE_CHARS: usize = 64;
/// Most digits of a phone extension.
pub const MAX_EXTENSION_DIGITS: usize = 10;

/// What may introduce an extension, lower-cased (longest first where one starts another).
const EXTENSION_MARKERS: &[&str] = &[
    ";ext=",
    "extension",
    "ext.",
    "extn",
    "ext",
    "x",
    "#",
    "转",
    "轉",
    "分机",
    "分機",
];

/// Dashes people type between digit groups that are not ASCII (`0755—8888`).
fn is_dash(c: char) -> bool {
    matches!(
        c,
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}'
    )
}

/// Normalizes a phone number to E.164 (`+8613800138000`), with an extension as
/// `+8675588888888;ext=123`, or refuses it naming `field`.
///
/// Accepts the forms reps type: `138 0013 8000`, `+86 138-0013-8000`, `8613800138000`,
/// `0755-52659655`, `(0755) 5265 9655`, `+1 650 253 0000`, full-width digits and punctuation
/// (`１３８ ００１３ ８０００`, `（0755）`), and an extension after the number (`转 123`,
/// `分机 123`, `x123`, `ext. 123`, `;ext=123`).
pub fn phone(field: &str, raw: &str, region: Region) -> Result<String> {
    if raw.chars().nth(MAX_PHONE_CHARS).is_some() {
        return Err(Error::validation(
            field,
            raw.chars().take(40).collect::<String>() + "…",
            format!("a phone number is at most {MAX_PHONE_CHARS} characters"),
        ));
    }
    let folded = fold(raw);
    let trimmed = folded.trim();
    if trimmed.is_empty() {
        return Err(Error::validation(field, raw, "phone number is empty"));
    }
    let (number, extension) =
        split_extension(trimmed).map_err(|reason| Error::validation(field, raw, reason))?;
    let number = number.trim();
    let number: Cow<'_, str> = if number.contains(is_dash) {
        Cow::Owned(number.replace(is_dash, "-"))
    } else {
        Cow::Borrowed(number)
    };
    if number.is_empty() {
        return Err(Error::validation(
            field,
            raw,
            "an extension needs the number before it, e.g. 0755-8888 8888 转 123",
        ));
    }
    let main = match chinese_number(&number, region) {
        Some(e164) => e164,
        None => slow_phone(field, raw, &number, region)?,
    };
    Ok(match extension {
        Some(ext) => format!("{main};ext={ext}"),
        None => main,
    })
}

/// Whether `c` may appear in the number itself: digits and the usual separators.
fn is_number_char(c: char) -> bool {
    c.is_ascii_digit() || matches!(c, '+' | '-' | ' ' | '(' | ')' | '.' | '/') || is_dash(c)
}

/// Splits what was typed into the number and its extension's digits (if any), or says why it
/// is not a phone number.
fn split_extension(typed: &str) -> std::result::Result<(&str, Option<String>), String> {
    const ALLOWED: &str =
        "a phone number may only contain digits, spaces, + - ( ) . / and an extension (转 123, x123, ext. 123)";
    let Some(at) = typed.find(|c: char| !is_number_char(c)) else {
        return Ok((typed, None));
    };
    let (number, rest) = typed.split_at(at);
    let lower = rest.to_lowercase();
    let Some(marker) = EXTENSION_MARKERS.iter().find(|m| lower.starts_with(*m)) else {
        return Err(ALLOWED.into());
    };
    let after = lower[marker.len()..].trim_start_matches([' ', ':', '.', '-']);
    let after = after.trim_end();
    if after.is_empty() {
        return Err(format!("the extension after {marker:?} has no digits"));
    }
    if !after.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "the extension after {marker:?} may only contain digits"
        ));
    }
    if after.len() > MAX_EXTENSION_DIGITS {
        return Err(format!(
            "an extension has at most {MAX_EXTENSION_DIGITS} digits"
        ));
    }
    Ok((number, Some(after.to_string())))
}

/// The number of a stored phone without its extension (`+8675588888888;ext=123` →
/// `+8675588888888`).
pub fn main_number(stored: &str) -> &str {
    stored.split_once(";ext=").map_or(stored, |(main, _)| main)
}

/// The extension of a stored phone, if it has one (`+8675588888888;ext=123` → `123`).
pub fn extension(stored: &str) -> Option<&str> {
    stored.split_once(";ext=").map(|(_, ext)| ext)
}

/// A Chinese mobile or fixed-line number, the most common input by far, recognised without the
/// full parse (tens of microseconds each, which dominated bulk imports): `138 0013 8000` or
/// `0755-6612 5100` typed in region CN, `+86 138-0013-8000` or `+86 755 6612 5100` anywhere,
/// whose national digits match the same metadata's CN mobile or fixed-line pattern. Anything
/// else is left to the full parse, which gives the same answer for these (tests check every
/// mobile prefix and every area code).
fn chinese_number(trimmed: &str, region: Region) -> Option<String> {
    let plus = trimmed.starts_with('+');
    if trimmed[usize::from(plus)..].contains('+') {
        return None;
    }
    let mut digits = String::with_capacity(13);
    for c in trimmed.chars().filter(char::is_ascii_digit) {
        if digits.len() == 13 {
            return None;
        }
        digits.push(c);
    }
    let cn = region.0 == country::Id::CN;
    let patterns = cn_patterns()?;
    let mobile = match (plus, digits.len()) {
        (true, 13) => digits.strip_prefix("86"),
        (false, 11) if cn => Some(digits.as_str()),
        // `8613800138000`: the country code typed without its `+`.
        (false, 13) if cn => digits.strip_prefix("86"),
        _ => None,
    };
    if let Some(national) = mobile.filter(|n| n.starts_with('1')) {
        return patterns
            .mobile
            .is_match(national)
            .then(|| format!("+86{national}"));
    }
    // A fixed line: its area code (10, 2x, 3xx–9xx) after the trunk 0, or after +86.
    let national = if plus {
        digits.strip_prefix("86")
    } else if cn {
        digits.strip_prefix('0')
    } else {
        None
    }?;
    if !national.starts_with(|c: char| ('2'..='9').contains(&c)) && !national.starts_with("10") {
        return None;
    }
    patterns
        .fixed_line
        .is_match(national)
        .then(|| format!("+86{national}"))
}

/// The metadata's CN mobile and fixed-line descriptors, with their patterns compiled once for
/// this process. A descriptor's own `is_match` fetches its compiled pattern from a cache behind
/// one global lock at every call, which serialized an import's validating threads on it.
fn cn_patterns() -> Option<&'static CnPatterns> {
    static CN: std::sync::OnceLock<Option<CnPatterns>> = std::sync::OnceLock::new();
    CN.get_or_init(|| {
        let meta = phonenumber::metadata::DATABASE.by_id("CN")?;
        let descriptors = meta.descriptors();
        Some(CnPatterns {
            mobile: Pattern::of(descriptors.mobile()?)?,
            fixed_line: Pattern::of(descriptors.fixed_line()?)?,
        })
    })
    .as_ref()
}

struct CnPatterns {
    mobile: Pattern,
    fixed_line: Pattern,
}

/// A descriptor's test, as `phonenumber::metadata::Descriptor::is_match` does it.
struct Pattern {
    regex: regex::Regex,
    lengths: Vec<u16>,
}

impl Pattern {
    fn of(d: &phonenumber::metadata::Descriptor) -> Option<Pattern> {
        Some(Pattern {
            // Built as the metadata builds it (whitespace in its patterns is layout).
            regex: regex::RegexBuilder::new(d.national_number().as_str())
                .ignore_whitespace(true)
                .build()
                .ok()?,
            lengths: d.possible_length().to_vec(),
        })
    }

    fn is_match(&self, national: &str) -> bool {
        let length_ok = self.lengths.is_empty()
            || u16::try_from(national.len()).is_ok_and(|n| self.lengths.contains(&n));
        length_ok && self.regex.find(national).is_some_and(|m| m.start() == 0)
    }
}

/// The full parse and validation of [`phone`].
fn slow_phone(field: &str, raw: &str, trimmed: &str, region: Region) -> Result<String> {
    let parsed = phonenumber::parse(Some(region.0), trimmed)
        .ok()
        .filter(phonenumber::is_valid)
        .or_else(|| {
            // `+86 138…` outside the region CN: the parser with a region refuses some
            // numbers of other countries, although the `+` says which country it is.
            if trimmed.starts_with('+') {
                return phonenumber::parse(None, trimmed)
                    .ok()
                    .filter(phonenumber::is_valid);
            }
            // `8613800138000`: a country code typed without its `+`.
            let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
            if digits.starts_with('0') {
                return None;
            }
            phonenumber::parse(None, format!("+{digits}"))
                .ok()
                .filter(phonenumber::is_valid)
        });
    match parsed {
        Some(number) => Ok(number.format().mode(Mode::E164).to_string()),
        None => Err(Error::validation(
            field,
            raw,
            format!("not a valid phone number for region {}", region.code()),
        )),
    }
}

/// Longest email address we parse, in characters.
pub const MAX_EMAIL_CHARS: usize = 320;

/// Trims and lower-cases an email address, or refuses it naming `field`. Full-width letters and
/// punctuation are folded first (`ｗａｎｇ＠ｑｑ．ｃｏｍ`), and the ideographic full stop a Chinese
/// input method types for `.` (`163。com`) is read as one, as IDNA does.
pub fn email(field: &str, raw: &str) -> Result<String> {
    if raw.chars().nth(MAX_EMAIL_CHARS).is_some() {
        return Err(Error::validation(
            field,
            raw.chars().take(40).collect::<String>() + "…",
            format!("an email address is at most {MAX_EMAIL_CHARS} characters"),
        ));
    }
    let folded = fold(raw);
    let folded = if folded.contains(['\u{3002}', '\u{FF61}']) {
        Cow::Owned(folded.replace(['\u{3002}', '\u{FF61}'], "."))
    } else {
        folded
    };
    let value = folded.trim().to_lowercase();
    let bad = |reason: &str| Err(Error::validation(field, raw, reason));
    let Some((local, domain)) = value.rsplit_once('@') else {
        return bad("email address has no @");
    };
    if local.is_empty() || local.len() > 64 {
        return bad("email address has an empty or over-long part before @");
    }
    if domain.len() > 253
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
    {
        return bad("email domain must look like example.com");
    }
    if value
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"'))
    {
        return bad("email address contains spaces or characters that are not allowed");
    }
    if domain
        .split('.')
        .any(|label| label.is_empty() || label.starts_with('-') || label.ends_with('-'))
    {
        return bad("email domain has an empty or malformed label");
    }
    Ok(value)
}

/// The national significant number of an E.164 string, as digits (`+8613800138000` → `13800138000`),
/// and the national form with trunk prefix where the region uses one (`+8675552659655` → `075552659655`).
/// An extension is not part of these forms.
pub(crate) fn national_forms(e164: &str) -> Vec<String> {
    let e164 = main_number(e164);
    // A Chinese mobile (most numbers): its 11 digits. The parser would drop the leading 1 of
    // some prefixes (+86 131… read as 31…).
    if let Some(nsn) = e164.strip_prefix("+861") {
        if nsn.len() == 10 && nsn.bytes().all(|b| b.is_ascii_digit()) {
            return vec![format!("1{nsn}")];
        }
    }
    // A Chinese fixed line that the shortcut of `phone` accepts: the same pattern.
    if let Some(nsn) = e164.strip_prefix("+86") {
        if !nsn.starts_with('1') && cn_patterns().is_some_and(|p| p.fixed_line.is_match(nsn)) {
            return vec![format!("0{nsn}"), nsn.to_string()];
        }
    }
    full_national_forms(e164)
}

/// [`national_forms`] by the full parse.
fn full_national_forms(e164: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(number) = phonenumber::parse(None, e164) {
        let nsn = number.national().to_string();
        if number.code().value() == 86 && !nsn.starts_with('1') {
            out.push(format!("0{nsn}"));
        }
        out.push(nsn);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the shortcut answered `raw` (1) or left it to the full parse (0); where it
    /// answers, it must give `reference`, and `phone` the same.
    fn agrees(raw: &str, region: Region, reference: Option<&String>) -> Result<usize> {
        let Some(fast) = chinese_number(raw.trim(), region) else {
            return Ok(0);
        };
        assert_eq!(Some(&fast), reference, "{raw} in {region:?}");
        assert_eq!(phone("phones", raw, region)?, fast);
        Ok(1)
    }

    fn cn(raw: &str) -> Result<String> {
        phone("phones", raw, Region::default())
    }

    #[test]
    fn the_chinese_mobile_shortcut_agrees_with_the_full_parse_on_every_prefix() -> Result<()> {
        let cn = Region::default();
        let mut shortcut = 0;
        for prefix in 1000..2000u32 {
            for suffix in ["0000000", "3859172", "9999999"] {
                let national = format!("{prefix}{suffix}");
                // The full parse of the bare number in region CN is the reference. (With
                // `+86` outside CN, or as `86…`, the parser drops the 1 of some prefixes,
                // e.g. +86 131… becomes +86 31…: the shortcut is right where it is not.)
                let reference = slow_phone("phones", &national, &national, cn).ok();
                for (raw, region) in [
                    (national.clone(), cn),
                    (format!("+86 {national}"), cn),
                    (format!("86{national}"), cn),
                    (format!("+86-{national}"), Region::parse("US")?),
                    (national.clone(), Region::parse("HK")?),
                ] {
                    shortcut += agrees(&raw, region, reference.as_ref())?;
                }
            }
        }
        assert!(
            shortcut > 3000,
            "the shortcut takes most mobiles ({shortcut})"
        );
        // Outside CN, a number with its country code is that country's.
        assert_eq!(
            phone("phones", "+86 138-0013-8000", Region::parse("US")?)?,
            "+8613800138000"
        );
        Ok(())
    }

    /// Every area code (10, 2x, 3xx–9xx), with subscriber numbers of 6 to 9 digits and every
    /// leading digit, typed as `0AAA-NNNN`, `(0AAA) NNNN`, `+86 AAA NNNN` and in other regions:
    /// where the shortcut answers, the full parse gives the same number.
    #[test]
    fn the_fixed_line_shortcut_agrees_with_the_full_parse_on_every_area_code() -> Result<()> {
        let cn = Region::default();
        let mut areas: Vec<String> = vec!["10".into()];
        areas.extend((20..30).map(|a| a.to_string()));
        areas.extend((300..1000).map(|a| a.to_string()));
        let mut shortcut = 0;
        for area in &areas {
            for local in [
                "123456",
                "2345678",
                "87654321",
                "5265965",
                "66125100",
                "98765432",
                "012345678",
                "1234567",
                "112345678",
            ] {
                let national = format!("{area}{local}");
                let reference = slow_phone("phones", &national, &format!("0{national}"), cn).ok();
                for (raw, region) in [
                    (format!("0{area}-{local}"), cn),
                    (format!("(0{area}) {local}"), cn),
                    (format!("+86 {area} {local}"), cn),
                    (format!("+86-{area}-{local}"), Region::parse("US")?),
                    (format!("0{area}{local}"), Region::parse("HK")?),
                ] {
                    shortcut += agrees(&raw, region, reference.as_ref())?;
                }
            }
        }
        assert!(
            shortcut > 5_000,
            "the shortcut takes most fixed lines ({shortcut})"
        );
        for area in &areas {
            let e164 = format!("+86{area}66125100");
            assert_eq!(national_forms(&e164), full_national_forms(&e164), "{e164}");
        }
        Ok(())
    }

    #[test]
    fn chinese_number_forms_become_one_e164() {
        for raw in [
            "138 0013 8000",
            "+86 138-0013-8000",
            "8613800138000",
            "13800138000",
            "+8613800138000",
            "(+86) 138.0013.8000",
        ] {
            assert_eq!(cn(raw).ok().as_deref(), Some("+8613800138000"), "{raw}");
        }
    }

    #[test]
    fn landline_with_area_code() {
        assert_eq!(cn("0755-52659655").ok().as_deref(), Some("+8675552659655"));
        assert_eq!(cn("(010) 6552 9988").ok().as_deref(), Some("+861065529988"));
    }

    #[test]
    fn other_regions() {
        let us = Region::parse("us").ok();
        assert!(us.is_some());
        let us = us.unwrap_or_default();
        assert_eq!(
            phone("phones", "(650) 253-0000", us).ok().as_deref(),
            Some("+16502530000")
        );
        assert_eq!(cn("+852 2123 4567").ok().as_deref(), Some("+85221234567"));
        assert!(Region::parse("ZZZ").is_err());
    }

    #[test]
    fn invalid_phones_name_the_field_and_value() {
        for raw in [
            "",
            "12345",
            "abc",
            "138001380001234",
            "+86 000 0000 0000",
            "13800138000x",
        ] {
            match cn(raw) {
                Err(Error::Validation { field, value, .. }) => {
                    assert_eq!(field, "phones");
                    assert_eq!(value, raw);
                }
                other => panic!("{raw} should be refused, got {other:?}"),
            }
        }
    }

    #[test]
    fn full_width_forms_fold_to_ascii_and_chinese_stays() {
        assert_eq!(
            fold("１３８　（0755）ｗａｎｇ＠ｑｑ．ｃｏｍ"),
            "138 (0755)wang@qq.com"
        );
        assert_eq!(fold("深圳市华强"), "深圳市华强");
        assert!(matches!(fold("plain"), Cow::Borrowed(_)));
        // Compatibility ideographs are not ASCII: left as they are.
        assert_eq!(fold("\u{F900}"), "\u{F900}");
    }

    #[test]
    fn extensions_are_kept_after_the_number() -> Result<()> {
        for typed in [
            "0755-8888 8888 转 123",
            "0755-8888 8888转123",
            "0755-8888 8888 x123",
            "0755-8888 8888 X 123",
            "0755 8888 8888 ext. 123",
            "0755 8888 8888 Ext: 123",
            "0755 8888 8888 extension 123",
            "0755 8888 8888 #123",
            "0755—8888—8888 分机 123",
            "+8675588888888;ext=123",
        ] {
            assert_eq!(cn(typed)?, "+8675588888888;ext=123", "{typed}");
        }
        // The stored form reads back as itself (the server checks this).
        assert_eq!(cn("+8675588888888;ext=123")?, "+8675588888888;ext=123");
        assert_eq!(main_number("+8675588888888;ext=123"), "+8675588888888");
        assert_eq!(extension("+8675588888888;ext=123"), Some("123"));
        assert_eq!(extension("+8675588888888"), None);
        assert_eq!(
            national_forms("+8675588888888;ext=123"),
            national_forms("+8675588888888")
        );
        for bad in [
            "0755 8888 8888 转",
            "转 123",
            "0755 8888 8888 x12a",
            "0755 8888 8888 y1",
        ] {
            assert!(cn(bad).is_err(), "{bad}");
        }
        let long = format!("138 0013 8000{}", " ".repeat(MAX_PHONE_CHARS));
        assert!(cn(&long).is_err());
        Ok(())
    }

    #[test]
    fn emails_trimmed_and_lowercased() {
        assert_eq!(
            email("emails", "  Zhang.Wei@HuaQiang.COM ").ok().as_deref(),
            Some("zhang.wei@huaqiang.com")
        );
        assert_eq!(
            email("emails", "ｗａｎｇ＠ｑｑ．ｃｏｍ").ok().as_deref(),
            Some("wang@qq.com")
        );
        assert_eq!(
            email("emails", "li@163。com").ok().as_deref(),
            Some("li@163.com")
        );
        for bad in [
            "zhang",
            "@x.com",
            "a@b",
            "a b@c.com",
            "a@.com",
            "a@com.",
            "a@-x.com",
        ] {
            assert!(email("emails", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn national_forms_for_search() {
        assert_eq!(national_forms("+8613800138000"), vec!["13800138000"]);
        assert_eq!(national_forms("+8613100000000"), vec!["13100000000"]);
        assert_eq!(
            national_forms("+8675552659655"),
            vec!["075552659655", "75552659655"]
        );
    }
}
