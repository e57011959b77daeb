//! On-device scanning of business cards and contracts (feature `scan`).
//!
//! [`prepare`] takes the camera's bytes (JPEG or PNG, any EXIF orientation) and returns the
//! document's four corners and a flat, evenly lit, sharpened image ready for OCR:
//!
//! 1. **decode** ([`decode`](self)): JPEG/PNG only; HEIC, AVIF, WebP, ... are named in a
//!    [`ScanError::UnsupportedFormat`]. Images above [`PrepareOptions::max_pixels`] are refused
//!    before any pixel is allocated. The full frame is never rotated: the EXIF orientation is
//!    applied as a coordinate map.
//! 2. **detect**: line evidence on a small copy, the supported quadrilaterals ranked, then the
//!    chosen one's sides re-fitted in the full-resolution frame (see `detect.rs`). With
//!    [`prepare_with_text`] (what [`pipeline::Scanner`] uses) the text found on the same small
//!    copy decides among the candidates: an outline with text just outside it is an inner edge
//!    (a divider, a colour band, a table) and grows to the outer one; one holding no text, or
//!    the same text as a smaller supported one inside it, is background (see `crop.rs`). When
//!    nothing convincing is found, `document_found` is false, the corners are the text's padded
//!    bounding box (or the whole image) and the confidence low.
//! 3. **enhance**: perspective warp to the document's aspect ratio (cards 90:54, pages 1:√2),
//!    long side at least 1280 px (a page's short side at least 960); a smaller source is upscaled
//!    once, bicubic, and [`Prepared::upscale`] says by how much. Then paper-level division per
//!    channel (shadows, light gradients and colour casts go), a black-point stretch and an unsharp
//!    mask.
//!
//! 4. **read** ([`ocr`]): PP-OCR ([`ppocr`]: text detection, direction, line recognition, run
//!    by the pure-Rust `rten` runtime) over the flat colour image; the rotation that makes the
//!    text upright is decided from the text itself (from the text step 2 found on the photo,
//!    carried onto the flat image, when it holds enough lines: a sideways document is then
//!    detected once, upright), then lines with confidences and boxes.
//! 5. **extract** ([`extract`]): the fields of a card or a contract, each with a confidence and
//!    its box in the flattened image.
//!
//! [`pipeline::Scanner`] runs all five and owns the OCR models between scans;
//! [`pipeline::create_contact_from_card`] and [`pipeline::attach_scan`] turn a scan into a
//! contact (with its duplicate candidates) or an attachment.
//!
//! ```no_run
//! # fn main() -> Result<(), outpost_core::scan::ScanError> {
//! let bytes = std::fs::read("card.jpg").unwrap_or_default();
//! let p = outpost_core::scan::prepare(&bytes, outpost_core::scan::DocKind::Auto)?;
//! println!("corners {:?} (confidence {:.2}), flat {}x{}", p.corners, p.corner_confidence,
//!     p.flat.width(), p.flat.height());
//! # Ok(()) }
//! ```

mod crop;
mod decode;
mod detect;
mod enhance;
pub mod error;
mod geom;
mod warp;

pub mod extract;
pub mod ocr;
pub mod pipeline;
pub mod ppocr;

pub use crop::roc_auc;
pub use error::ScanError;
pub use geom::{quad_iou, Point};
pub use ppocr::TextBox;
pub use warp::{CARD_RATIO, MIN_LONG_SIDE, MIN_PAGE_SHORT_SIDE, PAGE_RATIO};

use image::{GrayImage, RgbImage};
use std::time::Instant;

/// What kind of document the photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// A business card (about 90 x 54 mm).
    Card,
    /// A contract page (A4).
    Contract,
    /// Not known: decide from the photo.
    Auto,
}

/// Limits and overrides for [`prepare_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct PrepareOptions {
    /// What the caller expects; `Auto` lets the aspect ratio decide.
    pub kind_hint: DocKind,
    /// Images with more pixels than this are refused before decoding ([`ScanError::TooLarge`]).
    /// Default 64 MP: a 50 MP photo decodes (150 MB of RGB), a 100 MP one is refused.
    pub max_pixels: u64,
    /// Images whose short side is below this are refused ([`ScanError::TooSmall`]). Default 64.
    pub min_side: u32,
    /// Long side of the small copy used to find the document. Default 640.
    pub detect_long_side: u32,
    /// Smallest long side of the copy [`prepare_with_text`] gives its text finder (the
    /// outline's copy is too coarse for a card's smaller lines). Default 960.
    pub text_long_side: u32,
    /// Corners chosen by the user (oriented image, clockwise from top-left): skip detection.
    pub corners: Option<[Point; 4]>,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            kind_hint: DocKind::Auto,
            max_pixels: 64_000_000,
            min_side: 64,
            detect_long_side: 640,
            text_long_side: 960,
            corners: None,
        }
    }
}

