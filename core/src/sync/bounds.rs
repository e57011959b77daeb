//! Bounds checked on Automerge bytes from outside before Automerge parses them.
//!
//! Automerge inflates a compressed change chunk (and a document's compressed columns) with
//! `read_to_end`, and its run-length encoded columns can declare billions of operations in a
//! few bytes: a body of 255 KB inflated to 800 MiB before anything was refused. So every change
//! or sync message that comes from a device or peer is walked here first, without Automerge:
//! the chunk header is read, compressed data is inflated with a limit (and dropped at once),
//! and the number of items each column declares is counted without materialising them. Only
//! bytes that pass reach Automerge, which then checks everything else (checksums, ops).
//!
//! | bound | constant | default |
//! |---|---|---|
//! | encoded size of one change | [`MAX_CHANGE_BYTES`] | 1 MiB |
//! | inflated size of one compressed change | [`MAX_INFLATED_CHANGE_BYTES`] | 1 MiB |
//! | operations one change declares | [`MAX_CHANGE_OPS`] | 400,000 |
//! | inflated bytes of one request (push or sync message) | [`MAX_REQUEST_INFLATED_BYTES`] | 16 MiB |
//! | operations of one request | [`MAX_REQUEST_OPS`] | 4,000,000 |

use crate::sync::protocol::{MAX_BODY_BYTES, MAX_CHANGE_BYTES};
use sha2::{Digest, Sha256};
use std::io::Read;

/// The largest a compressed change may inflate to: the same as an uncompressed one's limit.
pub const MAX_INFLATED_CHANGE_BYTES: usize = MAX_CHANGE_BYTES;
/// The most operations one change may declare: replacing the longest notes
/// ([`crate::record::contact::MAX_NOTES_CHARS`] characters, one operation each) twice over.
pub const MAX_CHANGE_OPS: u64 = 4 * crate::record::contact::MAX_NOTES_CHARS as u64;
/// The most bytes all compressed data of one request (a push, a sync message) may inflate to.
pub const MAX_REQUEST_INFLATED_BYTES: usize = 2 * MAX_BODY_BYTES;
/// The most operations all changes (and documents) of one request may declare.
pub const MAX_REQUEST_OPS: u64 = 10 * MAX_CHANGE_OPS;

/// The first bytes of every Automerge chunk.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED: u8 = 2;
const BUNDLE: u8 = 3;

/// Why Automerge bytes were refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The bytes are not an Automerge chunk (or are cut short).
    #[error("not a valid Automerge change: {0}")]
    Malformed(String),
    /// The change is larger than [`MAX_CHANGE_BYTES`]. `hash` is its change hash when it is an
    /// uncompressed change chunk (computed without parsing it), so that it can be refused alone.
    #[error("change of {bytes} bytes exceeds the limit of {MAX_CHANGE_BYTES} bytes")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// Its change hash, when known without inflating it.
        hash: Option<[u8; 32]>,
    },
    /// Compressed data would inflate past the limit.
    #[error("{what} inflates past {limit} bytes")]
    Inflates {
        /// What was compressed (a change, a document column, the request's changes together).
        what: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The columns declare more operations than allowed.
    #[error("{what} declares more than {limit} operations")]
    TooManyOps {
        /// What declared them.
        what: String,
        /// The limit.
        limit: u64,
    },
    /// A chunk of a kind not accepted here (a document where a change was expected, a bundle).
    #[error("a {0} chunk is not accepted here: send changes")]
    Unexpected(&'static str),
}

/// What [`Budget::change`] read from a change chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeInfo {
    /// The change hash (the one Automerge computes), found without Automerge.
    pub hash: [u8; 32],
    /// Bytes inflated (0 for an uncompressed change).
    pub inflated: usize,
    /// Operations the change declares.
    pub ops: u64,
    /// The id of the actor that authored it.
    pub actor: Vec<u8>,
}

/// What one request may still spend: inflated bytes and declared operations. Every change and
/// document inspected through it is charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    inflated_left: usize,
    ops_left: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Self::request()
    }
}

impl Budget {
    /// The budget of one request: [`MAX_REQUEST_INFLATED_BYTES`], [`MAX_REQUEST_OPS`].
    pub fn request() -> Self {
        Self {
            inflated_left: MAX_REQUEST_INFLATED_BYTES,
            ops_left: MAX_REQUEST_OPS,
        }
    }

