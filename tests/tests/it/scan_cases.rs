//! The benchmark's hard cases are what they claim (a sideways photo's truth rotation and
//! corner order, fax lines printed but not in the truth phones, Japanese and Vietnamese
//! numbers, dark and two-tone cards, tables), and its AUC is right on known inputs.

use image::{Rgb, RgbImage};
use outpost_core::scan::ocr::{Ocr, OcrOptions, PageLayout};
use outpost_tests::scan_accuracy::normalize_value;
use outpost_tests::scan_cases::{
    photo_case, render_card_case, render_contract_case, turn_image, CardCase, ContractCase,
    PhotoCase, PARTY_PAIRS,
};
use outpost_tests::scan_photo::Background;
use outpost_tests::scan_render::Fonts;
use outpost_tests::scan_stats::{mean, median, min, roc_auc};

const SEED: u64 = 2026;

#[test]
fn roc_auc_is_right_on_known_inputs() {
    assert_eq!(roc_auc(&[0.9, 0.8, 0.7], &[0.3, 0.2]), Some(1.0));
    assert_eq!(roc_auc(&[0.3, 0.2], &[0.9, 0.8, 0.7]), Some(0.0));
    assert_eq!(roc_auc(&[0.5, 0.5], &[0.5]), Some(0.5));
    // Worked by hand: 0.9 beats all three (3), 0.8 all three (3), 0.4 beats 0.1 and ties
    // 0.4 (1.5): 7.5 of 9 pairs.
    let auc = roc_auc(&[0.9, 0.8, 0.4], &[0.5, 0.4, 0.1]).unwrap_or(f64::NAN);
    assert!((auc - 7.5 / 9.0).abs() < 1e-12, "{auc}");
    // Swapping the groups gives 1 - AUC.
    let swapped = roc_auc(&[0.5, 0.4, 0.1], &[0.9, 0.8, 0.4]).unwrap_or(f64::NAN);
    assert!((swapped - (1.0 - 7.5 / 9.0)).abs() < 1e-12, "{swapped}");
    // Only the order matters, not the scale.
    let scaled = roc_auc(&[90.0, 80.0, 40.0], &[50.0, 40.0, 10.0]).unwrap_or(f64::NAN);
    assert!((scaled - auc).abs() < 1e-12);
    assert_eq!(roc_auc(&[], &[0.1]), None);
    assert_eq!(roc_auc(&[0.1], &[]), None);
    assert_eq!(roc_auc(&[f64::NAN], &[0.1]), None);
    assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
    assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    assert_eq!(min(&[5.0, 1.0, 3.0]), Some(1.0));
    assert_eq!(mean(&[]), None);
}

/// A white card with a red block at its top-left and a blue one at its bottom-right.
fn marked_card() -> RgbImage {
    let mut img = RgbImage::from_pixel(1400, 840, Rgb([250, 250, 250]));
    for y in 40..330 {
        for x in 40..420 {
            img.put_pixel(x, y, Rgb([220, 20, 20]));
            img.put_pixel(1399 - x, 839 - y, Rgb([20, 40, 220]));
        }
    }
    img
}

/// The mean colour of the photo around the point at (u, v) of the document (0..1 from the
/// upright top-left), from the truth corners.
fn colour_at(photo: &RgbImage, c: &[[f32; 2]; 4], u: f32, v: f32) -> [f32; 3] {
    let p = [0, 1].map(|k| {
        (1.0 - u) * (1.0 - v) * c[0][k]
            + u * (1.0 - v) * c[1][k]
            + u * v * c[2][k]
            + (1.0 - u) * v * c[3][k]
    });
    let mut acc = [0f32; 3];
    let mut n: f32 = 0.0;
    for dy in -3..=3 {
        for dx in -3..=3 {
            let (x, y) = (p[0] as i64 + dx, p[1] as i64 + dy);
            if x >= 0 && y >= 0 && (x as u32) < photo.width() && (y as u32) < photo.height() {
                let px = photo.get_pixel(x as u32, y as u32).0;
                for k in 0..3 {
                    acc[k] += f32::from(px[k]);
                }
                n += 1.0;
            }
        }
    }
    acc.map(|a| a / n.max(1.0))
}

