package app.outpost.streams

import app.outpost.core.RecordChange
import app.outpost.ffi.ChangeListener
import app.outpost.ffi.OutpostStore
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow

/**
 * Every change of a record, as a cold [Flow]: each collector registers its own listener
 * ([OutpostStore.addChangeListener]) when it starts and removes it when it is cancelled, so any
 * number of screens can watch the store at once. A change is never dropped: the flow buffers
 * what a slow collector has not taken yet.
 *
 * Changes a write makes arrive after the write returns; those a sync merged arrive when the sync
 * ends, with origin `SYNC`.
 */
fun OutpostStore.changes(): Flow<RecordChange> = callbackFlow {
    val id = addChangeListener(object : ChangeListener {
        override fun onChange(change: RecordChange) {
            trySend(change)
        }
    })
    awaitClose { removeChangeListener(id) }
}.buffer(Channel.UNLIMITED)
