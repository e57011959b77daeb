//! The scan benchmark: rendered cards and contracts of every hard case of issue 18
//! ([`crate::scan_cases`]: brush and black names, red names, two-tone and dark cards, bands and
//! rules, vertical cards, phones on one line, fax lines, Japanese and Vietnamese cards, party
//! pairs and tables, sideways and upside-down photos on wood, printed paper and panels),
//! photographed (tilt, rotation, shadows, blur, noise, JPEG), then scanned end to end,
//! single-threaded.
//!
//! Reported for cards and contracts separately: per-field accuracy, corner IoU mean and min,
//! the ROC AUC of `corner_confidence` (right crop = IoU ≥ 0.9), the confidence of right and
//! wrong fields (means and AUC), whether the result came out upright, and the whole scan's
//! median time. Baselines in the same run, on the same raw photos, one thread each: the same
//! PP-OCR models run by our own OCR on the raw photo, RapidOCR (Python, onnxruntime) and raw
//! Tesseract ([`crate::bench_scan_baselines`]), each with the share of true values found in
//! its text and the ratio of our median time to its.

use crate::bench_scan_baselines::{self, BaselineRead};
use crate::bench_scan_image;
use crate::scan_accuracy::{field_accuracy, normalize_value, Accuracy, Compared, FieldMatch};
use crate::scan_cases::{card_sample, contract_sample, CaseSample, CaseTruth};
use crate::scan_photo::synth_photo;
use crate::scan_render::{CardTruth, ContractTruth, Fonts};
use crate::scan_stats::{mean, median, min, roc_auc};
use outpost_core::scan::extract::Fields;
use outpost_core::scan::ocr::{OcrOptions, PageLayout};
use outpost_core::scan::pipeline::Scanner;
use outpost_core::scan::{quad_iou, DocKind, Point};
use outpost_core::Region;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A crop is right when its IoU with the true outline is at least this.
pub const RIGHT_CROP_IOU: f64 = 0.9;

/// What to run.
#[derive(Debug, Clone)]
pub struct ScanBenchConfig {
    /// Card photos (the cases cycle; 14 cover each card case once).
    pub cards: usize,
    /// Contract photos (3 cover each contract case once).
    pub contracts: usize,
    /// Photos of the enhance timing (12 MP).
    pub enhance_photos: usize,
    /// Seed of the corpus.
    pub seed: u64,
    /// Print progress on stderr.
    pub progress: bool,
    /// Run RapidOCR and Tesseract on the same photos.
    pub baselines: bool,
    /// The virtualenv holding RapidOCR (see [`bench_scan_baselines::default_venv`]).
    pub venv: PathBuf,
}

/// One group of photos (a kind, or one case of a kind).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GroupReport {
    /// Photos.
    pub photos: usize,
    /// Exact fields / fields scored.
    pub field_accuracy: f64,
    /// Mean corner IoU.
    pub corner_iou_mean: f64,
    /// Worst corner IoU.
    pub corner_iou_min: f64,
    /// Share of photos whose result came out upright (corner 0 at the document's top-left; a
    /// crop with IoU ≤ 0.5 counts as not upright).
    pub upright: f64,
}

