//! The scan benchmark: rendered cards and contracts photographed (tilt, rotation, shadows,
//! blur, noise, JPEG, busy backgrounds), then scanned end to end, single-threaded, against the
//! baseline of the same PP-OCR models run on the raw, unprocessed photo (its text searched for
//! the same field values, and its time), measured in the same run.

use crate::bench_scan_image::{self, median};
use crate::scan_accuracy::{field_accuracy, normalize_value, Accuracy, Compared};
use crate::scan_photo::{synth_photo, SyntheticPhoto};
use crate::scan_render::{render_card, render_contract, CardTruth, ContractTruth, Fonts};
use outpost_core::scan::ocr::{OcrOptions, PageLayout};
use outpost_core::scan::pipeline::Scanner;
use outpost_core::scan::{quad_iou, DocKind};
use outpost_core::Region;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct ScanBenchConfig {
    /// Card photos.
    pub cards: usize,
    /// Contract photos.
    pub contracts: usize,
    /// Photos of the enhance timing (12 MP).
    pub enhance_photos: usize,
    /// Seed of the corpus.
    pub seed: u64,
    /// Print progress on stderr.
    pub progress: bool,
}

/// Field accuracy of one document kind, ours and the baseline's.
#[derive(Debug, Clone, Serialize)]
pub struct KindAccuracy {
    /// Exact matches after normalization / fields scored, over all fields.
    pub field_accuracy: f64,
    /// Per field.
    pub per_field: BTreeMap<String, f64>,
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
    /// Field accuracy over cards and contracts together.
    pub field_accuracy: f64,
    /// Cards.
    pub cards: KindAccuracy,
    /// Contracts.
    pub contracts: KindAccuracy,
    /// Median warp + flatten + sharpen time on 12 MP photos, ms.
    pub enhance_ms_p50: f64,
    /// Median OCR time over all scans, ms.
    pub ocr_ms_p50: f64,
    /// Loading and checking the three PP-OCR models, ms.
    pub model_load_ms: f64,
    /// Peak resident memory of one 12 MP scan in a fresh process, MB.
    pub peak_rss_mb: f64,
    /// The decoded 12 MP frame, MB (the memory target is 3x this).
    pub frame_mb: f64,
    /// Peak scan memory over the decoded frame.
    pub peak_over_frame: f64,
}

fn contains_value(haystack: &str, value: &str) -> bool {
    let v = normalize_value(value);
    !v.is_empty() && haystack.contains(&v)
}

/// The true field values a raw OCR text is searched for.
fn card_values(t: &CardTruth) -> Vec<String> {
    let mut v = vec![t.name.clone(), t.company.clone()];
    v.extend(t.title.clone());
    v.extend(t.address.clone());
    v.extend(t.website.clone());
    v.extend(t.emails.iter().cloned());
    // Phones as printed digits (raw text has no E.164).
    v.extend(
        t.phones
            .iter()
            .map(|p| p.trim_start_matches("+86").to_string()),
    );
    v
}

fn contract_values(t: &ContractTruth) -> Vec<String> {
    vec![
        t.contract_number.clone(),
        t.party_a.clone(),
        t.party_b.clone(),
        t.amount_upper.clone(),
    ]
}

struct Sample {
    photo: SyntheticPhoto,
    values: Vec<String>,
    truth: Truth,
}

