import FlowForgeShared
import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

/// Alert channels and rules written straight into a test's database (the API's own tests
/// cover the routes), and a webhook receiver that keeps what it got.
enum AlertFixtures {
    /// The key every alert test seals channel secrets with; a scheduler process gets it as
    /// FLOWFORGE_SECRET_KEY.
    static let keyText = "7f3c9a1e5b2d4f6081a3c5e7092b4d6f8a1c3e5079b2d4f6a8c0e1f3a5b7c9d1"
    static let box = try! SecretBox(keyText: keyText)
    static let secret = "whsec_alert_test_secret"

    /// A Slack channel whose "incoming webhook" is `url` (the API takes only https; the
    /// notifier sends wherever the sealed URL points).
    static func slackChannel(_ api: APIHarness, _ name: String, url: String) async throws -> Int64 {
        let sealed = ByteBuffer(bytes: box.seal(url))
        return try #require(
            try await api.scalar(
                """
                INSERT INTO flowforge.alert_channels (name, kind, settings, sealed_secret)
                VALUES (\(name), 'slack', '{"slack_url_hint": "https://hooks.slack.com/…"}'::jsonb, \(sealed)) RETURNING id
                """, as: Int64.self))
    }

    static func webhookChannel(_ api: APIHarness, _ name: String, url: String) async throws -> Int64 {
        let sealed = ByteBuffer(bytes: box.seal(secret))
        let settings = #"{"url":"\#(url)"}"#
        return try #require(
            try await api.scalar(
                """
                INSERT INTO flowforge.alert_channels (name, kind, settings, sealed_secret)
                VALUES (\(name), 'webhook', \(settings)::jsonb, \(sealed)) RETURNING id
                """, as: Int64.self))
    }

    /// What a rule watches: the `alert_rules` columns to set (`on_failed = true`,
    /// `consecutive_failures = 3`, …).
    struct Rule {
        var name: String
        /// nil: every workflow.
        var workflows: [Int64]?
        var channels: [Int64]
        var events: [String: Int] = ["on_failed": 1]
        var throttleMinutes = 0
        var enabled = true
    }

    @discardableResult
    static func rule(_ api: APIHarness, _ rule: Rule) async throws -> Int64 {
        let flags = ["on_failed", "on_succeeded", "on_recovered", "on_skipped"]
        let numbers = ["consecutive_failures", "late_seconds", "long_running_seconds"]
        func flag(_ name: String) -> Bool { rule.events[name] != nil }
        func number(_ name: String) -> Int? { rule.events[name] }
        precondition(Set(rule.events.keys).isSubset(of: flags + numbers), "unknown event column in \(rule.events)")
        let id = try #require(
            try await api.scalar(
                """
                INSERT INTO flowforge.alert_rules (name, all_workflows, on_failed, on_succeeded, on_recovered, on_skipped,
                    consecutive_failures, late_seconds, long_running_seconds, throttle_minutes, enabled)
                VALUES (\(rule.name), \(rule.workflows == nil), \(flag("on_failed")), \(flag("on_succeeded")), \(flag("on_recovered")),
                    \(flag("on_skipped")), \(number("consecutive_failures")), \(number("late_seconds")), \(number("long_running_seconds")),
                    \(rule.throttleMinutes), \(rule.enabled))
                RETURNING id
                """, as: Int64.self))
        for workflow in rule.workflows ?? [] {
            try await api.postgres.query("INSERT INTO flowforge.alert_rule_workflows VALUES (\(id), \(workflow))")
        }
        for channel in rule.channels {
            try await api.postgres.query("INSERT INTO flowforge.alert_rule_channels VALUES (\(id), \(channel))")
        }
        return id
    }

    /// Creates `count` runs of a workflow and gives them `status` at once, as a worker's result
    /// statement does: their alerts are raised in the same statement. Returns the runs' ids.
    @discardableResult
    static func finishRuns(_ api: APIHarness, workflow: Int64, count: Int = 1, status: String = "failed") async throws -> [Int64] {
        let created = try await api.postgres.query(
            """
            INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name, status, started_at)
            SELECT id, name, 'manual', 'Run now', 'running', clock_timestamp() FROM flowforge.workflows, generate_series(1, \(count))
            WHERE id = \(workflow)
            RETURNING id
            """).collect()
        let ids = try created.map { try $0.decode(Int64.self) }.sorted()
        try await api.postgres.query(
            """
            WITH done AS (
                UPDATE flowforge.executions SET status = \(status), finished_at = clock_timestamp(), error = 'exit status 1'
                WHERE id = ANY(\(ids)) RETURNING id, status
            ), alerted AS (
                SELECT flowforge.raise_run_alerts(array_agg(id), array_agg(status)) FROM done
            )
            SELECT count(*) FROM done, alerted
            """)
        return ids
    }

    /// The alerts raised so far, oldest first: (execution, event, detail, held back).
    static func alerts(_ api: APIHarness, rule: Int64) async throws -> [(Int64?, String, Int?, Int)] {
        let rows = try await api.postgres.query(
            "SELECT execution_id, event, event_detail, held_back FROM flowforge.alerts WHERE rule_id = \(rule) ORDER BY id")
        var alerts: [(Int64?, String, Int?, Int)] = []
        for try await (execution, event, detail, held) in rows.decode((Int64?, String, Int32?, Int32).self) {
            alerts.append((execution, event, detail.map(Int.init), Int(held)))
        }
        return alerts
    }

    /// Waits (up to `seconds`) until every delivery has a final status; returns how many are
    /// delivered and failed.
    static func settled(_ api: APIHarness, expecting total: Int, seconds: Int = 30) async throws -> (delivered: Int64, failed: Int64) {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            let final = try await api.count("SELECT count(*) FROM flowforge.alert_deliveries WHERE status IN ('delivered', 'failed')")
            if final >= total { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (
            try await api.count("SELECT count(*) FROM flowforge.alert_deliveries WHERE status = 'delivered'"),
            try await api.count("SELECT count(*) FROM flowforge.alert_deliveries WHERE status = 'failed'")
        )
    }
}

