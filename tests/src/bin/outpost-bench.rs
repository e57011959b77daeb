//! `outpost-bench`: Outpost's benchmarks. Each prints its numbers next to a baseline measured in
//! the same run.
//!
//! ```text
//! cargo run --release -p outpost-tests --bin outpost-bench -- store --json
//! cargo run --release -p outpost-tests --bin outpost-bench -- store --contacts 10000 --saves 1000
//! cargo run --release -p outpost-tests --bin outpost-bench -- sync --json
//! cargo run --release -p outpost-tests --bin outpost-bench -- sync --contacts 5000 --held 1000
//! cargo run --release -p outpost-tests --bin outpost-bench -- dedup --json
//! cargo run --release -p outpost-tests --bin outpost-bench -- scan --json
//! ```

use clap::{Args, Parser, Subcommand};
use outpost_tests::bench_store::{self, StoreBenchConfig, StoreReport};
use outpost_tests::bench_sync::{self, SyncBenchConfig, SyncBenchReport};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "outpost-bench",
    about = "Outpost benchmarks, each next to a baseline measured in the same run"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The device store: save latency against a plain SQLite insert, search latency, bytes on disk.
    Store(StoreArgs),
    /// Sync against the real server on loopback: bootstrap, no-change reconnect, one-field edit,
    /// server throughput, next to plain Automerge per-document sync.
    Sync(SyncArgs),
    /// Duplicate checks at 100,000 contacts, and CSV import speed beside a raw insert.
    Dedup(DedupArgs),
    /// Scans of synthetic card and contract photos of every hard case: corner IoU and
    /// confidence AUC, field accuracy and confidence, time and peak memory, next to PP-OCR on
    /// the raw photo, RapidOCR and raw Tesseract on the same photos.
    Scan(ScanArgs),
}

#[derive(Args)]
struct ScanArgs {
    /// Card photos (the 14 card cases cycle).
    #[arg(long, default_value_t = 28)]
    cards: usize,
    /// Contract photos (the 3 contract cases cycle).
    #[arg(long, default_value_t = 9)]
    contracts: usize,
    /// 12 MP photos for the enhance timing.
    #[arg(long, default_value_t = 5)]
    enhance_photos: usize,
    /// Seed of the corpus.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Skip the RapidOCR and Tesseract baselines (they are reported as not run).
    #[arg(long)]
    no_baselines: bool,
    /// The virtualenv with rapidocr-onnxruntime (default: $OUTPOST_BENCH_VENV, else
    /// ~/.cache/outpost/bench-venv, as scripts/bench-scan-baselines.sh creates it).
    #[arg(long)]
    venv: Option<PathBuf>,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("n/a".to_string(), |v| format!("{v:.digits$}"))
}

