//! Contracts: number, parties, amount (digits and upper-case Chinese numerals), date.

use super::cn_numerals::{
    edit_distance, format_amount_upper, is_amount_char, is_upper_only, parse_amount_fen,
};
use super::dates::find_dates;
use super::{after_label, fix_digits, normalize_text, Field};
use crate::scan::ocr::OcrLine;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// The fields of a contract. Missing fields are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContractFields {
    /// The contract number (`合同编号`, `No.`), upper case.
    pub contract_number: Option<Field>,
    /// Party A (`甲方`), usually the buyer.
    pub party_a: Option<Field>,
    /// Party B (`乙方`).
    pub party_b: Option<Field>,
    /// The total amount in yuan: from digits (`¥305,000.00`, `人民币305000元`) when present,
    /// else from the upper-case numerals.
    pub amount: Option<Field<f64>>,
    /// The amount in upper-case Chinese numerals as read (`叁拾万伍仟元整`), with OCR
    /// look-alikes (`参` for `叁`, `萬` for `万`) corrected.
    pub amount_upper: Option<Field>,
    /// Set when the digits and the upper-case numerals give different amounts.
    pub amount_mismatch: Option<AmountMismatch>,
    /// The signing date, `YYYY-MM-DD`.
    pub date: Option<Field>,
}

/// The two readings of an amount that disagree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AmountMismatch {
    /// The amount read from digits, in yuan.
    pub digits: f64,
    /// The amount read from the upper-case numerals, in yuan.
    pub upper: f64,
    /// A sentence for the user.
    pub warning: String,
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("built-in pattern {pattern}: {e}"))
}

/// A digit amount with an optional currency mark before it and an optional unit after it.
static DIGIT_AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(¥|￥|Y|RMB|CNY|人民币|羊)?\s*([0-9OolI][0-9OolI,，\s]*(?:[.．][0-9Oo]{1,2})?)\s*(万元|元|圆|万)?",
    )
});
static NUMBER_VALUE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[A-Za-z0-9][A-Za-z0-9\-_/.()]*[A-Za-z0-9)]|^[A-Za-z0-9]"));

const NUMBER_LABELS: &[&str] = &[
    "合同编号",
    "合同号",
    "协议编号",
    "编号",
    "Contract No.",
    "Contract No",
    "Agreement No.",
    "No.",
];
const AMOUNT_CUES: &[&str] = &[
    "金额",
    "总价",
    "价款",
    "合计",
    "总计",
    "TOTAL",
    "AMOUNT",
    "PRICE",
    "¥",
    "￥",
    "RMB",
    "人民币",
];
/// Brackets as OCR reads them around a role (`甲方（买方）`, `甲方《买方)`).
const OPEN_BRACKETS: [char; 6] = ['(', '（', '《', '〈', '【', '['];
const CLOSE_BRACKETS: [char; 6] = [')', '）', '》', '〉', '】', ']'];
const SIGN_DATE_CUES: &[&str] = &["签订", "签署", "签约", "签字", "日期", "DATE", "DATED"];

/// Extracts the fields of a contract from its OCR lines.
pub fn extract_contract(lines: &[OcrLine]) -> ContractFields {
    let texts: Vec<(String, &OcrLine)> = lines
        .iter()
        .map(|l| (normalize_text(&l.text), l))
        .filter(|(t, _)| !t.is_empty())
        .collect();
    let mut out = ContractFields {
        contract_number: contract_number(&texts),
        party_a: party(&texts, &["甲方", "Party A", "PartyA"]),
        party_b: party(&texts, &["乙方", "Party B", "PartyB"]),
        date: date(&texts),
        ..Default::default()
    };
    let digits = digit_amount(&texts);
    let upper = upper_amount(&texts, digits.as_ref());
    if let (Some(d), Some(u)) = (&digits, &upper) {
        if let Some(fen) = u.fen {
            let from_upper = fen as f64 / 100.0;
            if (d.value - from_upper).abs() >= 0.005 {
                out.amount_mismatch = Some(AmountMismatch {
                    digits: d.value,
                    upper: from_upper,
                    warning: format!(
                        "the amount in digits ({:.2}) and in words ({:.2}) disagree: check the contract",
                        d.value, from_upper
                    ),
                });
            }
        }
    }
    out.amount = match (digits, &upper) {
        (Some(mut d), _) => {
            if out.amount_mismatch.is_some() {
                d.confidence *= 0.5;
            } else if upper.as_ref().is_some_and(|u| u.fen.is_some()) {
                // Two readings that agree.
                d.confidence = (d.confidence + 0.1).min(1.0);
            }
            Some(d)
        }
        (
            None,
            Some(UpperReading {
                field,
                fen: Some(fen),
            }),
        ) => Some(Field {
            value: *fen as f64 / 100.0,
            confidence: field.confidence * 0.9,
            bbox: field.bbox,
        }),
        _ => None,
    };
    out.amount_upper = upper.map(|u| u.field);
    out
}

