//! Contracts: number, parties, amount (digits and upper-case Chinese numerals), date.

use super::cn_numerals::{
    edit_distance, format_amount_upper, is_amount_char, is_upper_only, parse_amount_fen,
};
use super::dates::find_dates;
use super::{after_label, fix_digits, normalize_text, re, Field};
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

impl ContractFields {
    /// The confidence (0..1) of each field found, by the field's name as serialized
    /// (`contract_number`, `party_a`, `party_b`, `amount`, `amount_upper`, `date`).
    pub fn confidences(&self) -> Vec<(&'static str, f32)> {
        let one = |name, f: &Option<Field>| f.as_ref().map(|f| (name, f.confidence));
        [
            one("contract_number", &self.contract_number),
            one("party_a", &self.party_a),
            one("party_b", &self.party_b),
            self.amount.as_ref().map(|f| ("amount", f.confidence)),
            one("amount_upper", &self.amount_upper),
            one("date", &self.date),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The confidence of one field by name (see [`ContractFields::confidences`]), `None`
    /// when it was not found.
    pub fn confidence(&self, field: &str) -> Option<f32> {
        self.confidences()
            .into_iter()
            .find(|(name, _)| *name == field)
            .map(|(_, c)| c)
    }
}

/// A digit amount with an optional currency mark before it and an optional unit after it.
static DIGIT_AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(¥|￥|Y|RMB|CNY|人民币|羊)?\s*([0-9OolI][0-9OolI,，\s]*(?:[.．][0-9Oo]{1,2})?)\s*(万元|元|圆|万)?",
    )
});
static NUMBER_VALUE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[A-Za-z0-9][A-Za-z0-9\-_/.()]*[A-Za-z0-9)]|^[A-Za-z0-9]"));

/// Labels of the contract number; the first [`STRONG_NUMBER_LABELS`] name it as the
/// contract's, the rest (`编号`, `No.`) may name any number.
const NUMBER_LABELS: &[&str] = &[
    "合同编号",
    "合同号",
    "协议编号",
    "合同编码",
    "Contract No.",
    "Contract No",
    "Contract Number",
    "Agreement No.",
    "Agreement No",
    // OCR often drops the space.
    "ContractNo",
    "AgreementNo",
    "编号",
    "No.",
    "NO:",
    "No",
];
const STRONG_NUMBER_LABELS: usize = 11;
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
/// Words that say a date is the signing date.
const SIGN_DATE_CUES: &[&str] = &[
    "签订", "签署", "签约", "签字", "签章", "盖章", "SIGNED", "SIGNING", "DATED",
];
/// Words that say a line holds a date, of no event in particular.
const DATE_CUES: &[&str] = &["日期", "DATE", "时间"];
/// Words that name another event than the signing: its date is not the contract's.
const OTHER_DATE_CUES: &[&str] = &[
    "交货",
    "交付",
    "发货",
    "到货",
    "验收",
    "付款",
    "支付",
    "有效",
    "期限",
    "截止",
    "到期",
    "届满",
    "履行",
    "开始",
    "结束",
    "生效",
    "起",
    "至",
    "前",
    "DELIVERY",
    "PAYMENT",
    "PAY ",
    "EXPIR",
    "VALID",
    "EFFECTIVE",
    "UNTIL",
    "BEFORE",
    "FROM",
    "TERM",
];

