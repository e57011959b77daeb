//! `outpost`: the device store from the command line, for demos, scripting and tests.
//!
//! Output is JSON on stdout. Errors go to stderr as one line `error: <kind>: <message>`, with
//! exit code 2 for invalid input, 3 for not found, 4 when the user's role may not do it, 1 for
//! anything else.

mod attach;
mod dedup;
mod flow;
mod import;
mod metrics;
mod scan;

use clap::{Args, Parser, Subcommand};
use outpost_core::{
    CheckIn, CheckOut, ContactPatch, CoordSystem, Error, ListOptions, NewContact, Region,
    SearchOptions, Store, StoreOptions, VisitFilter,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

mod security;

#[derive(Parser)]
#[command(
    name = "outpost",
    version,
    about = "Outpost field-sales store: contacts, visits, search."
)]
struct Cli {
    /// The database file (default: $OUTPOST_DB, else ./outpost.db).
    #[arg(long, global = true, env = "OUTPOST_DB", default_value = "outpost.db")]
    db: PathBuf,
    /// Region for phone numbers typed without a country code.
    #[arg(long, global = true, env = "OUTPOST_REGION", default_value = "CN")]
    region: String,
    /// The signed-in user, recorded in history and as the owner of new contacts.
    #[arg(long, global = true, env = "OUTPOST_USER", default_value = "local")]
    user: String,
    /// File holding the database key (32 raw bytes or 64 hex digits); else $OUTPOST_DB_KEY (hex).
    /// With a key the database is encrypted (SQLCipher).
    #[arg(long, global = true, env = "OUTPOST_DB_KEY_FILE")]
    key_file: Option<PathBuf>,
    /// PEM file of CA certificates to trust for an HTTPS sync server beside the bundled Mozilla
    /// roots (a company's private CA).
    #[arg(long, global = true, env = "OUTPOST_CA_CERT", value_name = "PEM")]
    ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Contacts.
    #[command(subcommand)]
    Contact(ContactCmd),
    /// Find contacts by any part of a name, company, title, phone, email, address or notes.
    Search {
        /// What to look for: Chinese text of any length, Latin word prefixes, phone digits.
        query: String,
        /// At most this many results.
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Also find invalid (soft-deleted) contacts.
        #[arg(long)]
        include_invalid: bool,
    },
    /// Visits.
    #[command(subcommand)]
    Visit(VisitCmd),
    /// Counts of records, outbox length, refused changes, database path and size.
    Status,
    /// How this device performs: per action count/p50/p95/max, crashes recovered, records
    /// created offline and how many reached the server, failed syncs by reason.
    Metrics {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The signed-in user's role and permissions as the server last said (unknown before the
    /// first sync: then nothing is refused locally).
    Access {
        /// Print JSON (an object, or null when unknown) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Push local changes and pull everyone else's, with the server (remembered after first use).
    Sync {
        /// The sync server, e.g. http://127.0.0.1:8737 (remembered).
        #[arg(long, env = "OUTPOST_SERVER")]
        server: Option<String>,
        /// This device's token from `outpost-server device enroll` (remembered).
        #[arg(long, env = "OUTPOST_TOKEN")]
        token: Option<String>,
        /// Attempts per request on a bad network.
        #[arg(long, default_value_t = 4)]
        attempts: u32,
        /// Print how far the sync is on stderr, one JSON object a line ({phase, done, total}):
        /// after every bootstrap page, uploaded file, push and pull round.
        #[arg(long)]
        progress: bool,
    },
    /// Enrol this device with the one-time code from the operator (`outpost-server device
    /// invite`); the server and the device token are remembered, the token is not shown.
    /// Prints {device_id, tenant_id, user, role}.
    Enroll {
        /// The sync server, e.g. http://127.0.0.1:8737.
        #[arg(long, env = "OUTPOST_SERVER")]
        server: String,
        /// The code, like ABCDE-FGHJK (case, spaces and dashes do not matter).
        #[arg(long)]
        code: String,
    },
    /// The database file itself.
    #[command(subcommand)]
    Db(DbCmd),
    /// Scan a photo of a business card or a contract: corners, a flat enhanced image, text and
    /// fields; optionally create the contact or attach the scan to one.
    Scan(scan::ScanArgs),
    /// Files linked to contacts (contract scans, cards, quotations, photos).
    #[command(subcommand)]
    Attachment(attach::AttachmentCmd),
    /// Likely duplicates of a phone, email, or name at a company, best first.
    DupCheck(dedup::DupCheckArgs),
    /// Import contacts from a .csv (UTF-8 or GBK) or .xlsx file, in one transaction.
    Import(import::ImportArgs),
    /// The device lease.
    #[command(subcommand)]
    Lease(security::LeaseCmd),
    /// The rep's must-contact list, best first, each customer with its reasons.
    Today {
        /// The day (YYYY-MM-DD), judged as of 09:00; default now.
        #[arg(long)]
        date: Option<String>,
    },
    /// The manager's alerts: every rep's stale deals and unverified check-ins.
    Alerts {
        /// The day (YYYY-MM-DD), judged as of 09:00; default now.
        #[arg(long)]
        date: Option<String>,
    },
    /// Deals, moved through the stages (stage gates apply).
    #[command(subcommand)]
    Deal(flow::DealCmd),
    /// Tasks (follow-ups and planned visits).
    #[command(subcommand)]
    Task(flow::TaskCmd),
    /// The tenant's flow settings and working-day calendar.
    #[command(subcommand)]
    Flow(flow::FlowCmd),
    /// Split a Chinese address into province / city / district / rest, completing what is left out.
    Address {
        /// The address, e.g. 南山区科技园.
        text: String,
    },
}

#[derive(Args, Default)]
struct ContactFieldArgs {
    /// Company name.
    #[arg(long)]
    company: Option<String>,
    /// Job title.
    #[arg(long)]
    title: Option<String>,
    /// Phone number, any common form (repeatable).
    #[arg(long = "phone")]
    phones: Vec<String>,
    /// Email address (repeatable).
    #[arg(long = "email")]
    emails: Vec<String>,
    /// Postal address.
    #[arg(long)]
    address: Option<String>,
    /// Where the lead came from.
    #[arg(long)]
    source: Option<String>,
    /// Owner (default: the user).
    #[arg(long)]
    owner: Option<String>,
    /// Free-text notes.
    #[arg(long)]
    notes: Option<String>,
    /// Any field as KEY=VALUE (repeatable); unknown keys are kept in `extra`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

#[derive(Subcommand)]
enum ContactCmd {
    /// Add a contact; prints it.
    Add {
        /// The person's name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        fields: ContactFieldArgs,
    },
    /// Show one contact.
    Get {
        /// Contact id.
        id: String,
    },
    /// Change fields of a contact; `--phone`/`--email` replace the lists.
    Edit {
        /// Contact id.
        id: String,
        /// New name.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        fields: ContactFieldArgs,
        /// Remove a field or an extra key (repeatable).
        #[arg(long = "unset", value_name = "KEY")]
        unset: Vec<String>,
    },
    /// Set where the customer is: check-ins are judged against it. Prints the contact.
    Locate {
        /// Contact id.
        id: String,
        /// Latitude in degrees.
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude in degrees.
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
        /// The coordinate system of --lat/--lon: wgs84 (GPS), gcj02 (AMap, Tencent Maps) or
        /// bd09 (Baidu Maps); stored in WGS-84.
        #[arg(long, default_value = "wgs84", value_parser = parse_coords)]
        coords: CoordSystem,
    },
    /// List contacts, most recently changed first.
    List {
        /// Also list invalid (soft-deleted) contacts.
        #[arg(long)]
        include_invalid: bool,
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Mark a contact invalid (it is hidden, never deleted).
    Invalidate {
        /// Contact id.
        id: String,
        /// Why.
        #[arg(long)]
        reason: String,
    },
    /// Bring back a contact marked invalid (active again; its history keeps the invalidation).
    Restore {
        /// Contact id.
        id: String,
    },
    /// Who changed what, when.
    History {
        /// Contact id.
        id: String,
    },
    /// Fields edited concurrently on several devices: [{field, values: [{value, actor, at}]}].
    Conflicts {
        /// Contact id.
        id: String,
    },
    /// Choose one of the competing values of a conflicting field (as `conflicts` lists them);
    /// it supersedes the others everywhere. A field without a conflict is changed with `edit`.
    Resolve {
        /// Contact id.
        id: String,
        /// The field (`title`, `company`, an extra key, ... ; `phones`/`emails` take a comma list).
        field: String,
        /// The value to keep: one of the competing values.
        value: String,
        /// Write VALUE although none of the competing values had it (validated like an edit).
        #[arg(long)]
        new_value: bool,
    },
    /// Merge LOSER_ID into WINNER_ID; prints the winner. The loser is kept, marked merged.
    Merge {
        /// The contact that stays.
        winner_id: String,
        /// The duplicate merged into it.
        loser_id: String,
    },
    /// Restore a merged contact as a contact of its own; the winner gives back what the merge
    /// copied into it (values changed since stay).
    Unmerge {
        /// The merged contact.
        loser_id: String,
    },
}

#[derive(Subcommand)]
enum VisitCmd {
    /// Check in at a contact.
    CheckIn {
        /// The contact visited.
        contact_id: String,
        /// Latitude in degrees.
        #[arg(long, allow_negative_numbers = true)]
        lat: f64,
        /// Longitude in degrees.
        #[arg(long, allow_negative_numbers = true)]
        lon: f64,
        /// Position accuracy in metres.
        #[arg(long)]
        accuracy: Option<f64>,
        /// Device time (RFC 3339); default now.
        #[arg(long)]
        device_time: Option<String>,
        /// Monotonic clock in ms; default this machine's time since boot, where known.
        #[arg(long)]
        elapsed_ms: Option<i64>,
        /// The platform reported a mock (fake) location.
        #[arg(long)]
        mock_location: bool,
        /// The coordinate system of --lat/--lon: wgs84 (GPS), gcj02 (AMap, Tencent Maps) or
        /// bd09 (Baidu Maps); stored in WGS-84.
        #[arg(long, default_value = "wgs84", value_parser = parse_coords)]
        coords: CoordSystem,
    },
    /// Check out with notes and the next follow-up date.
    CheckOut {
        /// Visit id.
        visit_id: String,
        /// What happened.
        #[arg(long)]
        notes: Option<String>,
        /// Next follow-up date, YYYY-MM-DD.
        #[arg(long)]
        next_follow_up: Option<String>,
    },
    /// List visits of a contact and/or a day, newest first.
    List {
        /// Only this contact's visits.
        #[arg(long)]
        contact: Option<String>,
        /// Only this day's visits (YYYY-MM-DD).
        #[arg(long)]
        day: Option<String>,
        /// At most this many.
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Show one visit.
    Get {
        /// Visit id.
        id: String,
    },
    /// Who changed what on a visit.
    History {
        /// Visit id.
        id: String,
    },
}

#[derive(Subcommand)]
enum DbCmd {
    /// Run SQLite's integrity check on the database.
    Check,
    /// Move a damaged database aside (renamed next to it; nothing is deleted).
    MoveAside,
    /// Encrypt a plaintext database in place with the key (--key-file or $OUTPOST_DB_KEY).
    Encrypt,
}

pub(crate) fn parse_sets(sets: &[String]) -> Result<BTreeMap<String, String>, Error> {
    sets.iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), v.to_string())),
            None => Err(Error::validation("set", kv.clone(), "expected KEY=VALUE")),
        })
        .collect()
}