fn contract_number(texts: &[(String, &OcrLine)]) -> Option<Field> {
    for (text, line) in texts {
        // The label can be anywhere on the line (the title line may carry it at the right).
        for label in NUMBER_LABELS {
            let upper = text.to_uppercase();
            let Some(at) = upper.find(&label.to_uppercase()) else {
                continue;
            };
            if !text.is_char_boundary(at) {
                continue;
            }
            let Some(rest) = after_label(&text[at..], &[label]) else {
                continue;
            };
            let rest: String = rest.chars().filter(|c| *c != ' ').collect();
            if let Some(m) = NUMBER_VALUE.find(&rest) {
                let value = fix_number(m.as_str());
                if value.chars().any(|c| c.is_ascii_digit()) {
                    return Some(Field::from_line(value, line, 0.95));
                }
            }
        }
    }
    None
}

/// Upper-cases a contract number and, in the parts that are digits and look-alikes, replaces the
/// letters OCR confuses with digits: `HT-2O26-0l23` → `HT-2026-0123`.
fn fix_number(raw: &str) -> String {
    raw.to_uppercase()
        .split_inclusive(['-', '/', '_'])
        .map(|part| {
            let has_digit = part.chars().any(|c| c.is_ascii_digit());
            let all_digit_like = part.chars().filter(char::is_ascii_alphanumeric).all(|c| {
                c.is_ascii_digit() || matches!(c, 'O' | 'L' | 'I' | 'S' | 'B' | 'Z' | 'D' | 'Q')
            });
            if has_digit && all_digit_like {
                fix_digits(part)
            } else {
                part.to_string()
            }
        })
        .collect::<String>()
        .trim_end_matches(['.', ')'])
        .to_string()
}

/// `甲方：X`, `甲方（买方）：X`, `Party A: X`; an empty value (the signature block
/// `甲方（盖章）：`) is skipped. `（以下简称甲方）` after the name is dropped.
fn party(texts: &[(String, &OcrLine)], labels: &[&str]) -> Option<Field> {
    for (text, line) in texts {
        let upper = text.to_uppercase();
        let Some(label) = labels.iter().find(|l| upper.starts_with(&l.to_uppercase())) else {
            continue;
        };
        // A role in brackets: 甲方（买方）
        let rest_trimmed = text[label.len()..].trim_start();
        let mut rest = rest_trimmed;
        if let Some(r) = rest_trimmed.strip_prefix(OPEN_BRACKETS) {
            match r.find(CLOSE_BRACKETS) {
                Some(end) => {
                    let role = &r[..end];
                    if role.contains("盖章") || role.contains("签字") || role.contains("签章")
                    {
                        continue;
                    }
                    rest = &r[end + r[end..].chars().next().map_or(1, char::len_utf8)..];
                }
                None => continue,
            }
        }
        let rest = rest.trim_start();
        let rest = match rest.strip_prefix([':', '：']) {
            Some(r) => r,
            None if label.is_ascii() => rest,
            // OCR lost the opening bracket (`甲方 买方) : X`): a short role, then the colon.
            None => match rest.char_indices().take(10).find(|(_, c)| *c == ':') {
                Some((at, _)) if !rest[..at].contains("盖章") && !rest[..at].contains("签字") => {
                    &rest[at + 1..]
                }
                _ => continue,
            },
        };
        let mut value = rest.trim().to_string();
        for cut in [
            "(以下简称",
            "（以下简称",
            "(下称",
            "（下称",
            "(hereinafter",
            "( hereinafter",
            "(\"Party",
        ] {
            if let Some(at) = value.find(cut) {
                value.truncate(at);
            }
        }
        let value = value
            .trim()
            .trim_end_matches([',', ';', '，', '。'])
            .trim()
            .to_string();
        if value.chars().count() >= 2 && !value.contains("盖章") && !value.contains("签字") {
            return Some(Field::from_line(value, line, 0.95));
        }
    }
    None
}

