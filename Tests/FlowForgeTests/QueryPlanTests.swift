@testable import FlowForgeScheduler
@testable import FlowForgeShared
@testable import FlowForgeWorker
import Foundation
import PostgresNIO
import Testing

/// The queue's hot statements read indexes, not whole tables, at 100,000 runs, even with the
/// plans a queue really gets: prepared once per connection while the queue was empty, and
/// cached from then on.
@Suite("Query plans")
struct QueryPlanTests {
    static let rows = 100_000

    struct Statement {
        let name: String
        let worker: Bool
        let types: String
        let values: String
        let sql: String
    }

    static let statements = [
        Statement(name: "claim", worker: true, types: "(text, int, int, int)", values: "('w2', 30, 64, 48)", sql: QueueStore.ClaimUnlimited.sql),
        Statement(
            name: "complete", worker: true, types: "(jsonb, text)", values: #"('[{"id": 5, "attempt": 1, "ok": true, "error": null, "steps": []}]', 'w')"#,
            sql: QueueStore.RecordResults.sql),
        Statement(
            name: "complete_and_claim", worker: true, types: "(jsonb, text, int, int, int)",
            values: #"('[{"id": 5, "attempt": 1, "ok": true, "error": null, "steps": []}]', 'w', 30, 64, 48)"#,
            sql: QueueStore.RecordResultsAndClaim.sql),
        Statement(name: "tick", worker: false, types: "(timestamptz, int)", values: "(now(), 500)", sql: SchedulerStore.dueTriggersSQL),
        // The cascader runs with the worker's planner settings (SchedulerStore.queuePlannerSettingsSQL).
        Statement(name: "cascade", worker: true, types: "(int)", values: "(500)", sql: SchedulerStore.cascadeSQL),
    ]

    @Test("prepared statements have names of their own within PostgreSQL's 63 bytes (a longer name is cut, and two could meet)")
    func preparedStatementNames() {
        let names = [
            QueueStore.ClaimUnlimited.name, QueueStore.RecordResults.name, QueueStore.RecordResultsAndClaim.name,
            PreparedRead<WorkflowStore.ByID>.name, PreparedRead<WorkflowStore.SummaryByID>.name,
            PreparedRead<WorkflowStore.SummaryPage>.name, PreparedRead<WorkflowStore.Count>.name,
            PreparedRead<TriggerStore.OfWorkflow>.name, PreparedRead<TriggerStore.ByID>.name, PreparedRead<ExecutionStore.ByID>.name,
        ]
        #expect(names.filter { $0.utf8.count > 63 } == [])
        #expect(Set(names).count == names.count)
        #expect(PreparedRead<WorkflowStore.SummaryPage>.name == "FlowForgeShared.WorkflowStore.SummaryPage")
    }

