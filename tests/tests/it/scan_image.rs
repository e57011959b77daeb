//! The image half of scanning on synthetic photos: corners, orientation, bad input.
#![allow(clippy::unwrap_used)]

use image::{Rgb, RgbImage};
use outpost_core::scan::{self, quad_iou, DocKind, PrepareOptions, ScanError};
use outpost_tests::bench_scan_image::corner_accuracy;
use outpost_tests::scan_photo::{corpus, encode_jpeg, synth_document, synth_photo};

#[test]
fn corners_are_found_on_synthetic_photos() {
    let photos = corpus(24, 1600, 1200, 7);
    let acc = corner_accuracy(&photos);
    for (i, (iou, p)) in acc.per_photo.iter().zip(&photos).enumerate() {
        eprintln!("photo {i:2}: iou {iou:.4} {:?}", p.params);
    }
    eprintln!(
        "mean {:.4} min {:.4} found {}/{}",
        acc.corner_iou_mean, acc.corner_iou_min, acc.found, acc.photos
    );
    assert!(
        acc.corner_iou_mean >= 0.97,
        "mean corner IoU {:.4} < 0.97",
        acc.corner_iou_mean
    );
    assert!(
        acc.corner_iou_min >= 0.85,
        "worst corner IoU {:.4} < 0.85",
        acc.corner_iou_min
    );
}

#[test]
fn flat_output_has_the_document_shape_and_size() {
    let doc = synth_document(DocKind::Card, 3);
    let photo = synth_photo(&doc, 11, 1600, 1200);
    let p = scan::prepare(&photo.jpeg, DocKind::Auto).unwrap();
    assert!(p.document_found);
    assert_eq!(p.kind_guess, DocKind::Card);
    let (w, h) = p.flat.dimensions();
    let (long, short) = (w.max(h), w.min(h));
    assert!(long >= 1280, "{w}x{h}");
    assert!(
        (long as f32 / short as f32 - scan::CARD_RATIO).abs() < 0.01,
        "{w}x{h}"
    );
    assert_eq!(p.flat_colour.dimensions(), (w, h));
    // The paper came out white and the text dark: a clean, high-contrast page.
    let mut hist = [0u32; 256];
    for px in p.flat.pixels() {
        hist[px.0[0] as usize] += 1;
    }
    let total = (w * h) as f32;
    let white = hist[230..].iter().sum::<u32>() as f32 / total;
    let dark = hist[..80].iter().sum::<u32>() as f32 / total;
    assert!(white > 0.5, "only {white:.2} of the card is white paper");
    assert!(dark > 0.02, "only {dark:.3} of the card is dark ink");
}

#[test]
fn exif_orientation_is_honoured() {
    // The same oriented scene stored plainly and stored rotated with an EXIF tag must give the
    // same oriented size and the same corners.
    let doc = synth_document(DocKind::Contract, 5);
    let photo = synth_photo(&doc, 21, 1200, 1600);
    let img = image::load_from_memory(&photo.jpeg).unwrap();
    let mut upright = img.clone();
    if let Ok(mut dec) = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(&photo.jpeg)) {
        use image::ImageDecoder;
        upright.apply_orientation(dec.orientation().unwrap());
    }
    let upright = upright.to_rgb8();
    let plain = encode_jpeg(&upright, 92, 1);
    let base = scan::prepare(&plain, DocKind::Auto).unwrap();
    for (o, stored) in [
        (6u8, image::imageops::rotate270(&upright)),
        (8, image::imageops::rotate90(&upright)),
        (3, image::imageops::rotate180(&upright)),
        (2, image::imageops::flip_horizontal(&upright)),
    ] {
        let bytes = encode_jpeg(&stored, 92, o);
        let p = scan::prepare(&bytes, DocKind::Auto).unwrap();
        assert_eq!(
            (p.oriented_width, p.oriented_height),
            (1200, 1600),
            "orientation {o}"
        );
        let iou = quad_iou(&p.corners, &base.corners);
        assert!(
            iou > 0.99,
            "orientation {o}: iou {iou} vs the upright photo"
        );
        let truth = quad_iou(&p.corners, &photo.corners);
        assert!(truth > 0.95, "orientation {o}: iou {truth} vs ground truth");
    }
}