/// The amount in digits: on a line with an amount word or a currency mark; the first such
/// line wins (contracts state the total first).
fn digit_amount(texts: &[(String, &OcrLine)]) -> Option<Field<f64>> {
    for (text, line) in texts {
        let upper = text.to_uppercase();
        if !AMOUNT_CUES.iter().any(|c| upper.contains(c)) {
            continue;
        }
        let mut best: Option<(f64, f32)> = None;
        for caps in DIGIT_AMOUNT.captures_iter(text) {
            let currency = caps.get(1).is_some();
            let unit = caps.get(3).map(|m| m.as_str());
            let Some(raw) = caps.get(2) else { continue };
            // Without a currency mark or unit (OCR may drop `¥`), only a number written like
            // money counts: grouped thousands or two decimals (`138,000.00`).
            let money_like = raw.as_str().contains(',')
                || raw
                    .as_str()
                    .trim_end()
                    .rsplit_once('.')
                    .is_some_and(|(_, d)| d.len() == 2);
            if !currency && unit.is_none() && !money_like {
                continue;
            }
            let cleaned: String = fix_digits(raw.as_str())
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '．')
                .map(|c| if c == '．' { '.' } else { c })
                .collect();
            let Ok(mut value) = cleaned.parse::<f64>() else {
                continue;
            };
            if matches!(unit, Some("万元") | Some("万")) {
                value *= 10_000.0;
            }
            if value <= 0.0 {
                continue;
            }
            let rule = if currency && unit.is_some() {
                0.95
            } else {
                0.9
            };
            if best.is_none_or(|(v, _)| value > v) {
                best = Some(((value * 100.0).round() / 100.0, rule));
            }
        }
        if let Some((value, rule)) = best {
            return Some(Field::from_line(value, line, rule));
        }
    }
    None
}

/// Corrects OCR look-alikes of upper-case numerals inside a run of numerals.
fn fix_upper_char(c: char) -> char {
    match c {
        '参' | '叄' | '弎' => '叁',
        '貳' | '弍' => '贰',
        '陸' => '陆',
        '萬' => '万',
        '億' => '亿',
        '圓' => '圆',
        '伯' => '佰',
        '什' => '仟',
        '阡' => '仟',
        '正' => '整',
        _ => c,
    }
}

/// What was read as the amount in words, and its value when it could be parsed.
struct UpperReading {
    field: Field,
    fen: Option<u64>,
}

/// Labels before an amount in words.
const UPPER_LABELS: &[&str] = &["大写", "IN WORDS", "SAY"];

/// Candidate texts for the amount in words: what follows a `大写` / `in words` label up to
/// a bracket or the end of the line, and every run of numeral characters holding `元`.
fn upper_candidates(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let upper = text.to_uppercase();
    for label in UPPER_LABELS {
        let Some(at) = upper.find(label) else {
            continue;
        };
        let Some(rest) = text.get(at + label.len()..) else {
            continue;
        };
        let rest = rest
            .trim_start_matches([')', '）', '〉', '》', ':', '：', ' '])
            .trim_start_matches("人民币")
            .trim_start_matches("RMB")
            .trim_start_matches([':', '：', ' ']);
        let end = rest
            .find(['(', '（', ')', '）', '〈', '《', ',', '，', ';', '；', '。'])
            .unwrap_or(rest.len());
        let segment: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
        // Stop after the end of an amount (整, or 分).
        let segment = match segment.find(['整', '正']) {
            Some(p) => segment[..p + '整'.len_utf8()].to_string(),
            None => segment,
        };
        if segment.chars().count() >= 2 {
            out.push(segment);
        }
    }
    if !out.is_empty() {
        // A labelled amount is the one; runs elsewhere are fragments of it or other numbers.
        return out;
    }
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !is_amount_char(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && (is_amount_char(chars[i]) || chars[i] == ' ') {
            i += 1;
        }
        let run: String = chars[start..i].iter().filter(|c| **c != ' ').collect();
        let run = run
            .trim_start_matches(['元', '圆', '角', '分', '整'])
            .to_string();
        if run.chars().count() >= 3 && run.chars().any(is_upper_only) {
            out.push(run);
        }
    }
    out
}