/// Largest CA file read (a bundle of a few hundred certificates).
const MAX_CA_FILE: u64 = 4 * 1024 * 1024;

/// `--ca-cert`: the PEM text of the file, checked to hold certificates.
fn read_ca_file(path: &std::path::Path) -> Result<String, Error> {
    let shown = path.display().to_string();
    let size = std::fs::metadata(path)
        .map_err(|e| Error::validation("ca_cert", &shown, e.to_string()))?
        .len();
    if size > MAX_CA_FILE {
        return Err(Error::validation(
            "ca_cert",
            &shown,
            format!("{size} bytes is no CA file (at most {MAX_CA_FILE})"),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::validation("ca_cert", &shown, e.to_string()))?;
    outpost_core::sync::client::trusted_certificates(std::slice::from_ref(&text))
        .map_err(|e| Error::validation("ca_cert", &shown, e.to_string()))?;
    Ok(text)
}

/// `--coords`: a coordinate system, or clap's error naming the ones there are.
fn parse_coords(s: &str) -> Result<CoordSystem, String> {
    CoordSystem::parse(s).map_err(|e| e.to_string())
}

/// Reads the monotonic clock since boot (Linux `/proc/uptime`), where this machine has one.
fn uptime_ms() -> Option<i64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    let secs: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some((secs * 1000.0) as i64)
}

/// `value` as a JSON value, for commands that answer with one.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value)
        .map_err(|e| Error::validation("output", "", format!("cannot render JSON: {e}")))
}

