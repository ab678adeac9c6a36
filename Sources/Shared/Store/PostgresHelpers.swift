import PostgresNIO

extension PostgresRandomAccessRow {
    /// The named column, decoded; a type mismatch is a programming error in the store's SQL.
    func column<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        try self[name].decode(T.self, context: .default)
    }
}

extension PostgresRowSequence {
    /// Collects every row in random-access form and maps it.
    func collectRows<T>(_ transform: (PostgresRandomAccessRow) throws -> T) async throws -> [T] {
        var result: [T] = []
        for try await row in self { result.append(try transform(row.makeRandomAccess())) }
        return result
    }
}

extension Error {
    /// PostgreSQL's SQLSTATE for a server error, e.g. "23505" for a unique violation.
    var sqlState: String? { (self as? PSQLError)?.serverInfo?[.sqlState] }
    var constraintName: String? { (self as? PSQLError)?.serverInfo?[.constraintName] }
}

/// Advisory-lock keys FlowForge agrees on across processes and hosts.
enum AdvisoryLock {
    /// Serializes changes to the dependency graph so two halves of a cycle cannot both commit.
    static let dependencyGraph: Int64 = 0x466C_6F77_4465_7073
    /// Serializes claims of runs whose workflow limits concurrent runs (overlap queue/skip).
    static let overlap: Int64 = 0x466C_6F77_4F76_6572
}
