//! Finding the document's four corners.
//!
//! 1. On a small upright copy (about 500-800 px on the long side): blur, take the colour gradient
//!    (the channel with the strongest change), thin it to edge pixels and let each edge pixel
//!    vote, along its own gradient direction only, in a Hough accumulator of straight lines.
//!    All of this runs again on a copy of half the size, whose outlines join the others: on a
//!    busy background (a newspaper, a page of print) the fine texture breaks the document's
//!    edge into short pieces at the first size, while at half the size it is one clean step.
//! 2. The strongest lines, plus the four image borders (for documents touching or cut by the
//!    frame), are combined into quadrilaterals. Each is scored by how much of its perimeter lies
//!    on edge pixels whose gradient is perpendicular to the side and has the same polarity all
//!    round (paper brighter than the desk, or darker), minus the perimeter that has no edge.
//!    Long background lines, text rows and shadow edges lose: they leave unsupported stretches.
//!    A quadrilateral whose sides each have clear support of their own polarity (a two-tone
//!    card: white half brighter than the desk, black half darker) is kept too, at a discount.
//!    [`outlines`] returns them ranked, near-duplicates dropped; `crop.rs` chooses among them.
//! 3. Each side of the chosen one is refined in the full-resolution frame: along the side, the
//!    brightness profile across it is searched for the strongest step of the right polarity
//!    (sub-pixel), a line is fitted to those points with outliers dropped, and neighbouring
//!    lines are intersected.

use super::decode::Frame;
use super::geom::{order_clockwise, polygon_area, quad_iou, Line, Point};
use image::RgbImage;
use std::f64::consts::PI;

/// Gradient of the small image: the strongest channel's Sobel response per pixel.
struct Gradient {
    w: usize,
    h: usize,
    gx: Vec<f32>,
    gy: Vec<f32>,
    /// Thinned edge pixels (local maxima of the magnitude across the edge).
    edge: Vec<bool>,
}

/// Smallest gradient (Sobel units on the blurred image, about 1.5x the grey-level step) that
/// counts as an edge.
const EDGE_MIN: f32 = 9.0;
/// Gradient at which a vote counts fully.
const EDGE_FULL: f32 = 40.0;

fn gradient(small: &RgbImage) -> Gradient {
    let (w, h) = (small.width() as usize, small.height() as usize);
    let src = small.as_raw();
    // Separable [1 4 6 4 1]/16 blur of each channel, clamped at the borders.
    let mut planes = vec![vec![0f32; w * h]; 3];
    let mut tmp = vec![0f32; w * h];
    let k = [1.0f32, 4.0, 6.0, 4.0, 1.0];
    for (c, plane) in planes.iter_mut().enumerate() {
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0;
                for (i, kv) in k.iter().enumerate() {
                    let xx = (x as isize + i as isize - 2).clamp(0, w as isize - 1) as usize;
                    s += kv * f32::from(src[(y * w + xx) * 3 + c]);
                }
                tmp[y * w + x] = s / 16.0;
            }
        }
        for y in 0..h {
            for x in 0..w {
                let mut s = 0.0;
                for (i, kv) in k.iter().enumerate() {
                    let yy = (y as isize + i as isize - 2).clamp(0, h as isize - 1) as usize;
                    s += kv * tmp[yy * w + x];
                }
                plane[y * w + x] = s / 16.0;
            }
        }
    }
    let mut gx = vec![0f32; w * h];
    let mut gy = vec![0f32; w * h];
    let mut mag = vec![0f32; w * h];
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let mut best = (0.0f32, 0.0f32, -1.0f32);
            for plane in &planes {
                let p = |dx: isize, dy: isize| {
                    plane[((y as isize + dy) as usize) * w + (x as isize + dx) as usize]
                };
                let sx = p(1, -1) + 2.0 * p(1, 0) + p(1, 1) - p(-1, -1) - 2.0 * p(-1, 0) - p(-1, 1);
                let sy = p(-1, 1) + 2.0 * p(0, 1) + p(1, 1) - p(-1, -1) - 2.0 * p(0, -1) - p(1, -1);
                let m = sx * sx + sy * sy;
                if m > best.2 {
                    best = (sx, sy, m);
                }
            }
            let i = y * w + x;
            gx[i] = best.0;
            gy[i] = best.1;
            mag[i] = best.2.sqrt();
        }
    }
    // Non-maximum suppression across the edge (4 directions).
    let mut edge = vec![false; w * h];
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            let m = mag[i];
            if m < EDGE_MIN {
                continue;
            }
            let (ax, ay) = (gx[i].abs(), gy[i].abs());
            let (n1, n2) = if ay <= ax * 0.414 {
                (i - 1, i + 1)
            } else if ax <= ay * 0.414 {
                (i - w, i + w)
            } else if (gx[i] > 0.0) == (gy[i] > 0.0) {
                (i - w - 1, i + w + 1)
            } else {
                (i - w + 1, i + w - 1)
            };
            edge[i] = m >= mag[n1] && m > mag[n2];
        }
    }
    Gradient { w, h, gx, gy, edge }
}

