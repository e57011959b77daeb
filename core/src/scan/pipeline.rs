//! The whole scan: camera bytes in; corners, a flat sharp image, text and fields out. Also the
//! two things a scan leads to: a contact created from a card (with its likely duplicates), and
//! a contract stored as an attachment of a contact.

use super::extract::{self, DocumentKind, Fields};
use super::ocr::{Ocr, OcrOptions, PageLayout};
use super::{prepare_with_text, DocKind, PrepareOptions, ScanError};
use crate::dedup::{DupQuery, Duplicate};
use crate::error::{Error, Result};
use crate::record::attachment::{Attachment, NewAttachment};
use crate::record::contact::{Contact, NewContact};
use crate::{Region, Store};
use image::RgbImage;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// Long side (px) at which the text detector looks for the text that checks the outline.
const TEXT_LONG_SIDE: u32 = 960;

/// How long each stage took, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ScanTimings {
    /// Decoding and orienting the photo.
    pub decode: f64,
    /// Finding the document's corners (including `detect_text`).
    pub detect: f64,
    /// Of `detect`, finding the text that checks the outline.
    pub detect_text: f64,
    /// Flattening, evening the light, sharpening.
    pub enhance: f64,
    /// Reading the text (the three parts below together).
    pub ocr: f64,
    /// Finding the text boxes in the flattened document.
    pub ocr_detect: f64,
    /// Deciding which way is up.
    pub ocr_orient: f64,
    /// Reading the lines.
    pub ocr_recognize: f64,
    /// Finding the fields in the text.
    pub extract: f64,
}

/// What a scan found.
#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    /// `card` or `contract`.
    pub kind: DocumentKind,
    /// The document's corners in the oriented photo, clockwise from top-left.
    pub corners: [[f32; 2]; 4],
    /// 0..1; low when no document outline was found and the whole photo was used.
    pub corner_confidence: f32,
    /// Whether a document outline was found.
    pub document_found: bool,
    /// Width of the flattened image.
    pub width: u32,
    /// Height of the flattened image.
    pub height: u32,
    /// All text read, line by line.
    pub text: String,
    /// Mean line confidence of the text, 0..1.
    pub text_confidence: f32,
    /// How far the flattened document was turned clockwise so that its text reads upright
    /// (0, 90, 180 or 270), decided from the text itself.
    pub rotation: u16,
    /// The fields of a card or a contract, each with `value`, `confidence` and `box`.
    pub fields: Fields,
    /// Per-stage times.
    pub timings_ms: ScanTimings,
    /// Things the user should check (no outline found, amounts that disagree, ...).
    pub warnings: Vec<String>,
    /// The flattened, enhanced, upright image in colour (not serialized; see
    /// [`ScanResult::flat_png`]).
    #[serde(skip)]
    pub flat: RgbImage,
}

impl ScanResult {
    /// The flattened image as colour PNG bytes (what attachments keep).
    pub fn flat_png(&self) -> Result<Vec<u8>> {
        png(&image::DynamicImage::ImageRgb8(self.flat.clone()))
    }

    /// The flattened image in grey levels, as PNG bytes.
    pub fn flat_grey_png(&self) -> Result<Vec<u8>> {
        png(&image::DynamicImage::ImageLuma8(super::enhance::grey(
            &self.flat,
        )))
    }

    /// The card fields, when this is a card.
    pub fn card(&self) -> Option<&extract::CardFields> {
        match &self.fields {
            Fields::Card(c) => Some(c),
            Fields::Contract(_) => None,
        }
    }

    /// The contract fields, when this is a contract.
    pub fn contract(&self) -> Option<&extract::ContractFields> {
        match &self.fields {
            Fields::Contract(c) => Some(c),
            Fields::Card(_) => None,
        }
    }
}

fn png(img: &image::DynamicImage) -> Result<Vec<u8>> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| Error::Scan(format!("encoding the flattened image as PNG: {e}")))?;
    Ok(out.into_inner())
}

/// Scans photos; owns the OCR models (loading them takes a while) and reuses them for every
/// scan. Scans take `&self`: one scanner can serve several threads.
#[derive(Debug)]
pub struct Scanner {
    ocr: Ocr,
    region: Region,
}

impl From<ScanError> for Error {
    fn from(e: ScanError) -> Self {
        Error::Scan(e.to_string())
    }
}

impl From<super::ocr::OcrError> for Error {
    fn from(e: super::ocr::OcrError) -> Self {
        Error::Scan(e.to_string())
    }
}