fn scan(args: ScanArgs) -> Result<(), BoxError> {
    use outpost_tests::bench_scan::{self, KindAccuracy, ScanBenchConfig};
    let exe = std::env::current_exe()?;
    let report = bench_scan::run(
        &ScanBenchConfig {
            cards: args.cards,
            contracts: args.contracts,
            enhance_photos: args.enhance_photos,
            seed: args.seed,
            progress: true,
            baselines: !args.no_baselines,
            venv: args
                .venv
                .unwrap_or_else(outpost_tests::bench_scan_baselines::default_venv),
        },
        &exe,
        &default_dir(),
    )
    .map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&report)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{json}")?;
        return Ok(());
    }
    let kind = |out: &mut std::io::StdoutLock, name: &str, k: &KindAccuracy| {
        writeln!(
            out,
            "{name}: {} photos; field accuracy {:.3} (target >= 0.95) {:?}\n  corner IoU mean {:.4} min {:.4}, right crops {}/{}, corner_confidence AUC {}; upright {:.3}\n  field confidence right {} vs wrong {}, AUC {}\n  scan p50 {:.0} ms; raw PP-OCR {:.0} ms (found {:.3}); RapidOCR {} ms (found {}) scan_vs_rapidocr {}; Tesseract {} ms (found {}) scan_vs_tesseract {}",
            k.photos,
            k.field_accuracy,
            k.per_field,
            k.corner_iou_mean,
            k.corner_iou_min,
            k.right_crops,
            k.photos,
            opt(k.corner_confidence_auc, 3),
            k.upright,
            opt(k.field_confidence_right_mean, 3),
            opt(k.field_confidence_wrong_mean, 3),
            opt(k.field_confidence_auc, 3),
            k.scan_ms_p50,
            k.raw_ppocr_ms_p50,
            k.raw_ppocr_found,
            opt(k.rapidocr_ms_p50, 0),
            opt(k.rapidocr_found, 3),
            opt(k.scan_vs_rapidocr, 3),
            opt(k.tesseract_ms_p50, 0),
            opt(k.tesseract_found, 3),
            opt(k.scan_vs_tesseract, 3),
        )
    };
    kind(&mut out, "cards", &report.cards)?;
    kind(&mut out, "contracts", &report.contracts)?;
    for (name, k) in [("card", &report.cards), ("contract", &report.contracts)] {
        for (case, g) in &k.per_case {
            writeln!(
                out,
                "  {name}/{case}: {} photos, fields {:.3}, IoU mean {:.3} min {:.3}, upright {:.2}",
                g.photos, g.field_accuracy, g.corner_iou_mean, g.corner_iou_min, g.upright
            )?;
        }
    }
    writeln!(
        out,
        "all: corner IoU mean {:.4} (target >= 0.98), min {:.4} (target >= 0.90); scan p50 {:.0} ms, scan_vs_rapidocr {} (target <= 0.5), scan_vs_tesseract {} (target <= 1.0){}{}\nmodels load {:.0} ms; enhance p50 {:.0} ms on 12 MP; peak {:.1} MB = {:.2}x the frame, {:.2}x the target (3 frames + {:.1} MB of models)",
        report.corner_iou_mean,
        report.corner_iou_min,
        report.scan_ms_p50,
        opt(report.scan_vs_rapidocr, 3),
        opt(report.scan_vs_tesseract, 3),
        report
            .rapidocr_error
            .as_ref()
            .map_or(String::new(), |e| format!("\nRapidOCR not measured: {e}")),
        report
            .tesseract_error
            .as_ref()
            .map_or(String::new(), |e| format!("\nTesseract not measured: {e}")),
        report.model_load_ms,
        report.enhance_ms_p50,
        report.peak_rss_mb,
        report.peak_over_frame,
        report.peak_over_target,
        report.models_mb,
    )?;
    Ok(())
}

#[derive(Args)]
struct DedupArgs {
    /// Rows in the imported CSV (= contacts in the store for the checks).
    #[arg(long, default_value_t = 100_000)]
    contacts: usize,
    /// Timed duplicate checks.
    #[arg(long, default_value_t = 10_000)]
    checks: usize,
    /// Seed of the generated contacts.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Where to make the temporary files (default: next to this binary, in the target dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the files afterwards.
    #[arg(long)]
    keep: bool,
    /// Print one JSON object instead of lines.
    #[arg(long)]
    json: bool,
}

fn dedup(args: DedupArgs) -> Result<(), BoxError> {
    let report = outpost_tests::bench_dedup::run(&outpost_tests::bench_dedup::DedupBenchConfig {
        contacts: args.contacts,
        checks: args.checks,
        seed: args.seed,
        parent_dir: args.dir.unwrap_or_else(default_dir),
        progress: true,
        keep: args.keep,
    })?;
    let json = serde_json::to_string_pretty(&report)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{json}")?;
    } else {
        writeln!(
            out,
            "dup-check p50 {} ms, p99 {} ms (target <= 1 ms) at {} contacts\nimport {} rows/s (target >= {}), raw insert {} rows/s: {}x (target <= 5x)\nplain app import {} rows/s: {}x (target <= {}x)",
            report.dup_check_p50_ms,
            report.dup_check_p99_ms,
            report.contacts,
            report.import_rows_per_s,
            report.targets.import_rows_per_s_min,
            report.raw_insert_rows_per_s,
            report.import_vs_raw,
            report.plain_import_rows_per_s,
            report.import_vs_plain,
            report.targets.import_vs_plain_max
        )?;
    }
    Ok(())
}