const THETA_BINS: usize = 180;

/// A candidate side: a straight line with, for every 1 px step along its visible part, whether
/// an edge pixel of each polarity supports it.
struct Candidate {
    line: Line,
    /// Direction along the line `(-b, a)`; points are `foot + t * dir`.
    foot: [f64; 2],
    dir: [f64; 2],
    /// Visible parameter range `[t0, t1]`.
    t0: f64,
    t1: f64,
    /// Prefix sums of supported samples whose gradient points along `+normal` / `-normal`.
    pos: Vec<u32>,
    neg: Vec<u32>,
    /// One of the four image borders.
    border: bool,
}

impl Candidate {
    fn new(line: Line, w: f64, h: f64, border: bool) -> Candidate {
        let foot = [line.a * line.c, line.b * line.c];
        let dir = [-line.b, line.a];
        // Clip to the rectangle [0, w] x [0, h].
        let (mut t0, mut t1) = (f64::NEG_INFINITY, f64::INFINITY);
        for (p, d, lo, hi) in [(foot[0], dir[0], 0.0, w), (foot[1], dir[1], 0.0, h)] {
            if d.abs() < 1e-9 {
                if p < lo - 1e-6 || p > hi + 1e-6 {
                    t0 = 0.0;
                    t1 = -1.0;
                }
            } else {
                let (a, b) = ((lo - p) / d, (hi - p) / d);
                t0 = t0.max(a.min(b));
                t1 = t1.min(a.max(b));
            }
        }
        if t1 < t0 {
            t1 = t0;
        }
        Candidate {
            line,
            foot,
            dir,
            t0,
            t1,
            pos: vec![0],
            neg: vec![0],
            border,
        }
    }

    fn profile(&mut self, g: &Gradient) {
        let n = (self.t1 - self.t0).floor().max(0.0) as usize;
        let mut pos = Vec::with_capacity(n + 1);
        let mut neg = Vec::with_capacity(n + 1);
        let (mut cp, mut cn) = (0u32, 0u32);
        pos.push(0);
        neg.push(0);
        let cos_tol = (12.0f64).to_radians().cos() as f32;
        let (na, nb) = (self.line.a as f32, self.line.b as f32);
        for s in 0..n {
            let t = self.t0 + s as f64 + 0.5;
            let p = [
                self.foot[0] + t * self.dir[0],
                self.foot[1] + t * self.dir[1],
            ];
            let mut got = 0i8;
            for off in [0.0, -1.0, 1.0] {
                let x = (p[0] + off * self.line.a).floor();
                let y = (p[1] + off * self.line.b).floor();
                if x < 0.0 || y < 0.0 || x >= g.w as f64 || y >= g.h as f64 {
                    continue;
                }
                let i = y as usize * g.w + x as usize;
                if !g.edge[i] {
                    continue;
                }
                let (gx, gy) = (g.gx[i], g.gy[i]);
                let m = (gx * gx + gy * gy).sqrt();
                let dot = (gx * na + gy * nb) / m.max(1e-6);
                if dot.abs() >= cos_tol {
                    got = if dot > 0.0 { 1 } else { -1 };
                    break;
                }
            }
            if got > 0 {
                cp += 1;
            } else if got < 0 {
                cn += 1;
            }
            pos.push(cp);
            neg.push(cn);
        }
        self.pos = pos;
        self.neg = neg;
    }

    fn param(&self, p: [f64; 2]) -> f64 {
        (p[0] - self.foot[0]) * self.dir[0] + (p[1] - self.foot[1]) * self.dir[1]
    }