/// The amount in upper-case numerals. Look-alikes are corrected first (`参` → `叁`). When
/// the text still does not parse (characters OCR could not read) but differs in at most 40%
/// of its characters from the digit amount written in words, it is taken as that, with a lower
/// confidence; a text that parses to another amount is kept as read (a real disagreement).
fn upper_amount(texts: &[(String, &OcrLine)], digits: Option<&Field<f64>>) -> Option<UpperReading> {
    let digit_fen = digits.map(|d| (d.value * 100.0).round() as u64);
    let mut best: Option<(UpperReading, u32)> = None;
    for (text, line) in texts {
        for candidate in upper_candidates(text) {
            let fixed: String = candidate.chars().map(fix_upper_char).collect();
            let (reading, rank) = if let Some(fen) = parse_amount_fen(&fixed) {
                let rank = if Some(fen) == digit_fen { 3 } else { 1 };
                (
                    UpperReading {
                        field: Field::from_line(fixed, line, 0.9),
                        fen: Some(fen),
                    },
                    rank,
                )
            } else if let Some(fen) = digit_fen {
                let variants = [(true, true), (true, false), (false, true), (false, false)]
                    .map(|(one, zheng)| format_amount_upper(fen, one, zheng));
                let Some((distance, closest)) = variants
                    .iter()
                    .map(|v| (edit_distance(&fixed, v), v))
                    .min_by_key(|(d, _)| *d)
                else {
                    continue;
                };
                let length_gap = fixed.chars().count().abs_diff(closest.chars().count());
                let allowed = (closest.chars().count() * 2 / 5).max(2);
                if distance > allowed || length_gap > 2 {
                    continue;
                }
                (
                    UpperReading {
                        field: Field::from_line(closest.clone(), line, 0.6),
                        fen: Some(fen),
                    },
                    2,
                )
            } else {
                continue;
            };
            if best.as_ref().is_none_or(|(_, r)| rank > *r) {
                best = Some((reading, rank));
            }
        }
    }
    best.map(|(r, _)| r)
}