#[test]
fn turned_photos_start_their_truth_corners_at_the_upright_top_left() {
    let card = marked_card();
    for turn in [0u16, 90, 180, 270] {
        // A seed whose photo has no EXIF orientation and lies fully in the frame, so the
        // decoded pixels are the oriented photo.
        let photo = (0..200u64)
            .map(|seed| {
                let case = PhotoCase {
                    turn,
                    background: Some(Background::Plain),
                };
                photo_case(&card, case, seed, 1600, 1200)
            })
            .find(|p| p.photo.params.exif_orientation == 1 && !p.photo.params.at_edge);
        let Some(photo) = photo else {
            panic!("no plain photo among 200 seeds for turn {turn}");
        };
        let img = image::load_from_memory(&photo.photo.jpeg)
            .map(|i| i.to_rgb8())
            .unwrap_or_default();
        let c = photo.photo.corners;
        let red = colour_at(&img, &c, 0.12, 0.2);
        let blue = colour_at(&img, &c, 0.88, 0.8);
        assert!(
            red[0] > red[1] + 50.0 && red[0] > red[2] + 50.0,
            "turn {turn}: the upright top-left is not the red block: {red:?}"
        );
        assert!(
            blue[2] > blue[0] + 40.0,
            "turn {turn}: the upright bottom-right is not the blue block: {blue:?}"
        );
        // A sideways card lies in portrait: its upright top edge is its short side.
        let side = |a: [f32; 2], b: [f32; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
        assert!(side(c[0], c[1]) > side(c[1], c[2]), "turn {turn}: {c:?}");
    }
}

#[test]
fn the_truth_rotation_is_what_the_reader_finds() -> Result<(), Box<dyn std::error::Error>> {
    let fonts = Fonts::system()?;
    let ocr = Ocr::new(&OcrOptions::default())?;
    let card = render_card_case(&fonts, SEED, 3, CardCase::RedName);
    for turn in [90u16, 180, 270] {
        let case = PhotoCase {
            turn,
            background: None,
        };
        let read = ocr.read(turn_image(&card.image, turn), PageLayout::Card)?;
        assert_eq!(
            read.rotation,
            case.upright_rotation(),
            "turn {turn}: {}",
            read.page.text()
        );
    }
    assert_eq!(PhotoCase::cycle(0).upright_rotation(), 0);
    assert_eq!(
        (0..8)
            .map(|i| PhotoCase::cycle(i).turn)
            .filter(|&t| t != 0)
            .count(),
        3,
        "three photos in eight are turned"
    );
    Ok(())
}

/// The digits printed after a fax label on a line, if any.
fn fax_digits(line: &str) -> Option<String> {
    let at = ["传真", "FAX", "Fax", "F:", "F："]
        .iter()
        .filter_map(|l| line.find(l).map(|p| p + l.len()))
        .min()?;
    let digits: String = line[at..]
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '(' | ')' | '+'))
        .filter(char::is_ascii_digit)
        .collect();
    (digits.len() >= 9).then_some(digits)
}