    /// Checks one change (a whole chunk, compressed or not) against the per-change limits and
    /// what is left of the budget, and charges it. A document or bundle chunk is refused.
    pub fn change(&mut self, bytes: &[u8]) -> Result<ChangeInfo, ChunkError> {
        if bytes.len() > MAX_CHANGE_BYTES {
            let mut c = Cursor::new(bytes);
            let hash = match header(&mut c) {
                Ok(h) if h.kind == CHANGE && c.done() => Some(change_hash(h.data)),
                _ => None,
            };
            return Err(ChunkError::TooLarge {
                bytes: bytes.len(),
                hash,
            });
        }
        let mut c = Cursor::new(bytes);
        let h = header(&mut c)?;
        if !c.done() {
            return Err(malformed("bytes after the end of the change chunk"));
        }
        let inflated;
        let body = match h.kind {
            CHANGE => {
                inflated = Vec::new();
                h.data
            }
            COMPRESSED => {
                inflated = self.inflate(h.data, "compressed change", MAX_INFLATED_CHANGE_BYTES)?;
                inflated.as_slice()
            }
            DOCUMENT => return Err(ChunkError::Unexpected("document")),
            BUNDLE => return Err(ChunkError::Unexpected("bundle")),
            other => return Err(malformed(&format!("unknown chunk type {other}"))),
        };
        let (ops, actor) = change_ops(body, self.ops_limit(MAX_CHANGE_OPS))?;
        let ops = self.charge_ops(ops)?;
        Ok(ChangeInfo {
            hash: change_hash(body),
            inflated: inflated.len(),
            ops,
            actor,
        })
    }

    /// Checks a sequence of chunks, as a sync message's changes carry them (changes, compressed
    /// changes, or a whole document), and charges them. A bundle chunk is refused.
    pub fn chunks(&mut self, bytes: &[u8]) -> Result<(), ChunkError> {
        let mut c = Cursor::new(bytes);
        while !c.done() {
            let start = c.pos;
            let h = header(&mut c)?;
            match h.kind {
                CHANGE | COMPRESSED => {
                    self.change(&bytes[start..c.pos])?;
                }
                DOCUMENT => self.document(h.data)?,
                BUNDLE => return Err(ChunkError::Unexpected("bundle")),
                other => return Err(malformed(&format!("unknown chunk type {other}"))),
            }
        }
        Ok(())
    }

    /// A document chunk's data: its compressed columns inflate within the budget and its
    /// columns declare no more changes and operations than the budget has left.
    fn document(&mut self, data: &[u8]) -> Result<(), ChunkError> {
        let mut c = Cursor::new(data);
        let actors = c.uleb()?;
        for _ in 0..actors {
            let len = c.uleb()?;
            c.take(len)?;
        }
        let heads = c.uleb()?;
        c.take(heads.saturating_mul(32))?;
        let change_columns = columns(&mut c)?;
        let op_columns = columns(&mut c)?;
        let mut declared = 0u64;
        for set in [change_columns, op_columns] {
            let mut most = 0u64;
            for (spec, len) in set {
                let bytes = c.take(len)?;
                let limit = self.ops_limit(MAX_REQUEST_OPS).saturating_sub(declared);
                let items = if spec & DEFLATE != 0 {
                    let inflated = self.inflate(bytes, "compressed document column", usize::MAX)?;
                    column_items(spec, &inflated, limit, "document")?
                } else {
                    column_items(spec, bytes, limit, "document")?
                };
                most = most.max(items);
            }
            declared = declared.saturating_add(most);
        }
        self.charge_ops(declared)?;
        Ok(())
    }

    /// Inflates `deflated`, refusing past `limit` or what is left of the budget; charges it.
    fn inflate(
        &mut self,
        deflated: &[u8],
        what: &str,
        limit: usize,
    ) -> Result<Vec<u8>, ChunkError> {
        let (limit, what) = if self.inflated_left < limit {
            (
                self.inflated_left,
                "the request's compressed data together".to_string(),
            )
        } else {
            (limit, what.to_string())
        };
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(deflated)
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| malformed(&format!("compressed data: {e}")))?;
        if out.len() > limit {
            return Err(ChunkError::Inflates { what, limit });
        }
        self.inflated_left -= out.len();
        Ok(out)
    }

    fn ops_limit(&self, limit: u64) -> u64 {
        limit.min(self.ops_left)
    }

    fn charge_ops(&mut self, ops: u64) -> Result<u64, ChunkError> {
        if ops > self.ops_left {
            return Err(ChunkError::TooManyOps {
                what: "the request's changes together".into(),
                limit: MAX_REQUEST_OPS,
            });
        }
        self.ops_left -= ops;
        Ok(ops)
    }
}