pub(crate) fn print<T: Serialize>(value: &T) -> Result<(), Error> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| Error::validation("output", "", format!("cannot render JSON: {e}")))?;
    out(&format!("{json}\n"))
}

/// Writes `text` to stdout. A reader that went away (`outpost contact list | head -1`) is not
/// an error: there is no one left to tell, so the output stops quietly.
pub(crate) fn out(text: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io {
            op: "writing to",
            path: PathBuf::from("standard output"),
            source: e,
        }),
        _ => Ok(()),
    }
}

fn patch_from(
    name: Option<String>,
    f: ContactFieldArgs,
    unset: Vec<String>,
) -> Result<ContactPatch, Error> {
    Ok(ContactPatch {
        name,
        company: f.company,
        title: f.title,
        phones: (!f.phones.is_empty()).then_some(f.phones),
        emails: (!f.emails.is_empty()).then_some(f.emails),
        address: f.address,
        source: f.source,
        owner: f.owner,
        notes: f.notes,
        set: parse_sets(&f.set)?,
        unset,
    })
}

fn run(cli: Cli) -> Result<(), Error> {
    let Cli {
        db,
        region,
        user,
        key_file,
        ca_cert,
        command,
    } = cli;
    // How to reach the sync server, for every command that does.
    let net = || -> Result<outpost_core::SyncOptions, Error> {
        Ok(outpost_core::SyncOptions {
            trusted_ca_pem: ca_cert
                .as_deref()
                .map(read_ca_file)
                .transpose()?
                .into_iter()
                .collect(),
            ..Default::default()
        })
    };
    let options = || -> Result<StoreOptions, Error> {
        let key = security::store_key(key_file.as_deref())?;
        Ok(StoreOptions {
            region: Region::parse(&region)?,
            user: user.clone(),
            key,
            ..Default::default()
        })
    };
    // The core enforces the device lease on every read and write of records; what works on a
    // locked store (sync, the lease commands, `db check`) is the core's to say.
    let open = || Store::open(&db, options()?);
    match command {
        Command::Address { text } => {
            let parsed = outpost_core::parse_address(&text);
            print(&serde_json::json!({ "full": parsed.full(), "parsed": parsed }))
        }
        Command::Db(DbCmd::MoveAside) => {
            let moved = Store::move_aside(&db)?;
            print(&serde_json::json!({ "moved_from": db, "moved_to": moved }))
        }
        Command::Db(DbCmd::Encrypt) => print(&security::encrypt(
            &db,
            security::store_key(key_file.as_deref())?,
        )?),
        Command::Db(DbCmd::Check) => {
            let store = open()?;
            let problems = store.check_integrity()?;
            print(
                &serde_json::json!({ "path": store.path(), "ok": problems.is_empty(), "problems": problems }),
            )
        }
        Command::Scan(args) => {
            let options = options()?;
            let region = options.region;
            scan::run(args, region, || Store::open(&db, options))
        }
        Command::Contact(cmd) => contact(&mut open()?, cmd),
        Command::Sync {
            server,
            token,
            attempts,
            progress,
        } => {
            let mut store = open()?;
            store.sign_in(server.as_deref(), token.as_deref())?;
            let runtime = attach::runtime()?;
            let store = std::sync::Mutex::new(store);
            let progress = progress.then(|| {
                outpost_core::ProgressSink(std::sync::Arc::new(|p: outpost_core::SyncProgress| {
                    if let Ok(line) = serde_json::to_string(&p) {
                        eprintln!("{line}");
                    }
                }))
            });
            let options = outpost_core::SyncOptions {
                attempts,
                progress,
                ..net()?
            };
            let report = runtime.block_on(outpost_core::sync_store(&store, options))?;
            let mut store = store.into_inner().unwrap_or_else(|p| p.into_inner());
            flow::note_clock(&mut store)?;
            print(&report)
        }
        Command::Enroll { server, code } => {
            let store = std::sync::Mutex::new(open()?);
            let runtime = attach::runtime()?;
            let enrolled =
                runtime.block_on(outpost_core::enroll(&store, &server, &code, net()?))?;
            print(&enrolled)
        }
        Command::Search {
            query,
            limit,
            include_invalid,
        } => print(&open()?.search(
            &query,
            &SearchOptions {
                include_invalid,
                limit: Some(limit),
            },
        )?),
        Command::Visit(cmd) => visit(&mut open()?, cmd),
        Command::Status => print(&open()?.status()?),
        Command::Metrics { json } => metrics::run(&open()?, json),
        Command::Access { json } => {
            let access = open()?.access()?;
            if json {
                return print(&access);
            }
            out(&match access {
                None => "access: unknown (no sync answer with a role yet); the server decides\n"
                    .to_string(),
                Some(a) => format!(
                    "user: {}\nrole: {}\npermissions: {}\nepoch: {}\n",
                    a.user,
                    a.role,
                    a.permissions.join(" "),
                    a.epoch
                ),
            })
        }
        Command::Attachment(cmd) => attach::run(open()?, cmd, net()?),
        Command::DupCheck(args) => print(&dedup::dup_check(&open()?, args)?),
        Command::Import(args) => print(&import::run(&mut open()?, args)?),
        Command::Lease(cmd) => print(&security::lease(&mut open()?, cmd)?),
        Command::Today { date } => print(&open()?.today(date.as_deref())?),
        Command::Alerts { date } => print(&open()?.alerts(date.as_deref())?),
        Command::Deal(cmd) => flow::deal(&mut open()?, cmd),
        Command::Task(cmd) => flow::task(&mut open()?, cmd),
        Command::Flow(cmd) => flow::flow(&mut open()?, cmd),
    }
}

