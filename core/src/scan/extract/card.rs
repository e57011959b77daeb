//! Business cards: name, title, company, phones, e-mails, address, website.
//!
//! Contact details are found by their labels (`手机`, `Tel`, `邮箱`, `地址`, ...) and their
//! shapes (digits that make a valid phone number, `x@y.z`, `www.`). The rest is told apart by
//! words (company suffixes like `有限公司` or `Co., Ltd.`, title words like `经理` or
//! `Manager`) and by size and place: the name is a short line, usually the largest text.

use super::{after_label, is_han, names, normalize_text, phones, Field};
use crate::normalize;
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

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| unreachable!("built-in pattern {pattern}: {e}"))
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
});
static WEBSITE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:https?://)?(?:www|WWW)\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}(?:/[^\s]*)?|https?://[a-z0-9\-.]+\.[a-z]{2,}(?:/[^\s]*)?",
    )
});
const EMAIL_LABELS: &[&str] = &["E-mail", "Email", "Mail", "邮箱", "电邮", "E"];
const WEB_LABELS: &[&str] = &["Website", "Web", "网址", "网站", "W", "URL"];
const ADDRESS_LABELS: &[&str] = &["地址", "Address", "Addr", "Add", "A"];
const ADDRESS_CUES: &[&str] = &[
    "省", "市", "区", "县", "路", "街", "道", "号", "大厦", "室", "楼", "层", "园", "ROAD", "RD.",
    "STREET", "DISTRICT", "BUILDING", "ROOM", "FLOOR", "AVENUE", "CHINA", "CITY", "PROVINCE",
];
const COMPANY_STRONG: &[&str] = &[
    "有限公司",
    "股份公司",
    "集团",
    "公司",
    "CO.,LTD",
    "CO., LTD",
    "CO.LTD",
    "LTD",
    "LIMITED",
    "INC",
    "CORP",
    "CORPORATION",
    "GROUP",
    "LLC",
    "GMBH",
    "COMPANY",
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
];

fn contains_any(upper: &str, words: &[&str]) -> bool {
    words.iter().any(|w| upper.contains(w))
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
            let text = normalize_text(&l.text);
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
    for line in ls.iter_mut() {
        contact_details(line, region, &mut card);
    }
    address(&mut ls, &mut card);
    company_title_name(&mut ls, &mut card);
    card
}

