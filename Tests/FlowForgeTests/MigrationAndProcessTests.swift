@testable import FlowForgeScheduler
@testable import FlowForgeShared
@testable import FlowForgeWorker
import Foundation
import Hummingbird
import PostgresNIO
import Testing

@Suite("Migrations and process start-up")
struct MigrationAndProcessTests {
    @Test("migrate is idempotent and safe from several processes at once")
    func concurrentMigrate() async throws {
        try await TestDatabase.with { url in
            // TestDatabase already migrated once; four more at the same moment find nothing to do.
            let applied = try await Self.migrateConcurrently(url, times: 4)
            #expect(applied.isEmpty)
            let count = try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1), logger: TestDatabase.logger) {
                client in
                var total: Int64 = 0
                for try await value in try await client.query("SELECT count(*) FROM flowforge.schema_migrations").decode(Int64.self) {
                    total = value
                }
                return total
            }
            #expect(count == Int64(try Migrator(directory: try Migrator.locateDirectory()).migrations.count))
        }
    }

    @Test("a fresh database migrated by four processes at once ends up with every table once")
    func concurrentFirstMigrate() async throws {
        let admin = try TestDatabase.adminURL()
        let name = "ff_test_\(LocalPostgres.randomToken(bytes: 6))"
        try await PostgresClient.withClient(admin.clientConfiguration(maximumConnections: 1), logger: TestDatabase.logger) {
            try await $0.query("CREATE DATABASE \(unescaped: name)")
        }
        let url = admin.withDatabase(name)
        let applied = try await Self.migrateConcurrently(url, times: 4)
        #expect(applied.filter { $0 == "001_initial.sql" }.count == 1)
        try await PostgresClient.withClient(admin.clientConfiguration(maximumConnections: 1), logger: TestDatabase.logger) {
            try await $0.query("DROP DATABASE \(unescaped: name) WITH (FORCE)")
        }
    }

    /// Runs `times` migrators at once, each with a connection of its own; what each applied.
    static func migrateConcurrently(_ url: DatabaseURL, times: Int) async throws -> [String] {
        try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<times {
                group.addTask {
                    try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1), logger: TestDatabase.logger) {
                        try await Migrator(directory: try Migrator.locateDirectory()).migrate(client: $0, logger: TestDatabase.logger)
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// The built executables, next to the test bundle.
    static func executable(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/\(name)").standardized
    }

    static func run(_ name: String, _ arguments: [String], environment: [String: String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = executable(name)
        process.arguments = arguments
        process.environment = environment
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test("flowforge-api refuses to start without a token, or with a bad setting, in one line")
    func apiRefusesToStart() throws {
        let path = Self.executable("flowforge-api").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        let base = ["PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://u:p@127.0.0.1:1/d"]
        let (status, output) = try Self.run("flowforge-api", [], environment: base)
        #expect(status == 78)
        #expect(output == "flowforge-api: FLOWFORGE_API_TOKEN is not set: give one or more bearer tokens, or start with --insecure-no-auth\n")
        let (portStatus, portOutput) = try Self.run("flowforge-api", ["--port", "http"], environment: base)
        #expect(portStatus == 78)
        #expect(portOutput == "flowforge-api: FLOWFORGE_HTTP_PORT must be a port number from 0 to 65535, not \"http\"\n")
        let (urlStatus, urlOutput) = try Self.run("flowforge-worker", [], environment: ["PATH": "/usr/bin:/bin"])
        #expect(urlStatus == 78)
        #expect(urlOutput.hasPrefix("flowforge-worker: DATABASE_URL is not set"))
    }
}

@Suite("Worker process")
struct WorkerProcessTests {
    /// Starts the flowforge-worker binary against the test's own database.
    static func startWorker(_ path: String, api: APIHarness, arguments: [String]) async throws -> Process {
        let database = try #require(try await api.scalar("SELECT current_database()", as: String.self))
        let url = try TestDatabase.adminURL().withDatabase(database)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin", "DATABASE_URL": url.urlString, "FLOWFORGE_LOG_LEVEL": "error"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func waitUntilRunning(_ api: APIHarness, _ id: Int64) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while try await api.expect(.ok, .get, "/api/executions/\(id)")["status"] != "running", ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("flowforge-worker runs a job, and on SIGTERM lets the running step finish and exits 0")
    func sigtermLetsStepsFinish() async throws {
        let path = MigrationAndProcessTests.executable("flowforge-worker").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        try await withAPI { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "graceful", "steps": [["name": "work", "kind": "shell", "command": ["sh", "-c", "sleep 1; echo done"]]]])
            let run = try await api.expect(.created, .post, "/api/workflows/\(created["id"]!.intValue!)/run")
            let id = try #require(run["id"]?.intValue)
            let process = try await Self.startWorker(path, api: api, arguments: ["--worker-id", "proc-worker", "--concurrency", "2"])
            defer { if process.isRunning { process.terminate() } }
            try await Self.waitUntilRunning(api, id)
            kill(process.processIdentifier, SIGTERM)
            let execution = try await WorkerTests.finished(api, id)
            #expect(execution["status"] == "completed")
            #expect(execution["worker_id"] == "proc-worker")
            #expect(execution.list("steps").first?["output"] == "done\n")
            let exitDeadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < exitDeadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning)
            #expect(process.terminationStatus == 0)
        }
    }
}

@Suite("Worker process killed")
struct WorkerKilledTests {
    @Test("a flowforge-worker killed with SIGKILL mid-step: its run is rescued and finished by another worker, never lost")
    func sigkillMidStep() async throws {
        // A SIGKILLed worker cannot stop its step; the test stops the orphan itself at the end.
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("ff-orphan-\(UUID().uuidString)").path
        defer {
            if let text = try? String(contentsOfFile: marker, encoding: .utf8), let group = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                kill(-group, SIGKILL)
            }
            unlink(marker)
        }
        let path = MigrationAndProcessTests.executable("flowforge-worker").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        try await withAPI { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "survivor", "max_attempts": 2, "retry_backoff_seconds": 0,
                       "steps": [["name": "work", "kind": "shell", "command": ["sh", "-c", .string(
                           "[ \"$FLOWFORGE_ATTEMPT\" = 2 ] || { echo $$ > \(marker); sleep 30; }; echo attempt $FLOWFORGE_ATTEMPT")]]]])
            let run = try await api.expect(.created, .post, "/api/workflows/\(created["id"]!.intValue!)/run")
            let id = try #require(run["id"]?.intValue)
            let doomed = try await WorkerProcessTests.startWorker(path, api: api, arguments: ["--worker-id", "doomed", "--lease-seconds", "2"])
            try await WorkerProcessTests.waitUntilRunning(api, id)
            kill(doomed.processIdentifier, SIGKILL)
            doomed.waitUntilExit()
            #expect(try await api.expect(.ok, .get, "/api/executions/\(id)")["status"] == "running")

            // Maintenance rescues the run once the lease has run out…
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            var rescued = (requeued: 0, failed: 0)
            let rescueDeadline = ContinuousClock.now + .seconds(15)
            while rescued.requeued == 0, ContinuousClock.now < rescueDeadline {
                try await Task.sleep(for: .milliseconds(250))
                rescued = try await store.rescueExpiredLeases()
            }
            #expect(rescued.requeued == 1)
            // …and another worker finishes it as attempt 2.
            var config = WorkerService.Config(workerID: "rescuer", concurrency: 1)
            config.pollInterval = .milliseconds(100)
            let worker = WorkerService(postgres: api.postgres, config: config, logger: TestDatabase.logger)
            let workerTask = Task { try await worker.run() }
            let execution = try await WorkerTests.finished(api, id)
            workerTask.cancel()
            #expect(execution["status"] == "completed")
            #expect(execution["attempt"] == 2)
            #expect(execution["worker_id"] == "rescuer")
            #expect(execution.list("steps").first?["output"] == "attempt 2\n")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) == 1)
        }
    }
}
