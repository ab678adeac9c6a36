import Logging
import PostgresNIO

extension PostgresRandomAccessRow {
    /// The named column, decoded; a type mismatch is a programming error in the store's SQL.
    public func column<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try self[name].decode(T.self, context: .default)
    }
}

// The same two reads for the two ways rows arrive: streamed (a statement inside a
// transaction) and collected (`PostgresClient.rows`).

extension PostgresRowSequence {
    /// Collects every row in random-access form and maps it.
    public func collectRows<T>(_ transform: (PostgresRandomAccessRow) throws -> T) async throws -> [T] {
        var result: [T] = []
        for try await row in self { result.append(try transform(row.makeRandomAccess())) }
        return result
    }
}

extension Array where Element == PostgresRow {
    /// Each row decoded as `T` (a column type or a tuple of them).
    public func decode<each T: PostgresDecodable>(_ type: (repeat each T).Type) throws -> [(repeat each T)] {
        try map { try $0.decode(type) }
    }

    /// Each row in random-access form, mapped.
    public func collectRows<T>(_ transform: (PostgresRandomAccessRow) throws -> T) throws -> [T] {
        try map { try transform($0.makeRandomAccess()) }
    }
}

/// The text of a read that `PreparedRead` runs: static, with its parameters as $1, $2, ….
protocol PreparedReadText: SendableMetatype {
    static var sql: String { get }
}

/// A read the API makes on most requests, prepared once per connection and run by name
/// after that. PostgreSQL then plans it once per connection instead of at every request: an
/// unnamed statement is planned each time it runs, and planning the workflow and trigger
/// reads (their correlated subqueries reach into executions' indexes) took 0.5–1 ms each
/// under `bench api`, longer than most of them took to run.
struct PreparedRead<Text: PreparedReadText>: PostgresPreparedStatement {
    /// The text type's name, e.g. "FlowForgeShared.WorkflowStore.SummaryPage". (The default,
    /// this type's own name, passes PostgreSQL's 63 bytes and two statements' names would be
    /// cut to the same.)
    static var name: String { String(reflecting: Text.self) }
    static var sql: String { Text.sql }
    typealias Row = PostgresRandomAccessRow
    private let bindings: PostgresBindings

    init(_ build: (inout PostgresBindings) -> Void = { _ in }) {
        var bindings = PostgresBindings()
        build(&bindings)
        self.bindings = bindings
    }

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRandomAccessRow { row.makeRandomAccess() }
}

extension PostgresClient {
    /// Runs a prepared read and maps its rows (on a connection that must stay open: see
    /// `withOpenConnection`).
    func read<Text: PreparedReadText, T>(
        _ statement: PreparedRead<Text>, logger: Logger, _ transform: (PostgresRandomAccessRow) throws -> T
    ) async throws -> [T] {
        let rows = try await withOpenConnection { connection in
            var rows: [PostgresRandomAccessRow] = []
            for try await row in try await connection.execute(statement, logger: logger) { rows.append(row) }
            return rows
        }
        return try rows.map(transform)
    }
}

extension PostgresConnection {
    /// Runs a prepared read on a connection the caller holds (a transaction) and maps its rows.
    func read<Text: PreparedReadText, T>(
        _ statement: PreparedRead<Text>, logger: Logger, _ transform: (PostgresRandomAccessRow) throws -> T
    ) async throws -> [T] {
        var result: [T] = []
        for try await row in try await execute(statement, logger: logger) { result.append(try transform(row)) }
        return result
    }
}

extension PostgresClient {
    /// Whether the database answers a query (readiness checks); throws what went wrong.
    public func ping(logger: Logger) async throws {
        _ = try await rows("SELECT 1", logger: logger)
    }
}

extension Error {
    /// PostgreSQL's SQLSTATE for a server error, e.g. "23505" for a unique violation.
    var sqlState: String? { (self as? PSQLError)?.serverInfo?[.sqlState] }
    var constraintName: String? { (self as? PSQLError)?.serverInfo?[.constraintName] }
}

/// Advisory-lock keys FlowForge agrees on across processes and hosts.
public enum AdvisoryLock {
    /// Serializes changes to the dependency graph so two halves of a cycle cannot both commit.
    public static let dependencyGraph: Int64 = 0x466C_6F77_4465_7073
    /// Serializes claims of runs whose workflow limits concurrent runs (overlap queue/skip).
    public static let overlap: Int64 = 0x466C_6F77_4F76_6572
}
