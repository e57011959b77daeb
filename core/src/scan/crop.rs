//! Choosing the document's outline among the ranked candidates of `detect.rs`, with the text
//! as a witness, and a calibrated `corner_confidence`.
//!
//! Edges alone cannot tell a card from a divider rule across it, a colour band, the black half
//! of a two-tone card, a table on a page, a wood panel under the card or a dark frame around
//! the photo: all are straight, strong and closed. The text can. A document's outline holds
//! its text and never cuts through a line of it, so for each candidate the text boxes (found
//! once by the PP-OCR detector on the same small image) are sorted into inside, cut by the
//! outline, just outside, and far away:
//!
//! - text **just outside** (or cut): the candidate is an inner edge. When a larger candidate
//!   holds that text too and is supported by edges all round, that one is the document;
//! - a candidate holding **no text** is a background rectangle and is refused;
//! - a candidate around a smaller, well-supported one that **holds the same text** (a wood
//!   panel under the card, the frame of the photo) is the background and loses to it, unless
//!   the smaller one is only a part of it cut off by a line across it (all its corners on the
//!   larger outline: the lit half of a card beside a shadow, the white half of a two-tone card);
//! - when nothing convincing is left, `document_found` is false and the corners are the text's
//!   bounding box, padded (or the whole photo when there is no text, or when the text spans
//!   most of it: a card already cut out), with a low confidence.
//!
//! The confidence is a logistic score of the edge support of the four sides, how regular the
//! angles are, how plausible the aspect ratio is for a card (1.5-1.85) or an A4 page (1.41),
//! the area share, and the text terms above. [`roc_auc`] measures how well it separates right
//! crops from wrong ones.

use super::detect::Outline;
use super::geom::{clip_convex, order_clockwise, polygon_area, Point};
use super::ppocr::TextBox;

/// The evidence about one candidate outline.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Features {
    /// Mean support of the non-border sides (0..1).
    pub edge: f64,
    /// Support of the weakest non-border side.
    pub min_edge: f64,
    /// One polarity all round.
    pub consistent: bool,
    /// How many sides lie on the image border.
    pub borders: usize,
    /// Largest `|cos|` of an interior angle.
    pub skew: f64,
    /// 1 for a card's or an A4 page's aspect ratio, falling to 0 away from both.
    pub aspect_fit: f64,
    /// The outline's area over the image's.
    pub area_share: f64,
    /// The text terms, when text boxes were given.
    pub text: Option<TextFeatures>,
}

/// Where the text lies relative to one outline, as fractions of all the text (by box area).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct TextFeatures {
    /// Inside the outline.
    pub inside: f64,
    /// Cut by the outline (part inside, part outside).
    pub cut: f64,
    /// Outside, within a third of the outline's size from it.
    pub near: f64,
    /// The bounding box of the text inside over the outline's area.
    pub tight: f64,
    /// Another candidate holds this one's nearby text and is supported: this is an inner edge.
    pub inner: bool,
    /// A smaller supported candidate inside holds the same text: this is the background.
    pub background: bool,
}

/// The outline chosen, with every candidate's confidence.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Choice {
    /// Index of the chosen outline; `None` when none is convincing.
    pub index: Option<usize>,
    /// The logit of each outline's confidence (same order as the outlines).
    pub logits: Vec<f64>,
    /// When nothing was chosen and there is text: its padded bounding box in small pixels.
    pub text_box: Option<[Point; 4]>,
}

/// Below this confidence no outline is taken as the document (with text to check against).
const MIN_CONFIDENCE: f64 = 0.35;

/// The logistic function.
pub(crate) fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn aspect_fit(aspect: f64) -> f64 {
    // Cards 85.6x54 (1.59) to 90x50 (1.8), Chinese 90x54 (1.67), Japanese 91x55 (1.65);
    // A4 1.414. Perspective stretches the measured ratio, so the bands are generous.
    let d = if (1.33..=1.9).contains(&aspect) {
        0.0
    } else if aspect < 1.33 {
        1.33 - aspect
    } else {
        aspect - 1.9
    };
    (-(d / 0.2).powi(2)).exp()
}

/// Whether `p` lies inside the convex quadrilateral `q` grown by `tol` pixels.
fn inside_convex(q: &[[f64; 2]; 4], p: [f64; 2], tol: f64) -> bool {
    let area = signed_area(q);
    let s = area.signum();
    (0..4).all(|k| {
        let (a, b) = (q[k], q[(k + 1) % 4]);
        let len = (b[0] - a[0]).hypot(b[1] - a[1]).max(1e-9);
        let cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
        s * cross / len >= -tol
    })
}

