//! The sync protocol's messages, shared by devices and the server (see `docs/protocol.md`).
//!
//! Sync bodies are CBOR (`application/cbor`): compact, with Automerge change bytes carried as raw
//! byte strings. Errors are JSON ([`ErrorBody`]). Every message carries the protocol version `v`.

use serde::{Deserialize, Serialize};

/// The protocol version of every message but the sync request, and of every answer: version 1,
/// which every server reads.
pub const PROTOCOL_VERSION: u32 = 1;
/// The newest protocol version. Version 2 changed one message: a device sends its
/// [`SyncRequest`] in the compact form ([`CompactSyncRequest`]); every other message is the same
/// in both versions. A server reads both versions of every message; a device falls back to
/// version 1 when a server answers `unsupported_version`.
pub const LATEST_PROTOCOL_VERSION: u32 = 2;
/// Content type of sync request and response bodies.
pub const CONTENT_TYPE: &str = "application/cbor";
/// Largest request body the server accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Most changes in one push.
pub const MAX_CHANGES_PER_REQUEST: usize = 2_000;
/// Largest single Automerge change accepted, in bytes.
pub const MAX_CHANGE_BYTES: usize = 1024 * 1024;
/// Log entries (or documents) per response when the device does not say.
pub const DEFAULT_PAGE: u32 = 1_000;
/// Most log entries (or documents) per response.
pub const MAX_PAGE: u32 = 10_000;

/// One local change pushed to the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushChange {
    /// The record id (UUID string).
    pub record: String,
    /// The record kind (`contact`, `visit`, ...).
    pub kind: String,
    /// The Automerge change, as `Change::raw_bytes`.
    #[serde(with = "serde_bytes")]
    pub change: Vec<u8>,
}

/// `POST /v1/sync`: push local changes and pull what others wrote, in one round trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Protocol version.
    pub v: u32,
    /// The Automerge actor id of the device's store; its changes are not echoed back.
    #[serde(with = "serde_bytes")]
    pub actor: Vec<u8>,
    /// The last log sequence number the device has applied (0 at first).
    pub cursor: u64,
    /// Local changes not yet acknowledged, oldest first.
    pub changes: Vec<PushChange>,
    /// Most log entries wanted in the answer.
    pub limit: Option<u32>,
    /// What the device reports about itself, in the first request of a sync (shown by
    /// `outpost-server device list`); absent from older devices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientReport>,
}

