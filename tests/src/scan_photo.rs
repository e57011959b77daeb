//! Deterministic synthetic camera photos of documents, with their ground-truth corners.
//!
//! [`synth_photo`] puts a document image into a photo the way a rep's phone would see it:
//! perspective tilt, in-plane rotation, scale and placement (sometimes touching or cut by the
//! frame), a plain, busy (wood grain, paper clutter, printed text, car-seat fabric) or
//! low-contrast background, a light gradient and a soft shadow, a colour cast, blur, noise,
//! JPEG compression and, in some photos, an EXIF orientation (the pixels are stored rotated so
//! that the *oriented* image matches the ground truth). Everything comes from a seeded RNG.
//! [`synth_photo_with`] fixes the background, or puts a larger panel under the document
//! ([`Background::Panel`]).
//!
//! [`synth_document`] draws a simple stand-in document (white paper, dark text-like rows, a
//! logo block); the real card and contract renderer can be passed to [`synth_photo`] instead.

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::Projection;
use outpost_core::scan::DocKind;

/// A small deterministic RNG (SplitMix64), so the corpus never depends on a crate's version.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }
    /// Uniform integer in `[0, n)`.
    pub fn below(&mut self, n: u32) -> u32 {
        ((self.next_u64() >> 32) % u64::from(n.max(1))) as u32
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f32) -> bool {
        self.range(0.0, 1.0) < p
    }
}

/// The surface the document lies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Background {
    /// A plain dark-to-mid desk.
    Plain,
    /// Wood grain.
    Wood,
    /// Other papers, sticky notes and pens on a desk.
    Clutter,
    /// A printed page of text-like rows (newspaper, another contract).
    Text,
    /// Woven car-seat fabric.
    Fabric,
    /// Light grey, nearly as bright as the paper: the low-contrast case.
    LowContrast,
    /// A plain desk with a larger rectangle under the document (a wood panel, a desk mat, a
    /// notebook): an outline a crop must not take for the document's. Only by
    /// [`PhotoOptions::background`]; [`synth_photo`]'s mix never draws it.
    Panel,
}

/// What [`synth_photo_with`] must put in the photo; the rest is drawn from the seed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhotoOptions {
    /// The surface, instead of a random one.
    pub background: Option<Background>,
}

/// How a synthetic photo was made.
#[derive(Debug, Clone, PartialEq)]
pub struct PhotoParams {
    /// Oriented photo width.
    pub width: u32,
    /// Oriented photo height.
    pub height: u32,
    /// The surface.
    pub background: Background,
    /// In-plane rotation (degrees).
    pub rotation_deg: f32,
    /// Tilt about the horizontal and vertical axes (degrees).
    pub tilt_deg: [f32; 2],
    /// The document touches or is cut by the frame edge.
    pub at_edge: bool,
    /// A soft shadow crosses the photo.
    pub shadow: bool,
    /// Per-channel gain (colour cast).
    pub cast: [f32; 3],
    /// Gaussian blur sigma (px).
    pub blur: f32,
    /// Noise standard deviation (grey levels).
    pub noise: f32,
    /// JPEG quality.
    pub jpeg_quality: u8,
    /// The EXIF orientation written (1 = none).
    pub exif_orientation: u8,
}

/// A synthetic photo and its ground truth.
#[derive(Debug, Clone)]
pub struct SyntheticPhoto {
    /// The JPEG file.
    pub jpeg: Vec<u8>,
    /// The document's corners in the oriented photo, clockwise from top-left of the document.
    pub corners: [[f32; 2]; 4],
    /// How it was made.
    pub params: PhotoParams,
}

#[allow(clippy::too_many_arguments)]
fn text_rows(
    img: &mut RgbImage,
    rng: &mut Rng,
    x0: u32,
    x1: u32,
    y0: u32,
    y1: u32,
    row_h: u32,
    ink: Rgb<u8>,
) {
    let mut y = y0;
    while y + row_h < y1 {
        let mut x = x0 + rng.below(row_h * 2);
        let end = x0 + ((x1 - x0) as f32 * rng.range(0.55, 1.0)) as u32;
        while x < end {
            let wlen = row_h / 2 + rng.below(row_h * 3);
            let glyph_h = (row_h as f32 * rng.range(0.55, 0.75)) as u32;
            for yy in y..y + glyph_h {
                for xx in x..(x + wlen).min(end) {
                    // Glyph-like texture: strokes with gaps.
                    if (xx + yy * 3) % 5 != 0 && (xx / 3 + yy) % 7 != 0 {
                        img.put_pixel(xx, yy, ink);
                    }
                }
            }
            x += wlen + row_h / 2 + rng.below(row_h);
        }
        y += (row_h as f32 * rng.range(1.5, 2.2)) as u32;
    }
}

