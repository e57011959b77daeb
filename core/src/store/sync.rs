//! The device side of sync, as store operations: what to push, and applying what the server
//! answered. Each step is one transaction; the network part lives in `crate::sync::client`.

pub use super::conflicts::{ConflictValue, FieldConflict};
pub use super::rejections::RejectedChange;
use super::settings::{
    self, KEY_BOOTSTRAPPED, KEY_CURSOR, KEY_LAST_SYNC, KEY_SERVER, KEY_SERVER_TIME, KEY_TOKEN,
};
use super::snapshots::{apply_prepared, apply_snapshots, merge_into, PreparedPage};
use super::{RecordKind, Store};
use crate::error::{Error, Result};
use crate::record::{self, SyncState};
use crate::sync::protocol::{
    BootstrapResponse, PushChange, SyncRequest, SyncResponse, PROTOCOL_VERSION,
};
use automerge::{AutoCommit, Change, ChangeHash};
use rusqlite::{params, Transaction, TransactionBehavior};
use std::collections::{BTreeMap, BTreeSet};

/// Local changes read from the outbox for one push.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The request to send.
    pub request: SyncRequest,
    /// Outbox sequence numbers and change hashes in the request, in order.
    pub(crate) sent: Vec<(i64, Vec<u8>)>,
}

impl Outgoing {
    /// How many local changes this push carries.
    pub fn len(&self) -> usize {
        self.sent.len()
    }

    /// Whether this push carries no local change (a pull only).
    pub fn is_empty(&self) -> bool {
        self.sent.is_empty()
    }
}

/// What one response changed locally.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Pushed changes the server acknowledged.
    pub acknowledged: u64,
    /// Refused changes undone on this device (one per change the user made; later changes that
    /// the server refused only because they came after it are written again, not counted).
    pub rejected: u64,
    /// Why, and what was undone, for each of them.
    pub rejections: Vec<RejectedChange>,
    /// Changes (or documents) received and applied.
    pub pulled: u64,
    /// Records received that now have conflicting field values.
    pub conflicted_records: BTreeSet<String>,
    /// The cursor after this response.
    pub cursor: u64,
    /// Whether the server has more for us.
    pub more: bool,
    /// Pushed changes the server could not apply yet (they depend on changes it lacks after a
    /// restore); they stay queued and go again next time.
    pub deferred: u64,
    /// The server's log was replaced (restored from a backup): this device queued again every
    /// change it made, and downloads anew (see `super::log_reset`).
    pub log_reset: bool,
}

impl Store {
    /// Remembers the sync server and this device's token. Refused on a locked store, like
    /// every write ([`Store::sign_in`] is how a locked store signs in to sync).
    pub fn set_server(&mut self, url: &str, token: &str) -> Result<()> {
        self.guard()?;
        self.remember_server(url, token)
    }

    /// Signs in before a sync: the server URL and this device's token together (remembered,
    /// as [`Store::set_server`] does; another server than before starts over with a full
    /// download), or neither to use the remembered pair. Works on a locked or wiped store:
    /// signing in and syncing is what renews the lease. Errors: [`Error::Validation`] on the
    /// missing one when only one of the pair is given, and on `server` when neither is given
    /// and none is remembered.
    pub fn sign_in(&mut self, server: Option<&str>, token: Option<&str>) -> Result<()> {
        match (server, token) {
            (Some(server), Some(token)) => self.remember_server(server, token),
            (None, None) if self.server()?.is_none() => Err(Error::validation(
                "server",
                "",
                "no sync server set: give the server URL and this device's token once (they are remembered)",
            )),
            (None, None) => Ok(()),
            (server, _) => Err(Error::validation(
                if server.is_some() { "token" } else { "server" },
                "",
                "give the server URL and the device token together, or neither to use the remembered ones",
            )),
        }
    }

