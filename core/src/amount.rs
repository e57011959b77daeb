//! Amounts of money as reps type them: `305000`, `305,000.00`, `305000元`, `¥305,000.00`,
//! `RMB 30.5万`, `人民币305000元`, `1.2亿`, full-width `３０．５万元`, and the Chinese numerals
//! of contracts (`叁拾万伍仟元整`, `三十万五千`).
//!
//! Amounts are in yuan (the tenant's currency); a foreign currency sign or name (`$`, `USD`,
//! `美元`) is refused rather than read as yuan. The value is exact to the fen (hundredth of a
//! yuan): digits are read as integers, never through a float, so `1.2亿` is 120000000 exactly.
//!
//! ```
//! use outpost_core::amount;
//! assert_eq!(amount::parse("amount", "¥305,000.00").ok(), Some(305_000.0));
//! assert_eq!(amount::parse("amount", "RMB 30.5万").ok(), Some(305_000.0));
//! assert_eq!(amount::parse("amount", "叁拾万伍仟元整").ok(), Some(305_000.0));
//! assert!(amount::parse("amount", "$300").is_err());
//! ```

use crate::cn_numerals;
use crate::error::{Error, Result};
use crate::normalize::fold;

/// Longest amount we parse, in characters.
pub const MAX_AMOUNT_CHARS: usize = 64;

/// What an accepted amount looks like, for the error of one that is not.
const HINT: &str =
    "write an amount in yuan like 305000, 305,000.00, ¥305000, 305000元, RMB 30.5万 or 叁拾万伍仟元整";

/// Currency signs and names put before an amount in yuan.
const PREFIXES: &[&str] = &["人民币", "rmb", "cny", "¥", "￥"];

/// Currencies that are not yuan: an amount in one of them is refused, never read as yuan.
const FOREIGN: &[&str] = &[
    "$", "€", "£", "usd", "eur", "hkd", "gbp", "jpy", "美元", "美金", "欧元", "港元", "港币",
    "日元", "英镑",
];

/// Parses an amount in yuan, or refuses it naming `field` and showing what is accepted.
pub fn parse(field: &str, text: &str) -> Result<f64> {
    parse_fen(field, text).map(|fen| fen as f64 / 100.0)
}

/// Parses a percentage (a deal's discount): `15`, `15%`, `１５％`, `12.5 %`.
pub fn parse_percent(field: &str, text: &str) -> Result<f64> {
    let bad = |reason: &str| Error::validation(field, text, reason);
    if text.chars().nth(MAX_AMOUNT_CHARS).is_some() {
        return Err(bad("longer than 64 characters"));
    }
    let folded = fold(text);
    let number = folded.trim().trim_end_matches(['%', '％']).trim_end();
    let (units, scale) =
        decimal(number).ok_or_else(|| bad("write a percentage like 15 or 12.5%"))?;
    Ok(units as f64 / 10f64.powi(scale as i32))
}

/// Parses the value of a deal's restricted field as typed: `discount` as a percentage, the
/// amounts (`amount`, `contract_amount`) with [`parse`].
pub fn parse_deal_field(field: &str, text: &str) -> Result<f64> {
    match field {
        "discount" => parse_percent(field, text),
        _ => parse(field, text),
    }
}

/// The amount in fen.
fn parse_fen(field: &str, text: &str) -> Result<u128> {
    let bad = |reason: String| Error::validation(field, text, reason);
    if text.chars().nth(MAX_AMOUNT_CHARS).is_some() {
        return Err(bad(format!("longer than {MAX_AMOUNT_CHARS} characters")));
    }
    let folded = fold(text);
    let lower = folded.trim().to_lowercase();
    if lower.is_empty() {
        return Err(bad(format!("the amount is empty: {HINT}")));
    }
    if let Some(currency) = FOREIGN.iter().find(|c| lower.contains(*c)) {
        return Err(bad(format!(
            "amounts are in yuan and {currency} is another currency (not converted): {HINT}"
        )));
    }
    if lower.starts_with('-') {
        return Err(bad(format!("an amount cannot be negative: {HINT}")));
    }
    let mut rest = lower.as_str();
    while let Some(p) = PREFIXES.iter().find(|p| rest.starts_with(*p)) {
        rest = rest[p.len()..].trim_start();
    }
    // Colloquial 块 is 元; `整`/`正` after 元 says there are no jiao or fen.
    let rest = rest.replace('块', "元");
    let parsed = if rest.chars().any(|c| c.is_ascii_digit()) {
        arabic_fen(&rest)
    } else {
        chinese_fen(&rest)
    };
    parsed.ok_or_else(|| bad(format!("not an amount: {HINT}")))
}

