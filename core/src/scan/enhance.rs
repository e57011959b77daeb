//! Making the flat document readable: even out light and shadows, remove the colour cast,
//! stretch the contrast and sharpen. Everything works on `u8` pixels in place or row by row,
//! so the output never needs a float copy.
//!
//! The paper's own brightness is estimated per block (a high percentile of each channel, so
//! ink does not count), smoothed, and every pixel is divided by it: shadows and light gradients
//! vanish, and because each channel is divided by its own paper level, a yellow or blue cast
//! becomes neutral white.

use image::{GrayImage, RgbImage};

/// The level paper is mapped to.
const WHITE: f32 = 252.0;
/// Paper darker than this (luminance) is not paper: the document is a dark card.
const PAPER_MIN_LEVEL: f32 = 110.0;
/// Detail below this (grey levels) is noise: the unsharp mask leaves it alone.
const SHARPEN_THRESHOLD: i32 = 10;

/// Per-channel paper level on a coarse grid of `block`-sized cells.
struct Background {
    gw: usize,
    gh: usize,
    block: f32,
    /// `gw * gh * 3` levels, row-major.
    level: Vec<f32>,
}

fn estimate_background(img: &RgbImage) -> Background {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let block = (w.max(h) / 40).max(12);
    let (gw, gh) = (w.div_ceil(block), h.div_ceil(block));
    let buf = img.as_raw();
    let mut level = vec![0f32; gw * gh * 3];
    let mut hist = vec![0u32; gw * 3 * 256];
    for gy in 0..gh {
        hist.iter_mut().for_each(|v| *v = 0);
        let (y0, y1) = (gy * block, ((gy + 1) * block).min(h));
        for y in (y0..y1).step_by(2) {
            let row = &buf[y * w * 3..(y + 1) * w * 3];
            for x in (0..w).step_by(2) {
                let gx = x / block;
                for c in 0..3 {
                    hist[(gx * 3 + c) * 256 + usize::from(row[x * 3 + c])] += 1;
                }
            }
        }
        for gx in 0..gw {
            for c in 0..3 {
                let hst = &hist[(gx * 3 + c) * 256..(gx * 3 + c + 1) * 256];
                let total: u32 = hst.iter().sum();
                let want = total - total / 10; // the 90th percentile
                let mut seen = 0;
                let mut v = 255;
                for (i, n) in hst.iter().enumerate() {
                    seen += n;
                    if seen >= want.max(1) {
                        v = i;
                        break;
                    }
                }
                level[(gy * gw + gx) * 3 + c] = v as f32;
            }
        }
    }
    // A 3x3 max closes over blocks filled by a logo or a photo; a 3x3 mean smooths the steps.
    let at = |l: &Vec<f32>, x: isize, y: isize, c: usize| {
        let x = x.clamp(0, gw as isize - 1) as usize;
        let y = y.clamp(0, gh as isize - 1) as usize;
        l[(y * gw + x) * 3 + c]
    };
    let mut dil = level.clone();
    for y in 0..gh as isize {
        for x in 0..gw as isize {
            for c in 0..3 {
                let mut m = 0f32;
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        m = m.max(at(&level, x + dx, y + dy, c));
                    }
                }
                dil[(y as usize * gw + x as usize) * 3 + c] = m;
            }
        }
    }
    let mut smooth = dil.clone();
    // A dark panel (the black half of a two-tone card, a colour band under white text) is not
    // paper in shadow: dividing by its level would blow its noise up into grain and turn a
    // red band pink. A block far darker than the paper (the brighter blocks' level, per
    // channel) or of another hue than the paper is a panel: it keeps the paper's level, so it
    // is only white-balanced, never lifted. Shadows are as grey as the paper and at least
    // 45% as bright: they are lifted.
    let mut paper = [0f32; 3];
    for (c, p) in paper.iter_mut().enumerate() {
        let mut levels: Vec<f32> = (0..gw * gh).map(|i| dil[i * 3 + c]).collect();
        levels.sort_by(f32::total_cmp);
        *p = levels[levels.len() * 3 / 4].max(1.0);
    }
    let paper_luma = 0.3 * paper[0] + 0.59 * paper[1] + 0.11 * paper[2];
    let paper_min = paper.iter().copied().fold(f32::MAX, f32::min);
    let paper_max = paper.iter().copied().fold(0.0, f32::max);
    if paper_luma < PAPER_MIN_LEVEL || paper_min < 0.3 * paper_max {
        // Most of the document is dark or coloured (a black card, a blue card): there is no
        // paper to even out; leave the levels alone.
        for v in smooth.iter_mut() {
            *v = WHITE;
        }
    } else {
        let mut levelled = dil.clone();
        for (block, out) in dil.chunks_exact(3).zip(levelled.chunks_exact_mut(3)) {
            let r: Vec<f32> = (0..3).map(|c| block[c] / paper[c]).collect();
            let (lo, hi) = (
                r.iter().copied().fold(f32::MAX, f32::min),
                r.iter().copied().fold(0.0, f32::max),
            );
            if lo < 0.45 || hi - lo > 0.3 {
                out.copy_from_slice(&paper);
            }
        }
        for y in 0..gh as isize {
            for x in 0..gw as isize {
                for c in 0..3 {
                    let mut s = 0f32;
                    for dy in -1..=1 {
                        for dx in -1..=1 {
                            s += at(&levelled, x + dx, y + dy, c);
                        }
                    }
                    smooth[(y as usize * gw + x as usize) * 3 + c] = (s / 9.0).max(24.0);
                }
            }
        }
    }
    Background {
        gw,
        gh,
        block: block as f32,
        level: smooth,
    }
}

