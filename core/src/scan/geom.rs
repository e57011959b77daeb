//! Plane geometry for scanning: lines, homographies and the IoU of two quadrilaterals.

/// A point in pixel coordinates (x to the right, y down; pixel `i` covers `[i, i+1)`).
pub type Point = [f32; 2];

/// A line `a*x + b*y = c` with `(a, b)` a unit normal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Line {
    pub a: f64,
    pub b: f64,
    pub c: f64,
}

impl Line {
    /// The line through two points; `None` when they coincide.
    pub fn through(p: [f64; 2], q: [f64; 2]) -> Option<Line> {
        let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
        let len = (dx * dx + dy * dy).sqrt();
        if len < 1e-9 {
            return None;
        }
        let (a, b) = (-dy / len, dx / len);
        Some(Line {
            a,
            b,
            c: a * p[0] + b * p[1],
        })
    }

    /// The line with normal angle `theta` (radians) at signed distance `rho` from the origin.
    pub fn from_polar(theta: f64, rho: f64) -> Line {
        Line {
            a: theta.cos(),
            b: theta.sin(),
            c: rho,
        }
    }

    /// Signed distance of `p` from the line (positive on the normal's side).
    pub fn distance(&self, p: [f64; 2]) -> f64 {
        self.a * p[0] + self.b * p[1] - self.c
    }

    /// Where two lines cross; `None` when (nearly) parallel.
    pub fn intersect(&self, o: &Line) -> Option<[f64; 2]> {
        let det = self.a * o.b - self.b * o.a;
        if det.abs() < 1e-6 {
            return None;
        }
        Some([
            (self.c * o.b - self.b * o.c) / det,
            (self.a * o.c - self.c * o.a) / det,
        ])
    }

    /// Total-least-squares fit of a line to weighted points; `None` with fewer than 2 points.
    pub fn fit(points: &[[f64; 2]], weights: &[f64]) -> Option<Line> {
        let wsum: f64 = weights.iter().sum();
        if points.len() < 2 || wsum <= 1e-9 {
            return None;
        }
        let (mut mx, mut my) = (0.0, 0.0);
        for (p, w) in points.iter().zip(weights) {
            mx += w * p[0];
            my += w * p[1];
        }
        mx /= wsum;
        my /= wsum;
        let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
        for (p, w) in points.iter().zip(weights) {
            let (dx, dy) = (p[0] - mx, p[1] - my);
            sxx += w * dx * dx;
            sxy += w * dx * dy;
            syy += w * dy * dy;
        }
        // Direction of the line = principal eigenvector; the normal is perpendicular to it.
        let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
        let (a, b) = (-angle.sin(), angle.cos());
        Some(Line {
            a,
            b,
            c: a * mx + b * my,
        })
    }
}

/// A projective transform of the plane, row-major 3x3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Homography(pub [f64; 9]);

