//! Phone numbers on a card: every number of a line (`0431-84597070 84840822` is two, the second
//! sharing the first's area code), fax numbers left out (`传真`, `Fax`, `F:`), postcodes and
//! certificate or registration numbers left out, and the country of numbers printed without
//! `+CC` taken from the card itself (an e-mail or web domain, Japanese kana, Vietnamese
//! letters) before the store's region.

use super::fix_digits;
use super::re;
use crate::normalize;
use crate::Region;
use regex::Regex;
use std::sync::LazyLock;

/// A run that may hold phone numbers: digits, OCR look-alikes and separators.
static PHONE_RUN: LazyLock<Regex> =
    LazyLock::new(|| re(r"[+(（]?[0-9OoIlSB|][0-9OoIlSB| \-–().（）/]{5,}[0-9OoIlSB|]"));

/// Labels that start a segment of a line: phone labels (kept), and labels of numbers that are
/// not phones to call (fax, postcode, QQ, certificate and registration numbers: skipped).
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(手机|电话|電話|携帯|座机|移动电话|固话|热线|传真|傳真|邮编|邮政编码|郵便番号|〒|qq|微信|身份证|证件|证书|证号|编号|执业|执照|信用代码|注册号|许可证|税号|账号|帐号|điện thoại|đt|dđ|mobile|mob|cell|phone|tel|fax|zip|postcode|post code|p\.?\s?c\.?\s*[:：]|licen[cs]e|no\.|\b[MTFHP]\s*[:：.]|\b[FMT]\b)",
    )
});

/// Segment labels whose numbers are not phones.
const NOT_PHONE: &[&str] = &[
    "传真",
    "傳真",
    "郵便番号",
    "身份证",
    "证件",
    "执照",
    "信用代码",
    "LICENSE",
    "LICENCE",
    "FAX",
    "F",
    "邮编",
    "邮政编码",
    "〒",
    "QQ",
    "微信",
    "证书",
    "证号",
    "编号",
    "执业",
    "注册号",
    "许可证",
    "税号",
    "账号",
    "帐号",
    "ZIP",
    "POSTCODE",
    "POST CODE",
    "P.C",
    "PC",
    "NO.",
];

/// Country-code top-level domains that say where a card is from.
const DOMAIN_REGIONS: &[(&str, &str)] = &[
    (".jp", "JP"),
    (".vn", "VN"),
    (".kr", "KR"),
    (".tw", "TW"),
    (".hk", "HK"),
    (".mo", "MO"),
    (".sg", "SG"),
    (".my", "MY"),
    (".th", "TH"),
    (".id", "ID"),
    (".ph", "PH"),
    (".in", "IN"),
    (".de", "DE"),
    (".fr", "FR"),
    (".uk", "GB"),
    (".au", "AU"),
    (".cn", "CN"),
];

/// `+CC` before a phone number.
static CALLING_CODE: LazyLock<Regex> = LazyLock::new(|| re(r"\+\s?\(?(\d{1,3})\)?[\s\-]?\d"));

/// Calling codes and their regions, longest first where one is a prefix of another.
const CALLING_CODES: &[(&str, &str)] = &[
    ("852", "HK"),
    ("853", "MO"),
    ("886", "TW"),
    ("86", "CN"),
    ("81", "JP"),
    ("84", "VN"),
    ("82", "KR"),
    ("65", "SG"),
    ("60", "MY"),
    ("66", "TH"),
    ("62", "ID"),
    ("63", "PH"),
    ("91", "IN"),
    ("49", "DE"),
    ("33", "FR"),
    ("44", "GB"),
    ("61", "AU"),
    ("1", "US"),
];

fn is_kana(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}')
}

/// Letters only Vietnamese uses (ư, ơ, đ and the stacked tone marks).
fn is_vietnamese(c: char) -> bool {
    matches!(
        c,
        'ư' | 'Ư' | 'ơ' | 'Ơ' | 'đ' | 'Đ' | '\u{1EA0}'..='\u{1EF9}'
    )
}

fn is_hangul(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7AF}' | '\u{1100}'..='\u{11FF}')
}

