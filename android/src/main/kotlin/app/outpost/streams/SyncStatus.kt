package app.outpost.streams

import app.outpost.ffi.OutpostStore
import app.outpost.ffi.SyncProgress
import app.outpost.ffi.SyncProgressListener
import app.outpost.ffi.SyncReport
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.channelFlow

/** What a sync run through [syncStatus] tells. */
sealed interface SyncEvent {
    /** How far it has come: after each bootstrap page, uploaded file, push and pull round. */
    data class Progress(val progress: SyncProgress) : SyncEvent

    /** It ended; the last event. A failed sync ends the flow with its `OutpostException`. */
    data class Finished(val report: SyncReport) : SyncEvent
}

/**
 * Runs one sync when collected and emits its progress, then its report: a first download of
 * 100,000 records shows records stored page by page instead of nothing for its whole length.
 * Give [server] and [token] together the first time, or neither (as for `sync`). Cancelling the
 * collector cancels the sync between steps; what it had stored is kept.
 */
fun OutpostStore.syncStatus(server: String? = null, token: String? = null): Flow<SyncEvent> = channelFlow {
    val report = syncWithProgress(object : SyncProgressListener {
        override fun onProgress(progress: SyncProgress) {
            trySend(SyncEvent.Progress(progress))
        }
    }, server, token)
    send(SyncEvent.Finished(report))
}.buffer(Channel.UNLIMITED)