/// Checks one change on its own (a fresh [`Budget::request`]).
pub fn inspect_change(bytes: &[u8]) -> Result<ChangeInfo, ChunkError> {
    Budget::request().change(bytes)
}

/// The heads a saved document declares (32 bytes each, sorted), read from its chunk header
/// without loading it; `None` unless `bytes` are exactly one document chunk. Automerge checks
/// the chunk's checksum and contents when it loads the document; this only reads the header.
pub fn document_heads(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut c = Cursor::new(bytes);
    let h = header(&mut c).ok()?;
    if h.kind != DOCUMENT || !c.done() {
        return None;
    }
    let mut d = Cursor::new(h.data);
    let actors = d.uleb().ok()?;
    for _ in 0..actors {
        let len = d.uleb().ok()?;
        d.take(len).ok()?;
    }
    let heads = d.uleb().ok()?;
    let mut out: Vec<[u8; 32]> = d
        .take(heads.checked_mul(32)?)
        .ok()?
        .chunks_exact(32)
        .filter_map(|h| h.try_into().ok())
        .collect();
    out.sort_unstable();
    Some(out.concat())
}

fn malformed(what: &str) -> ChunkError {
    ChunkError::Malformed(what.to_string())
}

/// The deflate bit of a column specification.
const DEFLATE: u32 = 0b1000;

/// A change's hash: sha256 of its chunk type, data length and (uncompressed) data.
fn change_hash(data: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([CHANGE]);
    hasher.update(uleb_bytes(data.len() as u64));
    hasher.update(data);
    hasher.finalize().into()
}

fn uleb_bytes(mut v: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

struct Header<'a> {
    kind: u8,
    data: &'a [u8],
}

/// Reads a chunk header (magic, checksum, type, length) and the data it announces.
fn header<'a>(c: &mut Cursor<'a>) -> Result<Header<'a>, ChunkError> {
    if c.take(4)? != MAGIC {
        return Err(malformed("no Automerge magic bytes"));
    }
    c.take(4)?; // checksum, checked by Automerge
    let kind = c.take(1)?[0];
    let len = c.uleb()?;
    let data = c.take(len)?;
    Ok(Header { kind, data })
}

/// A change chunk's data: the operations its columns declare (the most items of any column).
/// Also returns the id of the actor that authored the change.
fn change_ops(data: &[u8], limit: u64) -> Result<(u64, Vec<u8>), ChunkError> {
    let mut c = Cursor::new(data);
    let deps = c.uleb()?;
    c.take(deps.saturating_mul(32))?;
    let actor_len = c.uleb()?;
    let actor = c.take(actor_len)?.to_vec();
    c.uleb()?; // seq
    c.uleb()?; // start op
    c.sleb()?; // time
    let message = c.uleb()?;
    c.take(message)?;
    let others = c.uleb()?;
    for _ in 0..others {
        let len = c.uleb()?;
        c.take(len)?;
    }
    let mut most = 0;
    for (spec, len) in columns(&mut c)? {
        let bytes = c.take(len)?;
        if spec & DEFLATE != 0 {
            return Err(malformed("a change's columns may not be compressed"));
        }
        most = most.max(column_items(spec, bytes, limit, "change")?);
    }
    Ok((most, actor))
}

/// A column layout: (specification, data length) pairs.
fn columns(c: &mut Cursor<'_>) -> Result<Vec<(u32, u64)>, ChunkError> {
    let n = c.uleb()?;
    let mut out = Vec::new();
    for _ in 0..n {
        let spec = u32::try_from(c.uleb()?).map_err(|_| malformed("column specification"))?;
        let len = c.uleb()?;
        out.push((spec, len));
    }
    Ok(out)
}

/// How many items a column's encoding declares, refusing past `limit` without reading further.
fn column_items(spec: u32, bytes: &[u8], limit: u64, what: &str) -> Result<u64, ChunkError> {
    let mut c = Cursor::new(bytes);
    let mut total: u64 = 0;
    let mut add = |n: u64| -> Result<(), ChunkError> {
        total = total.saturating_add(n);
        if total > limit {
            Err(ChunkError::TooManyOps {
                what: format!("a {what}"),
                limit,
            })
        } else {
            Ok(())
        }
    };
    match spec & 0b111 {
        // Value: raw bytes, as many items as its metadata column says.
        7 => {}
        // Boolean: alternating run lengths.
        4 => {
            while !c.done() {
                add(c.uleb()?)?;
            }
        }
        kind => {
            // Run-length encoded: a positive count repeats one value, a negative one is
            // followed by that many literal values, zero by a count of nulls.
            while !c.done() {
                let count = c.sleb()?;
                if count > 0 {
                    add(count.unsigned_abs())?;
                    skip_value(&mut c, kind)?;
                } else if count < 0 {
                    let n = count.unsigned_abs();
                    add(n)?;
                    for _ in 0..n {
                        skip_value(&mut c, kind)?;
                    }
                } else {
                    add(c.uleb()?)?;
                }
            }
        }
    }
    Ok(total)
}

