import Foundation
import Logging
import PostgresNIO

/// Executions and their jobs in PostgreSQL, as the API reads and creates them.
public struct ExecutionStore: Sendable {
    let client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics?

    public init(client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics? = nil) {
        (self.client, self.logger, self.metrics) = (client, logger, metrics)
    }

    static let select = "SELECT \(columns) FROM flowforge.executions"

    static func execution(from row: PostgresRandomAccessRow) throws -> Execution {
        Execution(
            id: try row.column("id"),
            workflowId: try row.column("workflow_id"),
            workflowName: try row.column("workflow_name"),
            triggerId: try row.column("trigger_id"),
            triggerType: ExecutionTriggerType(rawValue: try row.column("trigger_type")) ?? .manual,
            triggerName: try row.column("trigger_name"),
            status: ExecutionStatus(rawValue: try row.column("status")) ?? .queued,
            scheduledFor: try row.column("scheduled_for"),
            backfill: try row.column("backfill"),
            queuedAt: try row.column("queued_at"),
            startedAt: try row.column("started_at"),
            finishedAt: try row.column("finished_at"),
            attempt: try row.column("attempt"),
            workerId: try row.column("worker_id"),
            upstreamExecutionId: try row.column("upstream_execution_id"),
            upstreamExecutionIds: try row.column("upstream_execution_ids"),
            error: try row.column("error"),
            steps: try row.column("steps"),
            params: try row.column("params"),
            rerunOf: try row.column("rerun_of"))
    }

    /// Every column of a run but its steps.
    private static let runColumns = """
        id, workflow_id, workflow_name, trigger_id, trigger_type, trigger_name, status, scheduled_for, backfill, queued_at,
        started_at, finished_at, attempt, worker_id, upstream_execution_id, upstream_execution_ids, error, params, rerun_of
        """

    static let columns = "\(runColumns), steps"

    /// What lists read: each step's summary (sql/007_step_summaries.sql) in place of the step with
    /// its output, so a page of runs is a few kilobytes however much their steps printed. The
    /// summaries come as text, to be written out without parsing (`ExecutionListItem`).
    static let summaryColumns = "\(runColumns), '[]'::jsonb AS steps, step_summaries::text AS step_summaries"

    static func listItem(from row: PostgresRandomAccessRow) throws -> ExecutionListItem {
        ExecutionListItem(execution: try execution(from: row), stepSummaries: Array(try row.column("step_summaries", as: String.self).utf8))
    }

    /// "Run now": a queued execution, its job and a wake-up for workers, in one statement (one
    /// round trip and its own transaction: the run is committed, and the workers hear of it,
    /// as soon as it exists). `params`: the run's parameters, checked (`RunParams.check`).
    public func createManual(workflowId: Int64, params: JSONValue? = nil) async throws -> Execution {
        let rows = try await client.rows(
            """
            WITH wanted AS (
                SELECT id AS workflow_id, name AS workflow_name, NULL::bigint AS trigger_id, 'Run now' AS trigger_name,
                    NULL::timestamptz AS scheduled_for, NULL::bigint AS upstream_execution_id, now() AS queued_at,
                    \(params)::jsonb AS params
                FROM flowforge.workflows WHERE id = \(workflowId) FOR KEY SHARE
            ), \(unescaped: RunEnqueue.ctes(.manual, returningExecution: true))
            SELECT *, pg_notify(\(NotificationChannel.jobs.rawValue), id::text) FROM run
            """, logger: logger)
        guard let execution = try rows.collectRows(Self.execution).first else {
            throw FlowForgeError.notFound("workflow \(workflowId) does not exist")
        }
        metrics?.runsCreated(1, triggerType: .manual)
        return execution
    }

    /// A rerun of execution `id`: a new manual run of the same workflow with the same
    /// parameters, or with `params` in their place when `replacingParams`, recording `rerun_of`.
    /// One statement, as Run now. The original may have any status; its workflow must still exist.
    public func rerun(id: Int64, replacingParams: Bool, params: JSONValue?) async throws -> Execution {
        let rows = try await client.rows(
            """
            WITH wanted AS (
                SELECT w.id AS workflow_id, w.name AS workflow_name, NULL::bigint AS trigger_id, 'Rerun of #' || o.id AS trigger_name,
                    NULL::timestamptz AS scheduled_for, NULL::bigint AS upstream_execution_id, now() AS queued_at,
                    CASE WHEN \(replacingParams) THEN \(params)::jsonb ELSE o.params END AS params, o.id AS rerun_of
                FROM flowforge.executions o JOIN flowforge.workflows w ON w.id = o.workflow_id
                WHERE o.id = \(id)
                FOR KEY SHARE OF w
            ), \(unescaped: RunEnqueue.ctes(.manual, returningExecution: true, rerun: true))
            SELECT *, pg_notify(\(NotificationChannel.jobs.rawValue), id::text) FROM run
            """, logger: logger)
        if let execution = try rows.collectRows(Self.execution).first {
            metrics?.runsCreated(1, triggerType: .manual)
            return execution
        }
        guard let original = try await get(id: id) else { throw FlowForgeError.notFound("execution \(id) does not exist") }
        throw FlowForgeError.notFound(
            "execution \(id) cannot be rerun: its workflow \(original.workflowName) (\(original.workflowId)) was deleted")
    }

