//! A deterministic renderer of business cards and contract pages with their true fields.
//!
//! Cards (90x54 mm, 1400x840 px) come in Chinese and English and several layouts (name large at
//! the left, centred or at the top right; a logo block; one to three phones including
//! landlines; e-mail, website, address; sometimes a fax number and the name in pinyin, which
//! are not fields). Contract pages (A4, 1240x1754 px) have a title, a number, the two parties,
//! clauses, the amount in digits and in upper-case Chinese numerals, a delivery date and the
//! signing date; some are in English. Text is drawn with Noto Sans CJK from Debian's
//! `fonts-noto-cjk`; the harder cases of [`crate::scan_cases`] also use Noto Serif CJK Bold and
//! the brush-like AR PL UKai and UMing faces (`fonts-arphic-ukai`, `fonts-arphic-uming`).
//!
//! The same seed and index always give the same image and the same truth.
//!
//! ```no_run
//! use outpost_tests::scan_render::{Fonts, render_card};
//! let fonts = Fonts::system()?;
//! let card = render_card(&fonts, 7, 0);
//! assert_eq!(card.image.dimensions(), (1400, 840));
//! println!("{}", card.truth.name);
//! # Ok::<(), outpost_tests::scan_render::RenderError>(())
//! ```

use crate::fixtures::{self, City, Rng, BRANDS, CITIES, ENGLISH_FAMILY, ENGLISH_GIVEN, TITLES};
use ab_glyph::{FontVec, PxScale};
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_text_mut, text_size};
use imageproc::rect::Rect;
use outpost_core::{normalize, Region};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where Debian's `fonts-noto-cjk` installs its fonts.
pub const NOTO_CJK_DIR: &str = "/usr/share/fonts/opentype/noto";
/// Where Debian's `fonts-arphic-ukai` and `fonts-arphic-uming` install theirs.
pub const ARPHIC_DIR: &str = "/usr/share/fonts/truetype/arphic";
/// Index of Noto Sans CJK SC (Simplified Chinese) in the `.ttc` collections.
const SC_INDEX: u32 = 2;
/// Index of Noto Serif CJK SC in `NotoSerifCJK-Bold.ttc`.
const SERIF_SC_INDEX: u32 = 2;
/// Index of the `CN` (simplified) face in `ukai.ttc` and `uming.ttc`.
const ARPHIC_CN_INDEX: u32 = 0;

/// Card size in pixels (90x54 mm at ~395 dpi).
pub const CARD_SIZE: (u32, u32) = (1400, 840);
/// Page size in pixels (A4 at 150 dpi).
pub const PAGE_SIZE: (u32, u32) = (1240, 1754);

/// Why the renderer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A font file is missing or unreadable.
    #[error("font {path} cannot be read ({source}): install the Debian package {package}")]
    FontMissing {
        /// The file looked for.
        path: PathBuf,
        /// The Debian package that installs it.
        package: &'static str,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A font file is not a font collection ab_glyph can read.
    #[error("font {path} is not a readable OpenType collection")]
    FontInvalid {
        /// The file.
        path: PathBuf,
    },
}

/// The faces documents are drawn with: Noto Sans CJK SC regular and bold, Noto Serif CJK SC
/// bold, and the brush-like AR PL UKai and the Ming-style AR PL UMing (simplified faces).
pub struct Fonts {
    regular: FontVec,
    bold: FontVec,
    serif_bold: FontVec,
    kai: FontVec,
    ming: FontVec,
}

impl std::fmt::Debug for Fonts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fonts(Noto Sans/Serif CJK SC, AR PL UKai/UMing CN)")
    }
}

fn load_font(path: &Path, index: u32, package: &'static str) -> Result<FontVec, RenderError> {
    let data = std::fs::read(path).map_err(|source| RenderError::FontMissing {
        path: path.to_path_buf(),
        package,
        source,
    })?;
    FontVec::try_from_vec_and_index(data, index).map_err(|_| RenderError::FontInvalid {
        path: path.to_path_buf(),
    })
}

impl Fonts {
    /// Loads `NotoSansCJK-Regular.ttc`, `NotoSansCJK-Bold.ttc` and `NotoSerifCJK-Bold.ttc` from
    /// `dir`, and `ukai.ttc` and `uming.ttc` from `arphic_dir`.
    pub fn load(dir: &Path, arphic_dir: &Path) -> Result<Fonts, RenderError> {
        const NOTO: &str = "fonts-noto-cjk";
        Ok(Fonts {
            regular: load_font(&dir.join("NotoSansCJK-Regular.ttc"), SC_INDEX, NOTO)?,
            bold: load_font(&dir.join("NotoSansCJK-Bold.ttc"), SC_INDEX, NOTO)?,
            serif_bold: load_font(&dir.join("NotoSerifCJK-Bold.ttc"), SERIF_SC_INDEX, NOTO)?,
            kai: load_font(
                &arphic_dir.join("ukai.ttc"),
                ARPHIC_CN_INDEX,
                "fonts-arphic-ukai",
            )?,
            ming: load_font(
                &arphic_dir.join("uming.ttc"),
                ARPHIC_CN_INDEX,
                "fonts-arphic-uming",
            )?,
        })
    }

    /// Loads the fonts from [`NOTO_CJK_DIR`] and [`ARPHIC_DIR`].
    pub fn system() -> Result<Fonts, RenderError> {
        Fonts::load(Path::new(NOTO_CJK_DIR), Path::new(ARPHIC_DIR))
    }