impl Homography {
    /// The homography taking each `from[i]` to `to[i]`; `None` when the points are degenerate.
    pub fn from_points(from: &[[f64; 2]; 4], to: &[[f64; 2]; 4]) -> Option<Homography> {
        // Solve the 8x8 system for h0..h7 with h8 = 1, by Gaussian elimination with pivoting.
        let mut m = [[0.0f64; 9]; 8];
        for i in 0..4 {
            let ([x, y], [u, v]) = (from[i], to[i]);
            m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        for col in 0..8 {
            let pivot =
                (col..8).max_by(|&r1, &r2| m[r1][col].abs().total_cmp(&m[r2][col].abs()))?;
            if m[pivot][col].abs() < 1e-12 {
                return None;
            }
            m.swap(col, pivot);
            for row in 0..8 {
                if row != col {
                    let f = m[row][col] / m[col][col];
                    if f != 0.0 {
                        let pivot_row = m[col];
                        for (v, p) in m[row][col..].iter_mut().zip(&pivot_row[col..]) {
                            *v -= f * p;
                        }
                    }
                }
            }
        }
        let mut h = [0.0; 9];
        for (i, row) in m.iter().enumerate() {
            h[i] = row[8] / row[i];
        }
        h[8] = 1.0;
        Some(Homography(h))
    }

    /// Applies the transform to a point; `None` at the line at infinity.
    pub fn apply(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        let h = &self.0;
        let w = h[6] * p[0] + h[7] * p[1] + h[8];
        if w.abs() < 1e-12 {
            return None;
        }
        Some([
            (h[0] * p[0] + h[1] * p[1] + h[2]) / w,
            (h[3] * p[0] + h[4] * p[1] + h[5]) / w,
        ])
    }

    /// `self` after an affine map `p -> (m[0]x + m[1]y + m[2], m[3]x + m[4]y + m[5])`.
    pub fn then_affine(&self, m: [f64; 6]) -> Homography {
        let h = &self.0;
        let row = |r: usize| [h[3 * r], h[3 * r + 1], h[3 * r + 2]];
        let (r0, r1, r2) = (row(0), row(1), row(2));
        let mix = |a: f64, b: f64, c: f64| [0, 1, 2].map(|k| a * r0[k] + b * r1[k] + c * r2[k]);
        let n0 = mix(m[0], m[1], m[2]);
        let n1 = mix(m[3], m[4], m[5]);
        Homography([
            n0[0], n0[1], n0[2], n1[0], n1[1], n1[2], r2[0], r2[1], r2[2],
        ])
    }
}

/// Signed area of a polygon (positive when clockwise in image coordinates, y down).
pub fn polygon_area(poly: &[Point]) -> f32 {
    let n = poly.len();
    let mut s = 0.0f64;
    for i in 0..n {
        let (p, q) = (poly[i], poly[(i + 1) % n]);
        s += f64::from(p[0]) * f64::from(q[1]) - f64::from(q[0]) * f64::from(p[1]);
    }
    (s / 2.0) as f32
}

/// Clips `subject` to the convex polygon `clip` (Sutherland–Hodgman). Both clockwise.
pub(crate) fn clip_convex(subject: &[Point], clip: &[Point]) -> Vec<Point> {
    let mut out: Vec<Point> = subject.to_vec();
    let n = clip.len();
    for i in 0..n {
        if out.is_empty() {
            break;
        }
        let (a, b) = (clip[i], clip[(i + 1) % n]);
        // Inside = on the right of a->b for clockwise polygons in y-down coordinates (cross >= 0).
        let side = |p: Point| (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
        let input = std::mem::take(&mut out);
        let m = input.len();
        for j in 0..m {
            let (p, q) = (input[j], input[(j + 1) % m]);
            let (sp, sq) = (side(p), side(q));
            if sp >= 0.0 {
                out.push(p);
            }
            if (sp >= 0.0) != (sq >= 0.0) {
                let t = sp / (sp - sq);
                out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
            }
        }
    }
    out
}

/// Orders 4 points clockwise (in image coordinates) starting from the top-left one.
pub fn order_clockwise(pts: [Point; 4]) -> [Point; 4] {
    let cx = pts.iter().map(|p| p[0]).sum::<f32>() / 4.0;
    let cy = pts.iter().map(|p| p[1]).sum::<f32>() / 4.0;
    let mut v = pts;
    v.sort_by(|p, q| {
        let ap = (p[1] - cy).atan2(p[0] - cx);
        let aq = (q[1] - cy).atan2(q[0] - cx);
        ap.total_cmp(&aq)
    });
    // atan2 with y down increases clockwise; start from the point with the smallest x + y.
    let start = (0..4)
        .min_by(|&i, &j| (v[i][0] + v[i][1]).total_cmp(&(v[j][0] + v[j][1])))
        .unwrap_or(0);
    [
        v[start],
        v[(start + 1) % 4],
        v[(start + 2) % 4],
        v[(start + 3) % 4],
    ]
}

/// Intersection over union of two convex quadrilaterals given as corner lists (any order of
/// winding; both are put clockwise first). 0 when either is degenerate.
pub fn quad_iou(a: &[Point; 4], b: &[Point; 4]) -> f32 {
    let a = order_clockwise(*a);
    let b = order_clockwise(*b);
    let (aa, ab) = (polygon_area(&a).abs(), polygon_area(&b).abs());
    if aa <= 0.0 || ab <= 0.0 {
        return 0.0;
    }
    let inter = polygon_area(&clip_convex(&a, &b)).abs();
    let union = aa + ab - inter;
    if union <= 0.0 {
        0.0
    } else {
        (inter / union).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_shifted_squares() {
        let a = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        let b = [[5.0, 0.0], [15.0, 0.0], [15.0, 10.0], [5.0, 10.0]];
        assert!((quad_iou(&a, &a) - 1.0).abs() < 1e-6);
        assert!((quad_iou(&a, &b) - 50.0 / 150.0).abs() < 1e-5);
        let far = [[50.0, 50.0], [60.0, 50.0], [60.0, 60.0], [50.0, 60.0]];
        assert_eq!(quad_iou(&a, &far), 0.0);
        // Winding and starting corner do not matter.
        let rev = [b[3], b[2], b[1], b[0]];
        assert!((quad_iou(&a, &rev) - 50.0 / 150.0).abs() < 1e-5);
    }

    #[test]
    fn homography_maps_the_control_points() {
        let from = [[0.0, 0.0], [100.0, 0.0], [100.0, 60.0], [0.0, 60.0]];
        let to = [[12.0, 7.0], [140.0, 20.0], [130.0, 95.0], [5.0, 80.0]];
        let h = Homography::from_points(&from, &to).unwrap();
        for (f, t) in from.iter().zip(&to) {
            let p = h.apply(*f).unwrap();
            assert!(
                (p[0] - t[0]).abs() < 1e-6 && (p[1] - t[1]).abs() < 1e-6,
                "{p:?} vs {t:?}"
            );
        }
        let shifted = h.then_affine([1.0, 0.0, 3.0, 0.0, 2.0, -1.0]);
        let p = shifted.apply(from[1]).unwrap();
        assert!((p[0] - 143.0).abs() < 1e-6 && (p[1] - 39.0).abs() < 1e-6);
    }

    #[test]
    fn line_fit_and_intersection() {
        let pts: Vec<[f64; 2]> = (0..10)
            .map(|i| [f64::from(i), 2.0 * f64::from(i) + 1.0])
            .collect();
        let l = Line::fit(&pts, &[1.0; 10]).unwrap();
        assert!(l.distance([20.0, 41.0]).abs() < 1e-9);
        let v = Line::through([3.0, -5.0], [3.0, 5.0]).unwrap();
        let x = l.intersect(&v).unwrap();
        assert!((x[0] - 3.0).abs() < 1e-9 && (x[1] - 7.0).abs() < 1e-9);
        assert_eq!(
            order_clockwise([[0.0, 10.0], [10.0, 0.0], [0.0, 0.0], [10.0, 10.0]]),
            [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]]
        );
    }
}
