//! Normalization of person names and company names into match keys.
//!
//! A contact is indexed under a handful of short keys (see [`contact_keys`]); a duplicate check
//! computes the keys of what was typed and looks them up. Each key kind says why two contacts
//! match:
//!
//! | prefix | key | example |
//! |---|---|---|
//! | `p:` | E.164 phone (with its extension, if any) | `p:+8613800138000`, `p:+8675588888888;ext=123` |
//! | `m:` | the main number of a phone with an extension | `m:+8675588888888` |
//! | `e:` | lower-cased email | `e:zhang.wei@huaqiang.com` |
//! | `n:` | name without titles, at a normalized company | `n:张|华强科技` (`张经理` at `深圳市华强科技有限公司`) |
//! | `s:` | Chinese surname at a company | `s:张|华强科技` |
//! | `o:` | a name that is only a surname (`张经理`), at a company | `o:张|华强科技` |
//! | `y:` | the name's sounds (pinyin, or Latin words in either order), at a company | `y:zhangwei|华强科技` |
//! | `i:` | Latin first initial + last name, at a company | `i:jsmith|acme` |
//!
//! Name keys need a company: the same name alone is too common to mean the same person.

use pinyin::ToPinyin;

/// Title and form-of-address suffixes stripped from Chinese names, longest first.
const TITLE_SUFFIXES: &[&str] = &[
    "副总经理",
    "总经理",
    "董事长",
    "副总裁",
    "工程师",
    "副总",
    "总监",
    "经理",
    "主任",
    "老师",
    "先生",
    "女士",
    "小姐",
    "总裁",
    "总工",
    "教授",
    "博士",
    "医生",
    "律师",
    "老板",
    "会计",
    "部长",
    "处长",
    "科长",
    "局长",
    "院长",
    "校长",
    "厂长",
    "主管",
    "助理",
    "秘书",
    "总",
    "工",
];

/// Two-character surnames (the rest are one character).
const COMPOUND_SURNAMES: &[&str] = &[
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒",
    "夏侯", "轩辕", "令狐", "钟离", "端木", "南宫", "西门", "独孤", "澹台", "万俟", "闻人", "赫连",
];

/// Legal-form suffixes of Chinese company names, longest first.
const COMPANY_SUFFIXES_ZH: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "分公司",
    "总公司",
    "集团",
    "公司",
    "控股",
];

/// Legal-form words of Latin company names (`Co., Ltd.`, `Inc.`, ...).
const COMPANY_WORDS_LATIN: &[&str] = &[
    "co",
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "company",
    "llc",
    "plc",
    "gmbh",
    "group",
    "holdings",
    "holding",
    "ag",
    "sa",
    "bv",
    "pte",
];

/// Provinces and large cities that prefix many company names (`深圳市华强科技有限公司`).
const PLACES: &[&str] = &[
    "北京",
    "上海",
    "天津",
    "重庆",
    "广东",
    "广西",
    "浙江",
    "江苏",
    "山东",
    "福建",
    "河北",
    "河南",
    "湖北",
    "湖南",
    "江西",
    "安徽",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "山西",
    "甘肃",
    "青海",
    "辽宁",
    "吉林",
    "黑龙江",
    "海南",
    "内蒙古",
    "宁夏",
    "新疆",
    "西藏",
    "香港",
    "澳门",
    "台湾",
    "深圳",
    "广州",
    "东莞",
    "佛山",
    "珠海",
    "中山",
    "惠州",
    "杭州",
    "宁波",
    "温州",
    "义乌",
    "南京",
    "苏州",
    "无锡",
    "常州",
    "成都",
    "武汉",
    "西安",
    "长沙",
    "郑州",
    "济南",
    "青岛",
    "厦门",
    "福州",
    "合肥",
    "南昌",
    "昆明",
    "贵阳",
    "南宁",
    "沈阳",
    "大连",
    "长春",
    "哈尔滨",
    "石家庄",
    "太原",
    "兰州",
    "乌鲁木齐",
    "呼和浩特",
    "海口",
    "三亚",
    "烟台",
    "潍坊",
    "泉州",
    "绍兴",
    "嘉兴",
    "金华",
    "台州",
    "扬州",
    "南通",
    "徐州",
];

