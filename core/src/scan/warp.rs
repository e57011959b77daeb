//! Perspective correction: choosing the flat output size and sampling the document into it.

use super::decode::Frame;
use super::geom::{Homography, Point};
use super::DocKind;
use image::RgbImage;

/// Width/height of a 90 x 54 mm business card.
pub const CARD_RATIO: f32 = 90.0 / 54.0;
/// Long/short side of an ISO 216 page (A4).
pub const PAGE_RATIO: f32 = std::f32::consts::SQRT_2;
/// The flat output's long side is at least this many pixels.
pub const MIN_LONG_SIDE: u32 = 1280;
/// A page's short side is at least this many pixels.
pub const MIN_PAGE_SHORT_SIDE: u32 = 960;

/// The flat output's size and how it relates to the source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plan {
    pub width: u32,
    pub height: u32,
    pub kind_guess: DocKind,
    /// Output long side / source long side when the source was smaller than the minimum; 1 otherwise.
    pub upscale: f32,
}

fn dist(a: Point, b: Point) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Guesses the kind from a long/short ratio: cards are about 1.67, pages 1.41.
pub(crate) fn kind_from_ratio(r: f32) -> DocKind {
    if (1.5..=2.1).contains(&r) {
        DocKind::Card
    } else if (1.2..1.5).contains(&r) {
        DocKind::Contract
    } else {
        DocKind::Auto
    }
}

/// Chooses the output size for the quadrilateral `c` (clockwise from top-left).
pub(crate) fn plan(c: &[Point; 4], hint: DocKind, snap: bool) -> Plan {
    let w = (dist(c[0], c[1]) + dist(c[3], c[2])) / 2.0;
    let h = (dist(c[0], c[3]) + dist(c[1], c[2])) / 2.0;
    let (long, short) = (w.max(h).max(1.0), w.min(h).max(1.0));
    let measured = long / short;
    let kind_guess = kind_from_ratio(measured);
    let kind = if hint == DocKind::Auto {
        kind_guess
    } else {
        hint
    };
    // Perspective makes the measured ratio wobble; snap to the standard one when close.
    let ratio = match kind {
        DocKind::Card if snap && (measured - CARD_RATIO).abs() / CARD_RATIO < 0.15 => CARD_RATIO,
        DocKind::Contract if snap && (measured - PAGE_RATIO).abs() / PAGE_RATIO < 0.12 => {
            PAGE_RATIO
        }
        _ => measured,
    };
    let min_long = match kind {
        DocKind::Contract => MIN_LONG_SIDE.max((MIN_PAGE_SHORT_SIDE as f32 * ratio).ceil() as u32),
        _ => MIN_LONG_SIDE,
    };
    let max_long = match kind {
        DocKind::Card => 2000,
        _ => 2400,
    };
    let out_long = (long.round() as u32).clamp(min_long, max_long);
    let out_short = ((out_long as f32) / ratio).round().max(1.0) as u32;
    let upscale = (out_long as f32 / long).max(1.0);
    let (width, height) = if w >= h {
        (out_long, out_short)
    } else {
        (out_short, out_long)
    };
    Plan {
        width,
        height,
        kind_guess,
        upscale,
    }
}

/// Samples the quadrilateral `c` (oriented coordinates) of `frame` into a `width x height`
/// image. Bicubic (Catmull-Rom) when `upscale` > 1.05, bilinear otherwise; points outside the
/// photo take the nearest edge pixel.
pub(crate) fn warp(
    frame: &Frame,
    c: &[Point; 4],
    width: u32,
    height: u32,
    upscale: f32,
) -> Option<RgbImage> {
    let (wf, hf) = (f64::from(width), f64::from(height));
    let from = [[0.0, 0.0], [wf, 0.0], [wf, hf], [0.0, hf]];
    let to = c.map(|p| [f64::from(p[0]), f64::from(p[1])]);
    let h = Homography::from_points(&from, &to)?.then_affine(frame.to_raw());
    let mut out = RgbImage::new(width, height);
    let raw = frame.raw.as_raw();
    let (rw, rh) = (frame.raw.width() as i64, frame.raw.height() as i64);
    let hm = h.0;
    let cubic = upscale > 1.05;
    let out_buf: &mut [u8] = &mut out;
    for (y, row) in out_buf.chunks_exact_mut(width as usize * 3).enumerate() {
        let yc = y as f64 + 0.5;
        let (mut nx, mut ny, mut dz) = (
            hm[0] * 0.5 + hm[1] * yc + hm[2],
            hm[3] * 0.5 + hm[4] * yc + hm[5],
            hm[6] * 0.5 + hm[7] * yc + hm[8],
        );
        for px in row.chunks_exact_mut(3) {
            let (sx, sy) = ((nx / dz) as f32 - 0.5, (ny / dz) as f32 - 0.5);
            nx += hm[0];
            ny += hm[3];
            dz += hm[6];
            if cubic {
                sample_cubic(raw, rw, rh, sx, sy, px);
            } else {
                sample_bilinear(raw, rw, rh, sx, sy, px);
            }
        }
    }
    Some(out)
}

