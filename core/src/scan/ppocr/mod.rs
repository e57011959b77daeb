//! PP-OCR (PaddleOCR's mobile models, as the PyPI package `rapidocr-onnxruntime` 1.4.4 ships
//! them) run by `rten`, a pure-Rust ONNX runtime: the same code builds for Android and iOS with
//! no system library (ADR 0018).
//!
//! Three models, loaded once by [`Models::load`] from a directory the caller names (apps ship
//! the files as assets; `scripts/fetch-models.sh` puts them in the per-user cache):
//!
//! - [`DET_FILE`]: DBNet text detection, a probability map of "text here" per pixel, turned into
//!   rotated line boxes by [`boxes`];
//! - [`CLS_FILE`]: the direction classifier, whether a line crop is upright or upside down;
//! - [`REC_FILE`]: CRNN line recognition with CTC over the 6,623 characters listed in the
//!   model's own ONNX metadata (`character`).
//!
//! Each file's sha256 is checked before it is parsed, so a truncated or different file is an
//! error naming it, not a silently worse reading.

pub mod boxes;
mod image_ops;
mod rec;

pub use boxes::TextBox;
pub use rec::{Recognized, RecognizedChar};

use image::RgbImage;
use rten::{Model, RunOptions, ThreadPool};
use rten_tensor::prelude::*;
use rten_tensor::NdTensor;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// The detection model's file name.
pub const DET_FILE: &str = "ch_PP-OCRv4_det_infer.onnx";
/// The recognition model's file name.
pub const REC_FILE: &str = "ch_PP-OCRv4_rec_infer.onnx";
/// The direction classifier's file name.
pub const CLS_FILE: &str = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
/// The sha256 of each model file, as `scripts/fetch-models.sh` checks them.
pub const MODEL_SHA256: [(&str, &str); 3] = [
    (
        DET_FILE,
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    ),
    (
        REC_FILE,
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
    ),
    (
        CLS_FILE,
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
];
/// The environment variable naming the model directory when the caller gives none.
pub const MODELS_ENV: &str = "OUTPOST_MODELS";
/// What to tell a user whose model files are missing or wrong.
pub const FETCH_HINT: &str = "run scripts/fetch-models.sh (it puts the three PP-OCR files of the PyPI package rapidocr-onnxruntime 1.4.4 into ~/.cache/outpost/models), or pass the directory an app ships them in";

/// Why the models could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The directory does not exist.
    #[error("model directory {dir} does not exist: {FETCH_HINT}")]
    DirMissing {
        /// The directory looked for.
        dir: PathBuf,
    },
    /// A model file is not in the directory.
    #[error("model file {file} is missing: {FETCH_HINT}")]
    FileMissing {
        /// The file looked for.
        file: PathBuf,
    },
    /// A model file is there but is not the expected one (truncated, another version).
    #[error("model file {file} has sha256 {found}, expected {expected}: it is damaged or another version; {FETCH_HINT}")]
    WrongFile {
        /// The file.
        file: PathBuf,
        /// Its sha256.
        found: String,
        /// The sha256 of the file this build reads with.
        expected: &'static str,
    },
    /// The file could not be read or parsed as an ONNX model.
    #[error("model file {file} cannot be loaded: {reason}")]
    Load {
        /// The file.
        file: PathBuf,
        /// What the reader or the runtime said.
        reason: String,
    },
    /// The recognition model has no character list in its metadata.
    #[error("model file {file} has no `character` list in its metadata: {FETCH_HINT}")]
    NoCharset {
        /// The file.
        file: PathBuf,
    },
    /// Running a model failed (an input shape it cannot take, ...).
    #[error("the {model} model failed: {reason}")]
    Run {
        /// `detection`, `direction` or `recognition`.
        model: &'static str,
        /// What the runtime said.
        reason: String,
    },
}

/// The per-user cache directory `scripts/fetch-models.sh` fills:
/// `$XDG_CACHE_HOME/outpost/models`, else `$HOME/.cache/outpost/models`.
pub fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".cache"))
        })?;
    Some(base.join("outpost").join("models"))
}

/// The model directory to use when the caller names none: `$OUTPOST_MODELS`, else
/// [`cache_dir`], else `./models`.
pub fn default_dir() -> PathBuf {
    std::env::var_os(MODELS_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(cache_dir)
        .unwrap_or_else(|| PathBuf::from("models"))
}

/// Reads one model file, checks its sha256 and parses it.
fn load_checked(dir: &Path, name: &str) -> Result<Model, ModelError> {
    let file = dir.join(name);
    if !file.is_file() {
        return Err(ModelError::FileMissing { file });
    }
    let bytes = std::fs::read(&file).map_err(|e| ModelError::Load {
        file: file.clone(),
        reason: e.to_string(),
    })?;
    let expected = MODEL_SHA256
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, s)| *s)
        .unwrap_or_default();
    let found = hex::encode(Sha256::digest(&bytes));
    if found != expected {
        return Err(ModelError::WrongFile {
            file,
            found,
            expected,
        });
    }
    Model::load(bytes).map_err(|e| ModelError::Load {
        file,
        reason: e.to_string(),
    })
}

