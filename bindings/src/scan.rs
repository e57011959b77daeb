//! Scanning business cards and contracts on the device: an [`OutpostScanner`] owns the PP-OCR
//! models (loaded once from the directory the app ships them in), and async exports run each
//! scan (image work and OCR, well under a second) on a blocking thread, so the app's coroutine
//! or task is never stalled. There is no process-wide engine: the app keeps its scanner.

use crate::attachments::Attachment;
use crate::error::OutpostError;
use crate::store::OutpostStore;
use crate::types::Contact;
use outpost_core as oc;
use outpost_core::scan::extract::{Field, Fields};
use outpost_core::scan::ocr::OcrOptions;
use outpost_core::scan::pipeline::{self, ScanResult, Scanner};
use outpost_core::scan::DocKind;
use std::collections::HashMap;
use std::sync::Arc;

/// What the photo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ScanKind {
    /// A business card.
    Card,
    /// A contract page.
    Contract,
    /// Decide from the photo and the text.
    Auto,
}

/// How to scan.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ScanOptions {
    /// What the photo shows.
    pub kind: ScanKind,
    /// Also return the flattened, enhanced, upright image as PNG bytes (colour).
    #[uniffi(default = false)]
    pub include_flat_png: bool,
}

/// The on-device scanner: the three PP-OCR model files, loaded once. Make one (off the UI
/// thread: loading takes about a second) and keep it for every scan; it is safe to share
/// between threads.
#[derive(Debug, uniffi::Object)]
pub struct OutpostScanner {
    scanner: Scanner,
}

#[uniffi::export]
impl OutpostScanner {
    /// Loads the models from `models_dir`, the directory holding
    /// `ch_PP-OCRv4_det_infer.onnx`, `ch_PP-OCRv4_rec_infer.onnx` and
    /// `ch_ppocr_mobile_v2.0_cls_infer.onnx` (the app ships them as assets and copies them to
    /// a directory on first start). `Scan` names a missing or wrong file.
    #[uniffi::constructor]
    pub fn new(models_dir: String) -> Result<Arc<Self>, OutpostError> {
        let scanner = Scanner::with_options(
            &OcrOptions {
                models: Some(models_dir.into()),
                threads: 0,
            },
            oc::Region::default(),
        )?;
        Ok(Arc::new(OutpostScanner { scanner }))
    }

    /// How long loading the models took, in milliseconds.
    pub fn load_ms(&self) -> f64 {
        self.scanner.ocr().load_ms()
    }
}

/// One value read from the scan.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScanField {
    /// The value, normalized (phones in E.164, e-mails lower-case, dates YYYY-MM-DD, amounts
    /// as a number with two decimals).
    pub value: String,
    /// 0..1.
    pub confidence: f32,
    /// Where it was read in the flattened image (pixels).
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

fn field<T>(f: &Field<T>, value: String) -> ScanField {
    ScanField {
        value,
        confidence: f.confidence,
        x: f.bbox.x,
        y: f.bbox.y,
        width: f.bbox.w,
        height: f.bbox.h,
    }
}

/// A point in the photo.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ScanPoint {
    /// Pixels from the left.
    pub x: f32,
    /// Pixels from the top.
    pub y: f32,
}

/// Milliseconds per stage.
#[derive(Debug, Clone, Copy, PartialEq, uniffi::Record)]
pub struct ScanTimings {
    /// Decoding and orienting.
    pub decode: f64,
    /// Finding the corners.
    pub detect: f64,
    /// Flattening and enhancing.
    pub enhance: f64,
    /// Reading the text.
    pub ocr: f64,
    /// Finding the fields.
    pub extract: f64,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScanReport {
    /// `card` or `contract`.
    pub kind: String,
    /// The document's corners in the (EXIF-oriented) photo, clockwise from top-left.
    pub corners: Vec<ScanPoint>,
    /// 0..1; low when no outline was found and the whole photo was read.
    pub corner_confidence: f32,
    /// Whether a document outline was found.
    pub document_found: bool,
    /// How far the flattened document was turned clockwise so its text reads upright (0, 90,
    /// 180, 270), decided from the text.
    pub rotation: u16,
    /// Size of the flattened image.
    pub width: u32,
    /// Height of the flattened image.
    pub height: u32,
    /// All text read.
    pub text: String,
    /// Single-valued fields by name: for a card `name`, `title`, `company`, `address`,
    /// `website`; for a contract `contract_number`, `party_a`, `party_b`, `amount`,
    /// `amount_upper`, `date`.
    pub fields: HashMap<String, ScanField>,
    /// Phone numbers (cards), E.164.
    pub phones: Vec<ScanField>,
    /// E-mail addresses (cards).
    pub emails: Vec<ScanField>,
    /// Things to check: no outline found, amounts in digits and in words that disagree, ...
    pub warnings: Vec<String>,
    /// Per-stage times.
    pub timings_ms: ScanTimings,
    /// The flattened image as PNG, when asked for.
    pub flat_png: Option<Vec<u8>>,
}

fn report(r: &ScanResult, include_png: bool) -> Result<ScanReport, OutpostError> {
    let mut fields = HashMap::new();
    let mut phones = Vec::new();
    let mut emails = Vec::new();
    let mut put = |name: &str, f: Option<&Field>| {
        if let Some(f) = f {
            fields.insert(name.to_string(), field(f, f.value.clone()));
        }
    };
    match &r.fields {
        Fields::Card(c) => {
            put("name", c.name.as_ref());
            put("title", c.title.as_ref());
            put("company", c.company.as_ref());
            put("address", c.address.as_ref());
            put("website", c.website.as_ref());
            phones = c.phones.iter().map(|f| field(f, f.value.clone())).collect();
            emails = c.emails.iter().map(|f| field(f, f.value.clone())).collect();
        }
        Fields::Contract(c) => {
            put("contract_number", c.contract_number.as_ref());
            put("party_a", c.party_a.as_ref());
            put("party_b", c.party_b.as_ref());
            put("amount_upper", c.amount_upper.as_ref());
            put("date", c.date.as_ref());
            if let Some(a) = &c.amount {
                fields.insert("amount".into(), field(a, format!("{:.2}", a.value)));
            }
        }
    }
    let t = r.timings_ms;
    Ok(ScanReport {
        kind: match r.kind {
            oc::scan::extract::DocumentKind::Card => "card",
            oc::scan::extract::DocumentKind::Contract => "contract",
        }
        .to_string(),
        corners: r
            .corners
            .iter()
            .map(|p| ScanPoint { x: p[0], y: p[1] })
            .collect(),
        corner_confidence: r.corner_confidence,
        document_found: r.document_found,
        rotation: r.rotation,
        width: r.width,
        height: r.height,
        text: r.text.clone(),
        fields,
        phones,
        emails,
        warnings: r.warnings.clone(),
        timings_ms: ScanTimings {
            decode: t.decode,
            detect: t.detect,
            enhance: t.enhance,
            ocr: t.ocr,
            extract: t.extract,
        },
        flat_png: if include_png {
            Some(r.flat_png()?)
        } else {
            None
        },
    })
}

/// A contact created from a card scan, and the contacts it may duplicate.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct CardContact {
    /// What the scan read.
    pub scan: ScanReport,
    /// The saved contact.
    pub contact: Contact,
    /// Likely duplicates, best first: offer "merge with existing".
    pub duplicates: Vec<ScanDuplicate>,
}

