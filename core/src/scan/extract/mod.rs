//! Fields of a business card or a contract, from OCR lines.
//!
//! Every field carries the value, a confidence (0..1: the OCR confidence of the line it came
//! from times how sure the rule that found it is) and its box in the flattened image.
//!
//! ```
//! use outpost_core::scan::extract::{classify, extract_card, DocumentKind};
//! use outpost_core::scan::ocr::{BBox, OcrLine, OcrWord};
//! use outpost_core::Region;
//!
//! let line = |text: &str, y: u32, h: u32| OcrLine::from_words(vec![OcrWord {
//!     text: text.into(), confidence: 0.9, bbox: BBox { x: 80, y, w: 600, h },
//! }]);
//! let lines = [
//!     line("深圳市华强科技有限公司", 60, 48),
//!     line("张 伟", 200, 96),
//!     line("销售经理", 320, 40),
//!     line("手机：138 0013 8OOO", 600, 34),
//! ];
//! assert_eq!(classify(&lines), DocumentKind::Card);
//! let card = extract_card(&lines, Region::default());
//! assert_eq!(card.name.map(|f| f.value).as_deref(), Some("张伟"));
//! assert_eq!(card.phones[0].value, "+8613800138000");
//! ```

pub mod card;
// Moved to the crate root (amounts typed anywhere use it too); the old path stays.
pub use crate::cn_numerals;
pub mod contract;
pub mod dates;
pub mod names;
pub mod phones;
pub mod web;

use super::ocr::{BBox, OcrLine};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

pub use card::{extract_card, CardFields};
pub use contract::{extract_contract, AmountMismatch, ContractFields};

/// One extracted value with how sure we are and where it was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field<T = String> {
    /// The value, normalized (phones in E.164, e-mails in lower case, dates as YYYY-MM-DD).
    pub value: T,
    /// 0..1.
    pub confidence: f32,
    /// Where it was read in the flattened image, `[x, y, w, h]`.
    #[serde(rename = "box")]
    pub bbox: BBox,
}

impl<T> Field<T> {
    /// A field read from `line`, with the rule's own certainty `rule` (0..1).
    pub fn from_line(value: T, line: &OcrLine, rule: f32) -> Field<T> {
        Field {
            value,
            confidence: (line.confidence * rule).clamp(0.0, 1.0),
            bbox: line.bbox,
        }
    }
}

/// What kind of document the text is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// A business card.
    Card,
    /// A contract or agreement.
    Contract,
}

/// The fields of either kind, serialized as a plain object of fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fields {
    /// Fields of a business card.
    Card(CardFields),
    /// Fields of a contract.
    Contract(ContractFields),
}

/// Words that only contracts carry.
const CONTRACT_CUES: &[&str] = &[
    "合同",
    "协议",
    "甲方",
    "乙方",
    "签订",
    "违约",
    "条款",
    "AGREEMENT",
    "CONTRACT",
    "PARTY A",
    "PARTY B",
];

impl Fields {
    /// The confidence (0..1) of each field found, by the field's name as serialized.
    pub fn confidences(&self) -> Vec<(&'static str, f32)> {
        match self {
            Fields::Card(c) => c.confidences(),
            Fields::Contract(c) => c.confidences(),
        }
    }
}

/// Card or contract, from the text alone; see [`classify_with_shape`].
pub fn classify(lines: &[OcrLine]) -> DocumentKind {
    classify_with_shape(lines, None)
}