/// Field accuracy, crops and times of one document kind, ours and the baselines'.
#[derive(Debug, Clone, Serialize)]
pub struct KindAccuracy {
    /// Photos.
    pub photos: usize,
    /// Exact matches after normalization / fields scored, over all fields.
    pub field_accuracy: f64,
    /// Per field.
    pub per_field: BTreeMap<String, f64>,
    /// Mean IoU of the detected vs the true outline.
    pub corner_iou_mean: f64,
    /// Worst IoU.
    pub corner_iou_min: f64,
    /// Photos with IoU ≥ 0.9.
    pub right_crops: usize,
    /// Photos where a document was reported found.
    pub document_found: usize,
    /// ROC AUC of `corner_confidence` for right (IoU ≥ 0.9) vs wrong crops; null when one of
    /// the two groups is empty (see `corner_confidence_auc_error`).
    pub corner_confidence_auc: Option<f64>,
    /// Why `corner_confidence_auc` is null.
    pub corner_confidence_auc_error: Option<String>,
    /// Mean `corner_confidence` of right crops.
    pub corner_confidence_right_mean: Option<f64>,
    /// Mean `corner_confidence` of wrong crops.
    pub corner_confidence_wrong_mean: Option<f64>,
    /// Mean confidence of extracted values that are right.
    pub field_confidence_right_mean: Option<f64>,
    /// Mean confidence of extracted values that are wrong.
    pub field_confidence_wrong_mean: Option<f64>,
    /// ROC AUC of field confidence, right vs wrong extracted values.
    pub field_confidence_auc: Option<f64>,
    /// Why `field_confidence_auc` is null.
    pub field_confidence_auc_error: Option<String>,
    /// Share of photos whose result came out upright.
    pub upright: f64,
    /// Baseline: the share of the true field values found anywhere in the text PP-OCR reads
    /// from the raw photo.
    pub raw_ppocr_found: f64,
    /// Median whole-scan time (decode to extract), ms.
    pub scan_ms_p50: f64,
    /// Median OCR time inside the scan, ms.
    pub ocr_ms_p50: f64,
    /// Baseline: median time of PP-OCR on the raw photo, ms.
    pub raw_ppocr_ms_p50: f64,
    /// `scan_ms_p50 / raw_ppocr_ms_p50`.
    pub scan_vs_raw_ppocr: f64,
    /// RapidOCR on the raw photo, median ms (null when it could not run: `rapidocr_error`).
    pub rapidocr_ms_p50: Option<f64>,
    /// Share of the true values found in RapidOCR's text.
    pub rapidocr_found: Option<f64>,
    /// `scan_ms_p50 / rapidocr_ms_p50` (target ≤ 0.5).
    pub scan_vs_rapidocr: Option<f64>,
    /// Raw Tesseract on the raw photo, median ms per process.
    pub tesseract_ms_p50: Option<f64>,
    /// Share of the true values found in Tesseract's text.
    pub tesseract_found: Option<f64>,
    /// `scan_ms_p50 / tesseract_ms_p50` (target ≤ 1.0).
    pub scan_vs_tesseract: Option<f64>,
    /// Per case (`brush_name`, `fax`, `table`, ...).
    pub per_case: BTreeMap<String, GroupReport>,
}

/// A field that was not read exactly.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    /// Photo number and case, e.g. `12 card/fax`.
    pub photo: String,
    /// The field.
    pub field: &'static str,
    /// The truth.
    pub expected: String,
    /// What was extracted.
    pub got: Option<String>,
}

/// The benchmark's numbers.
#[derive(Debug, Clone, Serialize)]
pub struct ScanBenchReport {
    /// Photos whose corners were scored.
    pub photos: usize,
    /// Mean IoU of the detected vs true document quadrilateral.
    pub corner_iou_mean: f64,
    /// Worst IoU.
    pub corner_iou_min: f64,
    /// `corner_confidence` ROC AUC over all photos (target ≥ 0.9).
    pub corner_confidence_auc: Option<f64>,
    /// Why `corner_confidence_auc` is null.
    pub corner_confidence_auc_error: Option<String>,
    /// Field confidence ROC AUC, right vs wrong values, over all photos.
    pub field_confidence_auc: Option<f64>,
    /// Why `field_confidence_auc` is null.
    pub field_confidence_auc_error: Option<String>,
    /// Field accuracy over cards and contracts together.
    pub field_accuracy: f64,
    /// Cards.
    pub cards: KindAccuracy,
    /// Contracts.
    pub contracts: KindAccuracy,
    /// Median whole-scan time over all photos, ms.
    pub scan_ms_p50: f64,
    /// RapidOCR median over all photos, ms.
    pub rapidocr_ms_p50: Option<f64>,
    /// `scan_ms_p50 / rapidocr_ms_p50`.
    pub scan_vs_rapidocr: Option<f64>,
    /// Why RapidOCR was not measured.
    pub rapidocr_error: Option<String>,
    /// `rapidocr-onnxruntime` and `onnxruntime` versions, and the threads onnxruntime reports.
    pub rapidocr_version: Option<String>,
    /// RapidOCR's model load time, ms.
    pub rapidocr_load_ms: Option<f64>,
    /// Tesseract median over all photos, ms.
    pub tesseract_ms_p50: Option<f64>,
    /// `scan_ms_p50 / tesseract_ms_p50`.
    pub scan_vs_tesseract: Option<f64>,
    /// Why Tesseract was not measured.
    pub tesseract_error: Option<String>,
    /// `tesseract --version`.
    pub tesseract_version: Option<String>,
    /// One Tesseract process on a blank 64 x 64 image (start-up and language data), ms.
    pub tesseract_startup_ms: Option<f64>,
    /// Median warp + flatten + sharpen time on 12 MP photos, ms.
    pub enhance_ms_p50: f64,
    /// Median OCR time over all scans, ms.
    pub ocr_ms_p50: f64,
    /// Loading and checking the three PP-OCR models, ms.
    pub model_load_ms: f64,
    /// Peak resident memory of one 12 MP scan in a fresh process, MB.
    pub peak_rss_mb: f64,
    /// The decoded 12 MP frame, MB (the memory target is 3x this plus the models).
    pub frame_mb: f64,
    /// Peak scan memory over the decoded frame.
    pub peak_over_frame: f64,
    /// The three model files' size, MB.
    pub models_mb: f64,
    /// `peak_rss_mb / (3 * frame_mb + models_mb)`: at most 1.0 meets the target.
    pub peak_over_target: f64,
    /// The fields not read exactly (the first 80).
    pub misses: Vec<Miss>,
    /// The crops with IoU below 0.9, with the confidence they were given.
    pub wrong_crops: Vec<WrongCrop>,
}