/// Skips one value of a run-length encoded column of type `kind`.
fn skip_value(c: &mut Cursor<'_>, kind: u32) -> Result<(), ChunkError> {
    match kind {
        3 => {
            c.sleb()?;
        }
        5 => {
            let len = c.uleb()?;
            c.take(len)?;
        }
        _ => {
            c.uleb()?;
        }
    }
    Ok(())
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], ChunkError> {
        let left = self.bytes.len() - self.pos;
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= left)
            .ok_or_else(|| malformed("cut short"))?;
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn uleb(&mut self) -> Result<u64, ChunkError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.take(1)?[0];
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(malformed("a number overflows 64 bits"));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("a number overflows 64 bits"))
    }

    fn sleb(&mut self) -> Result<i64, ChunkError> {
        let mut value: i64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.take(1)?[0];
            if shift == 63 && byte != 0 && byte != 0x7f {
                return Err(malformed("a number overflows 64 bits"));
            }
            value |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                if shift < 64 && byte & 0x40 != 0 {
                    value |= -1i64 << shift;
                }
                return Ok(value);
            }
            if shift > 63 {
                return Err(malformed("a number overflows 64 bits"));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, AutoCommit, ObjType, ROOT};
    use std::io::Write;

    fn doc_with_notes(chars: usize) -> AutoCommit {
        let mut doc = AutoCommit::new().with_actor(ActorId::from([7u8; 16].as_slice()));
        doc.put(ROOT, "kind", "contact").unwrap();
        doc.put(ROOT, "name", "张伟").unwrap();
        if let Ok(notes) = doc.put_object(ROOT, "notes", ObjType::Text) {
            let text: String = "客户很重要".chars().cycle().take(chars).collect();
            doc.splice_text(&notes, 0, 0, &text).unwrap();
        }
        doc.commit();
        doc
    }

    fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[0, 0, 0, 0, kind]);
        out.extend(uleb_bytes(data.len() as u64));
        out.extend_from_slice(data);
        out
    }

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn real_changes_pass_with_automerges_hash_and_their_op_count() {
        let mut doc = doc_with_notes(300);
        let Some(mut change) = doc.get_last_local_change() else {
            panic!("no change");
        };
        let plain = inspect_change(change.raw_bytes());
        let Ok(plain) = plain else {
            panic!("{plain:?}")
        };
        assert_eq!(plain.hash, change.hash().0);
        assert_eq!(plain.ops, 303, "kind, name, notes and 300 characters");
        assert_eq!(plain.inflated, 0);
        // Automerge's own compressed form of the same change.
        let compressed = change.bytes().to_vec();
        assert_eq!(compressed[8], COMPRESSED);
        let Ok(info) = inspect_change(&compressed) else {
            panic!("compressed change refused")
        };
        assert_eq!(info.hash, plain.hash);
        assert!(info.inflated > 0);
        // A saved document, as a sync message may carry it, passes as a chunk sequence.
        let saved = doc.save();
        assert_eq!(Budget::request().chunks(&saved), Ok(()));
        assert_eq!(
            inspect_change(&saved),
            Err(ChunkError::Unexpected("document"))
        );
    }

    #[test]
    fn a_compressed_bomb_is_refused_after_inflating_at_most_the_limit() {
        let zeros = vec![0u8; 8 * MAX_INFLATED_CHANGE_BYTES];
        let bomb = chunk(COMPRESSED, &deflate(&zeros));
        assert!(bomb.len() < 64 * 1024);
        let mut budget = Budget::request();
        assert!(matches!(
            budget.change(&bomb),
            Err(ChunkError::Inflates { limit, .. }) if limit == MAX_INFLATED_CHANGE_BYTES
        ));
        // Nothing past the limit was kept: the budget is charged at most what was inflated.
        assert_eq!(budget.inflated_left, MAX_REQUEST_INFLATED_BYTES);
        // Many just-below-the-limit changes exhaust the request's budget instead.
        let almost = chunk(COMPRESSED, &deflate(&vec![0u8; MAX_INFLATED_CHANGE_BYTES]));
        let mut refused = None;
        for i in 0..40 {
            if let Err(e) = budget.change(&almost) {
                refused = Some((i, e));
                break;
            }
        }
        let Some((i, ChunkError::Inflates { what, .. })) = refused else {
            panic!("the request budget never ran out: {refused:?}")
        };
        assert!(i >= 15 && what.contains("together"), "{i} {what}");
    }

    /// A change of a few bytes whose action column declares a billion operations.
    fn ops_bomb() -> Vec<u8> {
        let mut data = vec![0u8]; // no dependencies
        data.push(16);
        data.extend_from_slice(&[7u8; 16]); // actor
        data.extend_from_slice(&[1, 1, 0, 0, 0]); // seq, start op, time, message, other actors
        let mut action = Vec::new();
        let mut v: i64 = 1_000_000_000;
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 && byte & 0x40 == 0 {
                action.push(byte);
                break;
            }
            action.push(byte | 0x80);
        }
        action.push(1); // the repeated value
        data.push(1); // one column
        data.extend(uleb_bytes((4 << 4) | 2)); // action, integer
        data.extend(uleb_bytes(action.len() as u64));
        data.extend(action);
        chunk(CHANGE, &data)
    }

    #[test]
    fn run_length_bombs_are_refused_by_their_declared_count() {
        assert!(matches!(
            inspect_change(&ops_bomb()),
            Err(ChunkError::TooManyOps { limit, .. }) if limit == MAX_CHANGE_OPS
        ));
    }

    #[test]
    fn oversized_plain_changes_keep_their_hash_and_garbage_is_malformed() {
        let mut doc = doc_with_notes(10);
        let Some(change) = doc.get_last_local_change() else {
            panic!("no change")
        };
        // A plain chunk past the size limit (padded message would not parse, but its hash is
        // what the device knows it by).
        let data = vec![0u8; MAX_CHANGE_BYTES + 10];
        let big = chunk(CHANGE, &data);
        assert!(matches!(
            inspect_change(&big),
            Err(ChunkError::TooLarge { hash: Some(h), .. }) if h == change_hash(&data)
        ));
        let _ = doc.save();
        let mut cut = change.raw_bytes().to_vec();
        cut.truncate(cut.len() - 3);
        assert!(matches!(
            inspect_change(&cut),
            Err(ChunkError::Malformed(_))
        ));
        assert!(matches!(
            inspect_change(b"not automerge"),
            Err(ChunkError::Malformed(_))
        ));
        assert!(matches!(
            Budget::request().chunks(&chunk(BUNDLE, b"x")),
            Err(ChunkError::Unexpected("bundle"))
        ));
    }

    #[test]
    fn a_documents_heads_are_read_from_its_header() {
        let mut a = doc_with_notes(10);
        let mut b = a.fork();
        b.put(automerge::ROOT, "title", "经理").ok();
        b.commit();
        a.put(automerge::ROOT, "title", "总监").ok();
        a.commit();
        a.merge(&mut b).ok();
        let mut expected: Vec<[u8; 32]> = a.get_heads().iter().map(|h| h.0).collect();
        assert_eq!(expected.len(), 2);
        expected.sort_unstable();
        let saved = a.save();
        assert_eq!(document_heads(&saved), Some(expected.concat()));
        let mut twice = saved.clone();
        twice.extend_from_slice(&saved);
        assert_eq!(document_heads(&twice), None, "more than one chunk");
        assert_eq!(document_heads(&saved[..saved.len() - 1]), None, "cut short");
        let change = a.get_last_local_change().map(|c| c.raw_bytes().to_vec());
        assert_eq!(
            document_heads(&change.unwrap_or_default()),
            None,
            "a change"
        );
        assert_eq!(document_heads(b"garbage"), None);
    }

    #[test]
    fn a_document_with_compressed_columns_is_inflated_within_the_budget() {
        let mut doc = doc_with_notes(20_000);
        let saved = doc.save();
        let mut budget = Budget::request();
        assert_eq!(budget.chunks(&saved), Ok(()));
        assert!(
            budget.inflated_left < MAX_REQUEST_INFLATED_BYTES,
            "the saved document has compressed columns"
        );
        assert!(budget.ops_left <= MAX_REQUEST_OPS - 20_000);
    }
}