/// Card or contract, from the text and the document's shape (`ratio`: long side over short
/// side of the outline found, `None` when none was). Contract words (合同, 协议, 甲方, 乙方,
/// Agreement, Party A, ...), an A4 outline (about 1.41) and many lines speak for a page; a card
/// outline (about 1.67) and few lines for a card. A page with no contract word is still a page.
pub fn classify_with_shape(lines: &[OcrLine], ratio: Option<f32>) -> DocumentKind {
    let text: String = lines
        .iter()
        .map(|l| normalize_text(&l.text).to_uppercase())
        .collect::<Vec<_>>()
        .join("\n");
    let cues = CONTRACT_CUES.iter().filter(|c| text.contains(*c)).count();
    let mut page = match cues {
        0 => 0.0,
        1 => 1.0,
        _ => 2.0,
    };
    match ratio {
        Some(r) if (1.28..1.52).contains(&r) => page += 1.0,
        Some(r) if (1.52..2.1).contains(&r) => page -= 1.0,
        _ => {}
    }
    page += match lines.len() {
        0..=8 => -0.5,
        9..=11 => 0.0,
        12..=19 => 0.5,
        _ => 1.5,
    };
    if page >= 1.0 {
        DocumentKind::Contract
    } else {
        DocumentKind::Card
    }
}

/// Extracts the fields of `kind` from `lines`.
pub fn extract(kind: DocumentKind, lines: &[OcrLine], region: crate::Region) -> Fields {
    match kind {
        DocumentKind::Card => Fields::Card(extract_card(lines, region)),
        DocumentKind::Contract => Fields::Contract(extract_contract(lines)),
    }
}

/// Folds full-width ASCII (`：１２Ａ`) and the ideographic space to their ASCII forms, maps
/// dashes to `-`, removes spaces between CJK characters and trims.
pub fn normalize_text(text: &str) -> String {
    let folded: String = text
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            '﹕' | '∶' => ':',
            '—' | '–' => '-',
            _ => c,
        })
        .collect();
    super::ocr::join_cjk(folded.trim())
}

/// Replaces letters OCR confuses with digits (`O`→0, `l`/`I`/`|`→1, `S`→5, `B`→8, `Z`→2)
/// in a run that is mostly digits already.
pub fn fix_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'O' | 'o' | 'D' | 'Q' | '〇' => '0',
            'l' | 'I' | '|' | 'i' | '!' | 'L' => '1',
            'S' | 's' => '5',
            'B' => '8',
            'Z' | 'z' => '2',
            'g' => '9',
            _ => c,
        })
        .collect()
}

/// Splits `text` after a label such as `手机`, `Tel`, `甲方`: returns what follows the label
/// and its separator (`:` `：` or spaces), or `None` when `text` does not start with a label.
pub fn after_label<'a>(text: &'a str, labels: &[&str]) -> Option<&'a str> {
    let upper = text.to_uppercase();
    for label in labels {
        let lu = label.to_uppercase();
        if upper.starts_with(&lu) && text.is_char_boundary(lu.len()) {
            let rest = &text[lu.len()..];
            let trimmed = rest.trim_start_matches([' ', ':', '：', '.', ';', '-']);
            // A label glued to a Latin word ("Total" vs "To") is not a label.
            let glued =
                label.is_ascii() && rest.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
            if !glued {
                return Some(trimmed.trim());
            }
        }
    }
    None
}

/// True when `c` is a Han character.
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}')
}

/// A line that starts with a Japanese postcode before a place in Han characters
/// (`〒160-0022 東京都...`; the recognizer often reads the mark as `T`, `丁` or `干`, or loses
/// it), as an address: the mark restored, and the simplified forms the Chinese recognizer
/// reads for Japanese place characters (`东京都` for 東京都) put back. `None` for any other
/// line. The card's address and the card's country both use it.
pub fn japanese_address(text: &str) -> Option<String> {
    static POSTCODE: LazyLock<Regex> =
        LazyLock::new(|| re(r"^\s*[〒T丁干]?\s*(\d{3})\s*[-‐－—ー]\s*(\d{4})\s*(\S.*)$"));
    let caps = POSTCODE.captures(text)?;
    let rest = caps.get(3)?.as_str();
    // After the postcode comes the place, in Han characters.
    if !rest.chars().next().is_some_and(is_han) {
        return None;
    }
    const SHINJITAI: [(char, char); 28] = [
        ('东', '東'),
        ('县', '県'),
        ('冈', '岡'),
        ('岛', '島'),
        ('滨', '浜'),
        ('广', '広'),
        ('丰', '豊'),
        ('长', '長'),
        ('马', '馬'),
        ('宫', '宮'),
        ('爱', '愛'),
        ('鸟', '鳥'),
        ('儿', '児'),
        ('绳', '縄'),
        ('贺', '賀'),
        ('桥', '橋'),
        ('驿', '駅'),
        ('泽', '沢'),
        ('涩', '渋'),
        ('荣', '栄'),
        ('叶', '葉'),
        ('门', '門'),
        ('见', '見'),
        ('关', '関'),
        ('边', '辺'),
        ('乡', '郷'),
        ('丽', '麗'),
        ('韩', '韓'),
    ];
    let place: String = rest
        .chars()
        .map(|c| {
            SHINJITAI
                .iter()
                .find(|(s, _)| *s == c)
                .map_or(c, |(_, j)| *j)
        })
        .collect();
    Some(format!("〒{}-{} {}", &caps[1], &caps[2], place.trim()))
}

