//! Tesseract OCR over a flattened grey image: words and lines with confidences and boxes.
//!
//! [`Ocr`] owns one Tesseract engine, initialised once with `chi_sim+eng` (initialisation
//! reads ~50 MB of language data and takes a second or more) and reused for every image.
//!
//! Tesseract parallelises its recogniser with OpenMP. On a phone or a small machine that
//! oversubscribes the cores and makes it several times slower, so [`Ocr::new`] sets
//! `OMP_THREAD_LIMIT=1` when the variable is not already set. OpenMP reads the variable when
//! its runtime starts, so for the limit to take effect in every case the process should have
//! it in its environment from the start (the CLI and the benchmark do); [`thread_limit`] tells
//! what the process started with.
//!
//! ```no_run
//! use outpost_core::scan::ocr::{Ocr, OcrOptions, PageLayout};
//! # fn main() -> Result<(), outpost_core::scan::ocr::OcrError> {
//! let mut ocr = Ocr::new(&OcrOptions::default())?;
//! let image = image::GrayImage::new(1400, 840);
//! let page = ocr.recognize(&image, PageLayout::Card)?;
//! for line in &page.lines {
//!     println!("{} ({:.2}) at {:?}", line.text, line.confidence, line.bbox);
//! }
//! # Ok(()) }
//! ```

use image::GrayImage;
use serde::{Deserialize, Serialize};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use tesseract_plumbing::tesseract_sys::TessPageSegMode;
use tesseract_plumbing::TessBaseApi;

/// Where Debian's `tesseract-ocr-*` packages put the language data.
pub const DEFAULT_TESSDATA: &str = "/usr/share/tesseract-ocr/5/tessdata";
/// The environment variable that overrides the language-data directory.
pub const TESSDATA_ENV: &str = "OUTPOST_TESSDATA";
/// The languages read on cards by default: Simplified Chinese and English.
pub const DEFAULT_LANGUAGES: &str = "chi_sim+eng";
/// The languages read on pages by default: Simplified Chinese alone. Its model reads Latin
/// text and digits too, and with `+eng` Tesseract read whole Chinese lines of our contracts
/// with the English model (`甲方（买方）` came out as `BA (LA)`).
pub const DEFAULT_PAGE_LANGUAGES: &str = "chi_sim";

/// Images smaller than this on either side are refused: there is nothing to read.
const MIN_SIDE: u32 = 16;
/// Images larger than this on either side are refused: Tesseract's memory grows with the area.
const MAX_SIDE: u32 = 12_000;

/// Why OCR could not run.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// The language-data directory does not exist.
    #[error(
        "tessdata directory {path} does not exist: install tesseract-ocr-chi-sim and \
         tesseract-ocr-eng, or point {TESSDATA_ENV} at the directory holding *.traineddata"
    )]
    TessdataMissing {
        /// The directory that was looked for.
        path: PathBuf,
    },
    /// One of the requested languages has no `.traineddata` file in the directory.
    #[error(
        "language `{language}` is missing: {path} not found (install the Debian package \
         tesseract-ocr-{package}, or set {TESSDATA_ENV})"
    )]
    LanguageMissing {
        /// The language code, e.g. `chi_sim`.
        language: String,
        /// The file that was looked for.
        path: PathBuf,
        /// The Debian package that provides it, e.g. `chi-sim`.
        package: String,
    },
    /// The language list is empty or holds something that is not a language code.
    #[error("languages `{languages}` is not a list like chi_sim+eng")]
    InvalidLanguages {
        /// The list as given.
        languages: String,
    },
    /// Tesseract refused to start with this data (a corrupt or incompatible traineddata file).
    #[error("Tesseract could not initialise languages `{languages}` from {path}")]
    Init {
        /// The language list.
        languages: String,
        /// The language-data directory.
        path: PathBuf,
    },
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
    /// Tesseract failed while recognising or while producing its result.
    #[error("Tesseract failed to {stage} the image")]
    Recognize {
        /// What it was doing: `set`, `recognise`, `report`.
        stage: &'static str,
    },
}

/// How the engine is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrOptions {
    /// Directory holding `chi_sim.traineddata`, `eng.traineddata`. `None`: the
    /// `OUTPOST_TESSDATA` environment variable, else [`DEFAULT_TESSDATA`].
    pub tessdata: Option<PathBuf>,
    /// Tesseract language list for cards, e.g. `chi_sim+eng`.
    pub languages: String,
    /// Tesseract language list for pages (contracts), e.g. `chi_sim`.
    pub page_languages: String,
}

