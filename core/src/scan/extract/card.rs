//! Business cards: name, title, company, phones, e-mails, address, website.
//!
//! Contact details are found by their labels (`手机`, `Tel`, `邮箱`, `地址`, ...) and their
//! shapes (digits that make a valid phone number, `x@y.z`, `www.`). The rest is told apart by
//! words (company suffixes like `有限公司` or `Co., Ltd.`, title words like `经理` or
//! `Manager`) and by size and place: the name is a short line, usually the largest text.

use super::{after_label, is_han, japanese_address, names, normalize_text, phones, re, web, Field};
use crate::scan::ocr::OcrLine;
use crate::Region;
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// The fields of a business card. Missing fields are `None` or empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CardFields {
    /// The person's name.
    pub name: Option<Field>,
    /// Job title.
    pub title: Option<Field>,
    /// Company.
    pub company: Option<Field>,
    /// Phone numbers in E.164, mobile and landline, in reading order.
    pub phones: Vec<Field>,
    /// E-mail addresses in lower case.
    pub emails: Vec<Field>,
    /// Postal address.
    pub address: Option<Field>,
    /// Website, lower case, without `http://`.
    pub website: Option<Field>,
}

impl CardFields {
    /// The confidence (0..1) of each field found, by the field's name as serialized (`name`,
    /// `title`, `company`, `phones`, `emails`, `address`, `website`). A list counts as sure as
    /// its least sure member.
    pub fn confidences(&self) -> Vec<(&'static str, f32)> {
        let one = |name, f: &Option<Field>| f.as_ref().map(|f| (name, f.confidence));
        let list = |name, fs: &[Field]| {
            fs.iter()
                .map(|f| f.confidence)
                .reduce(f32::min)
                .map(|c| (name, c))
        };
        [
            one("name", &self.name),
            one("title", &self.title),
            one("company", &self.company),
            list("phones", &self.phones),
            list("emails", &self.emails),
            one("address", &self.address),
            one("website", &self.website),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// The confidence of one field by name (see [`CardFields::confidences`]), `None` when it
    /// was not found.
    pub fn confidence(&self, field: &str) -> Option<f32> {
        self.confidences()
            .into_iter()
            .find(|(name, _)| *name == field)
            .map(|(_, c)| c)
    }
}

const ADDRESS_LABELS: &[&str] = &["地址", "Address", "Addr", "Add", "A"];
const ADDRESS_CUES: &[&str] = &[
    "省", "市", "区", "县", "路", "街", "道", "号", "大厦", "室", "楼", "层", "园", "ROAD", "RD.",
    "STREET", "DISTRICT", "BUILDING", "ROOM", "FLOOR", "AVENUE", "CHINA", "CITY", "PROVINCE",
];
/// Company suffixes (and prefixes: `株式会社ソニー`) in CJK and Vietnamese, matched anywhere.
const COMPANY_STRONG: &[&str] = &[
    "有限公司",
    "股份公司",
    "股份",
    "集团",
    "公司",
    "株式会社",
    "有限会社",
    "合同会社",
    "CÔNG TY",
    "CO.,LTD",
    "CO., LTD",
    "CO.LTD",
    "SDN BHD",
];
/// Latin company words, matched as whole words (`INC` is not in `PRINCIPAL`).
const COMPANY_LATIN: &[&str] = &[
    "LTD",
    "LIMITED",
    "INC",
    "CORP",
    "CORPORATION",
    "GROUP",
    "LLC",
    "LLP",
    "PLC",
    "GMBH",
    "COMPANY",
    "PTE",
    "TNHH",
    "K.K",
];
const COMPANY_WEAK: &[&str] = &[
    "科技",
    "实业",
    "贸易",
    "电子",
    "工厂",
    "厂",
    "事务所",
    "研究院",
    "中心",
    "TECHNOLOGY",
    "TRADING",
    "INDUSTRIAL",
];
const TITLE_WORDS: &[&str] = &[
    "总经理",
    "经理",
    "总监",
    "主管",
    "董事长",
    "董事",
    "总裁",
    "工程师",
    "代表",
    "主任",
    "顾问",
    "专员",
    "助理",
    "业务员",
    "厂长",
    "会计",
    "设计师",
    "律师",
    "业务主办",
    "部长",
    "科长",
    "处长",
    "行长",
    "店长",
    "院长",
    "秘书",
    "创始人",
    "合伙人",
    "首席",
    "CEO",
    "CTO",
    "CFO",
    "COO",
    "VP",
    "MANAGER",
    "DIRECTOR",
    "ENGINEER",
    "PRESIDENT",
    "REPRESENTATIVE",
    "OFFICER",
    "CONSULTANT",
    "ASSISTANT",
    "SUPERVISOR",
    "SPECIALIST",
    "HEAD OF",
    "CHAIRMAN",
    "FOUNDER",
    "SALES",
    "ACCOUNT",
    // Japanese.
    "部長",
    "課長",
    "係長",
    "社長",
    "取締役",
    "会長",
    "室長",
    "店長",
    "所長",
    "担当",
    "マネージャー",
    // Vietnamese.
    "GIÁM ĐỐC",
    "TRƯỞNG PHÒNG",
    "NHÂN VIÊN",
    "KẾ TOÁN",
];
/// Words in a Latin line that is a slogan or a heading, never a person's name.
const LATIN_NOT_NAME: &[&str] = &[
    "MANAGEMENT",
    "SOLUTION",
    "SERVICE",
    "SYSTEM",
    "GUIDE",
    "INTERNATIONAL",
    "CONSULTING",
    "WELCOME",
    "THE ",
    " AND ",
    " OF ",
    " FOR ",
    "YOUR ",
    "BUSINESS",
    "QUALITY",
    "PARTNER",
    "INNOVATION",
    "PRODUCT",
    "CARD",
    "SCAN",
    "GUIDER",
    "LOGISTICS",
    "TECHNOLOGIES",
    "ELECTRONICS",
    "INDUSTRY",
    "INDUSTRIES",
    "ENGINEERING",
    "DESIGN",
    "STUDIO",
    "HOTEL",
    "BANK",
    "SCHOOL",
    "UNIVERSITY",
    "HOSPITAL",
    "CENTER",
    "CENTRE",
    "DEPARTMENT",
    "DEPT",
    "OFFICE",
    "HEADQUARTERS",
    "BRANCH",
    "MARKETING",
    "DIGITAL",
    "MEDIA",
    "NETWORK",
    "SOFTWARE",
    "GLOBAL",
    "EXPRESS",
    "WORLD",
    "LIFE",
    "TEAM",
];

fn contains_any(upper: &str, words: &[&str]) -> bool {
    words.iter().any(|w| upper.contains(w))
}

/// Whether upper-case `upper` holds one of `words` as a whole word.
fn has_word(upper: &str, words: &[&str]) -> bool {
    upper
        .split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .map(|w| w.trim_end_matches('.'))
        .any(|w| words.contains(&w))
}

/// Whether `text` names a company by its suffix or prefix (`有限公司`, `株式会社`, `Co., Ltd.`,
/// `Inc.`, `GmbH`, `Công ty`).
pub(crate) fn is_company(text: &str) -> bool {
    let upper = text.to_uppercase();
    contains_any(&upper, COMPANY_STRONG) || has_word(&upper, COMPANY_LATIN)
}

/// What one line turned out to hold.
struct Line<'a> {
    ocr: &'a OcrLine,
    text: String,
    upper: String,
    /// Consumed by a contact detail (phone, e-mail, website, address).
    used: bool,
}

/// Extracts the fields of a business card from its OCR lines. Phones are normalized with
/// `region` for numbers printed without a country code.
pub fn extract_card(lines: &[OcrLine], region: Region) -> CardFields {
    let mut ls: Vec<Line> = lines
        .iter()
        .filter(|l| !l.text.trim().is_empty())
        .map(|l| {
            let text =
                normalize_text(&names::join_letter_spaced(l).unwrap_or_else(|| l.text.clone()));
            let upper = text.to_uppercase();
            Line {
                ocr: l,
                text,
                upper,
                used: false,
            }
        })
        .collect();
    let mut card = CardFields::default();
    let texts: Vec<&str> = ls.iter().map(|l| l.text.as_str()).collect();
    let region = phones::card_region(&texts, region);
    for i in 0..ls.len() {
        let label = i
            .checked_sub(1)
            .and_then(|p| label_before(&ls[p], &ls[i]))
            .map(str::to_string);
        if let Some(p) = i.checked_sub(1).filter(|_| label.is_some()) {
            ls[p].used = true;
        }
        contact_details(&mut ls[i], label.as_deref(), region, &mut card);
    }
    address(&mut ls, &mut card);
    company_title_name(&mut ls, &mut card);
    card
}

/// E-mails, websites and phones of one line. `phone_label` is a label printed alone before
/// the line (`传真` on the line above, `Tel` in the box to the left).
fn contact_details(
    line: &mut Line,
    phone_label: Option<&str>,
    region: Region,
    card: &mut CardFields,
) {
    for (email, repaired) in web::emails_in(&line.text) {
        if !card.emails.iter().any(|e| e.value == email) {
            let rule = if repaired { 0.8 } else { 0.95 };
            card.emails.push(Field::from_line(email, line.ocr, rule));
        }
        line.used = true;
    }
    if card.website.is_none() {
        if let Some((site, rule)) = web::website_in(&line.text, !line.used) {
            card.website = Some(Field::from_line(site, line.ocr, rule));
            line.used = true;
        }
    }
    if line.used && !phones::has_phone_label(&line.text) {
        return;
    }
    // Phones: every number of the line, fax and other non-phone numbers left out. A label
    // printed apart from its numbers counts as theirs.
    let labelled_text;
    let text = match phone_label {
        Some(label) => {
            labelled_text = format!("{label}: {}", line.text);
            labelled_text.as_str()
        }
        None => line.text.as_str(),
    };
    let hits = phones::phones_in_line(text, region);
    for hit in &hits {
        if !card.phones.iter().any(|p| p.value == hit.e164) {
            card.phones.push(Field::from_line(
                hit.e164.clone(),
                line.ocr,
                hit.rule_confidence(),
            ));
        }
        line.used = true;
    }
    let label_line =
        line.text.chars().any(|c| c.is_ascii_digit()) || LABEL_ONLY.is_match(line.text.trim());
    if phones::has_phone_label(&line.text) && label_line && !line.text.chars().any(is_han_not_label)
    {
        line.used = true;
    }
    // A line of numbers after a fax or postcode label is spent too.
    if hits.is_empty() && phone_label.is_some() && line.text.chars().all(|c| !c.is_alphabetic()) {
        line.used = true;
    }
}

/// A line that is only a phone, fax or postcode label (`传真`, `F:`, `Tel`).
static LABEL_ONLY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(?i)(?:传真|傳真|fax|f|电话|電話|tel|t|手机|携帯|mobile|mob|m|cell|phone|p|h|邮编|邮政编码|〒)\s*[:：.]?$",
    )
});

