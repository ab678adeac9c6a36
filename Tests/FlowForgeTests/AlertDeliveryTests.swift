@testable import FlowForgeScheduler
@testable import FlowForgeShared
@testable import FlowForgeWorker
import Foundation
import Hummingbird
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

/// Alerts from the run's final status to the receiver, against real PostgreSQL, real workers
/// and notifiers, and a real HTTP receiver: which alerts a run raises, that each matching rule
/// and channel gets exactly one message whatever crashes, and how failed deliveries are retried.
@Suite("Alert delivery")
struct AlertDeliveryTests {
    static let publicURL = "http://flowforge.test"

    /// A scheduler (its notifier) for these tests: the test key, a short sweep, and `clock`.
    static func scheduler(id: String = "notifier-1", clock: (@Sendable () -> Date)? = nil) -> SchedulerService.Config {
        var config = SchedulerService.Config()
        config.secretBox = AlertFixtures.box
        config.publicURL = publicURL
        config.notifierID = id
        config.alertSweep = .milliseconds(100)
        config.cascadeSweep = .milliseconds(200)
        config.rescueInterval = .milliseconds(300)
        if let clock {
            config.clock = clock
            // A moved clock runs far faster than sends take; its own leases must not run out.
            config.alertLease = .seconds(30 * 86_400)
        }
        return config
    }

    static func services(workers: Int = 1, schedulers: [SchedulerService.Config] = [scheduler()]) -> @Sendable (PostgresClient) -> [any Service] {
        { postgres in
            var services: [any Service] = schedulers.map { SchedulerService(postgres: postgres, config: $0, logger: TestDatabase.logger) }
            if workers > 0 { services += WorkerTests.worker(concurrency: 4, pollInterval: .milliseconds(100))(postgres) }
            return services
        }
    }

    static func shellWorkflow(_ api: APIHarness, _ name: String, _ script: String, extra: [String: JSONValue] = [:]) async throws -> Int64 {
        try await api.workflow(name, extra: ["steps": [["name": "work", "kind": "shell", "command": ["sh", "-c", .string(script)]]]].merging(extra) { _, new in new })
    }

    @Test("a failing run: one signed message per matching rule and channel, none for other workflows' or disabled rules")
    func oneMessagePerRuleAndChannel() async throws {
        try await TestReceiver.with { receiver, url in
            try await withAPI(services: Self.services()) { api in
                let etl = try await Self.shellWorkflow(api, "etl", "echo loading; echo 'no such table: orders' >&2; exit 3")
                let other = try await api.workflow("other")
                let first = try await AlertFixtures.webhookChannel(api, "first", url: url + "/first")
                let second = try await AlertFixtures.webhookChannel(api, "second", url: url + "/second")
                let both = try await AlertFixtures.rule(api, .init(name: "etl to both", workflows: [etl], channels: [first, second]))
                let everything = try await AlertFixtures.rule(api, .init(name: "everything", workflows: nil, channels: [first]))
                try await AlertFixtures.rule(api, .init(name: "other only", workflows: [other], channels: [first, second]))
                try await AlertFixtures.rule(api, .init(name: "switched off", workflows: nil, channels: [second], enabled: false))

                let run = try await api.expect(.created, .post, "/api/workflows/\(etl)/run")
                let id = try #require(run["id"]?.intValue)
                #expect(try await WorkerTests.finished(api, id)["status"] == "failed")
                let (delivered, failed) = try await AlertFixtures.settled(api, expecting: 3)
                #expect(delivered == 3 && failed == 0)
                try await Task.sleep(for: .milliseconds(500))  // nothing more comes

                let received = receiver.all
                #expect(received.count == 3)
                #expect(received.allSatisfy { $0.request.signatureValid == true && $0.accepted })
                let pairs = Set(received.map { "\($0.request.json?["rule"]?["name"]?.stringValue ?? "?") → \($0.request.path)" })
                #expect(pairs == ["etl to both → /alerts/first", "etl to both → /alerts/second", "everything → /alerts/first"])
                let message = try #require(received.first { $0.request.json?["rule"]?["id"]?.intValue == everything }?.request.json)
                #expect(message["event"] == "failed")
                #expect(message["workflow"]?["name"] == "etl")
                #expect(message["execution"]?["id"]?.intValue == id)
                #expect(message["execution"]?["status"] == "failed")
                #expect(message["execution"]?["trigger_type"] == "manual")
                #expect(message["execution"]?["error"]?.stringValue?.contains("exit") == true)
                #expect(message["execution"]?["started_at"]?.stringValue.flatMap(Timestamp.parse) != nil)
                #expect(message["execution"]?["duration_seconds"] != nil && message["execution"]?["duration_seconds"] != .null)
                #expect(message["url"]?.stringValue == "\(Self.publicURL)/#/executions/\(id)")
                #expect(message["headline"] == .string("etl failed (run #\(id))"))
                #expect(message["test"] == false)
                for item in received {
                    #expect(item.request.idempotencyKey == item.request.json?["idempotency_key"]?.stringValue)
                }
                #expect(Set(received.compactMap(\.request.idempotencyKey)).count == 3)
                #expect(try await api.count("SELECT count(*) FROM flowforge.alerts WHERE rule_id = \(both)") == 1)
                #expect(try await api.count("SELECT count(*) FROM flowforge.alert_attempts WHERE outcome = 'delivered' AND status_code = 200") == 3)
            }
        }
    }