    fn face(&self, face: Face) -> &FontVec {
        match face {
            Face::Regular => &self.regular,
            Face::Bold | Face::Black => &self.bold,
            Face::SerifBold => &self.serif_bold,
            Face::Kai => &self.kai,
            Face::Ming => &self.ming,
        }
    }
}

/// A typeface and weight to draw with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Face {
    /// Noto Sans CJK SC Regular.
    Regular,
    /// Noto Sans CJK SC Bold.
    Bold,
    /// The bold face drawn again around itself: a black (heavy) weight, as display names are.
    Black,
    /// Noto Serif CJK SC Bold.
    SerifBold,
    /// AR PL UKai: brush-like Kai script.
    Kai,
    /// AR PL UMing: Ming (Song) style.
    Ming,
}

impl Face {
    /// Extra width the black weight adds, in px, at `size`.
    fn spread(self, size: f32) -> i32 {
        match self {
            Face::Black => (size / 32.0).round().max(1.0) as i32,
            _ => 0,
        }
    }
}

/// The true fields of a rendered card (phones in E.164, e-mails in lower case).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CardTruth {
    /// `张伟` or `David Wong`.
    pub name: String,
    /// Job title, if printed.
    pub title: Option<String>,
    /// Company.
    pub company: String,
    /// Phones in E.164, in printed order.
    pub phones: Vec<String>,
    /// E-mails.
    pub emails: Vec<String>,
    /// Postal address, if printed (a wrapped address is joined with a space).
    pub address: Option<String>,
    /// Website without scheme, if printed.
    pub website: Option<String>,
    /// Whether the card is in English.
    pub english: bool,
}

/// The true fields of a rendered contract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractTruth {
    /// Contract number as printed.
    pub contract_number: String,
    /// Party A.
    pub party_a: String,
    /// Party B.
    pub party_b: String,
    /// Total amount in yuan.
    pub amount: f64,
    /// The amount in upper-case numerals, e.g. `叁拾万伍仟元整`.
    pub amount_upper: String,
    /// Signing date, `YYYY-MM-DD`.
    pub date: String,
    /// Whether the labels and body are in English.
    pub english: bool,
}

/// A rendered document and its truth.
#[derive(Debug, Clone)]
pub struct Rendered<T> {
    /// The image.
    pub image: RgbImage,
    /// What is printed on it.
    pub truth: T,
}

pub(crate) const INK: [Rgb<u8>; 4] = [
    Rgb([20, 20, 20]),
    Rgb([30, 40, 80]),
    Rgb([45, 45, 45]),
    Rgb([10, 30, 60]),
];
pub(crate) const ACCENT: [Rgb<u8>; 5] = [
    Rgb([200, 30, 40]),
    Rgb([20, 90, 170]),
    Rgb([0, 120, 90]),
    Rgb([230, 120, 0]),
    Rgb([90, 40, 140]),
];
pub(crate) const PAPER: [Rgb<u8>; 3] = [
    Rgb([255, 255, 255]),
    Rgb([250, 248, 240]),
    Rgb([246, 246, 246]),
];

/// A page being drawn: the image and the fonts.
pub(crate) struct Canvas<'a> {
    pub(crate) image: RgbImage,
    pub(crate) fonts: &'a Fonts,
}

impl Canvas<'_> {
    fn width_of(&self, text: &str, size: f32, bold: bool) -> u32 {
        self.face_width(text, size, if bold { Face::Bold } else { Face::Regular }, 0)
    }

    /// Width of `text` in `face` at `size`, with `tracking` px added between characters.
    pub(crate) fn face_width(&self, text: &str, size: f32, face: Face, tracking: i32) -> u32 {
        let font = self.fonts.face(face);
        let scale = PxScale::from(size);
        let spread = face.spread(size) as u32;
        if tracking == 0 {
            return text_size(scale, font, text).0 + spread;
        }
        let n = text.chars().count() as i32;
        let glyphs: u32 = text
            .chars()
            .map(|ch| text_size(scale, font, ch.encode_utf8(&mut [0; 4])).0)
            .sum();
        (glyphs as i32 + tracking * (n - 1).max(0)).max(0) as u32 + spread
    }

    /// Draws `text` in `face` with its left edge at `x` and its top at `y`, `tracking` px
    /// between characters (letter-spaced names); shrinks the size until it fits in `max_w`.
    /// Returns the size used.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn draw(
        &mut self,
        text: &str,
        x: i32,
        y: i32,
        size: f32,
        face: Face,
        ink: Rgb<u8>,
        max_w: u32,
        tracking: i32,
    ) -> f32 {
        let mut size = size;
        while size > 12.0 && self.face_width(text, size, face, tracking) > max_w {
            size -= 1.0;
        }
        let font = self.fonts.face(face);
        let scale = PxScale::from(size);
        let spread = face.spread(size);
        let mut pen = x;
        let pieces: Vec<String> = if tracking == 0 {
            vec![text.to_string()]
        } else {
            text.chars().map(String::from).collect()
        };
        for piece in pieces {
            // The black weight: the bold glyphs drawn again, shifted right and down.
            for dy in 0..=spread {
                for dx in 0..=spread {
                    draw_text_mut(&mut self.image, ink, pen + dx, y + dy, scale, font, &piece);
                }
            }
            pen += text_size(scale, font, &piece).0 as i32 + tracking;
        }
        size
    }

    /// Draws `text` centred on `centre` (see [`Canvas::draw`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn draw_centre(
        &mut self,
        text: &str,
        centre: i32,
        y: i32,
        size: f32,
        face: Face,
        ink: Rgb<u8>,
        max_w: u32,
        tracking: i32,
    ) -> f32 {
        let w = self.face_width(text, size, face, tracking).min(max_w) as i32;
        self.draw(text, centre - w / 2, y, size, face, ink, max_w, tracking)
    }

    /// Draws `text` in the regular or bold sans with its left edge at `x` and its top at `y`;
    /// shrinks the size until it fits in `max_w`. Returns the size used.
    // Position, size, face, colour and width limit: a struct for them would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn text(
        &mut self,
        text: &str,
        x: i32,
        y: i32,
        size: f32,
        bold: bool,
        ink: Rgb<u8>,
        max_w: u32,
    ) -> f32 {
        let face = if bold { Face::Bold } else { Face::Regular };
        self.draw(text, x, y, size, face, ink, max_w, 0)
    }

    fn text_right(&mut self, text: &str, right: i32, y: i32, size: f32, bold: bool, ink: Rgb<u8>) {
        let w = self.width_of(text, size, bold) as i32;
        self.text(text, right - w, y, size, bold, ink, u32::MAX);
    }

    fn text_centre(
        &mut self,
        text: &str,
        centre: i32,
        y: i32,
        size: f32,
        bold: bool,
        ink: Rgb<u8>,
    ) {
        let w = self.width_of(text, size, bold) as i32;
        self.text(text, centre - w / 2, y, size, bold, ink, u32::MAX);
    }

    pub(crate) fn rect(&mut self, x: i32, y: i32, w: u32, h: u32, colour: Rgb<u8>) {
        if w > 0 && h > 0 {
            draw_filled_rect_mut(&mut self.image, Rect::at(x, y).of_size(w, h), colour);
        }
    }
}

