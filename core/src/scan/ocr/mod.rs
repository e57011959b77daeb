//! Reading text with PP-OCR: a page image in, lines of words with confidences and boxes out.
//!
//! [`Ocr`] owns the three models ([`crate::scan::ppocr::Models`]), loaded once from a model
//! directory and reused for every image. [`Ocr::read`] detects the text boxes, decides from
//! them which way is up (the boxes' shapes, then the direction classifier and the recognizer's
//! own confidence; see [`orient`]), turns the image upright, reads every box and groups the
//! boxes into lines ([`lines`]). [`Ocr::read_hinted`] decides which way is up from boxes found
//! elsewhere (a scan's photo) and detects once, on the upright image.
//!
//! ```no_run
//! use outpost_core::scan::ocr::{Ocr, OcrOptions, PageLayout};
//! # fn main() -> Result<(), outpost_core::scan::ocr::OcrError> {
//! let ocr = Ocr::new(&OcrOptions::default())?;
//! let image = image::RgbImage::new(1400, 840);
//! let read = ocr.read(image, PageLayout::Card)?;
//! for line in &read.page.lines {
//!     println!("{} ({:.2}) at {:?}", line.text, line.confidence, line.bbox);
//! }
//! # Ok(()) }
//! ```

pub mod lines;
pub mod orient;

use super::ppocr::{self, ModelError, Models, TextBox};
use image::RgbImage;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Images smaller than this on either side are refused: there is nothing to read.
const MIN_SIDE: u32 = 16;
/// Images larger than this on either side are refused.
const MAX_SIDE: u32 = 12_000;

/// Why OCR could not run.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// A model file is missing, damaged or failed to run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The image is too small or too large to read.
    #[error(
        "image of {width}x{height} px cannot be read: each side must be {MIN_SIDE}..={MAX_SIDE} px"
    )]
    ImageSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// How the engine is set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OcrOptions {
    /// Directory holding the three PP-OCR model files. `None`: `$OUTPOST_MODELS`, else the
    /// per-user cache `scripts/fetch-models.sh` fills ([`ppocr::default_dir`]).
    pub models: Option<PathBuf>,
    /// Threads inference may use; 0 lets the runtime take one per physical core.
    pub threads: usize,
}

/// The layout of what is being read; it chooses the scale text is looked for at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageLayout {
    /// A business card: large and small lines scattered over the card.
    Card,
    /// A page of running text, e.g. a contract: many small lines.
    Page,
}

impl PageLayout {
    /// The long side (pixels) the detector looks at.
    fn detect_long_side(self) -> u32 {
        match self {
            PageLayout::Card => 800,
            PageLayout::Page => 1600,
        }
    }
}

/// The model directory that `options` resolves to.
pub fn resolve_models(options: &OcrOptions) -> PathBuf {
    options.models.clone().unwrap_or_else(ppocr::default_dir)
}

/// What [`Ocr::read`] found.
#[derive(Debug, Clone)]
pub struct Read {
    /// The lines, in the upright image's pixels.
    pub page: OcrPage,
    /// How far the image was turned clockwise to make its text upright: 0, 90, 180 or 270.
    pub rotation: u16,
    /// The upright image.
    pub image: RgbImage,
    /// Milliseconds spent finding the text boxes.
    pub detect_ms: f64,
    /// Milliseconds spent deciding which way is up.
    pub orient_ms: f64,
    /// Milliseconds spent reading the boxes.
    pub recognize_ms: f64,
}

/// The PP-OCR models, loaded once and reused for every image.
#[derive(Debug)]
pub struct Ocr {
    models: Models,
}

impl Ocr {
    /// Loads the models from the directory `options` names (checked first: a missing or
    /// wrong file is an error naming it and saying how to get it).
    pub fn new(options: &OcrOptions) -> Result<Ocr, OcrError> {
        let dir = resolve_models(options);
        Ok(Ocr {
            models: Models::load(&dir, options.threads)?,
        })
    }

