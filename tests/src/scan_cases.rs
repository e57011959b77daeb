//! The hard cases of issue 18, rendered and photographed with their truth: every way real
//! phone photos broke the scanner has a case here, so the benchmark measures each of them.
//!
//! Cards ([`CardCase`]): names in brush-like Kai and Ming faces, black (heavy) and red names,
//! two-tone and dark cards, colour bands and divider rules, vertical (portrait) cards, several
//! phones on one line, fax lines (never phones: the truth leaves them out), Japanese cards
//! (kanji names, 株式会社, `03-xxxx-xxxx` and a `.co.jp` e-mail, a 〒 postcode) and Vietnamese
//! cards (`+84`), labels, titles and slogans near the name (职位职称, 扫一扫, 业务主办), and
//! letter-spaced names (章 晖 平, `M A S A S H I`). Contracts ([`ContractCase`]): the party
//! pairs 委托方/受托方, 买方/卖方, 发包人/承包人 and 甲方/乙方, and bordered goods tables.
//! Photos ([`photo_case`]): sideways (90° and 270°) and upside-down documents with no EXIF
//! hint, on wood, on printed paper and on a larger panel.
//!
//! The same seed and index always give the same image, photo and truth.
//!
//! ```no_run
//! use outpost_tests::scan_cases::{render_card_case, CardCase};
//! use outpost_tests::scan_render::Fonts;
//! let fonts = Fonts::system()?;
//! let card = render_card_case(&fonts, 7, 0, CardCase::Fax);
//! // The fax number is printed but is not one of the card's phones.
//! println!("{:?}", card.truth.phones);
//! # Ok::<(), outpost_tests::scan_render::RenderError>(())
//! ```

use crate::fixtures::Rng;
use crate::scan_card_content::{
    chinese_content, japanese_content, vietnamese_content, EN_SLOGANS, SLOGANS, SPACED_LATIN,
};
use crate::scan_card_layout::{draw_card, Look, DARKS, GOLD, RED};
use crate::scan_photo::{synth_photo_with, Background, PhotoOptions, SyntheticPhoto};
use crate::scan_render::{
    render_card, render_contract, render_contract_with, CardTruth, ContractOptions, ContractTruth,
    Face, Fonts, Rendered, ACCENT, CARD_SIZE, INK, PAPER,
};
use image::{Rgb, RgbImage};
use serde::Serialize;

/// What makes a card hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardCase {
    /// [`render_card`]'s mix as it was before these cases.
    Classic,
    /// The name in AR PL UKai (brush-like Kai) or UMing, sometimes red.
    BrushName,
    /// The name in a black (heavy) or serif bold weight.
    BlackName,
    /// A red name.
    RedName,
    /// A dark panel on one side (or the top) and light paper on the other.
    TwoTone,
    /// A dark card with light text.
    Dark,
    /// Colour bands across the card and a divider rule between the name and the details.
    Bands,
    /// A portrait card (54 x 90 mm).
    Vertical,
    /// Two numbers on one line (`0431-84597070 84840822`, two mobiles).
    PhonesOnOneLine,
    /// A fax line (传真 / F: / Fax:), sometimes on the telephone's line.
    Fax,
    /// A Japanese card.
    Japanese,
    /// A Vietnamese card (`+84`).
    Vietnamese,
    /// Labels, titles and slogans near the name: 扫一扫 under a QR code, 业务主办, 职位职称, a
    /// slogan.
    LabelsNearName,
    /// A letter-spaced name.
    LetterSpaced,
}

impl CardCase {
    /// Every case, in the order the benchmark cycles through them.
    pub const ALL: [CardCase; 14] = [
        CardCase::Classic,
        CardCase::BrushName,
        CardCase::BlackName,
        CardCase::RedName,
        CardCase::TwoTone,
        CardCase::Dark,
        CardCase::Bands,
        CardCase::Vertical,
        CardCase::PhonesOnOneLine,
        CardCase::Fax,
        CardCase::Japanese,
        CardCase::Vietnamese,
        CardCase::LabelsNearName,
        CardCase::LetterSpaced,
    ];

    /// The case's name in reports, e.g. `brush_name`.
    pub fn name(self) -> &'static str {
        match self {
            CardCase::Classic => "classic",
            CardCase::BrushName => "brush_name",
            CardCase::BlackName => "black_name",
            CardCase::RedName => "red_name",
            CardCase::TwoTone => "two_tone",
            CardCase::Dark => "dark",
            CardCase::Bands => "bands",
            CardCase::Vertical => "vertical",
            CardCase::PhonesOnOneLine => "phones_on_one_line",
            CardCase::Fax => "fax",
            CardCase::Japanese => "japanese",
            CardCase::Vietnamese => "vietnamese",
            CardCase::LabelsNearName => "labels_near_name",
            CardCase::LetterSpaced => "letter_spaced",
        }
    }
}

/// What makes a contract page hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContractCase {
    /// [`render_contract`]'s mix.
    Classic,
    /// The parties after 委托方/受托方, 买方/卖方, 发包人/承包人 or 甲方/乙方.
    PartyPairs,
    /// A bordered goods table and a rule under the title, with one of the party pairs.
    Table,
}

