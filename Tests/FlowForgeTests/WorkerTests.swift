import FlowForgeShared
import Hummingbird
@testable import FlowForgeWorker
import Foundation
import PostgresNIO
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Worker")
struct WorkerTests {
    static func worker(
        _ id: String = "test-worker", concurrency: Int = 4, pollInterval: Duration = .milliseconds(200)
    ) -> @Sendable (PostgresClient) -> [any Service] {
        { postgres in
            var config = WorkerService.Config(workerID: id, concurrency: concurrency)
            config.pollInterval = pollInterval
            config.shutdownGrace = .seconds(2)
            return [WorkerService(postgres: postgres, config: config, logger: TestDatabase.logger)]
        }
    }

    /// Polls an execution until it reaches a final status (or 30 s pass).
    static func finished(_ api: APIHarness, _ id: Int64) async throws -> JSONValue {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let execution = try await api.expect(.ok, .get, "/api/executions/\(id)")
            if let status = execution["status"]?.stringValue, !["queued", "running"].contains(status) { return execution }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("execution \(id) did not finish within 30 s")
        return .null
    }

    static func run(_ api: APIHarness, _ workflow: JSONValue) async throws -> Int64 {
        let created = try await api.expect(.created, .post, "/api/workflows", json: workflow)
        let run = try await api.expect(.created, .post, "/api/workflows/\(created["id"]!.intValue!)/run")
        return try #require(run["id"]?.intValue)
    }

    @Test("a shell step runs with FlowForge's context in its environment; output and exit code are recorded")
    func shellStep() async throws {
        try await withAPI(services: Self.worker()) { api in
            let id = try await Self.run(
                api,
                [
                    "name": "context",
                    "steps": [
                        ["name": "print", "kind": "shell", "env": ["GREETING": "hello"],
                         "command": ["sh", "-c", "echo \"$GREETING $FLOWFORGE_WORKFLOW_NAME $FLOWFORGE_TRIGGER_TYPE $FLOWFORGE_ATTEMPT\"; echo oops >&2"]],
                        ["name": "after", "kind": "noop", "sleep_ms": 10],
                    ],
                ])
            let execution = try await Self.finished(api, id)
            #expect(execution["status"] == "completed")
            #expect(execution["worker_id"] == "test-worker")
            #expect(execution["started_at"] != .null)
            #expect(execution["error"] == .null)
            let steps = execution.list("steps")
            #expect(steps.count == 2)
            #expect(steps[0]["exit_code"] == 0)
            #expect(steps[0]["status"] == "completed")
            #expect(steps[0]["output"] == "hello context manual 1\noops\n")
            #expect(steps[1]["name"] == "after")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 0)
        }
    }

    @Test("a workflow edited between two runs runs its new steps in the second (the worker's cache of steps sees the change)")
    func editedStepsAreRun() async throws {
        try await withAPI(services: Self.worker()) { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows", json: ["name": "edited", "steps": [["name": "before", "kind": "noop"]]])
            let workflow = try #require(created["id"]?.intValue)
            let first = try #require(try await api.expect(.created, .post, "/api/workflows/\(workflow)/run")["id"]?.intValue)
            #expect(try await Self.finished(api, first)["steps"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["before"])

            try await api.expect(
                .ok, .put, "/api/workflows/\(workflow)",
                json: ["name": "edited", "steps": [["name": "after", "kind": "noop"], ["name": "and-then", "kind": "noop"]]])
            let second = try #require(try await api.expect(.created, .post, "/api/workflows/\(workflow)/run")["id"]?.intValue)
            #expect(try await Self.finished(api, second)["steps"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["after", "and-then"])
        }
    }

    @Test("a failing step fails the run after its attempts; later steps do not run")
    func failureAndRetries() async throws {
        try await withAPI(services: Self.worker()) { api in
            let id = try await Self.run(
                api,
                [
                    "name": "flaky", "max_attempts": 2, "retry_backoff_seconds": 0,
                    "steps": [["name": "fail", "kind": "shell", "command": ["sh", "-c", "echo attempt $FLOWFORGE_ATTEMPT; exit 3"]],
                              ["name": "never", "kind": "noop"]],
                ])
            let execution = try await Self.finished(api, id)
            #expect(execution["status"] == "failed")
            #expect(execution["attempt"] == 2)
            #expect(execution["error"] == "step fail exited with code 3")
            let steps = execution.list("steps")
            #expect(steps.count == 1)
            #expect(steps[0]["exit_code"] == 3)
            #expect(steps[0]["output"] == "attempt 2\n")
        }
    }

