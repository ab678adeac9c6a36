import Foundation
import Logging
import PostgresNIO
import Synchronization

// Workarounds for postgres-nio (1.33), in one place. Each says what it guards against; each can
// go once postgres-nio does the same itself, which its test shows:
//
// - `PostgresConnection.whileOpen` (with `CloseWatch`): a statement sent on a connection the
//   server already closed is never answered. Can go when such a statement fails instead
//   (`ClosedConnectionTests` sends one).
// - `PostgresClient.withOpenConnection` (with `ConnectionWait`, `LeaseState`): a caller waiting
//   for a pooled connection waits until the pool has failed to connect for a minute. Can go
//   when the pool can bound a caller's wait itself; the API relies on the bound to answer 503.
//   `withOpenTransaction` and `rows` are `withTransaction` and `query` through it.
// - `abandoning` and `backgroundCall` (with `DeadlineExceeded`): a statement on a connection
//   that died without closing (a cut network link, a vanished server) is never answered, and
//   postgres-nio has no statement timeout of its own. Can go when it has one.
// - `interruptible`: what the three above share; goes with the last of them.
// - Not code, a setting: the pool keeps no idle connections open (`minimumConnections` 0). Open
//   ones would avoid its 60 s idle timer per returned connection, but the pool has crashed
//   with them after connections dropped (postgres-nio issues 479 and 539; the multi-host test's
//   worker died once with SIGILL after the PostgreSQL restart). Can change when those are fixed.

// MARK: - The connection closed: whileOpen

/// The server closed the connection a call was made on (a restart, an administrator's
/// `pg_terminate_backend`, a network fault): the call did not happen, or its transaction
/// was rolled back.
public struct ConnectionClosed: Error, Sendable, CustomStringConvertible {
    public var description: String { "the database closed the connection before answering" }
}

extension PostgresConnection {
    /// How long `whileOpen` lets an operation report its own error once its connection closed.
    static let closedGrace: Duration = .milliseconds(250)

    /// Runs `operation` on this connection, or throws `ConnectionClosed` once the connection
    /// is closed, whichever comes first.
    ///
    /// postgres-nio (1.33) never answers a statement sent on a connection the server has
    /// already closed: the request is dropped and its caller waits forever. Whoever holds a
    /// connection across statements (a transaction) meets this when PostgreSQL restarts
    /// between two of them. Seen: with PostgreSQL restarted every few seconds under a flow of
    /// runs, the cascaders of two schedulers each stopped for good within six restarts, one
    /// waiting on `BEGIN`, one on the statement after it. `ClosedConnectionTests` sends a
    /// statement on a terminated connection. The operation left waiting is cancelled and
    /// abandoned; the connection goes back to the pool, which drops it as closed.
    public func whileOpen<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await interruptible(
            cancelWithCaller: true,
            arm: { interrupt in
                let watch = CloseWatch.shared.watch(self) {
                    // Closed: give the operation a moment to report its own error (the usual
                    // case: the connection closed while a statement was in flight).
                    _ = Alarm(after: Self.closedGrace) { interrupt(ConnectionClosed()) }
                }
                return { CloseWatch.shared.unwatch(self, watch) }
            },
            operation)
    }
}

/// Tells whoever holds a connection now that it closed. A connection gets one callback on its
/// close future for its whole life, not one per `whileOpen`: a pooled connection serves
/// thousands of calls, and their callbacks would pile up on it until it closed. It is not a
/// poll of `isClosed`, whose timers would never stop on the LISTEN connections, which are held
/// for good: polling every 250 ms, `bench idle` measured the scheduler at 0.47–0.67 % of a core
/// and the worker at 0.45–0.48 %, against 0.27–0.32 % and 0.30–0.35 % with this.
final class CloseWatch: Sendable {
    static let shared = CloseWatch()

    private struct Watcher {
        let token: UInt64
        let onClose: @Sendable () -> Void
    }

    private struct State {
        /// The connections with a close callback, and who is watching each now.
        var connections: [ObjectIdentifier: Watcher?] = [:]
        var lastToken: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Calls `onClose` once if `connection` closes (or has closed) before `unwatch`.
    func watch(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) -> UInt64 {
        let key = ObjectIdentifier(connection)
        let (token, isNew) = state.withLock { state -> (UInt64, Bool) in
            state.lastToken += 1
            let isNew = state.connections[key] == nil
            state.connections[key] = .some(Watcher(token: state.lastToken, onClose: onClose))
            return (state.lastToken, isNew)
        }
        if isNew {
            connection.closeFuture.whenComplete { _ in
                let watcher = self.state.withLock { $0.connections.removeValue(forKey: key) }
                watcher??.onClose()
            }
        }
        return token
    }

    func unwatch(_ connection: PostgresConnection, _ token: UInt64) {
        let key = ObjectIdentifier(connection)
        state.withLock { state in
            if let watcher = state.connections[key] ?? nil, watcher.token == token { state.connections[key] = .some(nil) }
        }
    }
}

// MARK: - No connection to be had: withOpenConnection

/// No connection to the database could be had: the pool could not open one (the server is
/// down, restarting or unreachable), or none was free within `ConnectionWait.limit`. Nothing
/// was sent to the database.
public struct ConnectionUnavailable: Error, Sendable, CustomStringConvertible {
    /// What the pool reported, or nil when the wait ran out.
    public let underlying: (any Error)?
    /// How long the caller waited, when the wait ran out.
    public let waited: Duration?
    public var description: String {
        if let underlying { return "no database connection could be had: \(String(reflecting: underlying))" }
        return "no database connection was free within \(waited.map { "\($0)" } ?? "the limit")"
    }
}

/// How long a caller waits for a pooled connection before failing with
/// `ConnectionUnavailable`. Unset (the default), a caller waits as long as the pool keeps
/// trying: postgres-nio fails waiting callers only once it has failed to connect for a minute.
/// The API sets it for each request, so that a request answers 503 while the database is away
/// instead of hanging; only the wait for a connection is bounded, never a statement, so a
/// request that fails this way did nothing.
public enum ConnectionWait {
    @TaskLocal public static var limit: Duration?
}

/// How a call's wait for a connection ended: the connection arrived, or the wait ran out
/// first. Whichever comes first settles it.
private final class LeaseState: Sendable {
    enum Outcome { case waiting, leased, expired }