impl Scanner {
    /// Loads the PP-OCR models from `models` (the directory holding the three `.onnx` files;
    /// see [`crate::scan::ppocr`]); `region` is for phone numbers written without a country
    /// code and on a card with no other clue to the country. A missing or wrong model file is
    /// an error naming it and saying how to get it.
    pub fn new(models: &Path, region: Region) -> Result<Scanner> {
        Scanner::with_options(
            &OcrOptions {
                models: Some(models.to_path_buf()),
                threads: 0,
            },
            region,
        )
    }

    /// [`Scanner::new`] with every OCR option (the model directory may be left to
    /// `$OUTPOST_MODELS` or the per-user cache; the number of inference threads).
    pub fn with_options(options: &OcrOptions, region: Region) -> Result<Scanner> {
        Ok(Scanner {
            ocr: Ocr::new(options)?,
            region,
        })
    }

    /// The OCR engine.
    pub fn ocr(&self) -> &Ocr {
        &self.ocr
    }

    /// The region used for phone numbers with no country code.
    pub fn region(&self) -> Region {
        self.region
    }

    /// Sets the region for phone numbers written without a country code.
    pub fn set_region(&mut self, region: Region) {
        self.region = region;
    }

    /// Finds the document and flattens it ([`super::prepare_with_text`]): the text the PP-OCR
    /// detector finds on the small copy decides among the candidate outlines.
    pub fn prepare(&self, bytes: &[u8], kind: DocKind) -> Result<super::Prepared> {
        let models = self.ocr.models();
        let opts = PrepareOptions {
            kind_hint: kind,
            text_long_side: TEXT_LONG_SIDE,
            ..PrepareOptions::default()
        };
        prepare_with_text(bytes, &opts, |small| {
            models
                .detect(small, TEXT_LONG_SIDE)
                .map_err(|e| Error::Scan(format!("finding text to check the outline: {e}")))
        })
    }

    /// Scans one photo (JPEG or PNG, any EXIF orientation) of a card or a contract page.
    pub fn scan(&self, bytes: &[u8], kind: DocKind) -> Result<ScanResult> {
        self.scan_in(bytes, kind, self.region)
    }

    /// [`Scanner::scan`] with another region for numbers without a country code.
    pub fn scan_in(&self, bytes: &[u8], kind: DocKind, region: Region) -> Result<ScanResult> {
        let prepared = self.prepare(bytes, kind)?;
        let layout_kind = match kind {
            DocKind::Auto => prepared.kind_guess,
            k => k,
        };
        let layout = match layout_kind {
            DocKind::Contract => PageLayout::Page,
            _ => PageLayout::Card,
        };
        let started = Instant::now();
        // The outline's long side over its short side, when one was found.
        let shape = prepared.document_found.then(|| {
            let (w, h) = prepared.flat_colour.dimensions();
            w.max(h) as f32 / w.min(h).max(1) as f32
        });
        // The text found on the photo (to check the outline) decides which way is up when it
        // holds enough lines, so a sideways document is detected once, upright.
        let hint = prepared.text_on_flat();
        let read = self.ocr.read_hinted(prepared.flat_colour, layout, &hint)?;
        let (ocr_detect, ocr_orient, ocr_recognize) =
            (read.detect_ms, read.orient_ms, read.recognize_ms);
        let page = read.page;
        let ocr_ms = started.elapsed().as_secs_f64() * 1000.0;
        // Corner 0 is the upright document's top-left.
        let mut corners = prepared.corners;
        corners.rotate_right(usize::from(read.rotation / 90));
        let started = Instant::now();
        let doc_kind = match kind {
            DocKind::Card => DocumentKind::Card,
            DocKind::Contract => DocumentKind::Contract,
            DocKind::Auto => extract::classify_with_shape(&page.lines, shape),
        };
        let fields = extract::extract(doc_kind, &page.lines, region);
        let extract_ms = started.elapsed().as_secs_f64() * 1000.0;
        let mut warnings = Vec::new();
        if !prepared.document_found {
            warnings.push(
                "no document outline was found: the whole photo was read; retake it on a plain, contrasting background"
                    .to_string(),
            );
        }
        if let Fields::Contract(c) = &fields {
            if let Some(m) = &c.amount_mismatch {
                warnings.push(m.warning.clone());
            }
        }
        if page.lines.is_empty() {
            warnings.push("no text was read".to_string());
        }
        let t = prepared.timings;
        Ok(ScanResult {
            kind: doc_kind,
            corners,
            corner_confidence: prepared.corner_confidence,
            document_found: prepared.document_found,
            width: read.image.width(),
            height: read.image.height(),
            text: page.text(),
            text_confidence: page.mean_confidence(),
            rotation: read.rotation,
            fields,
            timings_ms: ScanTimings {
                decode: t.decode_ms,
                detect: t.detect_ms,
                detect_text: t.text_ms,
                enhance: t.enhance_ms,
                ocr: ocr_ms,
                ocr_detect,
                ocr_orient,
                ocr_recognize,
                extract: extract_ms,
            },
            warnings,
            flat: read.image,
        })
    }
}