    @Test("a Slack channel: the sealed URL gets Block Kit JSON with the headline, the facts, the error and a button to the run")
    func slack() async throws {
        try await TestReceiver.with(secret: nil) { receiver, url in
            try await withAPI(services: Self.services(workers: 0)) { api in
                let job = try await api.workflow("nightly")
                let channel = try await AlertFixtures.slackChannel(api, "team", url: url + "/services/T0/B0/XYZ")
                try await AlertFixtures.rule(api, .init(name: "failures", workflows: [job], channels: [channel]))
                let id = try #require(try await AlertFixtures.finishRuns(api, workflow: job).first)
                let (delivered, _) = try await AlertFixtures.settled(api, expecting: 1)
                #expect(delivered == 1)
                let request = try #require(receiver.all.first?.request)
                #expect(request.path == "/alerts/services/T0/B0/XYZ")
                let body = try #require(request.json)
                #expect(body["text"] == .string("nightly failed (run #\(id))"))
                let blocks = body["blocks"]?.arrayValue ?? []
                #expect(blocks.map { $0["type"]?.stringValue ?? "" } == ["header", "section", "section", "actions"])
                #expect(blocks[2]["text"]?["text"] == "*Error*\n```exit status 1```")
                #expect(blocks[3]["elements"]?.arrayValue?.first?["url"]?.stringValue == "\(Self.publicURL)/#/executions/\(id)")
            }
        }
    }