/// The country of a card's numbers printed without `+CC`: from its e-mail and web domains,
/// else its script (kana: Japan, Vietnamese letters: Vietnam, Hangul: Korea), else `default`.
pub fn card_region(texts: &[&str], default: Region) -> Region {
    let mut votes: Vec<&str> = Vec::new();
    for t in texts {
        let lower = t.to_lowercase();
        for word in lower.split(|c: char| c.is_whitespace() || c == ',' || c == '，') {
            if !(word.contains('@') || word.starts_with("www.") || word.contains("http")) {
                continue;
            }
            let word = word.trim_end_matches(['/', '.', ';']);
            if let Some((_, code)) = DOMAIN_REGIONS
                .iter()
                .find(|(tld, _)| word.ends_with(tld) || word.contains(&format!("{tld}/")))
            {
                votes.push(code);
            }
        }
    }
    // A number printed with its country code says where the others are from.
    for t in texts {
        for caps in CALLING_CODE.captures_iter(t) {
            let Some(cc) = caps.get(1) else { continue };
            if let Some((_, code)) = CALLING_CODES
                .iter()
                .find(|(c, _)| cc.as_str().starts_with(c))
            {
                votes.insert(0, code);
            }
        }
    }
    if let Some(code) = votes.first() {
        if let Ok(r) = Region::parse(code) {
            return r;
        }
    }
    let all: String = texts.concat();
    let upper = all.to_uppercase();
    // A postcode line counts even when the recognizer lost or misread its 〒 mark.
    let japanese_address = all.contains(['〒', '県'])
        || all.contains("丁目")
        || upper.contains("JAPAN")
        || texts.iter().any(|t| super::japanese_address(t).is_some());
    let vietnamese_address = upper.contains("VIETNAM") || upper.contains("VIỆT NAM");
    let code = if all.chars().filter(|c| is_kana(*c)).count() >= 2 || japanese_address {
        Some("JP")
    } else if vietnamese_address || all.chars().filter(|c| is_vietnamese(*c)).count() >= 2 {
        Some("VN")
    } else if all.chars().filter(|c| is_hangul(*c)).count() >= 2 {
        Some("KR")
    } else {
        None
    };
    code.and_then(|c| Region::parse(c).ok()).unwrap_or(default)
}

/// True when `text` has a phone label.
pub fn has_phone_label(text: &str) -> bool {
    LABEL.find_iter(text).any(|m| {
        let u = m.as_str().trim().to_uppercase();
        !NOT_PHONE
            .iter()
            .any(|n| u.trim_end_matches([':', '：', '.', ' ']) == *n)
    })
}

/// The area code of a Chinese or Japanese fixed-line number as printed (`0431-`, `03-`).
fn area_prefix(printed: &str) -> Option<String> {
    let t = printed.trim().trim_start_matches(['(', '（']);
    let (area, _) = t.split_once(['-', ')', '）', ' '])?;
    (area.starts_with('0')
        && (2..=5).contains(&area.len())
        && area.chars().all(|c| c.is_ascii_digit()))
    .then(|| area.to_string())
}

/// Two Chinese numbers printed on one line whose space the recognizer dropped:
/// `0551-2471212124159003` (a fixed line and a second local number of the same length) or
/// `1391234567813800138000` (two mobiles). Anything else comes back whole.
fn unglue(token: &str) -> Vec<String> {
    if let Some(c) = GLUED_FIXED.captures(token) {
        let local = &c[2];
        let half = local.len() / 2;
        return vec![
            format!("{}-{}", &c[1], &local[..half]),
            local[half..].to_string(),
        ];
    }
    if token.len() == 22 && token.chars().all(|c| c.is_ascii_digit()) {
        let (a, b) = token.split_at(11);
        if CN_MOBILE.is_match(a) && CN_MOBILE.is_match(b) {
            return vec![a.to_string(), b.to_string()];
        }
    }
    vec![token.to_string()]
}

/// An area code, then two local numbers of 7 or 8 digits run together.
static GLUED_FIXED: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(0\d{2,3})[-\s]?((?:\d{14})|(?:\d{16}))$"));