    /// "Run now" in bulk, for load (the benchmarks): `count` runs of each workflow in
    /// `workflowIds`, created as every run is, in one statement, then one wake-up for workers.
    /// Returns how many it created.
    public func createManual(workflowIds: [Int64], count: Int) async throws -> Int {
        let rows = try await client.rows(
            """
            WITH wanted AS (
                SELECT w.id AS workflow_id, w.name AS workflow_name, NULL::bigint AS trigger_id, 'Run now' AS trigger_name,
                    NULL::timestamptz AS scheduled_for, NULL::bigint AS upstream_execution_id, now() AS queued_at,
                    NULL::jsonb AS params
                FROM flowforge.workflows w, generate_series(1, \(count)) WHERE w.id = ANY(\(workflowIds))
                FOR KEY SHARE OF w
            ), \(unescaped: RunEnqueue.ctes(.manual))
            SELECT count(*) FROM run_job
            """, logger: logger)
        return try await counted(rows, triggerType: .manual)
    }

    /// How many runs a bulk statement (`SELECT count(*) FROM run_job`) created: counted in the
    /// metrics, and the workers woken once for all of them.
    private func counted(_ rows: [PostgresRow], triggerType: ExecutionTriggerType) async throws -> Int {
        let created = try rows.decode(Int64.self).first.map { Int($0) } ?? 0
        if created > 0 { try await NotificationChannel.jobs.notify(triggerType.rawValue, on: client, logger: logger) }
        metrics?.runsCreated(created, triggerType: triggerType)
        return created
    }

    /// A backfill of scheduled trigger `triggerId`: a run for each of `times` that the trigger
    /// has none for yet (the unique key on trigger and `scheduled_for` skips the others, so a
    /// second call, or another scheduler's tick, creates nothing twice). The runs are marked
    /// `backfill` and come due at once, behind the jobs already waiting (`RunEnqueue`), with the
    /// trigger's parameters. Returns how many it created.
    public func backfill(triggerId: Int64, times: [Date]) async throws -> Int {
        guard !times.isEmpty else { return 0 }
        let rows = try await client.rows(
            """
            WITH wanted AS (
                SELECT t.workflow_id, w.name AS workflow_name, t.id AS trigger_id, t.trigger_name, r.at AS scheduled_for,
                    NULL::bigint AS upstream_execution_id, now() AS queued_at, t.params
                FROM unnest(\(times)::timestamptz[]) AS r(at)
                JOIN flowforge.workflow_triggers t ON t.id = \(triggerId) AND t.trigger_type = 'scheduled'
                JOIN flowforge.workflows w ON w.id = t.workflow_id
                ORDER BY r.at
            ), \(unescaped: RunEnqueue.ctes(.scheduled, backfill: true))
            SELECT count(*) FROM run_job
            """, logger: logger)
        return try await counted(rows, triggerType: .scheduled)
    }

    /// How many of `times` trigger `triggerId` already has a scheduled run for (a backfill's dry run).
    public func scheduledRunCount(triggerId: Int64, at times: [Date]) async throws -> Int {
        guard !times.isEmpty else { return 0 }
        let rows = try await client.rows(
            """
            SELECT count(*) FROM flowforge.executions
            WHERE trigger_id = \(triggerId) AND trigger_type = 'scheduled' AND scheduled_for = ANY(\(times)::timestamptz[])
            """, logger: logger)
        return try rows.decode(Int64.self).first.map { Int($0) } ?? 0
    }

    enum ByID: PreparedReadText { static let sql = "\(select) WHERE id = $1" }

    /// The run; while it runs, its steps are the live ones (sql/013_live_output.sql): each step
    /// of the attempt that started so far, the running one with its output so far.
    public func get(id: Int64) async throws -> Execution? {
        guard var execution = try await client.read(PreparedRead<ByID> { $0.append(id) }, logger: logger, Self.execution).first else {
            return nil
        }
        if execution.status == .running {
            let attempt = execution.attempt
            let live = try await client.read(
                PreparedRead<LiveSteps> {
                    $0.append(id)
                    $0.append(attempt)
                }, logger: logger
            ) { row -> JSONValue in try row.column("step") }
            // Until the worker's first write (within a second) the run shows what it showed before.
            if !live.isEmpty { execution.steps = .array(live) }
        }
        return execution
    }