#[derive(Args)]
struct SyncArgs {
    /// Contacts a new device bootstraps.
    #[arg(long, default_value_t = 100_000)]
    contacts: usize,
    /// Records held by the device that reconnects with nothing new.
    #[arg(long, default_value_t = 10_000)]
    held: usize,
    /// Devices pushing concurrently.
    #[arg(long, default_value_t = 8)]
    devices: usize,
    /// Changes each pushing device sends.
    #[arg(long, default_value_t = 2_500)]
    changes: usize,
    /// Seed of the generated contacts.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Where to make the temporary databases (default: next to this binary, in the target dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the databases afterwards (their directory is printed on stderr).
    #[arg(long)]
    keep: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct StoreArgs {
    /// Contacts loaded before measuring (searches run at this count).
    #[arg(long, default_value_t = 100_000)]
    contacts: usize,
    /// Measured saves (each followed by a measured plain insert).
    #[arg(long, default_value_t = 10_000)]
    saves: usize,
    /// Seed of the generated contacts.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// How many times each search query is timed.
    #[arg(long, default_value_t = 20)]
    search_repeats: usize,
    /// Where to make the temporary databases (default: next to this binary, in the target dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Keep the databases afterwards (their directory is printed on stderr).
    #[arg(long)]
    keep: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn default_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
        .unwrap_or_else(std::env::temp_dir)
}

fn store(args: StoreArgs) -> Result<(), BoxError> {
    let config = StoreBenchConfig {
        contacts: args.contacts,
        saves: args.saves,
        seed: args.seed,
        search_repeats: args.search_repeats,
        parent_dir: args.dir.unwrap_or_else(default_dir),
        progress: true,
        keep: args.keep,
    };
    let report = bench_store::run(&config)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{}", table(&report))?;
    }
    Ok(())
}