/// Splits a run into numbers: from each token, the longest run of tokens that is a valid
/// number; a lone local number after a fixed line takes that line's area code.
fn numbers_in_run(run: &str, region: Region) -> Vec<(String, String, bool)> {
    let tokens: Vec<String> = run
        .split(|c: char| c.is_whitespace() || matches!(c, '/' | '|' | ',' | '、'))
        .map(|t| {
            t.trim_matches(['(', ')', '（', '）', '-', '–', '.'])
                .to_string()
        })
        .filter(|t| !t.is_empty())
        .flat_map(|t| unglue(&t))
        .collect();
    let mut out = Vec::new();
    let mut area: Option<String> = None;
    let mut i = 0;
    while i < tokens.len() {
        let mut taken = None;
        for j in (i + 1..=tokens.len()).rev() {
            let joined = tokens[i..j].join(" ");
            let digits = joined.chars().filter(char::is_ascii_digit).count();
            if !(6..=15).contains(&digits) {
                continue;
            }
            if let Ok(e164) = normalize::phone("phone", &joined, region) {
                taken = Some((j, e164, joined, false));
                break;
            }
            // A local number printed after a fixed line: `0431-84597070 84840822`.
            if j == i + 1 {
                if let Some(a) = &area {
                    if (7..=8).contains(&digits) {
                        if let Ok(e164) =
                            normalize::phone("phone", &format!("{a}-{joined}"), region)
                        {
                            taken = Some((j, e164, joined, true));
                            break;
                        }
                    }
                }
            }
        }
        match taken {
            Some((j, e164, printed, inherited)) => {
                if let Some(a) = area_prefix(&printed) {
                    area = Some(a);
                }
                out.push((e164, printed, inherited));
                i = j;
            }
            None => i += 1,
        }
    }
    out
}

/// One phone number read from a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneHit {
    /// E.164.
    pub e164: String,
    /// A phone label (`手机`, `Tel`, `M:`) names it.
    pub labelled: bool,
    /// Its digits are doubtful: letters had to be read as digits (`l39`), the area code was
    /// taken from the number before it, or it is neither a mobile nor printed with an area
    /// code or `+CC`.
    pub odd: bool,
}

impl PhoneHit {
    /// How sure the rules are that this is a phone number of the card's person (0..1): a
    /// labelled number is nearly certain; an unlabelled one with odd digits is a guess.
    pub fn rule_confidence(&self) -> f32 {
        match (self.labelled, self.odd) {
            (true, false) => 0.95,
            (true, true) => 0.8,
            (false, false) => 0.85,
            (false, true) => 0.45,
        }
    }
}

/// A mobile as printed in China: 11 digits from 13 to 19.
static CN_MOBILE: LazyLock<Regex> = LazyLock::new(|| re(r"^1[3-9]\d{9}$"));

