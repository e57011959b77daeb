//! `outpost import FILE`: contacts from a CSV or xlsx file, with a progress line on stderr.

use clap::Args;
use outpost_core::{Encoding, Error, ImportOptions, ImportProgress, Store};
use std::io::Write;
use std::path::PathBuf;

/// `outpost import`.
#[derive(Args)]
pub(crate) struct ImportArgs {
    /// The .csv or .xlsx file; its first row names the columns.
    file: PathBuf,
    /// Map a column to a field: COLUMN=FIELD, FIELD one of name, company, title, phone, email,
    /// address, source, owner, notes, ignore, or any other word for an extra field (repeatable).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
    /// Check everything and write the report, import nothing.
    #[arg(long)]
    dry_run: bool,
    /// How the CSV file is encoded: auto, utf-8 or gbk.
    #[arg(long, default_value = "auto")]
    encoding: String,
    /// Merge duplicates into the first row or stored contact they duplicate, instead of
    /// leaving them out.
    #[arg(long)]
    merge_duplicates: bool,
}

/// Runs the import; prints `{imported, skipped, warnings, duplicates, merged, rows, report,
/// encoding, dry_run}`.
pub(crate) fn run(store: &mut Store, args: ImportArgs) -> Result<serde_json::Value, Error> {
    let map = args
        .map
        .iter()
        .map(|m| match m.split_once('=') {
            Some((c, f)) if !c.trim().is_empty() && !f.trim().is_empty() => {
                Ok((c.trim().to_string(), f.trim().to_string()))
            }
            _ => Err(Error::validation("map", m.clone(), "expected COLUMN=FIELD")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = ImportOptions {
        map,
        dry_run: args.dry_run,
        encoding: Encoding::parse(&args.encoding)?,
        merge_duplicates: args.merge_duplicates,
    };
    let mut stderr = std::io::stderr();
    let mut shown = false;
    let mut progress = |p: ImportProgress| {
        // One line, rewritten in place; progress is a courtesy, a closed stderr is no error.
        let _ = write!(stderr, "\rimporting: {}/{} rows", p.done, p.total);
        shown = true;
    };
    let summary = store.import_file(&args.file, &options, &mut progress);
    if shown {
        let _ = writeln!(std::io::stderr());
    }
    serde_json::to_value(summary?)
        .map_err(|e| Error::validation("output", "", format!("cannot render JSON: {e}")))
}
