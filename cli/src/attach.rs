//! `outpost attachment ...`: files linked to contacts, kept as blobs that upload with sync.

use clap::Subcommand;
use outpost_core::{Error, NewAttachment, Store};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub(crate) enum AttachmentCmd {
    /// Attach a file to a contact; prints the attachment.
    Add {
        /// The contact.
        contact_id: String,
        /// The file (at most 32 MB).
        file: PathBuf,
        /// contract, card, quotation, photo or other.
        #[arg(long, default_value = "other")]
        category: String,
        /// Media type (default: from the file's extension).
        #[arg(long)]
        mime: Option<String>,
        /// A short title.
        #[arg(long)]
        title: Option<String>,
        /// The deal it belongs to.
        #[arg(long)]
        deal: Option<String>,
        /// A field read from the file, as KEY=VALUE (repeatable).
        #[arg(long = "field", value_name = "KEY=VALUE")]
        fields: Vec<String>,
    },
    /// Show one attachment.
    Get {
        /// Attachment id.
        id: String,
    },
    /// The attachments of a contact, newest first.
    List {
        /// The contact.
        contact_id: String,
    },
    /// Write an attachment's file (downloaded from the sync server if this device lacks it).
    Fetch {
        /// Attachment id.
        id: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
    },
}

/// The media type of a file from its extension.
pub(crate) fn mime_for(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("heic" | "heif") => "image/heic",
        Some("pdf") => "application/pdf",
        Some("txt") => "text/plain",
        _ => "application/octet-stream",
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        op: "reading",
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        op: "writing",
        path: path.to_path_buf(),
        source,
    })
}

/// A single-threaded runtime for one network call.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Network {
            message: format!("cannot start the network runtime: {e}"),
        })
}

pub(crate) fn run(
    store: Store,
    cmd: AttachmentCmd,
    net: outpost_core::SyncOptions,
) -> Result<(), Error> {
    let mut store = store;
    match cmd {
        AttachmentCmd::Add {
            contact_id,
            file,
            category,
            mime,
            title,
            deal,
            fields,
        } => {
            let bytes = read_file(&file)?;
            let attachment = store.attach(NewAttachment {
                contact_id,
                deal_id: deal,
                category,
                mime: mime.unwrap_or_else(|| mime_for(&file).to_string()),
                bytes,
                title,
                fields: crate::parse_sets(&fields)?,
                text: None,
            })?;
            crate::print(&attachment)
        }
        AttachmentCmd::Get { id } => crate::print(&store.get_attachment(&id)?),
        AttachmentCmd::List { contact_id } => crate::print(&store.list_attachments(&contact_id)?),
        AttachmentCmd::Fetch { id, out } => {
            let attachment = store.get_attachment(&id)?;
            let store = std::sync::Mutex::new(store);
            let bytes = runtime()?.block_on(outpost_core::fetch_blob(
                &store,
                &attachment.blob_sha256,
                net,
            ))?;
            write_file(&out, &bytes)?;
            crate::print(&serde_json::json!({
                "id": attachment.id,
                "sha256": attachment.blob_sha256,
                "bytes": bytes.len(),
                "out": out,
            }))
        }
    }
}