#[test]
fn blank_and_black_photos_are_honest() {
    for (name, colour) in [("white", [250u8, 250, 250]), ("black", [3, 3, 3])] {
        let img = RgbImage::from_pixel(800, 600, Rgb(colour));
        let p = scan::prepare(&encode_jpeg(&img, 90, 1), DocKind::Auto).unwrap();
        assert!(
            !p.document_found,
            "{name}: found a document in a blank photo"
        );
        assert!(
            p.corner_confidence < 0.3,
            "{name}: confidence {}",
            p.corner_confidence
        );
        assert_eq!(
            p.corners,
            [[0.0, 0.0], [800.0, 0.0], [800.0, 600.0], [0.0, 600.0]]
        );
        assert!(p.flat.width().max(p.flat.height()) >= 1280);
    }
}

#[test]
fn bad_input_gives_clear_errors() {
    let tiny = encode_jpeg(&RgbImage::from_pixel(20, 20, Rgb([200, 200, 200])), 90, 1);
    match scan::prepare(&tiny, DocKind::Auto) {
        Err(e @ ScanError::TooSmall { min: 64, .. }) => {
            assert!(e.to_string().contains("20x20"), "{e}")
        }
        other => panic!("tiny image: {other:?}"),
    }
    let photo = corpus(1, 800, 600, 3).remove(0).jpeg;
    for cut in [photo.len() / 2, 200, 3] {
        match scan::prepare(&photo[..cut], DocKind::Auto) {
            Err(e @ (ScanError::Corrupt { .. } | ScanError::NotAnImage { .. })) => {
                assert!(!e.to_string().is_empty())
            }
            Ok(p) => panic!(
                "truncated to {cut} bytes decoded as {}x{}",
                p.oriented_width, p.oriented_height
            ),
            Err(e) => panic!("truncated to {cut} bytes: unexpected {e}"),
        }
    }
    match scan::prepare(
        b"name,phone\n\xe5\xbc\xa0\xe4\xbc\x9f,13800138000\n",
        DocKind::Auto,
    ) {
        Err(e @ ScanError::NotAnImage { .. }) => {
            assert!(e.to_string().contains("not an image"), "{e}")
        }
        other => panic!("csv: {other:?}"),
    }
    let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heicmiaf\0\0\0\0";
    match scan::prepare(heic, DocKind::Auto) {
        Err(e @ ScanError::UnsupportedFormat { .. }) => {
            assert!(e.to_string().contains("HEIC"), "{e}")
        }
        other => panic!("heic: {other:?}"),
    }
    assert!(matches!(
        scan::prepare(&[], DocKind::Auto),
        Err(ScanError::NotAnImage { .. })
    ));
}

#[test]
fn a_50_megapixel_photo_is_bounded() {
    // 8192 x 6144 = 50.3 MP. Refused by a 40 MP limit before any pixel is decoded...
    let img = RgbImage::from_fn(8192, 6144, |x, y| {
        if (2000..6000).contains(&x) && (1500..4500).contains(&y) {
            Rgb([240, 238, 235])
        } else {
            Rgb([70, 60, 50])
        }
    });
    let bytes = encode_jpeg(&img, 80, 1);
    drop(img);
    let opts = PrepareOptions {
        max_pixels: 40_000_000,
        ..PrepareOptions::default()
    };
    match scan::prepare_with(&bytes, &opts) {
        Err(
            e @ ScanError::TooLarge {
                width: 8192,
                height: 6144,
                ..
            },
        ) => assert!(e.to_string().contains("50.3 MP"), "{e}"),
        other => panic!("{other:?}"),
    }
    // ...and scanned within the default 64 MP limit, with the document found.
    let p = scan::prepare(&bytes, DocKind::Auto).unwrap();
    assert!(p.document_found);
    let truth = [
        [2000.0, 1500.0],
        [6000.0, 1500.0],
        [6000.0, 4500.0],
        [2000.0, 4500.0],
    ];
    assert!(quad_iou(&p.corners, &truth) > 0.99, "{:?}", p.corners);
    assert!(p.flat.width() <= 2400 && p.flat.height() <= 2400);
}

