@testable import FlowForgeShared
import Foundation
import PostgresNIO
import Testing

@Suite("Shared building blocks")
struct SharedUnitTests {
    @Test("the dependency graph finds the shortest path and the cycle an edge would close")
    func graph() {
        // 1 → 2 → 3 → 4, and a shortcut 1 → 4.
        let edges: [(upstream: Int64, downstream: Int64)] = [(1, 2), (2, 3), (3, 4), (1, 4)]
        let graph = DependencyGraph(edges: edges)
        #expect(graph.path(from: 1, to: 4) == [1, 4])
        #expect(graph.path(from: 2, to: 4) == [2, 3, 4])
        #expect(graph.path(from: 4, to: 1) == nil)
        #expect(graph.cycle(adding: 4, to: 2) == [4, 2, 3, 4])
        #expect(graph.cycle(adding: 1, to: 4) == nil)
        #expect(graph.cycle(adding: 7, to: 7) == [7, 7])
    }

    @Test("one rule for environment names: a step's env keys and a run's parameter names (those also at most 64 characters)")
    func environmentNames() {
        for name in ["A", "_", "day", "REGION_2", "_x9"] { #expect(FieldRules.isEnvironmentName(name), "\(name)") }
        for name in ["", "1st", "my-date", "Région", "a b", "x\u{0}", "é"] { #expect(!FieldRules.isEnvironmentName(name), "\(name)") }
        #expect(RunParams.isValidName(String(repeating: "a", count: 64)))
        #expect(!RunParams.isValidName(String(repeating: "a", count: 65)))
        #expect(!RunParams.isValidName("9lives"))
    }

    @Test("DATABASE_URL parsing, masking and bad values")
    func databaseURL() throws {
        let url = try DatabaseURL("postgres://ff:s%40cret@db.internal:6543/flow?sslmode=require")
        #expect(url.host == "db.internal")
        #expect(url.port == 6543)
        #expect(url.username == "ff")
        #expect(url.password == "s@cret")
        #expect(url.database == "flow")
        #expect(url.tlsMode == .require)
        #expect(url.description == "postgres://ff:***@db.internal:6543/flow")
        #expect(!url.description.contains("cret"))
        #expect(try DatabaseURL("postgresql://u@h/d").port == 5432)
        for bad in ["mysql://u@h/d", "postgres://h/d", "postgres://u@h", "not a url"] {
            #expect(throws: ConfigError("DATABASE_URL must look like postgres://user:password@host:5432/database")) {
                try DatabaseURL(bad)
            }
        }
        #expect(throws: ConfigError("DATABASE_URL sslmode must be disable, prefer or require, not maybe")) {
            try DatabaseURL("postgres://u@h/d?sslmode=maybe")
        }
    }

    @Test("settings: defaults, flags override the environment, bad values stop with one line")
    func settings() throws {
        let defaults = try Settings.load(environment: [:])
        #expect(defaults.httpHost == "127.0.0.1")
        #expect(defaults.httpPort == 8080)
        #expect(defaults.workerConcurrency == 4)
        #expect(defaults.metricsPort == nil)
        #expect(defaults.databaseURL == nil)
        #expect(defaults.workerShutdownGraceSeconds == 30)
        #expect(try Settings.load(environment: ["FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS": "45"]).workerShutdownGraceSeconds == 45)
        let overridden = try Settings.load(
            environment: ["FLOWFORGE_HTTP_PORT": "9000", "FLOWFORGE_API_TOKEN": "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb"],
            overrides: ["FLOWFORGE_HTTP_PORT": "9100"])
        #expect(overridden.httpPort == 9100)
        #expect(overridden.apiTokens == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"])
        let cases: [([String: String], String)] = [
            (["FLOWFORGE_HTTP_PORT": "eighty"], "FLOWFORGE_HTTP_PORT must be a port number from 0 to 65535, not \"eighty\""),
            (["FLOWFORGE_WORKER_CONCURRENCY": "0"], "FLOWFORGE_WORKER_CONCURRENCY must be a whole number from 1 to 1024, not \"0\""),
            (["FLOWFORGE_LOG_LEVEL": "loud"], "FLOWFORGE_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical, not \"loud\""),
            (["FLOWFORGE_API_TOKEN": "short"], "FLOWFORGE_API_TOKEN: every token must be at least 16 characters long"),
            (["FLOWFORGE_WORKER_LEASE_SECONDS": "1"], "FLOWFORGE_WORKER_LEASE_SECONDS must be a whole number from 2 to 3600, not \"1\""),
            (["FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS": "-1"],
             "FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS must be a whole number from 0 to 86400, not \"-1\""),
            (["FLOWFORGE_METRICS_PORT": "70000"], "FLOWFORGE_METRICS_PORT must be a port number from 0 to 65535, not \"70000\""),
        ]
        for (environment, message) in cases {
            #expect(throws: ConfigError(message)) { try Settings.load(environment: environment) }
        }
    }