/// Whether `c` is a Han character.
fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Full-width ASCII forms (`（`, `Ａ`, `，`) as their ASCII counterparts; the ideographic space
/// as a space.
fn half_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Surnames read otherwise than the character's usual reading (单 is `dan`, the surname `shan`),
/// with the surname's reading. A dictionary's every reading would add false ones (王 is also
/// listed as `yu`), so the list is the surnames that are known to differ.
const SURNAME_READINGS: &[(char, &str)] = &[
    ('单', "shan"),
    ('曾', "zeng"),
    ('解', "xie"),
    ('区', "ou"),
    ('仇', "qiu"),
    ('朴', "piao"),
    ('查', "zha"),
    ('盖', "ge"),
    ('覃', "qin"),
    ('召', "shao"),
    ('员', "yun"),
    ('乐', "yue"),
    ('缪', "miao"),
    ('翟', "zhai"),
    ('秘', "bi"),
    ('牟', "mu"),
    ('种', "chong"),
    ('折', "she"),
    ('繁', "po"),
    ('能', "nai"),
    ('黑', "he"),
    ('长', "chang"),
    ('重', "chong"),
    ('宿', "su"),
    ('尉', "yu"),
    ('句', "gou"),
];

/// The surname reading of `c` when it differs from its usual one.
pub(crate) fn surname_reading(c: char) -> Option<&'static str> {
    SURNAME_READINGS
        .iter()
        .find(|(s, _)| *s == c)
        .map(|(_, r)| *r)
}

/// A person name, normalized for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameKey {
    /// The name without titles and spacing; Latin names lower-cased, words single-spaced.
    pub key: String,
    /// The Chinese surname, when the name is Chinese.
    pub surname: Option<String>,
    /// Whether the name is only a surname (`张经理` → `张`).
    pub surname_only: bool,
    /// The name's sounds: pinyin for Chinese, Latin words in both orders.
    pub sounds: Vec<String>,
    /// Latin first initial + last word (`jsmith`), for names of two or more words.
    pub initials: Option<String>,
}

/// Normalizes a person's name: Chinese names lose title suffixes (`张经理` → `张`) and spacing,
/// Latin names are lower-cased with punctuation and spacing normalized (`Smith, John` →
/// `john smith`). `None` when nothing is left.
pub fn name_key(raw: &str) -> Option<NameKey> {
    let text: String = raw.chars().map(half_width).collect();
    let text = text.trim();
    if text.chars().any(is_han) {
        let mut han: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '•' | '.' | '-'))
            .collect();
        // Strip titles (repeatedly: `张总经理助理`), never down to nothing.
        while let Some(suffix) = TITLE_SUFFIXES
            .iter()
            .find(|s| han.ends_with(*s) && han.len() > s.len())
        {
            han.truncate(han.len() - suffix.len());
        }
        // A leading 老/小 before a bare surname is a form of address (`老张`).
        for prefix in ["老", "小"] {
            if han.chars().count() == 2 && han.starts_with(prefix) {
                han = han[prefix.len()..].to_string();
            }
        }
        let surname = COMPOUND_SURNAMES
            .iter()
            .find(|s| han.starts_with(*s))
            .map(|s| s.to_string())
            .or_else(|| han.chars().next().map(String::from))?;
        let surname_only = han == surname;
        let sound: String = han
            .as_str()
            .to_pinyin()
            .map(|p| p.map_or(String::new(), |p| p.plain().to_string()))
            .collect();
        let mut sounds = if sound.is_empty() {
            Vec::new()
        } else {
            vec![sound]
        };
        // A one-character surname read two ways (单 dan/shan, 曾 ceng/zeng, 解 jie/xie, 区
        // qu/ou): `Shan Wei` typed from a business card is 单伟 too.
        if surname.chars().count() == 1 {
            let rest: String = han
                .chars()
                .skip(1)
                .collect::<String>()
                .as_str()
                .to_pinyin()
                .map(|p| p.map_or(String::new(), |p| p.plain().to_string()))
                .collect();
            if let Some(reading) = surname.chars().next().and_then(surname_reading) {
                let variant = format!("{reading}{rest}");
                if !sounds.contains(&variant) {
                    sounds.push(variant);
                }
            }
        }
        return Some(NameKey {
            key: han,
            surname: Some(surname),
            surname_only,
            sounds,
            initials: None,
        });
    }
    // Latin: `Smith, John` is `John Smith`.
    let reordered = match text.split_once(',') {
        Some((last, first)) if !first.trim().is_empty() && !last.trim().is_empty() => {
            format!("{} {}", first.trim(), last.trim())
        }
        _ => text.to_string(),
    };
    let words: Vec<String> = reordered
        .to_lowercase()
        .split(|c: char| c.is_whitespace() || matches!(c, '.' | ',' | '-' | '_' | '\'' | '·'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    let (first, last) = (words.first()?, words.last()?);
    let mut sounds = vec![words.concat()];
    if words.len() > 1 {
        let mut family_first = vec![last.clone()];
        family_first.extend(words[..words.len() - 1].iter().cloned());
        sounds.push(family_first.concat());
    }
    let initials = (words.len() > 1)
        .then(|| first.chars().next().map(|c| format!("{c}{last}")))
        .flatten();
    Some(NameKey {
        key: words.join(" "),
        surname: None,
        surname_only: false,
        sounds,
        initials,
    })
}

fn strip_suffixes<'a>(mut s: &'a str, suffixes: &[&str]) -> &'a str {
    loop {
        match suffixes
            .iter()
            .find(|x| s.ends_with(*x) && s.len() > x.len())
        {
            Some(x) => s = &s[..s.len() - x.len()],
            None => return s,
        }
    }
}

