//! Which way is up, decided from the text itself (not only from EXIF): a card photographed
//! sideways or upside down comes out upright.
//!
//! 1. The detected boxes' shapes: when most of the text area lies in tall boxes, the text runs
//!    vertically. The largest tall boxes are then read three ways (turned a quarter clockwise,
//!    a quarter anticlockwise, and as a column of upright characters laid side by side, for
//!    vertical writing), and the way the recognizer is surest of wins.
//! 2. Otherwise the direction classifier looks at the widest lines; when it says "upside
//!    down", the same lines are read both ways and the recognizer's confidence decides.

use super::super::ppocr::{crop_box, ModelError, Models, Recognized, TextBox};
use crate::scan::geom::{order_clockwise, Point};
use image::imageops;
use image::RgbImage;

/// A box is tall (a vertical run of text) when its height is this many times its width.
const TALL: f32 = 1.5;

fn area(b: &TextBox) -> f32 {
    b.width() * b.height()
}

fn is_tall(b: &TextBox) -> bool {
    b.height() >= TALL * b.width()
}

fn is_wide(b: &TextBox) -> bool {
    b.width() >= TALL * b.height()
}

/// Lays a tall crop of vertical writing out as one row: the column is cut into square-ish
/// character cells, placed left to right.
pub fn unfold(crop: &RgbImage) -> RgbImage {
    let (w, h) = crop.dimensions();
    let n = ((h as f32 / w.max(1) as f32).round() as u32).max(1);
    let cell = h / n;
    if n == 1 || cell == 0 {
        return crop.clone();
    }
    let mut out = RgbImage::from_pixel(w * n, cell, image::Rgb([255, 255, 255]));
    for k in 0..n {
        let piece = imageops::crop_imm(crop, 0, k * cell, w, cell).to_image();
        imageops::replace(&mut out, &piece, i64::from(k * w), 0);
    }
    out
}

/// Mean confidence weighted by the number of characters read (a way that reads nothing
/// scores 0).
/// Longest run of a line, in multiples of its thickness, that deciding which way is up looks
/// at: about ten characters tell the direction as well as a whole contract line, at a fraction
/// of the reading.
const SAMPLE_RUN: u32 = 10;

/// The middle of a long crop: at most `SAMPLE_RUN` times its thickness along the line.
fn sample(crop: &RgbImage) -> RgbImage {
    let (w, h) = crop.dimensions();
    if w >= h && w > SAMPLE_RUN * h {
        let run = SAMPLE_RUN * h;
        imageops::crop_imm(crop, (w - run) / 2, 0, run, h).to_image()
    } else if h > w && h > SAMPLE_RUN * w {
        let run = SAMPLE_RUN * w;
        imageops::crop_imm(crop, 0, (h - run) / 2, w, run).to_image()
    } else {
        crop.clone()
    }
}

fn score(readings: &[Recognized]) -> f32 {
    let (s, n) = readings.iter().fold((0.0f32, 0.0f32), |(s, n), r| {
        let k = r.chars.iter().filter(|c| c.ch != ' ').count() as f32;
        (s + r.confidence * k.min(12.0), n + k.min(12.0))
    });
    if n == 0.0 {
        0.0
    } else {
        s / n
    }
}

/// Least number of line-shaped boxes (clearly longer one way than the other) that can tell
/// which way is up.
const LINES_TO_DECIDE: usize = 3;

/// Whether `boxes` hold enough line-shaped boxes to decide which way is up. Boxes found at a
/// coarse scale (a photo where the document is small, a page of small print) merge lines into
/// square blocks that tell nothing; those need a detection at the image's own scale.
pub fn can_decide(boxes: &[TextBox]) -> bool {
    boxes.iter().filter(|b| is_tall(b) || is_wide(b)).count() >= LINES_TO_DECIDE
}