fn sync(args: SyncArgs) -> Result<(), BoxError> {
    let config = SyncBenchConfig {
        contacts: args.contacts,
        held: args.held,
        devices: args.devices,
        changes: args.changes,
        seed: args.seed,
        parent_dir: args.dir.unwrap_or_else(default_dir),
        progress: true,
        keep: args.keep,
    };
    let report = bench_sync::run(&config)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{}", sync_table(&report))?;
    }
    Ok(())
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn table(r: &StoreReport) -> String {
    let m = &r.meets_targets;
    let t = &r.targets;
    let mut s = format!(
        "outpost-bench store: {} contacts preloaded ({:.1} s), {} saves\n\n",
        r.contacts, r.preload_secs, r.saves
    );
    s += &format!(
        "{:<34} {:>10}   {:<14} {}\n",
        "measure", "value", "target", ""
    );
    let mut row = |name: &str, value: String, target: String, ok: Option<bool>| {
        s += &format!(
            "{name:<34} {value:>10}   {target:<14} {}\n",
            ok.map_or("", mark)
        );
    };
    row(
        "save p50 (ms)",
        format!("{:.3}", r.save_p50_ms),
        String::new(),
        None,
    );
    row(
        "save p90 (ms)",
        format!("{:.3}", r.save_p90_ms),
        String::new(),
        None,
    );
    row(
        "save p99 (ms)",
        format!("{:.3}", r.save_p99_ms),
        format!("<= {}", t.save_p99_ms_max),
        Some(m.save_p99_ms),
    );
    row(
        "save max (ms)",
        format!("{:.3}", r.save_max_ms),
        String::new(),
        None,
    );
    row(
        "raw insert p50 (ms)",
        format!("{:.3}", r.raw_insert_p50_ms),
        String::new(),
        None,
    );
    row(
        "raw insert p99 (ms)",
        format!("{:.3}", r.raw_insert_p99_ms),
        String::new(),
        None,
    );
    row(
        "save / raw (p50)",
        format!("{:.2}x", r.save_vs_raw),
        format!("<= {}x", t.save_vs_raw_max),
        Some(m.save_vs_raw),
    );
    row(
        "plain app save p50 (ms)",
        format!("{:.3}", r.plain_save_p50_ms),
        String::new(),
        None,
    );
    row(
        "plain app save p99 (ms)",
        format!("{:.3}", r.plain_save_p99_ms),
        String::new(),
        None,
    );
    row(
        "save / plain app (p50)",
        format!("{:.2}x", r.save_vs_plain),
        format!("<= {}x", t.save_vs_plain_max),
        Some(m.save_vs_plain),
    );
    row(
        "search 1 CJK char p50 (ms)",
        format!("{:.3}", r.search_cjk1_p50_ms),
        String::new(),
        None,
    );
    row(
        "search 2 CJK chars p50 (ms)",
        format!("{:.3}", r.search_cjk2_p50_ms),
        String::new(),
        None,
    );
    row(
        "search 4 CJK chars p50 (ms)",
        format!("{:.3}", r.search_cjk4_p50_ms),
        String::new(),
        None,
    );
    row(
        "search Latin prefix p50 (ms)",
        format!("{:.3}", r.search_latin_prefix_p50_ms),
        String::new(),
        None,
    );
    row(
        "search pinyin name p50 (ms)",
        format!("{:.3}", r.search_pinyin_p50_ms),
        String::new(),
        None,
    );
    row(
        "search phone digits p50 (ms)",
        format!("{:.3}", r.search_phone_p50_ms),
        String::new(),
        None,
    );
    row(
        "search p50, slowest kind (ms)",
        format!("{:.3}", r.search_p50_ms),
        format!("<= {}", t.search_p50_ms_max),
        Some(m.search_p50_ms),
    );
    row(
        "bytes per contact",
        format!("{:.0}", r.bytes_per_contact),
        String::new(),
        None,
    );
    row(
        "JSON bytes per contact",
        format!("{:.0}", r.raw_json_bytes_per_contact),
        String::new(),
        None,
    );
    row(
        "bytes / JSON",
        format!("{:.2}x", r.bytes_vs_raw_json),
        format!("<= {}x", t.bytes_vs_raw_json_max),
        Some(m.bytes_vs_raw_json),
    );
    row(
        "plain table bytes per row",
        format!("{:.0}", r.raw_table_bytes_per_row),
        String::new(),
        None,
    );
    row(
        "plain app bytes per contact",
        format!("{:.0}", r.plain_bytes_per_contact),
        String::new(),
        None,
    );
    s += "\nsearch hits (returned with limit 50 / all matching, p50 ms):\n";
    for (kind, hits) in &r.search_hits {
        let list: Vec<String> = hits
            .iter()
            .map(|h| format!("{} {}/{} {:.2}", h.query, h.returned, h.matching, h.p50_ms))
            .collect();
        s += &format!("  {kind:<13} {}\n", list.join(", "));
    }
    s += "\nbytes per contact by table:\n";
    let mut tables: Vec<_> = r.bytes_per_contact_by_table.iter().collect();
    tables.sort_by(|a, b| b.1.total_cmp(a.1));
    for (name, bytes) in tables {
        s += &format!("  {name:<34} {bytes:>10.1}\n");
    }
    s += &format!(
        "\ntargets: {}\n",
        if m.all { "all met" } else { "some missed" }
    );
    s
}

