//! Crop accuracy of the scan benchmark's photos without reading them: for each of the first N
//! card and contract photos, the corner IoU of `Scanner::prepare` against the truth.
//! `cargo run --release -p outpost-tests --example scan_crops -- [N] [SEED]`

use outpost_core::scan::{quad_iou, DocKind};
use outpost_tests::bench_scan::one_thread_scanner;
use outpost_tests::scan_cases::{card_sample, contract_sample, CaseTruth};
use outpost_tests::scan_render::Fonts;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(28);
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let fonts = Fonts::system()?;
    let scanner = one_thread_scanner()?;
    let mut ious: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for i in 0..n {
        for s in [
            card_sample(&fonts, seed, i),
            contract_sample(&fonts, seed, i),
        ] {
            let card = matches!(s.truth, CaseTruth::Card(..));
            let kind = if card {
                DocKind::Card
            } else {
                DocKind::Contract
            };
            let p = scanner.prepare(&s.photo.photo.jpeg, kind)?;
            let iou = f64::from(quad_iou(&p.corners, &s.photo.photo.corners));
            println!(
                "{i:2} {:8} {iou:.3} conf {:.2} {} {:?} truth {:?}",
                if card { "card" } else { "contract" },
                p.corner_confidence,
                s.label(),
                p.corners,
                s.photo.photo.corners
            );
            if iou < 0.9 {
                // The candidate closest to the truth, and how sure the chooser was of it.
                let best = p
                    .candidates
                    .iter()
                    .enumerate()
                    .map(|(k, c)| {
                        (
                            k,
                            quad_iou(&c.corners, &s.photo.photo.corners),
                            c.confidence,
                        )
                    })
                    .max_by(|a, b| a.1.total_cmp(&b.1));
                if let Some((k, b_iou, conf)) = best {
                    println!(
                        "   closest candidate #{k} of {}: iou {b_iou:.3} conf {conf:.3}",
                        p.candidates.len()
                    );
                }
            }
            ious[usize::from(!card)].push(iou);
        }
    }
    for (name, v) in ["cards", "contracts"].iter().zip(&ious) {
        let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
        let min = v.iter().copied().fold(1.0, f64::min);
        let right = v.iter().filter(|&&x| x >= 0.9).count();
        println!(
            "{name}: mean {mean:.3} min {min:.3} right {right}/{}",
            v.len()
        );
    }
    Ok(())
}