    @Test("failed, then N in a row, then recovered and succeeded: each event once, at the run that makes it true")
    func streaks() async throws {
        try await withAPI(services: Self.services(schedulers: [])) { api in
            let flaky = try await Self.shellWorkflow(api, "flaky", #"[ "$FLOWFORGE_PARAM_OK" = 1 ]"#)
            let channel = try await AlertFixtures.webhookChannel(api, "nowhere", url: "http://127.0.0.1:9/")
            let rule = try await AlertFixtures.rule(
                api,
                .init(
                    name: "streaks", workflows: [flaky], channels: [channel],
                    events: ["on_failed": 1, "consecutive_failures": 2, "on_recovered": 1, "on_succeeded": 1]))
            var runs: [Int64] = []
            for ok in [0, 0, 0, 1, 0, 1] {
                let run = try await api.expect(.created, .post, "/api/workflows/\(flaky)/run", json: ["params": ["ok": .int(Int64(ok))]])
                let id = try #require(run["id"]?.intValue)
                _ = try await WorkerTests.finished(api, id)
                runs.append(id)
            }
            let alerts = try await AlertFixtures.alerts(api, rule: rule)
            let expected: [(Int64, String, Int?)] = [
                (runs[0], "failed", nil), (runs[1], "failed", nil), (runs[1], "consecutive_failures", 2), (runs[2], "failed", nil),
                (runs[3], "succeeded", nil), (runs[3], "recovered", 3), (runs[4], "failed", nil), (runs[5], "succeeded", nil),
                (runs[5], "recovered", 1),
            ]
            #expect(alerts.map { "\($0.0!) \($0.1) \($0.2.map(String.init) ?? "-")" } == expected.map { "\($0.0) \($0.1) \($0.2.map(String.init) ?? "-")" })
            // One delivery per alert, to the rule's one channel.
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_deliveries") == Int64(expected.count))
        }
    }

    @Test("a streak counted from history when a rule is created after the failures, and after runs no rule watched")
    func streakFromHistory() async throws {
        try await withAPI { api in
            let job = try await api.workflow("job")
            let channel = try await AlertFixtures.webhookChannel(api, "nowhere", url: "http://127.0.0.1:9/")
            // Two failures before any rule exists: nothing is kept for them.
            try await AlertFixtures.finishRuns(api, workflow: job, count: 2)
            let rule = try await AlertFixtures.rule(
                api, .init(name: "three in a row", workflows: [job], channels: [channel], events: ["consecutive_failures": 3, "on_recovered": 1]))
            let third = try await AlertFixtures.finishRuns(api, workflow: job)
            #expect(try await AlertFixtures.alerts(api, rule: rule).map(\.1) == ["consecutive_failures"])
            // While the rule is off, a success and a failure go by unwatched.
            try await api.postgres.query("UPDATE flowforge.alert_rules SET enabled = false WHERE id = \(rule)")
            try await AlertFixtures.finishRuns(api, workflow: job, status: "completed")
            try await AlertFixtures.finishRuns(api, workflow: job)
            try await api.postgres.query("UPDATE flowforge.alert_rules SET enabled = true WHERE id = \(rule)")
            // So the next success recovers from one failure, not from four.
            let recovered = try await AlertFixtures.finishRuns(api, workflow: job, status: "completed")
            let alerts = try await AlertFixtures.alerts(api, rule: rule)
            #expect(alerts.map { "\($0.0!) \($0.1) \($0.2 ?? -1)" } == ["\(third[0]) consecutive_failures 3", "\(recovered[0]) recovered 1"])
        }
    }

    @Test("a run skipped by its overlap policy raises `skipped`")
    func skipped() async throws {
        try await withAPI(services: Self.services(schedulers: [])) { api in
            let single = try await Self.shellWorkflow(api, "single", "sleep 60", extra: ["overlap_policy": "skip", "max_concurrent_runs": 1])
            let channel = try await AlertFixtures.webhookChannel(api, "nowhere", url: "http://127.0.0.1:9/")
            let rule = try await AlertFixtures.rule(api, .init(name: "skips", workflows: [single], channels: [channel], events: ["on_skipped": 1]))
            let first = try #require(try await api.expect(.created, .post, "/api/workflows/\(single)/run")["id"]?.intValue)
            try await WorkerProcessTests.waitUntilRunning(api, first)
            let second = try #require(try await api.expect(.created, .post, "/api/workflows/\(single)/run")["id"]?.intValue)
            #expect(try await WorkerTests.finished(api, second)["status"] == "skipped")
            #expect(try await AlertFixtures.alerts(api, rule: rule).map { "\($0.0!) \($0.1)" } == ["\(second) skipped"])
            try await api.expect(.ok, .post, "/api/executions/\(first)/cancel")
        }
    }

    @Test("a throttle sends one alert per rule and workflow in its window and counts the ones it held back into the next")
    func throttle() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a"), b = try await api.workflow("b")
            let channel = try await AlertFixtures.webhookChannel(api, "nowhere", url: "http://127.0.0.1:9/")
            let rule = try await AlertFixtures.rule(api, .init(name: "calm", workflows: [a, b], channels: [channel], throttleMinutes: 30))
            try await AlertFixtures.finishRuns(api, workflow: a, count: 4)
            try await AlertFixtures.finishRuns(api, workflow: b)
            #expect(try await AlertFixtures.alerts(api, rule: rule).map { "\($0.1) \($0.3)" } == ["failed 0", "failed 0"])
            #expect(try await api.scalar("SELECT held_back FROM flowforge.alert_throttle WHERE workflow_id = \(a)", as: Int32.self) == 3)
            // The window passes.
            try await api.postgres.query("UPDATE flowforge.alert_throttle SET last_alert_at = last_alert_at - interval '31 minutes'")
            let next = try await AlertFixtures.finishRuns(api, workflow: a)
            let alerts = try await AlertFixtures.alerts(api, rule: rule)
            #expect(alerts.count == 3)
            #expect(alerts.last.map { "\($0.0!) \($0.3)" } == "\(next[0]) 3")
        }
    }

    @Test("late and long_running: raised once per run by maintenance, only for the workflows the rule covers, never for a backfill")
    func timing() async throws {
        try await withAPI { api in
            let nightly = try await api.workflow("nightly"), other = try await api.workflow("other")
            let channel = try await AlertFixtures.webhookChannel(api, "nowhere", url: "http://127.0.0.1:9/")
            let rule = try await AlertFixtures.rule(
                api, .init(name: "timing", workflows: [nightly], channels: [channel], events: ["late_seconds": 60, "long_running_seconds": 600]))
            let trigger = try await api.scheduledTrigger(nightly, cron: "0 2 * * *")
            let otherTrigger = try await api.scheduledTrigger(other, cron: "0 2 * * *")
            // Queued 2 minutes past its time (late); queued 30 s past (not yet); the other
            // workflow's (not covered); a backfill's (late by design); running for 20 minutes.
            try await api.postgres.query(
                """
                WITH runs AS (
                    INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_id, trigger_type, scheduled_for, status, started_at)
                    VALUES (\(nightly), 'nightly', \(trigger), 'scheduled', now() - interval '2 minutes', 'queued', NULL),
                           (\(nightly), 'nightly', \(trigger), 'scheduled', now() - interval '30 seconds', 'queued', NULL),
                           (\(other), 'other', \(otherTrigger), 'scheduled', now() - interval '2 minutes', 'queued', NULL),
                           (\(nightly), 'nightly', \(trigger), 'scheduled', now() - interval '30 days', 'queued', NULL),
                           (\(nightly), 'nightly', NULL, 'manual', NULL, 'running', now() - interval '20 minutes')
                    RETURNING id, workflow_id, scheduled_for, status
                )
                INSERT INTO flowforge.jobs (execution_id, workflow_id, limited, run_at, backfill, locked_by, lease_expires_at)
                SELECT id, workflow_id, false, coalesce(scheduled_for, now()), coalesce(scheduled_for < now() - interval '1 day', false),
                       CASE WHEN status = 'running' THEN 'w' END, CASE WHEN status = 'running' THEN now() + interval '1 hour' END
                FROM runs
                """)
            let ids = try await api.postgres.query("SELECT id FROM flowforge.executions ORDER BY id").collect()
            let runs = try ids.map { try $0.decode(Int64.self) }
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.raiseTimingAlerts(batch: 100) == 2)
            #expect(try await store.raiseTimingAlerts(batch: 100) == 0)
            let alerts = try await AlertFixtures.alerts(api, rule: rule)
            #expect(alerts.map { "\($0.0!) \($0.1) \($0.2!)" } == ["\(runs[0]) late 60", "\(runs[4]) long_running 600"])
        }
    }

    @Test("a receiver answering 500 for ten minutes gets the message once it recovers; each attempt is recorded, the waits doubling")
    func retriesUntilRecovered() async throws {
        let clock = TestClock()
        let start = clock.now()
        try await TestReceiver.with(answer: { _, _ in clock.now() < start.addingTimeInterval(600) ? .internalServerError : .ok }) { receiver, url in
            try await withAPI(services: Self.services(workers: 0, schedulers: [Self.scheduler(clock: clock.now)])) { api in
                let job = try await api.workflow("job")
                let channel = try await AlertFixtures.webhookChannel(api, "flaky receiver", url: url)
                try await AlertFixtures.rule(api, .init(name: "failures", workflows: [job], channels: [channel]))
                try await AlertFixtures.finishRuns(api, workflow: job)
                // Time runs at 5 s per 20 ms until it is delivered (or 40 fake minutes pass).
                while try await api.count("SELECT count(*) FROM flowforge.alert_deliveries WHERE status = 'delivered'") == 0,
                    clock.now() < start.addingTimeInterval(2400)
                {
                    clock.advance(by: 5)
                    try await Task.sleep(for: .milliseconds(20))
                }
                let attempts = try await Self.attempts(api)
                #expect(attempts.last?.outcome == "delivered" && attempts.last?.status == 200)
                #expect(attempts.dropLast().allSatisfy { $0.outcome == "failed" && $0.status == 500 })
                #expect(attempts.count >= 6, "attempts: \(attempts.count)")
                let lastFailure = try #require(attempts.dropLast().last)
                #expect(lastFailure.startedAt < start.addingTimeInterval(600))
                #expect(attempts.last!.startedAt >= start.addingTimeInterval(600))
                // Each wait is at least the policy's, and they grow: 5 s, 10 s, 20 s, …
                let policy = AlertRetryPolicy()
                for (index, pair) in zip(attempts, attempts.dropFirst()).enumerated() {
                    #expect(pair.1.startedAt.timeIntervalSince(pair.0.startedAt) >= policy.delay(after: index + 1).seconds - 0.001)
                }
                #expect(receiver.accepted.count == 1)
                #expect(Set(receiver.all.compactMap(\.request.idempotencyKey)).count == 1)
                #expect(receiver.all.count == attempts.count)
            }
        }
    }

    @Test("a receiver that never recovers: attempts for an hour, then `failed`; one that refuses the message (400) is not asked twice")
    func givesUp() async throws {
        let clock = TestClock()
        let start = clock.now()
        try await TestReceiver.with(answer: { request, _ in request.path.hasSuffix("/refuses") ? .badRequest : .serviceUnavailable }) { receiver, url in
            try await withAPI(services: Self.services(workers: 0, schedulers: [Self.scheduler(clock: clock.now)])) { api in
                let job = try await api.workflow("job")
                let down = try await AlertFixtures.webhookChannel(api, "down", url: url + "/down")
                let refuses = try await AlertFixtures.webhookChannel(api, "refuses", url: url + "/refuses")
                try await AlertFixtures.rule(api, .init(name: "failures", workflows: [job], channels: [down, refuses]))
                try await AlertFixtures.finishRuns(api, workflow: job)
                while try await api.count("SELECT count(*) FROM flowforge.alert_deliveries WHERE status = 'failed'") < 2,
                    clock.now() < start.addingTimeInterval(3 * 3600)
                {
                    clock.advance(by: 20)
                    try await Task.sleep(for: .milliseconds(15))
                }
                let rows = try await api.postgres.query(
                    "SELECT channel_name, status, attempts, last_status_code FROM flowforge.alert_deliveries ORDER BY channel_name").collect()
                let deliveries = try rows.map { try $0.decode((String, String, Int32, Int32?).self) }
                #expect(deliveries.map { "\($0.0) \($0.1) \($0.3 ?? 0)" } == ["down failed 503", "refuses failed 400"])
                #expect(deliveries[1].2 == 1)
                let downAttempts = try await Self.attempts(api, channel: "down")
                #expect(downAttempts.count == Int(deliveries[0].2))
                #expect(downAttempts.count >= 10, "attempts: \(downAttempts.count)")
                let raised = try #require(try await api.scalar("SELECT min(created_at) FROM flowforge.alerts", as: Date.self))
                #expect(downAttempts.last!.startedAt.timeIntervalSince(raised) >= 3600)
                #expect(downAttempts.dropLast().allSatisfy { $0.startedAt.timeIntervalSince(raised) < 3600 })
                // Nothing more after the end.
                let count = receiver.all.count
                clock.advance(by: 3600)
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.all.count == count)
            }
        }
    }

    @Test("two schedulers' notifiers, 300 failing runs: every message delivered once")
    func twoNotifiers() async throws {
        try await TestReceiver.with { receiver, url in
            let schedulers = [Self.scheduler(id: "notifier-a"), Self.scheduler(id: "notifier-b")]
            try await withAPI(maximumConnections: 20, services: Self.services(workers: 0, schedulers: schedulers)) { api in
                let job = try await api.workflow("job")
                let channel = try await AlertFixtures.webhookChannel(api, "receiver", url: url)
                try await AlertFixtures.rule(api, .init(name: "failures", workflows: [job], channels: [channel]))
                for _ in 0..<6 { try await AlertFixtures.finishRuns(api, workflow: job, count: 50) }
                let (delivered, failed) = try await AlertFixtures.settled(api, expecting: 300)
                #expect(delivered == 300 && failed == 0)
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.accepted.count == 300)
                // Each delivered once: a retry (a connection the receiver closed, on a busy
                // machine) carries the same key and follows a failed attempt.
                #expect(Set(receiver.accepted.compactMap(\.request.idempotencyKey)).count == 300)
                #expect(try await api.count("SELECT count(*) FROM flowforge.alert_attempts WHERE outcome = 'delivered'") == 300)
                let notifiers = try await api.count("SELECT count(DISTINCT notifier_id) FROM flowforge.alert_attempts")
                #expect(notifiers >= 1)
            }
        }
    }

    struct Attempt {
        var startedAt: Date
        var outcome: String
        var status: Int?
    }

    static func attempts(_ api: APIHarness, channel: String? = nil) async throws -> [Attempt] {
        let rows = try await api.postgres.query(
            """
            SELECT t.started_at, t.outcome, t.status_code FROM flowforge.alert_attempts t
            JOIN flowforge.alert_deliveries d ON d.id = t.delivery_id
            WHERE \(channel)::text IS NULL OR d.channel_name = \(channel)::text
            ORDER BY t.delivery_id, t.attempt
            """).collect()
        return try rows.map { row in
            let (at, outcome, status) = try row.decode((Date, String, Int32?).self)
            return Attempt(startedAt: at, outcome: outcome, status: status.map(Int.init))
        }
    }
}