/// A stand-in document: off-white paper with a coloured logo block and dark text-like rows.
/// Cards are 1000 x 600 px (90:54), contract pages 1240 x 1754 px (A4 at 150 dpi).
pub fn synth_document(kind: DocKind, seed: u64) -> RgbImage {
    let mut rng = Rng::new(seed);
    let (w, h) = match kind {
        DocKind::Card => (1000, 600),
        _ => (1240, 1754),
    };
    let tint = [
        rng.range(246.0, 255.0),
        rng.range(244.0, 254.0),
        rng.range(238.0, 252.0),
    ];
    let mut img = RgbImage::from_pixel(w, h, Rgb(tint.map(|v| v as u8)));
    let logo = Rgb([
        rng.below(200) as u8,
        rng.below(160) as u8,
        80 + rng.below(170) as u8,
    ]);
    let ink = Rgb([
        20 + rng.below(30) as u8,
        20 + rng.below(30) as u8,
        25 + rng.below(40) as u8,
    ]);
    if kind == DocKind::Card {
        let s = 110 + rng.below(60);
        for y in 60..60 + s {
            for x in 60..60 + s {
                img.put_pixel(x, y, logo);
            }
        }
        text_rows(&mut img, &mut rng, 60 + s + 40, w - 60, 70, 70 + s, 34, ink);
        text_rows(&mut img, &mut rng, 60, w - 80, 100 + s, h - 50, 20, ink);
    } else {
        for y in 90..150 {
            for x in 100..260 {
                img.put_pixel(x, y, logo);
            }
        }
        text_rows(&mut img, &mut rng, 320, w - 100, 95, 150, 26, ink);
        for x in 100..w - 100 {
            img.put_pixel(x, 190, ink);
            img.put_pixel(x, 191, ink);
        }
        text_rows(&mut img, &mut rng, 100, w - 100, 230, h - 150, 18, ink);
    }
    img
}