    /// `(visible length, +support, -support)` between two points on the line.
    fn support(&self, p: [f64; 2], q: [f64; 2]) -> (f64, f64, f64) {
        let (mut a, mut b) = (self.param(p), self.param(q));
        if a > b {
            std::mem::swap(&mut a, &mut b);
        }
        let (a, b) = (a.max(self.t0), b.min(self.t1));
        if b <= a {
            return (0.0, 0.0, 0.0);
        }
        let len = b - a;
        if self.border {
            return (len, 0.0, 0.0);
        }
        let last = self.pos.len() - 1;
        let ia = ((a - self.t0).floor().max(0.0) as usize).min(last);
        let ib = ((b - self.t0).floor().max(0.0) as usize).min(last);
        (
            len,
            f64::from(self.pos[ib] - self.pos[ia]),
            f64::from(self.neg[ib] - self.neg[ia]),
        )
    }
}

fn hough_lines(g: &Gradient, max_lines: usize) -> Vec<Line> {
    let (w, h) = (g.w, g.h);
    let diag = ((w * w + h * h) as f64).sqrt().ceil() as usize + 1;
    let nrho = 2 * diag + 1;
    let mut acc = vec![0f32; THETA_BINS * nrho];
    let trig: Vec<(f64, f64)> = (0..THETA_BINS)
        .map(|t| {
            let th = (t as f64 + 0.5) * PI / THETA_BINS as f64;
            (th.cos(), th.sin())
        })
        .collect();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !g.edge[i] {
                continue;
            }
            let (gx, gy) = (f64::from(g.gx[i]), f64::from(g.gy[i]));
            let m = (gx * gx + gy * gy).sqrt();
            let weight = (m as f32 / EDGE_FULL).min(1.0);
            let mut th = gy.atan2(gx);
            if th < 0.0 {
                th += PI;
            }
            if th >= PI {
                th -= PI;
            }
            let center = (th / PI * THETA_BINS as f64) as isize;
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            for dt in -3isize..=3 {
                let tb = (center + dt).rem_euclid(THETA_BINS as isize) as usize;
                let (c, s) = trig[tb];
                let rho = px * c + py * s;
                let r = (rho + diag as f64).round() as usize;
                if r < nrho {
                    let wgt = if dt.abs() <= 1 { weight } else { weight * 0.5 };
                    acc[tb * nrho + r] += wgt;
                }
            }
        }
    }
    // Local maxima in a (±4 degrees, ±5 px) window, strongest first.
    let min_votes = 0.05 * w.min(h) as f32;
    let mut peaks: Vec<(f32, usize, usize)> = Vec::new();
    for t in 0..THETA_BINS {
        for r in 0..nrho {
            let v = acc[t * nrho + r];
            if v < min_votes {
                continue;
            }
            let mut is_max = true;
            'win: for dt in -4isize..=4 {
                let tt = t as isize + dt;
                if tt < 0 || tt >= THETA_BINS as isize {
                    continue;
                }
                for dr in -5isize..=5 {
                    let rr = r as isize + dr;
                    if rr < 0 || rr >= nrho as isize || (dt == 0 && dr == 0) {
                        continue;
                    }
                    let o = acc[tt as usize * nrho + rr as usize];
                    if o > v || (o == v && (dt, dr) < (0, 0)) {
                        is_max = false;
                        break 'win;
                    }
                }
            }
            if is_max {
                peaks.push((v, t, r));
            }
        }
    }
    peaks.sort_by(|a, b| b.0.total_cmp(&a.0));
    // Keep directions diverse: rows of printed text behind the document must not take every
    // slot, so at most 8 lines per 6-degree band.
    let mut per_band = [0u8; THETA_BINS / 6 + 1];
    peaks.retain(|&(_, t, _)| {
        let band = &mut per_band[t / 6];
        *band += 1;
        *band <= 8
    });
    peaks.truncate(max_lines);
    peaks
        .into_iter()
        .map(|(_, t, r)| {
            let th = (t as f64 + 0.5) * PI / THETA_BINS as f64;
            Line::from_polar(th, r as f64 - diag as f64)
        })
        .collect()
}