impl ContractCase {
    /// Every case, in the order the benchmark cycles through them.
    pub const ALL: [ContractCase; 3] = [
        ContractCase::Classic,
        ContractCase::PartyPairs,
        ContractCase::Table,
    ];

    /// The case's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ContractCase::Classic => "classic",
            ContractCase::PartyPairs => "party_pairs",
            ContractCase::Table => "table",
        }
    }
}

/// The party label pairs of Chinese contracts.
pub const PARTY_PAIRS: [(&str, &str); 4] = [
    ("委托方：", "受托方："),
    ("买方：", "卖方："),
    ("发包人：", "承包人："),
    ("甲方：", "乙方："),
];

/// Renders contract page `i` of `seed` as `case`.
pub fn render_contract_case(
    fonts: &Fonts,
    seed: u64,
    i: usize,
    case: ContractCase,
) -> Rendered<ContractTruth> {
    let pair = PARTY_PAIRS[i % PARTY_PAIRS.len()];
    match case {
        ContractCase::Classic => render_contract(fonts, seed, i),
        ContractCase::PartyPairs => render_contract_with(
            fonts,
            seed,
            i,
            &ContractOptions {
                chinese: true,
                parties: Some(pair),
                table: false,
            },
        ),
        ContractCase::Table => render_contract_with(
            fonts,
            seed,
            i,
            &ContractOptions {
                chinese: true,
                parties: Some(pair),
                table: true,
            },
        ),
    }
}

/// Renders business card `i` of `seed` as `case` (see [`CardCase`]).
pub fn render_card_case(fonts: &Fonts, seed: u64, i: usize, case: CardCase) -> Rendered<CardTruth> {
    if case == CardCase::Classic {
        return render_card(fonts, seed, i);
    }
    let mut rng = Rng::for_index(seed ^ 0xCA5E_5000 ^ (case as u64) << 32, i);
    let mut content = match case {
        CardCase::Japanese => japanese_content(&mut rng),
        CardCase::Vietnamese => vietnamese_content(&mut rng),
        _ => chinese_content(&mut rng, case),
    };
    let mut look = Look {
        paper: *rng.pick(&PAPER),
        ink: *rng.pick(&INK),
        accent: *rng.pick(&ACCENT),
        name_ink: Rgb([0, 0, 0]),
        name_face: Face::Bold,
        tracking: 0,
        panel: None,
        panel_ink: Rgb([255, 255, 255]),
        bands: false,
    };
    look.name_ink = look.ink;
    let vertical = case == CardCase::Vertical;
    let (w, h) = if vertical {
        (CARD_SIZE.1, CARD_SIZE.0)
    } else {
        CARD_SIZE
    };
    match case {
        CardCase::BrushName => {
            look.name_face = if rng.chance(65) {
                Face::Kai
            } else {
                Face::Ming
            };
            if rng.chance(50) {
                look.name_ink = RED;
            }
        }
        CardCase::BlackName => {
            look.name_face = if rng.chance(65) {
                Face::Black
            } else {
                Face::SerifBold
            };
        }
        CardCase::RedName => {
            look.name_ink = RED;
            look.name_face = *rng.pick(&[Face::Bold, Face::Black, Face::Kai]);
        }
        CardCase::TwoTone => {
            let dark = *rng.pick(&DARKS);
            look.panel = Some(if rng.chance(60) {
                (0, 0, (w as f32 * 0.36) as u32, h)
            } else {
                (0, 0, w, (h as f32 * 0.34) as u32)
            });
            look.panel_ink = if rng.chance(50) {
                GOLD
            } else {
                Rgb([250, 250, 250])
            };
            look.accent = dark;
        }
        CardCase::Dark => {
            look.paper = *rng.pick(&DARKS);
            look.ink = Rgb([236, 236, 232]);
            look.name_ink = if rng.chance(50) { GOLD } else { look.ink };
            look.accent = GOLD;
        }
        CardCase::Bands => look.bands = true,
        CardCase::LabelsNearName => {
            content.qr = true;
            match rng.below(3) {
                0 => content.title = Some("业务主办".to_string()),
                1 => content.near_name.push("职位职称".to_string()),
                _ => content.near_name.push(rng.pick(SLOGANS).to_string()),
            }
            if rng.chance(40) {
                content.near_name.push(rng.pick(EN_SLOGANS).to_string());
            }
        }
        CardCase::LetterSpaced => {
            if rng.chance(50) {
                let (printed, truth) = *rng.pick(SPACED_LATIN);
                content.name = truth.to_string();
                content.name_printed = printed.to_string();
                content.alt_name = None;
                content.latin = true;
                look.tracking = rng.range(14, 26) as i32;
            } else {
                // 章 晖 平: one or two spaces' width between the characters.
                content.name_printed = content.name.clone();
                look.tracking = rng.range(40, 90) as i32;
            }
        }
        _ => {}
    }
    if case == CardCase::Japanese && rng.chance(40) {
        look.name_face = Face::SerifBold;
    }
    let image = draw_card(fonts, &content, &look, w, h, vertical, &mut rng);
    Rendered {
        image,
        truth: CardTruth {
            name: content.name,
            title: content.title,
            company: content.company,
            phones: content.phones,
            emails: content.emails,
            address: content.address,
            website: content.website,
            english: content.latin,
        },
    }
}