/// Compiles one of the extractors' own patterns (they are tested; a bad one is a bug).
pub(crate) fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("built-in pattern {pattern}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ocr::OcrWord;

    fn lines(texts: &[&str]) -> Vec<OcrLine> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                OcrLine::from_words(vec![OcrWord {
                    text: t.to_string(),
                    confidence: 0.9,
                    bbox: BBox {
                        x: 10,
                        y: 40 * i as u32,
                        w: 500,
                        h: 30,
                    },
                }])
            })
            .collect()
    }

    #[test]
    fn classify_by_contract_words() {
        assert_eq!(
            classify(&lines(&[
                "购销合同",
                "甲方：深圳市华强科技有限公司",
                "乙方：广州某某"
            ])),
            DocumentKind::Contract
        );
        assert_eq!(
            classify(&lines(&["SERVICE AGREEMENT", "Party A: Foo Co., Ltd."])),
            DocumentKind::Contract
        );
        assert_eq!(
            classify(&lines(&[
                "张伟",
                "销售经理",
                "深圳市华强科技有限公司",
                "手机：13800138000"
            ])),
            DocumentKind::Card
        );
        // One stray cue on a card (a company whose name holds 协议) stays a card.
        assert_eq!(
            classify(&lines(&["李娜", "协议翻译有限公司"])),
            DocumentKind::Card
        );
    }

    #[test]
    fn the_outline_weighs_in() {
        // An A4 page without contract words (a letter, a quotation) is a page, not a card.
        let letter: Vec<String> = (0..10).map(|i| format!("第{i}行 正文内容")).collect();
        let letter: Vec<&str> = letter.iter().map(String::as_str).collect();
        assert_eq!(
            classify_with_shape(&lines(&letter), Some(1.41)),
            DocumentKind::Contract
        );
        assert_eq!(
            classify_with_shape(&lines(&letter), Some(1.67)),
            DocumentKind::Card
        );
        let card = [
            "张伟",
            "销售经理",
            "华强协议翻译有限公司",
            "手机：13800138000",
        ];
        assert_eq!(
            classify_with_shape(&lines(&card), Some(1.66)),
            DocumentKind::Card
        );
        let long: Vec<String> = (0..24).map(|i| format!("条款 {i}")).collect();
        let long: Vec<&str> = long.iter().map(String::as_str).collect();
        assert_eq!(
            classify_with_shape(&lines(&long), None),
            DocumentKind::Contract
        );
    }

    #[test]
    fn labels_and_digit_fixes() {
        assert_eq!(after_label("手机：138", &["手机"]), Some("138"));
        assert_eq!(after_label("Tel : 0755", &["Tel"]), Some("0755"));
        assert_eq!(after_label("Telephone 0755", &["Tel"]), None);
        assert_eq!(
            normalize_text("合同编号：ＨＴ－２０２６"),
            "合同编号:HT-2026"
        );
        assert_eq!(fix_digits("138 OO13 8l00"), "138 0013 8100");
    }
}