/// The label `prev` is, when it stands alone just before `line`'s numbers: on the same row to
/// the left, or right above in the same column.
fn label_before<'a>(prev: &'a Line, line: &Line) -> Option<&'a str> {
    let label = prev.text.trim();
    if !LABEL_ONLY.is_match(label)
        || !line
            .text
            .trim_start()
            .starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '('))
    {
        return None;
    }
    let (p, l) = (prev.ocr.bbox, line.ocr.bbox);
    let h = p.h.max(l.h) as f32;
    let same_row = (p.center_y() - l.center_y()).abs() < h / 2.0 && p.x + p.w <= l.x + 2;
    let gap = l.y as f32 - (p.y + p.h) as f32;
    let above = gap > -h / 3.0 && gap < 1.5 * h && (p.x as f32 - l.x as f32).abs() < 3.0 * h;
    (same_row || above).then_some(label)
}

/// A Han character that is not part of a phone label.
fn is_han_not_label(c: char) -> bool {
    is_han(c) && !"手机电话座移动固传真".contains(c)
}

/// The address: a labelled line, or the line with most address words; a following line that
/// continues it (same column, close below, more address words) is appended.
fn address(ls: &mut [Line], card: &mut CardFields) {
    let mut best: Option<(usize, String, f32, usize)> = None;
    for (i, line) in ls.iter().enumerate() {
        if line.used {
            continue;
        }
        // "A" alone is too short a label unless a separator follows.
        let bare_a = line.text.starts_with('A')
            && !line.text.starts_with("Add")
            && !line.text[1..].trim_start().starts_with(':');
        // `A` glued to a Han address (the colon lost): `A广东省...`.
        let glued_a =
            line.text.starts_with('A') && line.text[1..].chars().next().is_some_and(is_han);
        // A Japanese address starts with its postcode mark (`〒160-0022 東京都...`), which
        // the recognizer may read as `T` or `丁`.
        let japanese = japanese_address(&line.text);
        let (value, rule) = match after_label(&line.text, ADDRESS_LABELS) {
            Some(v) if !bare_a => (v.to_string(), 0.95),
            _ if glued_a => (line.text[1..].to_string(), 0.9),
            _ if japanese.is_some() => (japanese.unwrap_or_default(), 0.92),
            _ => (line.text.clone(), 0.8),
        };
        let cues = ADDRESS_CUES
            .iter()
            .filter(|c| line.upper.contains(*c))
            .count();
        let digit = line.text.chars().any(|c| c.is_ascii_digit());
        let company = is_company(&line.upper);
        let score = if rule > 0.9 {
            100 + cues
        } else if cues >= 3 && digit && !company {
            cues
        } else {
            0
        };
        if score > 0 && best.as_ref().is_none_or(|b| score > b.3) {
            best = Some((i, value, rule, score));
        }
    }
    let Some((i, mut value, rule, _)) = best else {
        return;
    };
    ls[i].used = true;
    let mut bbox = ls[i].ocr.bbox;
    let mut confidence = ls[i].ocr.confidence * rule;
    if let Some(next) = ls.get(i + 1) {
        let here = ls[i].ocr.bbox;
        let gap = next.ocr.bbox.y as f32 - (here.y + here.h) as f32;
        let cues = ADDRESS_CUES
            .iter()
            .filter(|c| next.upper.contains(*c))
            .count();
        let same_size = (next.ocr.bbox.h as f32) < here.h as f32 * 1.4;
        if !next.used
            && gap < here.h as f32 * 1.2
            && gap > -(here.h as f32) / 2.0
            && same_size
            && cues >= 1
            && after_label(&next.text, ADDRESS_LABELS).is_none()
            && !is_company(&next.upper)
            && !contains_any(&next.upper, TITLE_WORDS)
        {
            let joiner = if value.is_ascii() { " " } else { "" };
            value = format!("{value}{joiner}{}", next.text);
            bbox = bbox.union(next.ocr.bbox);
            confidence = confidence.min(next.ocr.confidence * rule);
            ls[i + 1].used = true;
        }
    }
    card.address = Some(Field {
        value,
        confidence,
        bbox,
    });
}

