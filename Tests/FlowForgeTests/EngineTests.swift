import FlowForgeShared
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing

@testable import FlowForgeScheduler
@testable import FlowForgeWorker

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

@Suite("Engine")
struct EngineTests {
    /// The value of one series in Prometheus text, e.g. `flowforge_worker_slots` or
    /// `flowforge_runs_created_total{trigger_type="manual"}`.
    static func sample(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    @Test("/metrics on the API counts Run now and cancels, and reads the queue depth from the database")
    func apiMetrics() async throws {
        try await withAPI { api in
            let workflow = try await api.workflow("counted")
            let first = try await api.expect(.created, .post, "/api/workflows/\(workflow)/run")
            try await api.expect(.created, .post, "/api/workflows/\(workflow)/run")
            try await api.expect(.ok, .post, "/api/executions/\(first["id"]!.intValue!)/cancel")
            // No token needed, like /healthz.
            let (status, body) = try await api.call(.get, "/metrics", token: nil)
            #expect(status == .ok)
            let text = try #require(body.stringValue)
            #expect(Self.sample(text, #"flowforge_runs_created_total{trigger_type="manual"}"#) == 2)
            #expect(Self.sample(text, #"flowforge_runs_created_total{trigger_type="scheduled"}"#) == 0)
            #expect(Self.sample(text, #"flowforge_runs_finished_total{status="cancelled",trigger_type="manual"}"#) == 1)
            #expect(Self.sample(text, #"flowforge_queue_depth{state="due"}"#) == 1)
            #expect(Self.sample(text, #"flowforge_queue_depth{state="leased"}"#) == 0)
            #expect(!text.contains(testToken))
        }
    }

    @Test("a worker's metrics: finished runs by status, slots, and the schedule lag and cascade latency it observed")
    func workerMetrics() async throws {
        let metrics = FlowForgeMetrics()
        let services: @Sendable (PostgresClient) -> [any Service] = { postgres in
            var config = WorkerService.Config(workerID: "metered", concurrency: 3)
            config.pollInterval = .milliseconds(200)
            var scheduler = SchedulerService.Config()
            scheduler.cascadeSweep = .milliseconds(200)
            return [
                WorkerService(postgres: postgres, config: config, metrics: metrics, logger: TestDatabase.logger),
                SchedulerService(postgres: postgres, config: scheduler, metrics: metrics, logger: TestDatabase.logger),
            ]
        }
        try await withAPI(metrics: metrics, services: services) { api in
            let upstream = try await api.workflow("up")
            let downstream = try await api.workflow("down")
            #expect(try await api.dependency(downstream, on: upstream).status == .created)
            let failing = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "broken", "steps": [["name": "no", "kind": "shell", "command": ["false"]]]])
            let run = try await api.expect(.created, .post, "/api/workflows/\(upstream)/run")
            let bad = try await api.expect(.created, .post, "/api/workflows/\(failing["id"]!.intValue!)/run")
            #expect(try await WorkerTests.finished(api, bad["id"]!.intValue!)["status"] == "failed")
            #expect(try await WorkerTests.finished(api, run["id"]!.intValue!)["status"] == "completed")
            let deadline = ContinuousClock.now + .seconds(20)
            while try await api.scalar("SELECT count(*) FROM flowforge.executions WHERE status = 'completed'", as: Int64.self) != 2,
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(50))
            }
            // The worker records a batch's statuses when the batch commits; give it a moment.
            try await Task.sleep(for: .milliseconds(200))
            let text = metrics.render()
            #expect(Self.sample(text, #"flowforge_runs_finished_total{status="completed",trigger_type="manual"}"#) == 1)
            #expect(Self.sample(text, #"flowforge_runs_finished_total{status="completed",trigger_type="dependency"}"#) == 1)
            #expect(Self.sample(text, #"flowforge_runs_finished_total{status="failed",trigger_type="manual"}"#) == 1)
            #expect(Self.sample(text, #"flowforge_runs_created_total{trigger_type="dependency"}"#) == 1)
            #expect(Self.sample(text, "flowforge_worker_slots") == 3)
            #expect(Self.sample(text, "flowforge_worker_busy_slots") == 0)
            #expect(Self.sample(text, "flowforge_cascade_latency_seconds_count") == 1)
            #expect(Self.sample(text, "flowforge_schedule_lag_seconds_count") == 0)
        }
    }

    @Test("maintenance deletes finished history older than the retention, and nothing else")
    func pruneHistory() async throws {
        try await withAPI { api in
            let workflow = try await api.workflow("old")
            // id 1: finished 40 days ago and cascaded (goes); 2: 40 days ago, not yet cascaded (stays);
            // 3: cancelled 40 days ago (goes); 4: finished 10 days ago (stays); 5: still queued (stays).
            try await api.postgres.query(
                """
                INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, status, queued_at, finished_at, cascaded_at)
                VALUES (\(workflow), 'old', 'manual', 'completed', now() - interval '41 days', now() - interval '40 days', now() - interval '40 days'),
                       (\(workflow), 'old', 'manual', 'failed', now() - interval '41 days', now() - interval '40 days', NULL),
                       (\(workflow), 'old', 'manual', 'cancelled', now() - interval '41 days', now() - interval '40 days', now() - interval '40 days'),
                       (\(workflow), 'old', 'manual', 'completed', now() - interval '11 days', now() - interval '10 days', now() - interval '10 days'),
                       (\(workflow), 'old', 'manual', 'queued', now() - interval '41 days', NULL, NULL)
                """)
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.pruneHistory(olderThanDays: 30) == 2)
            #expect(try await store.pruneHistory(olderThanDays: 30) == 0)
            let left = try await api.postgres.query("SELECT id FROM flowforge.executions ORDER BY id").collect()
            #expect(try left.map { try $0.decode(Int64.self) } == [2, 4, 5])
        }
    }

    @Test("an http step sends its method, headers and body; the status decides, and is recorded as the exit code")
    func httpStep() async throws {
        let received = ReceivedRequests()
        let router = Router()
        router.post("hook") { request, _ in
            let body = try await String(buffer: request.body.collect(upTo: 10_000))
            await received.add("\(request.headers[.init("X-Token")!] ?? "-") \(body)")
            return Response(status: .accepted, body: ResponseBody(byteBuffer: ByteBuffer(string: "queued it")))
        }
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let server = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) })
        let serverTask = Task { try await server.runService() }
        defer { serverTask.cancel() }
        var ports = portStream.makeAsyncIterator()
        let port = try #require(await ports.next())

        try await withAPI(services: WorkerTests.worker()) { api in
            let step: JSONValue = [
                "name": "call", "kind": "http", "method": "POST", "url": .string("http://127.0.0.1:\(port)/hook"),
                "headers": ["X-Token": "abc"], "body": "{\"ping\": 1}",
            ]
            let ok = try await WorkerTests.run(api, ["name": "caller", "steps": [step]])
            let done = try await WorkerTests.finished(api, ok)
            #expect(done["status"] == "completed")
            #expect(done.list("steps").first?["exit_code"] == 202)
            #expect(done.list("steps").first?["output"] == "HTTP 202\nqueued it")
            #expect(await received.all == ["abc {\"ping\": 1}"])

            var strict = step
            if case .object(var fields) = strict {
                fields["expect_status"] = [200]
                strict = .object(fields)
            }
            let refused = try await WorkerTests.run(api, ["name": "strict", "steps": [strict]])
            let failed = try await WorkerTests.finished(api, refused)
            #expect(failed["status"] == "failed")
            #expect(failed["error"] == .string("step call: POST http://127.0.0.1:\(port)/hook answered 202"))
        }
    }

    @Test("a retry waits its backoff, and the worker wakes for it on time though its polling is slowed to 30 s")
    func retryBackoffWakesWorker() async throws {
        let services = WorkerTests.worker("sleeper", concurrency: 1, pollInterval: .seconds(30))
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("ff-backoff-\(UUID().uuidString)").path
        defer { unlink(marker) }
        try await withAPI(services: services) { api in
            let began = ContinuousClock.now
            let id = try await WorkerTests.run(
                api,
                [
                    "name": "second-time-lucky", "max_attempts": 2, "retry_backoff_seconds": 2,
                    "steps": [["name": "try", "kind": "shell", "command": ["sh", "-c", .string(
                        "if [ \"$FLOWFORGE_ATTEMPT\" = 1 ]; then date +%s.%N > \(marker); exit 1; fi; echo ok")]]],
                ])
            let execution = try await WorkerTests.finished(api, id)
            #expect(execution["status"] == "completed")
            #expect(execution["attempt"] == 2)
            let failedAt = try #require(Double(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            let startedAt = try #require(execution["started_at"]?.stringValue.flatMap(Timestamp.parse))
            // Not before the backoff, and woken by the timer for the job's run_at, not by the
            // 30 s poll. (Measured from the failed attempt: when the first attempt starts
            // depends on whether the worker was listening yet when the run was created.)
            #expect(startedAt.timeIntervalSince1970 - failedAt >= 2.0)
            #expect(startedAt.timeIntervalSince1970 - failedAt < 20)
            #expect(ContinuousClock.now - began < .seconds(60))
        }
    }

    @Test("a run cancelled while running has its step stopped, with polling slowed to 30 s")
    func cancelIsPrompt() async throws {
        // The notification stops it at once; lease renewal (every second) is the fallback. The
        // bound is loose so that a busy machine does not fail the test.
        let services = WorkerTests.worker("prompt", concurrency: 1, pollInterval: .seconds(30))
        try await withAPI(services: services) { api in
            let id = try await WorkerTests.run(
                api, ["name": "long", "steps": [["name": "sleep", "kind": "shell", "command": ["sleep", "122"]]]])
            try await WorkerProcessTests.waitUntilRunning(api, id)
            let cancelledAt = ContinuousClock.now
            try await api.expect(.ok, .post, "/api/executions/\(id)/cancel")
            while WorkerTests.processExists(commandLine: "sleep 122"), ContinuousClock.now - cancelledAt < .seconds(10) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(!WorkerTests.processExists(commandLine: "sleep 122"))
            #expect(try await api.expect(.ok, .get, "/api/executions/\(id)")["status"] == "cancelled")
        }
    }
}