/// Divides every pixel by the paper level around it (paper becomes white, cast removed), then
/// stretches the black point so ink is dark.
pub(crate) fn flatten(img: &mut RgbImage) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w == 0 || h == 0 {
        return;
    }
    let bg = estimate_background(img);
    // Per-column interpolation table.
    let cols: Vec<(usize, usize, f32)> = (0..w)
        .map(|x| {
            let g = ((x as f32 + 0.5) / bg.block - 0.5).clamp(0.0, (bg.gw - 1) as f32);
            let g0 = g.floor() as usize;
            (g0, (g0 + 1).min(bg.gw - 1), g - g0 as f32)
        })
        .collect();
    let mut grid_row = vec![0f32; bg.gw * 3];
    let mut scale = vec![0f32; w * 3];
    let buf: &mut [u8] = img;
    for (y, row) in buf.chunks_exact_mut(w * 3).enumerate() {
        let g = ((y as f32 + 0.5) / bg.block - 0.5).clamp(0.0, (bg.gh - 1) as f32);
        let (g0, fy) = (g.floor() as usize, g - g.floor());
        let g1 = (g0 + 1).min(bg.gh - 1);
        for (i, v) in grid_row.iter_mut().enumerate() {
            let (a, b) = (bg.level[g0 * bg.gw * 3 + i], bg.level[g1 * bg.gw * 3 + i]);
            *v = a + (b - a) * fy;
        }
        for (x, &(c0, c1, fx)) in cols.iter().enumerate() {
            for c in 0..3 {
                let (a, b) = (grid_row[c0 * 3 + c], grid_row[c1 * 3 + c]);
                scale[x * 3 + c] = WHITE / (a + (b - a) * fx);
            }
        }
        for (p, s) in row.iter_mut().zip(&scale) {
            *p = (f32::from(*p) * s).min(255.0) as u8;
        }
    }
    // Black point: the darkest 1% of the luminance (ink) maps to 0, capped so a page with
    // almost no ink is not blown into noise.
    let mut hist = [0u32; 256];
    for px in buf.chunks_exact(3).step_by(3) {
        hist[luma(px) as usize] += 1;
    }
    let total: u32 = hist.iter().sum();
    let mut seen = 0;
    let mut black = 0usize;
    for (i, n) in hist.iter().enumerate() {
        seen += n;
        if seen * 100 >= total {
            black = i;
            break;
        }
    }
    let black = (black as f32).min(120.0);
    let mut lut = [0u8; 256];
    for (i, v) in lut.iter_mut().enumerate() {
        *v = (((i as f32 - black) * 255.0 / (WHITE - black)).clamp(0.0, 255.0) + 0.5) as u8;
    }
    for p in buf.iter_mut() {
        *p = lut[usize::from(*p)];
    }
}

#[inline]
fn luma(px: &[u8]) -> u8 {
    ((77 * u32::from(px[0]) + 150 * u32::from(px[1]) + 29 * u32::from(px[2]) + 128) >> 8) as u8
}

