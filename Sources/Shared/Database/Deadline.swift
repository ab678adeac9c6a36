import Foundation

/// A database call that did not answer in time.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public let seconds: Double
    public var description: String { "no answer from the database within \(seconds) s; the call was abandoned" }
}

/// How long a loop that runs in the background (each part of the scheduler, a worker waiting
/// for work) waits for one database call before it abandons the call and goes round again.
/// A call on a connection the server closed is caught sooner, by `whileOpen`; this is the
/// bound for anything else that leaves a call unanswered, so that no loop stops for good.
public let backgroundCallLimit: Duration = .seconds(60)

/// One database call of a background loop: abandoned after `backgroundCallLimit`, and
/// cancelled with the loop, so that a stopping scheduler stops at once.
public func backgroundCall<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await abandoning(after: backgroundCallLimit, cancelWithCaller: true, operation)
}

/// Runs `operation` and returns its result, or throws `DeadlineExceeded` once `limit` has
/// passed, whichever comes first. An operation still running then is cancelled and left to
/// finish on its own, its result dropped: a query stuck on a connection that died without
/// closing (a cut network link, a server that vanished mid-commit) must not stall the caller
/// forever. Use it where dropping the result is safe, as with leases, which run out.
///
/// The operation runs in a task of its own, so the caller's cancellation reaches it only
/// with `cancelWithCaller` (a loop that stops on cancellation wants that; a worker writing
/// its last results while it shuts down does not).
public func abandoning<T: Sendable>(
    after limit: Duration, cancelWithCaller: Bool = false, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await interruptible(
        cancelWithCaller: cancelWithCaller,
        arm: { interrupt in
            let seconds = Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18
            let alarm = Alarm(after: limit) { interrupt(DeadlineExceeded(seconds: seconds)) }
            return { alarm.cancel() }
        },
        operation)
}