/// `POST /v1/sync` at protocol version 2: the [`SyncRequest`] with one-letter keys, record ids as
/// their 16 bytes, kinds as small numbers, and what the server knows without being told left
/// out (see `docs/protocol.md`, "Version 2"). A one-field edit's request is about 40 bytes
/// around its change instead of about 150.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactSyncRequest {
    /// Protocol version, `2`.
    pub v: u32,
    /// The actor id; left out when the request pushes changes (they all name it, and the server
    /// takes it from the first).
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<serde_bytes::ByteBuf>,
    /// [`SyncRequest::cursor`]; left out when 0.
    #[serde(rename = "c", default, skip_serializing_if = "is_zero")]
    pub cursor: u64,
    /// [`SyncRequest::changes`], each `[record, kind, change]`.
    #[serde(rename = "p", default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<CompactChange>,
    /// [`SyncRequest::limit`]; left out for [`DEFAULT_PAGE`].
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// [`SyncRequest::client`].
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub client: Option<CompactReport>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One pushed change at version 2: a CBOR array `[record, kind, change]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactChange(
    pub WireRecordId,
    pub WireKind,
    #[serde(with = "serde_bytes")] pub Vec<u8>,
);

/// [`ClientReport`] at version 2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactReport {
    /// [`ClientReport::app_version`].
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// [`ClientReport::outbox`].
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub outbox: Option<u64>,
}

/// A record id on the wire at version 2: a canonical (lower-case, hyphenated) UUID as its 16
/// bytes, any other id as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireRecordId(pub String);

impl Serialize for WireRecordId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match uuid::Uuid::try_parse(&self.0) {
            Ok(u) if u.hyphenated().to_string() == self.0 => s.serialize_bytes(u.as_bytes()),
            _ => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for WireRecordId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = WireRecordId;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a record id: a UUID's 16 bytes or text")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireRecordId, E> {
                Ok(WireRecordId(v.to_string()))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<WireRecordId, E> {
                uuid::Uuid::from_slice(v)
                    .map(|u| WireRecordId(u.hyphenated().to_string()))
                    .map_err(|_| E::invalid_length(v.len(), &"16 bytes"))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// The record kinds' numbers at version 2 (fixed: a number is never given to another kind).
const KIND_NUMBERS: [(u64, crate::record::RecordKind); 7] = {
    use crate::record::RecordKind::*;
    [
        (1, Contact),
        (2, Visit),
        (3, Attachment),
        (4, Deal),
        (5, Task),
        (6, Config),
        (7, Restricted),
    ]
};

/// A record kind on the wire at version 2: a number for a kind of [`KIND_NUMBERS`], any other
/// kind (a newer app's) as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireKind(pub String);

impl Serialize for WireKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match KIND_NUMBERS.iter().find(|(_, k)| k.as_str() == self.0) {
            Some((n, _)) => s.serialize_u64(*n),
            None => s.serialize_str(&self.0),
        }
    }
}

impl<'de> Deserialize<'de> for WireKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = WireKind;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a record kind: its number or its name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<WireKind, E> {
                Ok(WireKind(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<WireKind, E> {
                KIND_NUMBERS
                    .iter()
                    .find(|(n, _)| *n == v)
                    .map(|(_, k)| WireKind(k.as_str().to_string()))
                    .ok_or_else(|| E::custom(format!("unknown record kind number {v}")))
            }
        }
        d.deserialize_any(Visit)
    }
}

impl SyncRequest {
    /// The version-2 form of this request.
    pub fn to_compact(&self) -> CompactSyncRequest {
        CompactSyncRequest {
            v: 2,
            actor: (self.changes.is_empty() && !self.actor.is_empty())
                .then(|| serde_bytes::ByteBuf::from(self.actor.clone())),
            cursor: self.cursor,
            changes: self
                .changes
                .iter()
                .map(|c| {
                    CompactChange(
                        WireRecordId(c.record.clone()),
                        WireKind(c.kind.clone()),
                        c.change.clone(),
                    )
                })
                .collect(),
            limit: self.limit.filter(|l| *l != DEFAULT_PAGE),
            client: self.client.as_ref().map(|c| CompactReport {
                app_version: c.app_version.clone(),
                outbox: c.outbox,
            }),
        }
    }

    /// The request's body at protocol `version` (1 or 2; 1 for anything below 2).
    pub fn encode_as(&self, version: u32) -> Vec<u8> {
        if version >= 2 {
            encode(&self.to_compact())
        } else if self.v == 1 {
            encode(self)
        } else {
            encode(&SyncRequest {
                v: 1,
                ..self.clone()
            })
        }
    }

    /// Reads a sync request body of either version. A version-2 request that left its actor
    /// out has an empty [`SyncRequest::actor`]: the server takes it from the first change.
    pub fn decode_any(bytes: &[u8]) -> Result<SyncRequest, DecodeError> {
        #[derive(Deserialize)]
        struct Versioned {
            v: u32,
        }
        let Versioned { v } = decode("sync request", bytes)?;
        Self::decode_version(v, bytes)
    }

    /// Reads a sync request body whose version `v` was already read (the server checks it
    /// first): one more pass over the body, not two.
    pub fn decode_version(v: u32, bytes: &[u8]) -> Result<SyncRequest, DecodeError> {
        const WHAT: &str = "sync request";
        if v < 2 {
            return decode(WHAT, bytes);
        }
        let c: CompactSyncRequest = decode(WHAT, bytes)?;
        Ok(SyncRequest {
            v: c.v,
            actor: c.actor.map(|a| a.into_vec()).unwrap_or_default(),
            cursor: c.cursor,
            changes: c
                .changes
                .into_iter()
                .map(|CompactChange(record, kind, change)| PushChange {
                    record: record.0,
                    kind: kind.0,
                    change,
                })
                .collect(),
            limit: c.limit,
            client: c.client.map(|r| ClientReport {
                app_version: r.app_version,
                outbox: r.outbox,
            }),
        })
    }
}

/// What a device reports about itself at sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientReport {
    /// The app's version (at most [`MAX_APP_VERSION_CHARS`] characters), when the server
    /// does not have it yet (the first sync, or after an update).
    #[serde(default)]
    pub app_version: Option<String>,
    /// Local changes still queued after this request's.
    #[serde(default)]
    pub outbox: Option<u64>,
}

/// The longest app version a device may report.
pub const MAX_APP_VERSION_CHARS: usize = 64;

/// `POST /v1/enroll` (JSON): trade a one-time enrolment code for a device token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollRequest {
    /// Protocol version.
    pub v: u32,
    /// The code the operator gave (`ABCDE-FGHJK`; case, spaces and dashes do not matter).
    pub code: String,
}

/// The answer to an [`EnrollRequest`]: the new device and its token, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    /// Protocol version.
    pub v: u32,
    /// The new device's id.
    pub device_id: String,
    /// Its bearer token for every later request.
    pub token: String,
    /// The tenant it joined.
    pub tenant_id: String,
    /// The user signed in on it.
    pub user: String,
    /// The user's role.
    pub role: String,
}

/// Largest `POST /v1/enroll` body the server reads.
pub const MAX_ENROLL_BODY_BYTES: usize = 1024;

/// A pushed change the server did not apply. Every pushed change not listed is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The change's hash (32 bytes).
    #[serde(with = "serde_bytes")]
    pub hash: Vec<u8>,
    /// The record it belongs to.
    pub record: String,
    /// Why, for the user (no other tenant's data in it).
    pub reason: String,
}

/// One entry of the tenant's change log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Log sequence number, increasing per tenant, never reused.
    pub seq: u64,
    /// The record id.
    pub record: String,
    /// The record kind.
    pub kind: String,
    /// The Automerge change bytes.
    #[serde(with = "serde_bytes")]
    pub change: Vec<u8>,
}

/// The answer to a [`SyncRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Protocol version.
    pub v: u32,
    /// Pushed changes that were not applied, with the reason.
    pub rejected: Vec<Rejection>,
    /// Log entries after the request's cursor that this device may see (its own are left out).
    pub entries: Vec<LogEntry>,
    /// The cursor to send next time: every entry up to it is covered by this answer.
    pub cursor: u64,
    /// Whether more entries follow after `cursor`.
    pub more: bool,
    /// The server's clock (ms since the epoch), for clock checks.
    pub server_time_ms: i64,
    /// Who the device's user is and what they may do (absent from older servers).
    #[serde(default)]
    pub scope: Option<ScopeInfo>,
    /// The identity of the server's log: made when the log is created, renewed when it is
    /// restored from a backup. A device that sees another identity than the one it synced with
    /// treats its cursor as void (see `docs/protocol.md`, "Log identity"). Absent from older
    /// servers.
    #[serde(default)]
    pub log_id: Option<String>,
    /// Hashes of pushed changes the server cannot apply yet because they depend on changes it
    /// does not have (after a restore: another device's edits it has not sent again). They are
    /// also listed in `rejected` for older devices; a device that reads this list keeps them
    /// and sends them again later instead of undoing them.
    #[serde(default)]
    pub deferred: Vec<serde_bytes::ByteBuf>,
}