/// A candidate outline on the small image: four sides from the line candidates (or the image
/// borders), with the evidence for each side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Outline {
    /// Corners in small-image pixels; side `k` runs from corner `k` to corner `k + 1`.
    pub corners: [[f64; 2]; 4],
    /// Which sides lie on an image border.
    pub border: [bool; 4],
    /// Fraction of each side's visible length on edge pixels of that side's polarity (1 for a
    /// border side).
    pub support: [f64; 4],
    /// Per side: +1 when the inside is brighter than the outside, -1 when darker.
    pub polarity: [f64; 4],
    /// Supported fraction of the non-border perimeter.
    pub coverage: f64,
    /// The same polarity all round (paper brighter than the desk everywhere, or darker).
    pub consistent: bool,
    /// The ranking score (supported minus unsupported perimeter, in small pixels).
    pub score: f64,
}

impl Outline {
    /// The same outline in pixels `f` times larger (the score is left as it was).
    fn scaled(mut self, f: f64) -> Outline {
        for p in &mut self.corners {
            p[0] *= f;
            p[1] *= f;
        }
        self
    }

    /// Corners as `f32` points.
    pub fn points(&self) -> [Point; 4] {
        self.corners.map(|p| [p[0] as f32, p[1] as f32])
    }

    /// The largest `|cos|` of an interior angle (0 for a rectangle seen square on).
    pub fn skew(&self) -> f64 {
        let c = &self.corners;
        (0..4)
            .map(|k| {
                let (p, q, r) = (c[(k + 3) % 4], c[k], c[(k + 1) % 4]);
                let (u, v) = ([p[0] - q[0], p[1] - q[1]], [r[0] - q[0], r[1] - q[1]]);
                let (lu, lv) = (u[0].hypot(u[1]), v[0].hypot(v[1]));
                ((u[0] * v[0] + u[1] * v[1]) / (lu * lv).max(1e-9)).abs()
            })
            .fold(0.0, f64::max)
    }

    /// Long side over short side, from the mean lengths of opposite sides.
    pub fn aspect(&self) -> f64 {
        let c = &self.corners;
        let d = |a: [f64; 2], b: [f64; 2]| (a[0] - b[0]).hypot(a[1] - b[1]);
        let w = (d(c[0], c[1]) + d(c[3], c[2])) / 2.0;
        let h = (d(c[1], c[2]) + d(c[0], c[3])) / 2.0;
        w.max(h) / w.min(h).max(1e-9)
    }
}

fn angle_between(a: &Line, b: &Line) -> f64 {
    let d = (a.a * b.a + a.b * b.b).abs().min(1.0);
    d.acos()
}

/// How many ranked outlines [`outlines`] returns at most.
const MAX_OUTLINES: usize = 96;

/// Every plausible quadrilateral, best score first, near-duplicates (IoU above 0.93) dropped.
fn ranked_quads(cands: &[Candidate], w: f64, h: f64) -> Vec<Outline> {
    let min_dim = w.min(h);
    let mut pairs = Vec::new();
    for i in 0..cands.len() {
        for j in i + 1..cands.len() {
            let (a, b) = (&cands[i], &cands[j]);
            if a.border && b.border && angle_between(&a.line, &b.line) > 0.1 {
                continue;
            }
            if angle_between(&a.line, &b.line) > 35f64.to_radians() {
                continue;
            }
            let mid = (a.t0 + a.t1) / 2.0;
            let pm = [a.foot[0] + mid * a.dir[0], a.foot[1] + mid * a.dir[1]];
            if b.line.distance(pm).abs() < 0.12 * min_dim {
                continue;
            }
            pairs.push((i, j));
        }
    }
    let margin = 0.3;
    let (lo_x, hi_x, lo_y, hi_y) = (
        -margin * w,
        (1.0 + margin) * w,
        -margin * h,
        (1.0 + margin) * h,
    );
    let mut all: Vec<Outline> = Vec::new();
    for (pi, &(a1, b1)) in pairs.iter().enumerate() {
        for &(a2, b2) in &pairs[pi + 1..] {
            if a2 == a1 || a2 == b1 || b2 == a1 || b2 == b1 {
                continue;
            }
            let cross = angle_between(&cands[a1].line, &cands[a2].line);
            if cross < 50f64.to_radians() {
                continue;
            }
            let sides = [a1, a2, b1, b2];
            let mut pts = [[0.0f64; 2]; 4];
            let mut ok = true;
            for k in 0..4 {
                match cands[sides[k]]
                    .line
                    .intersect(&cands[sides[(k + 1) % 4]].line)
                {
                    Some(p) if p[0] > lo_x && p[0] < hi_x && p[1] > lo_y && p[1] < hi_y => {
                        pts[k] = p
                    }
                    _ => {
                        ok = false;
                        break;
                    }
                }
            }
            if !ok {
                continue;
            }
            // pts[k] joins sides[k] and sides[k+1]; side sides[k+1] runs pts[k] -> pts[k+1].
            if let Some(o) = score_quad(cands, &sides, &pts, w, h) {
                all.push(o);
            }
        }
    }
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Outline> = Vec::new();
    for o in all {
        if kept.len() >= MAX_OUTLINES {
            break;
        }
        let q = o.points();
        if kept.iter().all(|k| quad_iou(&k.points(), &q) < 0.93) {
            kept.push(o);
        }
    }
    kept
}