/// E-mails, websites and phones of one line.
fn contact_details(line: &mut Line, region: Region, card: &mut CardFields) {
    // E-mail: OCR often puts spaces around @ and dots.
    if line.text.contains('@') {
        let body = after_label(&line.text, EMAIL_LABELS).unwrap_or(&line.text);
        let squeezed: String = body
            .replace(" @", "@")
            .replace("@ ", "@")
            .replace(" .", ".")
            .replace(". ", ".");
        let squeezed = match squeezed.split_once('@') {
            Some((local, domain)) => format!("{local}@{}", domain.replace(',', ".")),
            None => squeezed,
        };
        for m in EMAIL.find_iter(&squeezed) {
            if let Ok(email) = normalize::email("email", m.as_str()) {
                if !card.emails.iter().any(|e| e.value == email) {
                    card.emails.push(Field::from_line(email, line.ocr, 0.95));
                }
                line.used = true;
            }
        }
    }
    // Website: `www.` or a scheme, or a web label.
    let web_body = after_label(&line.text, WEB_LABELS);
    let squeezed = web_body
        .unwrap_or(&line.text)
        .replace(". ", ".")
        .replace(" .", ".");
    let web = WEBSITE
        .find(&squeezed)
        .map(|m| m.as_str().to_string())
        .or_else(|| {
            web_body
                .filter(|b| !b.contains('@') && b.contains('.') && !b.contains(' '))
                .map(str::to_string)
        });
    if let Some(site) = web {
        if !site.contains('@') && card.website.is_none() {
            let value = site
                .to_lowercase()
                .trim_start_matches("http://")
                .trim_start_matches("https://")
                .trim_end_matches(['/', '.', ','])
                .to_string();
            card.website = Some(Field::from_line(value, line.ocr, 0.95));
            line.used = true;
        }
    }
    if line.used && !phones::has_phone_label(&line.text) {
        return;
    }
    // Phones: every number of the line, fax and other non-phone numbers left out.
    for (e164, labelled) in phones::phones_in_line(&line.text, region) {
        if !card.phones.iter().any(|p| p.value == e164) {
            let rule = if labelled { 0.95 } else { 0.85 };
            card.phones.push(Field::from_line(e164, line.ocr, rule));
        }
        line.used = true;
    }
    if phones::has_phone_label(&line.text) && !line.text.chars().any(is_han_not_label) {
        line.used = true;
    }
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
        let (value, rule) = match after_label(&line.text, ADDRESS_LABELS) {
            Some(v) if !bare_a => (v.to_string(), 0.95),
            _ if glued_a => (line.text[1..].to_string(), 0.9),
            _ => (line.text.clone(), 0.8),
        };
        let cues = ADDRESS_CUES
            .iter()
            .filter(|c| line.upper.contains(*c))
            .count();
        let digit = line.text.chars().any(|c| c.is_ascii_digit());
        let company = contains_any(&line.upper, COMPANY_STRONG);
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
            && !contains_any(&next.upper, COMPANY_STRONG)
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
/// `盛盛世生物...`): a lone first letter repeating the next word's initial is dropped.
fn without_logo_mark(company: &str) -> String {
    let mut words = company.split(' ');
    if let (Some(first), Some(second)) = (words.next(), words.next()) {
        if first.chars().count() == 1
            && first.chars().all(|c| c.is_ascii_uppercase())
            && second.starts_with(first)
        {
            return company[first.len()..].trim_start().to_string();
        }
    }
    company.to_string()
}

/// How much a line looks like a company name.
fn company_score(line: &Line) -> u32 {
    let mut score: u32 = 0;
    if line.upper.contains("有限公司") {
        score += 4;
    } else if contains_any(&line.upper, COMPANY_STRONG) {
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

fn company_title_name(ls: &mut [Line], card: &mut CardFields) {
    // The name decides the language of the card: pick it among lines that are neither
    // companies nor titles, by size.
    let free: Vec<usize> = (0..ls.len()).filter(|&i| !ls[i].used).collect();

    // Company.
    let mut company: Option<(usize, u32)> = None;
    for &i in &free {
        let score = company_score(&ls[i]);
        let han = ls[i].text.chars().any(is_han) as u32;
        let key = score * 10 + han * 5 + (ls[i].ocr.bbox.h / 20).min(4);
        if score >= 2 && company.is_none_or(|(_, k)| key > k) {
            company = Some((i, key));
        }
    }
    let company_text = company.map(|(i, _)| ls[i].text.clone()).unwrap_or_default();
    if let Some((i, _)) = company {
        ls[i].used = true;
        let value = han_part(&ls[i].text)
            .filter(|h| h.contains("公司") || h.contains("集团"))
            .unwrap_or_else(|| ls[i].text.clone());
        card.company = Some(Field::from_line(without_logo_mark(&value), ls[i].ocr, 0.9));
    }

    // Name candidates, possibly sharing a line with the title (`张伟 销售经理`).
    let mut name: Option<(usize, String, f32)> = None;
    for &i in &free {
        if ls[i].used {
            continue;
        }
        let text = ls[i].text.as_str();
        let height = ls[i].ocr.bbox.h as f32;
        let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
        let split = words.first().and_then(|w| split_name_title(w));
        if let Some((name_part, _)) = &split {
            let score = height * 1.5 * 0.9 * 1.2;
            if !company_text.contains(name_part.as_str())
                && name.as_ref().is_none_or(|n| score > n.2)
            {
                name = Some((i, name_part.clone(), score));
            }
            continue;
        }
        let latin_split = names::split_latin_name_title(text, TITLE_WORDS);
        if let Some((name_part, _)) = &latin_split {
            if !contains_any(&name_part.to_uppercase(), LATIN_NOT_NAME)
                && name.as_ref().is_none_or(|n| height > n.2)
            {
                name = Some((i, name_part.clone(), height));
            }
            continue;
        }
        let candidate: Option<(String, f32)> = if let Some(first) = words.first() {
            let han = names::han_name(first).filter(|_| first.chars().all(is_han));
            if let Some((han_name, surname)) = han.filter(|(n, _)| !contains_any(n, TITLE_WORDS)) {
                let rest_ok = words.len() == 1
                    || words[1..]
                        .iter()
                        .all(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
                    || contains_any(&words[1..].join(" ").to_uppercase(), TITLE_WORDS);
                let in_company = company_text.contains(first);
                if rest_ok && !in_company {
                    let weight =
                        if surname { 1.5 } else { 1.0 } * if words.len() == 1 { 1.0 } else { 0.9 };
                    Some((han_name, height * weight * 1.2))
                } else {
                    None
                }
            } else if (2..=3).contains(&words.len())
                && words.iter().all(|w| {
                    w.chars().next().is_some_and(|c| c.is_uppercase())
                        && w.chars()
                            .all(|c| c.is_alphabetic() || matches!(c, '-' | '\'' | '.'))
                })
                && !contains_any(&ls[i].upper, TITLE_WORDS)
                && !contains_any(&ls[i].upper, COMPANY_STRONG)
                && !contains_any(&ls[i].upper, COMPANY_WEAK)
                && !contains_any(&ls[i].upper, ADDRESS_CUES)
                && !contains_any(&ls[i].upper, LATIN_NOT_NAME)
            {
                Some((words.join(" "), height))
            } else {
                None
            }
        } else {
            None
        };
        if let Some((value, score)) = candidate {
            if name.as_ref().is_none_or(|n| score > n.2) {
                name = Some((i, value, score));
            }
        }
    }
    let name_is_han = name.as_ref().is_some_and(|n| n.1.chars().any(is_han));
    if let Some((i, value, _)) = &name {
        // A Han name without a known surname may be a brand or a heading: say so.
        let han = value.chars().any(is_han);
        let rule = match (han, names::surname(value).is_some()) {
            (true, false) => 0.5,
            _ if ls[*i].text == *value => 0.9,
            _ => 0.8,
        };
        card.name = Some(Field::from_line(value.clone(), ls[*i].ocr, rule));
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
        for &i in &free {
            let line = &ls[i];
            if line.used || !contains_any(&line.upper, TITLE_WORDS) {
                continue;
            }
            let value = match han_part(&line.text) {
                Some(h) if name_is_han && contains_any(&h.to_uppercase(), TITLE_WORDS) => h,
                _ => line.text.clone(),
            };
            card.title = Some(Field::from_line(value, line.ocr, 0.85));
            break;
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
}
