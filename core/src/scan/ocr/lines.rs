//! From read boxes to lines of words.
//!
//! PP-OCR reads one box at a time; a card's row may be several boxes (a label and its number
//! apart, the letters of a letter-spaced name). Boxes on the same row join one line when the
//! gap between them is small for their height, or when the left one is a label (`传真`, `F:`)
//! and the right one starts with a digit. Within a line, letters set apart one by one
//! (`M A S A S H I   A R A I`) are joined into words at the wider gaps.

use super::{BBox, OcrLine, OcrWord};
use crate::scan::ppocr::{Recognized, TextBox};

/// Readings below this mean confidence are dropped (PP-OCR's own cut).
const MIN_CONFIDENCE: f32 = 0.5;

/// One character with its place in the image.
#[derive(Debug, Clone, Copy)]
struct Glyph {
    ch: char,
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
    prob: f32,
    /// A space (or a box boundary) comes before it.
    space_before: bool,
}

/// A line being built: its glyphs and extent.
#[derive(Debug, Clone)]
struct Row {
    glyphs: Vec<Glyph>,
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
    /// Text of the last box added, for the label rule.
    last_text: String,
}

impl Row {
    fn height(&self) -> f32 {
        self.y1 - self.y0
    }
}

fn glyphs_of(b: &TextBox, r: &Recognized) -> Vec<Glyph> {
    let (x0, y0, x1, y1) = b.bounds();
    let (c0, c1, c3) = (b.corners[0], b.corners[1], b.corners[3]);
    let along = |f: f32| [c0[0] + f * (c1[0] - c0[0]), c0[1] + f * (c1[1] - c0[1])];
    let down = [c3[0] - c0[0], c3[1] - c0[1]];
    let mut out = Vec::new();
    let mut space = true;
    for c in &r.chars {
        if c.ch == ' ' {
            space = true;
            continue;
        }
        let (p, q) = (along(c.start), along(c.end));
        let xs = [p[0], q[0], p[0] + down[0], q[0] + down[0]];
        let ys = [p[1], q[1], p[1] + down[1], q[1] + down[1]];
        out.push(Glyph {
            ch: c.ch,
            x0: xs.iter().copied().fold(f32::MAX, f32::min).clamp(x0, x1),
            x1: xs.iter().copied().fold(f32::MIN, f32::max).clamp(x0, x1),
            y0: ys.iter().copied().fold(f32::MAX, f32::min).clamp(y0, y1),
            y1: ys.iter().copied().fold(f32::MIN, f32::max).clamp(y0, y1),
            prob: c.prob,
            space_before: space,
        });
        space = false;
    }
    out
}

/// A short label that names what follows it on the same row.
fn is_label(text: &str) -> bool {
    let t = text.trim();
    if t.ends_with(':') || t.ends_with('：') {
        return true;
    }
    let n = t.chars().count();
    (1..=6).contains(&n) && !t.chars().any(|c| c.is_ascii_digit())
}

/// One letter or Han character alone in its box.
fn is_single(text: &str) -> bool {
    let mut cs = text.trim().chars();
    cs.next().is_some_and(char::is_alphabetic) && cs.next().is_none()
}

fn starts_with_number(text: &str) -> bool {
    text.trim_start()
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || matches!(c, '+' | '(' | '（'))
}

/// Re-decides the spaces of a line of letters set apart one by one.
fn respace_letter_spaced(glyphs: &mut [Glyph]) {
    let words = glyphs.iter().filter(|g| g.space_before).count();
    let single_letters = glyphs
        .iter()
        .enumerate()
        .filter(|(i, g)| {
            g.space_before
                && g.ch.is_alphabetic()
                && glyphs.get(i + 1).is_none_or(|n| n.space_before)
        })
        .count();
    if words < 4 || single_letters * 10 < words * 6 {
        return;
    }
    let mut gaps: Vec<f32> = glyphs.windows(2).map(|w| w[1].x0 - w[0].x1).collect();
    if gaps.is_empty() {
        return;
    }
    let mut sorted = gaps.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted[sorted.len() / 2].max(1.0);
    let height = glyphs.iter().map(|g| g.y1 - g.y0).fold(0.0f32, f32::max);
    for (g, gap) in glyphs.iter_mut().skip(1).zip(gaps.drain(..)) {
        g.space_before = gap > (1.8 * median).max(0.3 * height);
    }
}