    @Test("a step past its timeout is stopped with everything it started")
    func timeoutKillsProcessGroup() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("ff-pgid-\(UUID().uuidString)").path
        defer { unlink(marker) }
        try await withAPI(services: Self.worker()) { api in
            let id = try await Self.run(
                api,
                [
                    "name": "slow",
                    "steps": [["name": "hang", "kind": "shell", "timeout_seconds": 1,
                               "command": ["sh", "-c", .string("echo $$ > \(marker); sleep 120 & sleep 120; wait")]]],
                ])
            let execution = try await Self.finished(api, id)
            #expect(execution["status"] == "failed")
            #expect(execution["error"] == "step hang timed out after 1 s and was stopped")
            let pgid = try #require(Int32(try String(contentsOfFile: marker, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            // Nothing of the step's process group is left running (zombies whose parent died wait
            // for PID 1 to reap them, which a container's PID 1 may never do).
            #expect(Self.liveProcesses(inGroup: pgid) == [])
        }
    }

    @Test("cancelling a running run stops its step")
    func cancelRunning() async throws {
        try await withAPI(services: Self.worker()) { api in
            let id = try await Self.run(
                api, ["name": "long", "steps": [["name": "sleep", "kind": "shell", "command": ["sleep", "121"]]]])
            let deadline = ContinuousClock.now + .seconds(20)
            while try await api.expect(.ok, .get, "/api/executions/\(id)")["status"] != "running", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let cancelled = try await api.expect(.ok, .post, "/api/executions/\(id)/cancel")
            #expect(cancelled["status"] == "cancelled")
            // The worker notices within its lease-renewal period and stops the step.
            let stopDeadline = ContinuousClock.now + .seconds(10)
            var stillRunning = true
            while stillRunning, ContinuousClock.now < stopDeadline {
                stillRunning = Self.processExists(commandLine: "sleep 121")
                if stillRunning { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!stillRunning)
            #expect(try await api.expect(.ok, .get, "/api/executions/\(id)")["status"] == "cancelled")
        }
    }

    /// Processes of a process group that are not zombies, from /proc/<pid>/stat.
    static func liveProcesses(inGroup group: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/stat") else { return nil }
            let text = String(decoding: data, as: UTF8.self)
            // After the command name in parentheses: state, ppid, pgrp, …
            guard let close = text.lastIndex(of: ")") else { return nil }
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", Int32(fields[2]) == group else { return nil }
            return pid
        }
    }

    /// Whether any process runs exactly this command line (read from /proc).
    static func processExists(commandLine: String) -> Bool {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries where Int(entry) != nil {
            guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { continue }
            let line = String(decoding: data, as: UTF8.self).split(separator: "\0").joined(separator: " ")
            if line == commandLine { return true }
        }
        return false
    }

    @Test("two workers drain 300 runs: each runs exactly once")
    func twoWorkersExactlyOnce() async throws {
        let services: @Sendable (PostgresClient) -> [any Service] = { postgres in
            Self.worker("worker-a", concurrency: 8)(postgres) + Self.worker("worker-b", concurrency: 8)(postgres)
        }
        try await withAPI(services: services) { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "bulk", "overlap_policy": "allow", "steps": [["name": "n", "kind": "noop"]]])
            let workflowId = try #require(created["id"]?.intValue)
            try await api.enqueueRuns(of: workflowId, count: 300)
            let deadline = ContinuousClock.now + .seconds(60)
            while try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) != 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions WHERE status = 'completed'", as: Int64.self) == 300)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions WHERE attempt <> 1", as: Int64.self) == 0)
            let workers = try await api.scalar(
                "SELECT count(DISTINCT worker_id) FROM flowforge.executions", as: Int64.self)
            #expect((1...2).contains(workers ?? 0))
        }
    }

    @Test("overlap queue: runs of a workflow limited to one wait for each other, across two workers")
    func overlapQueue() async throws {
        let services: @Sendable (PostgresClient) -> [any Service] = { postgres in
            Self.worker("worker-a")(postgres) + Self.worker("worker-b")(postgres)
        }
        try await withAPI(services: services) { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "serial", "max_concurrent_runs": 1, "overlap_policy": "queue",
                       "steps": [["name": "n", "kind": "noop", "sleep_ms": 300]]])
            let workflowId = try #require(created["id"]?.intValue)
            var ids: [Int64] = []
            for _ in 0..<3 { ids.append(try #require(try await api.expect(.created, .post, "/api/workflows/\(workflowId)/run")["id"]?.intValue)) }
            var runs: [JSONValue] = []
            for id in ids { runs.append(try await Self.finished(api, id)) }
            #expect(runs.allSatisfy { $0["status"] == "completed" })
            let intervals = runs.compactMap { run -> (Date, Date)? in
                guard let start = run["started_at"]?.stringValue.flatMap(Timestamp.parse),
                    let end = run["finished_at"]?.stringValue.flatMap(Timestamp.parse)
                else { return nil }
                return (start, end)
            }.sorted { $0.0 < $1.0 }
            #expect(intervals.count == 3)
            for index in 1..<intervals.count { #expect(intervals[index].0 >= intervals[index - 1].1, "runs overlapped") }
        }
    }

    @Test("overlap skip: a run due while the workflow is at its limit is recorded as skipped")
    func overlapSkip() async throws {
        try await withAPI(services: Self.worker()) { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "single", "max_concurrent_runs": 1, "overlap_policy": "skip",
                       "steps": [["name": "n", "kind": "noop", "sleep_ms": 60000]]])
            let workflowId = try #require(created["id"]?.intValue)
            let first = try #require(try await api.expect(.created, .post, "/api/workflows/\(workflowId)/run")["id"]?.intValue)
            let deadline = ContinuousClock.now + .seconds(20)
            while try await api.expect(.ok, .get, "/api/executions/\(first)")["status"] != "running", ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let second = try #require(try await api.expect(.created, .post, "/api/workflows/\(workflowId)/run")["id"]?.intValue)
            let skipped = try await Self.finished(api, second)
            #expect(skipped["status"] == "skipped")
            #expect(skipped["error"] == "skipped: the workflow already had 1 run(s) running (overlap_policy skip, max_concurrent_runs 1)")
            // The first ran all along (a minute, so that a slow machine cannot see it end first).
            #expect(try await api.expect(.ok, .get, "/api/executions/\(first)")["status"] == "running")
            try await api.expect(.ok, .post, "/api/executions/\(first)/cancel")
        }
    }
}