/// The contact a card scan proposes, before saving.
pub fn contact_from_card(card: &extract::CardFields) -> Result<NewContact> {
    let name = card
        .name
        .as_ref()
        .map(|f| f.value.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            Error::validation(
                "name",
                "",
                "no name was read from the card; enter it and save",
            )
        })?;
    let mut extra = BTreeMap::new();
    if let Some(w) = &card.website {
        extra.insert("website".to_string(), w.value.clone());
    }
    Ok(NewContact {
        name,
        company: card.company.as_ref().map(|f| f.value.clone()),
        title: card.title.as_ref().map(|f| f.value.clone()),
        phones: card.phones.iter().map(|f| f.value.clone()).collect(),
        emails: card.emails.iter().map(|f| f.value.clone()).collect(),
        address: card.address.as_ref().map(|f| f.value.clone()),
        source: Some("card_scan".to_string()),
        extra,
        ..Default::default()
    })
}

/// A contact created from a card, with the contacts it may duplicate.
#[derive(Debug, Clone, Serialize)]
pub struct QuickCreate {
    /// The saved contact.
    pub contact: Contact,
    /// Likely duplicates (same phone or e-mail, or the same name at the same company), best
    /// first; the app offers "merge with existing".
    pub duplicates: Vec<Duplicate>,
}

/// The duplicate candidates of what a card scan proposes, before saving (so the app can offer
/// "this is 张伟 you already have" instead of creating a second one).
pub fn card_duplicates(store: &Store, contact: &NewContact) -> Result<Vec<Duplicate>> {
    store.find_duplicates(&DupQuery {
        phones: contact.phones.clone(),
        emails: contact.emails.clone(),
        name: Some(contact.name.clone()),
        company: contact.company.clone(),
    })
}

/// Creates a contact from a card scan in one call: the duplicate check and the save.
pub fn create_contact_from_card(store: &mut Store, result: &ScanResult) -> Result<QuickCreate> {
    let card = result.card().ok_or_else(|| {
        Error::validation(
            "kind",
            "contract",
            "a contact is created from a business card, not a contract",
        )
    })?;
    let new = contact_from_card(card)?;
    let duplicates = card_duplicates(store, &new)?;
    let contact = store.add_contact(new)?;
    let duplicates = duplicates
        .into_iter()
        .filter(|d| d.contact_id != contact.id)
        .collect();
    Ok(QuickCreate {
        contact,
        duplicates,
    })
}

/// Stores a scan (the flattened image as a PNG blob, and its fields and text) as an attachment
/// of a contact: a contract scan becomes category `contract`, a card `card`.
pub fn attach_scan(store: &mut Store, contact_id: &str, result: &ScanResult) -> Result<Attachment> {
    let mut fields = BTreeMap::new();
    let (category, title) = match &result.fields {
        Fields::Contract(c) => {
            let mut put = |k: &str, v: Option<String>| {
                if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
                    fields.insert(k.to_string(), v);
                }
            };
            put(
                "contract_number",
                c.contract_number.as_ref().map(|f| f.value.clone()),
            );
            put("party_a", c.party_a.as_ref().map(|f| f.value.clone()));
            put("party_b", c.party_b.as_ref().map(|f| f.value.clone()));
            put(
                "amount",
                c.amount.as_ref().map(|f| format!("{:.2}", f.value)),
            );
            put(
                "amount_upper",
                c.amount_upper.as_ref().map(|f| f.value.clone()),
            );
            put("date", c.date.as_ref().map(|f| f.value.clone()));
            let title = c
                .contract_number
                .as_ref()
                .map(|f| format!("合同 {}", f.value))
                .unwrap_or_else(|| "合同扫描".to_string());
            ("contract", title)
        }
        Fields::Card(c) => {
            if let Some(n) = &c.name {
                fields.insert("name".to_string(), n.value.clone());
            }
            ("card", "名片扫描".to_string())
        }
    };
    store.attach(NewAttachment {
        contact_id: contact_id.to_string(),
        deal_id: None,
        category: category.to_string(),
        mime: "image/png".to_string(),
        bytes: result.flat_png()?,
        title: Some(title),
        fields,
        text: Some(result.text.clone()).filter(|t| !t.trim().is_empty()),
    })
}