impl Default for OcrOptions {
    fn default() -> Self {
        OcrOptions {
            tessdata: None,
            languages: DEFAULT_LANGUAGES.to_string(),
            page_languages: DEFAULT_PAGE_LANGUAGES.to_string(),
        }
    }
}

/// The layout of what is being read; it chooses Tesseract's page segmentation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageLayout {
    /// A business card: short lines scattered over the card (sparse text, PSM 11).
    Card,
    /// A page of running text, e.g. a contract (automatic page segmentation, PSM 3).
    Page,
}

impl PageLayout {
    fn psm(self) -> TessPageSegMode {
        match self {
            PageLayout::Card => tesseract_plumbing::tesseract_sys::TessPageSegMode_PSM_SPARSE_TEXT,
            PageLayout::Page => tesseract_plumbing::tesseract_sys::TessPageSegMode_PSM_AUTO,
        }
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
    /// Tesseract's confidence, 0..1.
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
    /// Lines, top to bottom as Tesseract ordered them.
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

/// Tesseract engines, initialised once and reused for every image: one for cards and, when
/// pages use other languages, one for pages (started on first use).
pub struct Ocr {
    card: TessBaseApi,
    page: Option<TessBaseApi>,
    tessdata: PathBuf,
    languages: String,
    page_languages: String,
}

impl std::fmt::Debug for Ocr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ocr")
            .field("tessdata", &self.tessdata)
            .field("languages", &self.languages)
            .field("page_languages", &self.page_languages)
            .finish()
    }
}

/// `OMP_THREAD_LIMIT` as this process sees it now (`None` when unset).
///
/// OpenMP reads it once, when its runtime starts; set it in the environment of the process
/// (the CLI re-reads it at start) to be sure Tesseract runs on one thread.
pub fn thread_limit() -> Option<String> {
    std::env::var("OMP_THREAD_LIMIT").ok()
}

/// The language-data directory that `options` resolves to.
pub fn resolve_tessdata(options: &OcrOptions) -> PathBuf {
    options
        .tessdata
        .clone()
        .or_else(|| std::env::var_os(TESSDATA_ENV).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TESSDATA))
}

/// Checks that `dir` holds a `.traineddata` file for every language in `languages`.
pub fn check_languages(dir: &Path, languages: &str) -> Result<(), OcrError> {
    let invalid = || OcrError::InvalidLanguages {
        languages: languages.to_string(),
    };
    let list: Vec<&str> = languages.split('+').collect();
    if languages.is_empty()
        || list
            .iter()
            .any(|l| l.is_empty() || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(invalid());
    }
    if !dir.is_dir() {
        return Err(OcrError::TessdataMissing {
            path: dir.to_path_buf(),
        });
    }
    for language in list {
        let path = dir.join(format!("{language}.traineddata"));
        if !path.is_file() {
            return Err(OcrError::LanguageMissing {
                language: language.to_string(),
                path,
                package: language.replace('_', "-"),
            });
        }
    }
    Ok(())
}

