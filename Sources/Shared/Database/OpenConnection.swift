import Logging
import PostgresNIO

/// The server closed the connection a call was made on (a restart, an administrator's
/// `pg_terminate_backend`, a network fault): the call did not happen, or its transaction
/// was rolled back.
public struct ConnectionClosed: Error, Sendable, CustomStringConvertible {
    public var description: String { "the database closed the connection before answering" }
}

extension PostgresConnection {
    /// How often `whileOpen` looks whether the connection is still open.
    static let closedCheckInterval: Duration = .milliseconds(250)

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
        let once = ResumeOnce()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                let watcher = Task {
                    while !self.isClosed {
                        try await Task.sleep(for: Self.closedCheckInterval)
                    }
                    // Closed: give the operation a moment to report its own error (the usual
                    // case: the connection closed while a statement was in flight).
                    try await Task.sleep(for: Self.closedCheckInterval)
                    if once.claim() {
                        once.work?.cancel()
                        continuation.resume(throwing: ConnectionClosed())
                    }
                }
                once.work = Task {
                    let result: Result<T, any Error>
                    do { result = .success(try await operation()) } catch { result = .failure(error) }
                    if once.claim() {
                        watcher.cancel()
                        continuation.resume(with: result)
                    }
                }
                if Task.isCancelled { once.work?.cancel() }  // cancelled before the handler could see the work
            }
        } onCancel: {
            once.work?.cancel()
        }
    }
}

extension PostgresClient {
    /// `withConnection`, failing with `ConnectionClosed` instead of waiting forever when the
    /// server closes the connection while `body` holds it (see `PostgresConnection.whileOpen`).
    public func withOpenConnection<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try await connection.whileOpen { try await body(connection) }
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

extension Array where Element == PostgresRow {
    /// Each row decoded as `T` (a column type or a tuple of them).
    public func decode<each T: PostgresDecodable>(_ type: (repeat each T).Type) throws -> [(repeat each T)] {
        try map { try $0.decode(type) }
    }

    /// Each row in random-access form, mapped.
    func collectRows<T>(_ transform: (PostgresRandomAccessRow) throws -> T) throws -> [T] {
        try map { try transform($0.makeRandomAccess()) }
    }
}