fn words_of(glyphs: &[Glyph]) -> Vec<OcrWord> {
    let mut words = Vec::new();
    let mut start = 0;
    for i in 1..=glyphs.len() {
        if i == glyphs.len() || glyphs[i].space_before {
            let part = &glyphs[start..i];
            if !part.is_empty() {
                let x0 = part.iter().map(|g| g.x0).fold(f32::MAX, f32::min);
                let x1 = part.iter().map(|g| g.x1).fold(f32::MIN, f32::max);
                let y0 = part.iter().map(|g| g.y0).fold(f32::MAX, f32::min);
                let y1 = part.iter().map(|g| g.y1).fold(f32::MIN, f32::max);
                words.push(OcrWord {
                    text: part.iter().map(|g| g.ch).collect(),
                    confidence: part.iter().map(|g| g.prob).sum::<f32>() / part.len() as f32,
                    bbox: BBox {
                        x: x0.max(0.0) as u32,
                        y: y0.max(0.0) as u32,
                        w: (x1 - x0).max(1.0).round() as u32,
                        h: (y1 - y0).max(1.0).round() as u32,
                    },
                });
            }
            start = i;
        }
    }
    words
}

/// Groups read boxes into lines, top to bottom and left to right.
pub fn assemble(boxes: &[TextBox], readings: &[Recognized]) -> Vec<OcrLine> {
    let mut items: Vec<(TextBox, &Recognized)> = boxes
        .iter()
        .zip(readings)
        .filter(|(_, r)| r.confidence >= MIN_CONFIDENCE && !r.text.trim().is_empty())
        .map(|(b, r)| (*b, r))
        .collect();
    items.sort_by(|a, b| a.0.bounds().0.total_cmp(&b.0.bounds().0));
    let mut rows: Vec<Row> = Vec::new();
    for (b, r) in items {
        let (x0, y0, x1, y1) = b.bounds();
        let h = y1 - y0;
        let glyphs = glyphs_of(&b, r);
        if glyphs.is_empty() {
            continue;
        }
        let joins = |row: &Row| {
            let overlap = row.y1.min(y1) - row.y0.max(y0);
            let (small, big) = (row.height().min(h), row.height().max(h));
            if overlap < 0.5 * small || big > 1.6 * small.max(1.0) || x0 < row.x1 - 0.3 * small {
                return false;
            }
            let gap = x0 - row.x1;
            // Same-size text close by (a logo mark beside the company is larger: not joined).
            (gap <= 1.2 * big && big <= 1.3 * small.max(1.0))
                || (is_label(&row.last_text) && starts_with_number(&r.text) && gap <= 6.0 * big)
                // A letter-spaced name read one character per box (`章  晖  平`): same-size
                // single characters further apart.
                || (is_single(&r.text)
                    && row.glyphs.iter().all(|g| g.space_before)
                    && gap <= 3.5 * big
                    && big <= 1.2 * small.max(1.0))
        };
        match rows
            .iter_mut()
            .filter(|row| joins(row))
            .min_by(|a, b| (x0 - a.x1).total_cmp(&(x0 - b.x1)))
        {
            Some(row) => {
                let mut glyphs = glyphs;
                glyphs[0].space_before = true;
                row.glyphs.extend(glyphs);
                row.x1 = row.x1.max(x1);
                row.y0 = row.y0.min(y0);
                row.y1 = row.y1.max(y1);
                row.last_text = r.text.clone();
            }
            None => rows.push(Row {
                glyphs,
                x0,
                x1,
                y0,
                y1,
                last_text: r.text.clone(),
            }),
        }
    }
    rows.sort_by(|a, b| {
        let (ca, cb) = ((a.y0 + a.y1) / 2.0, (b.y0 + b.y1) / 2.0);
        // Same row when the centres are within half the smaller height: then left to right.
        if (ca - cb).abs() < 0.5 * a.height().min(b.height()) {
            a.x0.total_cmp(&b.x0)
        } else {
            ca.total_cmp(&cb)
        }
    });
    rows.into_iter()
        .map(|mut row| {
            respace_letter_spaced(&mut row.glyphs);
            OcrLine::from_words(words_of(&row.glyphs))
        })
        .filter(|l| !l.text.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ppocr::RecognizedChar;

    fn reading(text: &str, spacing: &[f32]) -> Recognized {
        let n = text.chars().count() as f32;
        let chars = text
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                let at = spacing.get(i).copied().unwrap_or(i as f32 / n);
                RecognizedChar {
                    ch,
                    start: at,
                    end: at + 0.5 / n,
                    prob: 0.95,
                }
            })
            .collect();
        Recognized {
            text: text.to_string(),
            confidence: 0.95,
            chars,
        }
    }

    fn rect(x0: f32, y0: f32, x1: f32, y1: f32) -> TextBox {
        TextBox {
            corners: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]],
            score: 0.9,
        }
    }

    #[test]
    fn a_label_and_its_number_apart_are_one_line() {
        let boxes = [
            rect(100.0, 500.0, 180.0, 530.0),
            rect(300.0, 502.0, 600.0, 532.0),
            rect(100.0, 100.0, 300.0, 180.0),
        ];
        let readings = [
            reading("传真", &[]),
            reading("0755-8888 6666", &[]),
            reading("张伟", &[]),
        ];
        let lines = assemble(&boxes, &readings);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["张伟", "传真0755-8888 6666"]);
    }

    #[test]
    fn letter_spaced_names_are_joined_at_the_wide_gaps() {
        // "M A S A S H I   A R A I": letters 0.05 apart, a wider gap between the words.
        let text = "M A S A S H I A R A I";
        let mut at = Vec::new();
        let mut x = 0.0;
        for (i, c) in text.chars().enumerate() {
            at.push(x);
            x += if c == ' ' {
                if i == 13 {
                    0.1
                } else {
                    0.02
                }
            } else {
                0.04
            };
        }
        let lines = assemble(&[rect(100.0, 100.0, 900.0, 160.0)], &[reading(text, &at)]);
        assert_eq!(lines[0].text, "MASASHI ARAI");
        // Han characters set apart join without spaces.
        let lines = assemble(
            &[
                rect(100.0, 100.0, 160.0, 160.0),
                rect(200.0, 100.0, 260.0, 160.0),
                rect(300.0, 100.0, 360.0, 160.0),
            ],
            &[reading("章", &[]), reading("晖", &[]), reading("平", &[])],
        );
        assert_eq!(lines[0].text, "章晖平");
    }

    #[test]
    fn characters_set_far_apart_one_per_box_are_one_line() {
        // 60 px characters 100 px apart, each its own box: one name, not three lines.
        let boxes = [
            rect(100.0, 100.0, 160.0, 160.0),
            rect(260.0, 102.0, 320.0, 162.0),
            rect(420.0, 100.0, 480.0, 160.0),
            rect(100.0, 300.0, 400.0, 330.0),
        ];
        let readings = [
            reading("章", &[]),
            reading("晖", &[]),
            reading("平", &[]),
            reading("销售总监", &[]),
        ];
        let lines = assemble(&boxes, &readings);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["章晖平", "销售总监"]);
        // Two words of ordinary text far apart stay apart.
        let lines = assemble(
            &[
                rect(100.0, 100.0, 300.0, 140.0),
                rect(560.0, 100.0, 760.0, 140.0),
            ],
            &[reading("Sales", &[]), reading("Office", &[])],
        );
        assert_eq!(lines.len(), 2);
    }
}