/// Every phone number of one line, in E.164, with whether a phone label named it. Segments
/// after a fax, postcode, QQ or certificate label are skipped.
pub fn phones_in_line(text: &str, region: Region) -> Vec<PhoneHit> {
    let mut cuts: Vec<(usize, bool, bool)> = LABEL
        .find_iter(text)
        .map(|m| {
            let u = m.as_str().trim().to_uppercase();
            let u = u.trim_end_matches([':', '：', '.', ' ']);
            (m.start(), !NOT_PHONE.contains(&u), true)
        })
        .collect();
    if cuts.first().is_none_or(|c| c.0 != 0) {
        cuts.insert(0, (0, true, false));
    }
    let mut out: Vec<PhoneHit> = Vec::new();
    for (k, &(start, phone, labelled)) in cuts.iter().enumerate() {
        if !phone {
            continue;
        }
        let end = cuts.get(k + 1).map_or(text.len(), |c| c.0);
        let segment = &text[start..end];
        for run in PHONE_RUN.find_iter(segment) {
            let raw = run.as_str();
            let digits = raw.chars().filter(char::is_ascii_digit).count();
            let looks = raw.chars().filter(|c| c.is_alphanumeric()).count();
            // Mostly real digits: "Sales" or "Bldg" are not phone numbers.
            if digits < 6 || digits * 10 < looks * 7 {
                continue;
            }
            let fixed = fix_digits(raw);
            let repaired = fixed != raw;
            for (e164, printed, inherited) in numbers_in_run(&fixed, region) {
                if out.iter().any(|p| p.e164 == e164) {
                    continue;
                }
                let bare: String = printed.chars().filter(char::is_ascii_digit).collect();
                let formatted = printed.trim_start().starts_with(['+', '(', '（', '0'])
                    || CN_MOBILE.is_match(&bare);
                out.push(PhoneHit {
                    e164,
                    labelled,
                    odd: repaired || inherited || !formatted,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cn() -> Region {
        Region::default()
    }

    fn values(text: &str, region: Region) -> Vec<String> {
        phones_in_line(text, region)
            .into_iter()
            .map(|p| p.e164)
            .collect()
    }

    #[test]
    fn several_numbers_on_one_line() {
        assert_eq!(
            values("电话：0431-84597070 84840822", cn()),
            ["+8643184597070", "+8643184840822"]
        );
        assert_eq!(
            values("手机 138 0013 8000 / 139 1234 5678", cn()),
            ["+8613800138000", "+8613912345678"]
        );
        assert_eq!(
            values("T: +86 755 2345 6789  M: +86 139 1234 5678", cn()),
            ["+8675523456789", "+8613912345678"]
        );
        // The recognizer dropped the space between the numbers.
        assert_eq!(
            values("T:0551-2471212124159003", cn()),
            ["+8655124712121", "+8655124159003"]
        );
        assert_eq!(
            values("手机 1391234567813800138000", cn()),
            ["+8613912345678", "+8613800138000"]
        );
        // One long number that is not two is not split.
        assert!(values("0551-247121212415900", cn()).len() <= 1);
    }

    #[test]
    fn fax_postcodes_and_certificates_are_not_phones() {
        assert_eq!(
            values("电话：0755-5265 9655 传真：0755-52659656", cn()),
            ["+8675552659655"]
        );
        assert_eq!(
            values("T: 0755-5265 9655 F: 0755-52659656", cn()),
            ["+8675552659655"]
        );
        assert!(values("Fax 0755-52659656", cn()).is_empty());
        assert!(values("〒101-0047 東京都千代田区内神田1-2-3", cn()).is_empty());
        assert!(values("邮编：518057", cn()).is_empty());
        assert!(values("证书编号：44030119870512", cn()).is_empty());
    }

    #[test]
    fn the_card_says_which_country() {
        let jp = card_region(&["新井 正志", "arai@example.co.jp"], cn());
        assert_eq!(jp.code(), "JP");
        assert_eq!(values("03-5205-6455", jp), ["+81352056455"]);
        let vn = card_region(&["Nguyễn Văn Hùng", "Giám đốc"], cn());
        assert_eq!(vn.code(), "VN");
        assert_eq!(
            card_region(&["张伟", "zhang@huaqiang.com"], cn()).code(),
            "CN"
        );
        // A +84 number keeps its own country whatever the region.
        assert_eq!(values("Tel: +84 28 3822 1234", cn()), ["+842838221234"]);
    }

    #[test]
    fn a_number_with_its_country_code_says_where_the_others_are_from() {
        let jp = card_region(&["TEL +81 3-5205-6455", "携帯 090-1234-5678"], cn());
        assert_eq!(jp.code(), "JP");
        assert_eq!(values("携帯 090-1234-5678", jp), ["+819012345678"]);
        let vn = card_region(&["Tel: +84 28 3822 1234", "Mobile: 0903 123 456"], cn());
        assert_eq!(vn.code(), "VN");
        // A Japanese address in kanji only: the postcode mark and 県.
        // The postcode mark read as `T`, and Tokyo in simplified characters.
        let jp = card_region(
            &["TEL03-5019-2917", "T160-0022东京都新宿区新宿3-15-8"],
            cn(),
        );
        assert_eq!(jp.code(), "JP");
        let jp = card_region(&["〒460-0008 愛知県名古屋市中区栄3-4-5"], cn());
        assert_eq!(jp.code(), "JP");
    }

    #[test]
    fn labels_without_a_colon_and_how_sure_each_number_is() {
        let hits = phones_in_line("T 0755-2345 6789  F 0755-2345 6790", cn());
        assert_eq!(hits.len(), 1);
        assert!(hits[0].labelled);
        let hits = phones_in_line("M 139 1234 5678", cn());
        assert!(hits[0].labelled && !hits[0].odd);
        // Unlabelled: a mobile is plain; letters read as digits, or a number printed without
        // area code or mobile prefix, is odd.
        let hits = phones_in_line("139 1234 5678", cn());
        assert!(!hits[0].labelled && !hits[0].odd);
        assert!(hits[0].rule_confidence() > 0.8);
        let hits = phones_in_line("l39-l234-5678", cn());
        assert!(hits[0].odd);
        assert!(hits[0].rule_confidence() < 0.5);
        let hits = phones_in_line("电话：0431-84597070 84840822", cn());
        assert_eq!(hits.len(), 2);
        assert!(!hits[0].odd && hits[1].odd, "{hits:?}");
        // Traditional and Japanese labels.
        assert!(values("傳真：02-2345-6789", cn()).is_empty());
        assert!(values("身份证 4403 0119 8705", cn()).is_empty());
    }
}