/// A webhook receiver on a free loopback port for one test, keeping every request and the
/// status it was answered with.
final class TestReceiver: Sendable {
    struct Received: Sendable {
        var request: AlertReceiver.Request
        var status: Int
        var accepted: Bool { (200..<300).contains(status) && !request.isRepeat }
    }

    private let received = Mutex<[Received]>([])
    private let arrivals = Atomic<Int>(0)

    var all: [Received] { received.withLock { $0 } }
    /// Requests accepted the first time: a 2xx to an idempotency key not accepted before.
    var accepted: [Received] { all.filter(\.accepted) }

    /// Runs `body` with the receiver listening; `answer` decides each request's status from
    /// the request and how many arrived before it.
    static func with(
        secret: String? = AlertFixtures.secret,
        answer: @escaping @Sendable (AlertReceiver.Request, Int) async -> HTTPResponse.Status = { _, _ in .ok },
        _ body: @Sendable (TestReceiver, _ url: String) async throws -> Void
    ) async throws {
        let receiver = TestReceiver()
        let ready = AsyncStream<Int>.makeStream()
        let service = AlertReceiver(port: 0, secret: secret, logger: TestDatabase.logger) { request in
            let before = receiver.arrivals.add(1, ordering: .relaxed).oldValue
            let status = await answer(request, before)
            receiver.received.withLock { $0.append(Received(request: request, status: Int(status.code))) }
            return status
        }.service { port in ready.continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [service], logger: TestDatabase.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ready.stream.makeAsyncIterator()
            let port = try #require(await iterator.next())
            do {
                try await body(receiver, "http://127.0.0.1:\(port)/alerts")
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
