//! From the detector's probability map to text boxes: threshold, connected regions, the
//! smallest rotated rectangle of each, its mean probability, and the "unclip" that grows the
//! shrunk text kernel DBNet predicts back to the full line (PP-OCR's `DBPostProcess`, without
//! OpenCV).

use crate::scan::geom::Point;

/// A detected text region: a rotated rectangle in the coordinates of the image given to the
/// detector, clockwise from the top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextBox {
    /// Corners, clockwise from the top-left.
    pub corners: [Point; 4],
    /// Mean text probability inside the shrunk region, 0..1.
    pub score: f32,
}

impl TextBox {
    /// Length of the side from corner 0 to corner 1 (the reading direction of a level line).
    pub fn width(&self) -> f32 {
        dist(self.corners[0], self.corners[1])
    }

    /// Length of the side from corner 1 to corner 2.
    pub fn height(&self) -> f32 {
        dist(self.corners[1], self.corners[2])
    }

    /// The axis-aligned bounding box `(x0, y0, x1, y1)`.
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        let xs = self.corners.map(|p| p[0]);
        let ys = self.corners.map(|p| p[1]);
        (
            xs.iter().copied().fold(f32::MAX, f32::min),
            ys.iter().copied().fold(f32::MAX, f32::min),
            xs.iter().copied().fold(f32::MIN, f32::max),
            ys.iter().copied().fold(f32::MIN, f32::max),
        )
    }

    /// The centre point.
    pub fn centre(&self) -> Point {
        [
            self.corners.iter().map(|p| p[0]).sum::<f32>() / 4.0,
            self.corners.iter().map(|p| p[1]).sum::<f32>() / 4.0,
        ]
    }

    /// The same box with every coordinate multiplied by `sx`, `sy`.
    pub fn scaled(&self, sx: f32, sy: f32) -> TextBox {
        TextBox {
            corners: self.corners.map(|p| [p[0] * sx, p[1] * sy]),
            score: self.score,
        }
    }
}

fn dist(a: Point, b: Point) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Thresholds of [`boxes_from_map`] (PP-OCR's defaults as RapidOCR uses them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxParams {
    /// A pixel is text when its probability exceeds this.
    pub threshold: f32,
    /// A region is kept when its mean probability exceeds this.
    pub box_threshold: f32,
    /// How much the shrunk kernel is grown: distance = area * ratio / perimeter.
    pub unclip_ratio: f32,
    /// Regions whose short side is below this many pixels are dropped.
    pub min_size: f32,
}

impl Default for BoxParams {
    fn default() -> Self {
        BoxParams {
            threshold: 0.3,
            box_threshold: 0.5,
            unclip_ratio: 1.6,
            min_size: 3.0,
        }
    }
}