    private let outcome = Mutex(Outcome.waiting)

    var current: Outcome { outcome.withLock { $0 } }

    /// Settles the wait as `wanted` unless it is settled already; true when `wanted` is how it ended.
    func settle(_ wanted: Outcome) -> Bool {
        outcome.withLock { outcome in
            if outcome == .waiting { outcome = wanted }
            return outcome == wanted
        }
    }
}

extension PostgresClient {
    /// `withConnection`, failing with `ConnectionClosed` instead of waiting forever when the
    /// server closes the connection while `body` holds it (see `PostgresConnection.whileOpen`),
    /// and with `ConnectionUnavailable` when no connection could be had (within
    /// `ConnectionWait.limit`, when that is set).
    public func withOpenConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let state = LeaseState()
        let limit = ConnectionWait.limit
        let use: @Sendable () async throws -> T = {
            try await self.withConnection { connection in
                guard state.settle(.leased) else { throw ConnectionUnavailable(underlying: nil, waited: limit) }
                return try await connection.whileOpen { try await body(connection) }
            }
        }
        do {
            guard let limit else { return try await use() }
            let work = Task(operation: use)
            let alarm = Alarm(after: limit) { if state.settle(.expired) { work.cancel() } }
            defer { alarm.cancel() }
            return try await withTaskCancellationHandler { try await work.value } onCancel: { work.cancel() }
        } catch {
            // A failure before the connection arrived is the pool's, or the wait's, unless the
            // caller itself was cancelled.
            let outcome = state.current
            if outcome == .leased || Task.isCancelled || error is ConnectionUnavailable { throw error }
            throw outcome == .expired ? ConnectionUnavailable(underlying: nil, waited: limit) : ConnectionUnavailable(underlying: error, waited: nil)
        }
    }

    /// `withTransaction`, failing with `ConnectionClosed` instead of waiting forever when the
    /// server closes the connection mid-transaction (see `PostgresConnection.whileOpen`).
    public func withOpenTransaction<T: Sendable>(
        logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withOpenConnection { connection in
            try await connection.withTransaction(logger: logger) { try await body($0) }
        }
    }
}

extension PostgresClient {
    /// One statement on a pooled connection, its rows collected: `query`, failing with
    /// `ConnectionClosed` instead of waiting forever when the pool hands out a connection the
    /// server closed a moment before (see `PostgresConnection.whileOpen`).
    public func rows(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> [PostgresRow] {
        try await withOpenConnection { connection in
            try await connection.query(query, logger: logger, file: file, line: line).collect()
        }
    }
}

// MARK: - No answer in time: abandoning

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
            let alarm = Alarm(after: limit) { interrupt(DeadlineExceeded(seconds: limit.seconds)) }
            return { alarm.cancel() }
        },
        operation)
}

// MARK: - What they share: interruptible

/// Runs `operation` in a task of its own and returns its result, unless an interruption comes
/// first: then it throws the interruption's error at once, cancels the operation and leaves it
/// to finish on its own, its result dropped.
///
/// `arm` is called once, before the operation starts, with the function that interrupts; it
/// returns what disarms it (a timer to cancel, a watch to end), which is called when the
/// operation answers first. Whichever of the two comes first settles the call; the other is
/// ignored.
///
/// The caller's cancellation reaches the operation only with `cancelWithCaller`: a loop that
/// stops on cancellation wants that; a worker writing its last results while it shuts down
/// does not.
///
/// `abandoning` (a deadline) and `PostgresConnection.whileOpen` (the connection closing) are
/// this with different interruptions.
func interruptible<T: Sendable>(
    cancelWithCaller: Bool,
    arm: (_ interrupt: @escaping @Sendable (any Error) -> Void) -> @Sendable () -> Void,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = ResumeOnce()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let disarm = arm { error in
                if once.claim() {
                    once.work?.cancel()
                    continuation.resume(throwing: error)
                }
            }
            once.hold(Task {
                let result: Result<T, any Error>
                do { result = .success(try await operation()) } catch { result = .failure(error) }
                disarm()
                if once.claim() { continuation.resume(with: result) }
            })
            if cancelWithCaller && Task.isCancelled { once.work?.cancel() }  // cancelled before the handler could see the work
        }
    } onCancel: {
        if cancelWithCaller { once.work?.cancel() }
    }
}

/// True for the first caller only; holds the work, so an interruption can cancel it.
private final class ResumeOnce: Sendable {
    private struct State {
        var done = false
        var work: Task<Void, Never>?
    }

    private let state = Mutex(State())

    var work: Task<Void, Never>? { state.withLock { $0.work } }

    /// Keeps the work; cancels it at once if an interruption already settled the call (a
    /// deadline of zero can pass before the work is even kept).
    func hold(_ work: Task<Void, Never>) {
        let settled = state.withLock { state in
            state.work = work
            return state.done
        }
        if settled { work.cancel() }
    }

    func claim() -> Bool {
        state.withLock { state in
            defer { state.done = true }
            return !state.done
        }
    }
}
