import Foundation
import Logging
import PostgresNIO

/// Workflows in PostgreSQL. Every query of the workflows table lives here.
public struct WorkflowStore: Sendable {
    let client: PostgresClient, logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        (self.client, self.logger) = (client, logger)
    }

    static let columns = """
        w.id, w.name, w.description, w.steps, w.timeout_seconds, w.max_attempts, w.retry_backoff_seconds,
        w.max_concurrent_runs, w.overlap_policy, w.created_at, w.updated_at, w.paused_at
        """

    /// The list and detail shape: trigger count, next scheduled run and last execution, in one query.
    static let summarySelect = """
        SELECT \(columns),
            (SELECT count(*) FROM flowforge.workflow_triggers t WHERE t.workflow_id = w.id) AS trigger_count,
            (SELECT min(\(TriggerStore.nextRunSQL("t"))) FROM flowforge.workflow_triggers t
                WHERE t.workflow_id = w.id AND t.enabled AND t.trigger_type = 'scheduled') AS next_run_at,
            last.id AS last_id, last.status AS last_status, last.trigger_type AS last_trigger_type,
            last.queued_at AS last_queued_at, last.started_at AS last_started_at, last.finished_at AS last_finished_at
        FROM flowforge.workflows w
        LEFT JOIN LATERAL (
            SELECT e.id, e.status, e.trigger_type, e.queued_at, e.started_at, e.finished_at
            FROM flowforge.executions e
            WHERE e.workflow_id = w.id AND NOT (e.trigger_type = 'scheduled' AND e.scheduled_for > now())  -- not a run created early
            ORDER BY e.id DESC LIMIT 1
        ) last ON true
        """

    static func workflow(from row: PostgresRandomAccessRow) throws -> Workflow {
        return Workflow(
            id: try row.column("id"),
            name: try row.column("name"),
            description: try row.column("description"),
            stepsJSON: try row.column("steps", as: JSONValue.self),
            timeoutSeconds: try row.column("timeout_seconds"),
            maxAttempts: try row.column("max_attempts"),
            retryBackoffSeconds: try row.column("retry_backoff_seconds"),
            maxConcurrentRuns: try row.column("max_concurrent_runs"),
            overlapPolicy: OverlapPolicy(rawValue: try row.column("overlap_policy")) ?? .queue,
            createdAt: try row.column("created_at"),
            updatedAt: try row.column("updated_at"),
            pausedAt: try row.column("paused_at"))
    }

    static func summary(from row: PostgresRandomAccessRow) throws -> WorkflowSummary {
        var last: ExecutionBrief?
        if let lastId = try row.column("last_id", as: Int64?.self) {
            last = ExecutionBrief(
                id: lastId,
                status: ExecutionStatus(rawValue: try row.column("last_status")) ?? .queued,
                triggerType: ExecutionTriggerType(rawValue: try row.column("last_trigger_type")) ?? .manual,
                queuedAt: try row.column("last_queued_at"),
                startedAt: try row.column("last_started_at"),
                finishedAt: try row.column("last_finished_at"))
        }
        return WorkflowSummary(
            workflow: try workflow(from: row),
            triggerCount: Int(try row.column("trigger_count", as: Int64.self)),
            nextRunAt: try row.column("next_run_at"),
            lastExecution: last)
    }

    /// Creates the workflow and its initial triggers in one transaction: all or nothing.
    public func create(
        _ definition: WorkflowDefinition, triggers: [TriggerDefinition] = [], now: Date
    ) async throws -> WorkflowSummary {
        let id = try await client.withOpenTransaction(logger: logger) { connection in
            if let dependency = triggers.first(where: { $0.type == .dependency }) {
                try await TriggerStore.lockGraphIfNeeded(for: dependency, on: connection, logger: logger)
            }
            let id = try await insert(definition, on: connection)
            for trigger in triggers {
                _ = try await TriggerStore.insert(trigger, workflowId: id, workflowName: definition.name, now: now, on: connection, logger: logger)
            }
            return id
        }
        guard let summary = try await summary(id: id) else { throw FlowForgeError.notFound("workflow \(id) was deleted meanwhile") }
        return summary
    }

    private func insert(_ definition: WorkflowDefinition, on connection: PostgresConnection) async throws -> Int64 {
        do {
            let rows = try await connection.query(
                """
                INSERT INTO flowforge.workflows
                    (name, description, steps, timeout_seconds, max_attempts, retry_backoff_seconds, max_concurrent_runs, overlap_policy)
                VALUES (\(definition.name), \(definition.description), \(JSONValue.array(definition.steps.map(\.json))),
                    \(definition.timeoutSeconds), \(definition.maxAttempts), \(definition.retryBackoffSeconds),
                    \(definition.maxConcurrentRuns), \(definition.overlapPolicy.rawValue))
                RETURNING id
                """, logger: logger)
            for try await id in rows.decode(Int64.self) { return id }
            throw FlowForgeError.conflict("the workflow could not be created")
        } catch where error.sqlState == "23505" {
            throw FlowForgeError.conflict("a workflow named \"\(definition.name)\" already exists")
        }
    }

    enum ByID: PreparedReadText { static let sql = "SELECT \(columns) FROM flowforge.workflows w WHERE w.id = $1" }
    enum SummaryByID: PreparedReadText { static let sql = "\(summarySelect) WHERE w.id = $1" }
    enum SummaryPage: PreparedReadText { static let sql = "\(summarySelect) ORDER BY w.name, w.id LIMIT $1 OFFSET $2" }
    enum Count: PreparedReadText { static let sql = "SELECT count(*) AS total FROM flowforge.workflows" }

    public func get(id: Int64) async throws -> Workflow? {
        try await client.read(PreparedRead<ByID> { $0.append(id) }, logger: logger, Self.workflow).first
    }

    public func summary(id: Int64) async throws -> WorkflowSummary? {
        try await client.read(PreparedRead<SummaryByID> { $0.append(id) }, logger: logger, Self.summary).first
    }

    /// A page of workflows ordered by name (all of them when `limit` is nil), and how many
    /// there are in all.
    public func list(limit: Int?, offset: Int = 0) async throws -> (items: [WorkflowSummary], total: Int) {
        let items = try await client.read(
            PreparedRead<SummaryPage> {
                if let limit { $0.append(limit) } else { $0.appendNull() }
                $0.append(offset)
            }, logger: logger, Self.summary)
        let total = try await client.read(PreparedRead<Count>(), logger: logger) { try $0.column("total", as: Int64.self) }
        return (items, Int(total.first ?? 0))
    }

    public func update(id: Int64, with definition: WorkflowDefinition) async throws -> WorkflowSummary {
        do {
            let rows = try await client.rows(
                """
                WITH updated AS (
                    UPDATE flowforge.workflows SET
                        name = \(definition.name), description = \(definition.description),
                        steps = \(JSONValue.array(definition.steps.map(\.json))), timeout_seconds = \(definition.timeoutSeconds),
                        max_attempts = \(definition.maxAttempts), retry_backoff_seconds = \(definition.retryBackoffSeconds),
                        max_concurrent_runs = \(definition.maxConcurrentRuns), overlap_policy = \(definition.overlapPolicy.rawValue),
                        updated_at = now()
                    WHERE id = \(id)
                    RETURNING id, \(unescaped: RunEnqueue.limited(overlapPolicy: "overlap_policy")) AS limited
                ), waiting AS (
                    -- Queued jobs follow the new overlap policy; leased ones pick it up when requeued.
                    UPDATE flowforge.jobs j SET limited = u.limited FROM updated u
                    WHERE j.workflow_id = u.id AND j.locked_by IS NULL AND j.limited <> u.limited
                )
                SELECT id FROM updated
                """, logger: logger)
            guard !rows.isEmpty else { throw FlowForgeError.notFound("workflow \(id) does not exist") }
        } catch where error.sqlState == "23505" {
            throw FlowForgeError.conflict("a workflow named \"\(definition.name)\" already exists")
        }
        guard let summary = try await summary(id: id) else { throw FlowForgeError.notFound("workflow \(id) does not exist") }
        return summary
    }

    /// Deletes the workflow; its triggers and every dependency trigger pointing at it go with it
    /// (foreign keys), its queued runs are cancelled, and its past executions stay readable.
    public func delete(id: Int64) async throws -> Bool {
        try await client.withOpenTransaction(logger: logger) { connection in
            // A dependency trigger goes with any of its upstreams, as it always went with its
            // only one (a join would otherwise wait on fewer workflows than it was given).
            try await connection.query(
                """
                DELETE FROM flowforge.workflow_triggers
                WHERE id IN (SELECT trigger_id FROM flowforge.trigger_upstreams WHERE upstream_workflow_id = \(id))
                """, logger: logger)
            let rows = try await connection.query("DELETE FROM flowforge.workflows WHERE id = \(id) RETURNING id", logger: logger)
            var deleted = false
            for try await _ in rows { deleted = true }
            guard deleted else { return false }
            // Scheduled runs created ahead of their time never happened: they go. What was due is cancelled.
            try await RunEnqueue.withdrawUpcoming(workflowId: id, on: connection, logger: logger)
            try await connection.query(
                """
                WITH cancelled AS (
                    UPDATE flowforge.executions
                    SET status = 'cancelled', finished_at = clock_timestamp(), cascaded_at = clock_timestamp(), error = 'the workflow was deleted'
                    WHERE workflow_id = \(id) AND status = 'queued'
                    RETURNING id
                )
                DELETE FROM flowforge.jobs WHERE execution_id IN (SELECT id FROM cancelled)
                """, logger: logger)
            try await NotificationChannel.triggersChanged.notify(String(id), on: connection, logger: logger)
            return true
        }
    }

    /// Pauses or resumes the workflow; pausing again keeps the first `paused_at`. Pausing
    /// withdraws the scheduled runs created ahead of their time (they are not due yet), also
    /// those of a tick that was creating them as the pause came. The
    /// scheduler hears of it at once (`triggersChanged`), so its ticker and file watcher read
    /// their triggers again. Returns the workflow as lists show it.
    public func setPaused(_ paused: Bool, id: Int64) async throws -> WorkflowSummary {
        try await client.withOpenTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                UPDATE flowforge.workflows SET paused_at = CASE WHEN \(paused) THEN coalesce(paused_at, now()) END
                WHERE id = \(id) RETURNING id
                """, logger: logger)
            var found = false
            for try await _ in rows { found = true }
            guard found else { throw FlowForgeError.notFound("workflow \(id) does not exist") }
            if paused {
                // A tick in flight holds its triggers' rows until it commits the runs it created
                // ahead of their time. Waiting for those locks means the withdrawal below, a later
                // statement, sees those runs too; a tick after this one sees the pause.
                try await connection.query(
                    "SELECT 1 FROM flowforge.workflow_triggers WHERE workflow_id = \(id) AND trigger_type = 'scheduled' FOR UPDATE",
                    logger: logger)
                try await RunEnqueue.withdrawUpcoming(workflowId: id, on: connection, logger: logger)
            }
            try await NotificationChannel.triggersChanged.notify(String(id), on: connection, logger: logger)
        }
        guard let summary = try await summary(id: id) else { throw FlowForgeError.notFound("workflow \(id) does not exist") }
        return summary
    }

    /// Every workflow with whether making it an upstream of `workflowId` would close a cycle.
    public func availableUpstream(for workflowId: Int64?) async throws -> [(WorkflowRef, [WorkflowRef]?)] {
        let graph = try await TriggerStore(client: client, logger: logger).dependencyGraph()
        let rows = try await client.rows("SELECT id, name FROM flowforge.workflows ORDER BY name, id", logger: logger)
        var refs: [WorkflowRef] = []
        for (id, name) in try rows.decode((Int64, String).self) { refs.append(WorkflowRef(id: id, name: name)) }
        let names = Dictionary(uniqueKeysWithValues: refs.map { ($0.id, $0) })
        return refs.compactMap { ref in
            guard let workflowId else { return (ref, nil) }
            guard ref.id != workflowId else { return nil }
            let cycle = graph.cycle(adding: ref.id, to: workflowId)?.compactMap { names[$0] }
            return (ref, cycle)
        }
    }
}