/// Milliseconds spent in each step of [`prepare`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PrepareTimings {
    /// Reading the JPEG/PNG into pixels.
    pub decode_ms: f64,
    /// Finding and refining the corners (including the small copy and the text search).
    pub detect_ms: f64,
    /// Of `detect_ms`, finding the text on the small copy ([`prepare_with_text`]; 0 without).
    pub text_ms: f64,
    /// Warp, flattening and sharpening.
    pub enhance_ms: f64,
}

/// One candidate outline of the document.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutlineCandidate {
    /// Coarse corners in the upright input image, clockwise from top-left.
    pub corners: [Point; 4],
    /// 0..1, the same calibrated score as [`Prepared::corner_confidence`] before refinement.
    pub confidence: f32,
}

/// A photo made ready for OCR.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Width of the upright input image (after EXIF orientation).
    pub oriented_width: u32,
    /// Height of the upright input image.
    pub oriented_height: u32,
    /// The document's corners in the upright input image, clockwise from top-left. They may lie
    /// slightly outside the image when the document is cut by the frame.
    pub corners: [Point; 4],
    /// 0..1: how likely the corners are the document's outline (edge support of the four sides,
    /// regular angles, a card's or a page's aspect ratio, and, with [`prepare_with_text`], the
    /// text inside and none just outside). Below 0.3 when nothing was found.
    pub corner_confidence: f32,
    /// False when no document outline was found: the corners are then the text's padded
    /// bounding box, or the whole image.
    pub document_found: bool,
    /// Every candidate outline considered (coarse corners in the oriented image) with its
    /// confidence, best edge score first; lets a benchmark measure how well the confidence
    /// separates right outlines from wrong ones.
    pub candidates: Vec<OutlineCandidate>,
    /// The text boxes found on the small copy, in the upright input image's pixels (none
    /// without [`prepare_with_text`]).
    pub text: Vec<TextBox>,
    /// The kind suggested by the flattened aspect ratio (`Auto` when it fits neither).
    pub kind_guess: DocKind,
    /// The flat, evenly lit, sharpened grey image for OCR.
    pub flat: GrayImage,
    /// The same in colour (white balanced), for storing and showing.
    pub flat_colour: RgbImage,
    /// How much the source region was enlarged to reach the minimum size (1.0 = not at all).
    pub upscale: f32,
    /// Time per step.
    pub timings: PrepareTimings,
}

impl Prepared {
    /// The text boxes found on the photo ([`Prepared::text`]) that lie on the document, in the
    /// flat image's pixels ([`boxes_onto_flat`]).
    pub fn text_on_flat(&self) -> Vec<TextBox> {
        let (w, h) = self.flat_colour.dimensions();
        boxes_onto_flat(&self.text, &self.corners, w, h)
    }
}