/// A clock a test moves by hand, starting at the real time.
final class TestClock: Sendable {
    private let current = Mutex(Date())

    @Sendable func now() -> Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

@Suite("Alert delivery: processes killed")
struct AlertCrashTests {
    static func process(_ name: String, api: APIHarness, arguments: [String] = [], environment: [String: String] = [:]) async throws -> Process {
        let path = MigrationAndProcessTests.executable(name).path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        let database = try #require(try await api.scalar("SELECT current_database()", as: String.self))
        let url = try TestDatabase.adminURL().withDatabase(database)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin", "DATABASE_URL": url.urlString, "FLOWFORGE_LOG_LEVEL": "error"].merging(environment) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test("a flowforge-worker SIGKILLed the moment its run's failure is written: the alert was written with it and is delivered once")
    func workerKilledAfterResult() async throws {
        try await TestReceiver.with { receiver, url in
            try await withAPI { api in
                let job = try await AlertDeliveryTests.shellWorkflow(api, "job", "exit 1")
                let channel = try await AlertFixtures.webhookChannel(api, "receiver", url: url)
                try await AlertFixtures.rule(api, .init(name: "failures", workflows: [job], channels: [channel]))
                let worker = try await Self.process("flowforge-worker", api: api, arguments: ["--worker-id", "doomed"])
                defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
                let id = try #require(try await api.expect(.created, .post, "/api/workflows/\(job)/run")["id"]?.intValue)
                let deadline = ContinuousClock.now + .seconds(30)
                while try await api.scalar("SELECT status FROM flowforge.executions WHERE id = \(id)", as: String.self) != "failed",
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(2))
                }
                kill(worker.processIdentifier, SIGKILL)
                worker.waitUntilExit()
                #expect(try await api.count("SELECT count(*) FROM flowforge.alerts WHERE execution_id = \(id) AND event = 'failed'") == 1)
                // A notifier delivers it.
                let notifier = SchedulerService(postgres: api.postgres, config: AlertDeliveryTests.scheduler(), logger: TestDatabase.logger)
                let task = Task { try await notifier.run() }
                defer { task.cancel() }
                let (delivered, _) = try await AlertFixtures.settled(api, expecting: 1)
                #expect(delivered == 1)
                try await Task.sleep(for: .milliseconds(300))
                #expect(receiver.accepted.count == 1 && receiver.all.count == 1)
            }
        }
    }

