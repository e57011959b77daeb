//! CTC decoding of the recognizer's output: the most likely character at each time step,
//! repeats and blanks removed, with where along the line each character was seen.

use rten_tensor::prelude::*;
use rten_tensor::NdTensor;

/// One character read, with its place along the line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecognizedChar {
    /// The character (`' '` for a space).
    pub ch: char,
    /// Where it starts along the line, as a fraction of the line's length (0..1).
    pub start: f32,
    /// Where it ends.
    pub end: f32,
    /// The model's probability for it.
    pub prob: f32,
}

/// What one line crop reads as.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recognized {
    /// The text, spaces as the model put them.
    pub text: String,
    /// Mean probability of the characters (0 when nothing was read).
    pub confidence: f32,
    /// The characters, left to right.
    pub chars: Vec<RecognizedChar>,
}

/// Decodes item `k` of `probs` (`[n, steps, classes]`): `charset[0]` is the CTC blank.
/// `input_width` is the padded batch width, `line_width` the part this line filled.
pub(crate) fn decode(
    probs: &NdTensor<f32, 3>,
    k: usize,
    charset: &[char],
    input_width: f32,
    line_width: f32,
) -> Recognized {
    let [_, steps, classes] = probs.shape();
    if steps == 0 || classes == 0 {
        return Recognized::default();
    }
    let step_px = input_width / steps as f32;
    let frac = |px: f32| (px / line_width.max(1.0)).clamp(0.0, 1.0);
    let mut chars: Vec<RecognizedChar> = Vec::new();
    let mut prev = 0usize;
    for t in 0..steps {
        let (mut best, mut p) = (0usize, f32::MIN);
        for c in 0..classes {
            let v = probs[[k, t, c]];
            if v > p {
                best = c;
                p = v;
            }
        }
        if best != 0 && best != prev {
            if let Some(&ch) = charset.get(best) {
                chars.push(RecognizedChar {
                    ch,
                    start: frac(t as f32 * step_px),
                    end: frac((t + 1) as f32 * step_px),
                    prob: p,
                });
            }
        } else if best != 0 && best == prev {
            // The same character held over more steps: it is wider.
            if let Some(last) = chars.last_mut() {
                last.end = frac((t + 1) as f32 * step_px);
                last.prob = last.prob.max(p);
            }
        }
        prev = best;
    }
    // Spaces at the ends carry nothing.
    while chars.first().is_some_and(|c| c.ch == ' ') {
        chars.remove(0);
    }
    while chars.last().is_some_and(|c| c.ch == ' ') {
        chars.pop();
    }
    let confidence = if chars.is_empty() {
        0.0
    } else {
        chars.iter().map(|c| c.prob).sum::<f32>() / chars.len() as f32
    };
    Recognized {
        text: chars.iter().map(|c| c.ch).collect(),
        confidence,
        chars,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_and_blanks_collapse() {
        // Classes: blank, 张, 伟, space. Steps: 张 张 blank 伟 space blank (a trailing space).
        let charset = ['\0', '张', '伟', ' '];
        let steps = [1usize, 1, 0, 2, 3, 0, 2, 2];
        let mut data = vec![0.01f32; steps.len() * 4];
        for (t, &c) in steps.iter().enumerate() {
            data[t * 4 + c] = 0.9;
        }
        let probs = NdTensor::from_data([1, steps.len(), 4], data);
        let r = decode(&probs, 0, &charset, 64.0, 64.0);
        assert_eq!(r.text, "张伟 伟");
        assert_eq!(r.chars.len(), 4);
        assert!((r.chars[0].start - 0.0).abs() < 1e-6 && (r.chars[0].end - 0.25).abs() < 1e-6);
        assert!((r.confidence - 0.9).abs() < 1e-6);
    }
}