#[test]
fn user_corners_skip_detection() {
    let photo = corpus(1, 1000, 750, 9).remove(0);
    let opts = PrepareOptions {
        corners: Some(photo.corners),
        kind_hint: DocKind::Card,
        ..PrepareOptions::default()
    };
    let p = scan::prepare_with(&photo.jpeg, &opts).unwrap();
    assert!(quad_iou(&p.corners, &photo.corners) > 0.999);
    assert_eq!(p.corner_confidence, 1.0);
}

// ---------------------------------------------------------------------------------------------
// The outline checked against the text: photos where the strongest closed edges are not the
// document (issue 18, item 4).

mod hard_outlines {
    use image::{imageops, Rgb, RgbImage};
    use imageproc::geometric_transformations::Projection;
    use outpost_core::scan::pipeline::Scanner;
    use outpost_core::scan::{self, quad_iou, roc_auc, DocKind};
    use outpost_core::Region;
    use outpost_tests::scan_photo::{
        corpus, encode_jpeg, synth_photo, Background, Rng, SyntheticPhoto,
    };
    use outpost_tests::scan_render::{render_card, render_contract, Fonts};

    const SEED: u64 = 18;

    /// One photo and where the document really is (`None`: there is none).
    struct Scene {
        name: &'static str,
        jpeg: Vec<u8>,
        truth: Option<[[f32; 2]; 4]>,
    }

    fn luminance(p: &Rgb<u8>) -> f32 {
        0.299 * f32::from(p.0[0]) + 0.587 * f32::from(p.0[1]) + 0.114 * f32::from(p.0[2])
    }

    /// Prints the rectangle `x0..x1 x y0..y1` of `img` in `colour`, its ink turning light (white
    /// text on a dark band, the dark half of a two-tone card).
    fn reverse(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, colour: [u8; 3]) {
        for y in y0..y1.min(img.height()) {
            for x in x0..x1.min(img.width()) {
                let t = luminance(img.get_pixel(x, y)) / 255.0;
                let light = [244.0, 242.0, 236.0];
                let v: [u8; 3] = std::array::from_fn(|c| {
                    (f32::from(colour[c]) * t + light[c] * (1.0 - t)) as u8
                });
                img.put_pixel(x, y, Rgb(v));
            }
        }
    }

    fn fill(img: &mut RgbImage, x0: u32, y0: u32, x1: u32, y1: u32, colour: [u8; 3]) {
        for y in y0..y1.min(img.height()) {
            for x in x0..x1.min(img.width()) {
                img.put_pixel(x, y, Rgb(colour));
            }
        }
    }

    /// A photo of `doc` from the first seed at or after `seed` that keeps the document off
    /// the frame's edge, lies on background `on` (any when `None`) and, when `upright`, is
    /// stored without an EXIF rotation.
    fn photo(doc: &RgbImage, seed: u64, on: Option<Background>, upright: bool) -> SyntheticPhoto {
        (seed..seed + 200)
            .map(|s| synth_photo(doc, s, 1600, 1200))
            .find(|p| {
                !p.params.at_edge
                    && (!upright || p.params.exif_orientation == 1)
                    && on.is_none_or(|b| b == p.params.background)
            })
            .unwrap_or_else(|| synth_photo(doc, seed, 1600, 1200))
    }

    fn wood(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
        let tone = [
            rng.range(150.0, 190.0),
            rng.range(100.0, 130.0),
            rng.range(55.0, 80.0),
        ];
        let freq = rng.range(0.04, 0.07);
        RgbImage::from_fn(w, h, |x, y| {
            let (u, v) = (x as f32, y as f32);
            let warp = 8.0 * (u * 0.006).sin() + 3.0 * (u * 0.021 + v * 0.004).sin();
            let g = ((v + warp) * freq).sin() * 0.5 + 0.5;
            let k = 0.7 + 0.3 * g.powf(3.0);
            Rgb(tone.map(|c| (c * k).min(255.0) as u8))
        })
    }