/// The detector's output: the probability of text at each pixel of the map.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMap {
    /// Row-major probabilities, `width * height`.
    pub prob: Vec<f32>,
    /// Map width.
    pub width: usize,
    /// Map height.
    pub height: usize,
    /// Image pixels per map pixel, `(x, y)`.
    pub scale: (f32, f32),
}

/// The three PP-OCR models, loaded and checked, with the recognizer's character list.
pub struct Models {
    det: Model,
    cls: Model,
    rec: Model,
    /// Index 0 is the CTC blank; the last is the space.
    charset: Vec<char>,
    pool: Option<Arc<ThreadPool>>,
    dir: PathBuf,
    load_ms: f64,
}

impl std::fmt::Debug for Models {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Models")
            .field("dir", &self.dir)
            .field("characters", &self.charset.len())
            .finish()
    }
}

impl Models {
    /// Loads the three models from `dir`. `threads`: how many threads inference may use
    /// (0: one per physical core).
    pub fn load(dir: &Path, threads: usize) -> Result<Models, ModelError> {
        let started = Instant::now();
        if !dir.is_dir() {
            return Err(ModelError::DirMissing {
                dir: dir.to_path_buf(),
            });
        }
        let det = load_checked(dir, DET_FILE)?;
        let cls = load_checked(dir, CLS_FILE)?;
        let rec = load_checked(dir, REC_FILE)?;
        let list = rec
            .metadata()
            .get("character")
            .ok_or_else(|| ModelError::NoCharset {
                file: dir.join(REC_FILE),
            })?;
        let mut charset = vec!['\0'];
        charset.extend(list.lines().filter_map(|l| l.chars().next()));
        charset.push(' ');
        let pool = (threads > 0).then(|| Arc::new(ThreadPool::with_num_threads(threads)));
        Ok(Models {
            det,
            cls,
            rec,
            charset,
            pool,
            dir: dir.to_path_buf(),
            load_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    /// The directory the models were loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long loading took (reading, checking and parsing the three files), ms.
    pub fn load_ms(&self) -> f64 {
        self.load_ms
    }

    /// How many characters the recognizer knows (6,623 for PP-OCRv4, plus the space).
    pub fn characters(&self) -> usize {
        self.charset.len().saturating_sub(1)
    }

    fn options(&self) -> Option<RunOptions> {
        self.pool
            .as_ref()
            .map(|p| RunOptions::default().with_thread_pool(Some(p.clone())))
    }

    /// Text boxes in `img`, found at a scale whose long side is about `long_side` pixels
    /// (a multiple of 32). Boxes are in `img`'s pixels.
    pub fn detect(&self, img: &RgbImage, long_side: u32) -> Result<Vec<TextBox>, ModelError> {
        self.detect_with(img, long_side, &boxes::BoxParams::default())
    }

    /// [`Models::detect`] with other thresholds (lower ones find small, faint text as blocks:
    /// enough to tell where text is, as the outline check needs, not to read it).
    pub fn detect_with(
        &self,
        img: &RgbImage,
        long_side: u32,
        params: &boxes::BoxParams,
    ) -> Result<Vec<TextBox>, ModelError> {
        let Some(map) = self.text_map(img, long_side)? else {
            return Ok(Vec::new());
        };
        let found = boxes::boxes_from_map(&map.prob, map.width, map.height, params);
        let (sx, sy) = map.scale;
        Ok(found.into_iter().map(|b| b.scaled(sx, sy)).collect())
    }

    /// The detector's per-pixel text probability for `img` seen at about `long_side` pixels on
    /// its long side (a multiple of 32); `None` for an image under 8 pixels.
    pub fn text_map(&self, img: &RgbImage, long_side: u32) -> Result<Option<TextMap>, ModelError> {
        let (w, h) = img.dimensions();
        if w < 8 || h < 8 {
            return Ok(None);
        }
        let scale = long_side as f32 / w.max(h) as f32;
        let round32 = |v: f32| ((v / 32.0).round() as u32).max(1) * 32;
        let (dw, dh) = (round32(w as f32 * scale), round32(h as f32 * scale));
        let input = image_ops::det_input(img, dw, dh);
        let out = self
            .det
            .run_one(input.view().into(), self.options())
            .map_err(|e| run_error("detection", e))?;
        let map: NdTensor<f32, 4> = out.try_into().map_err(|e| run_error("detection", e))?;
        let [_, _, mh, mw] = map.shape();
        Ok(Some(TextMap {
            prob: map.into_data(),
            width: mw,
            height: mh,
            scale: (w as f32 / mw as f32, h as f32 / mh as f32),
        }))
    }

    /// For each line crop (upright height 48, any width), the probability that it is upside
    /// down.
    pub fn upside_down(&self, crops: &[RgbImage]) -> Result<Vec<f32>, ModelError> {
        let mut out = Vec::with_capacity(crops.len());
        for chunk in crops.chunks(8) {
            let input = image_ops::cls_input(chunk);
            let probs = self
                .cls
                .run_one(input.view().into(), self.options())
                .map_err(|e| run_error("direction", e))?;
            let probs: NdTensor<f32, 2> =
                probs.try_into().map_err(|e| run_error("direction", e))?;
            for i in 0..chunk.len() {
                out.push(probs[[i, 1]]);
            }
        }
        Ok(out)
    }

    /// Reads line crops (any size; each is scaled to height 48). The result keeps the order
    /// of `crops`. Lines are read in batches of six of similar width, each padded to the
    /// widest of its batch: on page-wide lines the model reads some endings better after a
    /// run of padding (`Co., Ltd.`, not `Co.,td.`).
    pub fn recognize(&self, crops: &[RgbImage]) -> Result<Vec<Recognized>, ModelError> {
        let mut order: Vec<usize> = (0..crops.len()).collect();
        let ratio = |i: usize| crops[i].width() as f32 / crops[i].height().max(1) as f32;
        order.sort_by(|&a, &b| ratio(a).total_cmp(&ratio(b)));
        let batches: Vec<Vec<usize>> = order.chunks(REC_BATCH).map(<[usize]>::to_vec).collect();
        self.recognize_batches(crops, &batches)
    }

    /// [`Models::recognize`] with no line padded: only lines of the same input width share a
    /// batch (`rec_batches`). For a card's short lines of mixed widths: a name no longer
    /// pays for the long address beside it (reading a card on one core: 616 -> 529 ms), and
    /// the model keeps spaces that padding made it drop (`TAKUYA SUZUKI`, `150 4632 5115`).
    pub fn recognize_unpadded(&self, crops: &[RgbImage]) -> Result<Vec<Recognized>, ModelError> {
        let widths: Vec<u32> = crops.iter().map(image_ops::rec_width).collect();
        self.recognize_batches(crops, &rec_batches(&widths))
    }

    fn recognize_batches(
        &self,
        crops: &[RgbImage],
        batches: &[Vec<usize>],
    ) -> Result<Vec<Recognized>, ModelError> {
        let mut out: Vec<Option<Recognized>> = vec![None; crops.len()];
        for batch in batches {
            let imgs: Vec<&RgbImage> = batch.iter().map(|&i| &crops[i]).collect();
            let (input, filled) = image_ops::rec_input(&imgs);
            let [_, _, _, width] = input.shape();
            let probs = self
                .rec
                .run_one(input.view().into(), self.options())
                .map_err(|e| run_error("recognition", e))?;
            let probs: NdTensor<f32, 3> =
                probs.try_into().map_err(|e| run_error("recognition", e))?;
            for (k, &i) in batch.iter().enumerate() {
                out[i] = Some(rec::decode(
                    &probs,
                    k,
                    &self.charset,
                    width as f32,
                    filled[k] as f32,
                ));
            }
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }
}

/// Most lines in one recognition batch.
const REC_BATCH: usize = 6;

/// Groups line indices for unpadded recognition, given each line's input width: at most
/// [`REC_BATCH`] lines of the same width (short lines all take the trained 320 px).
fn rec_batches(widths: &[u32]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..widths.len()).collect();
    order.sort_by_key(|&i| widths[i]);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for i in order {
        match batches.last_mut() {
            Some(b) if b.len() < REC_BATCH && widths[b[0]] == widths[i] => b.push(i),
            _ => batches.push(vec![i]),
        }
    }
    batches
}

fn run_error(model: &'static str, e: impl std::fmt::Display) -> ModelError {
    ModelError::Run {
        model,
        reason: e.to_string(),
    }
}

pub use image_ops::crop_box;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_lines_of_the_same_width_share_an_unpadded_batch() {
        // A card: three short labels, two phone lines, a long address.
        let widths = [320, 1500, 320, 700, 320, 704];
        assert_eq!(
            rec_batches(&widths),
            vec![vec![0, 2, 4], vec![3], vec![5], vec![1]]
        );
        let page = [1600; 8];
        let batches = rec_batches(&page);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [6, 2]);
        assert!(rec_batches(&[]).is_empty());
    }
}