/// A logo mark read together with the company beside it (`T Tianjin Tianze ...`,
/// `H Beijing Huaqiang ...`): a lone first letter repeating the initial of a word of the
/// name is dropped.
///
/// A Han logo character is dropped the same way when the name repeats it: right after the
/// city the name starts with (`海` + `重庆市海纳科技集团`, the brand's first character in the
/// square beside it), or at once when the mark was read as a word of its own
/// (`三` + `三光工業株式会社`; a brand that doubles its first character, `当当网络`, is read as
/// one word and kept).
fn without_logo_mark(company: &str, line: &OcrLine) -> String {
    let mut cs = company.chars();
    if let (Some(mark), Some(second)) = (cs.next(), cs.clone().next()) {
        if is_han(mark) && is_han(second) {
            let rest = cs.as_str();
            let own_word = line.words.len() >= 2
                && line.words[0].text.trim().chars().count() == 1
                && line.words[0].text.trim().starts_with(mark);
            let after_city = rest
                .char_indices()
                .take(5)
                .find(|&(_, c)| matches!(c, '市' | '省'))
                .is_some_and(|(i, c)| i >= 2 * 3 && rest[i + c.len_utf8()..].starts_with(mark));
            let doubled = own_word && rest.starts_with(mark);
            if (after_city || doubled) && is_company(rest) {
                return rest.to_string();
            }
        }
    }
    let mut words = company.split(' ');
    if let (Some(first), Some(second)) = (words.next(), words.next()) {
        let initial = |w: &str| w.starts_with(first);
        if first.chars().count() == 1
            && first.chars().all(|c| c.is_ascii_uppercase())
            && (second.starts_with(first) || company.split(' ').skip(2).any(initial))
        {
            return company[first.len()..].trim_start().to_string();
        }
    }
    company.to_string()
}