/// A crop that missed the document.
#[derive(Debug, Clone, Serialize)]
pub struct WrongCrop {
    /// Photo number and case, e.g. `6 card/bands`.
    pub photo: String,
    /// IoU with the true outline.
    pub iou: f64,
    /// The `corner_confidence` the scanner gave it.
    pub corner_confidence: f64,
    /// Whether the scanner said it found a document.
    pub document_found: bool,
}

/// A true value searched for in a raw OCR text.
#[derive(Debug, Clone)]
enum Value {
    Text(String),
    /// E.164: searched as its national digits in the text's digits.
    Phone(String),
}

fn national_digits(e164: &str) -> String {
    let digits = e164.trim_start_matches('+');
    let rest = ["86", "81", "84"]
        .iter()
        .find_map(|cc| digits.strip_prefix(cc))
        .unwrap_or(digits);
    rest.to_string()
}

/// Finds `value` in a raw text: normalized text for text, digits for phones.
fn found(text: &str, digits: &str, value: &Value) -> bool {
    match value {
        Value::Text(v) => {
            let v = normalize_value(v);
            !v.is_empty() && text.contains(&v)
        }
        Value::Phone(p) => {
            let n = national_digits(p);
            !n.is_empty() && digits.contains(&n)
        }
    }
}

/// The true field values a raw OCR text is searched for.
fn card_values(t: &CardTruth) -> Vec<Value> {
    let mut v = vec![Value::Text(t.name.clone()), Value::Text(t.company.clone())];
    v.extend(t.title.clone().map(Value::Text));
    v.extend(t.address.clone().map(Value::Text));
    v.extend(t.website.clone().map(Value::Text));
    v.extend(t.emails.iter().cloned().map(Value::Text));
    v.extend(t.phones.iter().cloned().map(Value::Phone));
    v
}

fn contract_values(t: &ContractTruth) -> Vec<Value> {
    vec![
        Value::Text(t.contract_number.clone()),
        Value::Text(t.party_a.clone()),
        Value::Text(t.party_b.clone()),
        Value::Text(t.amount_upper.clone()),
    ]
}

fn values(s: &CaseSample) -> Vec<Value> {
    match &s.truth {
        CaseTruth::Card(t, _) => card_values(t),
        CaseTruth::Contract(t, _) => contract_values(t),
    }
}

/// The share of `values` found in `text`.
fn found_count(text: &str, values: &[Value]) -> usize {
    let norm = normalize_value(text);
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    values.iter().filter(|v| found(&norm, &digits, v)).count()
}

/// What one photo gave.
struct Measured {
    label: String,
    case: String,
    is_card: bool,
    iou: f64,
    corner_confidence: f64,
    found_document: bool,
    upright: bool,
    scan_ms: f64,
    ocr_ms: f64,
    raw_ms: f64,
    values: usize,
    raw_found: usize,
    matches: Vec<FieldMatch>,
}

fn share(found: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        found as f64 / of as f64
    }
}

fn per_field(a: &Accuracy) -> BTreeMap<String, f64> {
    a.per_field
        .iter()
        .map(|(k, (m, n))| (k.to_string(), share(*m, *n)))
        .collect()
}

