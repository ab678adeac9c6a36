@testable import FlowForgeScheduler
import FlowForgeShared
@testable import FlowForgeWorker
import Foundation
import Hummingbird
import PostgresNIO
import ServiceLifecycle
import Testing

@Suite("Scheduler")
struct SchedulerTests {
    static func minute(_ minutes: Double, seconds: Double = 0) -> Date { testNow.addingTimeInterval(minutes * 60 + seconds) }

    @Test("an every-minute trigger fires once per minute, on the minute, even with two schedulers racing")
    func everyMinuteExactlyOnce() async throws {
        try await withAPI { api in
            let id = try await api.workflow("tick")
            let trigger = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "scheduled", "cron_expression": "* * * * *"])
            let triggerId = try #require(trigger["id"]?.intValue)
            #expect(trigger["next_run_at"] == "2026-01-15T10:01:00Z")
            let replicaA = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            let replicaB = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            for minute in 1...3 {
                let now = Self.minute(Double(minute), seconds: 0.2)
                async let a = replicaA.fireDueTriggers(now: now)
                async let b = replicaB.fireDueTriggers(now: now)
                #expect(try await a + b == 1)
                // A late second pass finds nothing more to do.
                #expect(try await replicaA.fireDueTriggers(now: now) == 0)
            }
            let runs = try await api.expect(.ok, .get, "/api/workflows/\(id)/triggers/\(triggerId)/history")
            #expect(runs.list("executions").map { $0["scheduled_for"] } == ["2026-01-15T10:03:00Z", "2026-01-15T10:02:00Z", "2026-01-15T10:01:00Z"])
            #expect(runs.list("executions").allSatisfy { $0["trigger_type"] == "scheduled" && $0["status"] == "queued" })
            let after = try await api.expect(.ok, .get, "/api/workflows/\(id)/triggers/\(triggerId)")
            #expect(after["next_run_at"] == "2026-01-15T10:04:00Z")
            #expect(after["last_run_at"] == "2026-01-15T10:03:00Z")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 3)
        }
    }

    @Test("misfire policies after a scheduler outage", arguments: [("skip", 0), ("run_once", 1), ("run_all", 6)])
    func misfire(policy: String, expected: Int) async throws {
        try await withAPI { api in
            let id = try await api.workflow("five")
            let trigger = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers",
                json: ["trigger_type": "scheduled", "cron_expression": "*/5 * * * *", "misfire_policy": .string(policy)])
            #expect(trigger["next_run_at"] == "2026-01-15T10:05:00Z")
            // Down from 10:00 to 10:32: 10:05 … 10:30 were missed, the last one by two minutes.
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.fireDueTriggers(now: Self.minute(32)) == expected)
            let runs = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(id)").list("executions")
            #expect(runs.count == expected)
            if policy == "run_once" { #expect(runs.first?["scheduled_for"] == "2026-01-15T10:30:00Z") }
            if policy == "run_all" { #expect(runs.last?["scheduled_for"] == "2026-01-15T10:05:00Z") }
            let after = try await api.expect(.ok, .get, "/api/workflows/\(id)/triggers/\(trigger["id"]!.intValue!)")
            #expect(after["next_run_at"] == "2026-01-15T10:35:00Z")
        }
    }

    /// Marks a new execution of `workflow` finished with `status`, as a worker would.
    static func finishedRun(_ api: APIHarness, workflow: Int64, status: String) async throws -> Int64 {
        let rows = try await api.postgres.query(
            """
            WITH run AS (
                INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, status, started_at, finished_at)
                VALUES (\(workflow), 'A', 'manual', \(status), now(), now()) RETURNING id, finished_at
            ), backlog AS (
                INSERT INTO flowforge.cascade_backlog (execution_id, finished_at) SELECT id, finished_at FROM run
            )
            SELECT id FROM run
            """)
        for try await id in rows.decode(Int64.self) { return id }
        throw FlowForgeError.conflict("no row")
    }

    @Test("the cascade starts exactly the downstream runs whose condition holds, once each")
    func cascadeConditions() async throws {
        try await withAPI { api in
            let a = try await api.workflow("A")
            let b = try await api.workflow("B")
            let c = try await api.workflow("C")
            let d = try await api.workflow("D")
            #expect(try await api.dependency(b, on: a, condition: "on_success").status == .created)
            #expect(try await api.dependency(c, on: a, condition: "on_failure").status == .created)
            try await api.expect(
                .created, .post, "/api/workflows/\(d)/triggers",
                json: ["trigger_type": "dependency", "depends_on_workflow_id": .int(a), "dependency_condition": "on_completion", "delay_minutes": 1])
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)

            let success = try await Self.finishedRun(api, workflow: a, status: "completed")
            async let first = store.cascade()
            async let second = store.cascade()
            #expect(try await first + second == 2)
            #expect(try await store.cascade() == 0)
            let afterSuccess = try await api.expect(.ok, .get, "/api/executions?trigger_type=dependency").list("executions")
            #expect(Set(afterSuccess.compactMap { $0["workflow_name"]?.stringValue }) == ["B", "D"])
            #expect(afterSuccess.allSatisfy { $0["upstream_execution_id"]?.intValue == success })

            let failure = try await Self.finishedRun(api, workflow: a, status: "failed")
            #expect(try await store.cascade() == 2)
            let afterFailure = try await api.expect(.ok, .get, "/api/executions?trigger_type=dependency&limit=2").list("executions")
            #expect(Set(afterFailure.compactMap { $0["workflow_name"]?.stringValue }) == ["C", "D"])
            #expect(afterFailure.allSatisfy { $0["upstream_execution_id"]?.intValue == failure })

            // D waits its minute: its job is due exactly 60 s after the upstream finished.
            let delay = try await api.scalar(
                """
                SELECT extract(epoch FROM j.run_at - u.finished_at)::float8 FROM flowforge.jobs j
                JOIN flowforge.executions e ON e.id = j.execution_id JOIN flowforge.executions u ON u.id = e.upstream_execution_id
                WHERE e.workflow_name = 'D' AND u.id = \(failure)
                """, as: Double.self)
            #expect(delay == 60)
            // A disabled trigger starts nothing.
            let cTrigger = try #require(try await api.expect(.ok, .get, "/api/workflows/\(c)/triggers").list("triggers").first?["id"]?.intValue)
            try await api.expect(.ok, .patch, "/api/workflows/\(c)/triggers/\(cTrigger)/disable")
            _ = try await Self.finishedRun(api, workflow: a, status: "failed")
            #expect(try await store.cascade() == 1)  // only D
        }
    }

    @Test("lease rescue requeues a lost worker's run, or fails it when no attempts remain")
    func leaseRescue() async throws {
        try await withAPI { api in
            let retrying = try await api.workflow("retrying", extra: ["max_attempts": 2])
            let final = try await api.workflow("final")
            for workflow in [retrying, final] {
                try await api.postgres.query(
                    """
                    WITH run AS (
                        INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, status, started_at, worker_id)
                        VALUES (\(workflow), 'x', 'manual', 'running', now(), 'ghost') RETURNING id, workflow_id
                    )
                    INSERT INTO flowforge.jobs (execution_id, workflow_id, limited, locked_by, lease_expires_at)
                    SELECT id, workflow_id, true, 'ghost', now() - interval '1 second' FROM run
                    """)
            }
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            let (requeued, failed) = try await store.rescueExpiredLeases()
            #expect(requeued == 1)
            #expect(failed == 1)
            let runs = try await api.expect(.ok, .get, "/api/executions").list("executions")
            let retried = try #require(runs.first { $0["workflow_id"]?.intValue == retrying })
            #expect(retried["status"] == "queued")
            #expect(retried["attempt"] == 2)
            let lost = try #require(runs.first { $0["workflow_id"]?.intValue == final })
            #expect(lost["status"] == "failed")
            #expect(lost["error"] == "worker lost: its lease expired and no attempts remain")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs WHERE locked_by IS NULL", as: Int64.self) == 1)
        }
    }

    @Test("a worker that stalled past its lease is not heard about the old attempt, even after claiming the run again")
    func staleAttemptIsFenced() async throws {
        try await withAPI { api in
            let id = try await api.workflow("fenced", extra: ["max_attempts": 3])
            let run = try #require(try await api.expect(.created, .post, "/api/workflows/\(id)/run")["id"]?.intValue)
            let queue = QueueStore(client: api.postgres, logger: TestDatabase.logger)
            let firstClaim = try await queue.claim(workerID: "w", limit: 1, leaseSeconds: 30)
            let first = try #require(firstClaim.runs.first)
            #expect(first.key == RunAttempt(executionId: run, attempt: 1))
            #expect(firstClaim.nextDueIn == nil)  // no other job waits
            // The worker stalls (SIGSTOP, a cut link): its lease runs out and maintenance requeues.
            try await api.postgres.query("UPDATE flowforge.jobs SET lease_expires_at = now() - interval '1 second'")
            #expect(try await SchedulerStore(client: api.postgres, logger: TestDatabase.logger).rescueExpiredLeases() == (1, 0))
            // It resumes and claims the run again before its old result is written.
            let second = try #require(try await queue.claim(workerID: "w", limit: 1, leaseSeconds: 30).runs.first)
            #expect(second.key == RunAttempt(executionId: run, attempt: 2))

            // Attempt 1's lease is gone, attempt 2's is held; attempt 1's result and release change nothing.
            #expect(try await queue.renewLeases(workerID: "w", attempts: [first.key, second.key], leaseSeconds: 30) == [second.key])
            let stale = RunOutcome(executionId: run, attempt: 1, succeeded: false, error: "stale", steps: .array([]))
            try await queue.finish([stale], workerID: "w")
            try await queue.release([first.key], workerID: "w")
            var shown = try await api.expect(.ok, .get, "/api/executions/\(run)")
            #expect(shown["status"] == "running")
            #expect(shown["attempt"] == 2)
            #expect(try await api.scalar("SELECT attempt FROM flowforge.jobs WHERE locked_by = 'w'", as: Int.self) == 2)

            try await queue.finish([RunOutcome(executionId: run, attempt: 2, succeeded: true, error: nil, steps: .array([]))], workerID: "w")
            shown = try await api.expect(.ok, .get, "/api/executions/\(run)")
            #expect(shown["status"] == "completed")
            #expect(shown["attempt"] == 2)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 0)
        }
    }

    @Test("every run a worker finishes is announced on flowforge_execution_finished, whichever statement records it")
    func finishedRunsAreAnnounced() async throws {
        try await withAPI { api in
            let id = try await api.workflow("announced", extra: ["max_attempts": 1, "overlap_policy": "allow"])
            var runs: [Int64] = []
            for _ in 0..<3 { runs.append(try #require(try await api.expect(.created, .post, "/api/workflows/\(id)/run")["id"]?.intValue)) }
            let heard = Heard()
            let listener = Task {
                await listen(
                    [.executionFinished], postgres: api.postgres, logger: TestDatabase.logger,
                    onSubscribed: { heard.subscribed() }, onNotification: { _, payload in heard.add(payload) })
            }
            defer { listener.cancel() }
            try await heard.waitFor { $0.subscribed }

            let queue = QueueStore(client: api.postgres, logger: TestDatabase.logger)
            let claimed = try await queue.claim(workerID: "w", limit: 2, leaseSeconds: 30).runs.map(\.key)
            #expect(claimed.map(\.executionId) == Array(runs[0..<2]))
            func outcome(_ run: Int64, _ succeeded: Bool) -> RunOutcome {
                RunOutcome(executionId: run, attempt: 1, succeeded: succeeded, error: succeeded ? nil : "boom", steps: .array([]))
            }
            // Results with the next claim in one statement, results alone, and a failure.
            let next = try await queue.finish([outcome(runs[0], true)], workerID: "w", thenClaim: 1)
            #expect(next.runs.map(\.key.executionId) == [runs[2]])
            _ = try await queue.finish([outcome(runs[1], true)], workerID: "w")
            _ = try await queue.finish([outcome(runs[2], false)], workerID: "w")

            try await heard.waitFor { $0.payloads.count >= 3 }
            #expect(heard.state.payloads.sorted() == runs.map(String.init).sorted())
        }
    }

    @Test("end to end: Run now on the upstream, the worker runs it, the cascader starts the downstream")
    func endToEnd() async throws {
        let services: @Sendable (PostgresClient) -> [any Service] = { postgres in
            var config = SchedulerService.Config()
            config.cascadeSweep = .seconds(5)
            return WorkerTests.worker()(postgres) + [SchedulerService(postgres: postgres, config: config, logger: TestDatabase.logger)]
        }
        try await withAPI(services: services) { api in
            let extract = try await api.workflow("extract")
            let load = try await api.expect(
                .created, .post, "/api/workflows",
                json: [
                    "name": "load",
                    "steps": [["name": "show", "kind": "shell", "command": ["sh", "-c", "echo $FLOWFORGE_TRIGGER_TYPE $FLOWFORGE_UPSTREAM_STATUS"]]],
                    "triggers": [["trigger_type": "dependency", "depends_on_workflow_id": .int(extract)]],
                ])
            let upstream = try await api.expect(.created, .post, "/api/workflows/\(extract)/run")
            let upstreamId = try #require(upstream["id"]?.intValue)
            _ = try await WorkerTests.finished(api, upstreamId)
            let deadline = ContinuousClock.now + .seconds(30)
            var downstream: JSONValue = .null
            while ContinuousClock.now < deadline {
                let runs = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(load["id"]!.intValue!)").list("executions")
                if let run = runs.first, run["status"] == "completed" {
                    downstream = run
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(downstream["trigger_type"] == "dependency")
            #expect(downstream["trigger_name"] == "After extract succeeds")
            #expect(downstream["upstream_execution_id"]?.intValue == upstreamId)
            // The list shows how much the step printed; the run itself, what.
            #expect(downstream.list("steps").first?["output"] == nil)
            #expect(downstream.list("steps").first?["output_bytes"] == 21)
            let run = try await api.expect(.ok, .get, "/api/executions/\(downstream["id"]?.intValue ?? 0)")
            #expect(run.list("steps").first?["output"] == "dependency completed\n")
        }
    }

    @Test("runs are created ahead of their time, wait for it, and show as the next run")
    func lookahead() async throws {
        try await withAPI { api in
            let id = try await api.workflow("early")
            let trigger = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "scheduled", "cron_expression": "0 0 1 1 *"])
            let triggerId = try #require(trigger["id"]?.intValue)
            // Due 30 s from now by the database's clock, whole seconds, so the JSON form is exact.
            let due = try #require(try await api.scalar("SELECT date_trunc('second', now()) + interval '30 seconds'", as: Date.self))
            try await api.postgres.query("UPDATE flowforge.workflow_triggers SET next_run_at = \(due) WHERE id = \(triggerId)")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.fireDueTriggers(now: Date(), lookahead: 10) == 0)  // not within 10 s yet
            #expect(try await store.fireDueTriggers(now: Date(), lookahead: 45) == 1)
            #expect(try await store.fireDueTriggers(now: Date(), lookahead: 45) == 0)

            let runs = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(id)").list("executions")
            #expect(runs.count == 1)
            #expect(runs.first?["status"] == "queued")
            #expect(runs.first?["scheduled_for"] == .string(Timestamp.format(due)))
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs WHERE run_at = \(due)", as: Int64.self) == 1)
            // Not due yet: a worker claims nothing.
            let queue = QueueStore(client: api.postgres, logger: TestDatabase.logger)
            let before = try #require(try await api.scalar("SELECT extract(epoch FROM \(due) - now())::float8", as: Double.self))
            let early = try await queue.claim(workerID: "w", limit: 10, leaseSeconds: 30)
            let after = try #require(try await api.scalar("SELECT extract(epoch FROM \(due) - now())::float8", as: Double.self))
            #expect(early.runs.isEmpty)
            // It learns, from the same statement, how long it may sleep: until the job comes due.
            let dueIn = try #require(early.nextDueIn)
            #expect(dueIn <= before && dueIn >= after && after > 0, "\(after) ≤ \(dueIn) ≤ \(before)")
            // The trigger and the workflow list show the run still to come, not the one after it,
            // and no last run (nothing was due yet).
            let shown = try await api.expect(.ok, .get, "/api/workflows/\(id)/triggers/\(triggerId)")
            #expect(shown["next_run_at"] == .string(Timestamp.format(due)))
            #expect(shown["last_run_at"] == .null)
            let workflow = try await api.expect(.ok, .get, "/api/workflows/\(id)")
            #expect(workflow["next_run_at"] == .string(Timestamp.format(due)))
            #expect(workflow["last_execution"] == .null)
            // Disabling the trigger withdraws the early run: it never happened.
            try await api.expect(.ok, .patch, "/api/workflows/\(id)/triggers/\(triggerId)/disable")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) == 0)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 0)
        }
    }

    @Test("a new schedule or a deleted trigger withdraws early runs; runs already due stay", arguments: ["reschedule", "delete"])
    func withdrawEarlyRuns(change: String) async throws {
        try await withAPI { api in
            let id = try await api.workflow("early")
            var triggers: [Int64] = []
            for _ in 1...2 {
                let trigger = try await api.expect(
                    .created, .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "scheduled", "cron_expression": "0 0 1 1 *"])
                triggers.append(try #require(trigger["id"]?.intValue))
            }
            // The first trigger's run is 20 s ahead, the second's was due 5 s ago.
            try await api.postgres.query("UPDATE flowforge.workflow_triggers SET next_run_at = now() + interval '20 seconds' WHERE id = \(triggers[0])")
            try await api.postgres.query("UPDATE flowforge.workflow_triggers SET next_run_at = now() - interval '5 seconds' WHERE id = \(triggers[1])")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.fireDueTriggers(now: Date(), lookahead: 30) == 2)
            for trigger in triggers {
                if change == "delete" {
                    try await api.expect(.noContent, .delete, "/api/workflows/\(id)/triggers/\(trigger)")
                } else {
                    try await api.expect(.ok, .put, "/api/workflows/\(id)/triggers/\(trigger)", json: ["cron_expression": "0 0 2 1 *"])
                }
            }
            let left = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(id)").list("executions")
            #expect(left.map { $0["trigger_id"] } == [.int(triggers[1])])
            #expect(left.first?["status"] == "queued")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 1)
        }
    }

    @Test("after an outage, the misfire policy judges the late runs and the look-ahead adds the one to come")
    func misfireWithLookahead() async throws {
        try await withAPI { api in
            let id = try await api.workflow("five")
            try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers",
                json: ["trigger_type": "scheduled", "cron_expression": "*/5 * * * *", "misfire_policy": "run_once"])
            // Back at 10:32 with 200 s of look-ahead: 10:30 (the latest missed) and 10:35 (to come).
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.fireDueTriggers(now: Self.minute(32), lookahead: 200) == 2)
            let runs = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(id)").list("executions")
            #expect(runs.map { $0["scheduled_for"] } == ["2026-01-15T10:35:00Z", "2026-01-15T10:30:00Z"])
            #expect(try await api.scalar("SELECT next_run_at FROM flowforge.workflow_triggers", as: Date.self) == Self.minute(40))
        }
    }
}

/// Notifications a test listened for.
final class Heard: @unchecked Sendable {
    struct State {
        var subscribed = false
        var payloads: [String] = []
    }
    private let lock = NSLock()
    private var current = State()

    var state: State { lock.withLock { current } }
    func subscribed() { lock.withLock { current.subscribed = true } }
    func add(_ payload: String) { lock.withLock { current.payloads.append(payload) } }

    /// Waits up to 10 s for `condition`, and fails the test if it never holds.
    func waitFor(_ condition: (State) -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition(state) {
            guard ContinuousClock.now < deadline else {
                Issue.record("not heard in 10 s: \(state)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
