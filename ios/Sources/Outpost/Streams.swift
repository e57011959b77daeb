// Change streams over the generated callback interface (not generated: kept in git).
import Foundation

private final class StreamListener: ChangeListener {
    private let continuation: AsyncStream<RecordChange>.Continuation

    init(_ continuation: AsyncStream<RecordChange>.Continuation) {
        self.continuation = continuation
    }

    func onChange(change: RecordChange) throws {
        continuation.yield(change)
    }
}

extension OutpostStore {
    /// Every change of a record, as an `AsyncStream`: each `for await` loop registers its own
    /// listener (`addChangeListener`) and removes it when the loop ends or its task is
    /// cancelled, so any number of views can watch the store at once. Nothing is dropped: the
    /// stream buffers what a slow loop has not taken yet.
    public func changes() -> AsyncStream<RecordChange> {
        AsyncStream(bufferingPolicy: .unbounded) { continuation in
            let id = self.addChangeListener(listener: StreamListener(continuation))
            continuation.onTermination = { [weak self] _ in
                _ = self?.removeChangeListener(id: id)
            }
        }
    }
}

/// What a sync run through `syncStatus` tells.
public enum SyncEvent {
    /// How far it has come: after each bootstrap page, uploaded file, push and pull round.
    case progress(SyncProgress)
    /// It ended; the last element. A failed sync ends the stream with its `OutpostError`.
    case finished(SyncReport)
}

private final class ProgressForwarder: SyncProgressListener {
    private let continuation: AsyncThrowingStream<SyncEvent, Error>.Continuation

    init(_ continuation: AsyncThrowingStream<SyncEvent, Error>.Continuation) {
        self.continuation = continuation
    }

    func onProgress(progress: SyncProgress) throws {
        continuation.yield(.progress(progress))
    }
}

extension OutpostStore {
    /// Runs one sync and streams its progress, then its report (`for try await event in
    /// store.syncStatus()`). Give `server` and `token` together the first time, or neither.
    /// Ending the loop early cancels the sync between steps; what it stored is kept.
    public func syncStatus(server: String? = nil, token: String? = nil) -> AsyncThrowingStream<SyncEvent, Error> {
        AsyncThrowingStream(bufferingPolicy: .unbounded) { continuation in
            let task = Task {
                do {
                    let report = try await self.syncWithProgress(
                        listener: ProgressForwarder(continuation), server: server, token: token)
                    continuation.yield(.finished(report))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