fn signed_area(q: &[[f64; 2]; 4]) -> f64 {
    (0..4)
        .map(|k| {
            let (a, b) = (q[k], q[(k + 1) % 4]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

/// Distance from `p` to the boundary of `q`.
fn distance_to_outline(q: &[[f64; 2]; 4], p: [f64; 2]) -> f64 {
    (0..4)
        .map(|k| {
            let (a, b) = (q[k], q[(k + 1) % 4]);
            let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
            let l2 = (dx * dx + dy * dy).max(1e-12);
            let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / l2).clamp(0.0, 1.0);
            (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
        })
        .fold(f64::INFINITY, f64::min)
}

/// The text boxes worth weighing: not specks, and not blobs too thick to be a line of text at
/// this scale (sticky notes and photos on a desk can look like text to the detector).
fn usable(text: &[TextBox], w: f64, h: f64) -> Vec<(TextBox, f64)> {
    let max_thick = 0.1 * w.max(h) as f32;
    text.iter()
        .filter_map(|b| {
            let area = f64::from(polygon_area(&b.corners).abs());
            let (short, long) = (b.height().min(b.width()), b.height().max(b.width()));
            let line_like = short <= max_thick && (long >= 1.3 * short || b.score >= 0.7);
            (area >= 4.0 && short >= 2.0 && line_like).then_some((*b, area))
        })
        .collect()
}

fn text_features(o: &Outline, text: &[(TextBox, f64)], total: f64) -> TextFeatures {
    let q = o.corners;
    let qpts = order_clockwise(o.points());
    let area = signed_area(&q).abs().max(1.0);
    let near_band = area.sqrt() / 3.0;
    let (mut inside, mut cut, mut near) = (0.0, 0.0, 0.0);
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (b, w) in text {
        let bpts = order_clockwise(b.corners);
        let inter = f64::from(polygon_area(&clip_convex(&bpts, &qpts)).abs());
        let f = (inter / w).clamp(0.0, 1.0);
        if f >= 0.85 {
            inside += w;
            let (bx0, by0, bx1, by1) = b.bounds();
            x0 = x0.min(f64::from(bx0));
            y0 = y0.min(f64::from(by0));
            x1 = x1.max(f64::from(bx1));
            y1 = y1.max(f64::from(by1));
        } else if f > 0.15 {
            cut += w;
        } else {
            let c = b.centre();
            let c = [f64::from(c[0]), f64::from(c[1])];
            if distance_to_outline(&q, c) < near_band {
                near += w;
            }
        }
    }
    let tight = if x1 > x0 {
        ((x1 - x0) * (y1 - y0) / area).min(1.0)
    } else {
        0.0
    };
    TextFeatures {
        inside: inside / total,
        cut: cut / total,
        near: near / total,
        tight,
        inner: false,
        background: false,
    }
}

fn features(o: &Outline, w: f64, h: f64) -> Features {
    let sides: Vec<f64> = (0..4)
        .filter(|&k| !o.border[k])
        .map(|k| o.support[k])
        .collect();
    let edge = sides.iter().sum::<f64>() / sides.len().max(1) as f64;
    let min_edge = sides.iter().copied().fold(1.0, f64::min);
    Features {
        edge,
        min_edge,
        consistent: o.consistent,
        borders: o.border.iter().filter(|b| **b).count(),
        skew: o.skew(),
        aspect_fit: aspect_fit(o.aspect()),
        area_share: signed_area(&o.corners).abs() / (w * h).max(1.0),
        text: None,
    }
}

/// The calibrated logit of a candidate being the document's outline.
pub(crate) fn logit(f: &Features) -> f64 {
    let mut z = -4.0 + 2.5 * f.edge + 1.5 * f.min_edge + if f.consistent { 0.5 } else { 0.0 }
        - [0.0, 0.4, 1.2, 3.5, 3.5][f.borders.min(4)]
        - 4.0 * (f.skew - 0.3).max(0.0)
        + 1.8 * f.aspect_fit
        + 0.6 * (f.area_share / 0.12).min(1.0);
    match &f.text {
        None => z += 1.0,
        Some(t) => {
            z += 2.5 * t.inside - 3.5 * t.near - 5.0 * t.cut + 0.8 * (t.tight / 0.3).min(1.0);
            if t.inner {
                z -= 2.5;
            }
            if t.background {
                z -= 2.5;
            }
        }
    }
    z
}

/// Whether outline `inner` lies within `outer` (a few pixels of slack for shared sides).
fn contains(outer: &Outline, inner: &Outline) -> bool {
    let size = signed_area(&outer.corners).abs().sqrt();
    let tol = 2.0 + 0.01 * size;
    inner
        .corners
        .iter()
        .all(|p| inside_convex(&outer.corners, *p, tol))
}

/// Whether `inner` is a part of `outer` cut off by lines across it: every corner of `inner` lies
/// on `outer`'s outline. The lit half of a card beside a shadow, or the white half of a two-tone
/// card, shares three sides with the card; a card lying on a panel shares none with the panel.
fn divides(outer: &Outline, inner: &Outline) -> bool {
    let size = signed_area(&outer.corners).abs().sqrt();
    let tol = 2.0 + 0.01 * size;
    inner
        .corners
        .iter()
        .all(|p| distance_to_outline(&outer.corners, *p) <= tol)
}

/// Picks the document's outline among `outlines` (ranked by edge score, small-image pixels of
/// a `w x h` image), using `text` (boxes in the same pixels) when given.
pub(crate) fn choose(outlines: &[Outline], text: Option<&[TextBox]>, w: f64, h: f64) -> Choice {
    let mut feats: Vec<Features> = outlines.iter().map(|o| features(o, w, h)).collect();
    let text = text.map(|t| usable(t, w, h)).filter(|t| !t.is_empty());
    let Some(text) = text else {
        // No text to check against: the best-scoring outline with one polarity all round, as
        // long as most of its perimeter is supported.
        let index = outlines
            .iter()
            .position(|o| o.consistent)
            .filter(|&i| outlines[i].coverage >= 0.4);
        return Choice {
            index,
            logits: feats.iter().map(logit).collect(),
            text_box: None,
        };
    };
    let total: f64 = text.iter().map(|(_, w)| w).sum();
    for (f, o) in feats.iter_mut().zip(outlines) {
        f.text = Some(text_features(o, &text, total));
    }
    let tfs: Vec<TextFeatures> = feats.iter().map(|f| f.text.unwrap_or_default()).collect();
    let tf = |i: usize| tfs[i];
    let n = outlines.len();
    let solid = |i: usize| feats[i].min_edge >= 0.3 && tf(i).cut < 0.15;
    let mut inner = vec![false; n];
    let mut background = vec![false; n];
    for i in 0..n {
        let ti = tf(i);
        let missing = ti.near + ti.cut;
        if missing < 0.08 {
            continue;
        }
        // Against an outline with clear edges all round, the larger one must not lean on more
        // of the photo's edges: text reached only by running out to the frame (a page of print
        // around the document) is the background's, not a part of the document behind an
        // inner edge.
        let edged = feats[i].min_edge >= 0.5;
        inner[i] = (0..n).any(|j| {
            j != i
                && solid(j)
                && (!edged || feats[j].borders <= feats[i].borders)
                && contains(&outlines[j], &outlines[i])
                && tf(j).inside >= ti.inside + 0.5 * missing
        });
    }
    for j in 0..n {
        let area_j = signed_area(&outlines[j].corners).abs();
        // Only a clearly smaller, card- or page-shaped outline with strong edges and one
        // polarity all round makes the larger one background: with sparse text, the white half
        // of a two-tone card, or a box of text rows, holds all the text found too.
        background[j] = (0..n).any(|i| {
            i != j
                && !inner[i]
                && solid(i)
                && outlines[i].consistent
                && feats[i].min_edge >= 0.7
                && feats[i].aspect_fit >= 0.5
                && tf(i).inside > 0.0
                && tf(i).inside >= tf(j).inside - 0.05
                && signed_area(&outlines[i].corners).abs() < 0.5 * area_j
                && contains(&outlines[j], &outlines[i])
                && !divides(&outlines[j], &outlines[i])
        });
    }
    for (i, f) in feats.iter_mut().enumerate() {
        if let Some(t) = f.text.as_mut() {
            t.inner = inner[i];
            t.background = background[i];
        }
    }
    let logits: Vec<f64> = feats.iter().map(logit).collect();
    let index = (0..n)
        .filter(|&i| tf(i).inside >= 0.05)
        .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
        .filter(|&i| sigmoid(logits[i]) >= MIN_CONFIDENCE);
    let text_box = if index.is_none() {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        let mut heights: Vec<f32> = Vec::new();
        for (b, _) in &text {
            let (a, c, d, e) = b.bounds();
            x0 = x0.min(a);
            y0 = y0.min(c);
            x1 = x1.max(d);
            y1 = y1.max(e);
            heights.push(b.height().min(b.width()));
        }
        heights.sort_by(f32::total_cmp);
        let pad = heights.get(heights.len() / 2).copied().unwrap_or(0.0) * 1.5;
        let (x0, y0) = ((x0 - pad).max(0.0), (y0 - pad).max(0.0));
        let (x1, y1) = ((x1 + pad).min(w as f32), (y1 + pad).min(h as f32));
        // Text across most of the photo: a card or page already cut out (or photographed
        // filling the frame); the whole photo is its best crop.
        let fills = x1 - x0 >= 0.6 * w as f32 && y1 - y0 >= 0.5 * h as f32;
        (!fills && x1 > x0 + 4.0 && y1 > y0 + 4.0).then_some([
            [x0, y0],
            [x1, y0],
            [x1, y1],
            [x0, y1],
        ])
    } else {
        None
    };
    Choice {
        index,
        logits,
        text_box,
    }
}

/// The area under the ROC curve of a score meant to be higher for right crops than for wrong
/// ones: the probability that a random right crop scores above a random wrong one (ties count
/// half). 0.5 is chance, 1.0 a perfect separation. `NaN` when either list is empty.
pub fn roc_auc(scores_right: &[f32], scores_wrong: &[f32]) -> f64 {
    if scores_right.is_empty() || scores_wrong.is_empty() {
        return f64::NAN;
    }
    // Rank-sum (Mann-Whitney U) with mid-ranks for ties: O(n log n).
    let mut all: Vec<(f32, bool)> = scores_right
        .iter()
        .map(|&s| (s, true))
        .chain(scores_wrong.iter().map(|&s| (s, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0f64;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0.total_cmp(&all[i].0).is_eq() {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean.
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * all[i..=j].iter().filter(|(_, r)| *r).count() as f64;
        i = j + 1;
    }
    let (n1, n0) = (scores_right.len() as f64, scores_wrong.len() as f64);
    (rank_sum - n1 * (n1 + 1.0) / 2.0) / (n1 * n0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ordered_pairs_and_ties() {
        assert_eq!(roc_auc(&[0.9, 0.8], &[0.1, 0.2]), 1.0);
        assert_eq!(roc_auc(&[0.1], &[0.9]), 0.0);
        assert_eq!(roc_auc(&[0.5], &[0.5]), 0.5);
        // 3 right x 2 wrong = 6 pairs; right 0.4 loses to wrong 0.6, ties 0.3 once.
        let auc = roc_auc(&[0.9, 0.4, 0.3], &[0.6, 0.3]);
        assert!((auc - 3.5 / 6.0).abs() < 1e-12, "{auc}");
        assert!(roc_auc(&[], &[0.1]).is_nan());
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64, support: f64) -> Outline {
        Outline {
            corners: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            border: [false; 4],
            support: [support; 4],
            polarity: [1.0; 4],
            coverage: support,
            consistent: true,
            score: support * 2.0 * ((x1 - x0) + (y1 - y0)),
        }
    }

    fn text_line(x0: f32, y0: f32, x1: f32, y1: f32) -> TextBox {
        TextBox {
            corners: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            score: 0.9,
        }
    }

    #[test]
    fn text_beyond_an_inner_edge_grows_the_outline() {
        // A card 100..500 x 100..340 with a divider at y = 280 and a line of text below it.
        // The inner quad (above the divider) has the better edge score.
        let inner = rect(100.0, 100.0, 500.0, 280.0, 0.95);
        let card = rect(100.0, 100.0, 500.0, 340.0, 0.7);
        let text = [
            text_line(130.0, 130.0, 400.0, 150.0),
            text_line(130.0, 170.0, 350.0, 185.0),
            text_line(130.0, 300.0, 420.0, 318.0),
        ];
        let outlines = [inner, card];
        let c = choose(&outlines, Some(&text), 640.0, 480.0);
        assert_eq!(c.index, Some(1), "{c:?}");
        assert!(c.logits[1] > c.logits[0]);
        // Without the text, the edges alone pick the inner quad.
        assert_eq!(choose(&outlines, None, 640.0, 480.0).index, Some(0));
    }

    #[test]
    fn a_rectangle_around_the_card_holding_the_same_text_is_background() {
        let panel = rect(40.0, 40.0, 600.0, 440.0, 0.95);
        let card = rect(200.0, 160.0, 440.0, 304.0, 0.8);
        let text = [
            text_line(215.0, 175.0, 400.0, 195.0),
            text_line(215.0, 250.0, 380.0, 262.0),
        ];
        let c = choose(&[panel, card], Some(&text), 640.0, 480.0);
        assert_eq!(c.index, Some(1), "{c:?}");
        // A rectangle holding no text is never the document.
        let empty = rect(420.0, 300.0, 620.0, 460.0, 1.0);
        let c = choose(&[empty, card], Some(&text), 640.0, 480.0);
        assert_eq!(c.index, Some(1), "{c:?}");
    }

    #[test]
    fn a_part_cut_off_by_a_shadow_or_a_colour_band_is_not_the_card() {
        // A card 100..560 x 100..360; a shadow edge across it at x = 310 makes the lit part,
        // which holds all the text, a strong outline sharing three sides with the card.
        let lit = rect(100.0, 100.0, 310.0, 360.0, 0.85);
        let card = rect(100.0, 100.0, 560.0, 360.0, 0.8);
        let text = [
            text_line(120.0, 130.0, 290.0, 150.0),
            text_line(120.0, 200.0, 260.0, 215.0),
            text_line(120.0, 300.0, 280.0, 312.0),
        ];
        let c = choose(&[lit, card], Some(&text), 640.0, 480.0);
        assert_eq!(c.index, Some(1), "{c:?}");
        // The same lit part lying on a larger panel (no side shared) makes the panel background.
        let panel = rect(60.0, 60.0, 620.0, 470.0, 0.8);
        let c = choose(&[lit, panel], Some(&text), 640.0, 480.0);
        assert_eq!(c.index, Some(0), "{c:?}");
    }

    #[test]
    fn print_around_a_page_reached_by_running_to_the_frame_is_background() {
        // A page 40..440 x 60..470 on a newspaper filling a 480x640 photo. Print just right
        // of the page, and a larger outline from the page's left, top and bottom out to
        // the right edge of the photo that holds it too.
        let page = rect(40.0, 60.0, 440.0, 470.0, 0.85);
        let mut to_frame = rect(40.0, 60.0, 480.0, 470.0, 0.65);
        to_frame.border = [false, true, false, false];
        to_frame.support[1] = 1.0;
        let text = [
            text_line(80.0, 100.0, 400.0, 120.0),
            text_line(80.0, 200.0, 400.0, 220.0),
            text_line(80.0, 300.0, 400.0, 320.0),
            text_line(80.0, 400.0, 300.0, 420.0),
            text_line(446.0, 100.0, 478.0, 120.0),
            text_line(446.0, 200.0, 478.0, 220.0),
            text_line(446.0, 300.0, 478.0, 320.0),
            text_line(446.0, 400.0, 478.0, 420.0),
        ];
        let c = choose(&[page, to_frame], Some(&text), 480.0, 640.0);
        assert_eq!(c.index, Some(0), "{c:?}");
        // A page cut by the frame, with a rule across it: its part beyond the rule holds text
        // and the larger outline shares the frame's edge, so it is still the document.
        let mut above_rule = rect(40.0, 60.0, 480.0, 330.0, 0.9);
        above_rule.border = [false, true, false, false];
        let c = choose(&[above_rule, to_frame], Some(&text[..4]), 480.0, 640.0);
        assert_eq!(c.index, Some(1), "{c:?}");
    }

    #[test]
    fn no_convincing_outline_falls_back_to_the_text() {
        // Text on a wall; the only candidate cuts through it.
        let text = [
            text_line(100.0, 100.0, 400.0, 130.0),
            text_line(100.0, 160.0, 380.0, 190.0),
        ];
        let cutting = rect(250.0, 50.0, 600.0, 300.0, 0.6);
        let c = choose(&[cutting], Some(&text), 640.0, 480.0);
        assert_eq!(c.index, None, "{c:?}");
        let b = c.text_box.unwrap_or_default();
        assert!(b[0][0] < 100.0 && b[0][1] < 100.0 && b[2][0] > 400.0 && b[2][1] > 190.0);
        // A card already cut out: its text spans the photo, which is the crop.
        let text = [
            text_line(60.0, 60.0, 560.0, 100.0),
            text_line(60.0, 200.0, 400.0, 230.0),
            text_line(60.0, 380.0, 500.0, 410.0),
        ];
        let c = choose(&[cutting], Some(&text), 640.0, 480.0);
        assert_eq!((c.index, c.text_box), (None, None), "{c:?}");
    }
}