/// City names in pinyin, for English cards.
pub(crate) fn city_pinyin(city: &City) -> &'static str {
    match city.name {
        "深圳" => "Shenzhen",
        "广州" => "Guangzhou",
        "上海" => "Shanghai",
        "北京" => "Beijing",
        "杭州" => "Hangzhou",
        "成都" => "Chengdu",
        "武汉" => "Wuhan",
        "南京" => "Nanjing",
        "苏州" => "Suzhou",
        "东莞" => "Dongguan",
        "佛山" => "Foshan",
        "天津" => "Tianjin",
        "重庆" => "Chongqing",
        "西安" => "Xi'an",
        "青岛" => "Qingdao",
        "宁波" => "Ningbo",
        "合肥" => "Hefei",
        "长沙" => "Changsha",
        _ => "Zhengzhou",
    }
}

pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

pub(crate) const EN_INDUSTRIES: &[&str] = &[
    "Technology",
    "Electronics",
    "Trading",
    "Industrial",
    "Information Technology",
    "Medical Devices",
    "Logistics",
    "New Energy",
    "Smart Manufacturing",
    "Biotech",
];
pub(crate) const EN_TITLES: &[&str] = &[
    "Sales Manager",
    "Purchasing Manager",
    "General Manager",
    "Sales Director",
    "Marketing Director",
    "Project Manager",
    "Senior Engineer",
    "Account Manager",
    "CEO",
    "Regional Sales Manager",
];
pub(crate) const EN_DISTRICTS: &[&str] = &[
    "Nanshan",
    "Futian",
    "Tianhe",
    "Pudong",
    "Haidian",
    "Xihu",
    "Jiangning",
    "Wuhou",
];
pub(crate) const EN_ROADS: &[&str] = &[
    "Keji",
    "Shennan",
    "Zhongshan",
    "Renmin",
    "Jiefang",
    "Tianfu",
    "Century",
    "Binhai",
];

/// A mobile number as cards print it, and its E.164 form.
pub(crate) fn printed_mobile(rng: &mut Rng, english: bool) -> (String, String) {
    let prefix = rng.pick(fixtures::MOBILE_PREFIXES);
    let (a, b) = (rng.digits(4), rng.digits(4));
    let e164 = format!("+86{prefix}{a}{b}");
    let printed = if english {
        match rng.below(2) {
            0 => format!("+86 {prefix} {a} {b}"),
            _ => format!("+86-{prefix}-{a}-{b}"),
        }
    } else {
        match rng.below(4) {
            0 => format!("{prefix} {a} {b}"),
            1 => format!("{prefix}-{a}-{b}"),
            2 => format!("+86 {prefix} {a} {b}"),
            _ => format!("{prefix}{a}{b}"),
        }
    };
    (printed, e164)
}

/// A landline as cards print it, and its E.164 form.
pub(crate) fn printed_landline(rng: &mut Rng, city: &City, english: bool) -> (String, String) {
    let printed = fixtures::landline(rng, city);
    let e164 = normalize::phone("phone", &printed, Region::default()).unwrap_or_default();
    let local = e164.trim_start_matches("+86").to_string();
    let area = city.area_code.trim_start_matches('0');
    let printed = if english {
        format!("+86 {area} {}", &local[area.len().min(local.len())..])
    } else {
        printed
    };
    (printed, e164)
}

struct Labels {
    mobile: &'static str,
    tel: &'static str,
    fax: &'static str,
    email: &'static str,
    address: &'static str,
    web: &'static str,
}

