import Foundation
import Logging
import PostgresNIO
import Synchronization

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
/// thousands of calls, and their callbacks would pile up on it until it closed. (A first
/// version looked at `isClosed` every 250 ms instead. The LISTEN connections are held for
/// good, so their timers never stopped: `bench idle` measured the scheduler at 0.47–0.67 % of
/// a core and the worker at 0.45–0.48 %, against 0.27–0.32 % and 0.30–0.35 % with this.)
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