fn background(kind: Background, w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    let base = [
        rng.range(0.0, 1.0),
        rng.range(0.0, 1.0),
        rng.range(0.0, 1.0),
    ];
    match kind {
        Background::Plain | Background::Panel => {
            let c = [
                30.0 + 90.0 * base[0],
                30.0 + 80.0 * base[1],
                30.0 + 80.0 * base[2],
            ];
            RgbImage::from_fn(w, h, |x, y| {
                let v = ((x * 7 + y * 13) % 17) as f32 * 0.3;
                Rgb(c.map(|c| (c + v) as u8))
            })
        }
        Background::LowContrast => {
            let g = rng.range(200.0, 222.0);
            let tint = [
                rng.range(-6.0, 6.0),
                rng.range(-6.0, 6.0),
                rng.range(-6.0, 6.0),
            ];
            RgbImage::from_fn(w, h, |x, y| {
                let v = ((x * 5 + y * 11) % 13) as f32 * 0.3;
                Rgb(tint.map(|t| (g + t + v) as u8))
            })
        }
        Background::Wood => {
            let angle = rng.range(-0.5, 0.5)
                + if rng.chance(0.5) {
                    std::f32::consts::FRAC_PI_2
                } else {
                    0.0
                };
            let (ca, sa) = (angle.cos(), angle.sin());
            let freq = rng.range(0.03, 0.08);
            let tone = [
                rng.range(110.0, 170.0),
                rng.range(70.0, 110.0),
                rng.range(35.0, 60.0),
            ];
            RgbImage::from_fn(w, h, |x, y| {
                let (u, v) = (
                    x as f32 * ca + y as f32 * sa,
                    -(x as f32) * sa + y as f32 * ca,
                );
                let warp = 6.0 * (u * 0.011).sin() + 3.0 * (u * 0.037 + v * 0.005).sin();
                let g = ((v + warp) * freq).sin() * 0.5 + 0.5;
                let fine = ((v * 0.9 + u * 0.02).sin() * 0.5 + 0.5) * 0.25;
                let k = 0.65 + 0.3 * g.powf(3.0) + 0.1 * fine;
                Rgb(tone.map(|c| (c * k).min(255.0) as u8))
            })
        }
        Background::Fabric => {
            let tone = 35.0 + 50.0 * base[0];
            let period = rng.range(3.0, 7.0);
            RgbImage::from_fn(w, h, |x, y| {
                let weave = ((x as f32 / period).sin() * (y as f32 / period).cos()).abs();
                let stitch = if (y % 160) < 3 { 25.0 } else { 0.0 };
                let v = tone + 25.0 * weave + stitch;
                Rgb([v as u8, (v * 0.95) as u8, (v * 1.05).min(255.0) as u8])
            })
        }
        Background::Text => {
            let paper = rng.range(170.0, 215.0);
            let mut img = RgbImage::from_pixel(
                w,
                h,
                Rgb([paper as u8, (paper - 3.0) as u8, (paper - 10.0) as u8]),
            );
            let ink = Rgb([60, 60, 65]);
            let row = 10 + rng.below(10);
            text_rows(&mut img, rng, 5, w - 5, 5, h - 5, row, ink);
            img
        }
        Background::Clutter => {
            let desk = [
                60.0 + 60.0 * base[0],
                50.0 + 50.0 * base[1],
                45.0 + 40.0 * base[2],
            ];
            let mut img = RgbImage::from_pixel(w, h, Rgb(desk.map(|c| c as u8)));
            for _ in 0..(6 + rng.below(6)) {
                // Scraps smaller than the document: sticky notes, receipts, pens.
                let (sw, sh) = (
                    (w as f32 * rng.range(0.05, 0.22)) as i32,
                    (h as f32 * rng.range(0.03, 0.2)) as i32,
                );
                let (cx, cy) = (rng.below(w) as f32, rng.below(h) as f32);
                let a = rng.range(0.0, std::f32::consts::PI);
                let (ca, sa) = (a.cos(), a.sin());
                let pts: Vec<imageproc::point::Point<i32>> =
                    [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)]
                        .iter()
                        .map(|(u, v)| {
                            let (dx, dy) = (u * sw as f32 / 2.0, v * sh as f32 / 2.0);
                            imageproc::point::Point::new(
                                (cx + dx * ca - dy * sa) as i32,
                                (cy + dx * sa + dy * ca) as i32,
                            )
                        })
                        .collect();
                let colour = match rng.below(3) {
                    0 => Rgb([240, 230, 120]),
                    1 => Rgb([225, 225, 220]),
                    _ => Rgb([
                        rng.below(255) as u8,
                        rng.below(255) as u8,
                        rng.below(255) as u8,
                    ]),
                };
                imageproc::drawing::draw_polygon_mut(&mut img, &pts, colour);
            }
            img
        }
    }
}

/// Rotation matrices for the tilt, then a pinhole projection: the 2D quad a rectangle of
/// `w x h` makes on the sensor, centred at the origin.
fn projected_quad(w: f32, h: f32, rot: f32, tilt: [f32; 2], focal: f32) -> [[f32; 2]; 4] {
    let (cr, sr) = (rot.cos(), rot.sin());
    let (cx, sx) = (tilt[0].cos(), tilt[0].sin());
    let (cy, sy) = (tilt[1].cos(), tilt[1].sin());
    let dist = focal * 1.3;
    [
        (-w / 2.0, -h / 2.0),
        (w / 2.0, -h / 2.0),
        (w / 2.0, h / 2.0),
        (-w / 2.0, h / 2.0),
    ]
    .map(|(x, y)| {
        // In-plane rotation, then about x, then about y.
        let (x, y) = (x * cr - y * sr, x * sr + y * cr);
        let (y, z) = (y * cx, y * sx);
        let (x, z) = (x * cy + z * sy, -x * sy + z * cy);
        let z = z + dist;
        [focal * x / z, focal * y / z]
    })
}