const LABEL_SETS: &[Labels] = &[
    Labels {
        mobile: "手机：",
        tel: "电话：",
        fax: "传真：",
        email: "邮箱：",
        address: "地址：",
        web: "网址：",
    },
    Labels {
        mobile: "M: ",
        tel: "T: ",
        fax: "F: ",
        email: "E: ",
        address: "A: ",
        web: "W: ",
    },
    Labels {
        mobile: "Mob: ",
        tel: "Tel: ",
        fax: "Fax: ",
        email: "Email: ",
        address: "Add: ",
        web: "Web: ",
    },
    Labels {
        mobile: "",
        tel: "",
        fax: "传真 ",
        email: "",
        address: "",
        web: "",
    },
];

/// Renders business card `i` of `seed`.
pub fn render_card(fonts: &Fonts, seed: u64, i: usize) -> Rendered<CardTruth> {
    let mut rng = Rng::for_index(seed ^ 0xCA4D, i);
    let city = *rng.pick(CITIES);
    let english = rng.chance(25);
    let (_, brand_py) = *rng.pick(BRANDS);

    let (name, pinyin, company, title, address) = if english {
        let name =
            format!("{} {}", rng.pick(ENGLISH_GIVEN), rng.pick(ENGLISH_FAMILY)).replace('ü', "ue");
        let suffix = *rng.pick(&["Co., Ltd.", "Co., Ltd.", "Inc.", "Group Co., Ltd.", "Corp."]);
        let company = format!(
            "{} {} {} {suffix}",
            city_pinyin(&city),
            capitalize(brand_py),
            rng.pick(EN_INDUSTRIES)
        );
        let title = rng.chance(90).then(|| rng.pick(EN_TITLES).to_string());
        let address = rng.chance(85).then(|| {
            format!(
                "Room {}{:02}, {} Building, {} {} Road, {} District, {}, China",
                rng.range(1, 30),
                rng.range(1, 20),
                capitalize(brand_py),
                rng.range(1, 300),
                rng.pick(EN_ROADS),
                rng.pick(EN_DISTRICTS),
                city_pinyin(&city)
            )
        });
        (name, None, company, title, address)
    } else {
        let (name, family_py, given_py) = fixtures::chinese_name(&mut rng);
        let pinyin = format!("{} {}", capitalize(&given_py), capitalize(family_py));
        let (company, _) = fixtures::company(&mut rng, &city);
        let title = rng.chance(92).then(|| rng.pick(TITLES).to_string());
        let address = rng.chance(85).then(|| fixtures::address(&mut rng, &city));
        (name, Some(pinyin), company, title, address)
    };

    // Contact details.
    let mut phones = Vec::new();
    let (mobile, mobile_e164) = printed_mobile(&mut rng, english);
    phones.push(("mobile", mobile, mobile_e164));
    if rng.chance(55) {
        let (tel, e164) = printed_landline(&mut rng, &city, english);
        phones.push(("tel", tel, e164));
    }
    if rng.chance(20) {
        let (m, e164) = printed_mobile(&mut rng, english);
        phones.push(("mobile", m, e164));
    }
    let fax = rng
        .chance(20)
        .then(|| printed_landline(&mut rng, &city, english).0);
    let local = if english {
        name.to_lowercase().replace(' ', ".")
    } else {
        pinyin
            .as_deref()
            .unwrap_or_default()
            .to_lowercase()
            .split(' ')
            .rev()
            .collect::<Vec<_>>()
            .join(if rng.chance(50) { "." } else { "" })
    };
    let tld = *rng.pick(&[".com", ".com.cn", ".cn", "-tech.com"]);
    let email = rng.chance(85).then(|| format!("{local}@{brand_py}{tld}"));
    let website = rng.chance(50).then(|| format!("www.{brand_py}{tld}"));

    let labels = if english {
        &LABEL_SETS[1 + rng.below(2)]
    } else {
        rng.pick(LABEL_SETS)
    };
    let mut details: Vec<String> = Vec::new();
    for (kind, printed, _) in &phones {
        let label = if *kind == "mobile" {
            labels.mobile
        } else {
            labels.tel
        };
        details.push(format!("{label}{printed}"));
    }
    if let Some(f) = &fax {
        details.push(format!("{}{f}", labels.fax));
    }
    if let Some(e) = &email {
        details.push(format!("{}{e}", labels.email));
    }
    if let Some(w) = &website {
        details.push(format!("{}{w}", labels.web));
    }

    // The logo shows the brand: the first character after the city, or its pinyin initial.
    let mark: String = if english {
        brand_py[..1].to_uppercase()
    } else {
        let after_city = company.find('市').map_or(0, |p| p + '市'.len_utf8());
        company[after_city..].chars().take(1).collect()
    };
    let (w, h) = CARD_SIZE;
    let paper = *rng.pick(&PAPER);
    let ink = *rng.pick(&INK);
    let accent = *rng.pick(&ACCENT);
    let mut c = Canvas {
        image: RgbImage::from_pixel(w, h, paper),
        fonts,
    };
    let name_size = rng.range(84, 104) as f32;
    let title_size = rng.range(34, 42) as f32;
    let company_size = rng.range(40, 50) as f32;
    let detail_size = rng.range(28, 33) as f32;
    let line_gap = (detail_size * 1.55) as i32;
    let margin = 80;
    let max_w = w - 2 * margin as u32;

    // The address may wrap onto a second line (English ones are long).
    let mut address_lines: Vec<String> = Vec::new();
    if let Some(a) = &address {
        let full = format!("{}{a}", labels.address);
        if c.width_of(&full, detail_size, false) <= max_w {
            address_lines.push(full);
        } else if let Some(cut) = full[..full.len() / 2 + 10].rfind(", ") {
            address_lines.push(full[..cut + 1].to_string());
            address_lines.push(full[cut + 2..].to_string());
        } else {
            address_lines.push(full);
        }
    }
    let address = address_lines.first().map(|_| {
        let joined = address_lines.join(" ");
        joined
            .strip_prefix(labels.address)
            .unwrap_or(&joined)
            .to_string()
    });
    details.extend(address_lines);

    let layout = rng.below(3);
    let logo = rng.chance(70);
    let details_top = h as i32 - 60 - line_gap * details.len() as i32;
    match layout {
        // Name large at the left, logo and company at the top.
        0 => {
            let mut company_x = margin;
            if logo {
                c.rect(margin, 50, 110, 110, accent);
                c.text_centre(&mark, margin + 55, 62, 70.0, true, paper);
                company_x = margin + 140;
            }
            c.text(
                &company,
                company_x,
                78,
                company_size,
                true,
                ink,
                w - company_x as u32 - 40,
            );
            let name_y = 200;
            c.text(&name, margin, name_y, name_size, true, ink, max_w);
            let name_w = c.width_of(&name, name_size, true) as i32;
            if let Some(t) = &title {
                if rng.chance(50) {
                    c.text(
                        t,
                        margin + name_w + 40,
                        name_y + (name_size - title_size) as i32 - 6,
                        title_size,
                        false,
                        ink,
                        max_w / 2,
                    );
                } else {
                    c.text(
                        t,
                        margin,
                        name_y + name_size as i32 + 30,
                        title_size,
                        false,
                        ink,
                        max_w,
                    );
                }
            }
            if let Some(p) = &pinyin {
                if rng.chance(30) {
                    c.text(
                        p,
                        margin + name_w + 40,
                        name_y + 4,
                        26.0,
                        false,
                        ink,
                        max_w / 2,
                    );
                }
            }
            c.rect(0, h as i32 - 24, w, 24, accent);
            for (k, d) in details.iter().enumerate() {
                c.text(
                    d,
                    margin,
                    details_top - 10 + line_gap * k as i32,
                    detail_size,
                    false,
                    ink,
                    max_w,
                );
            }
        }
        // Everything centred.
        1 => {
            let centre = w as i32 / 2;
            c.text_centre(&company, centre, 50, company_size, true, ink);
            c.text_centre(&name, centre, 150, name_size, true, ink);
            if let Some(t) = &title {
                c.text_centre(
                    t,
                    centre,
                    150 + name_size as i32 + 24,
                    title_size,
                    false,
                    ink,
                );
            }
            c.rect(margin, details_top - 34, max_w, 3, accent);
            for (k, d) in details.iter().enumerate() {
                let dw = c.width_of(d, detail_size, false).min(max_w) as i32;
                c.text(
                    d,
                    centre - dw / 2,
                    details_top + line_gap * k as i32,
                    detail_size,
                    false,
                    ink,
                    max_w,
                );
            }
        }
        // Name and title at the top right, logo and company at the left.
        _ => {
            let right = w as i32 - margin;
            c.rect(0, 0, 30, h, accent);
            if logo {
                c.rect(margin, 50, 100, 100, accent);
                c.text_centre(&mark, margin + 50, 58, 64.0, true, paper);
            }
            c.text_right(&name, right, 50, name_size, true, ink);
            if let Some(t) = &title {
                c.text_right(t, right, 50 + name_size as i32 + 24, title_size, false, ink);
            }
            c.text(&company, margin, 250, company_size, true, accent, max_w);
            for (k, d) in details.iter().enumerate() {
                c.text(
                    d,
                    margin,
                    details_top + line_gap * k as i32,
                    detail_size,
                    false,
                    ink,
                    max_w,
                );
            }
        }
    }

    let truth = CardTruth {
        name,
        title,
        company,
        phones: phones.into_iter().map(|p| p.2).collect(),
        emails: email.into_iter().collect(),
        address,
        website,
        english,
    };
    Rendered {
        image: c.image,
        truth,
    }
}