/// Normalizes a company name: legal forms (`有限公司`, `股份有限公司`, `集团`, `Co., Ltd.`),
/// a leading province or city (`深圳市`, `广东省`), parenthesized places (`（深圳）`), case,
/// width and punctuation go. `深圳市华强科技有限公司` and `华强科技` give the same key.
/// `None` when nothing is left.
pub fn company_key(raw: &str) -> Option<String> {
    let text: String = raw
        .chars()
        .map(half_width)
        .collect::<String>()
        .to_lowercase();
    // Drop parenthesized parts: `华强科技(深圳)有限公司`.
    let mut plain = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' | '【' => depth += 1,
            ')' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = plain
        .split(|c: char| !(c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .collect();
    let mut words: Vec<&str> = words;
    while words.len() > 1
        && words
            .last()
            .is_some_and(|w| COMPANY_WORDS_LATIN.contains(w))
    {
        words.pop();
    }
    let joined: String = words.concat();
    let mut s = strip_suffixes(&joined, COMPANY_SUFFIXES_ZH);
    // Leading places, with or without 省/市/区: `广东省深圳市华强` → `华强`.
    while let Some(place) = PLACES.iter().find(|p| s.starts_with(*p)) {
        let mut rest = &s[place.len()..];
        for unit in ["省", "市", "区"] {
            if let Some(r) = rest.strip_prefix(unit) {
                rest = r;
                break;
            }
        }
        if rest.chars().count() < 2 {
            break;
        }
        s = rest;
    }
    let s = strip_suffixes(s, COMPANY_SUFFIXES_ZH);
    (!s.is_empty()).then(|| s.to_string())
}

/// Strength of a name match, by key kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameMatch {
    /// The same normalized name at the same company.
    Exact,
    /// A similar name (same surname where one side is only a surname, same sounds, same
    /// initials) at the same company.
    Similar,
}

/// The name+company keys to look up for a typed name and company, with their strength.
pub(crate) fn name_company_queries(
    name: Option<&str>,
    company: Option<&str>,
) -> Vec<(String, NameMatch)> {
    let (Some(n), Some(c)) = (name.and_then(name_key), company.and_then(company_key)) else {
        return Vec::new();
    };
    let mut out = vec![(format!("n:{}|{c}", n.key), NameMatch::Exact)];
    if let Some(surname) = &n.surname {
        if n.surname_only {
            out.push((format!("s:{surname}|{c}"), NameMatch::Similar));
        } else {
            out.push((format!("o:{surname}|{c}"), NameMatch::Similar));
        }
    }
    for sound in &n.sounds {
        out.push((format!("y:{sound}|{c}"), NameMatch::Similar));
    }
    if let Some(i) = &n.initials {
        out.push((format!("i:{i}|{c}"), NameMatch::Similar));
    }
    out.dedup();
    out
}

/// The keys a typed phone (normalized) is looked up under, each with whether it is the same
/// number (`true`) or only the same main number (`false`): a number with an extension meets
/// the same number and extension, and its main number stored alone; a number without one meets
/// itself, and the same number stored with an extension. Two extensions of one switchboard are
/// two people, and do not meet.
pub(crate) fn phone_queries(phone: &str) -> Vec<(String, bool)> {
    let main = crate::normalize::main_number(phone);
    if main == phone {
        vec![(format!("p:{phone}"), true), (format!("m:{phone}"), false)]
    } else {
        vec![(format!("p:{phone}"), true), (format!("p:{main}"), false)]
    }
}

/// Every key a contact is indexed under (phones and emails already normalized).
pub(crate) fn contact_keys(
    name: &str,
    company: Option<&str>,
    phones: &[String],
    emails: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(phones.len() + emails.len() + 5);
    for p in phones {
        out.push(format!("p:{p}"));
        let main = crate::normalize::main_number(p);
        if main != p {
            out.push(format!("m:{main}"));
        }
    }
    out.extend(emails.iter().map(|e| format!("e:{e}")));
    if let (Some(n), Some(c)) = (name_key(name), company.and_then(company_key)) {
        out.push(format!("n:{}|{c}", n.key));
        if let Some(surname) = &n.surname {
            out.push(format!("s:{surname}|{c}"));
            if n.surname_only {
                out.push(format!("o:{surname}|{c}"));
            }
        }
        for sound in &n.sounds {
            out.push(format!("y:{sound}|{c}"));
        }
        if let Some(i) = &n.initials {
            out.push(format!("i:{i}|{c}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> String {
        name_key(name).map(|k| k.key).unwrap_or_default()
    }

    #[test]
    fn chinese_titles_are_stripped() {
        assert_eq!(key("张经理"), "张");
        assert_eq!(key("张总监"), "张");
        assert_eq!(key("张 总"), "张");
        assert_eq!(key("王芳"), "王芳");
        assert_eq!(key("老张"), "张");
        assert_eq!(key("欧阳娜娜"), "欧阳娜娜");
        let k = name_key("欧阳总").unwrap_or_else(|| unreachable!());
        assert!(k.surname_only);
        assert_eq!(k.surname.as_deref(), Some("欧阳"));
        // A title alone is not stripped to nothing.
        assert_eq!(key("经理"), "经理");
    }

    #[test]
    fn latin_names_case_spacing_order_and_initials() {
        assert_eq!(key("  John   SMITH "), "john smith");
        assert_eq!(key("Smith, John"), "john smith");
        let a = name_key("J. Smith").unwrap_or_else(|| unreachable!());
        let b = name_key("john smith").unwrap_or_else(|| unreachable!());
        assert_eq!(a.initials, b.initials);
        // Pinyin of a Chinese name meets the Latin spelling in either order.
        let zh = name_key("张伟").unwrap_or_else(|| unreachable!());
        let en = name_key("Wei Zhang").unwrap_or_else(|| unreachable!());
        assert!(
            zh.sounds.iter().any(|s| en.sounds.contains(s)),
            "{zh:?} {en:?}"
        );
    }

    #[test]
    fn surnames_read_two_ways_meet_both_spellings() {
        for (zh, en) in [
            ("单伟", "Shan Wei"),
            ("单伟", "Dan Wei"),
            ("曾静", "Zeng Jing"),
            ("解放", "Xie Fang"),
            ("区志明", "Ou Zhiming"),
        ] {
            let zh_key = name_key(zh).unwrap_or_else(|| unreachable!());
            let en_key = name_key(en).unwrap_or_else(|| unreachable!());
            assert!(
                zh_key.sounds.iter().any(|s| en_key.sounds.contains(s)),
                "{zh} {en}: {zh_key:?} {en_key:?}"
            );
        }
        // One reading, one sound.
        assert_eq!(
            name_key("王芳").map(|k| k.sounds),
            Some(vec!["wangfang".to_string()])
        );
    }

    #[test]
    fn company_forms_meet() {
        let k = company_key("深圳市华强科技有限公司");
        assert_eq!(k.as_deref(), Some("华强科技"));
        assert_eq!(company_key("华强科技"), k);
        assert_eq!(company_key("华强科技（深圳）有限公司"), k);
        assert_eq!(company_key("广东省深圳市华强科技股份有限公司"), k);
        assert_eq!(company_key("华强科技集团"), k);
        assert_eq!(
            company_key("Huaqiang Technology Co., Ltd."),
            company_key("HUAQIANG  technology")
        );
        assert!(company_key("有限公司").is_some_and(|k| !k.is_empty()));
        assert_eq!(company_key("  "), None);
        // A market is not a city.
        assert_eq!(company_key("华强市场有限公司").as_deref(), Some("华强市场"));
    }

    #[test]
    fn a_phone_with_an_extension_is_indexed_by_its_main_number_too() {
        let keys = contact_keys("总机", None, &["+8675588888888;ext=123".into()], &[]);
        assert_eq!(keys, ["m:+8675588888888", "p:+8675588888888;ext=123"]);
        let plain = contact_keys("总机", None, &["+8675588888888".into()], &[]);
        assert_eq!(plain, ["p:+8675588888888"]);
        // A bare main number finds the extension's `m:` key; an extension finds the bare `p:`.
        assert!(phone_queries("+8675588888888")
            .iter()
            .any(|(k, same)| !same && keys.contains(k)));
        assert!(phone_queries("+8675588888888;ext=9")
            .iter()
            .any(|(k, same)| !same && plain.contains(k)));
        assert!(!phone_queries("+8675588888888;ext=9")
            .iter()
            .any(|(k, _)| keys.contains(k)));
    }

    #[test]
    fn title_variants_share_a_name_company_key() {
        let a = contact_keys("张经理", Some("深圳市华强科技有限公司"), &[], &[]);
        let b = contact_keys("张总监", Some("华强科技"), &[], &[]);
        assert!(a.contains(&"n:张|华强科技".to_string()));
        assert_eq!(a, b);
        let q = name_company_queries(Some("张伟"), Some("华强科技"));
        assert!(q.iter().any(|(k, _)| k == "o:张|华强科技"));
        assert!(contact_keys("张伟", Some("华强"), &[], &[]).contains(&"s:张|华强".to_string()));
    }
}