/// How much a line looks like a company name.
fn company_score(line: &Line) -> u32 {
    let mut score: u32 = 0;
    if contains_any(
        &line.upper,
        &["有限公司", "株式会社", "有限会社", "CO., LTD", "CO.,LTD"],
    ) {
        score += 4;
    } else if is_company(&line.upper) {
        score += 3;
    }
    if contains_any(&line.upper, COMPANY_WEAK) {
        score += 1;
    }
    if score > 0 && contains_any(&line.upper, TITLE_WORDS) && !line.upper.contains("公司") {
        score = score.saturating_sub(1);
    }
    score
}

/// Words a Chinese job title starts with.
const TITLE_STARTS: &[&str] = &[
    "总",
    "副",
    "销售",
    "采购",
    "市场",
    "技术",
    "财务",
    "行政",
    "项目",
    "区域",
    "大客户",
    "客户",
    "经理",
    "董事",
    "主管",
    "业务",
    "工程",
    "高级",
    "首席",
    "执行",
    "部门",
    "人事",
    "生产",
    "质量",
    "研发",
    "设计",
    "营销",
    "商务",
    "运营",
    "主任",
    "厂长",
    "CEO",
    "CTO",
];

/// Splits a Han run that holds a name and then a title (`李娜采购主管`, `王建国总经理`):
/// the shortest name (2-4 characters, starting with a common surname) after which a title
/// begins.
fn split_name_title(word: &str) -> Option<(String, String)> {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 || !chars[0..2].iter().all(|&c| is_han(c)) || names::surname(word).is_none()
    {
        return None;
    }
    (2..=4.min(chars.len() - 2)).find_map(|k| {
        let name: String = chars[..k].iter().collect();
        let rest: String = chars[k..].iter().collect();
        let title_like = TITLE_STARTS.iter().any(|t| rest.starts_with(t))
            && contains_any(&rest.to_uppercase(), TITLE_WORDS)
            && rest.chars().count() <= 7;
        (title_like && !names::not_a_name(&name) && !contains_any(&name, TITLE_WORDS))
            .then_some((name, rest))
    })
}

/// The CJK and the Latin part of a mixed line such as `张伟 Zhang Wei` or `销售经理 Sales Manager`.
fn han_part(text: &str) -> Option<String> {
    let han: String = text
        .split(' ')
        .take_while(|w| w.chars().any(is_han))
        .collect::<Vec<_>>()
        .join(" ");
    if han.is_empty() || han.len() == text.len() {
        None
    } else {
        Some(han)
    }
}

/// What speaks for a name candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NameKind {
    /// 2-4 Han characters starting with a known Chinese or Japanese surname.
    HanSurname,
    /// Han characters without a known surname: maybe a brand or a heading.
    HanPlain,
    /// Two to four capitalized Latin words.
    Latin,
}

impl NameKind {
    /// How much the kind weighs against the others, per pixel of text height.
    fn weight(self) -> f32 {
        match self {
            NameKind::HanSurname => 1.8,
            NameKind::HanPlain => 1.2,
            NameKind::Latin => 1.0,
        }
    }

    /// How sure the kind alone makes us.
    fn rule(self) -> f32 {
        match self {
            NameKind::HanSurname => 0.9,
            NameKind::HanPlain => 0.45,
            NameKind::Latin => 0.85,
        }
    }
}

/// A line that may hold the person's name.
struct NameCandidate {
    line: usize,
    value: String,
    kind: NameKind,
    /// The name shares its line with something else (a title, the romanized name).
    shared: bool,
    score: f32,
}

/// The name a line may hold, if any (`company_text` is the company's line: a word of it,
/// like a brand printed large beside it, is not a name).
fn name_candidate(ls: &[Line], i: usize, company_text: &str) -> Option<NameCandidate> {
    let line = &ls[i];
    let text = line.text.as_str();
    let height = line.ocr.bbox.h as f32;
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    let make = |value: String, kind: NameKind, shared: bool| {
        let score = height * kind.weight() * if shared { 0.9 } else { 1.0 };
        Some(NameCandidate {
            line: i,
            value,
            kind,
            shared,
            score,
        })
    };
    let first = words.first()?;
    if let Some((name_part, _)) = split_name_title(first) {
        if company_text.contains(name_part.as_str()) {
            return None;
        }
        return make(name_part, NameKind::HanSurname, true);
    }
    if let Some((name_part, _)) = names::split_latin_name_title(text, TITLE_WORDS) {
        if contains_any(&name_part.to_uppercase(), LATIN_NOT_NAME) {
            return None;
        }
        return make(name_part, NameKind::Latin, true);
    }
    let han = names::han_name(first).filter(|_| first.chars().all(is_han));
    if let Some((han_name, surname)) = han.filter(|(n, _)| !contains_any(n, TITLE_WORDS)) {
        let rest_ok = words.len() == 1
            || words[1..]
                .iter()
                .all(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
            || contains_any(&words[1..].join(" ").to_uppercase(), TITLE_WORDS);
        if !rest_ok || company_text.contains(first) {
            return None;
        }
        let kind = if surname {
            NameKind::HanSurname
        } else {
            NameKind::HanPlain
        };
        return make(han_name, kind, words.len() > 1);
    }
    let latin = (2..=4).contains(&words.len())
        && words.iter().all(|w| {
            w.chars().next().is_some_and(|c| c.is_uppercase())
                && w.chars()
                    .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '.'))
        })
        && !contains_any(&line.upper, TITLE_WORDS)
        && !is_company(&line.upper)
        && !contains_any(&line.upper, COMPANY_WEAK)
        && !contains_any(&line.upper, ADDRESS_CUES)
        && !contains_any(&line.upper, LATIN_NOT_NAME);
    if latin {
        return make(words.join(" "), NameKind::Latin, false);
    }
    None
}