    /// The model directory in use.
    pub fn models_dir(&self) -> &Path {
        self.models.dir()
    }

    /// How long loading the models took, ms.
    pub fn load_ms(&self) -> f64 {
        self.models.load_ms()
    }

    /// The models, for callers that detect or read boxes themselves.
    pub fn models(&self) -> &Models {
        &self.models
    }

    /// Reads `image` laid out as `layout`: finds the text, turns the image so the text is
    /// upright, reads every line.
    pub fn read(&self, image: RgbImage, layout: PageLayout) -> Result<Read, OcrError> {
        self.read_hinted(image, layout, &[])
    }

    /// [`Ocr::read`] given text boxes already found on `image` (in its pixels), as a scan
    /// carries them over from the photo, where it looked for text to check the outline. They
    /// decide which way is up before anything is detected on `image`, so the detector runs
    /// once, on upright text, even when the photo was taken sideways. When they hold too few
    /// line-shaped boxes to tell ([`orient::can_decide`]), the image's own detection decides.
    pub fn read_hinted(
        &self,
        image: RgbImage,
        layout: PageLayout,
        hint: &[TextBox],
    ) -> Result<Read, OcrError> {
        let (width, height) = image.dimensions();
        if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
            return Err(OcrError::ImageSize { width, height });
        }
        let ms = |t: Instant| t.elapsed().as_secs_f64() * 1000.0;
        let long_side = layout.detect_long_side();
        let (image, boxes, rotation, detect_ms, orient_ms) = if !orient::can_decide(hint) {
            let t = Instant::now();
            let boxes = self.models.detect(&image, long_side)?;
            let detect_ms = ms(t);
            let t = Instant::now();
            let rotation = orient::decide(&self.models, &image, &boxes)?;
            let (image, boxes) = orient::rotate(image, boxes, rotation);
            let orient_ms = ms(t);
            // The detector was trained on level lines: on text turned a quarter it splits
            // lines and drops their ends (a phone number cut after three digits). Once the
            // image is upright, look again; upside-down boxes keep their shapes and are only
            // turned.
            let (boxes, detect_ms) = if rotation % 180 == 90 {
                let t = Instant::now();
                let again = self.models.detect(&image, long_side)?;
                (again, detect_ms + ms(t))
            } else {
                (boxes, detect_ms)
            };
            (image, boxes, rotation, detect_ms, orient_ms)
        } else {
            let t = Instant::now();
            let rotation = orient::decide(&self.models, &image, hint)?;
            let (image, _) = orient::rotate(image, Vec::new(), rotation);
            let orient_ms = ms(t);
            let t = Instant::now();
            let boxes = self.models.detect(&image, long_side)?;
            (image, boxes, rotation, ms(t), orient_ms)
        };
        let t = Instant::now();
        let readings = orient::read_boxes(&self.models, &image, &boxes, layout)?;
        let lines = lines::assemble(&boxes, &readings);
        let recognize_ms = ms(t);
        Ok(Read {
            page: OcrPage {
                width: image.width(),
                height: image.height(),
                lines,
            },
            rotation,
            image,
            detect_ms,
            orient_ms,
            recognize_ms,
        })
    }
}

/// A rectangle in image pixels, serialized as `[x, y, w, h]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(from = "[u32; 4]", into = "[u32; 4]")]
pub struct BBox {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

impl From<[u32; 4]> for BBox {
    fn from([x, y, w, h]: [u32; 4]) -> Self {
        BBox { x, y, w, h }
    }
}

impl From<BBox> for [u32; 4] {
    fn from(b: BBox) -> Self {
        [b.x, b.y, b.w, b.h]
    }
}

impl BBox {
    /// The smallest box holding both.
    pub fn union(self, other: BBox) -> BBox {
        if self.w == 0 && self.h == 0 {
            return other;
        }
        if other.w == 0 && other.h == 0 {
            return self;
        }
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        let right = (self.x + self.w).max(other.x + other.w);
        let bottom = (self.y + self.h).max(other.y + other.h);
        BBox {
            x,
            y,
            w: right - x,
            h: bottom - y,
        }
    }

