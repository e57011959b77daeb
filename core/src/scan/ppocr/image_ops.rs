//! Turning pixels into the models' input tensors, and cutting line crops out of a page.
//!
//! PaddleOCR trained on OpenCV images, so channels go in B, G, R order. Detection normalizes
//! with ImageNet's mean and deviation; direction and recognition map 0..255 to -1..1 and pad
//! the right of short lines with zeros.

use super::boxes::TextBox;
use crate::scan::geom::Homography;
use image::imageops::{self, FilterType};
use image::RgbImage;
use rten_tensor::NdTensor;

const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// The height lines are read at.
pub const LINE_HEIGHT: u32 = 48;
/// The direction classifier's input width.
const CLS_WIDTH: u32 = 192;
/// The narrowest recognition input (what the model was trained at).
const REC_MIN_WIDTH: u32 = 320;
/// The widest recognition input: longer lines are squeezed (a 48 x 3200 line holds about
/// 130 characters).
const REC_MAX_WIDTH: u32 = 3200;

/// `img` resized to `w x h` by area averaging (each output pixel the mean of the source
/// pixels it covers; bilinear when enlarging), in `f32` per channel, row-major.
fn resize_area(img: &RgbImage, w: u32, h: u32) -> Vec<f32> {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let (w, h) = (w as usize, h as usize);
    // For each output coordinate: the source indices and weights it averages.
    let taps = |src: usize, dst: usize| -> Vec<Vec<(usize, f32)>> {
        let scale = src as f32 / dst as f32;
        (0..dst)
            .map(|o| {
                if scale <= 1.0 {
                    let c = ((o as f32 + 0.5) * scale - 0.5).clamp(0.0, (src - 1) as f32);
                    let i = c.floor() as usize;
                    let f = c - i as f32;
                    vec![(i, 1.0 - f), ((i + 1).min(src - 1), f)]
                } else {
                    let (a, b) = (o as f32 * scale, (o as f32 + 1.0) * scale);
                    let mut v = Vec::new();
                    let mut i = a.floor() as usize;
                    while (i as f32) < b && i < src {
                        let cover = (b.min(i as f32 + 1.0) - a.max(i as f32)) / scale;
                        v.push((i, cover));
                        i += 1;
                    }
                    v
                }
            })
            .collect()
    };
    let (tx, ty) = (taps(sw, w), taps(sh, h));
    let raw = img.as_raw();
    // Rows first: sh x w x 3.
    let mut rows = vec![0f32; sh * w * 3];
    for y in 0..sh {
        let src = &raw[y * sw * 3..(y + 1) * sw * 3];
        let dst = &mut rows[y * w * 3..(y + 1) * w * 3];
        for (x, t) in tx.iter().enumerate() {
            let mut acc = [0f32; 3];
            for &(i, wt) in t {
                for c in 0..3 {
                    acc[c] += wt * f32::from(src[i * 3 + c]);
                }
            }
            dst[x * 3..x * 3 + 3].copy_from_slice(&acc);
        }
    }
    let mut out = vec![0f32; h * w * 3];
    for (y, t) in ty.iter().enumerate() {
        let dst = &mut out[y * w * 3..(y + 1) * w * 3];
        for &(i, wt) in t {
            let src = &rows[i * w * 3..(i + 1) * w * 3];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += wt * s;
            }
        }
    }
    out
}

/// `img` resized to `w x h` as a `[1, 3, h, w]` tensor for the detector.
pub(crate) fn det_input(img: &RgbImage, w: u32, h: u32) -> NdTensor<f32, 4> {
    let pixels = resize_area(img, w, h);
    let (w, h) = (w as usize, h as usize);
    let mut data = vec![0f32; 3 * w * h];
    for (i, px) in pixels.chunks_exact(3).enumerate() {
        for c in 0..3 {
            // Plane 0 is blue.
            let v = px[2 - c] / 255.0;
            data[c * w * h + i] = (v - MEAN[c]) / STD[c];
        }
    }
    NdTensor::from_data([1, 3, h, w], data)
}

/// `img`'s width once scaled to height 48, keeping its aspect ratio.
fn width_at_line_height(img: &RgbImage) -> u32 {
    let (w, h) = img.dimensions();
    (w as f32 * LINE_HEIGHT as f32 / h.max(1) as f32).ceil() as u32
}

/// The width of `crop`'s recognition input on its own: its width at height 48, at least the
/// trained 320 and at most 3200.
pub(crate) fn rec_width(crop: &RgbImage) -> u32 {
    width_at_line_height(crop).clamp(REC_MIN_WIDTH, REC_MAX_WIDTH)
}

/// `img` scaled to height 48 keeping its aspect ratio, at most `max_w` wide.
fn to_line_height(img: &RgbImage, max_w: u32) -> RgbImage {
    let rw = width_at_line_height(img).clamp(1, max_w);
    if img.dimensions() == (rw, LINE_HEIGHT) {
        return img.clone();
    }
    imageops::resize(img, rw, LINE_HEIGHT, FilterType::Triangle)
}

/// Writes `img` (height 48) into plane-major `data` of a `[n, 3, 48, width]` tensor at item `k`,
/// mapping 0..255 to -1..1.
fn put_line(data: &mut [f32], k: usize, width: usize, img: &RgbImage) {
    let plane = LINE_HEIGHT as usize * width;
    let iw = img.width() as usize;
    for (i, px) in img.as_raw().chunks_exact(3).enumerate() {
        let (x, y) = (i % iw, i / iw);
        if x >= width {
            continue;
        }
        for c in 0..3 {
            let v = f32::from(px[2 - c]) / 255.0;
            data[k * 3 * plane + c * plane + y * width + x] = (v - 0.5) / 0.5;
        }
    }
}