    @Test("a flowforge-worker SIGKILLed mid-step with no attempts left: the lease rescue fails the run and raises its alert, once")
    func workerLostMidStep() async throws {
        try await withAPI { api in
            let job = try await AlertDeliveryTests.shellWorkflow(api, "job", "sleep 30")
            let channel = try await AlertFixtures.webhookChannel(api, "nowhere", url: "http://127.0.0.1:9/")
            let rule = try await AlertFixtures.rule(api, .init(name: "failures", workflows: [job], channels: [channel]))
            let worker = try await Self.process("flowforge-worker", api: api, arguments: ["--worker-id", "doomed", "--lease-seconds", "2"])
            defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }
            let id = try #require(try await api.expect(.created, .post, "/api/workflows/\(job)/run")["id"]?.intValue)
            try await WorkerProcessTests.waitUntilRunning(api, id)
            kill(worker.processIdentifier, SIGKILL)
            worker.waitUntilExit()
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            let deadline = ContinuousClock.now + .seconds(15)
            var failed = 0
            while failed == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
                failed = try await store.rescueExpiredLeases().failed
            }
            #expect(failed == 1)
            let alerts = try await AlertFixtures.alerts(api, rule: rule)
            #expect(alerts.map { "\($0.0!) \($0.1)" } == ["\(id) failed"])
            #expect(try await api.scalar("SELECT message->>'error' FROM flowforge.alerts", as: String.self)?.hasPrefix("worker lost") == true)
            _ = try await store.rescueExpiredLeases()
            #expect(try await api.count("SELECT count(*) FROM flowforge.alerts") == 1)
        }
    }

    @Test("a flowforge-scheduler SIGKILLed while its notifier waits for the receiver: the next notifier records the attempt as lost and delivers it with the same key")
    func notifierKilledMidSend() async throws {
        let firstArrived = AsyncStream<Void>.makeStream()
        let release = Mutex<Bool>(false)
        try await TestReceiver.with(answer: { _, before in
            guard before == 0 else { return .ok }
            // The first request hangs until the test has killed its sender, then fails.
            firstArrived.continuation.yield()
            while !release.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(20)) }
            return .serviceUnavailable
        }) { receiver, url in
            try await withAPI { api in
                let job = try await api.workflow("job")
                let channel = try await AlertFixtures.webhookChannel(api, "receiver", url: url)
                try await AlertFixtures.rule(api, .init(name: "failures", workflows: [job], channels: [channel]))
                let scheduler = try await Self.process(
                    "flowforge-scheduler", api: api, environment: ["FLOWFORGE_SECRET_KEY": AlertFixtures.keyText, "FLOWFORGE_WORKER_ID": "doomed"])
                defer { if scheduler.isRunning { kill(scheduler.processIdentifier, SIGKILL) } }
                try await AlertFixtures.finishRuns(api, workflow: job)
                var arrivals = firstArrived.stream.makeAsyncIterator()
                _ = await arrivals.next()
                kill(scheduler.processIdentifier, SIGKILL)
                scheduler.waitUntilExit()
                release.withLock { $0 = true }
                #expect(try await api.scalar("SELECT status FROM flowforge.alert_deliveries", as: String.self) == "sending")

                // Another notifier, once the dead one's lease has run out (its clock is 2 minutes on).
                let clock = TestClock()
                clock.advance(by: 120)
                let notifier = SchedulerService(
                    postgres: api.postgres, config: AlertDeliveryTests.scheduler(id: "survivor", clock: clock.now), logger: TestDatabase.logger)
                let task = Task { try await notifier.run() }
                defer { task.cancel() }
                let (delivered, _) = try await AlertFixtures.settled(api, expecting: 1)
                #expect(delivered == 1)
                let rows = try await api.postgres.query(
                    "SELECT attempt, outcome, notifier_id FROM flowforge.alert_attempts ORDER BY attempt").collect()
                let attempts = try rows.map { try $0.decode((Int32, String, String?).self) }
                #expect(attempts.map { "\($0.0) \($0.1) \($0.2 ?? "-")" } == ["1 lost doomed", "2 delivered survivor"])
                #expect(receiver.all.count == 2)
                #expect(Set(receiver.all.compactMap(\.request.idempotencyKey)).count == 1)
                #expect(receiver.accepted.count == 1)
            }
        }
    }
}

