//! What the hard cards of [`crate::scan_cases`] say: Chinese cards (with phones on one line or
//! fax lines when the case asks), Japanese and Vietnamese cards, and the labels, slogans and
//! letter-spaced names some cases add. Drawing is [`crate::scan_card_layout`]'s.

use crate::fixtures::{self, Rng, CITIES, TITLES};
use crate::scan_cases::CardCase;
use crate::scan_render::{capitalize, printed_landline, printed_mobile, EN_TITLES};

/// Japanese family names (kanji, romaji): characters the recognizer's dictionary holds.
const JP_FAMILY: &[(&str, &str)] = &[
    ("田中", "tanaka"),
    ("山本", "yamamoto"),
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("伊藤", "ito"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("清水", "shimizu"),
    ("池田", "ikeda"),
    ("石川", "ishikawa"),
    ("荒井", "arai"),
    ("前田", "maeda"),
];
const JP_GIVEN: &[(&str, &str)] = &[
    ("健一", "kenichi"),
    ("太郎", "taro"),
    ("直人", "naoto"),
    ("雅人", "masato"),
    ("和也", "kazuya"),
    ("浩二", "koji"),
    ("明美", "akemi"),
    ("裕子", "yuko"),
    ("美香", "mika"),
    ("真一", "shinichi"),
    ("智子", "tomoko"),
    ("洋平", "yohei"),
    ("拓也", "takuya"),
    ("翔太", "shota"),
    ("正志", "masashi"),
    ("亮介", "ryosuke"),
];
const JP_BRANDS: &[(&str, &str)] = &[
    ("大和", "daiwa"),
    ("三光", "sanko"),
    ("富士", "fuji"),
    ("新和", "shinwa"),
    ("中央", "chuo"),
    ("明和", "meiwa"),
    ("丸山", "maruyama"),
    ("東洋", "toyo"),
    ("太平", "taihei"),
];
const JP_INDUSTRIES: &[&str] = &["電機", "工業", "商事", "技研", "物流", "製作所", "産業"];
const JP_TITLES: &[&str] = &[
    "部長",
    "課長",
    "主任",
    "技術部長",
    "海外事業部 課長",
    "社長",
];
/// (postcode, address after it, area code of the office's number).
const JP_PLACES: &[(&str, &str, &str)] = &[
    ("101-0047", "東京都千代田区内神田1-2-3", "3"),
    ("160-0022", "東京都新宿区新宿3-15-8", "3"),
    ("530-0001", "大阪府大阪市北区梅田2-4-9", "6"),
    ("231-0023", "神奈川県横浜市中区山下町5-1", "45"),
];

const VN_FAMILY: &[&str] = &["Nguyen", "Tran", "Le", "Pham", "Hoang", "Vu", "Dang", "Bui"];
const VN_MIDDLE: &[&str] = &["Van", "Thi", "Minh", "Duc", "Thanh", "Quoc"];
const VN_GIVEN: &[&str] = &["Hung", "Lan", "Anh", "Tuan", "Linh", "Nam", "Hoa", "Long"];
const VN_BRANDS: &[&str] = &[
    "Hoa Binh",
    "Saigon Star",
    "Thanh Cong",
    "Viet Phat",
    "An Khang",
];
const VN_STREETS: &[&str] = &["Nguyen Hue", "Le Loi", "Hai Ba Trung", "Dien Bien Phu"];

/// Names that are letter-spaced on real cards: (printed name, the truth).
pub(crate) const SPACED_LATIN: &[(&str, &str)] = &[
    ("MASASHI ARAI", "Masashi Arai"),
    ("DAVID WONG", "David Wong"),
    ("KEVIN CHEN", "Kevin Chen"),
    ("LINDA ZHAO", "Linda Zhao"),
];

pub(crate) const SLOGANS: &[&str] = &[
    "诚信 · 专业 · 共赢",
    "专注工业自动化二十年",
    "品质成就未来",
    "您身边的物流专家",
];
pub(crate) const EN_SLOGANS: &[&str] = &[
    "IT Management Guider",
    "Your Partner in Smart Manufacturing",
    "Quality First, Service Always",
];

/// What a card says, before it is drawn.
pub(crate) struct Content {
    pub(crate) name: String,
    /// The name as printed (letter-spaced names have their own spacing).
    pub(crate) name_printed: String,
    /// A second name line: pinyin or romaji (not a field).
    pub(crate) alt_name: Option<String>,
    pub(crate) title: Option<String>,
    pub(crate) company: String,
    /// The brand's first character or letter, for the logo.
    pub(crate) mark: String,
    /// Phone, fax, e-mail, web and address lines, in printed order.
    pub(crate) details: Vec<String>,
    pub(crate) phones: Vec<String>,
    pub(crate) emails: Vec<String>,
    pub(crate) address: Option<String>,
    pub(crate) website: Option<String>,
    pub(crate) latin: bool,
    /// Small lines near the name that are no field (labels, slogans).
    pub(crate) near_name: Vec<String>,
    /// A QR code with 扫一扫 under it.
    pub(crate) qr: bool,
}

fn e164_cn_local(area_code: &str, local: &str) -> String {
    format!("+86{}{local}", area_code.trim_start_matches('0'))
}

/// A Chinese (or, for some cases, English) card's content.
pub(crate) fn chinese_content(rng: &mut Rng, case: CardCase) -> Content {
    let city = *rng.pick(CITIES);
    let (name, family_py, given_py) = fixtures::chinese_name(rng);
    let pinyin = format!("{} {}", capitalize(&given_py), capitalize(family_py));
    let (company, brand_py) = fixtures::company(rng, &city);
    let title = rng.chance(90).then(|| rng.pick(TITLES).to_string());
    let address = rng.chance(80).then(|| fixtures::address(rng, &city));
    let labels = *rng.pick(&[
        ("手机：", "电话：", "传真：", "邮箱：", "地址：", "网址："),
        ("M: ", "T: ", "F: ", "E: ", "A: ", "W: "),
        ("Mob: ", "Tel: ", "Fax: ", "Email: ", "Add: ", "Web: "),
        ("手机 ", "电话 ", "传真 ", "", "", ""),
    ]);
    let (l_mobile, l_tel, l_fax, l_email, l_address, l_web) = labels;
    let mut details = Vec::new();
    let mut phones = Vec::new();
    let (mobile, mobile_e164) = printed_mobile(rng, false);
    match case {
        CardCase::PhonesOnOneLine => {
            if rng.chance(50) {
                // `0431-84597070 84840822`: two local numbers after one area code.
                let first = fixtures::landline(rng, &city);
                let first = first.replace(['(', ')'], "").replace(' ', "-");
                let local2 = format!("{}{}", rng.range(2, 8), rng.digits(7));
                let local1: String = first
                    .split('-')
                    .skip(1)
                    .collect::<String>()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                details.push(format!("{l_tel}{first} {local2}"));
                phones.push(e164_cn_local(city.area_code, &local1));
                phones.push(e164_cn_local(city.area_code, &local2));
                details.push(format!("{l_mobile}{mobile}"));
                phones.push(mobile_e164);
            } else {
                let (m2, m2_e164) = printed_mobile(rng, false);
                let sep = *rng.pick(&[" / ", "  ", "，", " , "]);
                details.push(format!("{l_mobile}{mobile}{sep}{m2}"));
                phones.push(mobile_e164);
                phones.push(m2_e164);
            }
        }
        _ => {
            details.push(format!("{l_mobile}{mobile}"));
            phones.push(mobile_e164);
            if rng.chance(60) || case == CardCase::Fax {
                let (tel, tel_e164) = printed_landline(rng, &city, false);
                if case == CardCase::Fax && rng.chance(50) {
                    // The fax on the telephone's line.
                    let (fax, _) = printed_landline(rng, &city, false);
                    details.push(format!("{l_tel}{tel}  {l_fax}{fax}"));
                } else {
                    details.push(format!("{l_tel}{tel}"));
                }
                phones.push(tel_e164);
            }
            if case == CardCase::Fax && !details.iter().any(|d| d.contains(l_fax.trim_end())) {
                let (fax, _) = printed_landline(rng, &city, false);
                let label = if l_fax.is_empty() { "传真：" } else { l_fax };
                details.push(format!("{label}{fax}"));
            }
        }
    }
    let local = pinyin
        .to_lowercase()
        .split(' ')
        .rev()
        .collect::<Vec<_>>()
        .join(if rng.chance(50) { "." } else { "" });
    let tld = *rng.pick(&[".com", ".com.cn", ".cn"]);
    let email = rng.chance(85).then(|| format!("{local}@{brand_py}{tld}"));
    let website = rng.chance(45).then(|| format!("www.{brand_py}{tld}"));
    if let Some(e) = &email {
        details.push(format!("{l_email}{e}"));
    }
    if let Some(w) = &website {
        details.push(format!("{l_web}{w}"));
    }
    if let Some(a) = &address {
        details.push(format!("{l_address}{a}"));
    }
    let after_city = company.find('市').map_or(0, |p| p + '市'.len_utf8());
    Content {
        name_printed: name.clone(),
        name,
        alt_name: rng.chance(30).then_some(pinyin),
        title,
        mark: company[after_city..].chars().take(1).collect(),
        company,
        details,
        phones,
        emails: email.into_iter().collect(),
        address,
        website,
        latin: false,
        near_name: Vec::new(),
        qr: false,
    }
}

pub(crate) fn japanese_content(rng: &mut Rng) -> Content {
    let (family, family_r) = *rng.pick(JP_FAMILY);
    let (given, given_r) = *rng.pick(JP_GIVEN);
    let (brand, brand_r) = *rng.pick(JP_BRANDS);
    let industry = *rng.pick(JP_INDUSTRIES);
    let company = if rng.chance(50) {
        format!("株式会社{brand}{industry}")
    } else {
        format!("{brand}{industry}株式会社")
    };
    let (postcode, place, area) = *rng.pick(JP_PLACES);
    // Ten digits with the trunk 0: 03-XXXX-XXXX, 045-XXX-XXXX.
    let local_len = 9 - area.len();
    let subscriber = format!("{}{}", rng.range(2, 9), rng.digits(local_len - 1));
    let (exchange, line) = subscriber.split_at(local_len - 4);
    let tel_e164 = format!("+81{area}{subscriber}");
    let tel = if rng.chance(70) {
        format!("0{area}-{exchange}-{line}")
    } else {
        format!("+81-{area}-{exchange}-{line}")
    };
    let fax = format!("0{area}-{exchange}-{}", rng.digits(4));
    let (m1, m2) = (rng.digits(4), rng.digits(4));
    let prefix = *rng.pick(&["90", "80", "70"]);
    let mut details = vec![format!("TEL {tel}"), format!("FAX {fax}")];
    let mut phones = vec![tel_e164];
    if rng.chance(50) {
        details.push(format!("携帯 0{prefix}-{m1}-{m2}"));
        phones.push(format!("+81{prefix}{m1}{m2}"));
    }
    let email = format!("{given_r}.{family_r}@{brand_r}.co.jp");
    details.push(format!("E-mail: {email}"));
    let website = rng.chance(50).then(|| format!("www.{brand_r}.co.jp"));
    if let Some(w) = &website {
        details.push(w.clone());
    }
    let address = format!("〒{postcode} {place}");
    details.push(address.clone());
    Content {
        name: format!("{family}{given}"),
        name_printed: format!("{family} {given}"),
        alt_name: Some(format!(
            "{} {}",
            given_r.to_uppercase(),
            family_r.to_uppercase()
        )),
        title: Some(rng.pick(JP_TITLES).to_string()),
        mark: brand.chars().take(1).collect(),
        company,
        details,
        phones,
        emails: vec![email],
        address: Some(address),
        website,
        latin: false,
        near_name: Vec::new(),
        qr: false,
    }
}

pub(crate) fn vietnamese_content(rng: &mut Rng) -> Content {
    let (family, middle, given) = (
        *rng.pick(VN_FAMILY),
        *rng.pick(VN_MIDDLE),
        *rng.pick(VN_GIVEN),
    );
    let name = format!("{family} {middle} {given}");
    let brand = *rng.pick(VN_BRANDS);
    let company = format!(
        "{brand} {} Co., Ltd.",
        rng.pick(&["Trading", "Logistics", "Electronics", "Import Export"])
    );
    let domain = brand.to_lowercase().replace(' ', "");
    let email = format!(
        "{}.{}@{domain}.com.vn",
        given.to_lowercase(),
        family.to_lowercase()
    );
    let prefix = *rng.pick(&["90", "91", "93", "98", "97"]);
    let (a, b) = (rng.digits(3), rng.digits(4));
    let mobile_e164 = format!("+84{prefix}{a}{b}");
    // With a `.vn` domain a domestic number is Vietnamese too.
    let mobile = if rng.chance(60) {
        format!("+84 {prefix} {a} {b}")
    } else {
        format!("0{prefix} {a} {b}")
    };
    let (t1, t2) = (rng.digits(4), rng.digits(4));
    let mut details = vec![format!("Mobile: {mobile}")];
    let mut phones = vec![mobile_e164];
    if rng.chance(60) {
        details.push(format!("Tel: +84 28 {t1} {t2}"));
        phones.push(format!("+8428{t1}{t2}"));
    }
    details.push(format!("Email: {email}"));
    let address = format!(
        "{} {} Street, District {}, Ho Chi Minh City, Vietnam",
        rng.range(1, 300),
        rng.pick(VN_STREETS),
        rng.range(1, 12)
    );
    details.push(format!("Add: {address}"));
    Content {
        name_printed: if rng.chance(50) {
            name.to_uppercase()
        } else {
            name.clone()
        },
        name,
        alt_name: None,
        title: Some(rng.pick(EN_TITLES).to_string()),
        mark: brand[..1].to_string(),
        company,
        details,
        phones,
        emails: vec![email],
        address: Some(address),
        website: None,
        latin: true,
        near_name: Vec::new(),
        qr: false,
    }
}
