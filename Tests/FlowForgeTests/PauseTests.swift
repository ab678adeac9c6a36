@testable import FlowForgeScheduler
import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

/// `POST /api/workflows/:id/pause` and `/resume` against real PostgreSQL: while paused no
/// trigger of the workflow creates runs, Run now still does, and resuming judges missed
/// schedules by their misfire policy (the API's clock stands at 2026-01-15T10:00:00Z).
@Suite("Pause and resume")
struct PauseTests {
    @Test("pause and resume answer the workflow; pausing twice keeps the first paused_at; an unknown workflow is 404")
    func routes() async throws {
        try await withAPI { api in
            let id = try await api.workflow("nightly")
            let paused = try await api.expect(.ok, .post, "/api/workflows/\(id)/pause")
            let pausedAt = try #require(paused["paused_at"]?.stringValue)
            #expect(paused["id"]?.intValue == id && paused["triggers"] != nil)
            #expect(try await api.expect(.ok, .post, "/api/workflows/\(id)/pause")["paused_at"]?.stringValue == pausedAt)
            #expect(try await api.expect(.ok, .get, "/api/workflows")["workflows"]?.arrayValue?.first?["paused_at"]?.stringValue == pausedAt)
            #expect(try await api.expect(.ok, .post, "/api/workflows/\(id)/resume")["paused_at"] == .null)
            #expect(try await api.expect(.ok, .post, "/api/workflows/\(id)/resume")["paused_at"] == .null)
            let missing = try await api.expect(.notFound, .post, "/api/workflows/999999/pause")
            #expect(missing["error"] == "workflow 999999 does not exist")
        }
    }

    @Test("a paused schedule creates nothing and waits; on resume run_once creates the latest missed run only")
    func schedule() async throws {
        try await withAPI { api in
            let id = try await api.workflow("every-five")
            let triggerId = try await api.scheduledTrigger(id, cron: "*/5 * * * *")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            try await api.expect(.ok, .post, "/api/workflows/\(id)/pause")

            let later = testNow.addingTimeInterval(32 * 60)
            #expect(try await store.fireDueTriggers(now: later) == 0)
            #expect(try await store.nextTriggerTime() == nil)
            #expect(try await api.scalar("SELECT next_run_at FROM flowforge.workflow_triggers WHERE id = \(triggerId)", as: Date.self)
                == testNow.addingTimeInterval(300))
            // Run now still works while paused.
            try await api.expect(.created, .post, "/api/workflows/\(id)/run")

            try await api.expect(.ok, .post, "/api/workflows/\(id)/resume")
            #expect(try await store.fireDueTriggers(now: later) == 1)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE trigger_type = 'scheduled' AND scheduled_for = '2026-01-15T10:30:00Z'") == 1)
        }
    }

    @Test("a tick creating a run ahead of its time as the pause comes: the pause waits for it and withdraws that run too")
    func tickInFlight() async throws {
        try await withAPI { api in
            let id = try await api.workflow("every-five")
            let triggerId = try await api.scheduledTrigger(id, cron: "*/5 * * * *")
            let other = PostgresClient(configuration: api.url.clientConfiguration(maximumConnections: 1), backgroundLogger: TestDatabase.logger)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await other.run() }
                try await other.withConnection { tick in
                    // What the ticker does: lock the due trigger, create its run 30 s ahead, commit.
                    let logger = TestDatabase.logger
                    try await tick.query("BEGIN", logger: logger)
                    try await tick.query("SELECT 1 FROM flowforge.workflow_triggers WHERE id = \(triggerId) FOR UPDATE", logger: logger)
                    try await tick.query(
                        """
                        WITH run AS (
                            INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_id, trigger_type, trigger_name, scheduled_for)
                            VALUES (\(id), 'every-five', \(triggerId), 'scheduled', 'Every 5 minutes', date_trunc('second', now()) + interval '30 seconds')
                            RETURNING id, workflow_id, scheduled_for
                        )
                        INSERT INTO flowforge.jobs (execution_id, workflow_id, limited, run_at) SELECT id, workflow_id, false, scheduled_for FROM run
                        """, logger: logger)
                    async let pause = api.call(.post, "/api/workflows/\(id)/pause")
                    try await Task.sleep(for: .milliseconds(500))
                    try await tick.query("COMMIT", logger: logger)
                    #expect(try await pause.status == .ok)
                }
                #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE workflow_id = \(id)") == 0)
                #expect(try await api.count("SELECT count(*) FROM flowforge.jobs") == 0)
                group.cancelAll()
            }
        }
    }

    @Test("a finished upstream starts no run of a paused downstream")
    func cascade() async throws {
        try await withAPI { api in
            let upstream = try await api.workflow("up")
            let downstream = try await api.workflow("down")
            _ = try await api.dependency(downstream, on: upstream)
            try await api.expect(.ok, .post, "/api/workflows/\(downstream)/pause")
            _ = try await SchedulerTests.finishedRun(api, workflow: upstream, status: "completed")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.cascade() == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE workflow_id = \(downstream)") == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.cascade_backlog") == 0)
        }
    }

    @Test("a webhook for a paused workflow is recorded and answered 202 with paused: true, and starts no run")
    func webhook() async throws {
        try await withAPI { api in
            let (workflow, triggerId, secret) = try await WebhookTests.webhook(api)
            try await api.expect(.ok, .post, "/api/workflows/\(workflow)/pause")
            let (status, answer) = try await api.hook(triggerId, body: Array(#"{"a":1}"#.utf8), secret: secret)
            #expect(status == .accepted)
            #expect(answer["paused"] == true && answer["filtered"] == false && answer["execution_id"] == .null)
            #expect(try await WebhookTests.runs(api) == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.webhook_deliveries") == 1)
            try await api.expect(.ok, .post, "/api/workflows/\(workflow)/resume")
            let (_, run) = try await api.hook(triggerId, body: Array(#"{"a":2}"#.utf8), secret: secret)
            #expect(run["trigger_type"] == "event")
        }
    }
}