@Suite("Alert messages and retry policy")
struct AlertMessageTests {
    static let run = AlertMessage.Run(
        id: 12, status: "failed", triggerType: "scheduled", triggerName: "At 02:00", scheduledFor: Date(timeIntervalSince1970: 1_767_232_800),
        startedAt: Date(timeIntervalSince1970: 1_767_232_801), finishedAt: Date(timeIntervalSince1970: 1_767_232_846), attempt: 2,
        error: "step load: exit status 3 <stderr: no such table>")

    static func message(_ event: String, detail: Int? = nil, heldBack: Int = 0) -> AlertMessage {
        AlertMessage(
            alertId: 7, idempotencyKey: "k", event: event, eventDetail: detail, rule: AlertRuleRef(id: 1, name: "etl"), workflowId: 3,
            workflowName: "nightly", run: run, heldBack: heldBack, url: "https://ff.example.com/#/executions/12",
            createdAt: Date(timeIntervalSince1970: 1_767_232_847))
    }

    @Test("headlines say what happened in words")
    func headlines() {
        #expect(Self.message("failed").headline == "nightly failed (run #12)")
        #expect(Self.message("consecutive_failures", detail: 3).headline == "nightly failed 3 times in a row (run #12)")
        #expect(Self.message("recovered", detail: 1).headline == "nightly recovered after 1 failure (run #12)")
        #expect(Self.message("late", detail: 300).headline == "nightly is late: not started 5 min after its scheduled time (run #12)")
        #expect(Self.message("long_running", detail: 5400).headline == "nightly is running long: more than 1 h 30 min (run #12)")
        #expect(AlertMessage.test().headline == "Test message from FlowForge")
    }

