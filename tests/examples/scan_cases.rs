//! Writes the benchmark's hard cases for a look: every card case and contract case as a PNG,
//! and the first N photos of the benchmark corpus as JPEGs, with their truth as JSON lines.
//! `cargo run -p outpost-tests --example scan_cases -- OUT_DIR [SEED] [N]`

use outpost_tests::scan_cases::{
    card_sample, contract_sample, render_card_case, render_contract_case, CardCase, CaseTruth,
    ContractCase,
};
use outpost_tests::scan_render::Fonts;
use std::io::Write;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(args.first().ok_or("usage: scan_cases OUT_DIR [SEED] [N]")?);
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    std::fs::create_dir_all(&out)?;
    let fonts = Fonts::system()?;
    let mut truth = std::fs::File::create(out.join("truth.jsonl"))?;
    for (i, case) in CardCase::ALL.into_iter().enumerate() {
        let r = render_card_case(&fonts, seed, i, case);
        r.image
            .save(out.join(format!("card-{:02}-{}.png", i, case.name())))?;
        writeln!(truth, "{}", serde_json::to_string(&(case, &r.truth))?)?;
    }
    for (i, case) in ContractCase::ALL.into_iter().enumerate() {
        let r = render_contract_case(&fonts, seed, i, case);
        r.image
            .save(out.join(format!("contract-{:02}-{}.png", i, case.name())))?;
        writeln!(truth, "{}", serde_json::to_string(&(case, &r.truth))?)?;
    }
    for i in 0..n {
        for s in [
            card_sample(&fonts, seed, i),
            contract_sample(&fonts, seed, i),
        ] {
            let label = s.label().replace('/', "-");
            std::fs::write(
                out.join(format!("photo-{i:02}-{label}.jpg")),
                &s.photo.photo.jpeg,
            )?;
            let t = match &s.truth {
                CaseTruth::Card(t, _) => serde_json::to_value(t)?,
                CaseTruth::Contract(t, _) => serde_json::to_value(t)?,
            };
            writeln!(
                truth,
                "{}",
                serde_json::json!({"photo": i, "label": s.label(), "turn": s.photo.case.turn, "corners": s.photo.photo.corners, "truth": t})
            )?;
        }
    }
    println!("wrote {}", out.display());
    Ok(())
}
