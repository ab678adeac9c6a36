import Foundation

/// A database call that did not answer in time.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public let seconds: Double
    public var description: String { "no answer from the database within \(seconds) s; the call was abandoned" }
}

/// Runs `operation` and returns its result, or throws `DeadlineExceeded` once `limit` has
/// passed, whichever comes first. An operation still running then is cancelled and left to
/// finish on its own, its result dropped: a query stuck on a connection that died without
/// closing (a cut network link, a server that vanished mid-commit) must not stall the caller
/// forever. Use it where dropping the result is safe, as with leases, which run out.
public func abandoning<T: Sendable>(
    after limit: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = ResumeOnce()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let timer = Task {
            try await Task.sleep(for: limit)
            if once.claim() {
                once.work?.cancel()
                let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
                continuation.resume(throwing: DeadlineExceeded(seconds: seconds))
            }
        }
        once.work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            if once.claim() {
                timer.cancel()  // no sleeping timer is left behind for each call answered in time
                continuation.resume(with: result)
            }
        }
    }
}

/// True for the first caller only; holds the work, so the timer can cancel it.
private final class ResumeOnce: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    private var _work: Task<Void, Never>?

    var work: Task<Void, Never>? {
        get { lock.withLock { _work } }
        set { lock.withLock { _work = newValue } }
    }

    func claim() -> Bool {
        lock.withLock {
            defer { done = true }
            return !done
        }
    }
}