    @Test("the webhook body carries the run, the rule, the link and the held-back count")
    func webhookBody() {
        let json = Self.message("failed", heldBack: 2).json()
        #expect(json["alert_id"] == 7 && json["event"] == "failed" && json["held_back"] == 2)
        #expect(json["execution"]?["duration_seconds"] == .double(45))
        #expect(json["execution"]?["scheduled_for"] == "2026-01-01T02:00:00Z")
        #expect(json["execution"]?["attempt"] == 2)
        #expect(json["rule"]?["name"] == "etl" && json["workflow"]?["id"] == 3)
        #expect(json["url"] == "https://ff.example.com/#/executions/12")
    }

    @Test("Slack's blocks: a header, fields, the error escaped in a code block, a button to the run")
    func slack() {
        let json = SlackMessage(Self.message("failed")).json()
        let blocks = json["blocks"]?.arrayValue ?? []
        #expect(json["text"] == "nightly failed (run #12)")
        #expect(blocks.map { $0["type"]?.stringValue ?? "" } == ["header", "section", "section", "actions"])
        let fields = blocks[1]["fields"]?.arrayValue?.compactMap { $0["text"]?.stringValue } ?? []
        #expect(fields.contains("*Workflow*\nnightly") && fields.contains("*Status*\nfailed") && fields.contains("*Duration*\n45 s"))
        #expect(blocks[2]["text"]?["text"] == "*Error*\n```step load: exit status 3 &lt;stderr: no such table&gt;```")
        #expect(blocks[3]["elements"]?.arrayValue?.first?["url"] == "https://ff.example.com/#/executions/12")
    }

