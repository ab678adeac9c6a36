import FlowForgeScheduler
import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Worker shutdown")
struct WorkerShutdownTests {
    @Test("SIGTERM 2 s into a 12 s step, lease 5 s, grace 20 s: the lease is renewed through the grace and the run finishes once, as attempt 1")
    func leaseRenewedThroughGrace() async throws {
        let path = MigrationAndProcessTests.executable("flowforge-worker").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        // A scheduler beside the worker, rescuing expired leases twice a second.
        let services: @Sendable (PostgresClient) -> [any Service] = { postgres in
            var config = SchedulerService.Config()
            config.rescueInterval = .milliseconds(500)
            return [SchedulerService(postgres: postgres, config: config, logger: TestDatabase.logger)]
        }
        try await withAPI(services: services) { api in
            // Two attempts: a rescue would requeue the run as attempt 2 rather than fail it.
            let id = try await WorkerTests.run(
                api,
                ["name": "long-step", "max_attempts": 2, "retry_backoff_seconds": 0,
                 "steps": [["name": "work", "kind": "shell", "command": ["sh", "-c", "sleep 12; echo done"]]]])
            let database = try #require(try await api.scalar("SELECT current_database()", as: String.self))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.environment = [
                "PATH": "/usr/bin:/bin", "DATABASE_URL": try TestDatabase.adminURL().withDatabase(database).urlString,
                "FLOWFORGE_LOG_LEVEL": "error", "FLOWFORGE_WORKER_ID": "graceful", "FLOWFORGE_WORKER_CONCURRENCY": "1",
                "FLOWFORGE_WORKER_LEASE_SECONDS": "5", "FLOWFORGE_WORKER_SHUTDOWN_GRACE_SECONDS": "20",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            defer { WorkerProcessesTests.stop(process) }

            try await WorkerProcessTests.waitUntilRunning(api, id)
            try await Task.sleep(for: .seconds(2))
            let terminatedAt = ContinuousClock.now
            kill(process.processIdentifier, SIGTERM)

            var execution = try await WorkerTests.finished(api, id)
            // Not finished in time (rescued and requeued, say): the assertions below show where it is.
            if execution == .null { execution = try await api.expect(.ok, .get, "/api/executions/\(id)") }
            // Ten seconds of step were left: two leases' worth, renewed by a worker shutting down.
            #expect(ContinuousClock.now - terminatedAt > .seconds(6))
            #expect(execution["status"] == "completed")
            #expect(execution["attempt"] == 1)
            #expect(execution["worker_id"] == "graceful")
            #expect(execution["error"] == .null)
            #expect(execution.list("steps").count == 1)
            #expect(execution.list("steps").first?["status"] == "completed")
            #expect(execution.list("steps").first?["output"] == "done\n")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) == 1)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 0)

            // The worker leaves once its last result is written, well within the grace.
            let exitDeadline = ContinuousClock.now + .seconds(10)
            while process.isRunning, ContinuousClock.now < exitDeadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning)
            #expect(process.terminationStatus == 0)
        }
    }
}