fn sync_table(r: &SyncBenchReport) -> String {
    let m = &r.meets_targets;
    let t = &r.targets;
    let mut s = format!(
        "outpost-bench sync: bootstrap of {} contacts, reconnect holding {}, {} devices x {} changes\n\n",
        r.contacts, r.held, r.devices, r.changes_per_device
    );
    s += &format!(
        "{:<34} {:>12} {:>14}   {:<12} {}\n",
        "measure", "outpost", "automerge", "target", ""
    );
    let mut row = |name: &str, ours: String, baseline: String, target: String, ok: Option<bool>| {
        s += &format!(
            "{name:<34} {ours:>12} {baseline:>14}   {target:<12} {}\n",
            ok.map_or("", mark)
        );
    };
    row(
        "bootstrap (records/s)",
        format!("{:.0}", r.bootstrap_records_per_s),
        format!("{:.0}", r.automerge_bootstrap_records_per_s),
        format!(">= {:.0}", t.bootstrap_records_per_s_min),
        Some(m.bootstrap_records_per_s),
    );
    row(
        "bootstrap round trips / messages",
        r.bootstrap_round_trips.to_string(),
        r.automerge_bootstrap_messages.to_string(),
        String::new(),
        None,
    );
    row(
        "bootstrap bytes (body / messages)",
        r.bootstrap_bytes_received.to_string(),
        r.automerge_bootstrap_bytes.to_string(),
        String::new(),
        None,
    );
    row(
        "no-change reconnect round trips",
        r.noop_sync_round_trips.to_string(),
        format!("{} msgs", r.automerge_noop_sync_messages),
        format!("<= {}", t.noop_sync_round_trips_max),
        Some(m.noop_sync_round_trips),
    );
    row(
        "no-change reconnect wire bytes",
        r.noop_sync_wire_bytes.to_string(),
        r.automerge_noop_http_wire_bytes.to_string(),
        format!("<= {}", t.noop_sync_bytes_max),
        Some(m.noop_sync_bytes),
    );
    row(
        "no-change reconnect body bytes",
        r.noop_sync_body_bytes.to_string(),
        r.automerge_noop_sync_bytes.to_string(),
        format!("<= {}", t.noop_sync_bytes_max),
        Some(m.noop_sync_body_bytes),
    );
    row(
        "no-change reconnect (ms)",
        format!("{:.1}", r.noop_sync_ms),
        format!("{:.1}", r.automerge_noop_http_ms),
        String::new(),
        None,
    );
    row(
        "one-field edit request wire bytes",
        r.one_field_edit_wire_bytes.to_string(),
        String::new(),
        format!("<= {}", t.one_field_edit_wire_bytes_max),
        Some(m.one_field_edit_wire_bytes),
    );
    row(
        "one-field edit request body bytes",
        r.one_field_edit_body_bytes.to_string(),
        r.automerge_one_field_edit_bytes.to_string(),
        format!("<= {}", t.one_field_edit_bytes_max),
        Some(m.one_field_edit_body_bytes),
    );
    row(
        "  of which the Automerge change",
        r.one_field_edit_change_bytes.to_string(),
        String::new(),
        String::new(),
        None,
    );
    row(
        "server (changes/s)",
        format!("{:.0}", r.server_changes_per_s),
        format!("{:.0}", r.automerge_server_changes_per_s),
        format!(">= {:.0}", t.server_changes_per_s_min),
        Some(m.server_changes_per_s),
    );
    s += &format!(
        "\nbootstrap {:.2} s: fetching the pages alone {:.2} s (storage read {:.2} s), loading the \
         documents {:.2} s\npopulating: {:.1} s adding, {:.1} s pushing\n",
        r.bootstrap_secs,
        r.bootstrap_fetch_secs,
        r.bootstrap_storage_read_secs,
        r.bootstrap_doc_load_secs,
        r.populate_add_secs,
        r.populate_push_secs
    );
    s += &format!(
        "\ntargets: {}\n",
        if m.all { "all met" } else { "some missed" }
    );
    s
}

fn main() -> ExitCode {
    // A child started by `bench_scan_image::peak_rss` scans one file and exits here.
    outpost_tests::bench_scan_image::rss_child_main_if_requested();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Store(args) => store(args),
        Command::Sync(args) => sync(args),
        Command::Dedup(args) => dedup(args),
        Command::Scan(args) => scan(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