    fn scenes(fonts: &Fonts) -> Vec<Scene> {
        let mut out = Vec::new();
        // A card with a dark colour band along its bottom, white text on it.
        let mut card = render_card(fonts, SEED, 0).image;
        let (w, h) = card.dimensions();
        reverse(&mut card, 0, h * 78 / 100, w, h, [28, 58, 140]);
        let p = photo(&card, 101, None, false);
        out.push(Scene {
            name: "colour band",
            jpeg: p.jpeg,
            truth: Some(p.corners),
        });

        // A card with a dark divider rule right across it, text on both sides.
        let mut card = render_card(fonts, SEED, 1).image;
        let (w, h) = card.dimensions();
        let y = h * 55 / 100;
        fill(&mut card, 0, y, w, y + 14, [35, 38, 44]);
        // On printed paper the card's own edge competes with the print; the rule does not.
        let p = photo(&card, 215, Some(Background::Text), false);
        out.push(Scene {
            name: "divider rule",
            jpeg: p.jpeg,
            truth: Some(p.corners),
        });

        // A two-tone card: the right 42 % is black with white text.
        let mut card = render_card(fonts, SEED, 2).image;
        let (w, h) = card.dimensions();
        reverse(&mut card, w * 58 / 100, 0, w, h, [16, 16, 18]);
        let p = photo(&card, 307, None, false);
        out.push(Scene {
            name: "two-tone card",
            jpeg: p.jpeg,
            truth: Some(p.corners),
        });

        // An A4 page with a ruled table in its lower half.
        let mut page = render_contract(fonts, SEED, 0).image;
        let (w, h) = page.dimensions();
        let (tx0, tx1, ty0, ty1) = (90, w - 90, h * 52 / 100, h * 80 / 100);
        for (x0, y0, x1, y1) in [
            (tx0, ty0, tx1, ty0 + 6),
            (tx0, ty1 - 6, tx1, ty1),
            (tx0, ty0, tx0 + 6, ty1),
            (tx1 - 6, ty0, tx1, ty1),
        ] {
            fill(&mut page, x0, y0, x1, y1, [30, 30, 34]);
        }
        for k in 1..6 {
            let y = ty0 + (ty1 - ty0) * k / 6;
            fill(&mut page, tx0, y, tx1, y + 2, [60, 60, 66]);
        }
        let xm = tx0 + (tx1 - tx0) / 3;
        fill(&mut page, xm, ty0, xm + 2, ty1, [60, 60, 66]);
        let p = photo(&page, 205, Some(Background::Text), false);
        out.push(Scene {
            name: "page with a table",
            jpeg: p.jpeg,
            truth: Some(p.corners),
        });

        // A card lying on a wood panel much larger than it.
        let card = render_card(fonts, SEED, 3).image;
        let mut rng = Rng::new(SEED);
        let (pw, ph) = (2600, 1900);
        let mut panel = wood(pw, ph, &mut rng);
        let (cx, cy) = (620u32, 520u32);
        imageops::replace(&mut panel, &card, i64::from(cx), i64::from(cy));
        let p = photo(&panel, 503, Some(Background::Plain), false);
        let to_photo = Projection::from_control_points(
            [
                (0.0, 0.0),
                (pw as f32, 0.0),
                (pw as f32, ph as f32),
                (0.0, ph as f32),
            ],
            p.corners.map(|c| (c[0], c[1])),
        );
        if let Some(t) = to_photo {
            let (cw, ch) = (card.width() as f32, card.height() as f32);
            let (x0, y0) = (cx as f32, cy as f32);
            let truth = [(x0, y0), (x0 + cw, y0), (x0 + cw, y0 + ch), (x0, y0 + ch)].map(|q| {
                let (x, y) = t * q;
                [x, y]
            });
            out.push(Scene {
                name: "card on a wood panel",
                jpeg: p.jpeg,
                truth: Some(truth),
            });
        }

        // A photo with a dark frame border all round (a case's shadow, a photo of a print).
        let card = render_card(fonts, SEED, 4).image;
        let p = photo(&card, 601, Some(Background::LowContrast), true);
        let mut img = image::load_from_memory(&p.jpeg)
            .map(|i| i.to_rgb8())
            .unwrap_or_else(|_| RgbImage::new(1600, 1200));
        {
            let (w, h) = img.dimensions();
            let b = 40;
            let frame = [12, 12, 14];
            fill(&mut img, 0, 0, w, b, frame);
            fill(&mut img, 0, h - b, w, h, frame);
            fill(&mut img, 0, 0, b, h, frame);
            fill(&mut img, w - b, 0, w, h, frame);
            let jpeg = encode_jpeg(&img, 88, 1);
            out.push(Scene {
                name: "dark frame border",
                jpeg,
                truth: Some(p.corners),
            });
        }

        // A card already cut out (a scan, or a photo cropped by the sender): the whole image.
        let card = render_card(fonts, SEED, 6).image;
        let (w, h) = (card.width() as f32, card.height() as f32);
        out.push(Scene {
            name: "card already cut out",
            jpeg: encode_jpeg(&card, 88, 1),
            truth: Some([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]),
        });

        // No document: a notice printed straight onto a light wall.
        let card = render_card(fonts, SEED, 5).image;
        let notice = imageops::resize(&card, 900, 540, imageops::FilterType::Triangle);
        let mut wall = RgbImage::from_fn(1600, 1200, |x, y| {
            let v = 212.0 - 0.012 * x as f32 + 0.008 * y as f32;
            Rgb([v as u8, (v - 4.0) as u8, (v - 12.0) as u8])
        });
        // Only the ink goes onto the wall: each channel relative to the card's paper colour.
        let paper: [f32; 3] = std::array::from_fn(|c| {
            let mut v: Vec<u8> = notice.pixels().map(|p| p.0[c]).collect();
            v.sort_unstable();
            f32::from(v[v.len() * 9 / 10]).max(1.0)
        });
        for (x, y, px) in notice.enumerate_pixels() {
            let q = wall.get_pixel_mut(x + 330, y + 300);
            for ((wall_c, ink_c), paper_c) in q.0.iter_mut().zip(px.0).zip(paper) {
                let t = (f32::from(ink_c) / paper_c).min(1.0);
                *wall_c = (f32::from(*wall_c) * t) as u8;
            }
        }
        out.push(Scene {
            name: "text on a wall",
            jpeg: encode_jpeg(&wall, 88, 1),
            truth: None,
        });
        out
    }