fn score_quad(
    cands: &[Candidate],
    sides: &[usize; 4],
    pts: &[[f64; 2]; 4],
    w: f64,
    h: f64,
) -> Option<Outline> {
    // Convex, not too small, angles plausible for a tilted rectangle.
    let mut sign = 0.0;
    for k in 0..4 {
        let (p, q, r) = (pts[k], pts[(k + 1) % 4], pts[(k + 2) % 4]);
        let (u, v) = ([q[0] - p[0], q[1] - p[1]], [r[0] - q[0], r[1] - q[1]]);
        let cr = u[0] * v[1] - u[1] * v[0];
        let (lu, lv) = (
            (u[0] * u[0] + u[1] * u[1]).sqrt(),
            (v[0] * v[0] + v[1] * v[1]).sqrt(),
        );
        if lu < 0.08 * w.min(h) || lv < 1e-9 {
            return None;
        }
        let cos = -(u[0] * v[0] + u[1] * v[1]) / (lu * lv);
        if cos.abs() > 0.72 {
            return None; // interior angle outside about 44..136 degrees
        }
        if sign == 0.0 {
            sign = cr.signum();
        } else if cr.signum() != sign {
            return None;
        }
    }
    let poly: Vec<Point> = pts.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
    let area = f64::from(polygon_area(&poly).abs());
    if area < 0.03 * w * h {
        return None;
    }
    let centroid = [
        pts.iter().map(|p| p[0]).sum::<f64>() / 4.0,
        pts.iter().map(|p| p[1]).sum::<f64>() / 4.0,
    ];
    let (mut sup_in, mut sup_out, mut sup_any, mut len_edges) = (0.0, 0.0, 0.0, 0.0);
    let mut border = [false; 4];
    let mut frac_in = [1.0f64; 4];
    let mut frac_out = [1.0f64; 4];
    let mut lens = [0.0f64; 4];
    for k in 0..4 {
        let c = &cands[sides[(k + 1) % 4]];
        let (p, q) = (pts[k], pts[(k + 1) % 4]);
        let (len, pos, neg) = c.support(p, q);
        if c.border {
            border[k] = true;
            continue;
        }
        let inward_positive = c.line.distance(centroid) > 0.0;
        let (i, o) = if inward_positive {
            (pos, neg)
        } else {
            (neg, pos)
        };
        sup_in += i;
        sup_out += o;
        sup_any += pos + neg;
        len_edges += len;
        lens[k] = len;
        if len > 8.0 {
            frac_in[k] = i / len;
            frac_out[k] = o / len;
        }
    }
    if len_edges < 1.0 {
        return None;
    }
    let (sup, pol, fr) = if sup_in >= sup_out {
        (sup_in, 1.0, frac_in)
    } else {
        (sup_out, -1.0, frac_out)
    };
    // Every visible side must carry some of the evidence: with one polarity all round, or
    // (a two-tone card, a dark band along one side) each side clearly with its own.
    let consistent = fr.iter().all(|&f| f >= 0.2);
    let best_each: [f64; 4] = std::array::from_fn(|k| frac_in[k].max(frac_out[k]));
    if !consistent && best_each.iter().any(|&f| f < 0.35) {
        return None;
    }
    let (support, polarity, supported) = if consistent {
        (fr, [pol; 4], sup)
    } else {
        let polarity: [f64; 4] =
            std::array::from_fn(|k| if frac_in[k] >= frac_out[k] { 1.0 } else { -1.0 });
        let supported: f64 = (0..4).map(|k| best_each[k] * lens[k]).sum();
        (best_each, polarity, supported)
    };
    let support = std::array::from_fn(|k| if border[k] { 1.0 } else { support[k] });
    // Image borders only close a quadrilateral: they earn nothing themselves. Mixed polarity
    // is weaker evidence than one polarity all round.
    let raw = supported - 0.5 * (len_edges - sup_any);
    let score = if consistent { raw } else { 0.6 * raw };
    Some(Outline {
        corners: *pts,
        border,
        support,
        polarity,
        coverage: supported / len_edges,
        consistent,
        score,
    })
}