/// An amount in fen written in upper-case Chinese numerals, as on invoices and contracts:
/// 30500000 → `叁拾万伍仟元整`, 100550 → `壹仟零伍元伍角`, 30005 → `叁佰元零伍分`.
pub fn upper_amount(fen: u64) -> String {
    const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
    const UNITS: [&str; 4] = ["", "拾", "佰", "仟"];
    const SECTIONS: [&str; 3] = ["", "万", "亿"];
    let yuan = fen / 100;
    let (jiao, f) = ((fen / 10) % 10, fen % 10);
    let mut out = String::new();
    if yuan == 0 {
        out.push('零');
    } else {
        // Four-digit sections from the highest.
        let mut sections = Vec::new();
        let mut rest = yuan;
        while rest > 0 {
            sections.push(rest % 10_000);
            rest /= 10_000;
        }
        let mut need_zero = false;
        for (k, &section) in sections.iter().enumerate().rev() {
            if section == 0 {
                need_zero = !out.is_empty();
                continue;
            }
            if !out.is_empty() && (need_zero || section < 1000) {
                out.push('零');
            }
            need_zero = false;
            let digits = [
                section / 1000,
                (section / 100) % 10,
                (section / 10) % 10,
                section % 10,
            ];
            let mut zero = false;
            let mut started = false;
            for (p, &d) in digits.iter().enumerate() {
                if d == 0 {
                    zero = started;
                    continue;
                }
                if zero {
                    out.push('零');
                    zero = false;
                }
                started = true;
                out.push(DIGITS[d as usize]);
                out.push_str(UNITS[3 - p]);
            }
            out.push_str(SECTIONS[k.min(2)]);
        }
    }
    out.push('元');
    match (jiao, f) {
        (0, 0) => out.push('整'),
        (j, 0) => {
            out.push(DIGITS[j as usize]);
            out.push('角');
            out.push('整');
        }
        (0, f) => {
            out.push('零');
            out.push(DIGITS[f as usize]);
            out.push('分');
        }
        (j, f) => {
            out.push(DIGITS[j as usize]);
            out.push('角');
            out.push(DIGITS[f as usize]);
            out.push('分');
        }
    }
    out
}