actor ReceivedRequests {
    private(set) var all: [String] = []
    func add(_ request: String) { all.append(request) }
}

@Suite("Worker processes")
struct WorkerProcessesTests {
    /// Connections of this database waiting in LISTEN (one per running worker: it listens for
    /// jobs and cancels on one connection; the test's API runs no listener).
    static func listeners(_ api: APIHarness) async throws -> Int64 {
        try await api.scalar(
            """
            SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND query LIKE 'LISTEN %'
            """, as: Int64.self) ?? 0
    }

    /// Stops a worker process the test started, whatever state the test left it in: SIGTERM,
    /// and SIGKILL if it has not exited 5 s later (a failed test must not leave it running).
    static func stop(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    @Test("two flowforge-worker processes drain 1,000 runs: each runs exactly once; /metrics agrees with the table")
    func twoProcessesExactlyOnce() async throws {
        let path = MigrationAndProcessTests.executable("flowforge-worker").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        let metricsPort = try LocalPostgres.freePort()
        try await withAPI { api in
            let workflow = try await api.workflow("bulk", extra: ["overlap_policy": "allow", "steps": [["name": "n", "kind": "noop", "sleep_ms": 2]]])
            let first = try await WorkerProcessTests.startWorker(
                path, api: api, arguments: ["--worker-id", "proc-a", "--concurrency", "4", "--metrics-port", "\(metricsPort)"])
            defer { Self.stop(first) }
            let second = try await WorkerProcessTests.startWorker(path, api: api, arguments: ["--worker-id", "proc-b", "--concurrency", "4"])
            defer { Self.stop(second) }
            let ready = ContinuousClock.now + .seconds(20)
            while try await Self.listeners(api) < 2, ContinuousClock.now < ready { try await Task.sleep(for: .milliseconds(50)) }
            #expect(try await Self.listeners(api) == 2)

            try await api.enqueueRuns(of: workflow, count: 1000)
            let deadline = ContinuousClock.now + .seconds(120)
            while try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) != 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions WHERE status = 'completed' AND attempt = 1", as: Int64.self) == 1000)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) == 1000)
            let byA = try #require(try await api.scalar("SELECT count(*) FROM flowforge.executions WHERE worker_id = 'proc-a'", as: Int64.self))
            let byB = try #require(try await api.scalar("SELECT count(*) FROM flowforge.executions WHERE worker_id = 'proc-b'", as: Int64.self))
            #expect(byA + byB == 1000)
            #expect(byA > 0 && byB > 0)

            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/metrics")!)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            let text = String(decoding: data, as: UTF8.self)
            #expect(EngineTests.sample(text, #"flowforge_runs_finished_total{status="completed",trigger_type="manual"}"#) == Double(byA))
            #expect(EngineTests.sample(text, "flowforge_worker_slots") == 4)
            #expect(EngineTests.sample(text, #"flowforge_queue_depth{state="due"}"#) == 0)
            let (health, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(metricsPort)/healthz")!)
            #expect(String(decoding: health, as: UTF8.self) == #"{"status":"ok"}"#)

            // The container image's health check asks the same /healthz, found through the environment.
            let healthcheck = try MigrationAndProcessTests.run(
                "flowforge", ["healthcheck"], environment: ["FLOWFORGE_METRICS_PORT": "\(metricsPort)"])
            #expect(healthcheck == (0, ""))
            // Each process names its connections, so an operator can tell them apart in pg_stat_activity.
            let names = try await api.scalar(
                """
                SELECT string_agg(DISTINCT application_name, ',') FROM pg_stat_activity
                WHERE datname = current_database() AND application_name LIKE 'flowforge-worker %'
                """,
                as: String.self)
            #expect(names == "flowforge-worker proc-a,flowforge-worker proc-b")

            first.terminate()
            first.waitUntilExit()
            let down = try MigrationAndProcessTests.run("flowforge", ["healthcheck", "--url", "http://127.0.0.1:\(metricsPort)/healthz"], environment: [:])
            #expect(down.0 == 1)
            #expect(down.1.hasPrefix("flowforge healthcheck: http://127.0.0.1:\(metricsPort)/healthz did not answer"))
        }
    }
}