impl Ocr {
    /// Starts Tesseract with `options` (checked first: a missing directory or language file is
    /// an error naming it). Sets `OMP_THREAD_LIMIT=1` in the environment when it is unset.
    pub fn new(options: &OcrOptions) -> Result<Ocr, OcrError> {
        let tessdata = resolve_tessdata(options);
        check_languages(&tessdata, &options.languages)?;
        check_languages(&tessdata, &options.page_languages)?;
        if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
            std::env::set_var("OMP_THREAD_LIMIT", "1");
        }
        let card = start_engine(&tessdata, &options.languages)?;
        Ok(Ocr {
            card,
            page: None,
            tessdata,
            languages: options.languages.clone(),
            page_languages: options.page_languages.clone(),
        })
    }

    /// The language-data directory in use.
    pub fn tessdata(&self) -> &Path {
        &self.tessdata
    }

    /// The language list in use.
    pub fn languages(&self) -> &str {
        &self.languages
    }

    /// The language list used for pages.
    pub fn page_languages(&self) -> &str {
        &self.page_languages
    }

    /// Reads `image` laid out as `layout`.
    pub fn recognize(
        &mut self,
        image: &GrayImage,
        layout: PageLayout,
    ) -> Result<OcrPage, OcrError> {
        let api = match layout {
            PageLayout::Page if self.page_languages != self.languages => {
                let page = match self.page.take() {
                    Some(api) => api,
                    None => start_engine(&self.tessdata, &self.page_languages)?,
                };
                self.page.insert(page)
            }
            _ => &mut self.card,
        };
        let mut page = read(api, image, layout)?;
        if layout == PageLayout::Card {
            self.recheck_large_latin(image, &mut page)?;
        }
        Ok(page)
    }

    /// With `chi_sim+eng`, Tesseract sometimes reads a large Chinese name as a short Latin
    /// word (`李鑫` → `ES`). Lines that are short, Latin and much taller than the median line
    /// are read again alone (with some room to the right) with the page languages; a
    /// confident all-Han reading of 2-8 characters replaces them.
    fn recheck_large_latin(
        &mut self,
        image: &GrayImage,
        page: &mut OcrPage,
    ) -> Result<(), OcrError> {
        if self.page_languages == self.languages || page.lines.len() < 2 {
            return Ok(());
        }
        let mut heights: Vec<u32> = page.lines.iter().map(|l| l.bbox.h).collect();
        heights.sort_unstable();
        let median = heights[heights.len() / 2].max(1);
        let suspects: Vec<usize> = (0..page.lines.len())
            .filter(|&i| {
                let l = &page.lines[i];
                let letters = l.text.chars().filter(|c| !c.is_whitespace()).count();
                l.text.is_ascii()
                    && !l
                        .text
                        .chars()
                        .any(|c| c.is_ascii_digit() || c == '@' || c == '.')
                    && (1..=6).contains(&letters)
                    && l.bbox.h * 2 >= median * 3
            })
            .collect();
        if suspects.is_empty() {
            return Ok(());
        }
        let api = match self.page.take() {
            Some(api) => api,
            None => start_engine(&self.tessdata, &self.page_languages)?,
        };
        let api = self.page.insert(api);
        let (width, height) = image.dimensions();
        let (w, h) = (
            i32::try_from(width).map_err(|_| OcrError::ImageSize { width, height })?,
            i32::try_from(height).map_err(|_| OcrError::ImageSize { width, height })?,
        );
        api.set_page_seg_mode(tesseract_plumbing::tesseract_sys::TessPageSegMode_PSM_SINGLE_LINE);
        api.set_image(image.as_raw(), w, h, 1, w)
            .map_err(|_| OcrError::Recognize { stage: "set" })?;
        for i in suspects {
            let b = page.lines[i].bbox;
            // The Latin misreading often covers only the first character: read on to the
            // right for a few more character widths.
            let pad = (b.h / 4) as i32;
            let (x0, y0) = ((b.x as i32 - pad).max(0), (b.y as i32 - pad).max(0));
            let x1 = (b.x as i32 + b.w as i32 + 3 * b.h as i32).min(w);
            let y1 = (b.y as i32 + b.h as i32 + pad).min(h);
            api.set_rectangle(x0, y0, x1 - x0, y1 - y0);
            api.recognize()
                .map_err(|_| OcrError::Recognize { stage: "recognise" })?;
            let tsv = api
                .get_tsv_text(0)
                .map_err(|_| OcrError::Recognize { stage: "report" })?;
            let lines = parse_tsv(&String::from_utf8_lossy(tsv.as_ref().to_bytes()));
            let Some(again) = lines.into_iter().next() else {
                continue;
            };
            let han = again.text.chars().count();
            let all_han = again
                .text
                .chars()
                .all(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c));
            if all_han && (2..=8).contains(&han) && again.confidence >= 0.5 {
                page.lines[i] = again;
            }
        }
        Ok(())
    }
}

fn start_engine(tessdata: &Path, languages: &str) -> Result<TessBaseApi, OcrError> {
    let init_error = || OcrError::Init {
        languages: languages.to_string(),
        path: tessdata.to_path_buf(),
    };
    let dir = CString::new(tessdata.to_string_lossy().as_bytes()).map_err(|_| init_error())?;
    let langs = CString::new(languages.as_bytes()).map_err(|_| OcrError::InvalidLanguages {
        languages: languages.to_string(),
    })?;
    let mut api = TessBaseApi::create();
    api.init_2(Some(dir.as_c_str()), Some(langs.as_c_str()))
        .map_err(|_| init_error())?;
    Ok(api)
}

