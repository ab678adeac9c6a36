@testable import FlowForgeScheduler
import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

/// Every kind of trigger creates its run through `RunEnqueue`; these check what it decides,
/// kind by kind, in the tables.
@Suite("Run enqueue")
struct RunEnqueueTests {
    /// (limited, run_at − queued_at in seconds, run_at − scheduled_for in seconds) of each job
    /// of a workflow's runs of one trigger type.
    static func jobs(_ api: APIHarness, workflow: Int64, type: String) async throws -> [(Bool, Double, Double?)] {
        let rows = try await api.postgres.query(
            """
            SELECT j.limited, extract(epoch FROM j.run_at - e.queued_at)::float8, extract(epoch FROM j.run_at - e.scheduled_for)::float8
            FROM flowforge.jobs j JOIN flowforge.executions e ON e.id = j.execution_id
            WHERE e.workflow_id = \(workflow) AND e.trigger_type = \(type)
            ORDER BY e.id
            """)
        var jobs: [(Bool, Double, Double?)] = []
        for try await row in rows.decode((Bool, Double, Double?).self) { jobs.append(row) }
        return jobs
    }

    @Test("Run now: the job is limited unless the workflow allows overlap, and due at once")
    func manual() async throws {
        try await withAPI { api in
            for (policy, limited) in [("allow", false), ("queue", true), ("skip", true)] {
                let id = try await api.workflow(policy, extra: ["overlap_policy": .string(policy)])
                try await api.expect(.created, .post, "/api/workflows/\(id)/run")
                let jobs = try await Self.jobs(api, workflow: id, type: "manual")
                #expect(jobs.count == 1)
                #expect(jobs.first?.0 == limited, "\(policy)")
                #expect(jobs.first?.1 == 0)
            }
        }
    }

    @Test("a scheduled run is created once per trigger and time, ahead of it, due at its time")
    func scheduledOnce() async throws {
        try await withAPI { api in
            let id = try await api.workflow("tick", extra: ["overlap_policy": "queue"])
            let triggerId = try await api.scheduledTrigger(id, cron: "* * * * *")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            // 10:00:55 with a 10 s look-ahead: the 10:01 run is created now, due at 10:01.
            let now = testNow.addingTimeInterval(55)
            #expect(try await store.fireDueTriggers(now: now, lookahead: 10) == 1)
            // The same time again (a second scheduler that read the old next_run_at): the key refuses it.
            try await api.postgres.query(
                "UPDATE flowforge.workflow_triggers SET next_run_at = '2026-01-15T10:01:00Z' WHERE id = \(triggerId)")
            #expect(try await store.fireDueTriggers(now: now, lookahead: 10) == 0)
            let jobs = try await Self.jobs(api, workflow: id, type: "scheduled")
            #expect(jobs.count == 1)
            #expect(jobs.first?.0 == true)
            #expect(jobs.first?.1 == 5)
            #expect(jobs.first?.2 == 0)
        }
    }

    @Test("a downstream run is created once per upstream run, due after its delay")
    func dependencyOnce() async throws {
        try await withAPI { api in
            let upstream = try await api.workflow("up")
            let downstream = try await api.workflow("down", extra: ["overlap_policy": "allow"])
            try await api.expect(
                .created, .post, "/api/workflows/\(downstream)/triggers",
                json: [
                    "trigger_type": "dependency", "depends_on_workflow_id": .int(upstream), "dependency_condition": "on_success",
                    "delay_minutes": 2,
                ])
            let finished = try await SchedulerTests.finishedRun(api, workflow: upstream, status: "completed")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.cascade() == 1)
            // The upstream back in the backlog (a cascader that crashed after its commit): still one run.
            try await api.postgres.query(
                """
                INSERT INTO flowforge.cascade_backlog (execution_id, finished_at)
                SELECT id, finished_at FROM flowforge.executions WHERE id = \(finished)
                """)
            #expect(try await store.cascade() == 0)
            let jobs = try await Self.jobs(api, workflow: downstream, type: "dependency")
            #expect(jobs.count == 1)
            #expect(jobs.first?.0 == false)
            #expect(jobs.first?.2 == 0)
            let delay = try await api.scalar(
                """
                SELECT extract(epoch FROM j.run_at - u.finished_at)::float8 FROM flowforge.jobs j
                JOIN flowforge.executions e ON e.id = j.execution_id JOIN flowforge.executions u ON u.id = e.upstream_execution_id
                WHERE u.id = \(finished)
                """, as: Double.self)
            #expect(delay == 120)
        }
    }
}