/// `outpost contact ...`.
fn contact(store: &mut Store, cmd: ContactCmd) -> Result<(), Error> {
    match cmd {
        ContactCmd::Add { name, fields } => {
            let p = patch_from(Some(name), fields, Vec::new())?;
            let new = NewContact {
                name: p.name.unwrap_or_default(),
                company: p.company,
                title: p.title,
                phones: p.phones.unwrap_or_default(),
                emails: p.emails.unwrap_or_default(),
                address: p.address,
                source: p.source,
                owner: p.owner,
                notes: p.notes,
                extra: p.set,
            };
            print(&dedup::add(store, new)?)
        }
        ContactCmd::Get { id } => print(&store.get_contact(&id)?),
        ContactCmd::Edit {
            id,
            name,
            fields,
            unset,
        } => print(&store.edit_contact(&id, patch_from(name, fields, unset)?)?),
        ContactCmd::List {
            include_invalid,
            limit,
        } => print(&store.list_contacts(&ListOptions {
            include_invalid,
            limit,
        })?),
        ContactCmd::Invalidate { id, reason } => print(&store.invalidate_contact(&id, &reason)?),
        ContactCmd::Restore { id } => print(&store.restore_contact(&id)?),
        ContactCmd::History { id } => print(&store.contact_history(&id)?),
        ContactCmd::Conflicts { id } => print(&store.contact_conflicts(&id)?),
        ContactCmd::Resolve {
            id,
            field,
            value,
            new_value: false,
        } => print(&store.resolve_contact_conflict(&id, &field, &value)?),
        ContactCmd::Resolve {
            id,
            field,
            value,
            new_value: true,
        } => print(&store.resolve_contact_conflict_with_new_value(&id, &field, &value)?),
        ContactCmd::Merge {
            winner_id,
            loser_id,
        } => print(&store.merge_contacts(&winner_id, &loser_id)?),
        ContactCmd::Unmerge { loser_id } => print(&store.unmerge_contact(&loser_id)?),
        ContactCmd::Locate {
            id,
            lat,
            lon,
            coords,
        } => print(&store.locate_contact(&id, lat, lon, Some(coords))?),
    }
}

