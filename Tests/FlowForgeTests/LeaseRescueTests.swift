@testable import FlowForgeScheduler
import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

@Suite("Lease rescue")
struct LeaseRescueTests {
    /// Puts `count` runs of `workflow` in the state a worker killed mid-run leaves them in: the
    /// execution `running` as `attempt`, its job locked by a worker that is gone, the lease
    /// `expiresIn` seconds from now (negative: already expired).
    static func leasedRuns(
        _ api: APIHarness, workflow: Int64, count: Int, attempt: Int = 1, worker: String = "dead-worker", expiresIn seconds: Int = -10
    ) async throws {
        try await api.postgres.query(
            """
            WITH runs AS (
                INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, status, started_at, attempt, worker_id)
                SELECT id, name, 'manual', 'running', now() - interval '1 minute', \(attempt), \(worker)
                FROM flowforge.workflows, generate_series(1, \(count))
                WHERE id = \(workflow)
                RETURNING id, workflow_id
            )
            INSERT INTO flowforge.jobs (execution_id, workflow_id, limited, attempt, locked_by, lease_expires_at)
            SELECT id, workflow_id, true, \(attempt), \(worker), now() + make_interval(secs => \(seconds)::int) FROM runs
            """)
    }

    static func maintenance(_ api: APIHarness) -> Maintenance {
        var config = SchedulerService.Config()
        config.historyRetentionDays = 0
        return Maintenance(
            parts: SchedulerParts(
                config: config, store: SchedulerStore(client: api.postgres, logger: TestDatabase.logger),
                events: EventStore(client: api.postgres, logger: TestDatabase.logger), postgres: api.postgres, notifications: SchedulerNotifications(), metrics: nil,
                logger: TestDatabase.logger))
    }

    @Test("one batch of rescue requeues at most its limit and fails none of the runs it left for the next")
    func batchLeavesTheRestAlone() async throws {
        try await withAPI { api in
            // The case reported: 600 expired leases of a max_attempts 3 workflow, batches of 500.
            let workflow = try await api.workflow("retried", extra: ["max_attempts": 3])
            try await Self.leasedRuns(api, workflow: workflow, count: 600)
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)

            #expect(try await store.rescueExpiredLeases(limit: 500) == (500, 0))
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE status = 'queued' AND attempt = 2") == 500)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE status = 'running' AND attempt = 1") == 100)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE status = 'failed'") == 0)

            #expect(try await store.rescueExpiredLeases(limit: 500) == (100, 0))
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE status = 'queued' AND attempt = 2") == 600)
            #expect(try await api.count("SELECT count(*) FROM flowforge.jobs WHERE locked_by IS NULL AND attempt = 2") == 600)
            #expect(try await store.rescueExpiredLeases(limit: 500) == (0, 0))
        }
    }

    @Test("one maintenance pass requeues 2,000 expired leases with attempts left, and fails only runs whose attempts are used up")
    func thousandsInOnePass() async throws {
        try await withAPI { api in
            let retried = try await api.workflow("retried", extra: ["max_attempts": 3])
            let spent = try await api.workflow("spent", extra: ["max_attempts": 3])
            try await Self.leasedRuns(api, workflow: retried, count: 2_000)
            // More than a batch whose last attempt was lost, and a few runs of a live worker.
            try await Self.leasedRuns(api, workflow: spent, count: 600, attempt: 3)
            try await Self.leasedRuns(api, workflow: retried, count: 3, worker: "live-worker", expiresIn: 60)

            let rescued = try await Self.maintenance(api).rescueExpiredLeases()
            #expect(rescued.requeued == 2_000)
            #expect(rescued.failed == 600)

            // Every run with attempts left is back in the queue as attempt 2, none failed.
            #expect(
                try await api.count(
                    """
                    SELECT count(*) FROM flowforge.executions
                    WHERE workflow_id = \(retried) AND status = 'queued' AND attempt = 2 AND worker_id IS NULL
                      AND error = 'the worker running attempt 1 was lost; retrying'
                    """) == 2_000)
            #expect(
                try await api.count(
                    """
                    SELECT count(*) FROM flowforge.jobs
                    WHERE workflow_id = \(retried) AND locked_by IS NULL AND lease_expires_at IS NULL AND attempt = 2 AND run_at <= now()
                    """) == 2_000)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE workflow_id = \(retried) AND status = 'failed'") == 0)

            // The live worker's runs are untouched.
            #expect(
                try await api.count(
                    "SELECT count(*) FROM flowforge.executions WHERE worker_id = 'live-worker' AND status = 'running' AND attempt = 1") == 3)
            #expect(
                try await api.count("SELECT count(*) FROM flowforge.jobs WHERE locked_by = 'live-worker' AND attempt = 1") == 3)

            // Runs whose third attempt was lost are failed, with the message they always had, and
            // handed to the cascader.
            #expect(
                try await api.count(
                    """
                    SELECT count(*) FROM flowforge.executions
                    WHERE workflow_id = \(spent) AND status = 'failed' AND attempt = 3 AND finished_at IS NOT NULL
                      AND error = 'worker lost: its lease expired and no attempts remain'
                    """) == 600)
            #expect(try await api.count("SELECT count(*) FROM flowforge.jobs WHERE workflow_id = \(spent)") == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.cascade_backlog") == 600)

            // As the API shows one of them.
            let sample = try #require(
                try await api.scalar("SELECT min(id) FROM flowforge.executions WHERE workflow_id = \(retried)", as: Int64.self))
            let shown = try await api.expect(.ok, .get, "/api/executions/\(sample)")
            #expect(shown["status"] == "queued")
            #expect(shown["attempt"] == 2)

            // Nothing is left for the next pass.
            let again = try await Self.maintenance(api).rescueExpiredLeases()
            #expect(again.requeued == 0)
            #expect(again.failed == 0)
        }
    }

    @Test("a lost run of a deleted workflow is still failed, not left running")
    func deletedWorkflow() async throws {
        try await withAPI { api in
            let workflow = try await api.workflow("gone", extra: ["max_attempts": 3])
            try await Self.leasedRuns(api, workflow: workflow, count: 2)
            try await api.expect(.noContent, .delete, "/api/workflows/\(workflow)")
            let rescued = try await Self.maintenance(api).rescueExpiredLeases()
            #expect(rescued.requeued == 0)
            #expect(rescued.failed == 2)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE status = 'failed'") == 2)
            #expect(try await api.count("SELECT count(*) FROM flowforge.jobs") == 0)
        }
    }
}