    /// Right when it overlaps the true outline with IoU >= 0.9.
    fn right(corners: &[[f32; 2]; 4], truth: &[[f32; 2]; 4]) -> bool {
        quad_iou(corners, truth) >= 0.9
    }

    #[test]
    fn the_text_decides_the_outline_on_hard_photos() -> Result<(), Box<dyn std::error::Error>> {
        let scanner = Scanner::new(&outpost_core::scan::ppocr::default_dir(), Region::default())?;
        let fonts = Fonts::system()?;
        let (mut ious, mut edge_ious) = (Vec::new(), Vec::new());
        let (mut conf_right, mut conf_wrong) = (Vec::new(), Vec::new());
        let mut text_ms = Vec::new();
        let mut failures = Vec::new();
        for scene in scenes(&fonts) {
            if let Some(dir) = std::env::var_os("OUTPOST_SCAN_DUMP") {
                let path = std::path::Path::new(&dir).join(format!("{}.jpg", scene.name));
                std::fs::write(path, &scene.jpeg)?;
            }
            let edges = scan::prepare(&scene.jpeg, DocKind::Auto)?;
            let p = scanner.prepare(&scene.jpeg, DocKind::Auto)?;
            text_ms.push(p.timings.text_ms);
            let Some(truth) = scene.truth else {
                eprintln!(
                    "{:22} no document: found {} confidence {:.2} (edges only: found {} {:.2}), {} text boxes",
                    scene.name, p.document_found, p.corner_confidence, edges.document_found,
                    edges.corner_confidence, p.text.len()
                );
                if p.document_found {
                    failures.push(format!(
                        "{}: an outline was found on a bare wall",
                        scene.name
                    ));
                }
                assert!(
                    p.corner_confidence < 0.3,
                    "{}: {}",
                    scene.name,
                    p.corner_confidence
                );
                conf_wrong.push(p.corner_confidence);
                continue;
            };
            let iou = quad_iou(&p.corners, &truth);
            let edge_iou = quad_iou(&edges.corners, &truth);
            ious.push(iou);
            edge_ious.push(edge_iou);
            if right(&p.corners, &truth) {
                conf_right.push(p.corner_confidence);
            } else {
                conf_wrong.push(p.corner_confidence);
            }
            let best_wrong = p
                .candidates
                .iter()
                .filter(|c| !right(&c.corners, &truth))
                .map(|c| c.confidence)
                .fold(0.0f32, f32::max);
            eprintln!(
                "{:22} iou {iou:.4} (edges only {edge_iou:.4}) found {} confidence {:.2}, best wrong candidate {best_wrong:.2}, {} candidates, {} text boxes, text {:.0} ms, outline {:.0} ms",
                scene.name, p.document_found, p.corner_confidence, p.candidates.len(),
                p.text.len(), p.timings.text_ms, p.timings.detect_ms - p.timings.text_ms
            );
            if iou < 0.9 {
                failures.push(format!("{}: corner IoU {iou:.3} < 0.9", scene.name));
            }
            if p.corner_confidence <= best_wrong {
                failures.push(format!(
                    "{}: confidence {:.2} of the outline is not above a wrong candidate's {best_wrong:.2}",
                    scene.name, p.corner_confidence
                ));
            }
        }
        let n = ious.len().max(1) as f32;
        eprintln!(
            "with text: iou mean {:.4} min {:.4}; edges only: mean {:.4} min {:.4}; confidence AUC {:.3}; text {:.0} ms max",
            ious.iter().sum::<f32>() / n,
            ious.iter().copied().fold(1.0, f32::min),
            edge_ious.iter().sum::<f32>() / n,
            edge_ious.iter().copied().fold(1.0, f32::min),
            roc_auc(&conf_right, &conf_wrong),
            text_ms.iter().copied().fold(0.0, f64::max)
        );
        assert!(failures.is_empty(), "{failures:#?}");
        Ok(())
    }