    /// A running attempt's steps as its worker last wrote them; rows of another attempt (one a
    /// lost worker left) are not its.
    enum LiveSteps: PreparedReadText {
        static let sql = "SELECT step FROM flowforge.live_output WHERE execution_id = $1 AND attempt = $2::int8 ORDER BY step_index"
    }

    /// The run, read in the caller's transaction.
    static func get(id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> Execution? {
        try await connection.read(PreparedRead<ByID> { $0.append(id) }, logger: logger, Self.execution).first
    }

    public struct Filter: Sendable {
        public var workflowId: Int64?
        public var triggerId: Int64?
        public var status: ExecutionStatus?
        public var triggerType: ExecutionTriggerType?
        /// Keyset pagination: only executions older (smaller id) than this.
        public var beforeId: Int64?
        public var limit: Int = 50

        public init() {}
    }

    /// Newest first, each step as its summary (no output: `get` has that). Each filter is
    /// optional; a null bind switches it off.
    public func list(_ filter: Filter) async throws -> [ExecutionListItem] {
        try await client.rows(Self.listQuery(filter), logger: logger).collectRows(Self.listItem)
    }

    static func listQuery(_ filter: Filter) -> PostgresQuery {
        // Queued and running runs are the ones with a job: the small jobs table finds them,
        // where history has no index on status (it would cost every run's updates their HOT path).
        let waiting = filter.status == .queued || filter.status == .running
        return """
            SELECT \(unescaped: summaryColumns) FROM flowforge.executions
            WHERE (\(filter.workflowId)::bigint IS NULL OR workflow_id = \(filter.workflowId))
              AND (\(filter.triggerId)::bigint IS NULL OR trigger_id = \(filter.triggerId))
              AND (\(filter.status?.rawValue)::text IS NULL OR status = \(filter.status?.rawValue))
              \(unescaped: waiting ? "AND id IN (SELECT execution_id FROM flowforge.jobs)" : "")
              AND (\(filter.triggerType?.rawValue)::text IS NULL OR trigger_type = \(filter.triggerType?.rawValue))
              AND (\(filter.beforeId)::bigint IS NULL OR id < \(filter.beforeId))
            ORDER BY id DESC
            LIMIT \(filter.limit)
            """
    }

    /// Cancels a queued or running execution: it leaves the queue at once and workers are told
    /// (`flowforge_execution_cancelled`) so a running step is stopped. The job row is locked
    /// before the execution row, the order every queue statement uses, so a cancel racing a
    /// worker's result cannot deadlock with it; whichever commits first decides.
    public func cancel(id: Int64) async throws -> Execution {
        let (execution, cancelled) = try await client.withOpenTransaction(logger: logger) { connection in
            // The sub-select makes the job's DELETE (and its row lock) happen before the UPDATE.
            let rows = try await connection.query(
                """
                WITH job AS (
                    DELETE FROM flowforge.jobs WHERE execution_id = \(id) RETURNING execution_id
                ), live AS (
                    DELETE FROM flowforge.live_output WHERE execution_id = \(id)
                )
                UPDATE flowforge.executions
                SET status = 'cancelled', finished_at = clock_timestamp(), cascaded_at = clock_timestamp(), error = 'cancelled by a user'
                WHERE id = \(id) AND status IN ('queued', 'running') AND (SELECT count(*) FROM job) >= 0
                RETURNING id
                """, logger: logger)
            var cancelled = false
            for try await _ in rows { cancelled = true }
            guard let current = try await Self.get(id: id, on: connection, logger: logger) else {
                throw FlowForgeError.notFound("execution \(id) does not exist")
            }
            guard cancelled else {
                throw FlowForgeError.conflict("execution \(id) has already finished (\(current.status.rawValue)); there is nothing to cancel")
            }
            try await NotificationChannel.executionCancelled.notify(String(id), on: connection, logger: logger)
            return (current, cancelled)
        }
        if cancelled { metrics?.runsFinished(status: .cancelled, triggerType: execution.triggerType) }
        return execution
    }

    /// The queue's jobs: due and waiting for a worker, delayed (a retry's backoff, a
    /// dependency's delay, a scheduled run created ahead), and leased to a worker.
    public func queueDepth() async throws -> (due: Int64, delayed: Int64, leased: Int64) {
        let rows = try await client.rows(
            """
            SELECT count(*) FILTER (WHERE locked_by IS NULL AND run_at <= now()),
                   count(*) FILTER (WHERE locked_by IS NULL AND run_at > now()),
                   count(*) FILTER (WHERE locked_by IS NOT NULL)
            FROM flowforge.jobs
            """, logger: logger)
        return try rows.decode((Int64, Int64, Int64).self).first ?? (0, 0, 0)
    }
}
