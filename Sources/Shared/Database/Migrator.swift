import Foundation
import Logging
import PostgresNIO

/// Applies the numbered files of `sql/` once each, in order, recording what it applied.
///
/// All of it runs in one transaction behind a transaction-scoped advisory lock, so several
/// hosts may run `flowforge migrate` at once: one applies, the others wait and find nothing left.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
    }

    /// Arbitrary, fixed: the advisory-lock key every FlowForge migrator agrees on.
    static let lockKey: Int64 = 0x466C_6F77_466F_7267

    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// Loads `NNN_name.sql` files; refuses gaps and duplicate numbers.
    public init(directory: URL) throws(ConfigError) {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        } catch {
            throw ConfigError("cannot read migrations in \(directory.path): \(error.localizedDescription)")
        }
        var migrations: [Migration] = []
        for file in files {
            guard let underscore = file.firstIndex(of: "_"), let version = Int(file[..<underscore]) else {
                throw ConfigError("migration file \(file) must be named NNN_description.sql")
            }
            guard version == migrations.count + 1 else {
                throw ConfigError("migration \(file) is out of sequence: expected number \(migrations.count + 1)")
            }
            guard let sql = try? String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8) else {
                throw ConfigError("cannot read migration \(file)")
            }
            migrations.append(Migration(version: version, name: file, sql: sql))
        }
        guard !migrations.isEmpty else { throw ConfigError("no migrations found in \(directory.path)") }
        self.migrations = migrations
    }

    /// Where `sql/` is: `FLOWFORGE_SQL_DIR`, `./sql`, next to the installed binaries, or this source tree.
    public static func locateDirectory(
        environment: [String: String] = ProcessInfo.processInfo.environment, sourceFile: String = #filePath
    ) throws(ConfigError) -> URL {
        if let configured = environment["FLOWFORGE_SQL_DIR"], !configured.isEmpty {
            return URL(fileURLWithPath: configured)
        }
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        let candidates = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("sql"),
            executable.deletingLastPathComponent().appendingPathComponent("../share/flowforge/sql").standardized,
            // Sources/Shared/Database/Migrator.swift → repository root.
            URL(fileURLWithPath: sourceFile).deletingLastPathComponent().appendingPathComponent("../../../sql").standardized,
        ]
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("001_initial.sql").path) {
            return candidate
        }
        throw ConfigError("cannot find FlowForge's sql/ migrations; set FLOWFORGE_SQL_DIR to the folder that holds them")
    }

    /// Applies what is missing; returns the names it applied (empty when up to date).
    @discardableResult
    public func migrate(client: PostgresClient, logger: Logger) async throws -> [String] {
        try await client.withOpenTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.lockKey))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS flowforge", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS flowforge.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied: [Int: String] = [:]
            let rows = try await connection.query("SELECT version, checksum FROM flowforge.schema_migrations", logger: logger)
            for try await (version, checksum) in rows.decode((Int, String).self) { applied[version] = checksum }

            var names: [String] = []
            for migration in migrations {
                let checksum = Self.checksum(migration.sql)
                if let existing = applied[migration.version] {
                    guard existing == checksum else {
                        throw ConfigError("migration \(migration.name) was edited after it was applied; add a new migration instead")
                    }
                    continue
                }
                for statement in Self.statements(in: migration.sql) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO flowforge.schema_migrations (version, name, checksum) VALUES (\(migration.version), \(migration.name), \(checksum))",
                    logger: logger)
                logger.info("applied migration", metadata: ["migration": "\(migration.name)"])
                names.append(migration.name)
            }
            return names
        }
    }

    /// Splits a migration file into statements at top-level semicolons, skipping those inside
    /// comments, quoted strings and dollar-quoted bodies. (The extended protocol, which
    /// postgres-nio speaks, takes one statement at a time.)
    static func statements(in sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        let characters = Array(sql)
        var index = 0
        func flush() {
            let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
            if !statement.isEmpty { statements.append(statement) }
            current = ""
        }
        while index < characters.count {
            let character = characters[index]
            let next: Character? = index + 1 < characters.count ? characters[index + 1] : nil
            if character == "-" && next == "-" {
                while index < characters.count && characters[index] != "\n" { index += 1 }
                continue
            }
            if character == "/" && next == "*" {
                index += 2
                while index + 1 < characters.count && !(characters[index] == "*" && characters[index + 1] == "/") { index += 1 }
                index += 2
                continue
            }
            if character == "'" || character == "\"" {
                current.append(character)
                index += 1
                while index < characters.count {
                    current.append(characters[index])
                    if characters[index] == character { break }
                    index += 1
                }
                index += 1
                continue
            }
            if character == "$", let close = characters[(index + 1)...].firstIndex(of: "$"),
                characters[(index + 1)..<close].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
            {
                let tag = String(characters[index...close])
                let rest = String(characters[(close + 1)...])
                if let end = rest.range(of: tag) {
                    let body = rest[..<end.upperBound]
                    current += tag + body
                    index = close + 1 + body.count
                    continue
                }
            }
            if character == ";" {
                flush()
            } else {
                current.append(character)
            }
            index += 1
        }
        flush()
        return statements
    }

    /// FNV-1a over the file's bytes: enough to notice an edited migration.
    static func checksum(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return String(hash, radix: 16)
    }
}