/// Words of slogans and calls to action: such a line is neither a name nor a company.
const SLOGAN_WORDS: &[&str] = &[
    "欢迎",
    "关注",
    "扫一扫",
    "扫码",
    "二维码",
    "专业",
    "诚信",
    "致力",
    "创新",
    "共赢",
    "专注",
    "品质",
    "服务",
    "WELCOME",
    "SCAN",
    "FOLLOW",
];

fn company_title_name(ls: &mut [Line], card: &mut CardFields) {
    // The name decides the language of the card: pick it among lines that are neither
    // companies nor titles, by size.
    let free: Vec<usize> = (0..ls.len()).filter(|&i| !ls[i].used).collect();

    // Company.
    let mut company: Option<(usize, u32, u32)> = None;
    for &i in &free {
        let score = company_score(&ls[i]);
        let han = ls[i].text.chars().any(is_han) as u32;
        let key = score * 10 + han * 5 + (ls[i].ocr.bbox.h / 20).min(4);
        if score >= 2 && company.is_none_or(|(_, k, _)| key > k) {
            company = Some((i, key, score));
        }
    }
    let company_text = company
        .map(|(i, _, _)| ls[i].text.clone())
        .unwrap_or_default();
    if let Some((i, _, score)) = company {
        ls[i].used = true;
        let value = han_part(&ls[i].text)
            .filter(|h| contains_any(h, &["公司", "集团", "会社"]))
            .unwrap_or_else(|| ls[i].text.clone());
        // A suffix says company; weak words alone (科技, 贸易) leave doubt.
        let rule = match score {
            4.. => 0.95,
            3 => 0.9,
            _ => 0.7,
        };
        card.company = Some(Field::from_line(
            without_logo_mark(&value, ls[i].ocr),
            ls[i].ocr,
            rule,
        ));
    }

    // Name candidates, possibly sharing a line with the title (`张伟 销售经理`).
    let mut candidates: Vec<NameCandidate> = free
        .iter()
        .filter(|&&i| !ls[i].used)
        .filter_map(|&i| name_candidate(ls, i, &company_text))
        .collect();
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let name = candidates
        .first()
        .map(|c| (c.line, c.value.clone(), c.score));
    let name_is_han = name.as_ref().is_some_and(|n| n.1.chars().any(is_han));
    if let Some(best) = candidates.first() {
        // The name is the largest or second largest short line left: a candidate smaller
        // than that is a guess, and so is one a rival on another line nearly matches.
        let height = ls[best.line].ocr.bbox.h as f32;
        let taller = free
            .iter()
            .filter(|&&i| !ls[i].used && ls[i].text.chars().count() <= 24)
            .filter(|&&i| ls[i].ocr.bbox.h as f32 > height * 1.1)
            .count();
        let rival = candidates
            .iter()
            .skip(1)
            .any(|c| c.line != best.line && c.score >= best.score * 0.85);
        let mut rule = best.kind.rule();
        if best.shared {
            rule -= 0.05;
        }
        if taller >= 2 {
            rule *= 0.6;
        }
        if rival {
            rule *= 0.8;
        }
        card.name = Some(Field::from_line(
            best.value.clone(),
            ls[best.line].ocr,
            rule,
        ));
    }

    // Title: on the name's line after the name, or the first line with a title word.
    if let Some((i, value, _)) = &name {
        let rest = ls[*i]
            .text
            .find(value.as_str())
            .and_then(|at| ls[*i].text.get(at + value.len()..))
            .unwrap_or("");
        let rest = rest.trim().trim_start_matches(['|', '/', '·']).trim();
        if contains_any(&rest.to_uppercase(), TITLE_WORDS) {
            card.title = Some(Field::from_line(rest.to_string(), ls[*i].ocr, 0.85));
        }
        ls[*i].used = true;
    }
    if card.title.is_none() {
        // Of the lines with a title word, the one nearest the name: a label printed at the
        // top (`业务主办` over a column of fields) loses to the title set beside the name.
        let name_y = name.as_ref().map(|(i, _, _)| ls[*i].ocr.bbox.center_y());
        let pick = free
            .iter()
            .copied()
            .filter(|&i| !ls[i].used && contains_any(&ls[i].upper, TITLE_WORDS))
            .min_by(|&a, &b| {
                let d = |i: usize| name_y.map_or(0.0, |y| (ls[i].ocr.bbox.center_y() - y).abs());
                d(a).total_cmp(&d(b)).then(a.cmp(&b))
            });
        if let Some(i) = pick {
            let line = &ls[i];
            let value = match han_part(&line.text) {
                Some(h) if name_is_han && contains_any(&h.to_uppercase(), TITLE_WORDS) => h,
                _ => line.text.clone(),
            };
            card.title = Some(Field::from_line(value, line.ocr, 0.85));
        }
    }

    // No company suffix anywhere: the largest line left that is not a title, a slogan, a
    // label or a number (a brand, `华为`), as a guess.
    if card.company.is_none() {
        let pick = free
            .iter()
            .copied()
            .filter(|&i| {
                let l = &ls[i];
                let n = l.text.chars().count();
                let letters = l.text.chars().filter(|c| c.is_alphabetic()).count();
                !l.used
                    && (2..=40).contains(&n)
                    && letters * 10 >= n * 7
                    && !l.text.ends_with([':', '：'])
                    && !contains_any(&l.upper, TITLE_WORDS)
                    && !contains_any(&l.upper, SLOGAN_WORDS)
                    && !contains_any(
                        &l.upper,
                        &["地址", "电话", "手机", "邮箱", "传真", "网址", "微信"],
                    )
            })
            .max_by_key(|&i| ls[i].ocr.bbox.h);
        if let Some(i) = pick {
            ls[i].used = true;
            let value = without_logo_mark(&ls[i].text, ls[i].ocr);
            card.company = Some(Field::from_line(value, ls[i].ocr, 0.4));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ocr::{BBox, OcrWord};

    fn card(rows: &[(&str, u32, u32, u32)]) -> CardFields {
        let lines: Vec<OcrLine> = rows
            .iter()
            .map(|&(text, x, y, h)| {
                OcrLine::from_words(
                    text.split(' ')
                        .enumerate()
                        .map(|(k, w)| OcrWord {
                            text: w.to_string(),
                            confidence: 0.9,
                            bbox: BBox {
                                x: x + 40 * k as u32,
                                y,
                                w: 38,
                                h,
                            },
                        })
                        .collect(),
                )
            })
            .collect();
        extract_card(&lines, Region::default())
    }

    fn value(f: &Option<Field>) -> &str {
        f.as_ref().map(|f| f.value.as_str()).unwrap_or("")
    }

    #[test]
    fn chinese_card_with_ocr_noise() {
        let c = card(&[
            ("深 圳 市 华 强 科 技 有 限 公 司", 300, 60, 50),
            ("张 伟", 80, 220, 100),
            ("销 售 经 理", 80, 340, 40),
            ("手 机 ： 138 OO13 8000", 80, 560, 32),
            ("电话 ： 0755-5265 9655   传真：0755-52659656", 80, 610, 32),
            ("邮 箱 : zhang.wei @ huaqiang.com", 80, 660, 32),
            (
                "地 址 ： 广 东 省 深 圳 市 南 山 区 科 技 园 路 88 号",
                80,
                710,
                32,
            ),
            ("www.huaqiang.com", 80, 760, 32),
        ]);
        assert_eq!(value(&c.name), "张伟");
        assert_eq!(value(&c.title), "销售经理");
        assert_eq!(value(&c.company), "深圳市华强科技有限公司");
        let phones: Vec<&str> = c.phones.iter().map(|p| p.value.as_str()).collect();
        assert_eq!(phones, ["+8613800138000", "+8675552659655"]);
        assert_eq!(c.emails[0].value, "zhang.wei@huaqiang.com");
        assert_eq!(value(&c.address), "广东省深圳市南山区科技园路88号");
        assert_eq!(value(&c.website), "www.huaqiang.com");
        let name = c.name.as_ref().map(|n| n.bbox).unwrap_or_default();
        assert_eq!((name.x, name.y, name.h), (80, 220, 100));
    }

    #[test]
    fn english_card_with_wrapped_address_and_short_labels() {
        let c = card(&[
            ("David Wong", 80, 100, 80),
            ("Sales Manager", 80, 200, 36),
            ("Shenzhen Hengtong Technology Co., Ltd.", 80, 300, 40),
            ("M: +86 139 1234 5678", 80, 520, 30),
            ("T: +86 755 2345 6789", 80, 560, 30),
            ("E: david.wong@hengtong.com", 80, 600, 30),
            (
                "Add: Room 1203, Hengtong Building, 88 Keji Road,",
                80,
                640,
                30,
            ),
            ("Nanshan District, Shenzhen, China", 80, 675, 30),
            ("http://www.hengtong.com/", 80, 720, 30),
        ]);
        assert_eq!(value(&c.name), "David Wong");
        assert_eq!(value(&c.title), "Sales Manager");
        assert_eq!(value(&c.company), "Shenzhen Hengtong Technology Co., Ltd.");
        let phones: Vec<&str> = c.phones.iter().map(|p| p.value.as_str()).collect();
        assert_eq!(phones, ["+8613912345678", "+8675523456789"]);
        assert_eq!(
            value(&c.address),
            "Room 1203, Hengtong Building, 88 Keji Road, Nanshan District, Shenzhen, China"
        );
        assert_eq!(value(&c.website), "www.hengtong.com");
    }

    #[test]
    fn a_han_logo_character_read_with_the_company_is_dropped() {
        let company = |row: &str| value(&card(&[(row, 80, 60, 44)]).company).to_string();
        // The brand's character in the logo square, read into the line before the city.
        assert_eq!(company("海重庆市海纳科技集团"), "重庆市海纳科技集团");
        assert_eq!(
            company("华上海市华强生物科技集团有限公司"),
            "上海市华强生物科技集团有限公司"
        );
        // Read as a word of its own before a name that starts with it.
        assert_eq!(company("三 三光工業株式会社"), "三光工業株式会社");
        // Names that really start so are kept: a doubled brand read as one word, a
        // character repeated later, a city with no mark before it.
        assert_eq!(company("当当网络科技有限公司"), "当当网络科技有限公司");
        assert_eq!(company("中国中铁股份有限公司"), "中国中铁股份有限公司");
        assert_eq!(company("重庆市海纳科技集团"), "重庆市海纳科技集团");
    }

    #[test]
    fn a_logo_letter_and_a_glued_address_label_are_dropped() {
        let c = card(&[
            ("T Tianjin Tianze Trading Co., Ltd.", 80, 60, 44),
            ("Tony Brown", 80, 200, 90),
            (
                "A广东省东莞市松山湖东莞大道924号银河大厦1514室",
                80,
                700,
                30,
            ),
        ]);
        assert_eq!(value(&c.company), "Tianjin Tianze Trading Co., Ltd.");
        assert_eq!(value(&c.name), "Tony Brown");
        assert_eq!(
            value(&c.address),
            "广东省东莞市松山湖东莞大道924号银河大厦1514室"
        );
        let logo = card(&[("H Beijing Huaqiang Industrial Co., Ltd.", 80, 60, 44)]);
        assert_eq!(
            value(&logo.company),
            "Beijing Huaqiang Industrial Co., Ltd."
        );
    }

    #[test]
    fn name_and_title_on_one_line_and_logo_text_is_not_the_name() {
        let c = card(&[
            ("华强", 1100, 60, 120),
            ("华强电子集团有限公司", 80, 80, 44),
            ("李娜 采购主管", 80, 250, 70),
            ("l39-l234-5678", 80, 600, 30),
        ]);
        assert_eq!(value(&c.name), "李娜");
        assert_eq!(value(&c.title), "采购主管");
        assert_eq!(value(&c.company), "华强电子集团有限公司");
        assert_eq!(c.phones.len(), 1);
        assert_eq!(c.phones[0].value, "+8613912345678");
    }

    fn phones_of(c: &CardFields) -> Vec<&str> {
        c.phones.iter().map(|p| p.value.as_str()).collect()
    }

    fn emails_of(c: &CardFields) -> Vec<&str> {
        c.emails.iter().map(|p| p.value.as_str()).collect()
    }

    #[test]
    fn emails_and_sites_repaired_from_ocr_noise() {
        let c = card(&[
            ("张伟", 80, 200, 90),
            ("邮箱：wang＠qq。com", 80, 600, 30),
            ("E-mail: li.na (at) huaqiang . com . cn", 80, 640, 30),
            ("网址：www。huaqiang。com", 80, 680, 30),
        ]);
        assert_eq!(emails_of(&c), ["wang@qq.com", "li.na@huaqiang.com.cn"]);
        assert_eq!(value(&c.website), "www.huaqiang.com");
        // A site printed as a bare domain.
        let c = card(&[("张伟", 80, 200, 90), ("huaqiang.com.cn", 80, 700, 30)]);
        assert_eq!(value(&c.website), "huaqiang.com.cn");
        // Ordinary text is not an e-mail or a site.
        let c = card(&[
            ("张伟", 80, 200, 90),
            ("Sales @ Beijing. Office", 80, 600, 30),
            ("©2026 Huaqiang. All rights reserved", 80, 640, 30),
            ("Tianjin Tianze Trading Co.,Ltd", 80, 680, 30),
        ]);
        assert!(c.emails.is_empty(), "{:?}", c.emails);
        assert_eq!(c.website, None);
    }

    #[test]
    fn company_suffixes_and_prefixes() {
        for (company, expected) in [
            ("ソニー株式会社", "ソニー株式会社"),
            ("株式会社ソニー", "株式会社ソニー"),
            ("Acme Robotics Inc.", "Acme Robotics Inc."),
            ("Müller Maschinenbau GmbH", "Müller Maschinenbau GmbH"),
            ("Brightway Holdings LLC", "Brightway Holdings LLC"),
            ("华强股份", "华强股份"),
        ] {
            let c = card(&[
                (company, 80, 60, 40),
                ("David Wong", 80, 200, 80),
                ("Principal Engineer", 80, 300, 36),
            ]);
            assert_eq!(value(&c.company), expected, "{company}");
            assert_eq!(value(&c.title), "Principal Engineer", "{company}");
            let conf = c.company.as_ref().map_or(0.0, |f| f.confidence);
            assert!(conf > 0.75, "{company}: {conf}");
        }
        // No suffix at all: the largest line that is not the name or a title, as a guess.
        let c = card(&[
            ("HUAWEI", 80, 60, 110),
            ("张伟", 80, 220, 80),
            ("销售经理", 80, 320, 36),
            ("手机：13800138000", 80, 600, 30),
        ]);
        assert_eq!(value(&c.company), "HUAWEI");
        assert_eq!(value(&c.name), "张伟");
        assert!(c.company.as_ref().is_some_and(|f| f.confidence < 0.5));
    }

    #[test]
    fn japanese_card() {
        let c = card(&[
            ("株式会社日立製作所", 80, 60, 44),
            ("営業本部 課長", 80, 180, 34),
            ("新井 正志", 80, 240, 90),
            ("M A S A S H I  A R A I", 80, 340, 30),
            ("〒101-0047 東京都千代田区内神田1-2-3", 80, 560, 28),
            ("TEL 03-5205-6455  FAX 03-5205-6456", 80, 600, 28),
            ("arai@hitachi.co.jp", 80, 640, 28),
        ]);
        assert_eq!(value(&c.name), "新井正志");
        assert_eq!(value(&c.company), "株式会社日立製作所");
        assert_eq!(value(&c.title), "営業本部課長");
        assert_eq!(phones_of(&c), ["+81352056455"]);
        assert!(c.name.as_ref().is_some_and(|f| f.confidence > 0.7));
        // The postcode mark starts the address, which keeps it.
        assert_eq!(
            value(&c.address).replace(' ', ""),
            "〒101-0047東京都千代田区内神田1-2-3"
        );
        // The mark read as `T`, and Tokyo in simplified characters: both put back.
        let c = card(&[
            ("富士技研株式会社", 200, 70, 40),
            ("鈴木拓也", 100, 190, 70),
            ("TEL03-5019-2917", 80, 560, 30),
            ("E-mail:takuya.suzuki@fuji.co.jp", 80, 640, 30),
            ("T160-0022东京都新宿区新宿3-15-8", 80, 700, 30),
        ]);
        assert_eq!(value(&c.address), "〒160-0022 東京都新宿区新宿3-15-8");
        assert_eq!(phones_of(&c), ["+81350192917"]);
        // A line that only looks like one (a model number) is not an address.
        assert_eq!(japanese_address("T100-2000 Series"), None);
        assert_eq!(
            japanese_address("160-0022东京都新宿区新宿3-15-8").as_deref(),
            Some("〒160-0022 東京都新宿区新宿3-15-8")
        );
        assert_eq!(japanese_address("0431-84597070 84840822"), None);
    }

    #[test]
    fn vietnamese_card() {
        let c = card(&[
            ("CÔNG TY TNHH THƯƠNG MẠI AN PHÁT", 80, 60, 40),
            ("Nguyễn Văn Hùng", 80, 200, 80),
            ("Giám đốc", 80, 300, 36),
            ("ĐT: 028 3822 1234", 80, 560, 30),
            ("DĐ: 0903 123 456", 80, 600, 30),
        ]);
        assert_eq!(value(&c.name), "Nguyễn Văn Hùng");
        assert_eq!(value(&c.company), "CÔNG TY TNHH THƯƠNG MẠI AN PHÁT");
        assert_eq!(value(&c.title), "Giám đốc");
        assert_eq!(phones_of(&c), ["+842838221234", "+84903123456"]);
    }

    #[test]
    fn a_letter_spaced_name_from_its_boxes() {
        // Letters read one box each, words apart by a wider gap.
        let mut words = Vec::new();
        let mut x = 100;
        for (k, ch) in "MASASHIARAI".chars().enumerate() {
            if k == 7 {
                x += 50;
            }
            words.push(OcrWord {
                text: ch.to_string(),
                confidence: 0.9,
                bbox: BBox {
                    x,
                    y: 200,
                    w: 30,
                    h: 60,
                },
            });
            x += 45;
        }
        let lines = [
            OcrLine::from_words(words),
            OcrLine::from_words(vec![OcrWord {
                text: "Sony Corporation".into(),
                confidence: 0.9,
                bbox: BBox {
                    x: 100,
                    y: 60,
                    w: 500,
                    h: 40,
                },
            }]),
        ];
        let c = extract_card(&lines, Region::default());
        assert_eq!(value(&c.name), "MASASHI ARAI");
    }

    #[test]
    fn fax_labels_apart_from_their_numbers() {
        let c = card(&[
            ("深圳市华强科技有限公司", 80, 60, 44),
            ("张伟", 80, 200, 90),
            ("电话", 80, 560, 30),
            ("0755-52659655", 80, 600, 30),
            ("传真", 80, 660, 30),
            ("0755-52659656", 80, 700, 30),
            ("F", 600, 760, 30),
            ("0755-52659657", 900, 760, 30),
        ]);
        assert_eq!(phones_of(&c), ["+8675552659655"]);
        assert!(c.phones[0].confidence > 0.8);
        let c = card(&[
            ("吉林省长春市恒达商贸有限公司", 80, 60, 44),
            ("章 晖 平", 80, 200, 90),
            ("电话：0431-84597070 84840822", 80, 600, 30),
            ("邮编 130000", 80, 640, 30),
        ]);
        assert_eq!(phones_of(&c), ["+8643184597070", "+8643184840822"]);
        assert_eq!(value(&c.name), "章晖平");
    }

    #[test]
    fn labels_titles_and_slogans_are_never_the_name() {
        let c = card(&[
            ("业务主办", 80, 60, 60),
            ("IT Management Guider", 80, 150, 60),
            ("扫一扫", 900, 150, 60),
            ("总经理", 80, 250, 50),
            ("王建国", 80, 330, 56),
            ("职位职称", 80, 420, 40),
        ]);
        assert_eq!(value(&c.name), "王建国");
        assert_eq!(value(&c.title), "总经理");
        // A label-like title set beside the name is the title.
        let c = card(&[
            ("众诚供应链管理集团有限公司", 280, 60, 50),
            ("刘海", 120, 300, 90),
            ("微信扫一扫", 700, 330, 30),
            ("业务主办", 120, 420, 40),
            ("手机：153-4240-8567", 120, 600, 30),
        ]);
        assert_eq!(value(&c.name), "刘海");
        assert_eq!(value(&c.title), "业务主办");
        // A brand line in large capitals is not the person.
        let c = card(&[
            ("Global Logistics", 80, 60, 90),
            ("David Wong", 80, 250, 60),
            ("Sales Director", 80, 330, 34),
            ("M: +86 139 1234 5678", 80, 600, 30),
        ]);
        assert_eq!(value(&c.name), "David Wong");
        assert_eq!(value(&c.title), "Sales Director");
    }

    #[test]
    fn a_guessed_name_scores_low() {
        // The real name is printed; the only name-like words are a small place line.
        let guess = card(&[
            ("GREENFIELD", 80, 60, 120),
            ("PROPERTY", 80, 200, 90),
            ("Harbour View", 80, 600, 26),
        ]);
        let sure = card(&[
            ("Greenfield Property Ltd.", 80, 60, 40),
            ("Emily Tan", 80, 200, 90),
            ("Harbour View", 80, 600, 26),
        ]);
        assert_eq!(value(&sure.name), "Emily Tan");
        let (g, s) = (
            guess.name.as_ref().map_or(0.0, |f| f.confidence),
            sure.name.as_ref().map_or(0.0, |f| f.confidence),
        );
        assert!(g < 0.5 && s > 0.7, "guess {g}, sure {s}");
        assert_eq!(sure.confidence("name"), Some(s));
        assert!(sure.confidences().iter().any(|(f, _)| *f == "company"));
    }
}