/// An existing contact that a new one may duplicate.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScanDuplicate {
    /// The existing contact.
    pub contact_id: String,
    /// Its name.
    pub name: String,
    /// Its company.
    pub company: Option<String>,
    /// 0..1.
    pub score: f64,
    /// `phone`, `email`, `name_company`.
    pub reasons: Vec<String>,
}

/// A scan stored as an attachment of a contact.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ScannedAttachment {
    /// What the scan read.
    pub scan: ScanReport,
    /// The attachment holding the flattened image, its fields and text.
    pub attachment: Attachment,
}

/// Runs the scan on a blocking thread with the app's scanner.
async fn run_scan(
    scanner: Arc<OutpostScanner>,
    image: Vec<u8>,
    options: &ScanOptions,
    region: oc::Region,
) -> Result<ScanResult, OutpostError> {
    let kind = match options.kind {
        ScanKind::Card => DocKind::Card,
        ScanKind::Contract => DocKind::Contract,
        ScanKind::Auto => DocKind::Auto,
    };
    let job = move || scanner.scanner.scan_in(&image, kind, region);
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| OutpostError::Scan {
            reason: format!("the scan stopped: {e}"),
        })?
        .map_err(Into::into)
}

#[uniffi::export(async_runtime = "tokio")]
impl OutpostStore {
    /// Scans a photo (JPEG or PNG bytes straight from the camera, any EXIF orientation) of a
    /// business card or a contract: finds and flattens the document, evens the light,
    /// sharpens, reads the text (Chinese and English) and finds the fields, each with a
    /// confidence and its box. Nothing is saved. Errors: `Scan` naming the problem (not an
    /// image, HEIC, damaged, too small, too large).
    pub async fn scan(
        self: Arc<Self>,
        scanner: Arc<OutpostScanner>,
        image: Vec<u8>,
        options: ScanOptions,
    ) -> Result<ScanReport, OutpostError> {
        let region = self.read(|s| Ok(s.region()))?;
        let result = run_scan(scanner, image, &options, region).await?;
        report(&result, options.include_flat_png)
    }

    /// Scans a business card and creates the contact in one call, returning the contacts it
    /// may duplicate (same phone or e-mail, or the same name at the same company) so the app
    /// can offer "merge with existing". `Validation` on `name` when no name could be read.
    pub async fn scan_card_to_contact(
        self: Arc<Self>,
        scanner: Arc<OutpostScanner>,
        image: Vec<u8>,
        options: ScanOptions,
    ) -> Result<CardContact, OutpostError> {
        let region = self.read(|s| Ok(s.region()))?;
        let options = ScanOptions {
            kind: ScanKind::Card,
            ..options
        };
        let result = run_scan(scanner, image, &options, region).await?;
        let created = self.write(|s| pipeline::create_contact_from_card(s, &result))?;
        Ok(CardContact {
            scan: report(&result, options.include_flat_png)?,
            contact: created.contact,
            duplicates: created
                .duplicates
                .into_iter()
                .map(|d| ScanDuplicate {
                    contact_id: d.contact_id,
                    name: d.name,
                    company: d.company,
                    score: d.score,
                    reasons: d.reasons.iter().map(|r| r.as_str().to_string()).collect(),
                })
                .collect(),
        })
    }

    /// Scans a contract (or card) and attaches it to a contact: the flattened image is kept as
    /// a blob (uploaded with the next sync) and the fields and text as an attachment record.
    pub async fn scan_and_attach(
        self: Arc<Self>,
        scanner: Arc<OutpostScanner>,
        image: Vec<u8>,
        contact_id: String,
        options: ScanOptions,
    ) -> Result<ScannedAttachment, OutpostError> {
        let region = self.read(|s| Ok(s.region()))?;
        let result = run_scan(scanner, image, &options, region).await?;
        let attachment = self.write(|s| pipeline::attach_scan(s, &contact_id, &result))?;
        Ok(ScannedAttachment {
            scan: report(&result, options.include_flat_png)?,
            attachment,
        })
    }
}