#[inline]
fn sample_bilinear(raw: &[u8], w: i64, h: i64, x: f32, y: f32, out: &mut [u8]) {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as i64, y as i64);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let i00 = ((y0 * w + x0) * 3) as usize;
    let i01 = ((y0 * w + x1) * 3) as usize;
    let i10 = ((y1 * w + x0) * 3) as usize;
    let i11 = ((y1 * w + x1) * 3) as usize;
    for c in 0..3 {
        let top =
            f32::from(raw[i00 + c]) + (f32::from(raw[i01 + c]) - f32::from(raw[i00 + c])) * fx;
        let bot =
            f32::from(raw[i10 + c]) + (f32::from(raw[i11 + c]) - f32::from(raw[i10 + c])) * fx;
        out[c] = (top + (bot - top) * fy + 0.5) as u8;
    }
}

#[inline]
fn catmull_rom(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        -0.5 * t3 + t2 - 0.5 * t,
        1.5 * t3 - 2.5 * t2 + 1.0,
        -1.5 * t3 + 2.0 * t2 + 0.5 * t,
        0.5 * t3 - 0.5 * t2,
    ]
}

#[inline]
fn sample_cubic(raw: &[u8], w: i64, h: i64, x: f32, y: f32, out: &mut [u8]) {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as i64, y.floor() as i64);
    let (wx, wy) = (catmull_rom(x - x0 as f32), catmull_rom(y - y0 as f32));
    let mut acc = [0f32; 3];
    for (j, wyj) in wy.iter().enumerate() {
        let yy = (y0 + j as i64 - 1).clamp(0, h - 1);
        let mut racc = [0f32; 3];
        for (i, wxi) in wx.iter().enumerate() {
            let xx = (x0 + i as i64 - 1).clamp(0, w - 1);
            let idx = ((yy * w + xx) * 3) as usize;
            for c in 0..3 {
                racc[c] += wxi * f32::from(raw[idx + c]);
            }
        }
        for c in 0..3 {
            acc[c] += wyj * racc[c];
        }
    }
    for c in 0..3 {
        out[c] = acc[c].round().clamp(0.0, 255.0) as u8;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn plan_snaps_and_never_goes_below_the_minimum() {
        // A card 900 x 560 px in the photo: snapped to 90:54, upscaled to the 1280 px minimum.
        let c = [
            [100.0, 100.0],
            [1000.0, 110.0],
            [995.0, 665.0],
            [105.0, 660.0],
        ];
        let p = plan(&c, DocKind::Auto, true);
        assert_eq!(p.kind_guess, DocKind::Card);
        assert_eq!((p.width, p.height), (1280, 768));
        assert!(p.upscale > 1.4 && p.upscale < 1.45, "{}", p.upscale);
        // A page 1000 x 1400 px: portrait, short side at least 960.
        let c = [[0.0, 0.0], [1000.0, 0.0], [1000.0, 1400.0], [0.0, 1400.0]];
        let p = plan(&c, DocKind::Auto, true);
        assert_eq!(p.kind_guess, DocKind::Contract);
        assert_eq!((p.width, p.height), (990, 1400));
        assert_eq!(p.upscale, 1.0);
    }

    #[test]
    fn warp_of_an_axis_aligned_quad_is_a_crop() {
        let raw = RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, 77])
        });
        let frame = Frame {
            raw,
            orientation: image::metadata::Orientation::NoTransforms,
        };
        let c = [[10.0, 8.0], [42.0, 8.0], [42.0, 32.0], [10.0, 32.0]];
        let out = warp(&frame, &c, 32, 24, 1.0).unwrap();
        for (x, y, px) in out.enumerate_pixels() {
            assert_eq!(
                px.0,
                [((x + 10) * 4) as u8, ((y + 8) * 5) as u8, 77],
                "at {x},{y}"
            );
        }
    }
}
