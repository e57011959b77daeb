//! `outpost scan` as a rep's app or script runs it: a JPEG photo of a card and a PNG of a
//! contract, quick create with duplicates, attaching to a contact, and bad files.

use outpost_tests::procs::{binary, BoxError};
use outpost_tests::scan_photo::synth_photo;
use outpost_tests::scan_render::{render_card, render_contract, Fonts};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn outpost(db: &Path, args: &[&str]) -> Result<(i32, Value, String), BoxError> {
    let out = Command::new(binary("outpost-cli", "outpost")?)
        .arg("--db")
        .arg(db)
        .args(args)
        .output()?;
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    Ok((
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn scan_reads_cards_and_contracts_creates_and_attaches() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("rep.db");
    let fonts = Fonts::system()?;
    let card = render_card(&fonts, 77, 0);
    let photo = synth_photo(&card.image, 77, 2400, 1800);
    let jpg = dir.path().join("card.jpg");
    std::fs::write(&jpg, &photo.jpeg)?;
    let flat = dir.path().join("flat.png");
    let jpg_s = jpg.to_string_lossy().into_owned();
    let flat_s = flat.to_string_lossy().into_owned();

    let (code, v, err) = outpost(&db, &["scan", &jpg_s, "--kind", "card", "--out", &flat_s])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["kind"], "card");
    let corners = v["corners"].as_array().ok_or("corners")?;
    assert_eq!(corners.len(), 4);
    assert!(v["corner_confidence"].as_f64().ok_or("confidence")? > 0.5);
    assert!(v["width"].as_u64().ok_or("width")? >= 1280);
    assert!(v["height"].as_u64().ok_or("height")? > 0);
    assert!(!v["text"].as_str().ok_or("text")?.is_empty());
    for stage in ["decode", "detect", "enhance", "ocr", "extract"] {
        assert!(v["timings_ms"][stage].is_number(), "timings_ms.{stage}");
    }
    let phones: Vec<&str> = v["fields"]["phones"]
        .as_array()
        .ok_or("phones")?
        .iter()
        .filter_map(|p| p["value"].as_str())
        .collect();
    assert!(
        card.truth
            .phones
            .iter()
            .any(|p| phones.contains(&p.as_str())),
        "{phones:?} vs {:?}",
        card.truth.phones
    );
    assert!(v["fields"]["company"]["confidence"].is_number());
    assert!(
        image::open(&flat)?.width() >= 1280,
        "the flattened PNG was written"
    );
    // Nothing was stored by a plain scan.
    assert!(!db.exists());

    // Quick create: a contact with the same phone exists; it is offered as a duplicate.
    let phone = card.truth.phones[0].clone();
    let (code, existing, err) = outpost(
        &db,
        &["contact", "add", "--name", "老客户", "--phone", &phone],
    )?;
    assert_eq!(code, 0, "{err}");
    let (code, v, err) = outpost(&db, &["scan", &jpg_s, "--kind", "card", "--create-contact"])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["contact"]["source"], "card_scan");
    assert_eq!(v["duplicates"][0]["contact_id"], existing["id"]);
    assert!(v["duplicates"][0]["reasons"]
        .as_array()
        .ok_or("reasons")?
        .iter()
        .any(|r| r == "phone"));

    // A contract as PNG, auto-detected, attached to the contact.
    let contract = render_contract(&fonts, 78, 0);
    let png = dir.path().join("contract.png");
    contract.image.save(&png)?;
    let contact_id = v["contact"]["id"].as_str().ok_or("id")?.to_string();
    let (code, v, err) = outpost(
        &db,
        &["scan", &png.to_string_lossy(), "--attach", &contact_id],
    )?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["kind"], "contract");
    assert_eq!(v["attachment"]["category"], "contract");
    assert_eq!(v["attachment"]["mime"], "image/png");
    let (code, list, err) = outpost(&db, &["attachment", "list", &contact_id])?;
    assert_eq!(code, 0, "{err}");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    Ok(())
}

#[test]
fn bad_files_are_clear_errors_and_store_nothing() -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    let db = dir.path().join("rep.db");
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, "姓名,电话\n张伟,13800138000\n")?;
    let (code, _, err) = outpost(&db, &["scan", &text.to_string_lossy(), "--create-contact"])?;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: scan: "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let missing = dir.path().join("nope.jpg");
    let (code, _, err) = outpost(&db, &["scan", &missing.to_string_lossy()])?;
    assert_eq!(code, 1);
    assert!(err.starts_with("error: io: "), "{err}");
    assert!(!db.exists(), "a failed scan opens no store");
    Ok(())
}
