import Foundation
import Logging
import PostgresNIO

/// LISTEN on a channel for as long as the task runs, reconnecting when the connection drops;
/// each notification calls `wake`. A wake-up only: callers also poll, so a lost notification
/// delays work and never strands it.
func listen(_ channel: String, postgres: PostgresClient, logger: Logger, wake: @escaping @Sendable () -> Void) async {
    while !Task.isCancelled {
        do {
            try await postgres.withConnection { connection in
                try await connection.listen(on: channel) { notifications in
                    wake()
                    for try await _ in notifications { wake() }
                }
            }
        } catch {
            if Task.isCancelled { return }
            logger.debug("LISTEN interrupted", metadata: ["channel": "\(channel)", "error": "\(error)"])
        }
        try? await Task.sleep(for: .seconds(1))
    }
}

/// A wake-up signal: `wait(upTo:)` returns early when `wake()` was called since the last wait.
final class Wakeup: @unchecked Sendable {
    private let lock = NSLock()
    private var pending = false
    private var waiter: (id: UUID, continuation: CheckedContinuation<Void, Never>)?

    func wake() {
        let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
            guard let waiter else {
                pending = true
                return nil
            }
            self.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }

    private func resume(_ id: UUID) {
        let continuation: CheckedContinuation<Void, Never>? = lock.withLock {
            guard let waiter, waiter.id == id else { return nil }
            self.waiter = nil
            return waiter.continuation
        }
        continuation?.resume()
    }

    func wait(upTo timeout: Duration) async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let ready = lock.withLock {
                    if pending || Task.isCancelled {
                        pending = false
                        return true
                    }
                    waiter = (id, continuation)
                    return false
                }
                if ready {
                    continuation.resume()
                    return
                }
                Task { [weak self] in
                    try? await Task.sleep(for: timeout)
                    self?.resume(id)
                }
            }
        } onCancel: {
            resume(id)
        }
    }
}