    @Test("timestamps are RFC 3339 UTC with Z, milliseconds only when present")
    func timestamps() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_709_856_000.25)) == "2024-03-08T00:00:00.250Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        #expect(Timestamp.parse("2026-03-08T02:30:00-05:00") == Date(timeIntervalSince1970: 1_772_955_000))
        #expect(Timestamp.parse("2026-03-08T07:30:00.5Z") == Date(timeIntervalSince1970: 1_772_955_000.5))
        #expect(Timestamp.parse("tomorrow") == nil)
        #expect(Timestamp.parse("2026-02-29T00:00:00Z") == nil)
        #expect(Timestamp.parse("2026-03-08T24:00:00Z") == nil)
        #expect(Timestamp.parse("2026-03-08T02:30:00") == nil)
        #expect(Timestamp.parse("2024-02-29t00:00:00z") == Date(timeIntervalSince1970: 1_709_164_800))
        // Proleptic Gregorian, like the cron engine: year 1 is not shifted to the Julian calendar.
        #expect(Timestamp.parse("0001-01-01T00:00:00Z").map(Timestamp.format) == "0001-01-01T00:00:00Z")
        #expect(Timestamp.parse("1582-10-10T12:00:00+01:00").map(Timestamp.format) == "1582-10-10T11:00:00Z")
    }

    @Test("migrations load in order and refuse gaps")
    func migrationFiles() throws {
        let migrator = try Migrator(directory: try Migrator.locateDirectory())
        #expect(migrator.migrations.first?.name == "001_initial.sql")
        #expect(migrator.migrations.map(\.version) == Array(1...migrator.migrations.count))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ff-migrations-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("SELECT 1;".utf8).write(to: folder.appendingPathComponent("001_a.sql"))
        try Data("SELECT 1;".utf8).write(to: folder.appendingPathComponent("003_c.sql"))
        #expect(throws: ConfigError("migration 003_c.sql is out of sequence: expected number 2")) {
            try Migrator(directory: folder)
        }
    }
}

@Suite("Migration statement splitting")
struct MigrationSplitTests {
    @Test("semicolons inside comments, strings and dollar quotes do not split")
    func split() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE t (note text DEFAULT 'a;b');
            /* block; comment */ CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
            SELECT ";" AS "odd;name"
            """
        #expect(Migrator.statements(in: sql) == [
            "CREATE TABLE t (note text DEFAULT 'a;b')",
            "CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
            "SELECT \";\" AS \"odd;name\"",
        ])
    }
}

@Suite("Deadlines on database calls")
struct DeadlineTests {
    @Test("an answer in time is returned; a call that never answers is abandoned at its deadline")
    func abandonsHungCalls() async throws {
        #expect(try await abandoning(after: .seconds(5)) { 42 } == 42)
        await #expect(throws: CancellationError.self) {
            try await abandoning(after: .seconds(5)) { throw CancellationError() }
        }
        // A call stuck for good, deaf to cancellation, as on a connection that died without closing.
        let began = ContinuousClock.now
        await #expect(throws: DeadlineExceeded.self) {
            try await abandoning(after: .milliseconds(300)) {
                await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
                return 0
            }
        }
        let waited = ContinuousClock.now - began
        #expect(waited >= .milliseconds(300) && waited < .seconds(5))

        // An abandoned call is cancelled, even with a deadline that passes at once.
        let (ending, ended) = AsyncStream.makeStream(of: String.self)
        await #expect(throws: DeadlineExceeded.self) {
            try await abandoning(after: .zero) {
                do {
                    try await Task.sleep(for: .seconds(30))
                    ended.yield("slept")
                } catch {
                    ended.yield("cancelled")
                }
                return 0
            }
        }
        var endings = ending.makeAsyncIterator()
        #expect(await endings.next() == "cancelled")
    }

    @Test("an alarm goes off once its delay has passed, and never once called off")
    func alarms() async throws {
        let (rings, ring) = AsyncStream.makeStream(of: String.self)
        let began = ContinuousClock.now
        let calledOff = Alarm(after: .milliseconds(100)) { ring.yield("called off") }
        calledOff.cancel()
        _ = Alarm(after: .milliseconds(300)) { ring.yield("rang") }
        var heard = rings.makeAsyncIterator()
        #expect(await heard.next() == "rang")
        #expect(ContinuousClock.now - began >= .milliseconds(300))
    }

    @Test("the caller's cancellation reaches the call only with cancelWithCaller")
    func callerCancellation() async throws {
        // With it (a background loop that stops): the call is cancelled with its caller.
        let loop = Task {
            try await abandoning(after: .seconds(30), cancelWithCaller: true) {
                try await Task.sleep(for: .seconds(30))
                return "slept"
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let began = ContinuousClock.now
        loop.cancel()
        await #expect(throws: CancellationError.self) { try await loop.value }
        #expect(ContinuousClock.now - began < .seconds(5))

        // Without it (a worker writing its last results as it shuts down): the call goes on
        // and its answer comes back.
        let writer = Task {
            try await abandoning(after: .seconds(30)) {
                try await Task.sleep(for: .milliseconds(300))
                return "written"
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        writer.cancel()
        #expect(try await writer.value == "written")
    }
}
