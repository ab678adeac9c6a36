@testable import FlowForgeScheduler
import FlowForgeShared
@testable import FlowForgeWorker
import Foundation
import Hummingbird
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A running step's output, visible through GET /api/executions/:id while it runs
/// (sql/013_live_output.sql, `LiveOutput`), and gone once the run has ended however it ended.
@Suite("Live output")
struct LiveOutputTests {
    static func worker(metrics: FlowForgeMetrics? = nil) -> @Sendable (PostgresClient) -> [any Service] {
        { postgres in
            var config = WorkerService.Config(workerID: "live-worker", concurrency: 4)
            config.pollInterval = .milliseconds(200)
            config.shutdownGrace = .seconds(2)
            return [WorkerService(postgres: postgres, config: config, metrics: metrics, logger: TestDatabase.logger)]
        }
    }

    /// Reads the run through the API until `check` holds for it, or the run is no longer running.
    /// Returns the answer that held, nil when the run stopped running first (or 60 s passed).
    static func whileRunning(_ api: APIHarness, _ id: Int64, until check: (JSONValue) -> Bool) async throws -> JSONValue? {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let execution = try await api.expect(.ok, .get, "/api/executions/\(id)")
            let status = execution["status"]?.stringValue
            if status == "running", check(execution) { return execution }
            if status != "running", status != "queued" { return nil }
            try await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// The live rows once the worker has written a finished run's result: it deletes them in
    /// the statement after the result's, so they are gone a moment later (at most 5 s here).
    static func liveRowsAfterResult(_ api: APIHarness) async throws -> Int64 {
        let deadline = ContinuousClock.now + .seconds(5)
        while try await liveRows(api) > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return try await liveRows(api)
    }

    static func liveRows(_ api: APIHarness, _ id: Int64? = nil) async throws -> Int64 {
        if let id { return try await api.count("SELECT count(*) FROM flowforge.live_output WHERE execution_id = \(id)") }
        return try await api.count("SELECT count(*) FROM flowforge.live_output")
    }

    @Test("a running shell step's output shows in GET /api/executions/:id while it runs, after the steps done before it; the result replaces it")
    func markerWhileRunning() async throws {
        try await withAPI(services: Self.worker()) { api in
            let id = try await WorkerTests.run(
                api,
                [
                    "name": "live",
                    "steps": [
                        ["name": "first", "kind": "shell", "command": ["sh", "-c", "echo first done"]],
                        ["name": "print", "kind": "shell", "command": ["sh", "-c", "echo marker-$FLOWFORGE_EXECUTION_ID; sleep 6; echo after"]],
                    ],
                ])
            let marker = "marker-\(id)\n"
            let seen = try await Self.whileRunning(api, id) { execution in
                execution.list("steps").last?["output"]?.stringValue == marker
            }
            let running = try #require(seen, "the marker did not show while the step ran")
            let steps = running.list("steps")
            #expect(steps.count == 2)
            #expect(steps[0]["name"] == "first")
            #expect(steps[0]["status"] == "completed")
            #expect(steps[0]["exit_code"] == 0)
            #expect(steps[0]["output"] == "first done\n")
            #expect(steps[1]["name"] == "print")
            #expect(steps[1]["status"] == "running")
            #expect(steps[1]["exit_code"] == .null)
            #expect(steps[1]["finished_at"] == .null)
            #expect(steps[1]["started_at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(steps[1]["output_bytes"] == .int(Int64(marker.utf8.count)))
            #expect(steps[1]["output_truncated"] == nil)
            #expect(steps[1]["output_binary"] == nil)
            #expect(try await Self.liveRows(api, id) == 2)
            // The step still runs: the marker was seen before it ended.
            #expect(try await api.expect(.ok, .get, "/api/executions/\(id)")["finished_at"] == .null)

            let finished = try await WorkerTests.finished(api, id)
            #expect(finished["status"] == "completed")
            let final = finished.list("steps")
            #expect(final.count == 2)
            #expect(final[1]["status"] == "completed")
            #expect(final[1]["exit_code"] == 0)
            #expect(final[1]["output"] == .string(marker + "after\n"))
            #expect(final[1]["output_bytes"] == .int(Int64(marker.utf8.count + 6)))
            #expect(try await Self.liveRowsAfterResult(api) == 0)
            // The list's summaries are the result's, as before.
            let listed = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(try #require(finished["workflow_id"]?.intValue))")
            #expect(listed.list("executions").first?.list("steps").compactMap { $0["status"]?.stringValue } == ["completed", "completed"])
        }
    }

    @Test("live output keeps the result's rules: the last 64 KiB, and bytes that are not text shown with U+FFFD and kept in output_base64")
    func boundedAndBinary() async throws {
        try await withAPI(services: Self.worker()) { api in
            let id = try await WorkerTests.run(
                api,
                [
                    "name": "big-and-binary",
                    "steps": [
                        ["name": "big", "kind": "shell", "command": ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' 'a'; printf 'TAIL\\n'; sleep 60"]],
                    ],
                ])
            let big = try #require(
                try await Self.whileRunning(api, id) { $0.list("steps").first?["output_bytes"] == 200_005 }, "the big output did not show")
            let step = big.list("steps")[0]
            #expect(step["status"] == "running")
            #expect(step["output_truncated"] == true)
            let output = try #require(step["output"]?.stringValue)
            #expect(output.hasPrefix("[… output truncated to the last 64 KiB of 200005 bytes]\n"))
            #expect(output.hasSuffix("aaaa\nTAIL\n") || output.hasSuffix("aaaaTAIL\n"))
            #expect(output.utf8.count == "[… output truncated to the last 64 KiB of 200005 bytes]\n".utf8.count + 65_536)
            _ = try await api.expect(.ok, .post, "/api/executions/\(id)/cancel")

            let binary = try await WorkerTests.run(
                api,
                [
                    "name": "binary",
                    "steps": [["name": "bytes", "kind": "shell", "command": ["sh", "-c", "printf 'ok\\000\\377\\n'; sleep 60"]]],
                ])
            let seen = try #require(
                try await Self.whileRunning(api, binary) { $0.list("steps").first?["output_bytes"] == 5 }, "the binary output did not show")
            let bytes = seen.list("steps")[0]
            #expect(bytes["output_binary"] == true)
            #expect(bytes["output"] == "ok\u{FFFD}\u{FFFD}\n")
            #expect(bytes["output_base64"] == .string(Data([0x6F, 0x6B, 0x00, 0xFF, 0x0A]).base64EncodedString()))
            _ = try await api.expect(.ok, .post, "/api/executions/\(binary)/cancel")
        }
    }

    @Test("a cancelled run leaves no live rows, also once its worker has stopped the step")
    func cancelledLeavesNothing() async throws {
        try await withAPI(services: Self.worker()) { api in
            let id = try await WorkerTests.run(
                api, ["name": "cancelled", "steps": [["name": "wait", "kind": "shell", "command": ["sh", "-c", "echo cancel-me; exec sleep 122"]]]])
            _ = try #require(
                try await Self.whileRunning(api, id) { $0.list("steps").first?["output"] == "cancel-me\n" }, "the output did not show")
            #expect(try await Self.liveRows(api, id) == 1)
            let cancelled = try await api.expect(.ok, .post, "/api/executions/\(id)/cancel")
            #expect(cancelled["status"] == "cancelled")
            #expect(try await Self.liveRows(api, id) == 0)
            // The worker stops the step and reports; no write of it comes back after that.
            let deadline = ContinuousClock.now + .seconds(15)
            while WorkerTests.processExists(commandLine: "sleep 122"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(!WorkerTests.processExists(commandLine: "sleep 122"))
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(try await Self.liveRows(api) == 0)
            let execution = try await api.expect(.ok, .get, "/api/executions/\(id)")
            #expect(execution["status"] == "cancelled")
            #expect(execution.list("steps").allSatisfy { $0["status"] != "running" })
        }
    }

    @Test("a run whose worker lost its lease leaves no live rows: the worker stops writing, and rescue fails the run")
    func lostLeaseLeavesNothing() async throws {
        try await withAPI(services: Self.worker()) { api in
            let id = try await WorkerTests.run(
                api, ["name": "lost", "steps": [["name": "wait", "kind": "shell", "command": ["sh", "-c", "echo lose-me; exec sleep 123"]]]])
            _ = try #require(
                try await Self.whileRunning(api, id) { $0.list("steps").first?["output"] == "lose-me\n" }, "the output did not show")
            // The lease passes to a worker that then dies: the live worker's renewal finds it gone.
            try await api.postgres.query(
                "UPDATE flowforge.jobs SET locked_by = 'dead-worker', lease_expires_at = now() - interval '1 minute' WHERE execution_id = \(id)")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.rescueExpiredLeases() == (0, 1))
            #expect(try await Self.liveRows(api, id) == 0)
            let deadline = ContinuousClock.now + .seconds(15)
            while WorkerTests.processExists(commandLine: "sleep 123"), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(!WorkerTests.processExists(commandLine: "sleep 123"))
            try await Task.sleep(for: .milliseconds(2_500))
            #expect(try await Self.liveRows(api) == 0)
            let execution = try await api.expect(.ok, .get, "/api/executions/\(id)")
            #expect(execution["status"] == "failed")
            #expect(execution["error"] == "worker lost: its lease expired and no attempts remain")
        }
    }

    @Test("lease rescue deletes the live rows of the runs it requeues or fails; maintenance sweeps rows no leased attempt holds")
    func rescueAndSweep() async throws {
        try await withAPI { api in
            let retried = try await api.workflow("retried", extra: ["max_attempts": 3])
            let spent = try await api.workflow("spent", extra: ["max_attempts": 1])
            try await LeaseRescueTests.leasedRuns(api, workflow: retried, count: 3)
            try await LeaseRescueTests.leasedRuns(api, workflow: spent, count: 2)
            try await LeaseRescueTests.leasedRuns(api, workflow: retried, count: 1, worker: "live-worker", expiresIn: 60)
            // Two steps of live output per run, as a worker leaves them.
            try await api.postgres.query(
                """
                INSERT INTO flowforge.live_output (execution_id, step_index, attempt, step)
                SELECT e.id, s, e.attempt, jsonb_build_object('name', 'step', 'status', 'running', 'output', 'x')
                FROM flowforge.executions e, generate_series(0, 1) s
                """)
            #expect(try await Self.liveRows(api) == 12)
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.rescueExpiredLeases() == (3, 2))
            // Only the live worker's run keeps its rows.
            let liveRun = try #require(
                try await api.scalar("SELECT execution_id FROM flowforge.jobs WHERE locked_by = 'live-worker'", as: Int64.self))
            #expect(try await Self.liveRows(api) == 2)
            #expect(try await Self.liveRows(api, liveRun) == 2)
            // A row of an attempt that holds no lease (a write that crossed a result), and a
            // row of an older attempt of the live run: the sweep takes both, once they are a few seconds old.
            try await api.postgres.query(
                """
                INSERT INTO flowforge.live_output (execution_id, step_index, attempt, step, updated_at)
                SELECT id, 0, 1, '{}'::jsonb, now() - interval '1 minute' FROM flowforge.executions WHERE status = 'failed'
                """)
            try await api.postgres.query(
                "UPDATE flowforge.live_output SET attempt = 0, updated_at = now() - interval '1 minute' WHERE execution_id = \(liveRun) AND step_index = 1")
            #expect(try await store.pruneLiveOutput() == 3)
            #expect(try await Self.liveRows(api) == 1)
            #expect(try await Self.liveRows(api, liveRun) == 1)
        }
    }

    @Test("a step printing every 10 ms for 3 s costs at most one row write a second, and the run its result only")
    func writesPerSecond() async throws {
        let metrics = FlowForgeMetrics()
        try await withAPI(services: Self.worker(metrics: metrics)) { api in
            let printer = "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); sleep 0.01; done"
            let id = try await WorkerTests.run(api, ["name": "chatty", "steps": [["name": "print", "kind": "shell", "command": ["sh", "-c", .string(printer)]]]])
            let finished = try await WorkerTests.finished(api, id)
            #expect(finished["status"] == "completed")
            let step = try #require(finished.list("steps").first)
            let started = try #require(step["started_at"]?.stringValue.flatMap(Timestamp.parse))
            let ended = try #require(step["finished_at"]?.stringValue.flatMap(Timestamp.parse))
            let seconds = ended.timeIntervalSince(started)
            #expect(seconds >= 3)
            let rows = Self.counter("flowforge_live_output_writes_total", in: metrics.render())
            let flushes = Self.counter("flowforge_live_output_flushes_total", in: metrics.render())
            // One flush a second while it printed, each writing its one step; the step's final
            // state may take one more, before the result replaces it.
            #expect(rows >= 1)
            #expect(rows == flushes)
            #expect(Double(rows) <= seconds.rounded(.up) + 1, "\(rows) writes in \(seconds) s")
            #expect(try await Self.liveRowsAfterResult(api) == 0)
        }
    }

    /// Output a test writes by hand.
    final class Printed: LiveOutputSource {
        private let text = Mutex("")
        func print(_ line: String) { text.withLock { $0 += line } }
        var outputBytes: Int { text.withLock { $0.utf8.count } }
        var outputSoFar: StepOutput { StepOutput(text: text.withLock { $0 }) }
    }

    @Test("a flush takes only the steps whose output or state changed; a failed write hands them back; the end says whether any was taken")
    func takesOnlyChanges() throws {
        let live = LiveOutput(minimumAge: .zero)
        let run = RunAttempt(executionId: 7, attempt: 2)
        let quiet = RunAttempt(executionId: 8, attempt: 1)
        let first = live.started(run, step: 0, name: "first")
        let printed = Printed()
        first.follow(printed)
        _ = live.started(quiet, step: 0, name: "noop")

        // Both show once, as running; the quiet one with no output.
        var changes = live.takeChanges().sorted { $0.attempt.executionId < $1.attempt.executionId }
        #expect(changes.map(\.attempt) == [run, quiet])
        #expect(changes[0].step["status"] == "running")
        #expect(changes[0].step["output"] == "")
        #expect(changes[0].step["output_bytes"] == 0)
        #expect(changes[1].step["exit_code"] == .null)
        #expect(live.takeChanges().isEmpty)

        printed.print("one\n")
        printed.print("two\n")
        changes = live.takeChanges()
        #expect(changes.count == 1)
        #expect(changes.first?.step["output"] == "one\ntwo\n")
        #expect(changes.first?.step["output_bytes"] == 8)
        // The write failed: the next flush takes the same again.
        live.untake(changes)
        #expect(live.takeChanges().first?.step["output"] == "one\ntwo\n")
        #expect(live.takeChanges().isEmpty)

        // The step ends and the next starts: the ended one's result is taken once, the new one shows.
        live.finished(run, step: 0, result: ["name": "first", "status": "completed", "exit_code": 0, "output": "one\ntwo\n"])
        _ = live.started(run, step: 1, name: "second")
        changes = live.takeChanges().sorted { $0.stepIndex < $1.stepIndex }
        #expect(changes.map(\.stepIndex) == [0, 1])
        #expect(changes[0].step["status"] == "completed")
        #expect(changes[0].version == LiveOutput.finalVersion)
        #expect(changes[1].step["status"] == "running")
        #expect(live.takeChanges().isEmpty)
        #expect(live.stepCount == 3)

        #expect(live.ended(run))
        #expect(live.ended(quiet))
        #expect(live.stepCount == 0)
        // An attempt no flush saw writes no rows, and its result deletes none.
        let young = LiveOutput()
        _ = young.started(run, step: 0, name: "quick")
        #expect(young.takeChanges().isEmpty)
        #expect(!young.ended(run))
    }

    @Test("an http step's answer shows as it arrives: its status line and the body so far")
    func httpAnswerWhileArriving() async throws {
        try await HTTPStepTests.withTrickleServer { port, log in
            let http = try HTTPStepTests.step(["url": .string("http://127.0.0.1:\(port)/slow"), "method": "GET", "timeout_seconds": 600])
            let live = LiveOutput(minimumAge: .zero)
            let step = live.started(RunAttempt(executionId: 1, attempt: 1), step: 0, name: "trickle")
            let running = Task {
                await HTTPStepRunner().run(http, name: "trickle", context: [:], deadline: ContinuousClock.now + .seconds(600), live: step)
            }
            let shown = await HTTPStepTests.waitUntil {
                live.takeChanges().contains { change in
                    change.step["status"] == "running" && change.step["output"]?.stringValue?.hasPrefix("HTTP 200\nx") == true
                }
            }
            #expect(shown, "the answer did not show while it arrived")
            running.cancel()
            let result = await running.value
            #expect(result.error == "step trickle was stopped: the run was cancelled")
            #expect(await HTTPStepTests.waitUntil { await log.abandoned })
        }
    }

    static func counter(_ name: String, in text: String) -> Int {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Int(Double(line.split(separator: " ")[1]) ?? -1)
        }
        return -1
    }
}