/// `outpost visit ...`.
fn visit(store: &mut Store, cmd: VisitCmd) -> Result<(), Error> {
    match cmd {
        VisitCmd::CheckIn {
            contact_id,
            lat,
            lon,
            accuracy,
            device_time,
            elapsed_ms,
            mock_location,
            coords,
        } => flow::check_in(
            store,
            CheckIn {
                contact_id,
                lat,
                lon,
                accuracy_m: accuracy,
                device_time,
                elapsed_ms: elapsed_ms.or_else(uptime_ms),
                coords: Some(coords),
            },
            mock_location,
        ),
        VisitCmd::CheckOut {
            visit_id,
            notes,
            next_follow_up,
        } => print(&store.check_out(
            &visit_id,
            CheckOut {
                notes,
                next_follow_up,
            },
        )?),
        VisitCmd::List {
            contact,
            day,
            limit,
        } => print(&store.list_visits(&VisitFilter {
            contact_id: contact,
            day,
            limit,
        })?),
        VisitCmd::Get { id } => flow::visit_get(store, &id),
        VisitCmd::History { id } => print(&store.visit_history(&id)?),
    }
}

/// The command line, each command group's description followed by its subcommands (so that
/// no help text can forget one).
fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let groups: Vec<String> = cmd
        .get_subcommands()
        .filter(|c| c.has_subcommands())
        .map(|c| c.get_name().to_string())
        .collect();
    for group in groups {
        cmd = cmd.mut_subcommand(&group, |c| {
            let names: Vec<String> = c
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .filter(|n| n != "help")
                .collect();
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            let about = about.trim_end_matches('.').to_string();
            c.about(format!("{about}: {}", names.join(", ")))
        });
    }
    cmd
}

/// Writes one line to stderr; a closed stderr loses it, nothing else.
fn say(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// An error as the one line the CLI prints: `error: <kind>: <message>`, the kind said once
/// (`Error::Scan` reads `scan: …` by itself).
fn error_line(e: &Error) -> String {
    let kind = e.kind();
    let text = e.to_string().replace('\n', " ");
    let mut message = text.as_str();
    while let Some(rest) = message
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix(": "))
    {
        message = rest;
    }
    format!("error: {kind}: {message}")
}

fn main() -> ExitCode {
    use clap::FromArgMatches;
    let parsed = command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // Clap explains over several lines; the contract is one line naming the argument.
            let text = e.to_string();
            let message = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            say(&format!(
                "error: validation: {}",
                message.trim_start_matches("error: ")
            ));
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&error_line(&e));
            ExitCode::from(match e.kind() {
                "validation" => 2,
                "not_found" => 3,
                "permission" => 4,
                _ => 1,
            })
        }
    }
}