/// Extracts the fields of a contract from its OCR lines.
pub fn extract_contract(lines: &[OcrLine]) -> ContractFields {
    let texts: Vec<(String, &OcrLine)> = lines
        .iter()
        .map(|l| (normalize_text(&l.text), l))
        .filter(|(t, _)| !t.is_empty())
        .collect();
    let mut out = ContractFields {
        contract_number: contract_number(&texts),
        date: date(&texts),
        ..Default::default()
    };
    (out.party_a, out.party_b) = parties(&texts);
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

/// The contract number: after a label that names it (`合同编号`, `Contract No.`) anywhere in
/// the document, else after a bare `编号` / `No.` on a line that is not about another number
/// (an ID card, a business licence, a bank account).
fn contract_number(texts: &[(String, &OcrLine)]) -> Option<Field> {
    let (strong, weak) = NUMBER_LABELS.split_at(STRONG_NUMBER_LABELS);
    number_after(texts, strong, 0.95).or_else(|| {
        let texts: Vec<(String, &OcrLine)> = texts
            .iter()
            .filter(|(t, _)| {
                let upper = t.to_uppercase();
                !OTHER_NUMBER_CUES.iter().any(|c| upper.contains(c))
            })
            .cloned()
            .collect();
        number_after(&texts, weak, 0.8)
    })
}

/// Lines that carry a number which is not the contract's.
const OTHER_NUMBER_CUES: &[&str] = &[
    "身份证",
    "证件",
    "执照",
    "信用代码",
    "注册号",
    "税号",
    "纳税",
    "账号",
    "帐号",
    "账户",
    "开户",
    "电话",
    "手机",
    "传真",
    "邮编",
    "ID",
    "TAX",
    "ACCOUNT",
    "TEL",
    "FAX",
    "PHONE",
    "LICENSE",
    "LICENCE",
    "PASSPORT",
];

fn number_after(texts: &[(String, &OcrLine)], labels: &[&str], rule: f32) -> Option<Field> {
    for (text, line) in texts {
        // The label can be anywhere on the line (the title line may carry it at the right).
        let upper = text.to_uppercase();
        for label in labels {
            for (at, _) in upper.match_indices(&label.to_uppercase()) {
                if !text.is_char_boundary(at) {
                    continue;
                }
                // A Latin label starts a word (`No.`, not the end of `CASINO`).
                let word_start = !label.is_ascii()
                    || !text[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_ascii_alphanumeric());
                if !word_start {
                    continue;
                }
                let Some(rest) = after_label(&text[at..], &[label]) else {
                    continue;
                };
                let rest: String = rest.chars().filter(|c| *c != ' ').collect();
                if let Some(m) = NUMBER_VALUE.find(&rest) {
                    let value = fix_number(m.as_str());
                    if value.chars().any(|c| c.is_ascii_digit()) {
                        return Some(Field::from_line(value, line, rule));
                    }
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

/// The two parties' role labels, first party first: `甲方`/`乙方`, then the pairs contracts use
/// instead (`委托方`/`受托方`, `买方`/`卖方`, `发包人`/`承包人`, ...).
const PARTY_PAIRS: &[(&[&str], &[&str])] = &[
    (
        &["甲方", "Party A", "PartyA"],
        &["乙方", "Party B", "PartyB"],
    ),
    (&["委托方"], &["受托方"]),
    (&["委托人"], &["受托人"]),
    (
        &["买方", "购买方", "购货方", "Buyer"],
        &["卖方", "销售方", "Seller"],
    ),
    (&["出卖人"], &["买受人"]),
    (&["发包人", "发包方"], &["承包人", "承包方"]),
    (
        &["出租方", "出租人", "Lessor"],
        &["承租方", "承租人", "Lessee"],
    ),
    (&["供方", "供货方", "Supplier"], &["需方"]),
];

/// An enumeration before a label: `1、`, `(一)`, `2.`.
static ENUMERATION: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^\s*[(（]?\s*(?:[0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*[)）、.．]\s*")
});

/// What a role label is followed by on its line, or `None` when the line does not start with
/// one of `labels` used as a label: the label must be followed by a colon, possibly after a
/// role in brackets (`甲方（买方）：`). `甲方代表：`, `甲方地址：` and the signature block
/// (`甲方（盖章）：`) are not the party.
fn after_role<'a>(text: &'a str, labels: &[&str]) -> Option<&'a str> {
    let text = match ENUMERATION.find(text) {
        Some(m) => &text[m.end()..],
        None => text,
    };
    let upper = text.to_uppercase();
    let label = labels
        .iter()
        .filter(|l| upper.starts_with(&l.to_uppercase()) && text.is_char_boundary(l.len()))
        .max_by_key(|l| l.len())?;
    let rest = text[label.len()..].trim_start();
    let signature = |s: &str| s.contains("盖章") || s.contains("签字") || s.contains("签章");
    let rest = match rest.strip_prefix(OPEN_BRACKETS) {
        Some(r) => {
            let end = r.find(CLOSE_BRACKETS)?;
            if signature(&r[..end]) {
                return None;
            }
            &r[end + r[end..].chars().next().map_or(1, char::len_utf8)..]
        }
        None => rest,
    };
    let rest = rest.trim_start();
    match rest.strip_prefix([':', '：']) {
        Some(r) => Some(r),
        // `Party A Foo Ltd.` (Latin labels need no colon), unless a word follows (`Buyers`).
        None if label.is_ascii() => (!rest.starts_with(|c: char| c.is_ascii_lowercase())
            && !text[label.len()..].starts_with(|c: char| c.is_ascii_alphanumeric()))
        .then_some(rest),
        // OCR lost the opening bracket of the role (`甲方 买方) : X`): a short role that ends
        // with a closing bracket, then the colon.
        None => {
            let (at, _) = rest.char_indices().take(10).find(|(_, c)| *c == ':')?;
            let role = rest[..at].trim_end();
            (role.ends_with(CLOSE_BRACKETS) && !signature(role)).then(|| &rest[at + 1..])
        }
    }
}

/// Cuts a party's value: the `（以下简称甲方）` after the name, and the other party when both
/// share a line (`甲方：A公司 乙方：B公司`).
fn party_value(rest: &str) -> String {
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
    let starts: Vec<usize> = value.char_indices().skip(1).map(|(i, _)| i).collect();
    for at in starts {
        let labels = PARTY_PAIRS
            .iter()
            .flat_map(|(a, b)| a.iter().chain(b.iter()));
        if labels
            .clone()
            .any(|l| after_role(&value[at..], &[l]).is_some())
        {
            value.truncate(at);
            break;
        }
    }
    value
        .trim()
        .trim_end_matches([',', ';', '，', '。', '；'])
        .trim()
        .to_string()
}

/// True when `text` reads like an organisation or a person rather than a clause.
fn plausible_party(value: &str) -> bool {
    let n = value.chars().count();
    (2..=60).contains(&n)
        && !value.contains("盖章")
        && !value.contains("签字")
        && !value.contains("签章")
}

/// The party named after one of `labels`. A label alone on its line (`甲方：`) takes the next
/// line when that line names an organisation, with a lower confidence.
fn party(texts: &[(String, &OcrLine)], labels: &[&str]) -> Option<Field> {
    for (k, (text, line)) in texts.iter().enumerate() {
        // At the start of the line, or after the other party on the same line.
        let Some(rest) = text
            .char_indices()
            .find_map(|(at, _)| after_role(&text[at..], labels))
        else {
            continue;
        };
        let value = party_value(rest);
        if plausible_party(&value) {
            return Some(Field::from_line(value, line, 0.95));
        }
        if value.is_empty() {
            if let Some((next, next_line)) = texts.get(k + 1) {
                let value = party_value(next);
                let label_again = PARTY_PAIRS
                    .iter()
                    .flat_map(|(a, b)| a.iter().chain(b.iter()))
                    .any(|l| after_role(next, &[l]).is_some());
                if !label_again && plausible_party(&value) && super::card::is_company(&value) {
                    return Some(Field::from_line(value, next_line, 0.8));
                }
            }
        }
    }
    None
}

/// Party A and party B: from the first pair of role labels the contract uses, the pair with
/// both parties found winning over one with only one.
fn parties(texts: &[(String, &OcrLine)]) -> (Option<Field>, Option<Field>) {
    let mut best: (Option<Field>, Option<Field>) = (None, None);
    let mut best_found = 0;
    for (a_labels, b_labels) in PARTY_PAIRS {
        let a = party(texts, a_labels);
        let b = party(texts, b_labels);
        let found = usize::from(a.is_some()) + usize::from(b.is_some());
        if found > best_found {
            best = (a, b);
            best_found = found;
            if found == 2 {
                break;
            }
        }
    }
    best
}

/// Words that name the contract's total rather than a unit price or a payment instalment.
const TOTAL_CUES: &[&str] = &[
    "合计",
    "总计",
    "总价",
    "总金额",
    "总额",
    "合同金额",
    "合同价款",
    "合同总价",
    "价款",
    "大写",
    "TOTAL",
    "CONTRACT PRICE",
    "CONTRACT AMOUNT",
];

/// The amount in digits. Every line with an amount word or a currency mark gives a candidate;
/// the one the upper-case numerals confirm wins, else the first that says it is the total, else
/// the first (contracts state the total first).
fn digit_amount(texts: &[(String, &OcrLine)]) -> Option<Field<f64>> {
    let candidates = digit_amounts(texts);
    let confirmed: Vec<u64> = texts
        .iter()
        .flat_map(|(t, _)| upper_candidates(t))
        .filter_map(|c| parse_amount_fen(&c.chars().map(fix_upper_char).collect::<String>()))
        .collect();
    let fen = |f: &Field<f64>| (f.value * 100.0).round() as u64;
    let pick = candidates
        .iter()
        .position(|(f, _)| confirmed.contains(&fen(f)))
        .or_else(|| candidates.iter().position(|(_, total)| *total))
        .or((!candidates.is_empty()).then_some(0))?;
    candidates.into_iter().nth(pick).map(|(f, _)| f)
}

/// Every line's amount in digits, with whether the line says it is the total.
fn digit_amounts(texts: &[(String, &OcrLine)]) -> Vec<(Field<f64>, bool)> {
    let mut out = Vec::new();
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
            let total = TOTAL_CUES.iter().any(|c| upper.contains(c));
            out.push((Field::from_line(value, line, rule), total));
        }
    }
    out
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

/// The signing date: a date on a line that says it was signed (`签订`, `签署`, `Signed`), else
/// one on a line that says `日期` / `Date` without naming another event (delivery, payment,
/// validity), else the last date of the document (the signature block is at the end).
fn date(texts: &[(String, &OcrLine)]) -> Option<Field> {
    let mut dated: Option<Field> = None;
    let mut last: Option<Field> = None;
    for (text, line) in texts {
        let found = find_dates(text);
        let Some(first) = found.first() else { continue };
        let upper = text.to_uppercase();
        if SIGN_DATE_CUES.iter().any(|c| upper.contains(c)) {
            return Some(Field::from_line(first.iso.clone(), line, 0.95));
        }
        let other_event = OTHER_DATE_CUES.iter().any(|c| upper.contains(c));
        if dated.is_none() && !other_event && DATE_CUES.iter().any(|c| upper.contains(c)) {
            dated = Some(Field::from_line(first.iso.clone(), line, 0.85));
        }
        if let Some(d) = found.last() {
            let rule = if other_event { 0.4 } else { 0.7 };
            last = Some(Field::from_line(d.iso.clone(), line, rule));
        }
    }
    dated.or(last)
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

    #[test]
    fn the_usual_pairs_of_parties() {
        for (a, b) in [
            ("委托方", "受托方"),
            ("委托人", "受托人"),
            ("买方", "卖方"),
            ("出卖人", "买受人"),
            ("发包人", "承包人"),
            ("出租方", "承租方"),
            ("供方", "需方"),
        ] {
            let c = contract(&[
                "技术服务合同",
                &format!("{a}：深圳市华强科技有限公司"),
                "地址：深圳市南山区科技园路88号",
                &format!("{b}（以下简称{b}）：广州恒通贸易有限公司"),
                "合同金额：¥120,000.00",
            ]);
            assert_eq!(value(&c.party_a), "深圳市华强科技有限公司", "{a}");
            assert_eq!(value(&c.party_b), "广州恒通贸易有限公司", "{b}");
        }
        // The role in brackets after the pair's label, and an enumeration before it.
        let c = contract(&[
            "1、委托方（甲方）：北京博远咨询有限公司",
            "2、受托方（乙方）：上海恒信律师事务所",
        ]);
        assert_eq!(value(&c.party_a), "北京博远咨询有限公司");
        assert_eq!(value(&c.party_b), "上海恒信律师事务所");
    }

    #[test]
    fn parties_on_one_line_or_under_their_label_and_not_their_representatives() {
        let c = contract(&["甲方：深圳市华强科技有限公司 乙方：广州恒通贸易有限公司"]);
        assert_eq!(value(&c.party_a), "深圳市华强科技有限公司");
        assert_eq!(value(&c.party_b), "广州恒通贸易有限公司");
        // A table: the label in one row, the name in the next.
        let c = contract(&[
            "甲方：",
            "深圳市华强科技有限公司",
            "乙方：",
            "广州恒通贸易有限公司",
        ]);
        assert_eq!(value(&c.party_a), "深圳市华强科技有限公司");
        assert_eq!(value(&c.party_b), "广州恒通贸易有限公司");
        // The representative and the address of a party are not the party.
        let c = contract(&[
            "甲方代表：张伟",
            "甲方地址：深圳市南山区科技园路88号",
            "甲方：深圳市华强科技有限公司",
        ]);
        assert_eq!(value(&c.party_a), "深圳市华强科技有限公司");
    }

    #[test]
    fn the_number_is_the_contracts_not_an_id_or_licence() {
        let c = contract(&[
            "购销合同",
            "甲方：张伟",
            "身份证编号：440301198705123456",
            "乙方：广州恒通贸易有限公司",
            "营业执照编号：91440101MA5CXXXX1K",
        ]);
        assert_eq!(c.contract_number, None);
        let c = contract(&[
            "营业执照编号：91440101MA5CXXXX1K",
            "编号：GZ-2026-077",
            "Casino 5",
        ]);
        assert_eq!(value(&c.contract_number), "GZ-2026-077");
        let c = contract(&["PURCHASE CONTRACT  No: PC20261123"]);
        assert_eq!(value(&c.contract_number), "PC20261123");
        let c = contract(&["ContractNo.:CG202449965", "Account No.: 6222 0000 1111"]);
        assert_eq!(value(&c.contract_number), "CG202449965");
    }

    #[test]
    fn the_total_is_the_amount_the_words_confirm() {
        // A unit price comes first; the total and its words follow.
        let c = contract(&[
            "一、产品名称：服务器  单价：¥12,500.00  数量：24台",
            "合同总金额：¥300,000.00（大写：人民币叁拾万元整）",
        ]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(300_000.0));
        assert!(c.amount_mismatch.is_none());
        // No words: the line that says it is the total wins over an instalment.
        let c = contract(&["预付款：¥90,000.00", "合同总价：¥300,000.00"]);
        assert_eq!(c.amount.as_ref().map(|a| a.value), Some(300_000.0));
        // A real disagreement is reported, and the amount's confidence drops.
        let c = contract(&["合同总金额：¥350,000.00（大写：人民币叁拾万元整）"]);
        assert!(c.amount_mismatch.is_some());
        let conf = c.confidence("amount").unwrap_or(1.0);
        assert!(conf < 0.5, "{conf}");
        assert_eq!(c.confidence("party_a"), None);
    }

    #[test]
    fn the_signing_date_is_not_the_delivery_date() {
        let c = contract(&[
            "购销合同",
            "交货日期：2026年12月30日",
            "付款日期：2027年1月15日",
            "甲方（盖章）：          乙方（盖章）：",
            "2026年11月23日",
        ]);
        assert_eq!(value(&c.date), "2026-11-23");
        let c = contract(&[
            "有效期：2026年1月1日至2026年12月31日",
            "日期：2025年12月20日",
        ]);
        assert_eq!(value(&c.date), "2025-12-20");
    }
}