#[test]
fn fax_lines_are_printed_but_not_in_the_truth_phones() -> Result<(), Box<dyn std::error::Error>> {
    let fonts = Fonts::system()?;
    let ocr = Ocr::new(&OcrOptions::default())?;
    for (i, case) in [
        (0, CardCase::Fax),
        (1, CardCase::Fax),
        (2, CardCase::Fax),
        (0, CardCase::Japanese),
    ] {
        let card = render_card_case(&fonts, SEED, i, case);
        let read = ocr.read(card.image.clone(), PageLayout::Card)?;
        let text = read.page.text();
        let faxes: Vec<String> = text.lines().filter_map(fax_digits).collect();
        assert!(
            !faxes.is_empty(),
            "{case:?} {i}: no fax line read in\n{text}"
        );
        assert!(!card.truth.phones.is_empty(), "{case:?} {i}");
        for fax in &faxes {
            for phone in &card.truth.phones {
                let national: String = phone.chars().skip(3).collect();
                assert!(
                    !fax.ends_with(&national),
                    "{case:?} {i}: fax {fax} is a truth phone {phone}"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn japanese_vietnamese_and_multi_phone_cards_carry_their_numbers(
) -> Result<(), Box<dyn std::error::Error>> {
    let fonts = Fonts::system()?;
    for i in 0..6 {
        let jp = render_card_case(&fonts, SEED, i, CardCase::Japanese).truth;
        assert!(jp.phones.iter().all(|p| p.starts_with("+81")), "{jp:?}");
        assert!(
            jp.phones.iter().all(|p| p.len() == 12 || p.len() == 13),
            "{jp:?}"
        );
        assert!(jp.company.contains("株式会社"), "{jp:?}");
        assert!(jp.emails.iter().all(|e| e.ends_with(".co.jp")), "{jp:?}");
        let address = jp.address.clone().unwrap_or_default();
        assert!(address.starts_with('〒'), "{jp:?}");
        let postcode: String = address
            .chars()
            .take_while(|c| *c != ' ')
            .filter(char::is_ascii_digit)
            .collect();
        assert_eq!(postcode.len(), 7, "{address}");
        assert!(jp.phones.iter().all(|p| !p.contains(&postcode)), "{jp:?}");
        // Kanji names of two to four characters, no space.
        assert!((2..=4).contains(&jp.name.chars().count()), "{jp:?}");

        let vn = render_card_case(&fonts, SEED, i, CardCase::Vietnamese).truth;
        assert!(vn.phones.iter().all(|p| p.starts_with("+84")), "{vn:?}");
        assert!(vn.emails.iter().all(|e| e.ends_with(".vn")), "{vn:?}");

        let multi = render_card_case(&fonts, SEED, i, CardCase::PhonesOnOneLine).truth;
        assert!(multi.phones.len() >= 2, "{multi:?}");
        assert!(
            multi.phones.iter().all(|p| p.starts_with("+86")),
            "{multi:?}"
        );
    }
    Ok(())
}

fn luma(p: &Rgb<u8>) -> f32 {
    0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2])
}

#[test]
fn card_looks_are_what_they_claim() -> Result<(), Box<dyn std::error::Error>> {
    let fonts = Fonts::system()?;
    let share = |img: &RgbImage, f: &dyn Fn(&Rgb<u8>) -> bool| {
        img.pixels().filter(|p| f(p)).count() as f32 / (img.width() * img.height()) as f32
    };
    for i in 0..3 {
        let dark = render_card_case(&fonts, SEED, i, CardCase::Dark).image;
        assert!(share(&dark, &|p| luma(p) < 80.0) > 0.8, "dark card {i}");

        let two = render_card_case(&fonts, SEED, i, CardCase::TwoTone).image;
        let (d, l) = (
            share(&two, &|p| luma(p) < 80.0),
            share(&two, &|p| luma(p) > 200.0),
        );
        assert!(
            d > 0.25 && l > 0.4,
            "two-tone card {i}: dark {d:.2} light {l:.2}"
        );

        let vertical = render_card_case(&fonts, SEED, i, CardCase::Vertical).image;
        assert!(vertical.height() > vertical.width(), "vertical card {i}");

        let red = render_card_case(&fonts, SEED, i, CardCase::RedName).image;
        let reds = share(&red, &|p| p.0[0] > 150 && p.0[1] < 80 && p.0[2] < 80);
        assert!(reds > 0.003, "red-name card {i}: {reds:.4} red");

        let bands = render_card_case(&fonts, SEED, i, CardCase::Bands).image;
        // A band: whole rows of one non-paper colour across the card.
        let band_rows = (0..bands.height())
            .filter(|&y| {
                let first = bands.get_pixel(0, y);
                luma(first) < 200.0 && (0..bands.width()).all(|x| bands.get_pixel(x, y) == first)
            })
            .count();
        assert!(band_rows >= 60, "bands card {i}: {band_rows} band rows");
    }
    // The same seed and index give the same card.
    let a = render_card_case(&fonts, SEED, 5, CardCase::BrushName);
    let b = render_card_case(&fonts, SEED, 5, CardCase::BrushName);
    assert_eq!(a.truth, b.truth);
    assert!(a.image == b.image);
    Ok(())
}

#[test]
fn contracts_print_the_party_pairs_and_tables() -> Result<(), Box<dyn std::error::Error>> {
    let fonts = Fonts::system()?;
    let ocr = Ocr::new(&OcrOptions::default())?;
    let page = render_contract_case(&fonts, SEED, 0, ContractCase::PartyPairs);
    let read = ocr.read(page.image.clone(), PageLayout::Page)?;
    let text = normalize_value(&read.page.text());
    let (label_a, label_b) = PARTY_PAIRS[0];
    for (label, party) in [
        (label_a, &page.truth.party_a),
        (label_b, &page.truth.party_b),
    ] {
        let printed = normalize_value(&format!("{label}{party}"));
        let printed = printed.replace('：', ":");
        let text = text.replace('：', ":");
        assert!(text.contains(&printed), "{printed} not in\n{text}");
    }

    for i in 0..3 {
        let table = render_contract_case(&fonts, SEED, i, ContractCase::Table).image;
        // Grid rules: rows dark across most of the text width.
        let rules = (0..table.height())
            .filter(|&y| (110..1130).all(|x| luma(table.get_pixel(x, y)) < 90.0))
            .count();
        assert!(rules >= 10, "table page {i}: {rules} rule rows");
        let plain = render_contract_case(&fonts, SEED, i, ContractCase::PartyPairs).image;
        let plain_rules = (0..plain.height())
            .filter(|&y| (110..1130).all(|x| luma(plain.get_pixel(x, y)) < 90.0))
            .count();
        assert_eq!(plain_rules, 0, "page {i} without a table has no rules");
    }
    Ok(())
}