    /// Vertical centre.
    pub fn center_y(&self) -> f32 {
        self.y as f32 + self.h as f32 / 2.0
    }
}

/// One recognised word (for Chinese, often one character or a run of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrWord {
    /// The text as read.
    pub text: String,
    /// The recognizer's confidence, 0..1.
    pub confidence: f32,
    /// Where it is in the image.
    #[serde(rename = "box")]
    pub bbox: BBox,
}

/// One line of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrLine {
    /// The words joined with spaces, except that no space is kept between two CJK characters.
    pub text: String,
    /// Mean confidence of the words, weighted by their length, 0..1.
    pub confidence: f32,
    /// The union of the words' boxes.
    #[serde(rename = "box")]
    pub bbox: BBox,
    /// The words, left to right.
    pub words: Vec<OcrWord>,
}

impl OcrLine {
    /// A line made of words: text joined (CJK without spaces), box and confidence combined.
    pub fn from_words(words: Vec<OcrWord>) -> OcrLine {
        let joined = words
            .iter()
            .map(|w| w.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let text = join_cjk(&joined);
        let bbox = words
            .iter()
            .fold(BBox::default(), |acc, w| acc.union(w.bbox));
        let (sum, weight) = words.iter().fold((0.0f32, 0.0f32), |(s, n), w| {
            let len = w.text.chars().count().max(1) as f32;
            (s + w.confidence * len, n + len)
        });
        let confidence = if weight > 0.0 { sum / weight } else { 0.0 };
        OcrLine {
            text,
            confidence,
            bbox,
            words,
        }
    }
}

/// Everything read from one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OcrPage {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Lines, top to bottom, then left to right.
    pub lines: Vec<OcrLine>,
}

impl OcrPage {
    /// The text of all lines, one per line.
    pub fn text(&self) -> String {
        self.lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Mean line confidence (0 when nothing was read).
    pub fn mean_confidence(&self) -> f32 {
        if self.lines.is_empty() {
            return 0.0;
        }
        self.lines.iter().map(|l| l.confidence).sum::<f32>() / self.lines.len() as f32
    }
}

/// True for Han characters, CJK punctuation and full-width forms.
pub fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3000}'..='\u{303F}'   // CJK symbols and punctuation
        | '\u{3400}'..='\u{4DBF}' // extension A
        | '\u{4E00}'..='\u{9FFF}' // unified ideographs
        | '\u{F900}'..='\u{FAFF}' // compatibility ideographs
        | '\u{FF00}'..='\u{FFEF}' // full-width forms
        | '\u{20000}'..='\u{2FA1F}')
}

/// Removes the spaces OCR leaves between two CJK characters (`深 圳 市` → `深圳市`) and
/// between a CJK character and a digit (`路 88 号` → `路88号`); spaces between Latin words or
/// digit groups, or between a CJK character and a Latin word, are kept (one space).
pub fn join_cjk(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let prev = out.chars().last();
            let next = chars.get(j).copied();
            match (prev, next) {
                (Some(p), Some(n))
                    if (is_cjk(p) || p.is_ascii_digit())
                        && (is_cjk(n) || n.is_ascii_digit())
                        && (is_cjk(p) || is_cjk(n)) => {}
                (Some(_), Some(_)) => out.push(' '),
                _ => {}
            }
            i = j;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_between_cjk_characters_are_removed() {
        assert_eq!(join_cjk("深 圳 市 华 强"), "深圳市华强");
        assert_eq!(join_cjk("手 机 : 138 0013 8000"), "手机 : 138 0013 8000");
        assert_eq!(join_cjk("科 技 园 路 88 号 1203 室"), "科技园路88号1203室");
        assert_eq!(join_cjk("  Sales   Manager "), "Sales Manager");
        assert_eq!(join_cjk("张 伟 Sales"), "张伟 Sales");
        assert_eq!(join_cjk("地 址 ： 广 东"), "地址：广东");
    }
}