    @Test("claim, complete, tick and cascade use indexes at 100,000 runs: no sequential scan of jobs or executions")
    func noSequentialScans() async throws {
        try await TestDatabase.with { url in
            // The scheduler's connections have default planner settings; the worker's have the queue's.
            try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1), logger: TestDatabase.logger) { scheduler in
                try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1, queueWorker: true), logger: TestDatabase.logger) {
                    worker in
                    try await scheduler.withConnection { schedulerConnection in
                        try await worker.withConnection { workerConnection in
                            try await Self.loadDefinitions(schedulerConnection)
                            // Prepared and run while the queue is empty, past the point where
                            // PostgreSQL caches a generic plan (the sixth execution).
                            for statement in Self.statements {
                                let connection = statement.worker ? workerConnection : schedulerConnection
                                try await Self.run("PREPARE \(statement.name) \(statement.types) AS \(statement.sql)", on: connection)
                                for _ in 1...6 { try await Self.run("EXECUTE \(statement.name) \(statement.values)", on: connection) }
                            }
                            try await Self.loadRuns(schedulerConnection)
                            for statement in Self.statements {
                                let connection = statement.worker ? workerConnection : schedulerConnection
                                let plan = try await Self.lines("EXPLAIN EXECUTE \(statement.name) \(statement.values)", on: connection)
                                    .joined(separator: "\n")
                                #expect(!plan.contains("Seq Scan on jobs"), "\(statement.name) reads all of jobs:\n\(plan)")
                                #expect(!plan.contains("Seq Scan on executions"), "\(statement.name) reads all of executions:\n\(plan)")
                                #expect(plan.contains("Index"), "\(statement.name) uses no index:\n\(plan)")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test("the executions list reads an index at 100,000 runs, whatever its filters, and reads no step output")
    func executionListsUseIndexes() async throws {
        try await TestDatabase.with { url in
            try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1), logger: TestDatabase.logger) { client in
                try await client.withConnection { connection in
                    try await Self.loadDefinitions(connection)
                    try await Self.loadRuns(connection)
                    // History grows slowly next to the queue: autovacuum has analyzed it long
                    // before it holds 100,000 runs.
                    try await Self.run("ANALYZE flowforge.executions", on: connection)
                    func filter(_ change: (inout ExecutionStore.Filter) -> Void) -> ExecutionStore.Filter {
                        var filter = ExecutionStore.Filter()
                        change(&filter)
                        return filter
                    }
                    let filters: [(String, ExecutionStore.Filter)] = [
                        ("newest", filter { $0.limit = 200 }),
                        ("next page", filter { $0.beforeId = 60_000 }),
                        ("workflow", filter { $0.workflowId = 7 }),
                        ("trigger history", filter { $0.workflowId = 7; $0.triggerId = 3; $0.limit = 10 }),
                        ("queued", filter { $0.status = .queued }),
                        ("running", filter { $0.status = .running; $0.workflowId = 7 }),
                        ("completed manual runs", filter { $0.status = .completed; $0.triggerType = .manual }),
                    ]
                    for (name, filter) in filters {
                        let query = ExecutionStore.listQuery(filter)
                        #expect(!query.sql.contains("error, steps") && query.sql.contains("step_summaries::text"), "\(name) reads steps")
                        var plan: [String] = []
                        let rows = try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN " + query.sql, binds: query.binds), logger: TestDatabase.logger)
                        for try await line in rows.decode(String.self) { plan.append(line) }
                        let text = plan.joined(separator: "\n")
                        #expect(!text.contains("Seq Scan on executions"), "\(name) reads all of executions:\n\(text)")
                        #expect(!text.contains("Seq Scan on jobs"), "\(name) reads all of jobs:\n\(text)")
                        #expect(text.contains("Index"), "\(name) uses no index:\n\(text)")
                    }
                }
            }
        }
    }

    @Test("no index of executions or jobs names a column a worker writes, so a claim and a result are HOT updates")
    func runRowsUpdateInPlace() async throws {
        try await TestDatabase.with { url in
            try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1, queueWorker: true), logger: TestDatabase.logger) {
                client in
                try await client.withConnection { connection in
                    let indexed = try await Self.lines(
                        """
                        SELECT i.indexrelid::regclass::text || ' ' || a.attname FROM pg_index i, pg_attribute a
                        WHERE a.attrelid = i.indrelid
                          AND ((i.indrelid = 'flowforge.executions'::regclass
                                AND a.attname IN ('status', 'started_at', 'worker_id', 'attempt', 'finished_at', 'error', 'steps', 'cascaded_at'))
                               OR (i.indrelid = 'flowforge.jobs'::regclass AND a.attname IN ('locked_by', 'lease_expires_at')))
                          AND (a.attnum = ANY(i.indkey)
                               OR coalesce(pg_get_expr(i.indpred, i.indrelid), '') ~ ('\\m' || a.attname || '\\M')
                               OR coalesce(pg_get_expr(i.indexprs, i.indrelid), '') ~ ('\\m' || a.attname || '\\M'))
                        """, on: connection)
                    #expect(indexed == [])

                    try await Self.loadDefinitions(connection)
                    // A run of workflow 1, which workflow 2 depends on, and one of workflow 2, which nothing depends on.
                    try await Self.run(
                        """
                        WITH runs AS (
                            INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name)
                            VALUES (1, 'w1', 'manual', 'Run now'), (2, 'w2', 'manual', 'Run now') RETURNING id, workflow_id
                        )
                        INSERT INTO flowforge.jobs (execution_id, workflow_id, limited) SELECT id, workflow_id, false FROM runs
                        """, on: connection)
                    let hotUpdates = """
                        SELECT pg_stat_get_xact_tuples_updated('flowforge.executions'::regclass) || ' '
                            || pg_stat_get_xact_tuples_hot_updated('flowforge.executions'::regclass) || ' '
                            || pg_stat_get_xact_tuples_updated('flowforge.jobs'::regclass) || ' '
                            || pg_stat_get_xact_tuples_hot_updated('flowforge.jobs'::regclass)
                        """
                    try await Self.run("BEGIN", on: connection)
                    let claim = QueueStore.ClaimUnlimited.sql.replacingOccurrences(of: "$1", with: "'w'")
                        .replacingOccurrences(of: "$2", with: "30").replacingOccurrences(of: "$3", with: "10")
                        .replacingOccurrences(of: "$4", with: "10")
                    #expect(try await Self.count(claim, on: connection) == 2)
                    let started = try await Self.lines(hotUpdates, on: connection)
                    // Both runs' rows and both jobs' leases, in place.
                    #expect(started == ["2 2 2 2"])
                    try await Self.run("COMMIT", on: connection)
                    // The counters just read are flushed when the session goes idle after this.
                    try await Self.run("SELECT pg_stat_force_next_flush()", on: connection)

                    try await Self.run("BEGIN", on: connection)
                    let outcomes = #"[{"id": 1, "attempt": 1, "ok": true, "error": null, "steps": []}, {"id": 2, "attempt": 1, "ok": true, "error": null, "steps": []}]"#
                    let complete = QueueStore.RecordResults.sql.replacingOccurrences(of: "$1", with: "'\(outcomes)'")
                        .replacingOccurrences(of: "$2", with: "'w'")
                    #expect(try await Self.count(complete, on: connection) == 2)
                    let ended = try await Self.lines(hotUpdates, on: connection)
                    // The jobs are deleted, not updated.
                    #expect(ended == ["2 2 0 0"])
                    try await Self.run("COMMIT", on: connection)
                    // Only the run with a downstream waits for the cascader.
                    #expect(try await Self.lines("SELECT string_agg(execution_id::text, ',') FROM flowforge.cascade_backlog", on: connection) == ["1"])
                }
            }
        }
    }

    /// 1,000 workflows (a tenth with a concurrency limit), each with an hourly schedule not yet
    /// due, and dependency triggers between some.
    static func loadDefinitions(_ connection: PostgresConnection) async throws {
        try await run(
            """
            INSERT INTO flowforge.workflows (name, steps, overlap_policy)
            SELECT 'w' || n, '[{"name": "noop", "kind": "noop"}]', CASE WHEN n % 10 = 0 THEN 'queue' ELSE 'allow' END
            FROM generate_series(1, 1000) n
            """, on: connection)
        try await run(
            """
            INSERT INTO flowforge.workflow_triggers (workflow_id, trigger_type, trigger_name, cron_expression, timezone, next_run_at)
            SELECT id, 'scheduled', 'hourly', '0 * * * *', 'UTC', now() + interval '1 hour' FROM flowforge.workflows
            """, on: connection)
        try await run(
            """
            WITH t AS (
                INSERT INTO flowforge.workflow_triggers (workflow_id, trigger_type, trigger_name, depends_on_workflow_id, dependency_condition)
                SELECT id, 'dependency', 'after', id - 1, 'on_success' FROM flowforge.workflows WHERE id % 2 = 0
                RETURNING id, depends_on_workflow_id
            )
            INSERT INTO flowforge.trigger_upstreams (trigger_id, position, upstream_workflow_id)
            SELECT id, 0, depends_on_workflow_id FROM t
            """, on: connection)
        try await run("ANALYZE flowforge.trigger_upstreams", on: connection)
        try await run("ANALYZE flowforge.workflows", on: connection)
        try await run("ANALYZE flowforge.workflow_triggers", on: connection)
    }

    /// 100,000 runs: half finished (100 of them not yet cascaded), half queued with their
    /// jobs, a tenth of those leased. No ANALYZE: as after a burst, before autovacuum.
    static func loadRuns(_ connection: PostgresConnection) async throws {
        let half = rows / 2
        try await run(
            """
            WITH runs AS (
                INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name, status, started_at, finished_at, cascaded_at)
                SELECT 1 + n % 1000, 'w', 'manual', 'Run now',
                    CASE WHEN n <= \(half) THEN 'completed' ELSE 'queued' END,
                    CASE WHEN n <= \(half) THEN now() END, CASE WHEN n <= \(half) THEN now() END,
                    CASE WHEN n <= \(half - 100) THEN now() END
                FROM generate_series(1, \(rows)) n
                RETURNING id, workflow_id, status
            )
            INSERT INTO flowforge.jobs (execution_id, workflow_id, limited, run_at, locked_by, lease_expires_at)
            SELECT id, workflow_id, workflow_id % 10 = 0, now() - interval '1 minute',
                CASE WHEN id % 10 = 0 THEN 'w' END, CASE WHEN id % 10 = 0 THEN now() + interval '30 seconds' END
            FROM runs WHERE status = 'queued'
            """, on: connection)
        try await run(
            """
            INSERT INTO flowforge.cascade_backlog (execution_id, finished_at)
            SELECT id, finished_at FROM flowforge.executions WHERE finished_at IS NOT NULL AND cascaded_at IS NULL
            """, on: connection)
        #expect(try await lines("SELECT count(*)::text FROM flowforge.executions", on: connection) == ["\(rows)"])
        #expect(try await lines("SELECT count(*)::text FROM flowforge.jobs", on: connection) == ["\(half)"])
    }

    static func run(_ sql: String, on connection: PostgresConnection) async throws {
        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
    }

    static func count(_ sql: String, on connection: PostgresConnection) async throws -> Int {
        var count = 0
        for try await _ in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger) { count += 1 }
        return count
    }

    static func lines(_ sql: String, on connection: PostgresConnection) async throws -> [String] {
        var lines: [String] = []
        for try await line in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger).decode(String.self) {
            lines.append(line)
        }
        return lines
    }
}
