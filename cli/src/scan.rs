//! `outpost scan IMAGE`: find, flatten, enhance and read a photo of a business card or a
//! contract; optionally create the contact (with duplicate candidates) or attach the scan.

use clap::{Args, ValueEnum};
use outpost_core::scan::ocr::OcrOptions;
use outpost_core::scan::pipeline::{attach_scan, create_contact_from_card, Scanner};
use outpost_core::scan::DocKind;
use outpost_core::{Error, Region};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    /// A business card.
    Card,
    /// A contract page.
    Contract,
    /// Decide from the photo and the text.
    Auto,
}

#[derive(Args)]
pub(crate) struct ScanArgs {
    /// The photo (JPEG or PNG).
    image: PathBuf,
    /// What the photo shows.
    #[arg(long, value_enum, default_value = "auto")]
    kind: KindArg,
    /// Write the flattened, enhanced, upright image here (colour PNG).
    #[arg(long, value_name = "FLAT.png")]
    out: Option<PathBuf>,
    /// Write `--out` in grey levels instead of colour.
    #[arg(long, requires = "out")]
    grey: bool,
    /// Create a contact from a card scan; prints it with `duplicates`.
    #[arg(long, conflicts_with = "attach")]
    create_contact: bool,
    /// Attach the scan (flattened image, fields, text) to this contact.
    #[arg(long, value_name = "CONTACT_ID")]
    attach: Option<String>,
    /// Directory holding the PP-OCR model files (default: $OUTPOST_MODELS, else
    /// ~/.cache/outpost/models, which scripts/fetch-models.sh fills).
    #[arg(long, value_name = "DIR", env = "OUTPOST_MODELS")]
    models: Option<PathBuf>,
}

impl ScanArgs {
    /// Whether the command writes to the store.
    pub(crate) fn needs_store(&self) -> bool {
        self.create_contact || self.attach.is_some()
    }
}

/// Runs a scan; `open` opens the store when the command needs it.
pub(crate) fn run(
    args: ScanArgs,
    region: Region,
    open: impl FnOnce() -> Result<outpost_core::Store, Error>,
) -> Result<(), Error> {
    let bytes = crate::attach::read_file(&args.image)?;
    let scanner = Scanner::with_options(
        &OcrOptions {
            models: args.models.clone(),
            threads: 0,
        },
        region,
    )?;
    let kind = match args.kind {
        KindArg::Card => DocKind::Card,
        KindArg::Contract => DocKind::Contract,
        KindArg::Auto => DocKind::Auto,
    };
    let result = scanner.scan(&bytes, kind)?;
    if let Some(out) = &args.out {
        let png = if args.grey {
            result.flat_grey_png()?
        } else {
            result.flat_png()?
        };
        crate::attach::write_file(out, &png)?;
    }
    let mut json = serde_json::to_value(&result)
        .map_err(|e| Error::validation("output", "", format!("cannot render JSON: {e}")))?;
    if args.needs_store() {
        let mut store = open()?;
        let extra = if args.create_contact {
            serde_json::to_value(create_contact_from_card(&mut store, &result)?)
        } else {
            let contact = args.attach.as_deref().unwrap_or_default();
            serde_json::to_value(serde_json::json!({
                "attachment": attach_scan(&mut store, contact, &result)?
            }))
        }
        .map_err(|e| Error::validation("output", "", format!("cannot render JSON: {e}")))?;
        if let (Some(obj), serde_json::Value::Object(more)) = (json.as_object_mut(), extra) {
            obj.extend(more);
        }
    }
    crate::print(&json)
}