/// Whether `got[0]` (the result's upright top-left) lies nearest the true top-left.
fn is_upright(got: &[Point; 4], truth: &[Point; 4]) -> bool {
    let d = |a: Point, b: Point| (a[0] - b[0]).hypot(a[1] - b[1]);
    (1..4).all(|k| d(got[0], truth[0]) < d(got[0], truth[k]))
}

fn auc_with_reason(right: &[f64], wrong: &[f64], what: &str) -> (Option<f64>, Option<String>) {
    match roc_auc(right, wrong) {
        Some(a) => (Some(a), None),
        None => (
            None,
            Some(format!(
                "undefined: {} right and {} wrong {what}",
                right.len(),
                wrong.len()
            )),
        ),
    }
}

fn group(ms: &[&Measured]) -> GroupReport {
    let mut acc = Accuracy::default();
    for m in ms {
        acc.add(&m.matches);
    }
    let ious: Vec<f64> = ms.iter().map(|m| m.iou).collect();
    GroupReport {
        photos: ms.len(),
        field_accuracy: acc.overall(),
        corner_iou_mean: mean(&ious).unwrap_or(0.0),
        corner_iou_min: min(&ious).unwrap_or(0.0),
        upright: share(ms.iter().filter(|m| m.upright).count(), ms.len()),
    }
}

/// Baseline reads, by photo index.
struct Baselines {
    rapidocr: Result<bench_scan_baselines::RapidOcrRun, String>,
    tesseract: Result<bench_scan_baselines::TesseractRun, String>,
}

fn baseline_stats(
    reads: Result<&[BaselineRead], &String>,
    idx: &[usize],
    samples: &[CaseSample],
    scan_ms_p50: f64,
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let Ok(reads) = reads else {
        return (None, None, None);
    };
    let ms: Vec<f64> = idx.iter().map(|&i| reads[i].ms).collect();
    let (mut n, mut f) = (0, 0);
    for &i in idx {
        let v = values(&samples[i]);
        n += v.len();
        f += found_count(&reads[i].text, &v);
    }
    let p50 = median(&ms);
    (
        p50,
        (!idx.is_empty()).then(|| share(f, n)),
        p50.map(|b| scan_ms_p50 / b.max(1e-9)),
    )
}

fn kind_report(
    measured: &[Measured],
    is_card: bool,
    samples: &[CaseSample],
    baselines: &Baselines,
) -> KindAccuracy {
    let idx: Vec<usize> = (0..measured.len())
        .filter(|&i| measured[i].is_card == is_card)
        .collect();
    let ms: Vec<&Measured> = idx.iter().map(|&i| &measured[i]).collect();
    let mut acc = Accuracy::default();
    for m in &ms {
        acc.add(&m.matches);
    }
    let ious: Vec<f64> = ms.iter().map(|m| m.iou).collect();
    let (right, wrong): (Vec<&&Measured>, Vec<&&Measured>) =
        ms.iter().partition(|m| m.iou >= RIGHT_CROP_IOU);
    let conf = |v: &[&&Measured]| v.iter().map(|m| m.corner_confidence).collect::<Vec<_>>();
    let (right_conf, wrong_conf) = (conf(&right), conf(&wrong));
    let (corner_auc, corner_err) = auc_with_reason(&right_conf, &wrong_conf, "crops");
    let (fr, fw) = field_confidences(ms.iter().copied());
    let (field_auc, field_err) = auc_with_reason(&fr, &fw, "extracted values");
    let times = |f: fn(&Measured) -> f64| median(&ms.iter().map(|m| f(m)).collect::<Vec<_>>());
    let scan = times(|m| m.scan_ms).unwrap_or(0.0);
    let raw = times(|m| m.raw_ms).unwrap_or(0.0);
    let (values_n, raw_found) = ms
        .iter()
        .fold((0, 0), |(n, f), m| (n + m.values, f + m.raw_found));
    let (rapid_ms, rapid_found, vs_rapid) = baseline_stats(
        baselines.rapidocr.as_ref().map(|r| r.images.as_slice()),
        &idx,
        samples,
        scan,
    );
    let (tess_ms, tess_found, vs_tess) = baseline_stats(
        baselines.tesseract.as_ref().map(|r| r.images.as_slice()),
        &idx,
        samples,
        scan,
    );
    let mut cases: BTreeMap<String, Vec<&Measured>> = BTreeMap::new();
    for m in &ms {
        cases.entry(m.case.clone()).or_default().push(m);
    }
    KindAccuracy {
        photos: ms.len(),
        field_accuracy: acc.overall(),
        per_field: per_field(&acc),
        corner_iou_mean: mean(&ious).unwrap_or(0.0),
        corner_iou_min: min(&ious).unwrap_or(0.0),
        right_crops: right.len(),
        document_found: ms.iter().filter(|m| m.found_document).count(),
        corner_confidence_auc: corner_auc,
        corner_confidence_auc_error: corner_err,
        corner_confidence_right_mean: mean(&right_conf),
        corner_confidence_wrong_mean: mean(&wrong_conf),
        field_confidence_right_mean: mean(&fr),
        field_confidence_wrong_mean: mean(&fw),
        field_confidence_auc: field_auc,
        field_confidence_auc_error: field_err,
        upright: share(ms.iter().filter(|m| m.upright).count(), ms.len()),
        raw_ppocr_found: share(raw_found, values_n),
        scan_ms_p50: scan,
        ocr_ms_p50: times(|m| m.ocr_ms).unwrap_or(0.0),
        raw_ppocr_ms_p50: raw,
        scan_vs_raw_ppocr: scan / raw.max(1e-9),
        rapidocr_ms_p50: rapid_ms,
        rapidocr_found: rapid_found,
        scan_vs_rapidocr: vs_rapid,
        tesseract_ms_p50: tess_ms,
        tesseract_found: tess_found,
        scan_vs_tesseract: vs_tess,
        per_case: cases.into_iter().map(|(k, v)| (k, group(&v))).collect(),
    }
}