/// `305000`, `305,000.00`, `30.5万`, `1.2亿元`, `5千`, `305000元整`: digits with thousands
/// separators and a decimal point, then a unit (千, 万, 亿), then 元 (and 整).
fn arabic_fen(text: &str) -> Option<u128> {
    let mut rest = text.trim_end();
    for suffix in ["整", "正"] {
        if let Some(r) = rest.strip_suffix(suffix) {
            rest = r.trim_end();
            break;
        }
    }
    for suffix in ["元", "圆", "rmb", "cny"] {
        if let Some(r) = rest.strip_suffix(suffix) {
            rest = r.trim_end();
            break;
        }
    }
    let mut exponent = 0u32;
    for (unit, e) in [("千", 3), ("万", 4), ("萬", 4), ("亿", 8), ("億", 8)] {
        if let Some(r) = rest.strip_suffix(unit) {
            rest = r.trim_end();
            exponent = e;
            break;
        }
    }
    let plain: String = rest
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' ' | '\''))
        .collect();
    let (units, scale) = decimal(&plain)?;
    // units / 10^scale yuan × 10^exponent, in fen, rounded half up.
    let shift = exponent + 2;
    if scale <= shift {
        units.checked_mul(10u128.checked_pow(shift - scale)?)
    } else {
        let div = 10u128.checked_pow(scale - shift)?;
        Some(units / div + u128::from(units % div * 2 >= div))
    }
}

/// Digits with at most one decimal point (`305000`, `12.5`, `.5`) as an integer and the number
/// of digits after the point; at most 24 digits.
fn decimal(text: &str) -> Option<(u128, u32)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = int.len() + frac.len();
    if digits == 0 || digits > 24 || !format!("{int}{frac}").bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let units = format!("{int}{frac}").parse::<u128>().ok()?;
    Some((units, u32::try_from(frac.len()).ok()?))
}

/// `叁拾万伍仟元整`, `壹仟零伍元伍角`, `三十万五千` (no 元: whole yuan).
fn chinese_fen(text: &str) -> Option<u128> {
    let text: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    // A number needs a digit or a unit of ten: `万` alone is none.
    let counted = text
        .chars()
        .any(|c| cn_numerals::digit_value(c).is_some() || matches!(c, '拾' | '十'));
    if !counted {
        return None;
    }
    if text.contains(['元', '圆', '圓']) {
        return cn_numerals::parse_amount_fen(&text).map(u128::from);
    }
    let whole = text.trim_end_matches(['整', '正']);
    cn_numerals::parse_integer(whole).map(|yuan| u128::from(yuan) * 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yuan(text: &str) -> Option<f64> {
        parse("amount", text).ok()
    }

    #[test]
    fn digits_with_signs_units_and_separators() {
        for (text, value) in [
            ("305000", 305_000.0),
            ("305,000.00", 305_000.0),
            ("305000元", 305_000.0),
            ("305000元整", 305_000.0),
            ("¥305,000.00", 305_000.0),
            ("￥ 305，000", 305_000.0),
            ("RMB 30.5万", 305_000.0),
            ("rmb30.5万元", 305_000.0),
            ("CNY 305000", 305_000.0),
            ("人民币305000元", 305_000.0),
            ("３０．５万元", 305_000.0),
            ("1.2亿", 120_000_000.0),
            ("5千", 5_000.0),
            ("12,345.6", 12_345.6),
            ("0.015", 0.02),
            (".5", 0.5),
            ("300块", 300.0),
        ] {
            assert_eq!(yuan(text), Some(value), "{text}");
        }
    }

    #[test]
    fn chinese_numerals_upper_and_lower_case() {
        for (text, value) in [
            ("叁拾万伍仟元整", 305_000.0),
            ("人民币叁拾万伍仟元整", 305_000.0),
            ("壹仟零伍元伍角", 1_005.5),
            ("三十万五千", 305_000.0),
            ("三百块", 300.0),
            ("拾元整", 10.0),
        ] {
            assert_eq!(yuan(text), Some(value), "{text}");
        }
    }

    #[test]
    fn other_currencies_and_non_amounts_are_refused_with_a_hint() {
        for text in [
            "",
            "$300",
            "US$300",
            "300 USD",
            "300美元",
            "€5",
            "-5元",
            "万",
            "元",
            "abc",
            "305000元整元",
            "1.2.3",
            "3万5千",
            "12%",
        ] {
            match parse("amount", text) {
                Err(Error::Validation { field, reason, .. }) => {
                    assert_eq!(field, "amount");
                    assert!(reason.contains("305000元"), "{text}: {reason}");
                }
                other => panic!("{text:?} should be refused, got {other:?}"),
            }
        }
        assert!(parse("amount", &"9".repeat(80)).is_err());
        assert!(
            parse("amount", &"9".repeat(30)).is_err(),
            "beyond 24 digits"
        );
    }

    #[test]
    fn percentages_for_the_discount() {
        assert_eq!(parse_deal_field("discount", "15%").ok(), Some(15.0));
        assert_eq!(parse_deal_field("discount", "１２．５％").ok(), Some(12.5));
        assert_eq!(parse_deal_field("discount", "15").ok(), Some(15.0));
        assert!(parse_deal_field("discount", "十五").is_err());
        assert_eq!(
            parse_deal_field("contract_amount", "30.5万").ok(),
            Some(305_000.0)
        );
    }
}
