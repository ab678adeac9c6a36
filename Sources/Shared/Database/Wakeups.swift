import Foundation
import Logging
import PostgresNIO
import Synchronization

/// LISTEN on `channels` over one connection for as long as the task runs, reconnecting when
/// the connection drops. `onSubscribed` runs each time the subscriptions are (re)made, since
/// anything sent meanwhile was missed; `onNotification` gets each (channel, payload). A wake-up
/// only: callers also poll, so a lost notification delays work and never strands it.
public func listen(
    _ channels: [NotificationChannel], postgres: PostgresClient, logger: Logger,
    onSubscribed: @escaping @Sendable () -> Void,
    onNotification: @escaping @Sendable (_ channel: NotificationChannel, _ payload: String) -> Void
) async {
    while !Task.isCancelled {
        do {
            try await postgres.withOpenConnection { connection in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for channel in channels {
                        group.addTask {
                            try await connection.listen(on: channel.rawValue) { notifications in
                                onSubscribed()
                                for try await notification in notifications { onNotification(channel, notification.payload) }
                            }
                        }
                    }
                    // One subscription ending (the connection dropped) ends them all, and we reconnect.
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch {
            if Task.isCancelled { return }
            logger.debug("LISTEN interrupted", metadata: ["channels": "\(channels.map(\.rawValue))", "error": "\(error)"])
        }
        try? await Task.sleep(for: .seconds(1))
    }
}

/// A wake-up signal: `wait(upTo:)` returns early when `wake()` was called since the last wait.
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: (id: UUID, continuation: CheckedContinuation<Void, Never>)?
    }

    private let state = Mutex(State())

    public init() {}

    public func wake() {
        let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }

    private func resume(_ id: UUID) {
        let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }

    public func wait(upTo timeout: Duration) async {
        let id = UUID()
        var alarm: Alarm?
        // A wait that is woken calls off its alarm: a worker woken hundreds of times a second
        // would otherwise leave as many to go off, each a thread woken for nothing.
        defer { alarm?.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = (id, continuation)
                    return false
                }
                if ready {
                    continuation.resume()
                    return
                }
                alarm = Alarm(after: timeout) { [weak self] in self?.resume(id) }
            }
        } onCancel: {
            resume(id)
        }
    }
}