/// A grey level that keeps coloured ink dark: the luminance, darkened by the pixel's chroma
/// (its largest minus its smallest channel). Plain luminance turns a pure red name into a
/// mid grey (76 of 255) and a mid blue into 88; with the chroma taken off they read like
/// black ink. Neutral pixels (paper, black ink, grey shadows) keep their luminance.
#[inline]
fn ink_grey(px: &[u8]) -> u8 {
    let max = px.iter().copied().max().unwrap_or(0);
    let min = px.iter().copied().min().unwrap_or(0);
    let chroma = u32::from(max - min);
    u32::from(luma(px)).saturating_sub(chroma * 45 / 128) as u8
}

/// The grey image for reading and for `--grey`: see [`ink_grey`].
pub(crate) fn grey(img: &RgbImage) -> GrayImage {
    let (w, h) = img.dimensions();
    let data: Vec<u8> = img.as_raw().chunks_exact(3).map(ink_grey).collect();
    GrayImage::from_raw(w, h, data).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Box blur of radius `r` along rows then columns, with running sums.
fn box_blur(src: &[u8], w: usize, h: usize, r: usize, out: &mut [u8]) {
    let mut tmp = vec![0u8; w * h];
    let win = (2 * r + 1) as u32;
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        let dst = &mut tmp[y * w..(y + 1) * w];
        let at = |i: isize| u32::from(row[i.clamp(0, w as isize - 1) as usize]);
        let mut s: u32 = (-(r as isize)..=r as isize).map(at).sum();
        for (x, d) in dst.iter_mut().enumerate() {
            *d = ((s + win / 2) / win) as u8;
            s += at(x as isize + r as isize + 1);
            s -= at(x as isize - r as isize);
        }
    }
    let mut sums: Vec<u32> = vec![0; w];
    for dy in -(r as isize)..=r as isize {
        let yy = dy.clamp(0, h as isize - 1) as usize;
        for (s, v) in sums.iter_mut().zip(&tmp[yy * w..(yy + 1) * w]) {
            *s += u32::from(*v);
        }
    }
    for y in 0..h {
        for (o, s) in out[y * w..(y + 1) * w].iter_mut().zip(&sums) {
            *o = ((s + win / 2) / win) as u8;
        }
        let add = (y as isize + r as isize + 1).clamp(0, h as isize - 1) as usize;
        let sub = (y as isize - r as isize).clamp(0, h as isize - 1) as usize;
        for x in 0..w {
            sums[x] = sums[x] + u32::from(tmp[add * w + x]) - u32::from(tmp[sub * w + x]);
        }
    }
}

