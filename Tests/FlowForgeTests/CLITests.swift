import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

/// The command-line client (issue 22, item 8): the built `flowforge` binary, run as a child
/// process against the real API listening on a loopback port, with a worker beside it.
@Suite("Command line")
struct CLITests {
    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `flowforge arguments…` in an empty directory (no `.flowforge/api-token` to find unless
    /// `tokenFile` writes one) against the API at `url`.
    static func flowforge(
        _ arguments: [String], url: String, token: String? = testToken, tokenFile: String? = nil
    ) async throws -> Outcome {
        let path = MigrationAndProcessTests.executable("flowforge").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowforge-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        if let tokenFile {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent(".flowforge"), withIntermediateDirectories: true)
            try Data((tokenFile + "\n").utf8).write(to: directory.appendingPathComponent(".flowforge/api-token"))
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var environment = ["PATH": "/usr/bin:/bin", "FLOWFORGE_URL": url]
        if let token { environment["FLOWFORGE_TOKEN"] = token }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        // Blocking reads on threads of their own: the API under test answers on the
        // cooperative pool, which must not wait for the child it is answering.
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    try process.run()
                } catch {
                    continuation.resume(throwing: error)
                    return
                }
                let errors = LockedData()
                let reader = Thread { errors.set(err.fileHandleForReading.readDataToEndOfFile()) }
                reader.start()
                let output = out.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                while !errors.done { usleep(1_000) }
                continuation.resume(
                    returning: Outcome(
                        status: process.terminationStatus, stdout: String(decoding: output, as: UTF8.self),
                        stderr: String(decoding: errors.data, as: UTF8.self)))
            }
        }
    }

    final class LockedData: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Data?
        func set(_ data: Data) { lock.withLock { value = data } }
        var done: Bool { lock.withLock { value != nil } }
        var data: Data { lock.withLock { value ?? Data() } }
    }

    static func url(_ api: APIHarness) throws -> String { "http://127.0.0.1:\(try #require(api.port))" }

    static func shellWorkflow(_ api: APIHarness, _ name: String, _ script: String, extra: [String: JSONValue] = [:]) async throws -> Int64 {
        var fields: [String: JSONValue] = ["name": .string(name), "steps": [["name": "main", "kind": "shell", "command": ["sh", "-c", .string(script)]]]]
        fields.merge(extra) { _, new in new }
        let created = try await api.expect(.created, .post, "/api/workflows", json: .object(fields))
        return try #require(created["id"]?.intValue)
    }

    @Test("workflows: a table of id, name, paused, triggers, next run and last status; the token file is the default token")
    func workflows() async throws {
        try await withAPI(live: true) { api in
            let url = try Self.url(api)
            let nightly = try await api.workflow("nightly")
            _ = try await api.scheduledTrigger(nightly, cron: "0 2 * * *")
            let held = try await api.workflow("held")
            try await api.expect(.ok, .post, "/api/workflows/\(held)/pause")
            try await api.expect(.created, .post, "/api/workflows/\(held)/run")

            let listed = try await Self.flowforge(["workflows"], url: url, token: nil, tokenFile: testToken)
            #expect(listed.status == 0, "\(listed)")
            #expect(listed.stderr == "")
            let lines = listed.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            #expect(lines == [
                "ID NAME PAUSED TRIGGERS NEXT RUN LAST STATUS",
                "\(held) held yes 0 - queued",
                "\(nightly) nightly no 1 2026-01-16T02:00:00Z -",
            ], "\(listed.stdout)")
        }
    }

    @Test("run --wait: params reach the step; exit 0 and the summary when it completed, 1 when it failed; by id too")
    func runAndWait() async throws {
        try await withAPI(live: true, services: WorkerTests.worker()) { api in
            let url = try Self.url(api)
            _ = try await Self.shellWorkflow(api, "greet", #"echo "hello $FLOWFORGE_PARAM_WHO on $FLOWFORGE_PARAM_DAY""#)
            let done = try await Self.flowforge(
                ["run", "greet", "--param", "who=world", "--params", #"{"day": "2024-01-01", "n": 2}"#, "--wait"], url: url)
            #expect(done.status == 0, "\(done)")
            let lines = done.stdout.split(separator: "\n").map(String.init)
            let id = try #require(lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int64($0) }, "\(done.stdout)")
            #expect(lines.first == "execution \(id) of greet started (queued)")
            #expect(lines.contains("execution \(id): completed"))
            #expect(lines.contains { $0.hasPrefix("execution \(id) of greet: completed in ") })
            #expect(lines.contains { $0.hasPrefix("  main") && $0.contains("completed") && $0.contains("exit 0") }, "\(lines)")
            let execution = try await api.expect(.ok, .get, "/api/executions/\(id)")
            #expect(execution["params"] == ["who": "world", "day": "2024-01-01", "n": 2])
            #expect(execution.list("steps").first?["output"] == "hello world on 2024-01-01\n")

            let failing = try await Self.shellWorkflow(api, "broken", "echo oops; exit 3")
            let failed = try await Self.flowforge(["run", String(failing), "--wait"], url: url)
            #expect(failed.status == 1, "\(failed)")
            #expect(failed.stdout.contains("of broken: failed in "))
            #expect(failed.stdout.contains("step main exited with code 3"))
            #expect(failed.stdout.split(separator: "\n").contains { $0.hasPrefix("  main") && $0.contains("failed") && $0.contains("exit 3") })

            // Without --wait it only starts the run.
            let started = try await Self.flowforge(["run", "broken"], url: url)
            #expect(started.status == 0 && started.stdout.hasSuffix("of broken started (queued)\n"), "\(started)")
        }
    }

    @Test("errors: the API's sentence on stderr and exit 1; an unknown workflow; a refused connection names the URL; usage errors")
    func errors() async throws {
        try await withAPI(live: true) { api in
            let url = try Self.url(api)
            _ = try await api.workflow("strict")
            let bad = try await Self.flowforge(["run", "strict", "--param", "1st=x"], url: url)
            #expect(bad.status == 1)
            #expect(bad.stderr == "flowforge run: params.1st is not a valid parameter name: use letters, digits and underscores, not starting with a digit, at most 64 characters\n")
            #expect(bad.stdout == "")
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == 0)

            let unknown = try await Self.flowforge(["run", "nope"], url: url)
            #expect(unknown.status == 1)
            #expect(unknown.stderr == "flowforge run: no workflow is named \"nope\"; `flowforge workflows` lists them\n")

            let missing = try await Self.flowforge(["executions", "--follow", "999999"], url: url)
            #expect(missing.status == 1 && missing.stderr == "flowforge executions: execution 999999 does not exist\n", "\(missing)")

            let wrongToken = try await Self.flowforge(["workflows"], url: url, token: "not-the-token-at-all")
            #expect(wrongToken.status == 1)
            #expect(wrongToken.stderr == "flowforge workflows: a valid API token is required: send the header Authorization: Bearer <token>\n")

            let refused = try await Self.flowforge(["workflows"], url: "http://127.0.0.1:1")
            #expect(refused.status == 1)
            #expect(refused.stderr == "flowforge workflows: cannot reach FlowForge at http://127.0.0.1:1: connection refused (FLOWFORGE_URL sets the address)\n", "\(refused)")

            let usage = try await Self.flowforge(["run", "strict", "--param", "novalue"], url: url)
            #expect(usage.status == 64 && usage.stderr.contains("--param must be name=value, not \"novalue\""), "\(usage)")
        }
    }

    @Test("executions: recent runs, filtered by workflow; --follow prints status changes and step output, exit 0 only if it completed")
    func executions() async throws {
        try await withAPI(live: true, services: WorkerTests.worker()) { api in
            let url = try Self.url(api)
            let slow = try await Self.shellWorkflow(api, "slow", "echo first; sleep 1; echo second")
            let other = try await api.workflow("other")
            let run = try await api.expect(.created, .post, "/api/workflows/\(slow)/run")
            let id = try #require(run["id"]?.intValue)
            try await api.expect(.created, .post, "/api/workflows/\(other)/run")

            let followed = try await Self.flowforge(["executions", "--follow", String(id)], url: url)
            #expect(followed.status == 0, "\(followed)")
            let lines = followed.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains("execution \(id): completed"))
            #expect(lines.contains("--- step main") && lines.contains("first") && lines.contains("second"), "\(lines)")
            #expect(lines.firstIndex(of: "execution \(id): completed")! > lines.firstIndex(of: "second")!)

            let all = try await Self.flowforge(["executions"], url: url)
            #expect(all.status == 0)
            let rows = all.stdout.split(separator: "\n")
            #expect(rows.count == 3 && rows[0].hasPrefix("ID") && rows[0].contains("WORKFLOW") && rows[0].contains("STATUS"), "\(all.stdout)")
            let mine = try await Self.flowforge(["executions", "--workflow", "slow"], url: url)
            let mineRows = mine.stdout.split(separator: "\n")
            #expect(mineRows.count == 2 && mineRows[1].hasPrefix("\(id) ") && mineRows[1].contains(" slow ") && mineRows[1].contains("completed"), "\(mine.stdout)")

            let failing = try await Self.shellWorkflow(api, "fails", "exit 1")
            let bad = try await api.expect(.created, .post, "/api/workflows/\(failing)/run")
            let failed = try await Self.flowforge(["executions", "--follow", String(bad["id"]!.intValue!)], url: url)
            #expect(failed.status == 1 && failed.stdout.contains(": failed"), "\(failed)")
        }
    }

    @Test("backfill: the only scheduled trigger, a dry run and a real one; several triggers need --trigger and are listed")
    func backfill() async throws {
        try await withAPI(live: true) { api in
            let url = try Self.url(api)
            let nightly = try await api.workflow("nightly")
            let trigger = try await api.scheduledTrigger(nightly, cron: "0 6 * * *")
            let range = ["--from", "2025-01-01", "--to", "2025-01-08T00:00:00Z"]

            let dry = try await Self.flowforge(["backfill", "nightly"] + range + ["--dry-run"], url: url)
            #expect(dry.status == 0, "\(dry)")
            #expect(dry.stdout.hasPrefix("dry run of trigger \(trigger) (At 06:00, 0 6 * * * UTC): 7 times in the range, 0 of them already have a run; nothing was created\nfirst times: 2025-01-01T06:00:00Z, "), "\(dry.stdout)")
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == 0)

            let real = try await Self.flowforge(["backfill", "nightly"] + range, url: url)
            #expect(real.stdout == "backfill of trigger \(trigger) (At 06:00, 0 6 * * * UTC): created 7 runs; 0 of the range's 7 times already had one\n", "\(real)")
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE backfill") == 7)

            let second = try await api.scheduledTrigger(nightly, cron: "30 7 * * *")
            let ambiguous = try await Self.flowforge(["backfill", "nightly"] + range, url: url)
            #expect(ambiguous.status == 1)
            #expect(ambiguous.stderr == "flowforge backfill: workflow nightly has 2 scheduled triggers; choose one with --trigger: \(trigger) (At 06:00, 0 6 * * * UTC), \(second) (At 07:30, 30 7 * * * UTC)\n", "\(ambiguous)")
            let chosen = try await Self.flowforge(["backfill", String(nightly), "--trigger", String(second)] + range, url: url)
            #expect(chosen.status == 0 && chosen.stdout.contains("created 7 runs"), "\(chosen)")

            let future = try await Self.flowforge(["backfill", "nightly", "--trigger", String(second), "--from", "2026-01-01", "--to", "2027-01-01"], url: url)
            #expect(future.status == 1)
            #expect(future.stderr == "flowforge backfill: to must not be in the future: a backfill creates the runs of times that have passed\n")

            let none = try await api.workflow("manual-only")
            let nothing = try await Self.flowforge(["backfill", String(none)] + range, url: url)
            #expect(nothing.status == 1 && nothing.stderr == "flowforge backfill: workflow manual-only has no scheduled trigger to backfill\n")
        }
    }
}