/// The clockwise rotation (0, 90, 180, 270) that makes the text in `img` upright.
pub fn decide(models: &Models, img: &RgbImage, boxes: &[TextBox]) -> Result<u16, ModelError> {
    let usable: Vec<&TextBox> = boxes
        .iter()
        .filter(|b| b.width().min(b.height()) >= 6.0)
        .collect();
    if usable.is_empty() {
        return Ok(0);
    }
    let tall: f32 = usable.iter().filter(|b| is_tall(b)).map(|b| area(b)).sum();
    let wide: f32 = usable.iter().filter(|b| is_wide(b)).map(|b| area(b)).sum();
    if tall > wide * 1.5 {
        let mut talls: Vec<&TextBox> = usable.iter().copied().filter(|b| is_tall(b)).collect();
        talls.sort_by(|a, b| area(b).total_cmp(&area(a)));
        talls.truncate(4);
        let crops: Vec<RgbImage> = talls.iter().map(|b| sample(&crop_box(img, b))).collect();
        // Turned a quarter clockwise, a line of sideways text is level, upright or upside
        // down: the direction classifier tells which, so only one quarter is read.
        let cw: Vec<RgbImage> = crops.iter().map(imageops::rotate90).collect();
        let flipped = models.upside_down(&cw)?;
        let ccw = flipped.iter().sum::<f32>() / flipped.len().max(1) as f32 >= 0.5;
        let level: Vec<RgbImage> = if ccw {
            cw.iter().map(imageops::rotate180).collect()
        } else {
            cw
        };
        let col: Vec<RgbImage> = crops.iter().map(unfold).collect();
        let (s_level, s_col) = (
            score(&models.recognize(&level)?),
            score(&models.recognize(&col)?),
        );
        // A crop that reads well turned a quarter anticlockwise means the page must turn a
        // quarter anticlockwise (270 clockwise), and the other way round; a column that reads
        // well as it stands is vertical writing, already upright.
        return Ok(if s_col >= s_level {
            0
        } else if ccw {
            270
        } else {
            90
        });
    }
    let mut level: Vec<&TextBox> = usable.iter().copied().filter(|b| is_wide(b)).collect();
    if level.is_empty() {
        return Ok(0);
    }
    level.sort_by(|a, b| b.width().total_cmp(&a.width()));
    level.truncate(6);
    let crops: Vec<RgbImage> = level.iter().map(|b| sample(&crop_box(img, b))).collect();
    let p = models.upside_down(&crops)?;
    let weight: f32 = level.iter().map(|b| b.width()).sum();
    let flipped = level
        .iter()
        .zip(&p)
        .map(|(b, p)| b.width() * p)
        .sum::<f32>()
        / weight.max(1.0);
    if flipped < 0.5 {
        return Ok(0);
    }
    // The classifier errs on digits and Latin text: confirm with the recognizer.
    let few: Vec<RgbImage> = crops.into_iter().take(3).collect();
    let turned: Vec<RgbImage> = few.iter().map(imageops::rotate180).collect();
    let (upright, upside) = (
        score(&models.recognize(&few)?),
        score(&models.recognize(&turned)?),
    );
    Ok(if upside > upright { 180 } else { 0 })
}

fn rotate_point(p: Point, rotation: u16, w: f32, h: f32) -> Point {
    match rotation {
        90 => [h - p[1], p[0]],
        180 => [w - p[0], h - p[1]],
        270 => [p[1], w - p[0]],
        _ => p,
    }
}

/// Turns `img` clockwise by `rotation` degrees (0, 90, 180, 270), and the boxes with it.
pub fn rotate(img: RgbImage, boxes: Vec<TextBox>, rotation: u16) -> (RgbImage, Vec<TextBox>) {
    if rotation == 0 {
        return (img, boxes);
    }
    let (w, h) = (img.width() as f32, img.height() as f32);
    let turned = match rotation {
        90 => imageops::rotate90(&img),
        180 => imageops::rotate180(&img),
        _ => imageops::rotate270(&img),
    };
    let boxes = boxes
        .into_iter()
        .map(|b| TextBox {
            corners: order_clockwise(b.corners.map(|p| rotate_point(p, rotation, w, h))),
            score: b.score,
        })
        .collect();
    (turned, boxes)
}