/// Text boxes in a `w x h` probability map (row-major). Boxes are in map pixels.
pub fn boxes_from_map(prob: &[f32], w: usize, h: usize, p: &BoxParams) -> Vec<TextBox> {
    if prob.len() < w * h || w == 0 || h == 0 {
        return Vec::new();
    }
    // Binary map, dilated by a 2x2 kernel (as PP-OCR does) so broken strokes join.
    let bin: Vec<bool> = prob[..w * h].iter().map(|&v| v > p.threshold).collect();
    let mut dil = bin.clone();
    for y in 0..h {
        for x in 0..w {
            if bin[y * w + x] {
                continue;
            }
            let right = x + 1 < w && bin[y * w + x + 1];
            let down = y + 1 < h && bin[(y + 1) * w + x];
            let diag = x + 1 < w && y + 1 < h && bin[(y + 1) * w + x + 1];
            if right || down || diag {
                dil[y * w + x] = true;
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = vec![false; w * h];
    let mut stack = Vec::new();
    let mut pts: Vec<[f32; 2]> = Vec::new();
    for start in 0..w * h {
        if !dil[start] || seen[start] {
            continue;
        }
        // One 8-connected region: collect its boundary-ish points (every pixel's corners would
        // be exact; the pixel corners of the region's extreme pixels per row suffice for the hull).
        pts.clear();
        stack.push(start);
        seen[start] = true;
        let mut rows: std::collections::BTreeMap<usize, (usize, usize)> = Default::default();
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            let e = rows.entry(y).or_insert((x, x));
            e.0 = e.0.min(x);
            e.1 = e.1.max(x);
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if dil[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        for (&y, &(x0, x1)) in &rows {
            let (y, x0, x1) = (y as f32, x0 as f32, x1 as f32 + 1.0);
            pts.extend([[x0, y], [x1, y], [x0, y + 1.0], [x1, y + 1.0]]);
        }
        let Some(rect) = min_area_rect(&pts) else {
            continue;
        };
        let (rw, rh) = (dist(rect[0], rect[1]), dist(rect[1], rect[2]));
        if rw.min(rh) < p.min_size {
            continue;
        }
        let score = mean_inside(prob, w, h, &rect);
        if score < p.box_threshold {
            continue;
        }
        let area = rw * rh;
        let d = area * p.unclip_ratio / (2.0 * (rw + rh));
        let grown = grow(&rect, d);
        let (gw, gh) = (dist(grown[0], grown[1]), dist(grown[1], grown[2]));
        if gw.min(gh) < p.min_size + 2.0 {
            continue;
        }
        let corners = grown.map(|q| [q[0].clamp(0.0, w as f32), q[1].clamp(0.0, h as f32)]);
        out.push(TextBox {
            corners: order_box(corners),
            score,
        });
    }
    out
}

/// Mean of `prob` over the pixels whose centres lie inside the convex quadrilateral `q`.
fn mean_inside(prob: &[f32], w: usize, h: usize, q: &[Point; 4]) -> f32 {
    let xs = q.map(|p| p[0]);
    let ys = q.map(|p| p[1]);
    let x0 = xs.iter().copied().fold(f32::MAX, f32::min).floor().max(0.0) as usize;
    let x1 = (xs.iter().copied().fold(f32::MIN, f32::max).ceil().max(0.0) as usize).min(w);
    let y0 = ys.iter().copied().fold(f32::MAX, f32::min).floor().max(0.0) as usize;
    let y1 = (ys.iter().copied().fold(f32::MIN, f32::max).ceil().max(0.0) as usize).min(h);
    let (mut sum, mut n) = (0f64, 0u32);
    for y in y0..y1 {
        for x in x0..x1 {
            if inside(q, [x as f32 + 0.5, y as f32 + 0.5]) {
                sum += f64::from(prob[y * w + x]);
                n += 1;
            }
        }
    }
    if n == 0 {
        0.0
    } else {
        (sum / f64::from(n)) as f32
    }
}

fn inside(q: &[Point; 4], p: Point) -> bool {
    let mut sign = 0.0f32;
    for k in 0..4 {
        let (a, b) = (q[k], q[(k + 1) % 4]);
        let c = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
        if c.abs() < 1e-6 {
            continue;
        }
        if sign == 0.0 {
            sign = c.signum();
        } else if c.signum() != sign {
            return false;
        }
    }
    true
}

/// Moves every side of the rectangle `r` outwards by `d`.
fn grow(r: &[Point; 4], d: f32) -> [Point; 4] {
    let c = [
        r.iter().map(|p| p[0]).sum::<f32>() / 4.0,
        r.iter().map(|p| p[1]).sum::<f32>() / 4.0,
    ];
    let unit = |a: Point, b: Point| {
        let l = dist(a, b).max(1e-6);
        [(b[0] - a[0]) / l, (b[1] - a[1]) / l]
    };
    // Axes of the rectangle, from corner 0.
    let u = unit(r[0], r[1]);
    let v = unit(r[1], r[2]);
    r.map(|p| {
        let (dx, dy) = (p[0] - c[0], p[1] - c[1]);
        let su = (dx * u[0] + dy * u[1]).signum();
        let sv = (dx * v[0] + dy * v[1]).signum();
        [
            p[0] + d * (su * u[0] + sv * v[0]),
            p[1] + d * (su * u[1] + sv * v[1]),
        ]
    })
}

/// Puts a rectangle's corners in reading order: corner 0 is the top-left of the longer side's
/// reading direction for boxes tilted less than 45 degrees, clockwise after it.
pub fn order_box(c: [Point; 4]) -> [Point; 4] {
    crate::scan::geom::order_clockwise(c)
}

/// The smallest-area rectangle holding `pts` (rotating calipers over the convex hull).
pub fn min_area_rect(pts: &[Point]) -> Option<[Point; 4]> {
    let hull = convex_hull(pts);
    if hull.len() < 3 {
        return None;
    }
    let mut best: Option<(f32, [Point; 4])> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let l = dist(a, b);
        if l < 1e-6 {
            continue;
        }
        let u = [(b[0] - a[0]) / l, (b[1] - a[1]) / l];
        let v = [-u[1], u[0]];
        let (mut lo_u, mut hi_u, mut lo_v, mut hi_v) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in &hull {
            let pu = p[0] * u[0] + p[1] * u[1];
            let pv = p[0] * v[0] + p[1] * v[1];
            lo_u = lo_u.min(pu);
            hi_u = hi_u.max(pu);
            lo_v = lo_v.min(pv);
            hi_v = hi_v.max(pv);
        }
        let area = (hi_u - lo_u) * (hi_v - lo_v);
        if best.as_ref().is_none_or(|(a, _)| area < *a) {
            let at = |s: f32, t: f32| [s * u[0] + t * v[0], s * u[1] + t * v[1]];
            best = Some((
                area,
                [
                    at(lo_u, lo_v),
                    at(hi_u, lo_v),
                    at(hi_u, hi_v),
                    at(lo_u, hi_v),
                ],
            ));
        }
    }
    best.map(|(_, r)| r)
}

/// Andrew's monotone chain; the hull counter-clockwise in y-up terms, without collinear points.
fn convex_hull(pts: &[Point]) -> Vec<Point> {
    let mut p: Vec<Point> = pts.to_vec();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    p.dedup();
    if p.len() < 3 {
        return p;
    }
    let cross = |o: Point, a: Point, b: Point| {
        (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
    };
    let mut hull: Vec<Point> = Vec::with_capacity(2 * p.len());
    for &q in &p {
        while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0 {
            hull.pop();
        }
        hull.push(q);
    }
    let lower = hull.len() + 1;
    for &q in p.iter().rev().skip(1) {
        while hull.len() >= lower && cross(hull[hull.len() - 2], hull[hull.len() - 1], q) <= 0.0 {
            hull.pop();
        }
        hull.push(q);
    }
    hull.pop();
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_rectangle_of_a_tilted_bar() {
        // Points of a 40x10 bar tilted by 30 degrees.
        let (c, s) = (30f32.to_radians().cos(), 30f32.to_radians().sin());
        let mut pts = Vec::new();
        for i in 0..=40 {
            for j in 0..=10 {
                let (x, y) = (i as f32, j as f32);
                pts.push([100.0 + x * c - y * s, 50.0 + x * s + y * c]);
            }
        }
        let r = min_area_rect(&pts).unwrap_or([[0.0; 2]; 4]);
        let sides = [dist(r[0], r[1]), dist(r[1], r[2])];
        let (long, short) = (sides[0].max(sides[1]), sides[0].min(sides[1]));
        assert!(
            (long - 40.0).abs() < 0.01 && (short - 10.0).abs() < 0.01,
            "{r:?}"
        );
    }

    #[test]
    fn a_blob_in_the_map_becomes_a_grown_box() {
        let (w, h) = (100usize, 40usize);
        let mut prob = vec![0.0f32; w * h];
        // A 60x8 text kernel at (20, 16) with probability 0.9.
        for y in 16..24 {
            for x in 20..80 {
                prob[y * w + x] = 0.9;
            }
        }
        // A faint blob that is below the box threshold, and a speck below the minimum size.
        for y in 2..8 {
            for x in 2..12 {
                prob[y * w + x] = 0.35;
            }
        }
        prob[35 * w + 90] = 0.9;
        let boxes = boxes_from_map(&prob, w, h, &BoxParams::default());
        assert_eq!(boxes.len(), 1, "{boxes:?}");
        let b = boxes[0];
        let (x0, y0, x1, y1) = b.bounds();
        // The 2x2 dilation grows the kernel one pixel up and left: 61x9 at (19, 15); unclip
        // distance = 61*9*1.6/(2*70) ~ 6.27.
        assert!(
            (x0 - 12.73).abs() < 0.1 && (x1 - 86.27).abs() < 0.1,
            "{x0} {x1}"
        );
        assert!(
            (y0 - 8.73).abs() < 0.1 && (y1 - 30.27).abs() < 0.1,
            "{y0} {y1}"
        );
        assert!(b.score > 0.75, "{}", b.score);
        assert!(b.width() > b.height());
    }
}