@Suite("A step's exit, waited for")
struct ProcessExitTests {
    @Test("the exit, a timeout or a cancel ends the wait, whichever comes first")
    func endings() async throws {
        // Exited before anyone waited: the status at once.
        let early = ProcessExit()
        early.finish(3)
        #expect(await early.wait(upTo: .seconds(30)) == 3)

        // Still running at the timeout: nil, at the timeout.
        let running = ProcessExit()
        var began = ContinuousClock.now
        #expect(await running.wait(upTo: .milliseconds(200)) == nil)
        var waited = ContinuousClock.now - began
        #expect(waited >= .milliseconds(200) && waited < .seconds(5))

        // Exits while waited for: the status, long before the timeout.
        let exiting = ProcessExit()
        Task {
            try await Task.sleep(for: .milliseconds(100))
            exiting.finish(0)
        }
        began = ContinuousClock.now
        #expect(await exiting.wait(upTo: .seconds(30)) == 0)
        #expect(ContinuousClock.now - began < .seconds(5))

        // The waiting task is cancelled (a cancelled run): nil, at once.
        let cancelled = ProcessExit()
        let waiter = Task { await cancelled.wait(upTo: .seconds(30)) }
        try await Task.sleep(for: .milliseconds(100))
        began = ContinuousClock.now
        waiter.cancel()
        #expect(await waiter.value == nil)
        waited = ContinuousClock.now - began
        #expect(waited < .seconds(5))

        // The one that timed out still learns the status once the child exits.
        running.finish(137)
        #expect(await running.wait(upTo: .seconds(30)) == 137)
    }
}