/// The signing date: a date on a line that says so (`签订日期`, `Date`), else the last date
/// of the document (the signature block is at the end).
fn date(texts: &[(String, &OcrLine)]) -> Option<Field> {
    let mut last: Option<Field> = None;
    for (text, line) in texts {
        let found = find_dates(text);
        let Some(first) = found.first() else { continue };
        let upper = text.to_uppercase();
        if SIGN_DATE_CUES.iter().any(|c| upper.contains(c)) {
            return Some(Field::from_line(first.iso.clone(), line, 0.95));
        }
        if let Some(d) = found.last() {
            last = Some(Field::from_line(d.iso.clone(), line, 0.7));
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ocr::{BBox, OcrWord};

    fn contract(texts: &[&str]) -> ContractFields {
        let lines: Vec<OcrLine> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                OcrLine::from_words(vec![OcrWord {
                    text: t.to_string(),
                    confidence: 0.9,
                    bbox: BBox {
                        x: 100,
                        y: 50 + 40 * i as u32,
                        w: 900,
                        h: 30,
                    },
                }])
            })
            .collect();
        extract_contract(&lines)
    }

    fn value(f: &Option<Field>) -> &str {
        f.as_ref().map(|f| f.value.as_str()).unwrap_or("")
    }

    #[test]
    fn chinese_purchase_contract_with_ocr_noise() {
        let c = contract(&[
            "购 销 合 同",
            "合同编号 ： HT-2O26-Ol23",
            "甲方（买方）：深圳市华强科技有限公司（以下简称甲方）",
            "乙方 卖方) : 广州恒通贸易有限公司",
            "经甲乙双方友好协商，达成如下协议：",
            "交货时间：2026年12月30日前",
            "合同总金额：¥305,000.00（大写：人民币叁拾万伍仟元整）",
            "甲方（盖章）：          乙方（盖章）：",
            "签订日期：二〇二六年十一月二十三日",
        ]);
        assert_eq!(value(&c.contract_number), "HT-2026-0123");
        assert_eq!(value(&c.party_a), "深圳市华强科技有限公司");
        assert_eq!(value(&c.party_b), "广州恒通贸易有限公司");
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(305_000.0));
        assert_eq!(value(&c.amount_upper), "叁拾万伍仟元整");
        assert!(c.amount_mismatch.is_none());
        assert_eq!(value(&c.date), "2026-11-23");
    }

    #[test]
    fn amounts_in_other_forms_and_a_mismatch() {
        let c = contract(&[
            "合同金额为人民币305000元（大写：叁拾万零伍仟元整）",
            "日期：2026/11/23",
        ]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(305_000.0));
        assert_eq!(value(&c.date), "2026-11-23");

        let c = contract(&["总价款：人民币（大写）壹拾贰万元整，小写：¥120,500.00"]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(120_500.0));
        let mismatch = c.amount_mismatch.as_ref().map(|m| (m.digits, m.upper));
        assert_eq!(mismatch, Some((120_500.0, 120_000.0)));

        let c = contract(&["服务费总计：参拾萬伍仟圆正"]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(305_000.0));
        assert_eq!(value(&c.amount_upper), "叁拾万伍仟圆整");

        // Characters OCR could not read, explained by the digits.
        let c = contract(&["三、总价款: 人民币 (大写) 喜拾玖万参什元肆角于分 (小写: Y193,000.42)"]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(193_000.42));
        assert_eq!(value(&c.amount_upper), "壹拾玖万叁仟元肆角贰分");
        assert!(c.amount_mismatch.is_none());
        let c = contract(&[
            "3.Totalamount: RMB 1,850,480.40 (in words: 过佰抽拾伍万零肆佰舞拾元肆角整)",
        ]);
        assert_eq!(value(&c.amount_upper), "壹佰捌拾伍万零肆佰捌拾元肆角整");
        let c = contract(&["RMB 1,850,480.40 (in words: 毒佰搬拾伍万荟律佰铀抬元肆角整 )"]);
        assert_eq!(value(&c.amount_upper), "壹佰捌拾伍万零肆佰捌拾元肆角整");
        // Too far from the digits to be a misreading: not repaired, not parsed.
        let c = contract(&["RMB 1,850,480.40 (in words: 毒毒搬搬伍荟荟律律铀抬元肆角整 )"]);
        assert!(c.amount_upper.is_none());

        let c = contract(&["总价款: 人民币 〈大写) 过拾参万制什元整 〈小写: 138,000.00)"]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(138_000.0));
        assert_eq!(value(&c.amount_upper), "壹拾叁万捌仟元整");

        let c = contract(&["合同金额：30.5万元"]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(305_000.0));
    }

    #[test]
    fn english_contract() {
        let c = contract(&[
            "SERVICE AGREEMENT",
            "Contract No.: SZ-2026-118",
            "Party A: Shenzhen Hengtong Technology Co., Ltd.",
            "Party B: Guangzhou Boyuan Trading Co., Ltd.",
            "Total amount: RMB 1,280,000.50",
            "Date: 2026.11.23",
        ]);
        assert_eq!(value(&c.contract_number), "SZ-2026-118");
        assert_eq!(value(&c.party_a), "Shenzhen Hengtong Technology Co., Ltd.");
        assert_eq!(value(&c.party_b), "Guangzhou Boyuan Trading Co., Ltd.");
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(1_280_000.5));
        assert_eq!(value(&c.date), "2026-11-23");
    }
}