/// The device user's role, permissions and scope epoch, in every [`SyncResponse`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeInfo {
    /// The tenant's scope epoch: it changes whenever what some user may see changes (a record
    /// reassigned or shared, a team or a role changed). A device that last reconciled at
    /// another epoch lists its scope ([`ScopeRequest`]) and purges or fetches the difference.
    pub epoch: u64,
    /// The signed-in user.
    pub user: String,
    /// Their role.
    pub role: String,
    /// Their permissions (see [`crate::access`]).
    pub permissions: Vec<String>,
    /// The tenant's lease: a device that has not synced for this long locks itself (ms);
    /// `None` leaves the device's own policy.
    #[serde(default)]
    pub lease_ms: Option<i64>,
    /// Then, locked for this long more, it wipes its data (ms).
    #[serde(default)]
    pub grace_ms: Option<i64>,
}

/// `POST /v1/scope`: one page of the ids of every record the device's user may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeRequest {
    /// Protocol version.
    pub v: u32,
    /// Continue after this record id (from the previous page's `next`).
    pub after: Option<String>,
    /// Most ids wanted (at most [`MAX_SCOPE_PAGE`]).
    pub limit: Option<u32>,
}

/// Most record ids per [`ScopeResponse`].
pub const MAX_SCOPE_PAGE: u32 = 50_000;

/// The answer to a [`ScopeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeResponse {
    /// Protocol version.
    pub v: u32,
    /// The scope epoch the list was read at (the first page's is the one to remember).
    pub epoch: u64,
    /// Readable record ids, ascending.
    pub records: Vec<String>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// `POST /v1/records`: the current documents of records the device's user may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsRequest {
    /// Protocol version.
    pub v: u32,
    /// The record ids (at most [`MAX_PAGE`]).
    pub ids: Vec<String>,
}

/// The answer to a [`RecordsRequest`]: the documents of the readable ids among those asked
/// for (the others are left out, without saying why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsResponse {
    /// Protocol version.
    pub v: u32,
    /// The documents, ordered by record id.
    pub docs: Vec<DocSnapshot>,
}