/// The direction classifier's batch `[n, 3, 48, 192]`.
pub(crate) fn cls_input(crops: &[RgbImage]) -> NdTensor<f32, 4> {
    let width = CLS_WIDTH as usize;
    let mut data = vec![0f32; crops.len() * 3 * LINE_HEIGHT as usize * width];
    for (k, c) in crops.iter().enumerate() {
        put_line(&mut data, k, width, &to_line_height(c, CLS_WIDTH));
    }
    NdTensor::from_data([crops.len(), 3, LINE_HEIGHT as usize, width], data)
}

/// The recognizer's batch `[n, 3, 48, W]` (W the widest line, at least 320) and the width each
/// line occupies in it.
pub(crate) fn rec_input(crops: &[&RgbImage]) -> (NdTensor<f32, 4>, Vec<u32>) {
    let lines: Vec<RgbImage> = crops
        .iter()
        .map(|c| to_line_height(c, REC_MAX_WIDTH))
        .collect();
    let width = lines
        .iter()
        .map(RgbImage::width)
        .max()
        .unwrap_or(0)
        .max(REC_MIN_WIDTH) as usize;
    let mut data = vec![0f32; lines.len() * 3 * LINE_HEIGHT as usize * width];
    for (k, l) in lines.iter().enumerate() {
        put_line(&mut data, k, width, l);
    }
    let widths = lines.iter().map(RgbImage::width).collect();
    (
        NdTensor::from_data([lines.len(), 3, LINE_HEIGHT as usize, width], data),
        widths,
    )
}

/// Cuts the rotated rectangle `b` out of `img` as an upright image `box width x box height`
/// (corner 0 at the top-left), sampled bilinearly through the perspective map.
pub fn crop_box(img: &RgbImage, b: &TextBox) -> RgbImage {
    let w = b.width().round().max(1.0) as u32;
    let h = b.height().round().max(1.0) as u32;
    let from = [
        [0.0, 0.0],
        [f64::from(w), 0.0],
        [f64::from(w), f64::from(h)],
        [0.0, f64::from(h)],
    ];
    let to = b.corners.map(|p| [f64::from(p[0]), f64::from(p[1])]);
    let Some(map) = Homography::from_points(&from, &to) else {
        return RgbImage::new(w, h);
    };
    let (iw, ih) = (img.width() as i64, img.height() as i64);
    let raw = img.as_raw();
    RgbImage::from_fn(w, h, |x, y| {
        let p = map
            .apply([f64::from(x) + 0.5, f64::from(y) + 0.5])
            .unwrap_or([0.0, 0.0]);
        let (fx, fy) = (p[0] as f32 - 0.5, p[1] as f32 - 0.5);
        let (x0, y0) = (fx.floor() as i64, fy.floor() as i64);
        let (ax, ay) = (fx - x0 as f32, fy - y0 as f32);
        let at = |xx: i64, yy: i64, c: usize| {
            let xx = xx.clamp(0, iw - 1) as usize;
            let yy = yy.clamp(0, ih - 1) as usize;
            f32::from(raw[(yy * iw as usize + xx) * 3 + c])
        };
        image::Rgb([0, 1, 2].map(|c| {
            let top = at(x0, y0, c) * (1.0 - ax) + at(x0 + 1, y0, c) * ax;
            let bot = at(x0, y0 + 1, c) * (1.0 - ax) + at(x0 + 1, y0 + 1, c) * ax;
            (top * (1.0 - ay) + bot * ay).round().clamp(0.0, 255.0) as u8
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rten_tensor::prelude::*;

    #[test]
    fn area_resize_averages_what_each_pixel_covers() {
        let img = RgbImage::from_fn(4, 2, |x, _| {
            image::Rgb([if x < 2 { 0 } else { 200 }, 10, 20])
        });
        let out = resize_area(&img, 2, 1);
        assert_eq!(out, [0.0, 10.0, 20.0, 200.0, 10.0, 20.0]);
        let up = resize_area(&img, 8, 4);
        assert_eq!(up.len(), 8 * 4 * 3);
        assert_eq!(up[0], 0.0);
        assert_eq!(up[7 * 3], 200.0);
    }

    #[test]
    fn crop_of_an_axis_aligned_box_is_the_region() {
        let img = RgbImage::from_fn(50, 30, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let b = TextBox {
            corners: [[10.0, 5.0], [30.0, 5.0], [30.0, 15.0], [10.0, 15.0]],
            score: 1.0,
        };
        let c = crop_box(&img, &b);
        assert_eq!(c.dimensions(), (20, 10));
        assert_eq!(c.get_pixel(0, 0).0, [10, 5, 7]);
        assert_eq!(c.get_pixel(19, 9).0, [29, 14, 7]);
    }

    #[test]
    fn rec_batch_is_padded_to_the_widest_line() {
        let a = RgbImage::from_pixel(100, 24, image::Rgb([255, 0, 0]));
        let b = RgbImage::from_pixel(480, 24, image::Rgb([0, 0, 0]));
        let (t, widths) = rec_input(&[&a, &b]);
        assert_eq!(t.shape(), [2, 3, 48, 960]);
        assert_eq!(widths, [200, 960]);
        // Red becomes plane 2 (BGR) at +1, blue plane 0 at -1; padding stays 0.
        assert_eq!(t[[0, 2, 10, 10]], 1.0);
        assert_eq!(t[[0, 0, 10, 10]], -1.0);
        assert_eq!(t[[0, 0, 10, 500]], 0.0);
        assert_eq!(t[[1, 1, 47, 959]], -1.0);
    }
}