/// One EXIF APP1 segment holding only the orientation tag.
fn exif_segment(orientation: u8) -> Vec<u8> {
    let mut tiff = vec![b'I', b'I', 42, 0, 8, 0, 0, 0, 1, 0];
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, orientation, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut seg = vec![0xFF, 0xE1];
    let len = (2 + 6 + tiff.len()) as u16;
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

/// Stores the oriented image so that a viewer applying EXIF `orientation` shows it upright.
fn store_for_orientation(img: RgbImage, orientation: u8) -> RgbImage {
    use image::imageops::{flip_horizontal, flip_vertical, rotate180, rotate270, rotate90};
    match orientation {
        2 => flip_horizontal(&img),
        3 => rotate180(&img),
        4 => flip_vertical(&img),
        5 => flip_horizontal(&rotate90(&img)),
        6 => rotate270(&img),
        7 => flip_horizontal(&rotate270(&img)),
        8 => rotate90(&img),
        _ => img,
    }
}

/// Encodes `img` as a JPEG of the given quality, with an EXIF orientation segment unless it is 1.
pub fn encode_jpeg(img: &RgbImage, quality: u8, orientation: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let enc = JpegEncoder::new_with_quality(&mut out, quality);
    if img.write_with_encoder(enc).is_err() {
        return Vec::new();
    }
    if orientation != 1 && out.len() > 2 {
        let seg = exif_segment(orientation);
        out.splice(2..2, seg);
    }
    out
}

/// Draws a wood-grain panel around the box `lo..hi` (the document's bounding box), 4-14 % of
/// the frame larger on each side, with a thin light rim like a laminated edge.
fn panel_under(photo: &mut RgbImage, lo: [f32; 2], hi: [f32; 2], seed: u64) {
    let mut rng = Rng::new(seed ^ 0x9A4E_1000);
    let (w, h) = (photo.width() as f32, photo.height() as f32);
    let x0 = (lo[0] - w * rng.range(0.04, 0.14)).max(w * 0.01);
    let x1 = (hi[0] + w * rng.range(0.04, 0.14)).min(w * 0.99);
    let y0 = (lo[1] - h * rng.range(0.04, 0.14)).max(h * 0.01);
    let y1 = (hi[1] + h * rng.range(0.04, 0.14)).min(h * 0.99);
    let wood = background(Background::Wood, photo.width(), photo.height(), &mut rng);
    let rim = 6.0;
    for y in y0 as u32..y1 as u32 {
        for x in x0 as u32..x1 as u32 {
            let (fx, fy) = (x as f32, y as f32);
            let edge = (fx - x0).min(x1 - fx).min(fy - y0).min(y1 - fy);
            let px = if edge < rim {
                Rgb([205, 190, 160])
            } else {
                *wood.get_pixel(x, y)
            };
            photo.put_pixel(x, y, px);
        }
    }
}

/// Puts `doc` into a `width x height` photo according to `seed`. See the module docs.
pub fn synth_photo(doc: &RgbImage, seed: u64, width: u32, height: u32) -> SyntheticPhoto {
    synth_photo_with(doc, seed, width, height, &PhotoOptions::default())
}

/// [`synth_photo`] with some choices fixed by `options`; with the default options it is
/// [`synth_photo`].
pub fn synth_photo_with(
    doc: &RgbImage,
    seed: u64,
    width: u32,
    height: u32,
    options: &PhotoOptions,
) -> SyntheticPhoto {
    let mut rng = Rng::new(seed);
    let drawn = [
        Background::Plain,
        Background::Wood,
        Background::Clutter,
        Background::Text,
        Background::Fabric,
        Background::LowContrast,
    ][rng.below(6) as usize];
    let bg_kind = options.background.unwrap_or(drawn);
    let (w, h) = (width as f32, height as f32);
    let rotation_deg = if rng.chance(0.2) {
        rng.range(-40.0, 40.0)
    } else {
        rng.range(-12.0, 12.0)
    };
    let tilt_deg = [rng.range(-25.0, 25.0), rng.range(-20.0, 20.0)];
    let (dw, dh) = (doc.width() as f32, doc.height() as f32);
    let quad = projected_quad(
        dw,
        dh,
        rotation_deg.to_radians(),
        tilt_deg.map(f32::to_radians),
        w.max(h) * 0.9,
    );
    // Scale so the document's bounding box fills 45-85 % of the frame, then place it.
    let (minx, maxx) = quad
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p[0]), b.max(p[0])));
    let (miny, maxy) = quad
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p[1]), b.max(p[1])));
    let fill = rng.range(0.45, 0.85);
    let s = (fill * w / (maxx - minx)).min(fill * h / (maxy - miny));
    let (bw, bh) = ((maxx - minx) * s, (maxy - miny) * s);
    let mut ox = rng.range(0.03 * w, (w - bw - 0.03 * w).max(0.031 * w));
    let mut oy = rng.range(0.03 * h, (h - bh - 0.03 * h).max(0.031 * h));
    let at_edge = rng.chance(0.2);
    if at_edge {
        // Touch the frame, or let up to 4 % of the document fall outside it.
        let out = if rng.chance(0.5) {
            0.0
        } else {
            rng.range(0.0, 0.04)
        };
        match rng.below(4) {
            0 => ox = -out * bw,
            1 => ox = w - bw + out * bw,
            2 => oy = -out * bh,
            _ => oy = h - bh + out * bh,
        }
    }
    let corners = quad.map(|p| [(p[0] - minx) * s + ox, (p[1] - miny) * s + oy]);

    let mut photo = background(bg_kind, width, height, &mut rng);
    if bg_kind == Background::Panel {
        let lo = [
            corners.iter().map(|p| p[0]).fold(f32::MAX, f32::min),
            corners.iter().map(|p| p[1]).fold(f32::MAX, f32::min),
        ];
        let hi = [
            corners.iter().map(|p| p[0]).fold(f32::MIN, f32::max),
            corners.iter().map(|p| p[1]).fold(f32::MIN, f32::max),
        ];
        panel_under(&mut photo, lo, hi, seed);
    }
    // Photo -> document projection.
    let to_doc = Projection::from_control_points(
        corners.map(|p| (p[0], p[1])),
        [(0.0, 0.0), (dw, 0.0), (dw, dh), (0.0, dh)],
    );
    if let Some(to_doc) = to_doc {
        let doc_px_per_photo_px =
            dw / ((corners[1][0] - corners[0][0]).hypot(corners[1][1] - corners[0][1])).max(1.0);
        let x_lo = corners
            .iter()
            .map(|p| p[0])
            .fold(f32::MAX, f32::min)
            .floor()
            .max(0.0) as u32;
        let x_hi = (corners
            .iter()
            .map(|p| p[0])
            .fold(f32::MIN, f32::max)
            .ceil()
            .max(0.0) as u32)
            .min(width);
        let y_lo = corners
            .iter()
            .map(|p| p[1])
            .fold(f32::MAX, f32::min)
            .floor()
            .max(0.0) as u32;
        let y_hi = (corners
            .iter()
            .map(|p| p[1])
            .fold(f32::MIN, f32::max)
            .ceil()
            .max(0.0) as u32)
            .min(height);
        let margin = 2.5 * doc_px_per_photo_px.max(1.0) * 2.0;
        for y in y_lo..y_hi {
            for x in x_lo..x_hi {
                let (u, v) = to_doc * (x as f32 + 0.5, y as f32 + 0.5);
                let inside_by = u.min(v).min(dw - u).min(dh - v);
                if inside_by < -margin {
                    continue;
                }
                let bgp = photo.get_pixel(x, y).0;
                if inside_by > margin {
                    photo.put_pixel(x, y, Rgb(sample(doc, u, v)));
                    continue;
                }
                // Near the edge: 4x4 supersampling for an exact, anti-aliased border.
                let mut acc = [0f32; 3];
                for sy in 0..4 {
                    for sx in 0..4 {
                        let (u, v) = to_doc
                            * (
                                x as f32 + (sx as f32 + 0.5) / 4.0,
                                y as f32 + (sy as f32 + 0.5) / 4.0,
                            );
                        let px = if u >= 0.0 && v >= 0.0 && u < dw && v < dh {
                            sample(doc, u, v)
                        } else {
                            bgp
                        };
                        for c in 0..3 {
                            acc[c] += f32::from(px[c]) / 16.0;
                        }
                    }
                }
                photo.put_pixel(x, y, Rgb(acc.map(|v| v.round() as u8)));
            }
        }
    }
    // Light: a gradient across the frame, sometimes a soft shadow, a colour cast.
    let shadow = rng.chance(0.4);
    let grad_dir = rng.range(0.0, std::f32::consts::TAU);
    let grad = rng.range(0.0, 0.3);
    let (sh_a, sh_off, sh_soft, sh_depth) = (
        rng.range(0.0, std::f32::consts::TAU),
        rng.range(-0.2, 0.2),
        rng.range(15.0, 70.0),
        rng.range(0.25, 0.5),
    );
    let warm = rng.chance(0.5);
    let cast_amt = rng.range(0.0, 0.15);
    let cast = if warm {
        [1.0 + cast_amt * 0.4, 1.0, 1.0 - cast_amt]
    } else {
        [1.0 - cast_amt, 1.0 - cast_amt * 0.3, 1.0 + cast_amt * 0.3]
    };
    let diag = w.hypot(h);
    let noise = rng.range(1.0, 5.0);
    for (x, y, px) in photo.enumerate_pixels_mut() {
        let (fx, fy) = (x as f32 - w / 2.0, y as f32 - h / 2.0);
        let mut light = 1.0 - grad * (0.5 + (fx * grad_dir.cos() + fy * grad_dir.sin()) / diag);
        if shadow {
            let d = fx * sh_a.cos() + fy * sh_a.sin() - sh_off * diag;
            let t = (d / sh_soft).clamp(-3.0, 3.0);
            light *= 1.0 - sh_depth / (1.0 + (-t * 1.7).exp());
        }
        for (v, gain) in px.0.iter_mut().zip(cast) {
            let n = (rng.range(-1.0, 1.0) + rng.range(-1.0, 1.0) + rng.range(-1.0, 1.0)) * noise;
            *v = (f32::from(*v) * light * gain + n).clamp(0.0, 255.0) as u8;
        }
    }
    let blur = rng.range(0.4, 1.6);
    let photo = imageproc::filter::gaussian_blur_f32(&photo, blur);
    let jpeg_quality = 55 + rng.below(38) as u8;
    let exif_orientation = if rng.chance(0.3) {
        [3, 6, 8, 2, 5, 7][rng.below(6) as usize]
    } else {
        1
    };
    let stored = store_for_orientation(photo, exif_orientation);
    let jpeg = encode_jpeg(&stored, jpeg_quality, exif_orientation);
    SyntheticPhoto {
        jpeg,
        corners,
        params: PhotoParams {
            width,
            height,
            background: bg_kind,
            rotation_deg,
            tilt_deg,
            at_edge,
            shadow,
            cast,
            blur,
            noise,
            jpeg_quality,
            exif_orientation,
        },
    }
}