pub(crate) fn grouped(fen: u64) -> String {
    let yuan = (fen / 100).to_string();
    let mut out = String::new();
    for (k, ch) in yuan.chars().enumerate() {
        if k > 0 && (yuan.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    format!("{out}.{:02}", fen % 100)
}

const GOODS: &[&str] = &[
    "智能电表",
    "工业路由器",
    "LED照明灯具",
    "服务器机柜",
    "办公家具",
    "医用监护仪",
    "锂电池组",
    "安防摄像机",
];
const EN_GOODS: &[&str] = &[
    "smart meters",
    "industrial routers",
    "LED luminaires",
    "server racks",
    "battery packs",
];

/// Wraps `text` into lines no wider than `max_w` at `size`.
pub(crate) fn wrap(c: &Canvas, text: &str, size: f32, max_w: u32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let english = text.is_ascii();
    let pieces: Vec<String> = if english {
        text.split(' ').map(|w| format!("{w} ")).collect()
    } else {
        text.chars().map(String::from).collect()
    };
    for piece in pieces {
        let candidate = format!("{line}{piece}");
        if c.width_of(candidate.trim_end(), size, false) > max_w && !line.is_empty() {
            lines.push(line.trim_end().to_string());
            line = piece;
        } else {
            line = candidate;
        }
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// What a contract page holds beyond [`render_contract`]'s mix.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContractOptions {
    /// Always Chinese (the English share of the mix is drawn and then ignored, so the rest of
    /// the page is the same as without this option).
    pub chinese: bool,
    /// The labels of the two parties, e.g. `("委托方：", "受托方：")`, instead of the mix's.
    pub parties: Option<(&'static str, &'static str)>,
    /// A bordered table of the goods (rows summing to the amount, a 合计 row) under clause
    /// one, and a rule under the title: inner edges a crop must not take for the page.
    pub table: bool,
}

/// Renders contract page `i` of `seed`.
pub fn render_contract(fonts: &Fonts, seed: u64, i: usize) -> Rendered<ContractTruth> {
    render_contract_with(fonts, seed, i, &ContractOptions::default())
}

/// Draws the goods table at `y` (bordered grid, the rows' amounts summing to `fen`); returns
/// the y below it.
fn goods_table(c: &mut Canvas, rng: &mut Rng, y: i32, body: f32, fen: u64, goods: &str) -> i32 {
    let (w, _) = PAGE_SIZE;
    let (left, right) = (100, w as i32 - 100);
    let row_h = (body * 1.9) as i32;
    let cols = [0.0f32, 0.09, 0.42, 0.62, 0.75, 1.0];
    let xs: Vec<i32> = cols
        .iter()
        .map(|f| left + ((right - left) as f32 * f) as i32)
        .collect();
    let first = fen * rng.range(30, 70) as u64 / 100 / 100 * 100;
    let rows = [
        (
            "1",
            goods.to_string(),
            format!("XH-{}", rng.range(100, 999)),
            rng.range(2, 200),
            first,
        ),
        (
            "2",
            format!("{goods}配件"),
            format!("PJ-{}", rng.range(10, 99)),
            rng.range(1, 50),
            fen - first,
        ),
    ];
    let header = ["序号", "产品名称", "规格型号", "数量", "金额（元）"];
    let ink = Rgb([30, 30, 30]);
    let n_rows = rows.len() as i32 + 2;
    let small = body - 3.0;
    let cell = |c: &mut Canvas, k: usize, row: i32, text: &str| {
        let cw = (xs[k + 1] - xs[k] - 16).max(10) as u32;
        c.text(text, xs[k] + 8, y + row * row_h + 8, small, false, ink, cw);
    };
    for (k, h) in header.iter().enumerate() {
        cell(c, k, 0, h);
    }
    for (r, (no, name, model, qty, amount)) in rows.iter().enumerate() {
        let r = r as i32 + 1;
        cell(c, 0, r, no);
        cell(c, 1, r, name);
        cell(c, 2, r, model);
        cell(c, 3, r, &qty.to_string());
        cell(c, 4, r, &grouped(*amount));
    }
    cell(c, 0, n_rows - 1, "合计");
    cell(c, 4, n_rows - 1, &grouped(fen));
    // The grid: a heavy outer border, thin inner lines.
    for r in 0..=n_rows {
        let t = if r == 0 || r == n_rows { 4 } else { 2 };
        c.rect(left, y + r * row_h, (right - left) as u32 + 4, t, ink);
    }
    for (k, &x) in xs.iter().enumerate() {
        let t = if k == 0 || k == xs.len() - 1 { 4 } else { 2 };
        c.rect(x, y, t, (n_rows * row_h) as u32, ink);
    }
    y + n_rows * row_h + 20
}

/// Renders contract page `i` of `seed` with `options`; the default options give
/// [`render_contract`]'s page.
pub fn render_contract_with(
    fonts: &Fonts,
    seed: u64,
    i: usize,
    options: &ContractOptions,
) -> Rendered<ContractTruth> {
    let mut rng = Rng::for_index(seed ^ 0xC0_47AC, i);
    let english = rng.chance(25) && !options.chinese;
    let city_a = *rng.pick(CITIES);
    let city_b = *rng.pick(CITIES);
    let (mut party_a, _) = fixtures::company(&mut rng, &city_a);
    let (mut party_b, _) = fixtures::company(&mut rng, &city_b);
    if english {
        let en = |rng: &mut Rng, city: &City| {
            let (_, py) = *rng.pick(BRANDS);
            format!(
                "{} {} {} Co., Ltd.",
                city_pinyin(city),
                capitalize(py),
                rng.pick(EN_INDUSTRIES)
            )
        };
        party_a = en(&mut rng, &city_a);
        party_b = en(&mut rng, &city_b);
    }
    // Amounts: mostly round, sometimes with jiao and fen.
    let yuan = match rng.below(10) {
        0..=5 => rng.range(1, 999) as u64 * 1000 + if rng.chance(50) { 500 } else { 0 },
        6..=8 => rng.range(1_000, 2_000_000) as u64,
        _ => rng.range(10, 99) as u64 * 100_000,
    };
    let fen = yuan * 100
        + if rng.chance(25) {
            rng.range(1, 99) as u64
        } else {
            0
        };
    let amount_upper = upper_amount(fen);
    let (year, month, day) = (rng.range(2024, 2027), rng.range(1, 11), rng.range(1, 28));
    let date = format!("{year:04}-{month:02}-{day:02}");
    let contract_number = match rng.below(3) {
        0 => format!("HT-{year}-{:04}", rng.range(1, 9999)),
        1 => format!(
            "{}{year}{month:02}{day:02}-{:02}",
            rng.pick(&["SZHQ", "GZHT", "SHJQ", "BJZK"]),
            rng.range(1, 99)
        ),
        _ => format!("CG{year}{:05}", rng.range(1, 99_999)),
    };

    let (w, h) = PAGE_SIZE;
    let ink = *rng.pick(&INK);
    let mut c = Canvas {
        image: RgbImage::from_pixel(w, h, *rng.pick(&PAPER)),
        fonts,
    };
    let margin = 110;
    let max_w = w - 2 * margin as u32;
    let body = rng.range(25, 28) as f32;
    let gap = (body * 1.7) as i32;
    let centre = w as i32 / 2;
    let mut y = 110;

    let title = if english {
        *rng.pick(&["SERVICE AGREEMENT", "PURCHASE CONTRACT", "SALES CONTRACT"])
    } else {
        *rng.pick(&[
            "购销合同",
            "采购合同",
            "服务协议",
            "技术服务合同",
            "合同",
            "销售合同",
        ])
    };
    c.text_centre(title, centre, y, 58.0, true, ink);
    if options.table {
        c.rect(margin - 20, y + 84, max_w + 40, 3, ink);
    }
    y += 110;
    let number_line = if english {
        format!("Contract No.: {contract_number}")
    } else {
        format!(
            "{}{contract_number}",
            rng.pick(&["合同编号：", "合同号：", "编号："])
        )
    };
    if rng.chance(50) {
        c.text_right(&number_line, w as i32 - margin, y, body, false, ink);
    } else {
        c.text(&number_line, margin, y, body, false, ink, max_w);
    }
    y += gap + 20;
    let (label_a, label_b) = if let Some((a, b)) = options.parties {
        (a.to_string(), b.to_string())
    } else if english {
        ("Party A: ".to_string(), "Party B: ".to_string())
    } else {
        match rng.below(3) {
            0 => ("甲方：".to_string(), "乙方：".to_string()),
            1 => ("甲方（买方）：".to_string(), "乙方（卖方）：".to_string()),
            _ => (
                "甲方（委托方）：".to_string(),
                "乙方（受托方）：".to_string(),
            ),
        }
    };
    for (label, party, city) in [(&label_a, &party_a, &city_a), (&label_b, &party_b, &city_b)] {
        c.text(
            &format!("{label}{party}"),
            margin,
            y,
            body,
            false,
            ink,
            max_w,
        );
        y += gap;
        if !english && rng.chance(50) {
            let addr = fixtures::address(&mut rng, city);
            c.text(&format!("地址：{addr}"), margin, y, body, false, ink, max_w);
            y += gap;
        }
        y += 10;
    }
    y += 20;

    let (dy, dm, dd) = (
        year + if month == 12 { 1 } else { 0 },
        month % 12 + 1,
        rng.range(1, 28),
    );
    let mut table_goods = None;
    let paragraphs: Vec<String> = if english {
        let goods = rng.pick(EN_GOODS);
        vec![
            format!("Party A and Party B, after friendly negotiation, agree that Party B shall supply {goods} to Party A on the following terms."),
            "1. Quality: the goods shall meet the national standards and the samples confirmed by both parties.".to_string(),
            format!("2. Delivery: Party B shall deliver the goods before {dy:04}-{dm:02}-{dd:02} to the address named by Party A."),
            "3. Price:".to_string(),
            "4. Payment: 30% within ten days of signing, the balance within thirty days of acceptance.".to_string(),
            "5. Disputes shall be settled by negotiation, failing which by the court where Party A is located.".to_string(),
        ]
    } else {
        let goods = rng.pick(GOODS);
        table_goods = Some(*goods);
        vec![
            format!("经甲乙双方友好协商，根据《中华人民共和国民法典》及相关法律法规，就甲方向乙方采购{goods}事宜达成如下协议，以资共同遵守。"),
            format!("一、产品名称及数量：{goods}，数量{}台，规格型号见附件一。", rng.range(5, 500)),
            "二、质量要求：产品须符合国家相关标准及双方确认的样品要求。".to_string(),
            "三、合同金额：".to_string(),
            format!("四、交货时间及地点：乙方应于{dy}年{dm}月{dd}日前将货物送至甲方指定地点。"),
            "五、付款方式：合同签订后十日内甲方支付合同总额的30%，货到验收合格后三十日内付清余款。".to_string(),
            "六、违约责任：任何一方违反本合同约定，应向对方支付合同总额10%的违约金。".to_string(),
            "七、本合同一式两份，甲乙双方各执一份，自双方签字盖章之日起生效。".to_string(),
        ]
    };
    for p in paragraphs {
        if p == "三、合同金额：" || p == "3. Price:" {
            let line = if english {
                format!(
                    "3. Total amount: RMB {} (in words: {amount_upper})",
                    grouped(fen)
                )
            } else {
                match rng.below(3) {
                    0 => format!(
                        "三、合同总金额：¥{}（大写：人民币{amount_upper}）",
                        grouped(fen)
                    ),
                    1 => format!(
                        "三、合同金额为人民币{}元（大写：{amount_upper}）",
                        if fen % 100 == 0 {
                            (fen / 100).to_string()
                        } else {
                            format!("{}.{:02}", fen / 100, fen % 100)
                        }
                    ),
                    _ => format!(
                        "三、总价款：人民币（大写）{amount_upper}（小写：¥{}）",
                        grouped(fen)
                    ),
                }
            };
            c.text(&line, margin, y, body, false, ink, max_w);
            y += gap;
            continue;
        }
        for l in wrap(&c, &p, body, max_w) {
            c.text(&l, margin, y, body, false, ink, max_w);
            y += gap;
        }
        y += 8;
        if options.table && p.starts_with("一、") {
            if let Some(goods) = table_goods {
                y = goods_table(&mut c, &mut rng, y, body, fen, goods);
            }
        }
    }

    // Signature block.
    y = y.max(h as i32 - 420);
    let col_b = centre + 40;
    let (sig_a, sig_b) = if english {
        ("Party A (seal):", "Party B (seal):")
    } else {
        ("甲方（盖章）：", "乙方（盖章）：")
    };
    c.text(sig_a, margin, y, body, false, ink, max_w / 2);
    c.text(sig_b, col_b, y, body, false, ink, max_w / 2);
    y += gap * 2;
    let rep = if english {
        "Representative:"
    } else {
        "代表人签字："
    };
    c.text(rep, margin, y, body, false, ink, max_w / 2);
    c.text(rep, col_b, y, body, false, ink, max_w / 2);
    y += gap * 2;
    let printed_date = if english {
        match rng.below(2) {
            0 => format!("Date: {year:04}-{month:02}-{day:02}"),
            _ => format!("Date: {year:04}.{month:02}.{day:02}"),
        }
    } else {
        let cn = ["〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"];
        let small = |n: usize| -> String {
            match n {
                0..=9 => cn[n].to_string(),
                10 => "十".to_string(),
                11..=19 => format!("十{}", cn[n - 10]),
                _ if n.is_multiple_of(10) => format!("{}十", cn[n / 10]),
                _ => format!("{}十{}", cn[n / 10], cn[n % 10]),
            }
        };
        let year_cn: String = year
            .to_string()
            .chars()
            .map(|d| cn[d as usize - '0' as usize])
            .collect();
        let label = *rng.pick(&["签订日期：", "签订日期：", "日期：", "签约时间："]);
        match rng.below(5) {
            0 => format!("{label}{year}-{month:02}-{day:02}"),
            1 => format!("{label}{year}/{month:02}/{day:02}"),
            2 => format!("{label}{year_cn}年{}月{}日", small(month), small(day)),
            _ => format!("{label}{year}年{month}月{day}日"),
        }
    };
    c.text(&printed_date, margin, y, body, false, ink, max_w);

    let truth = ContractTruth {
        contract_number,
        party_a,
        party_b,
        amount: fen as f64 / 100.0,
        amount_upper,
        date,
        english,
    };
    Rendered {
        image: c.image,
        truth,
    }
}

/// A blurred, noisy copy of `image`, like a photographed and flattened document.
pub fn degrade(image: &RgbImage, seed: u64) -> RgbImage {
    let blurred = imageproc::filter::gaussian_blur_f32(image, 1.1);
    let mut rng = Rng::new(seed);
    let mut out = blurred;
    for p in out.pixels_mut() {
        // Triangular noise, amplitude ±14 grey levels.
        let n = rng.below(15) as i32 + rng.below(15) as i32 - 14;
        for ch in p.0.iter_mut() {
            *ch = (*ch as i32 + n).clamp(0, 255) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_amounts() {
        assert_eq!(upper_amount(30_500_000), "叁拾万伍仟元整");
        assert_eq!(upper_amount(100_550), "壹仟零伍元伍角整");
        assert_eq!(upper_amount(30_005), "叁佰元零伍分");
        assert_eq!(upper_amount(1_234_567), "壹万贰仟叁佰肆拾伍元陆角柒分");
        assert_eq!(upper_amount(10_000_000_000), "壹亿元整");
        assert_eq!(upper_amount(100_000_300), "壹佰万零叁元整");
        assert_eq!(upper_amount(1_000), "壹拾元整");
    }
}