    #[test]
    fn the_text_check_keeps_the_plain_photos_right() -> Result<(), Box<dyn std::error::Error>> {
        let scanner = Scanner::new(&outpost_core::scan::ppocr::default_dir(), Region::default())?;
        let photos = corpus(24, 1600, 1200, 7);
        let mut ious = Vec::new();
        let (mut cand_right, mut cand_wrong) = (Vec::new(), Vec::new());
        let (mut chosen_right, mut chosen_wrong) = (Vec::new(), Vec::new());
        for (i, ph) in photos.iter().enumerate() {
            if let Some(dir) = std::env::var_os("OUTPOST_SCAN_DUMP") {
                std::fs::write(
                    std::path::Path::new(&dir).join(format!("corpus-{i}.jpg")),
                    &ph.jpeg,
                )?;
            }
            let p = scanner.prepare(&ph.jpeg, DocKind::Auto)?;
            let iou = quad_iou(&p.corners, &ph.corners);
            eprintln!(
                "photo {i:2}: iou {iou:.4} confidence {:.2} found {} text boxes {}",
                p.corner_confidence,
                p.document_found,
                p.text.len()
            );
            ious.push(iou);
            if right(&p.corners, &ph.corners) {
                chosen_right.push(p.corner_confidence);
            } else {
                chosen_wrong.push(p.corner_confidence);
            }
            for c in &p.candidates {
                if right(&c.corners, &ph.corners) {
                    cand_right.push(c.confidence);
                } else {
                    cand_wrong.push(c.confidence);
                }
            }
        }
        let mean = ious.iter().sum::<f32>() / ious.len() as f32;
        let min = ious.iter().copied().fold(1.0, f32::min);
        let auc = roc_auc(&cand_right, &cand_wrong);
        eprintln!(
            "with text: mean {mean:.4} min {min:.4}; candidate confidence AUC {auc:.3}; chosen outlines right {} wrong {} AUC {:.3}",
            chosen_right.len(),
            chosen_wrong.len(),
            roc_auc(&chosen_right, &chosen_wrong)
        );
        assert!(mean >= 0.97, "mean corner IoU {mean:.4} < 0.97");
        assert!(min >= 0.85, "worst corner IoU {min:.4} < 0.85");
        assert!(auc >= 0.9, "confidence AUC over candidates {auc:.3} < 0.9");
        Ok(())
    }
}