/// Luminance of the frame at an oriented full-resolution point (bilinear); `None` outside.
fn lum_at(frame: &Frame, m: &[f64; 6], p: [f64; 2]) -> Option<f32> {
    let x = m[0] * p[0] + m[1] * p[1] + m[2] - 0.5;
    let y = m[3] * p[0] + m[4] * p[1] + m[5] - 0.5;
    let (w, h) = frame.raw.dimensions();
    if x < 0.0 || y < 0.0 || x > f64::from(w) - 1.001 || y > f64::from(h) - 1.001 {
        return None;
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (fx, fy) = ((x - f64::from(x0)) as f32, (y - f64::from(y0)) as f32);
    let px = |xx: u32, yy: u32| {
        let p = frame.raw.get_pixel(xx, yy).0;
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1, y0) * fx;
    let bot = px(x0, y0 + 1) * (1.0 - fx) + px(x0 + 1, y0 + 1) * fx;
    Some(top * (1.0 - fy) + bot * fy)
}

/// Refines one side in the full-resolution frame. `p`, `q` are its end points, `inward` the unit
/// normal pointing into the document, `reach` how far (px) the true edge may be from the guess.
/// Returns the fitted line and the fraction of samples that found an edge.
#[allow(clippy::too_many_arguments)]
fn refine_side(
    frame: &Frame,
    p: [f64; 2],
    q: [f64; 2],
    inward: [f64; 2],
    polarity: f64,
    reach: f64,
    samples: usize,
    tangent_step: f64,
) -> Option<(Line, f64)> {
    let m = frame.to_raw();
    let (fw, fh) = frame.oriented_dims();
    let (fw, fh) = (f64::from(fw), f64::from(fh));
    let dir = {
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let l = (dx * dx + dy * dy).sqrt();
        if l < 1.0 {
            return None;
        }
        [dx / l, dy / l]
    };
    let step = 0.5;
    let nsteps = (2.0 * reach / step).ceil() as usize + 3;
    let mut prof = vec![0f32; nsteps];
    let mut found: Vec<[f64; 2]> = Vec::new();
    let mut tried = 0usize;
    for si in 0..samples {
        let f = 0.06 + 0.88 * (si as f64 + 0.5) / samples as f64;
        let base = [p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1])];
        if base[0] < 2.0 || base[1] < 2.0 || base[0] > fw - 2.0 || base[1] > fh - 2.0 {
            continue;
        }
        tried += 1;
        let mut ok = true;
        for (j, v) in prof.iter_mut().enumerate() {
            let s = -reach - step + j as f64 * step;
            let mut acc = 0.0;
            let mut n = 0.0;
            for tk in -2..=2 {
                let t = f64::from(tk) * tangent_step;
                let pt = [
                    base[0] + s * inward[0] + t * dir[0],
                    base[1] + s * inward[1] + t * dir[1],
                ];
                if let Some(l) = lum_at(frame, &m, pt) {
                    acc += l;
                    n += 1.0;
                }
            }
            if n == 0.0 {
                ok = false;
                break;
            }
            *v = acc / n;
        }
        if !ok {
            continue;
        }
        // Derivative over 1 px, signed so that the expected step is positive.
        let mut best = (0usize, 0.0f32);
        let d = |j: usize| (prof[j + 1] - prof[j - 1]) * polarity as f32;
        for j in 1..nsteps - 1 {
            let v = d(j);
            if v > best.1 {
                best = (j, v);
            }
        }
        if best.1 < 2.0 || best.0 < 2 || best.0 > nsteps - 3 {
            continue;
        }
        let (l, c, r) = (d(best.0 - 1), best.1, d(best.0 + 1));
        let den = l - 2.0 * c + r;
        let sub = if den.abs() > 1e-6 {
            (0.5 * (l - r) / den).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let s = -reach - step + (best.0 as f64 + f64::from(sub)) * step;
        found.push([base[0] + s * inward[0], base[1] + s * inward[1]]);
    }
    if found.len() < 6 || tried == 0 {
        return None;
    }
    let hit_rate = found.len() as f64 / tried as f64;
    // Start from the guess; keep points near the median offset, refit, tighten.
    let guess = Line::through(p, q)?;
    let mut offs: Vec<f64> = found.iter().map(|pt| guess.distance(*pt)).collect();
    offs.sort_by(f64::total_cmp);
    let med = offs[offs.len() / 2];
    let mut weights: Vec<f64> = found
        .iter()
        .map(|pt| {
            if (guess.distance(*pt) - med).abs() <= 2.5 {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let mut line = Line::fit(&found, &weights)?;
    for tol in [1.5, 1.0] {
        let mut res: Vec<f64> = found.iter().map(|pt| line.distance(*pt).abs()).collect();
        res.sort_by(f64::total_cmp);
        let sigma = (res[res.len() / 2] * 1.4826).max(0.3);
        let cut = (3.0 * sigma).min(tol * 3.0).max(tol);
        weights = found
            .iter()
            .map(|pt| {
                let r = line.distance(*pt).abs() / cut;
                if r < 1.0 {
                    (1.0 - r * r).powi(2)
                } else {
                    0.0
                }
            })
            .collect();
        if weights.iter().filter(|w| **w > 0.0).count() < 5 {
            break;
        }
        line = Line::fit(&found, &weights)?;
    }
    Some((line, hit_rate))
}

/// The candidate outlines in `small` (the upright frame box-averaged by some factor), best
/// edge score first. Empty when the image is too small or holds no plausible quadrilateral.
pub(crate) fn outlines(small: &RgbImage) -> Vec<Outline> {
    let mut all = outlines_at(small);
    // Again at half the size: on a busy background (a newspaper, a page of print, a patterned
    // cloth) the fine texture breaks the document's edge into short pieces of every direction,
    // while at half the size the texture averages to one tone and the edge is a clean step.
    if small.width() >= 2 * MIN_SIDE && small.height() >= 2 * MIN_SIDE {
        // Their scores stay in half-size pixels, so at equal support an outline found at the
        // first size ranks first: its edges are the finer evidence, and a patterned cloth
        // shows rectangles at half the size that are not there at the first.
        let coarse = outlines_at(&halve(small));
        for o in coarse {
            let o = o.scaled(2.0);
            let q = o.points();
            if all.iter().all(|k| quad_iou(&k.points(), &q) < 0.93) {
                all.push(o);
            }
        }
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
    }
    all
}

/// Smallest side (pixels) of an image worth looking for an outline in.
const MIN_SIDE: u32 = 16;

/// `img` box-averaged 2x2 (an odd last row or column is dropped).
fn halve(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width() / 2, img.height() / 2);
    RgbImage::from_fn(w, h, |x, y| {
        let mut s = [0u32; 3];
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let p = img.get_pixel(2 * x + dx, 2 * y + dy);
            for c in 0..3 {
                s[c] += u32::from(p[c]);
            }
        }
        image::Rgb(s.map(|v| ((v + 2) / 4) as u8))
    })
}

/// [`outlines`] at one scale.
fn outlines_at(small: &RgbImage) -> Vec<Outline> {
    if small.width() < MIN_SIDE || small.height() < MIN_SIDE {
        return Vec::new();
    }
    let g = gradient(small);
    let (w, h) = (g.w as f64, g.h as f64);
    let mut cands: Vec<Candidate> = hough_lines(&g, 64)
        .into_iter()
        .map(|l| {
            let mut c = Candidate::new(l, w, h, false);
            c.profile(&g);
            c
        })
        .filter(|c| c.t1 - c.t0 > 8.0)
        .collect();
    for (theta, rho) in [(PI / 2.0, 0.0), (0.0, w), (PI / 2.0, h), (0.0, 0.0)] {
        cands.push(Candidate::new(Line::from_polar(theta, rho), w, h, true));
    }
    ranked_quads(&cands, w, h)
}

/// Refines each side of `outline` (small-image pixels, `k` full pixels per small pixel) in the
/// full-resolution frame. Returns the corners, clockwise from the top-left, and the mean
/// fraction of profiles across the non-border sides that found the edge step.
pub(crate) fn refine(outline: &Outline, k: u32, frame: &Frame) -> Option<([Point; 4], f64)> {
    let kf = f64::from(k);
    let full: Vec<[f64; 2]> = outline
        .corners
        .iter()
        .map(|p| [p[0] * kf, p[1] * kf])
        .collect();
    let centroid = [
        full.iter().map(|p| p[0]).sum::<f64>() / 4.0,
        full.iter().map(|p| p[1]).sum::<f64>() / 4.0,
    ];
    let mut lines = [None; 4];
    let mut hits = Vec::new();
    for s in 0..4 {
        let (p, q) = (full[s], full[(s + 1) % 4]);
        let guess = Line::through(p, q)?;
        if outline.border[s] {
            lines[s] = Some(guess);
            continue;
        }
        let inward = if guess.distance(centroid) > 0.0 {
            [guess.a, guess.b]
        } else {
            [-guess.a, -guess.b]
        };
        let polarity = outline.polarity[s];
        let tangent = (kf / 2.0).max(1.0);
        let mut line = guess;
        let mut rate = 0.0;
        if let Some((l1, r1)) =
            refine_side(frame, p, q, inward, polarity, 1.5 * kf + 3.0, 48, tangent)
        {
            // A second, narrow pass around the first fit.
            let (a, b) = (project(&l1, p), project(&l1, q));
            let (l2, r2) =
                refine_side(frame, a, b, inward, polarity, 3.0, 96, tangent).unwrap_or((l1, r1));
            // Never move further from the coarse side than the coarse scale can be wrong.
            let moved = guess
                .distance(project(&l2, p))
                .abs()
                .max(guess.distance(project(&l2, q)).abs());
            if moved <= 2.5 * kf + 4.0 {
                line = l2;
                rate = r2;
            }
        }
        hits.push(rate);
        lines[s] = Some(line);
    }
    let mut corners = [[0.0f32; 2]; 4];
    for s in 0..4 {
        // Corner s+1 joins side s and side s+1.
        let (a, b) = (lines[s]?, lines[(s + 1) % 4]?);
        let c = a.intersect(&b)?;
        corners[(s + 1) % 4] = [c[0] as f32, c[1] as f32];
    }
    let refine = if hits.is_empty() {
        0.5
    } else {
        hits.iter().sum::<f64>() / hits.len() as f64
    };
    Some((order_clockwise(corners), refine))
}

fn project(l: &Line, p: [f64; 2]) -> [f64; 2] {
    let d = l.distance(p);
    [p[0] - d * l.a, p[1] - d * l.b]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 640x480 page of small dark print (rows of 2-4 px strokes) with a light card,
    /// 300x180 and turned by 8 degrees, lying on it.
    fn card_on_print() -> (RgbImage, [Point; 4]) {
        let (cx, cy, hw, hh) = (330.0f64, 250.0f64, 150.0f64, 90.0f64);
        let (s, c) = 8f64.to_radians().sin_cos();
        let corners = [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]]
            .map(|[x, y]| [(cx + x * c - y * s) as f32, (cy + x * s + y * c) as f32]);
        let mut seed = 7u32;
        let img = RgbImage::from_fn(640, 480, |x, y| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let (dx, dy) = (f64::from(x) - cx, f64::from(y) - cy);
            let (u, v) = (dx * c + dy * s, -dx * s + dy * c);
            if u.abs() < hw && v.abs() < hh {
                return image::Rgb([228, 226, 220]);
            }
            // Print: rows 4 px apart, strokes of 1-3 px with gaps, each row its own rhythm.
            let ink = y % 4 < 2 && (x + (y / 4) * 7 + (seed >> 28)) % 5 < 3;
            if ink {
                image::Rgb([60, 60, 60])
            } else {
                image::Rgb([205, 203, 198])
            }
        });
        (img, corners)
    }

    #[test]
    fn a_card_on_print_is_among_the_outlines() {
        let (img, truth) = card_on_print();
        let found = outlines(&img);
        let best = found
            .iter()
            .map(|o| quad_iou(&o.points(), &truth))
            .fold(0.0f32, f32::max);
        assert!(best > 0.95, "best IoU {best} of {} outlines", found.len());
    }
}