/// Reads every box of an upright image. A tall box is read both as a column of upright
/// characters and turned a quarter, and the surer reading is kept. A card's lines are read
/// unpadded ([`Models::recognize_unpadded`]), a page's in padded batches.
pub fn read_boxes(
    models: &Models,
    img: &RgbImage,
    boxes: &[TextBox],
    layout: super::PageLayout,
) -> Result<Vec<Recognized>, ModelError> {
    let recognize = |crops: &[RgbImage]| match layout {
        super::PageLayout::Card => models.recognize_unpadded(crops),
        super::PageLayout::Page => models.recognize(crops),
    };
    let mut crops = Vec::with_capacity(boxes.len());
    let mut tall_alt: Vec<(usize, RgbImage)> = Vec::new();
    for (i, b) in boxes.iter().enumerate() {
        let crop = crop_box(img, b);
        if is_tall(b) {
            tall_alt.push((i, imageops::rotate270(&crop)));
            crops.push(unfold(&crop));
        } else {
            crops.push(crop);
        }
    }
    let mut readings = recognize(&crops)?;
    if !tall_alt.is_empty() {
        let alt_crops: Vec<RgbImage> = tall_alt.iter().map(|(_, c)| c.clone()).collect();
        let alt = recognize(&alt_crops)?;
        for ((i, _), r) in tall_alt.iter().zip(alt) {
            if r.confidence > readings[*i].confidence + 0.05 {
                readings[*i] = r;
            }
        }
    }
    Ok(readings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_turn_with_the_image() {
        let img = RgbImage::new(100, 60);
        let b = TextBox {
            corners: [[10.0, 5.0], [50.0, 5.0], [50.0, 15.0], [10.0, 15.0]],
            score: 1.0,
        };
        let (turned, boxes) = rotate(img, vec![b], 90);
        assert_eq!(turned.dimensions(), (60, 100));
        // Turned a quarter clockwise, the wide box is tall, at x 45..55, y 10..50.
        assert_eq!(
            boxes[0].corners,
            [[45.0, 10.0], [55.0, 10.0], [55.0, 50.0], [45.0, 50.0]]
        );
        let (_, back) = rotate(RgbImage::new(60, 100), boxes, 270);
        assert_eq!(back[0].corners, b.corners);
    }

    #[test]
    fn only_line_shaped_boxes_can_decide_which_way_is_up() {
        let rect = |w: f32, h: f32| TextBox {
            corners: [[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]],
            score: 0.9,
        };
        // Blocks of merged lines, as small print gives at a photo's scale.
        assert!(!can_decide(&[
            rect(60.0, 50.0),
            rect(40.0, 40.0),
            rect(30.0, 25.0)
        ]));
        assert!(!can_decide(&[
            rect(200.0, 20.0),
            rect(20.0, 150.0),
            rect(40.0, 40.0)
        ]));
        assert!(can_decide(&[
            rect(200.0, 20.0),
            rect(20.0, 150.0),
            rect(90.0, 30.0)
        ]));
        assert!(!can_decide(&[]));
    }

    #[test]
    fn a_long_line_is_sampled_in_its_middle() {
        let line = RgbImage::from_fn(1000, 20, |x, _| image::Rgb([(x / 4) as u8, 0, 0]));
        let s = sample(&line);
        assert_eq!(s.dimensions(), (200, 20));
        assert_eq!(s.get_pixel(0, 0).0[0], 100, "starts at x = 400");
        let column = RgbImage::new(20, 500);
        assert_eq!(sample(&column).dimensions(), (20, 200));
        let short = RgbImage::new(150, 20);
        assert_eq!(sample(&short).dimensions(), (150, 20));
    }

    #[test]
    fn a_column_unfolds_into_a_row() {
        let col = RgbImage::from_fn(20, 60, |_, y| image::Rgb([(y / 20 * 100) as u8, 0, 0]));
        let row = unfold(&col);
        assert_eq!(row.dimensions(), (60, 20));
        assert_eq!(row.get_pixel(5, 5).0[0], 0);
        assert_eq!(row.get_pixel(25, 5).0[0], 100);
        assert_eq!(row.get_pixel(45, 5).0[0], 200);
    }
}