fn read(api: &mut TessBaseApi, image: &GrayImage, layout: PageLayout) -> Result<OcrPage, OcrError> {
    let (width, height) = image.dimensions();
    if !(MIN_SIDE..=MAX_SIDE).contains(&width) || !(MIN_SIDE..=MAX_SIDE).contains(&height) {
        return Err(OcrError::ImageSize { width, height });
    }
    let w = i32::try_from(width).map_err(|_| OcrError::ImageSize { width, height })?;
    let h = i32::try_from(height).map_err(|_| OcrError::ImageSize { width, height })?;
    api.set_page_seg_mode(layout.psm());
    api.set_image(image.as_raw(), w, h, 1, w)
        .map_err(|_| OcrError::Recognize { stage: "set" })?;
    // Cards are ~90 mm long, pages (A4) ~297 mm: a resolution estimate keeps Tesseract's size
    // heuristics sane and stops its "invalid resolution" warning.
    let mm = match layout {
        PageLayout::Card => 90.0,
        PageLayout::Page => 297.0,
    };
    let ppi = ((width.max(height) as f32 / mm * 25.4) as i32).clamp(70, 1200);
    api.set_source_resolution(ppi);
    api.recognize()
        .map_err(|_| OcrError::Recognize { stage: "recognise" })?;
    let tsv = api
        .get_tsv_text(0)
        .map_err(|_| OcrError::Recognize { stage: "report" })?;
    let tsv = String::from_utf8_lossy(tsv.as_ref().to_bytes()).into_owned();
    Ok(OcrPage {
        width,
        height,
        lines: parse_tsv(&tsv),
    })
}

/// Parses Tesseract's TSV output into lines of words.
///
/// Columns: level, page, block, paragraph, line, word, left, top, width, height, conf, text.
/// Only level-5 rows (words) are kept; they are grouped by (block, paragraph, line).
pub fn parse_tsv(tsv: &str) -> Vec<OcrLine> {
    let mut lines: Vec<OcrLine> = Vec::new();
    let mut current_key: Option<(u32, u32, u32)> = None;
    let mut words: Vec<OcrWord> = Vec::new();
    for row in tsv.lines() {
        let cols: Vec<&str> = row.splitn(12, '\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let num = |i: usize| cols[i].trim().parse::<u32>().ok();
        let (Some(block), Some(par), Some(line)) = (num(2), num(3), num(4)) else {
            continue;
        };
        let (Some(x), Some(y), Some(w), Some(h)) = (num(6), num(7), num(8), num(9)) else {
            continue;
        };
        let conf = cols[10].trim().parse::<f32>().unwrap_or(-1.0);
        let text = cols[11].trim();
        if text.is_empty() || conf < 0.0 {
            continue;
        }
        let key = (block, par, line);
        if current_key != Some(key) && !words.is_empty() {
            lines.push(OcrLine::from_words(std::mem::take(&mut words)));
        }
        current_key = Some(key);
        words.push(OcrWord {
            text: text.to_string(),
            confidence: (conf / 100.0).clamp(0.0, 1.0),
            bbox: BBox { x, y, w, h },
        });
    }
    if !words.is_empty() {
        lines.push(OcrLine::from_words(words));
    }
    lines
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

/// Removes the spaces Tesseract puts between two CJK characters (`深 圳 市` → `深圳市`) and
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

    #[test]
    fn tsv_rows_group_into_lines_with_boxes_and_confidences() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t1400\t840\t-1\t\n\
                   4\t1\t1\t1\t1\t0\t100\t50\t200\t60\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t100\t50\t60\t60\t96.5\t张\n\
                   5\t1\t1\t1\t1\t2\t170\t52\t60\t58\t91.0\t伟\n\
                   5\t1\t2\t1\t1\t1\t100\t200\t300\t30\t80\tSales\n\
                   5\t1\t2\t1\t1\t2\t410\t200\t200\t30\t70\tManager\n\
                   5\t1\t2\t1\t2\t1\t100\t260\t300\t30\t-1\t \n";
        let lines = parse_tsv(tsv);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].text, "张伟");
        assert_eq!(
            lines[0].bbox,
            BBox {
                x: 100,
                y: 50,
                w: 130,
                h: 60
            }
        );
        assert!((lines[0].confidence - 0.9375).abs() < 1e-4);
        assert_eq!(lines[1].text, "Sales Manager");
        assert_eq!(lines[1].words.len(), 2);
    }

    #[test]
    fn missing_language_names_the_file_and_package() {
        let dir = std::env::temp_dir().join(format!("outpost-tessdata-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok();
        std::fs::write(dir.join("eng.traineddata"), b"x").ok();
        let err = check_languages(&dir, "chi_sim+eng").err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("chi_sim"), "{message}");
        assert!(message.contains("chi_sim.traineddata"), "{message}");
        assert!(message.contains("tesseract-ocr-chi-sim"), "{message}");
        std::fs::remove_dir_all(&dir).ok();
        let gone = check_languages(&dir, "eng")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(gone.contains("does not exist"), "{gone}");
        let bad = check_languages(&dir, "chi_sim+")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(bad.contains("chi_sim+"), "{bad}");
    }
}