/// Confidences of right and of wrong extracted values.
fn field_confidences<'a>(ms: impl Iterator<Item = &'a Measured>) -> (Vec<f64>, Vec<f64>) {
    let (mut right, mut wrong) = (Vec::new(), Vec::new());
    for m in ms {
        for v in m.matches.iter().flat_map(|f| &f.confidences) {
            if v.right {
                right.push(f64::from(v.confidence));
            } else {
                wrong.push(f64::from(v.confidence));
            }
        }
    }
    (right, wrong)
}

fn say(on: bool, msg: std::fmt::Arguments<'_>) {
    if on {
        eprintln!("{msg}");
    }
}

/// The scanner every scan measurement uses: the default models, one thread (as the baselines
/// get), the default region.
pub fn one_thread_scanner() -> outpost_core::Result<Scanner> {
    Scanner::with_options(
        &OcrOptions {
            models: None,
            threads: 1,
        },
        Region::default(),
    )
}

/// Runs the benchmark. `exe` is a binary that answers [`bench_scan_image::peak_rss`]'s child
/// call (the bench binary itself); `work` a directory for the 12 MP photo.
pub fn run(
    config: &ScanBenchConfig,
    exe: &Path,
    work: &Path,
) -> Result<ScanBenchReport, Box<dyn std::error::Error>> {
    let fonts = Fonts::system()?;
    let mut samples = Vec::new();
    for i in 0..config.cards {
        samples.push(card_sample(&fonts, config.seed, i));
    }
    for i in 0..config.contracts {
        samples.push(contract_sample(&fonts, config.seed, i));
    }
    say(
        config.progress,
        format_args!("rendered {} photos", samples.len()),
    );
    let scanner = one_thread_scanner()?;
    let raw = scanner.ocr();
    let mut measured = Vec::new();
    for (n, s) in samples.iter().enumerate() {
        let is_card = matches!(s.truth, CaseTruth::Card(..));
        let kind = if is_card {
            DocKind::Card
        } else {
            DocKind::Contract
        };
        let truth_corners = s.photo.photo.corners;
        let started = Instant::now();
        let result = scanner.scan(&s.photo.photo.jpeg, kind)?;
        let scan_ms = started.elapsed().as_secs_f64() * 1000.0;
        let iou = f64::from(quad_iou(&result.corners, &truth_corners));
        let matches = match (&s.truth, &result.fields) {
            (CaseTruth::Card(t, _), Fields::Card(f)) => field_accuracy(Compared::Card(t, f)),
            (CaseTruth::Contract(t, _), Fields::Contract(f)) => {
                field_accuracy(Compared::Contract(t, f))
            }
            _ => Vec::new(),
        };
        // Baseline: the same models on the raw photo, as the camera took it.
        let rgb = image::load_from_memory(&s.photo.photo.jpeg)?.to_rgb8();
        let started = Instant::now();
        let layout = if is_card {
            PageLayout::Card
        } else {
            PageLayout::Page
        };
        let page = raw.read(rgb, layout)?.page;
        let raw_ms = started.elapsed().as_secs_f64() * 1000.0;
        let v = values(s);
        let label = s.label();
        say(
            config.progress,
            format_args!(
                "scan {}/{}: {label} turn {} iou {iou:.3} conf {:.2} rotation {} fields {}/{} scan {scan_ms:.0} ms, raw PP-OCR {raw_ms:.0} ms",
                n + 1,
                samples.len(),
                s.photo.case.turn,
                result.corner_confidence,
                result.rotation,
                matches.iter().filter(|m| m.matched).count(),
                matches.len(),
            ),
        );
        measured.push(Measured {
            case: label.split('/').nth(1).unwrap_or_default().to_string(),
            label,
            is_card,
            iou,
            corner_confidence: f64::from(result.corner_confidence),
            found_document: result.document_found,
            upright: iou > 0.5 && is_upright(&result.corners, &truth_corners),
            scan_ms,
            ocr_ms: result.timings_ms.ocr,
            raw_ms,
            raw_found: found_count(&page.text(), &v),
            values: v.len(),
            matches,
        });
    }

    let baselines = run_baselines(config, &samples)?;
    let cards = kind_report(&measured, true, &samples, &baselines);
    let contracts = kind_report(&measured, false, &samples, &baselines);

    let mut overall = Accuracy::default();
    for m in &measured {
        overall.add(&m.matches);
    }
    let ious: Vec<f64> = measured.iter().map(|m| m.iou).collect();
    let (right, wrong): (Vec<&Measured>, Vec<&Measured>) =
        measured.iter().partition(|m| m.iou >= RIGHT_CROP_IOU);
    let (corner_auc, corner_err) = auc_with_reason(
        &right
            .iter()
            .map(|m| m.corner_confidence)
            .collect::<Vec<_>>(),
        &wrong
            .iter()
            .map(|m| m.corner_confidence)
            .collect::<Vec<_>>(),
        "crops",
    );
    let (fr, fw) = field_confidences(measured.iter());
    let (field_auc, field_err) = auc_with_reason(&fr, &fw, "extracted values");
    let all: Vec<usize> = (0..measured.len()).collect();
    let scan_ms_p50 =
        median(&measured.iter().map(|m| m.scan_ms).collect::<Vec<_>>()).unwrap_or(0.0);
    let (rapid_ms, _, vs_rapid) = baseline_stats(
        baselines.rapidocr.as_ref().map(|r| r.images.as_slice()),
        &all,
        &samples,
        scan_ms_p50,
    );
    let (tess_ms, _, vs_tess) = baseline_stats(
        baselines.tesseract.as_ref().map(|r| r.images.as_slice()),
        &all,
        &samples,
        scan_ms_p50,
    );
    let misses: Vec<Miss> = measured
        .iter()
        .enumerate()
        .flat_map(|(n, m)| {
            m.matches.iter().filter(|f| !f.matched).map(move |f| Miss {
                photo: format!("{n} {}", m.label),
                field: f.field,
                expected: f.expected.clone(),
                got: f.got.clone(),
            })
        })
        .take(80)
        .collect();
    let wrong_crops: Vec<WrongCrop> = measured
        .iter()
        .enumerate()
        .filter(|(_, m)| m.iou < RIGHT_CROP_IOU)
        .map(|(n, m)| WrongCrop {
            photo: format!("{n} {}", m.label),
            iou: m.iou,
            corner_confidence: m.corner_confidence,
            document_found: m.found_document,
        })
        .collect();

    say(
        config.progress,
        format_args!("timing enhancement and memory"),
    );
    let enhance = bench_scan_image::enhance_timing(config.enhance_photos, 4000, 3000, config.seed);
    let twelve = synth_photo(&bench_scan_image_doc(config.seed), config.seed, 4000, 3000);
    std::fs::create_dir_all(work)?;
    let jpeg = work.join("scan-bench-12mp.jpg");
    std::fs::write(&jpeg, &twelve.jpeg)?;
    let rss = bench_scan_image::peak_rss(exe, &jpeg)?;
    let models_mb = models_mb(scanner.ocr().models_dir());
    let mut all_ocr: Vec<f64> = measured.iter().map(|m| m.ocr_ms).collect();
    Ok(ScanBenchReport {
        photos: measured.len(),
        corner_iou_mean: mean(&ious).unwrap_or(0.0),
        corner_iou_min: min(&ious).unwrap_or(0.0),
        corner_confidence_auc: corner_auc,
        corner_confidence_auc_error: corner_err,
        field_confidence_auc: field_auc,
        field_confidence_auc_error: field_err,
        field_accuracy: overall.overall(),
        cards,
        contracts,
        scan_ms_p50,
        rapidocr_ms_p50: rapid_ms,
        scan_vs_rapidocr: vs_rapid,
        rapidocr_error: baselines.rapidocr.as_ref().err().cloned(),
        rapidocr_version: baselines.rapidocr.as_ref().ok().map(|r| {
            format!(
                "rapidocr-onnxruntime {} on onnxruntime {}, intra_op_num_threads {}",
                r.rapidocr_version,
                r.onnxruntime_version,
                r.intra_op_num_threads
                    .map_or("unknown".to_string(), |t| t.to_string())
            )
        }),
        rapidocr_load_ms: baselines.rapidocr.as_ref().ok().map(|r| r.load_ms),
        tesseract_ms_p50: tess_ms,
        scan_vs_tesseract: vs_tess,
        tesseract_error: baselines.tesseract.as_ref().err().cloned(),
        tesseract_version: baselines.tesseract.as_ref().ok().map(|t| t.version.clone()),
        tesseract_startup_ms: baselines.tesseract.as_ref().ok().map(|t| t.startup_ms),
        enhance_ms_p50: enhance.enhance_ms_p50,
        model_load_ms: scanner.ocr().load_ms(),
        ocr_ms_p50: bench_scan_image::median(&mut all_ocr),
        peak_rss_mb: rss.peak_rss_mb,
        frame_mb: rss.frame_mb,
        peak_over_frame: rss.total_over_frame,
        models_mb,
        peak_over_target: rss.peak_rss_mb / (3.0 * rss.frame_mb + models_mb).max(1e-9),
        misses,
        wrong_crops,
    })
}

