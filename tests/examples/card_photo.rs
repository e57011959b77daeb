//! Writes a synthetic phone photo of rendered business card INDEX (seed SEED) as a JPEG and
//! prints its true fields as JSON: what `make demo` scans.
//! `cargo run -p outpost-tests --example card_photo -- OUT.jpg [SEED] [INDEX]`

use outpost_tests::scan_photo::synth_photo;
use outpost_tests::scan_render::{render_card, Fonts};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .ok_or("usage: card_photo OUT.jpg [SEED] [INDEX]")?;
    let seed: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(7);
    let index: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let fonts = Fonts::system()?;
    let card = render_card(&fonts, seed, index);
    let photo = synth_photo(&card.image, seed * 1000 + index as u64, 3000, 2250);
    std::fs::write(out, &photo.jpeg)?;
    println!("{}", serde_json::to_string(&card.truth)?);
    Ok(())
}
