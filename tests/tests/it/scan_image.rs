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