    @Test("retries: 5 s doubling to 10 min, for an hour; a refusal or a success ends them")
    func retryPolicy() {
        let policy = AlertRetryPolicy()
        #expect((1...9).map { Int(policy.delay(after: $0).seconds) } == [5, 10, 20, 40, 80, 160, 320, 600, 600])
        let raised = Date(timeIntervalSince1970: 0)
        let serverError = AlertDeliveryResult(delivered: false, retryable: true, statusCode: 500, duration: .zero)
        #expect(policy.decide(serverError, attempt: 3, raisedAt: raised, now: Date(timeIntervalSince1970: 100)) == .retry(at: Date(timeIntervalSince1970: 120)))
        #expect(policy.decide(serverError, attempt: 12, raisedAt: raised, now: Date(timeIntervalSince1970: 3600)) == .failed)
        let refused = AlertDeliveryResult(delivered: false, retryable: false, statusCode: 400, duration: .zero)
        #expect(policy.decide(refused, attempt: 1, raisedAt: raised, now: raised) == .failed)
        let ok = AlertDeliveryResult(delivered: true, retryable: false, statusCode: 200, duration: .zero)
        #expect(policy.decide(ok, attempt: 1, raisedAt: raised, now: raised) == .delivered)
    }
}

@Suite("Alert delivery by email")
struct AlertEmailTests {
    static func emailChannel(_ api: APIHarness, _ name: String, smtp: TestSMTPServer, password: String) async throws -> Int64 {
        let settings: JSONValue = [
            "host": "127.0.0.1", "port": .int(Int64(smtp.port)), "security": "starttls", "username": .string(TestSMTPServer.username),
            "from": "flowforge@example.com", "to": ["oncall@example.com", "data-team@example.com"],
            "ca_certificate": .string(smtp.certificatePEM),
        ]
        let settingsText = String(decoding: settings.encoded(), as: UTF8.self)
        return try #require(
            try await api.scalar(
                """
                INSERT INTO flowforge.alert_channels (name, kind, settings, sealed_secret)
                VALUES (\(name), 'email', \(settingsText)::jsonb, \(ByteBuffer(bytes: AlertFixtures.box.seal(password)))) RETURNING id
                """, as: Int64.self))
    }

    @Test("a failing run's alert reaches a real SMTP server over STARTTLS with AUTH: envelope, headers and body; a wrong password fails at once with the 535",
          .enabled(if: TestSMTPServer.python != nil, TestSMTPServer.skipReason))
    func delivered() async throws {
        try await TestSMTPServer.with { smtp in
            try await withAPI(services: AlertDeliveryTests.services()) { api in
                let etl = try await AlertDeliveryTests.shellWorkflow(api, "etl", "echo 'no such table: orders' >&2; exit 3")
                let good = try await Self.emailChannel(api, "on-call", smtp: smtp, password: TestSMTPServer.password)
                let wrong = try await Self.emailChannel(api, "wrong password", smtp: smtp, password: "not it")
                try await AlertFixtures.rule(api, .init(name: "etl failures", workflows: [etl], channels: [good, wrong]))
                let id = try #require(try await api.expect(.created, .post, "/api/workflows/\(etl)/run")["id"]?.intValue)
                let (delivered, failed) = try await AlertFixtures.settled(api, expecting: 2)
                #expect(delivered == 1 && failed == 1)

                let key = try #require(
                    try await api.scalar("SELECT idempotency_key::text FROM flowforge.alert_deliveries WHERE channel_id = \(good)", as: String.self))
                let messages = try smtp.messages()
                #expect(messages.count == 1)
                let mail = try #require(messages.first)
                #expect(mail.tls && mail.login == TestSMTPServer.username)
                #expect(mail.mailFrom == "flowforge@example.com")
                #expect(mail.rcptTos == ["oncall@example.com", "data-team@example.com"])
                #expect(mail.header("Subject") == ["[FlowForge] etl failed (run #\(id))"])
                #expect(mail.header("Message-ID") == ["<\(key)@flowforge>"])
                #expect(mail.header("X-FlowForge-Idempotency-Key") == [key])
                let body = try #require(mail.body)
                #expect(body.contains("Rule: etl failures"))
                #expect(body.contains("Status: failed"))
                #expect(body.contains("no such table: orders") || body.contains("exit"))
                #expect(body.contains("Run: \(AlertDeliveryTests.publicURL)/#/executions/\(id)"))

                let rows = try await api.postgres.query(
                    "SELECT attempts, last_status_code, last_error FROM flowforge.alert_deliveries WHERE channel_id = \(wrong)").collect()
                let (attempts, code, error) = try #require(rows.first).decode((Int32, Int32?, String?).self)
                #expect(attempts == 1 && code == 535)
                #expect(error?.contains("535") == true)
            }
        }
    }
}