/// How a document lies in the photo, beyond [`crate::scan_photo::synth_photo`]'s mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PhotoCase {
    /// The document is turned clockwise by this many degrees in the photo (0, 90, 180, 270),
    /// with no EXIF hint.
    pub turn: u16,
    /// The surface, when fixed.
    #[serde(skip)]
    pub background: Option<Background>,
}

impl PhotoCase {
    /// The case of photo `i` of a corpus: a quarter of the photos are sideways or upside
    /// down; every third or so lies on wood, printed paper or a larger panel.
    pub fn cycle(i: usize) -> PhotoCase {
        let turn = match i % 8 {
            1 => 90,
            4 => 270,
            6 => 180,
            _ => 0,
        };
        let background = match i % 5 {
            0 => Some(Background::Wood),
            2 => Some(Background::Text),
            4 => Some(Background::Panel),
            _ => None,
        };
        PhotoCase { turn, background }
    }

    /// The rotation the scanner must report to bring the document upright: the turn undone.
    pub fn upright_rotation(self) -> u16 {
        (360 - self.turn) % 360
    }
}

/// `doc` turned clockwise by `turn` degrees (0, 90, 180 or 270; anything else is 0).
pub fn turn_image(doc: &RgbImage, turn: u16) -> RgbImage {
    use image::imageops::{rotate180, rotate270, rotate90};
    match turn {
        90 => rotate90(doc),
        180 => rotate180(doc),
        270 => rotate270(doc),
        _ => doc.clone(),
    }
}

/// A photo of a case, with the truth of its geometry.
#[derive(Debug, Clone)]
pub struct CasePhoto {
    /// The photo; its `corners` start at the upright document's top-left, clockwise.
    pub photo: SyntheticPhoto,
    /// What the photo's case is.
    pub case: PhotoCase,
}

/// Photographs `doc` as `case` says, into `width x height` (swapped for a turned page, as a
/// phone is turned for it).
pub fn photo_case(
    doc: &RgbImage,
    case: PhotoCase,
    seed: u64,
    width: u32,
    height: u32,
) -> CasePhoto {
    let turned = turn_image(doc, case.turn);
    let options = PhotoOptions {
        background: case.background,
    };
    let mut photo = synth_photo_with(&turned, seed, width, height, &options);
    // The turned image's corner k is the upright document's corner k + turn/90.
    photo.corners.rotate_left(usize::from(case.turn / 90) % 4);
    CasePhoto { photo, case }
}

/// The truth of a benchmark photo.
#[derive(Debug, Clone)]
pub enum CaseTruth {
    /// A card and its case.
    Card(CardTruth, CardCase),
    /// A contract page and its case.
    Contract(ContractTruth, ContractCase),
}

/// One photo of the benchmark corpus.
#[derive(Debug, Clone)]
pub struct CaseSample {
    /// The photo and how it was taken.
    pub photo: CasePhoto,
    /// What is printed and which case it is.
    pub truth: CaseTruth,
}

impl CaseSample {
    /// `card/brush_name` or `contract/table`.
    pub fn label(&self) -> String {
        match &self.truth {
            CaseTruth::Card(_, c) => format!("card/{}", c.name()),
            CaseTruth::Contract(_, c) => format!("contract/{}", c.name()),
        }
    }
}

/// Card `i` of a corpus of `seed`: its case cycles through [`CardCase::ALL`], its photo
/// through [`PhotoCase::cycle`]. Cards are photographed at 3000 x 2250.
pub fn card_sample(fonts: &Fonts, seed: u64, i: usize) -> CaseSample {
    let case = CardCase::ALL[i % CardCase::ALL.len()];
    let r = render_card_case(fonts, seed, i, case);
    let photo = photo_case(
        &r.image,
        PhotoCase::cycle(i),
        seed.wrapping_add(i as u64),
        3000,
        2250,
    );
    CaseSample {
        photo,
        truth: CaseTruth::Card(r.truth, case),
    }
}

/// Contract page `i` of a corpus of `seed`, photographed at 3000 x 4000 (4000 x 3000 when the
/// page lies sideways).
pub fn contract_sample(fonts: &Fonts, seed: u64, i: usize) -> CaseSample {
    let case = ContractCase::ALL[i % ContractCase::ALL.len()];
    let r = render_contract_case(fonts, seed, i, case);
    // Shifted so that contracts do not repeat the cards' photo pattern.
    let pc = PhotoCase::cycle(i + 3);
    let (w, h) = if pc.turn % 180 == 90 {
        (4000, 3000)
    } else {
        (3000, 4000)
    };
    let photo = photo_case(&r.image, pc, seed.wrapping_add(1000 + i as u64), w, h);
    CaseSample {
        photo,
        truth: CaseTruth::Contract(r.truth, case),
    }
}