/// Carries text boxes from the photo onto the flat image that the document with `corners`
/// (clockwise from top-left) was warped to, `width x height`: each corner goes through the
/// warp's perspective map. Boxes whose centre falls outside the document are left out.
pub fn boxes_onto_flat(
    boxes: &[TextBox],
    corners: &[Point; 4],
    width: u32,
    height: u32,
) -> Vec<TextBox> {
    let (wf, hf) = (f64::from(width), f64::from(height));
    let rect = [[0.0, 0.0], [wf, 0.0], [wf, hf], [0.0, hf]];
    let from = corners.map(|p| p.map(f64::from));
    let Some(map) = geom::Homography::from_points(&from, &rect) else {
        return Vec::new();
    };
    boxes
        .iter()
        .filter_map(|b| {
            let c = map.apply(b.centre().map(f64::from))?;
            if !(0.0..wf).contains(&c[0]) || !(0.0..hf).contains(&c[1]) {
                return None;
            }
            let mut out = [[0.0f32; 2]; 4];
            for (o, p) in out.iter_mut().zip(b.corners) {
                let q = map.apply(p.map(f64::from))?;
                *o = [q[0].clamp(0.0, wf) as f32, q[1].clamp(0.0, hf) as f32];
            }
            Some(TextBox {
                corners: geom::order_clockwise(out),
                score: b.score,
            })
        })
        .collect()
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// Decodes, finds the document and flattens it, with default options and the given hint.
pub fn prepare(bytes: &[u8], kind_hint: DocKind) -> Result<Prepared, ScanError> {
    prepare_with(
        bytes,
        &PrepareOptions {
            kind_hint,
            ..PrepareOptions::default()
        },
    )
}

/// [`prepare`] with explicit limits, or with corners the user chose. The outline is chosen
/// from the edges alone; [`prepare_with_text`] also checks it against the text.
pub fn prepare_with(bytes: &[u8], opts: &PrepareOptions) -> Result<Prepared, ScanError> {
    run::<ScanError>(bytes, opts, None)
}

/// [`prepare_with`], with `find_text` finding the text boxes (in its pixels) of an upright copy
/// of the photo (at least `opts.text_long_side` on its long side, or the photo itself when
/// smaller). The text decides among the candidate outlines; see the module docs.
/// [`pipeline::Scanner`] passes the PP-OCR detector.
pub fn prepare_with_text<E, F>(
    bytes: &[u8],
    opts: &PrepareOptions,
    find_text: F,
) -> Result<Prepared, E>
where
    E: From<ScanError>,
    F: Fn(&RgbImage) -> Result<Vec<TextBox>, E>,
{
    run(bytes, opts, Some(&find_text))
}

type FindText<'a, E> = &'a dyn Fn(&RgbImage) -> Result<Vec<TextBox>, E>;

/// Corners, confidence and candidates of the document in the frame.
struct Located {
    corners: [Point; 4],
    confidence: f32,
    found: bool,
    candidates: Vec<OutlineCandidate>,
    text: Vec<TextBox>,
    text_ms: f64,
}

fn locate<E>(
    frame: &decode::Frame,
    opts: &PrepareOptions,
    find_text: Option<FindText<'_, E>>,
) -> Result<Located, E> {
    let (ow, oh) = frame.oriented_dims();
    let whole = [
        [0.0, 0.0],
        [ow as f32, 0.0],
        [ow as f32, oh as f32],
        [0.0, oh as f32],
    ];
    let k = ow.max(oh).div_ceil(opts.detect_long_side).max(1);
    let small = decode::small_oriented(frame, k);
    let outlines = detect::outlines(&small);
    let (mut text, mut text_ms) = (None, 0.0);
    if let Some(find) = find_text {
        let t = Instant::now();
        let kt = (ow.max(oh) / opts.text_long_side.max(1)).max(1);
        let boxes = if kt == k {
            find(&small)?
        } else {
            let copy = decode::small_oriented(frame, kt);
            let s = kt as f32 / k as f32;
            find(&copy)?.into_iter().map(|b| b.scaled(s, s)).collect()
        };
        text = Some(boxes);
        text_ms = ms(t);
    }
    let (sw, sh) = (f64::from(small.width()), f64::from(small.height()));
    let choice = crop::choose(&outlines, text.as_deref(), sw, sh);
    let kf = k as f32;
    let candidates = outlines
        .iter()
        .zip(&choice.logits)
        .map(|(o, z)| OutlineCandidate {
            corners: geom::order_clockwise(o.points().map(|p| [p[0] * kf, p[1] * kf])),
            confidence: crop::sigmoid(*z) as f32,
        })
        .collect();
    let text = text
        .unwrap_or_default()
        .into_iter()
        .map(|b| b.scaled(kf, kf))
        .collect::<Vec<_>>();
    let refined = choice.index.and_then(|i| {
        detect::refine(&outlines[i], k, frame).map(|(c, rate)| {
            // The refinement's hit rate is the last piece of evidence.
            let z = choice.logits[i] + 1.5 * (rate - 0.7);
            (c, crop::sigmoid(z) as f32)
        })
    });
    Ok(match refined {
        Some((corners, confidence)) => Located {
            corners,
            confidence,
            found: true,
            candidates,
            text,
            text_ms,
        },
        None => Located {
            corners: choice
                .text_box
                .map(|b| b.map(|p| [p[0] * kf, p[1] * kf]))
                .unwrap_or(whole),
            confidence: if choice.text_box.is_some() { 0.15 } else { 0.1 },
            found: false,
            candidates,
            text,
            text_ms,
        },
    })
}

fn run<E: From<ScanError>>(
    bytes: &[u8],
    opts: &PrepareOptions,
    find_text: Option<FindText<'_, E>>,
) -> Result<Prepared, E> {
    for (option, v) in [
        ("detect_long_side", opts.detect_long_side),
        ("text_long_side", opts.text_long_side),
    ] {
        if v < 64 {
            return Err(ScanError::InvalidOption {
                option,
                reason: format!("{v} is below 64 pixels"),
            }
            .into());
        }
    }
    let t = Instant::now();
    let frame = decode::decode(bytes, opts.max_pixels, opts.min_side)?;
    let decode_ms = ms(t);

    let t = Instant::now();
    let (ow, oh) = frame.oriented_dims();
    let located = match opts.corners {
        Some(c) => Located {
            corners: geom::order_clockwise(c),
            confidence: 1.0,
            found: true,
            candidates: Vec::new(),
            text: Vec::new(),
            text_ms: 0.0,
        },
        None => locate(&frame, opts, find_text)?,
    };
    let detect_ms = ms(t);

    let t = Instant::now();
    let plan = warp::plan(&located.corners, opts.kind_hint, located.found);
    let mut colour = warp::warp(
        &frame,
        &located.corners,
        plan.width,
        plan.height,
        plan.upscale,
    )
    .ok_or_else(|| ScanError::InvalidOption {
        option: "corners",
        reason: format!("{:?} do not form a quadrilateral", located.corners),
    })?;
    drop(frame);
    enhance::flatten(&mut colour);
    let mut flat = enhance::grey(&colour);
    enhance::sharpen(&mut flat, &mut colour, 2, 0.8);
    let enhance_ms = ms(t);

    Ok(Prepared {
        oriented_width: ow,
        oriented_height: oh,
        corners: located.corners,
        corner_confidence: located.confidence,
        document_found: located.found,
        candidates: located.candidates,
        text: located.text,
        kind_guess: plan.kind_guess,
        flat,
        flat_colour: colour,
        upscale: plan.upscale,
        timings: PrepareTimings {
            decode_ms,
            detect_ms,
            text_ms: located.text_ms,
            enhance_ms,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photo_boxes_land_on_the_flat_image_and_boxes_off_the_document_are_dropped() {
        // A document lying as a trapezoid (far edge shorter), flattened to 200 x 100.
        let corners = [[120.0, 50.0], [280.0, 50.0], [320.0, 250.0], [80.0, 250.0]];
        let line = TextBox {
            // Along the document's top edge, whose corners map to the flat's.
            corners: [[120.0, 50.0], [280.0, 50.0], [280.0, 60.0], [120.0, 60.0]],
            score: 0.9,
        };
        let outside = TextBox {
            corners: [[0.0, 0.0], [60.0, 0.0], [60.0, 20.0], [0.0, 20.0]],
            score: 0.8,
        };
        let flat = boxes_onto_flat(&[line, outside], &corners, 200, 100);
        assert_eq!(flat.len(), 1, "{flat:?}");
        let b = flat[0];
        assert!((b.corners[0][0] - 0.0).abs() < 1e-3 && (b.corners[0][1] - 0.0).abs() < 1e-3);
        assert!((b.corners[1][0] - 200.0).abs() < 1e-3 && (b.corners[1][1]).abs() < 1e-3);
        // The lower edge is 10 px down a document 200 px tall, which a uniform scale would put
        // at 5 px of the flat's 100; the far edge is foreshortened, so it lands lower (7.3),
        // and the box's right side, upright in the photo, leans in as the document widens.
        let [_, _, c2, c3] = b.corners;
        assert!(
            (6.5..8.0).contains(&c2[1]) && (c2[1] - c3[1]).abs() < 1e-3,
            "{b:?}"
        );
        assert!(c2[0] < 199.0 && c3[0] > 1.0, "{b:?}");
        assert_eq!(b.score, 0.9);
        // Degenerate corners carry nothing.
        assert!(boxes_onto_flat(&[line], &[[0.0, 0.0]; 4], 200, 100).is_empty());
    }
}