enum Truth {
    Card(CardTruth),
    Contract(ContractTruth),
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
        let r = render_card(&fonts, config.seed, i);
        let photo = synth_photo(&r.image, config.seed + i as u64, 3000, 2250);
        samples.push(Sample {
            values: card_values(&r.truth),
            truth: Truth::Card(r.truth),
            photo,
        });
    }
    for i in 0..config.contracts {
        let r = render_contract(&fonts, config.seed, i);
        let photo = synth_photo(&r.image, config.seed + 1000 + i as u64, 3000, 4000);
        samples.push(Sample {
            values: contract_values(&r.truth),
            truth: Truth::Contract(r.truth),
            photo,
        });
    }
    let scanner = Scanner::with_options(
        &OcrOptions {
            models: None,
            threads: 1,
        },
        Region::default(),
    )?;
    let raw = scanner.ocr();
    let mut ious = Vec::new();
    let (mut card_acc, mut contract_acc) = (Accuracy::default(), Accuracy::default());
    let mut times: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let (mut card_found, mut card_values_n, mut contract_found, mut contract_values_n) =
        (0, 0, 0, 0);
    for (n, s) in samples.iter().enumerate() {
        let is_card = matches!(s.truth, Truth::Card(_));
        let kind = if is_card {
            DocKind::Card
        } else {
            DocKind::Contract
        };
        let started = Instant::now();
        let result = scanner.scan(&s.photo.jpeg, kind)?;
        let scan_ms = started.elapsed().as_secs_f64() * 1000.0;
        ious.push(f64::from(quad_iou(&result.corners, &s.photo.corners)));
        let label = if is_card { "card" } else { "contract" };
        times.entry(label).or_default().push(scan_ms);
        times
            .entry(if is_card { "card_ocr" } else { "contract_ocr" })
            .or_default()
            .push(result.timings_ms.ocr);
        match (&s.truth, &result.fields) {
            (Truth::Card(t), outpost_core::scan::extract::Fields::Card(f)) => {
                card_acc.add(&field_accuracy(Compared::Card(t, f)))
            }
            (Truth::Contract(t), outpost_core::scan::extract::Fields::Contract(f)) => {
                contract_acc.add(&field_accuracy(Compared::Contract(t, f)))
            }
            _ => {}
        }
        // Baseline: the same models on the raw photo, as the camera took it.
        let rgb = image::load_from_memory(&s.photo.jpeg)?.to_rgb8();
        let started = Instant::now();
        let page = raw
            .read(
                rgb,
                if is_card {
                    PageLayout::Card
                } else {
                    PageLayout::Page
                },
            )?
            .page;
        let raw_ms = started.elapsed().as_secs_f64() * 1000.0;
        times
            .entry(if is_card { "card_raw" } else { "contract_raw" })
            .or_default()
            .push(raw_ms);
        let text = normalize_value(&page.text());
        let found = s.values.iter().filter(|v| contains_value(&text, v)).count();
        if is_card {
            card_found += found;
            card_values_n += s.values.len();
        } else {
            contract_found += found;
            contract_values_n += s.values.len();
        }
        if config.progress {
            eprintln!(
                "scan {}/{}: {label} iou {:.3} scan {scan_ms:.0} ms, raw PP-OCR {raw_ms:.0} ms",
                n + 1,
                samples.len(),
                ious.last().copied().unwrap_or(0.0)
            );
        }
    }
    let mut med = |k: &str| times.get_mut(k).map_or(0.0, |v| median(v));
    let cards = KindAccuracy {
        field_accuracy: card_acc.overall(),
        per_field: per_field(&card_acc),
        raw_ppocr_found: share(card_found, card_values_n),
        scan_ms_p50: med("card"),
        ocr_ms_p50: med("card_ocr"),
        raw_ppocr_ms_p50: med("card_raw"),
        scan_vs_raw_ppocr: med("card") / med("card_raw").max(1e-9),
    };
    let contracts = KindAccuracy {
        field_accuracy: contract_acc.overall(),
        per_field: per_field(&contract_acc),
        raw_ppocr_found: share(contract_found, contract_values_n),
        scan_ms_p50: med("contract"),
        ocr_ms_p50: med("contract_ocr"),
        raw_ppocr_ms_p50: med("contract_raw"),
        scan_vs_raw_ppocr: med("contract") / med("contract_raw").max(1e-9),
    };
    let mut all_ocr: Vec<f64> = times
        .iter()
        .filter(|(k, _)| k.ends_with("_ocr"))
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let mut overall = Accuracy::default();
    for (k, (m, n)) in card_acc
        .per_field
        .iter()
        .chain(contract_acc.per_field.iter())
    {
        let e = overall.per_field.entry(k).or_default();
        e.0 += m;
        e.1 += n;
    }
    let enhance = bench_scan_image::enhance_timing(config.enhance_photos, 4000, 3000, config.seed);
    let twelve = synth_photo(&bench_scan_image_doc(config.seed), config.seed, 4000, 3000);
    std::fs::create_dir_all(work)?;
    let jpeg = work.join("scan-bench-12mp.jpg");
    std::fs::write(&jpeg, &twelve.jpeg)?;
    let rss = bench_scan_image::peak_rss(exe, &jpeg)?;
    let mut ious_sorted = ious.clone();
    ious_sorted.sort_by(f64::total_cmp);
    Ok(ScanBenchReport {
        photos: ious.len(),
        corner_iou_mean: ious.iter().sum::<f64>() / ious.len().max(1) as f64,
        corner_iou_min: ious_sorted.first().copied().unwrap_or(0.0),
        field_accuracy: overall.overall(),
        cards,
        contracts,
        enhance_ms_p50: enhance.enhance_ms_p50,
        model_load_ms: scanner.ocr().load_ms(),
        ocr_ms_p50: median(&mut all_ocr),
        peak_rss_mb: rss.peak_rss_mb,
        frame_mb: rss.frame_mb,
        peak_over_frame: rss.total_over_frame,
    })
}

fn bench_scan_image_doc(seed: u64) -> image::RgbImage {
    crate::scan_photo::synth_document(DocKind::Contract, seed)
}