/// `POST /v1/bootstrap`: a new device pages through compacted documents instead of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapRequest {
    /// Protocol version.
    pub v: u32,
    /// Continue after this record id (from the previous page's `next`).
    pub after: Option<String>,
    /// Most documents wanted.
    pub limit: Option<u32>,
}

/// One compacted record document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocSnapshot {
    /// The record id.
    pub record: String,
    /// The record kind.
    pub kind: String,
    /// `AutoCommit::save` bytes.
    #[serde(with = "serde_bytes")]
    pub doc: Vec<u8>,
    /// What a device stores instead of loading `doc` (a contact's heads, last change time,
    /// conflict flag and projection; see [`super::summary`]). Left out for other kinds, by
    /// servers that predate it, and for documents written before it; devices that predate it
    /// ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "serde_bytes")]
    pub summary: Option<Vec<u8>>,
}

/// A page of documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapResponse {
    /// Protocol version.
    pub v: u32,
    /// Documents, ordered by record id.
    pub docs: Vec<DocSnapshot>,
    /// Pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
    /// The log position these documents include at least. After the last page, sync from here.
    pub cursor: u64,
    /// The identity of the log that `cursor` counts in (see [`SyncResponse::log_id`]).
    #[serde(default)]
    pub log_id: Option<String>,
}

/// Most experience events per `POST /v1/metrics` request.
pub const MAX_EXPERIENCE_EVENTS: usize = 1_000;

/// Experience event kind ([`ExperienceEvent::kind`]): a user action and its duration.
pub const KIND_ACTION: &str = "action";
/// Experience event kind: an unclean shutdown the store recovered from at open.
pub const KIND_CRASH: &str = "crash_recovered";
/// Experience event kind: a sync that failed; the name is the reason.
pub const KIND_SYNC_FAILURE: &str = "sync_failure";

/// The nearest-rank percentile `pct` (0 to 100) of ascending `sorted` values; 0 when empty.
/// The device's summary and the server's report both rank action durations with it, so that
/// their p50 and p95 agree.
pub fn percentile(sorted: &[u64], pct: u32) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = (n * pct.min(100) as usize).div_ceil(100).max(1);
    sorted[rank.min(n) - 1]
}

/// One experience event recorded on a device: how long a user action took, an unclean shutdown
/// recovered from, or a failed sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperienceEvent {
    /// The device's sequence number of the event (1, 2, 3, ...): the server keeps one event per
    /// device and number, so a resent batch is not counted twice.
    pub seq: u64,
    /// When it happened (ms since the epoch, device clock).
    pub at_ms: i64,
    /// [`KIND_ACTION`], [`KIND_CRASH`] or [`KIND_SYNC_FAILURE`].
    pub kind: String,
    /// The action (`contact.add`, `contact.quick_create`, `visit.check_in`, `search`, `import`,
    /// `sync`), the failure's reason (`network`, `auth`, `server`, ...), or empty.
    pub name: String,
    /// How long the action took in milliseconds (0 for other kinds).
    pub ms: u64,
}

/// `POST /v1/metrics`: a device's experience events and its offline-created record counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperienceBatch {
    /// Protocol version.
    pub v: u32,
    /// Events not yet acknowledged, oldest first (at most [`MAX_EXPERIENCE_EVENTS`]).
    pub events: Vec<ExperienceEvent>,
    /// Records created on the device so far (a running total, replaced on every batch).
    pub offline_created: u64,
    /// How many of them the server has acknowledged.
    pub offline_synced: u64,
}

/// The answer to [`ExperienceBatch`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperienceAck {
    /// Protocol version.
    pub v: u32,
    /// The highest event sequence number the server holds for this device (0 if none): the
    /// device need never send events up to it again.
    pub acked_seq: u64,
    /// How many events of this batch were new to the server.
    pub stored: u64,
}

/// Every error answer's JSON body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable code: `bad_request`, `unsupported_version`, `unauthorized`, `device_revoked`,
    /// `forbidden`, `not_found`, `payload_too_large`, `unsupported_media_type`, `internal`.
    pub error: String,
    /// What was wrong, for a person.
    pub message: String,
}

/// A body that is not a valid message.
#[derive(Debug, thiserror::Error)]
#[error("malformed {what}: {reason}")]
pub struct DecodeError {
    /// Which message we tried to read.
    pub what: &'static str,
    /// What the decoder said.
    pub reason: String,
}

/// Encodes a message as CBOR.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    // Writing into a Vec cannot fail for these plain structs.
    let _ = ciborium::into_writer(message, &mut out);
    out
}

