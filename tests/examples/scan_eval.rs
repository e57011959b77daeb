//! Scans rendered cards or contracts (flat renders, or synthetic photos of them) and prints
//! every field that came out wrong, the text read and the times: a tool for working on the
//! scanner. `cargo run -p outpost-tests --example scan_eval -- card|contract N [SEED] [photo]`
//! (`OUTPOST_SCAN_DUMP=DIR` also writes the photos and flat images there).

use outpost_core::scan::extract::Fields;
use outpost_core::scan::{quad_iou, DocKind};
use outpost_tests::bench_scan::one_thread_scanner;
use outpost_tests::scan_accuracy::{field_accuracy, Accuracy, Compared};
use outpost_tests::scan_photo::{encode_jpeg, synth_photo};
use outpost_tests::scan_render::{render_card, render_contract, Fonts};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let card = args.first().map(String::as_str) != Some("contract");
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let photo = args.get(3).is_some_and(|s| s == "photo");
    let dump = std::env::var_os("OUTPOST_SCAN_DUMP").map(std::path::PathBuf::from);
    let fonts = Fonts::system()?;
    let scanner = one_thread_scanner()?;
    eprintln!("models loaded in {:.0} ms", scanner.ocr().load_ms());
    let mut acc = Accuracy::default();
    let mut times = Vec::new();
    for i in 0..n {
        let (image, truth_card, truth_contract) = if card {
            let r = render_card(&fonts, seed, i);
            (r.image, Some(r.truth), None)
        } else {
            let r = render_contract(&fonts, seed, i);
            (r.image, None, Some(r.truth))
        };
        let (bytes, corners) = if photo {
            let (w, h) = if card { (3000, 2250) } else { (3000, 4000) };
            let p = synth_photo(&image, seed + i as u64, w, h);
            (p.jpeg, Some(p.corners))
        } else {
            (encode_jpeg(&image, 92, 1), None)
        };
        if let Some(d) = &dump {
            std::fs::write(d.join(format!("eval-{i}.jpg")), &bytes)?;
        }
        let kind = if card {
            DocKind::Card
        } else {
            DocKind::Contract
        };
        let r = scanner.scan(&bytes, kind)?;
        if let Some(d) = &dump {
            r.flat.save(d.join(format!("eval-{i}-flat.png")))?;
        }
        times.push(r.timings_ms);
        let matches = match (&r.fields, &truth_card, &truth_contract) {
            (Fields::Card(f), Some(t), _) => field_accuracy(Compared::Card(t, f)),
            (Fields::Contract(f), _, Some(t)) => field_accuracy(Compared::Contract(t, f)),
            _ => Vec::new(),
        };
        acc.add(&matches);
        let iou = corners.map(|c| quad_iou(&c, &r.corners));
        let bad: Vec<_> = matches.iter().filter(|m| !m.matched).collect();
        eprintln!(
            "#{i}: rotation {} iou {iou:?} ocr {:.0} ms (det {:.0} orient {:.0} rec {:.0}) total {:.0} ms, {} wrong",
            r.rotation,
            r.timings_ms.ocr,
            r.timings_ms.ocr_detect,
            r.timings_ms.ocr_orient,
            r.timings_ms.ocr_recognize,
            r.timings_ms.decode
                + r.timings_ms.detect
                + r.timings_ms.enhance
                + r.timings_ms.ocr
                + r.timings_ms.extract,
            bad.len()
        );
        for m in &bad {
            eprintln!("   {}: expected {:?} got {:?}", m.field, m.expected, m.got);
        }
        if !bad.is_empty() {
            eprintln!("   --- text:\n{}", r.text.replace('\n', "\n   | "));
        }
    }
    println!("accuracy {:.3} {:?}", acc.overall(), acc.per_field);
    Ok(())
}
