//! Dates as contracts print them, to `YYYY-MM-DD`.

use super::cn_numerals::parse_integer;
use regex::Regex;
use std::sync::LazyLock;

static NUMERIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"((?:19|20)\d{2})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?")
        .unwrap_or_else(|e| unreachable!("{e}"))
});

static CHINESE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([〇○零OoＯ0一二三四五六七八九](?:\s*[〇○零OoＯ0一二三四五六七八九]){3,5})\s*年\s*([一二三四五六七八九十]{1,3})\s*月\s*([一二三四五六七八九十]{1,4})\s*日")
        .unwrap_or_else(|e| unreachable!("{e}"))
});

/// One date found in a text: the ISO form and where it starts (byte offset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDate {
    /// `YYYY-MM-DD`.
    pub iso: String,
    /// Byte offset of the match in the text.
    pub start: usize,
}

fn iso(year: u64, month: u64, day: u64) -> Option<String> {
    let date = chrono::NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )?;
    Some(date.format("%Y-%m-%d").to_string())
}

/// Every valid date in `text`: `2026年11月23日`, `2026-11-23`, `2026/11/23`, `2026.11.23`,
/// `二〇二六年十一月二十三日` (with `〇` read as `O` or `0`), in order of appearance.
pub fn find_dates(text: &str) -> Vec<FoundDate> {
    let mut out = Vec::new();
    for caps in NUMERIC.captures_iter(text) {
        let num = |i: usize| caps.get(i).and_then(|m| m.as_str().parse::<u64>().ok());
        if let (Some(y), Some(m), Some(d), Some(all)) = (num(1), num(2), num(3), caps.get(0)) {
            if let Some(iso) = iso(y, m, d) {
                out.push(FoundDate {
                    iso,
                    start: all.start(),
                });
            }
        }
    }
    for caps in CHINESE.captures_iter(text) {
        let year: String = caps
            .get(1)
            .map(|m| m.as_str())
            .unwrap_or_default()
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| {
                if matches!(c, 'O' | 'o' | 'Ｏ' | '0' | '○') {
                    '〇'
                } else {
                    c
                }
            })
            .collect();
        // OCR sometimes reads one 〇 as two (`二 O 〇二七`): drop doubled zeros to 4 digits.
        let mut year = year;
        while year.chars().count() > 4 && year.contains("〇〇") {
            year = year.replacen("〇〇", "〇", 1);
        }
        let part = |i: usize| caps.get(i).and_then(|m| parse_integer(m.as_str()));
        if let (Some(y), Some(m), Some(d), Some(all)) =
            (parse_integer(&year), part(2), part(3), caps.get(0))
        {
            if let Some(iso) = iso(y, m, d) {
                out.push(FoundDate {
                    iso,
                    start: all.start(),
                });
            }
        }
    }
    out.sort_by_key(|d| d.start);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(text: &str) -> Option<String> {
        find_dates(text).into_iter().next().map(|d| d.iso)
    }

    #[test]
    fn common_forms() {
        assert_eq!(
            first("签订日期：2026年11月23日").as_deref(),
            Some("2026-11-23")
        );
        assert_eq!(first("Date: 2026-11-23").as_deref(), Some("2026-11-23"));
        assert_eq!(first("2026/1/5").as_deref(), Some("2026-01-05"));
        assert_eq!(first("2026.11.23").as_deref(), Some("2026-11-23"));
        assert_eq!(first("2026 年 11 月 23 日").as_deref(), Some("2026-11-23"));
        assert_eq!(
            first("二〇二六年十一月二十三日").as_deref(),
            Some("2026-11-23")
        );
        assert_eq!(first("二O二六年十月一日").as_deref(), Some("2026-10-01"));
        assert_eq!(
            first("签约时间 : 二 O 〇二七年三月九日").as_deref(),
            Some("2027-03-09")
        );
        assert_eq!(first("二〇二六年二月三十日"), None);
        assert_eq!(first("2026-13-01"), None);
    }

    #[test]
    fn several_dates_in_order() {
        let found = find_dates("交货：2026年12月30日前；签订：二〇二六年十一月二十三日");
        let isos: Vec<&str> = found.iter().map(|d| d.iso.as_str()).collect();
        assert_eq!(isos, ["2026-12-30", "2026-11-23"]);
    }
}