/// The size of the three model files in `dir`, MB.
fn models_mb(dir: &Path) -> f64 {
    use outpost_core::scan::ppocr::{CLS_FILE, DET_FILE, REC_FILE};
    [DET_FILE, REC_FILE, CLS_FILE]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len() as f64 / 1_048_576.0)
        .sum()
}

/// Writes the photos to a temporary directory and runs RapidOCR and Tesseract on them.
fn run_baselines(
    config: &ScanBenchConfig,
    samples: &[CaseSample],
) -> Result<Baselines, Box<dyn std::error::Error>> {
    if !config.baselines {
        let off = "not run (--no-baselines)".to_string();
        return Ok(Baselines {
            rapidocr: Err(off.clone()),
            tesseract: Err(off),
        });
    }
    let dir = tempfile::tempdir()?;
    let mut paths = Vec::new();
    for (n, s) in samples.iter().enumerate() {
        let p = dir.path().join(format!("photo-{n:03}.jpg"));
        std::fs::write(&p, &s.photo.photo.jpeg)?;
        paths.push(p);
    }
    say(
        config.progress,
        format_args!("RapidOCR on {} photos, one thread", paths.len()),
    );
    let rapidocr =
        bench_scan_baselines::rapidocr(&config.venv, &paths, dir.path()).map_err(|e| e.to_string());
    if let Err(e) = &rapidocr {
        say(config.progress, format_args!("RapidOCR: {e}"));
    }
    say(
        config.progress,
        format_args!("Tesseract on {} photos, one thread", paths.len()),
    );
    let tesseract = bench_scan_baselines::tesseract(&paths, dir.path()).map_err(|e| e.to_string());
    if let Err(e) = &tesseract {
        say(config.progress, format_args!("Tesseract: {e}"));
    }
    Ok(Baselines {
        rapidocr,
        tesseract,
    })
}

fn bench_scan_image_doc(seed: u64) -> image::RgbImage {
    crate::scan_photo::synth_document(DocKind::Contract, seed)
}