/// Unsharp mask on the grey image (two box blurs of radius `radius`, about a Gaussian), adding
/// the same detail to each channel of `colour`.
pub(crate) fn sharpen(grey_img: &mut GrayImage, colour: &mut RgbImage, radius: usize, amount: f32) {
    let (w, h) = (grey_img.width() as usize, grey_img.height() as usize);
    if w < 2 || h < 2 {
        return;
    }
    let mut b1 = vec![0u8; w * h];
    let mut b2 = vec![0u8; w * h];
    box_blur(grey_img.as_raw(), w, h, radius, &mut b1);
    box_blur(&b1, w, h, radius, &mut b2);
    drop(b1);
    let amt = (amount * 256.0) as i32;
    let g: &mut [u8] = grey_img;
    let col: &mut [u8] = colour;
    for ((gp, bp), cp) in g.iter_mut().zip(&b2).zip(col.chunks_exact_mut(3)) {
        // Coring: the smallest differences are sensor noise (grain on a dark panel), not edges.
        let d = i32::from(*gp) - i32::from(*bp);
        let d = d - d.clamp(-SHARPEN_THRESHOLD, SHARPEN_THRESHOLD);
        let detail = (d * amt) >> 8;
        *gp = (i32::from(*gp) + detail).clamp(0, 255) as u8;
        for c in cp.iter_mut() {
            *c = (i32::from(*c) + detail).clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flatten_removes_a_gradient_and_a_cast_but_keeps_ink() {
        // Yellowish paper darkening from left to right, with a black bar of ink.
        let img = RgbImage::from_fn(400, 300, |x, y| {
            let light = 1.0 - 0.5 * x as f32 / 400.0;
            if (140..160).contains(&y) && (50..350).contains(&x) {
                image::Rgb([20, 20, 15])
            } else {
                image::Rgb([
                    (230.0 * light) as u8,
                    (220.0 * light) as u8,
                    (150.0 * light) as u8,
                ])
            }
        });
        let mut out = img.clone();
        flatten(&mut out);
        for x in [10u32, 200, 390] {
            let p = out.get_pixel(x, 40).0;
            assert!(p.iter().all(|&c| c >= 240), "paper at x={x} is {p:?}");
            let ink = out.get_pixel(x.clamp(60, 340), 150).0;
            assert!(ink.iter().all(|&c| c <= 60), "ink at x={x} is {ink:?}");
        }
    }

    #[test]
    fn a_dark_panel_stays_dark_and_smooth() {
        // White paper with a dark navy panel on the right third, with noise on the panel.
        let img = RgbImage::from_fn(600, 300, |x, y| {
            if x >= 400 {
                let n = ((x * 7 + y * 13) % 9) as u8;
                image::Rgb([20 + n, 28 + n, 60 + n])
            } else {
                image::Rgb([240, 238, 232])
            }
        });
        let mut out = img.clone();
        flatten(&mut out);
        let panel: Vec<u8> = (450..590).map(|x| out.get_pixel(x, 150).0[0]).collect();
        let (lo, hi) = (
            panel.iter().copied().min().unwrap_or(0),
            panel.iter().copied().max().unwrap_or(255),
        );
        assert!(hi < 110, "the panel was lifted to {hi}");
        assert!(hi - lo < 40, "the panel's noise grew to {lo}..{hi}");
        assert!(out.get_pixel(100, 150).0.iter().all(|&c| c >= 240));
    }

    #[test]
    fn sharpen_increases_edge_contrast() {
        let mut g = GrayImage::from_fn(40, 10, |x, _| image::Luma([if x < 20 { 80 } else { 180 }]));
        let mut c = RgbImage::from_fn(40, 10, |x, _| {
            image::Rgb([if x < 20 { 80 } else { 180 }; 3])
        });
        sharpen(&mut g, &mut c, 2, 1.0);
        assert!(g.get_pixel(19, 5).0[0] < 80 && g.get_pixel(20, 5).0[0] > 180);
        assert_eq!(g.get_pixel(2, 5).0[0], 80);
        assert_eq!(c.get_pixel(20, 5).0[0], g.get_pixel(20, 5).0[0]);
    }

    /// What `prepare` does after the warp.
    fn enhance(img: &RgbImage) -> (RgbImage, GrayImage) {
        let mut colour = img.clone();
        flatten(&mut colour);
        let mut g = grey(&colour);
        sharpen(&mut g, &mut colour, 2, 0.8);
        (colour, g)
    }

    /// Deterministic noise in -10..=10 (standard deviation about 6, a phone sensor's in the
    /// dark after JPEG).
    fn noise(x: u32, y: u32) -> i32 {
        let mut v = (x.wrapping_mul(0x9E37_79B9) ^ y.wrapping_mul(0x85EB_CA6B)).wrapping_add(x ^ y);
        v ^= v >> 15;
        v = v.wrapping_mul(0x2C1B_3C6D);
        v ^= v >> 12;
        (v % 21) as i32 - 10
    }

    fn mean_std(values: &[f32]) -> (f32, f32) {
        let n = values.len().max(1) as f32;
        let mean = values.iter().sum::<f32>() / n;
        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        (mean, var.sqrt())
    }

    /// Rows of strokes like text: 10 px bars 6 px apart, in `rect` (x0, y0, x1, y1).
    fn strokes(x: u32, y: u32, rect: (u32, u32, u32, u32)) -> bool {
        (rect.0..rect.2).contains(&x) && (rect.1..rect.3).contains(&y) && (x - rect.0) % 16 < 10
    }

    #[test]
    fn red_and_blue_text_keep_their_contrast() {
        // A card: black company line, a red name (GB red, E60012), a blue phone (0070C0).
        const RED: [u8; 3] = [230, 0, 18];
        const BLUE: [u8; 3] = [0, 112, 192];
        let (company, name, phone) = ((60, 40, 700, 80), (60, 140, 500, 240), (60, 320, 700, 350));
        let img = RgbImage::from_fn(900, 540, |x, y| {
            if strokes(x, y, company) {
                image::Rgb([25, 25, 25])
            } else if strokes(x, y, name) {
                image::Rgb(RED)
            } else if strokes(x, y, phone) {
                image::Rgb(BLUE)
            } else {
                image::Rgb([244, 242, 236])
            }
        });
        let (colour, g) = enhance(&img);
        let paper = f32::from(g.get_pixel(800, 480).0[0]);
        // The middle of a stroke, away from the sharpened edges.
        let ink = |rect: (u32, u32, u32, u32)| {
            f32::from(g.get_pixel(rect.0 + 5 + 16 * 4, (rect.1 + rect.3) / 2).0[0])
        };
        // Black ink reaches about 250 levels below the paper; coloured ink must read at least
        // 80% as dark (200 levels): plain luminance leaves this red at 71 and this blue at 88
        // (about 180 and 165 below the paper), which a binarizing reader takes for a grey tint.
        for (what, rect) in [("black", company), ("red", name), ("blue", phone)] {
            let contrast = paper - ink(rect);
            assert!(contrast >= 200.0, "{what} text: contrast {contrast}");
        }
        // In colour, the red stays red and the blue blue.
        let red = colour.get_pixel(name.0 + 5 + 64, 190).0;
        assert!(
            red[0] > 180 && red[1] < 60 && red[2] < 70,
            "red became {red:?}"
        );
        let blue = colour.get_pixel(phone.0 + 5 + 64, 335).0;
        assert!(blue[2] > 150 && blue[0] < 60, "blue became {blue:?}");
    }

    #[test]
    fn white_text_on_a_black_band_without_grain() {
        // White paper with a black band across the bottom holding white text, all with
        // sensor noise.
        let text = (100, 400, 700, 440);
        let img = RgbImage::from_fn(900, 540, |x, y| {
            let n = noise(x, y);
            let v = if y >= 360 {
                if strokes(x, y, text) {
                    240
                } else {
                    28
                }
            } else {
                238
            };
            let v = (v + n).clamp(0, 255) as u8;
            image::Rgb([v, v, v.saturating_add(2)])
        });
        let band = |g: &GrayImage| -> Vec<f32> {
            (460..530)
                .flat_map(|y| (20..880).map(move |x| (x, y)))
                .map(|(x, y)| f32::from(g.get_pixel(x, y).0[0]))
                .collect()
        };
        let (_, before) = mean_std(&band(&grey(&img)));
        let (_, g) = enhance(&img);
        let (mean, after) = mean_std(&band(&g));
        // No grain: the band's noise may grow by the contrast stretch (a quarter at most), not
        // be multiplied as when the band is lifted like paper in shadow.
        assert!(after <= before * 1.25, "noise {before} became {after}");
        assert!(mean < 60.0, "the band was lifted to {mean}");
        let letters = f32::from(g.get_pixel(text.0 + 5 + 64, 420).0[0]);
        assert!(letters - mean >= 150.0, "text {letters} on band {mean}");
    }

    #[test]
    fn a_colour_band_keeps_its_colour_without_grain() {
        // A red band with white text at the top of a white card, with sensor noise.
        let img = RgbImage::from_fn(900, 540, |x, y| {
            let n = noise(x, y);
            let px = if y < 140 {
                if strokes(x, y, (100, 50, 600, 90)) {
                    [245, 245, 245]
                } else {
                    [200, 16, 46]
                }
            } else {
                [242, 240, 234]
            };
            image::Rgb(px.map(|v: i32| (v + n).clamp(0, 255) as u8))
        });
        let (colour, g) = enhance(&img);
        let region = |x0: u32, x1: u32| -> Vec<(u32, u32)> {
            (100..135)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .collect()
        };
        // Still red: not lifted towards pink or white like paper in shadow.
        let px = region(650, 880);
        let mean = |c: usize| {
            px.iter()
                .map(|&(x, y)| f32::from(colour.get_pixel(x, y).0[c]))
                .sum::<f32>()
                / px.len() as f32
        };
        let (r, gr, b) = (mean(0), mean(1), mean(2));
        assert!(
            r - gr >= 120.0 && gr <= 60.0 && b <= 80.0,
            "the band became {r} {gr} {b}"
        );
        // And as smooth as it was, within the contrast stretch.
        let grey_before = grey(&img);
        let before: Vec<f32> = px
            .iter()
            .map(|&(x, y)| f32::from(grey_before.get_pixel(x, y).0[0]))
            .collect();
        let after: Vec<f32> = px
            .iter()
            .map(|&(x, y)| f32::from(g.get_pixel(x, y).0[0]))
            .collect();
        let (before, after) = (mean_std(&before).1, mean_std(&after).1);
        assert!(after <= before * 1.25, "noise {before} became {after}");
    }
}