/// Decodes a CBOR message, naming it in the error.
pub fn decode<T: for<'de> Deserialize<'de>>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, DecodeError> {
    ciborium::from_reader(bytes).map_err(|e| DecodeError {
        what,
        reason: e.to_string(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[7], 95), 7);
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 95), 95);
        assert_eq!(percentile(&v, 100), 100);
        assert_eq!(percentile(&[1, 2, 3], 50), 2);
    }

    #[test]
    fn round_trip_and_garbage() {
        let req = SyncRequest {
            v: PROTOCOL_VERSION,
            actor: vec![1; 16],
            cursor: 42,
            changes: vec![PushChange {
                record: "r".into(),
                kind: "contact".into(),
                change: vec![0x85, 0x6f, 0x4a, 0x83],
            }],
            limit: None,
            client: None,
        };
        let bytes = encode(&req);
        assert_eq!(
            decode::<SyncRequest>("sync request", &bytes).ok(),
            Some(req)
        );
        assert!(decode::<SyncRequest>("sync request", b"\xff\x00garbage").is_err());
        assert!(decode::<SyncRequest>("sync request", &bytes[..bytes.len() - 3]).is_err());
    }

    /// A request pushing two changes (a UUID record, a text id of an unknown kind) with a report.
    pub(crate) fn edit_request() -> SyncRequest {
        SyncRequest {
            v: PROTOCOL_VERSION,
            actor: vec![7; 16],
            cursor: 123_456,
            changes: vec![
                PushChange {
                    record: "0192f0c4-5b1e-7cc3-9d2a-3f4e5a6b7c8d".into(),
                    kind: "contact".into(),
                    change: vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3],
                },
                PushChange {
                    record: "config".into(),
                    kind: "gadget".into(),
                    change: vec![9; 5],
                },
            ],
            limit: None,
            client: Some(ClientReport {
                app_version: None,
                outbox: Some(0),
            }),
        }
    }

    #[test]
    fn version_2_is_compact_and_reads_back() -> Result<(), DecodeError> {
        let req = edit_request();
        let v1 = req.encode_as(1);
        let v2 = req.encode_as(2);
        assert!(
            v2.len() + 80 < v1.len(),
            "v1 {} bytes, v2 {}",
            v1.len(),
            v2.len()
        );
        // A version-1 body reads back whole; version 2 leaves the actor to the changes.
        assert_eq!(
            SyncRequest::decode_any(&v1)?,
            SyncRequest {
                v: 1,
                ..req.clone()
            }
        );
        let back = SyncRequest::decode_any(&v2)?;
        assert_eq!(back.v, 2);
        assert!(back.actor.is_empty());
        assert_eq!(
            back.changes, req.changes,
            "UUIDs, other ids, known and unknown kinds"
        );
        assert_eq!((back.cursor, back.limit), (123_456, None));
        assert_eq!(back.client, req.client);
        // Without changes the actor is sent: the server needs it to leave out the device's own.
        let noop = SyncRequest {
            changes: vec![],
            client: None,
            limit: Some(DEFAULT_PAGE),
            ..req
        };
        let back = SyncRequest::decode_any(&noop.encode_as(2))?;
        assert_eq!(back.actor, vec![7; 16]);
        assert_eq!(back.limit, None, "the default page is left out");
        assert!(noop.encode_as(2).len() < 32, "{}", noop.encode_as(2).len());
        Ok(())
    }

    #[test]
    fn version_2_refuses_what_it_cannot_read() {
        // A record id of 15 bytes, a kind number nobody gave, a change that is not bytes.
        let bad: [&[u8]; 3] = [
            b"\xa3\x61v\x02\x61c\x01\x61p\x81\x83\x4f000000000000000\x01\x41\x00",
            b"\xa3\x61v\x02\x61c\x01\x61p\x81\x83\x61x\x18\x63\x41\x00",
            b"\xa3\x61v\x02\x61c\x01\x61p\x81\x83\x61x\x01\x61y",
        ];
        for body in bad {
            let e = SyncRequest::decode_any(body).err().map(|e| e.to_string());
            assert!(
                e.as_deref()
                    .is_some_and(|e| e.starts_with("malformed sync request")),
                "{e:?}"
            );
        }
        let e = SyncRequest::decode_any(bad[1]).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("unknown record kind number 99")));
    }

    #[test]
    fn a_noop_request_is_tiny() {
        let req = SyncRequest {
            v: 1,
            actor: vec![7; 16],
            cursor: 123_456,
            changes: vec![],
            limit: None,
            client: None,
        };
        assert!(encode(&req).len() < 64, "{}", encode(&req).len());
    }
}