    fn remember_server(&mut self, url: &str, token: &str) -> Result<()> {
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::validation(
                "server",
                url,
                "the server must be an http:// or https:// URL",
            ));
        }
        if token.trim().is_empty() {
            return Err(Error::validation("token", "", "the device token is empty"));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let previous = settings::get(&tx, KEY_SERVER)?;
        if previous.as_deref().is_some_and(|p| p != url) {
            // Another server: its log positions mean nothing here. Start over from a bootstrap.
            settings::set(&tx, KEY_CURSOR, "0")?;
            settings::set(&tx, KEY_BOOTSTRAPPED, "0")?;
        }
        settings::set(&tx, KEY_SERVER, url)?;
        settings::set(&tx, KEY_TOKEN, token.trim())?;
        tx.commit()?;
        Ok(())
    }

    /// The remembered server URL and token, if any.
    pub fn server(&self) -> Result<Option<(String, String)>> {
        let url = settings::get(&self.conn, KEY_SERVER)?;
        let token = settings::get(&self.conn, KEY_TOKEN)?;
        Ok(url.zip(token))
    }

    /// The server log position this store has applied.
    pub fn cursor(&self) -> Result<u64> {
        Ok(settings::get(&self.conn, KEY_CURSOR)?
            .and_then(|c| c.parse().ok())
            .unwrap_or(0))
    }

    /// The app version the server last acknowledged (see `SyncRequest::client`).
    pub fn reported_app_version(&self) -> Result<Option<String>> {
        settings::get(&self.conn, super::settings::KEY_REPORTED_APP)
    }

    /// Remembers that the server holds `version` as this device's app version.
    pub fn set_reported_app_version(&mut self, version: &str) -> Result<()> {
        settings::set(&self.conn, super::settings::KEY_REPORTED_APP, version)
    }

    /// How many local changes wait to be sent (refused ones being undone not counted).
    pub fn outbox_len(&self) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM outbox WHERE rejected_reason IS NULL",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Whether this store still needs its first full download.
    pub fn needs_bootstrap(&self) -> Result<bool> {
        Ok(settings::get(&self.conn, KEY_BOOTSTRAPPED)?.as_deref() != Some("1"))
    }

    /// The Automerge actor id of this store (the device id's 16 bytes).
    pub fn actor_bytes(&self) -> Vec<u8> {
        self.actor.actor_id().to_bytes().to_vec()
    }

    /// Reads up to `max_changes` pending outbox entries and builds the next sync request.
    pub fn prepare_sync(&self, max_changes: usize, limit: Option<u32>) -> Result<Outgoing> {
        let run = || -> Result<Outgoing> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT o.seq, o.change_hash, r.id, r.kind, r.doc FROM outbox o JOIN records r ON r.rid = o.rid \
                 WHERE o.rejected_reason IS NULL ORDER BY o.seq LIMIT ?1",
            )?;
            let rows = stmt.query_map([max_changes as i64], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                ))
            })?;
            let mut docs: BTreeMap<String, AutoCommit> = BTreeMap::new();
            let mut changes = Vec::new();
            let mut sent = Vec::new();
            for row in rows {
                let (seq, hash, id, kind, bytes) = row?;
                if !docs.contains_key(&id) {
                    docs.insert(id.clone(), record::load(&id, &bytes, &self.actor)?);
                }
                let Some(doc) = docs.get_mut(&id) else {
                    continue;
                };
                let Ok(hash_arr) = <[u8; 32]>::try_from(hash.as_slice()) else {
                    continue;
                };
                let Some(change) = doc.get_change_by_hash(&ChangeHash(hash_arr)) else {
                    return Err(Error::Document {
                        id,
                        reason: "an outbox change is missing from its document".into(),
                    });
                };
                changes.push(PushChange {
                    record: id,
                    kind,
                    change: change.raw_bytes().to_vec(),
                });
                sent.push((seq, hash));
            }
            let request = SyncRequest {
                v: PROTOCOL_VERSION,
                actor: self.actor_bytes(),
                cursor: self.cursor()?,
                changes,
                limit,
                client: None,
            };
            Ok(Outgoing { request, sent })
        };
        self.ctx(run())
    }

    /// Applies a sync response: acknowledged changes leave the outbox, refused ones are undone
    /// (see `core/src/store/rejections.rs`), received changes are merged into their records, and
    /// the cursor moves. One transaction: a crash before it commits leaves everything as before the sync.
    pub fn apply_sync_response(
        &mut self,
        outgoing: &Outgoing,
        response: SyncResponse,
    ) -> Result<Applied> {
        let r = self.apply_sync_response_inner(outgoing, response);
        let (applied, touched) = self.ctx(r)?;
        for (kind, id) in touched {
            self.notify_sync(&kind, &id);
        }
        Ok(applied)
    }

    fn apply_sync_response_inner(
        &mut self,
        outgoing: &Outgoing,
        response: SyncResponse,
    ) -> Result<(Applied, Vec<(String, String)>)> {
        let now = record::rfc3339_ms(Self::now_ms());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut applied = Applied {
            cursor: response.cursor,
            more: response.more,
            ..Default::default()
        };
        let rejected: BTreeMap<Vec<u8>, String> = response
            .rejected
            .into_iter()
            .map(|r| (r.hash, r.reason))
            .collect();
        let deferred: BTreeSet<Vec<u8>> = response
            .deferred
            .into_iter()
            .map(serde_bytes::ByteBuf::into_vec)
            .collect();
        for (seq, hash) in &outgoing.sent {
            if deferred.contains(hash) {
                // Waits in the outbox for the changes it depends on (see `super::log_reset`).
                applied.deferred += 1;
                continue;
            }
            match rejected.get(hash) {
                Some(reason) => {
                    tx.prepare_cached(
                        "UPDATE outbox SET rejected_reason = ?1, rejected_at = ?2 WHERE seq = ?3 AND change_hash = ?4",
                    )?
                    .execute(params![reason, now, seq, hash])?;
                }
                None => {
                    // By sequence number and hash: a replayed old answer can never remove a newer entry.
                    tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND change_hash = ?2")?
                        .execute(params![seq, hash])?;
                    applied.acknowledged += 1;
                }
            }
        }
        let known_log = super::log_reset::known(&tx)?;
        applied.log_reset = matches!(
            (&known_log, &response.log_id),
            (Some(known), Some(now)) if known != now
        );
        // Entries of another log than the one the cursor counts in are not read: the store
        // downloads that log's documents instead.
        let entries = if applied.log_reset {
            Vec::new()
        } else {
            response.entries
        };
        // Received changes, grouped by record, in log order.
        let mut by_record: BTreeMap<String, (String, Vec<Change>)> = BTreeMap::new();
        for entry in entries {
            let change = Change::from_bytes(entry.change).map_err(|e| Error::Server {
                status: 200,
                code: "bad_change".into(),
                message: format!("record {}: {e}", entry.record),
            })?;
            by_record
                .entry(entry.record)
                .or_insert_with(|| (entry.kind, Vec::new()))
                .1
                .push(change);
            applied.pulled += 1;
        }
        let mut touched = Vec::new();
        for (id, (kind, changes)) in by_record {
            let conflicted = merge_into(&tx, &self.actor, &id, &kind, |doc| {
                doc.apply_changes(changes).map_err(|e| Error::Document {
                    id: id.clone(),
                    reason: e.to_string(),
                })
            })?;
            if conflicted {
                applied.conflicted_records.insert(id.clone());
            }
            touched.push((kind, id));
        }
        // Refused changes are undone now, so that the record is never stuck behind them.
        let recovery = super::rejections::recover(&tx, &self.actor)?;
        applied.rejected = recovery.notices.len() as u64;
        applied.rejections = recovery.notices;
        for (kind, id) in recovery.touched {
            if !touched.iter().any(|(k, i)| *k == kind && *i == id) {
                touched.push((kind, id));
            }
        }
        mark_synced(&tx)?;
        if let Some(scope) = response.scope {
            if let (Some(lease_ms), Some(grace_ms)) = (scope.lease_ms, scope.grace_ms) {
                super::lease::apply_tenant_policy(&tx, lease_ms, grace_ms)?;
            }
            super::scope::store(&tx, scope)?;
        }
        match (&response.log_id, applied.log_reset) {
            (Some(log_id), true) => {
                super::log_reset::reset(&tx, &self.actor, log_id)?;
                applied.cursor = 0;
                applied.more = false;
            }
            (Some(log_id), false) => {
                super::log_reset::remember(&tx, log_id)?;
                settings::set(&tx, KEY_CURSOR, &response.cursor.to_string())?;
            }
            (None, _) => settings::set(&tx, KEY_CURSOR, &response.cursor.to_string())?,
        }
        settings::set(&tx, KEY_LAST_SYNC, &now)?;
        super::lease::renewed(&tx)?;
        settings::set(&tx, KEY_SERVER_TIME, &response.server_time_ms.to_string())?;
        tx.commit()?;
        Ok((applied, touched))
    }

    /// Applies one page of a bootstrap: each document is merged with the local record of the
    /// same id (or stored as it is). After the last page the cursor is set to `first_cursor`.
    pub fn apply_bootstrap_page(
        &mut self,
        page: BootstrapResponse,
        first_cursor: u64,
    ) -> Result<Applied> {
        let prepared = PreparedPage::new(page, &self.actor);
        self.apply_prepared_bootstrap_page(prepared, first_cursor)
    }

    /// [`Store::apply_bootstrap_page`] of a page whose documents were projected ahead, while
    /// the page before it was written ([`PreparedPage::new`] with this store's
    /// [`Store::actor`]).
    pub fn apply_prepared_bootstrap_page(
        &mut self,
        prepared: PreparedPage,
        first_cursor: u64,
    ) -> Result<Applied> {
        let page = &prepared.page;
        let last = page.next.is_none();
        let (next, log_id) = (page.next.clone(), page.log_id.clone());
        self.bulk_cache(true)?;
        let r = (|| -> Result<(Applied, Vec<(String, String)>)> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut applied = Applied {
                cursor: first_cursor,
                more: next.is_some(),
                ..Default::default()
            };
            let touched = apply_prepared(
                &tx,
                &self.actor,
                prepared.into_docs(),
                &mut applied.conflicted_records,
            )?;
            applied.pulled += touched.len() as u64;
            if next.is_none() {
                mark_synced(&tx)?;
                if let Some(log_id) = &log_id {
                    super::log_reset::remember(&tx, log_id)?;
                }
                settings::set(&tx, KEY_CURSOR, &first_cursor.to_string())?;
                settings::set(&tx, KEY_BOOTSTRAPPED, "1")?;
            }
            tx.commit()?;
            Ok((applied, touched))
        })();
        if last || r.is_err() {
            self.bulk_cache(false)?;
        }
        let (applied, touched) = self.ctx(r)?;
        for (kind, id) in touched {
            self.notify_sync(&kind, &id);
        }
        Ok(applied)
    }

    /// Gives the connection the page cache of a bulk write ([`super::BULK_CACHE_KIB`]) from the
    /// first bootstrap page, and its own back after the last one (or a failed one): at 100,000
    /// records the download ran 45 % faster.
    fn bulk_cache(&mut self, on: bool) -> Result<()> {
        match (on, self.saved_cache) {
            (true, None) => {
                let own: i64 = self.conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
                self.conn
                    .pragma_update(None, "cache_size", super::BULK_CACHE_KIB)?;
                self.saved_cache = Some(own);
            }
            (false, Some(own)) => {
                self.conn.pragma_update(None, "cache_size", own)?;
                self.saved_cache = None;
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies documents fetched with `POST /v1/records` (records that entered this user's scope):
    /// each is merged with the local record of the same id, or stored as it is, and its
    /// projection, search tokens and match keys rebuilt. One transaction; nothing is queued.
    pub fn apply_fetched_records(
        &mut self,
        docs: Vec<crate::sync::protocol::DocSnapshot>,
    ) -> Result<Applied> {
        let cursor = self.cursor()?;
        let r = (|| -> Result<(Applied, Vec<(String, String)>)> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut applied = Applied {
                cursor,
                ..Default::default()
            };
            let touched = apply_snapshots(&tx, &self.actor, docs, &mut applied.conflicted_records)?;
            applied.pulled += touched.len() as u64;
            tx.commit()?;
            Ok((applied, touched))
        })();
        let (applied, touched) = self.ctx(r)?;
        for (kind, id) in touched {
            self.notify_sync(&kind, &id);
        }
        Ok(applied)
    }

    /// Marks the bootstrap done without downloading (the server had nothing yet).
    pub fn finish_bootstrap(&mut self, cursor: u64) -> Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        settings::set(&tx, KEY_CURSOR, &cursor.to_string())?;
        settings::set(&tx, KEY_BOOTSTRAPPED, "1")?;
        tx.commit()?;
        Ok(())
    }

    fn notify_sync(&self, kind: &str, id: &str) {
        let (kind, id) = match RecordKind::parse(kind) {
            // A restricted field changed: its deal is what the app shows.
            Some(RecordKind::Restricted) => {
                match crate::access::RESTRICTED_FIELDS
                    .iter()
                    .find_map(|(f, k)| Some((id.strip_suffix(&format!("_{f}"))?, *k)))
                {
                    Some((parent, "deal")) => (RecordKind::Deal, parent),
                    _ => return,
                }
            }
            // The tenant's settings, and kinds of a newer app version, are not shown.
            Some(RecordKind::Config) | None => return,
            Some(kind) => (kind, id),
        };
        if let Some(l) = &self.listener {
            l.on_change(&super::RecordChange {
                kind,
                id: id.to_string(),
                origin: super::ChangeOrigin::Sync,
            });
        }
    }
}

/// Records with nothing pending or refused in the outbox are `synced`.
fn mark_synced(tx: &Transaction<'_>) -> Result<()> {
    // Projections carry no sync state: every query reads it from `records`.
    tx.execute(
        "UPDATE records SET sync_state = ?1 WHERE sync_state = ?2 \
         AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.rid = records.rid)",
        params![SyncState::Synced, SyncState::Local],
    )?;
    super::experience::mark_reached(tx, Store::now_ms())?;
    Ok(())
}