fn sample(doc: &RgbImage, u: f32, v: f32) -> [u8; 3] {
    let (w, h) = (doc.width() as f32, doc.height() as f32);
    let x = (u - 0.5).clamp(0.0, w - 1.0);
    let y = (v - 0.5).clamp(0.0, h - 1.0);
    let (x0, y0) = (x as u32, y as u32);
    let (x1, y1) = (
        (x0 + 1).min(doc.width() - 1),
        (y0 + 1).min(doc.height() - 1),
    );
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx, yy| doc.get_pixel(xx, yy).0;
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    [0, 1, 2].map(|i| {
        let top = f32::from(a[i]) * (1.0 - fx) + f32::from(b[i]) * fx;
        let bot = f32::from(c[i]) * (1.0 - fx) + f32::from(d[i]) * fx;
        (top * (1.0 - fy) + bot * fy).round() as u8
    })
}

/// `n` photos (alternating cards and contract pages) of `width x height`, from `seed`.
pub fn corpus(n: usize, width: u32, height: u32, seed: u64) -> Vec<SyntheticPhoto> {
    (0..n as u64)
        .map(|i| {
            let kind = if i % 2 == 0 {
                DocKind::Card
            } else {
                DocKind::Contract
            };
            let doc = synth_document(kind, seed.wrapping_mul(31).wrapping_add(i));
            synth_photo(
                &doc,
                seed.wrapping_mul(1_000_003).wrapping_add(i),
                width,
                height,
            )
        })
        .collect()
}
