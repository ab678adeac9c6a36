import Foundation
import Logging
import PostgresNIO

/// Workflow triggers in PostgreSQL: every query of `workflow_triggers` lives here.
public struct TriggerStore: Sendable {
    let client: PostgresClient, logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        (self.client, self.logger) = (client, logger)
    }

    /// A scheduled trigger's next run as users see it. The cron ticker creates runs a few
    /// seconds ahead of their time and then advances the stored `next_run_at`, so the run it
    /// created early, still to come, is the next one. One probe of the unique
    /// (trigger_id, scheduled_for) index.
    static func nextRunSQL(_ t: String) -> String {
        """
        LEAST(\(t).next_run_at, (SELECT e.scheduled_for FROM flowforge.executions e
            WHERE e.trigger_id = \(t).id AND e.trigger_type = 'scheduled' AND e.scheduled_for > now()
            ORDER BY e.scheduled_for LIMIT 1))
        """
    }

    /// The last run as users see it: the stored `last_run_at`, unless that is a run created
    /// early and not yet due; then the latest one that was due.
    static let lastRunSQL = """
        CASE WHEN t.last_run_at > now() THEN (SELECT max(e.scheduled_for) FROM flowforge.executions e
            WHERE e.trigger_id = t.id AND e.trigger_type = 'scheduled' AND e.scheduled_for <= now())
        ELSE t.last_run_at END
        """

    static let select = """
        SELECT t.id, t.workflow_id, t.trigger_type, t.enabled, t.trigger_name, t.name_is_generated, t.cron_expression,
            t.timezone, \(nextRunSQL("t")) AS next_run_at, \(lastRunSQL) AS last_run_at, t.misfire_policy, t.depends_on_workflow_id,
            up.name AS depends_on_workflow_name, t.dependency_condition, t.delay_minutes, t.event_type, t.event_config,
            t.created_at, t.updated_at, ups.ids AS upstream_ids, ups.names AS upstream_names,
            t.params, \(ScheduleOptions.columns("t"))
        FROM flowforge.workflow_triggers t
        LEFT JOIN flowforge.workflows up ON up.id = t.depends_on_workflow_id
        LEFT JOIN LATERAL (
            SELECT array_agg(u.upstream_workflow_id ORDER BY u.position) AS ids, array_agg(uw.name ORDER BY u.position) AS names
            FROM flowforge.trigger_upstreams u JOIN flowforge.workflows uw ON uw.id = u.upstream_workflow_id
            WHERE u.trigger_id = t.id
        ) ups ON t.trigger_type = 'dependency'
        """

    static func trigger(from row: PostgresRandomAccessRow) throws -> Trigger {
        let upstreamIds = try row.column("upstream_ids", as: [Int64]?.self) ?? []
        let upstreamNames = try row.column("upstream_names", as: [String]?.self) ?? []
        var trigger = Trigger(
            id: try row.column("id"),
            workflowId: try row.column("workflow_id"),
            type: TriggerType(rawValue: try row.column("trigger_type")) ?? .scheduled,
            enabled: try row.column("enabled"),
            name: try row.column("trigger_name"),
            nameIsGenerated: try row.column("name_is_generated"),
            cronExpression: try row.column("cron_expression"),
            timezone: try row.column("timezone"),
            nextRunAt: try row.column("next_run_at"),
            lastRunAt: try row.column("last_run_at"),
            misfirePolicy: MisfirePolicy(rawValue: try row.column("misfire_policy")) ?? .runOnce,
            scheduleOptions: try ScheduleOptions(row: row),
            dependsOnWorkflowId: try row.column("depends_on_workflow_id"),
            dependsOnWorkflowName: try row.column("depends_on_workflow_name"),
            dependencyCondition: (try row.column("dependency_condition", as: String?.self)).flatMap(DependencyCondition.init),
            delayMinutes: try row.column("delay_minutes"),
            eventType: (try row.column("event_type", as: String?.self)).flatMap(EventType.init),
            eventConfig: try row.column("event_config"),
            createdAt: try row.column("created_at"),
            updatedAt: try row.column("updated_at"),
            params: try row.column("params"))
        trigger.upstreams = zip(upstreamIds, upstreamNames).map { WorkflowRef(id: $0, name: $1) }
        return trigger
    }

    enum OfWorkflow: PreparedReadText { static let sql = "\(select) WHERE t.workflow_id = $1 ORDER BY t.id" }

    public func list(workflowId: Int64) async throws -> [Trigger] {
        try await client.read(PreparedRead<OfWorkflow> { $0.append(workflowId) }, logger: logger, Self.trigger)
    }

    enum ByID: PreparedReadText { static let sql = "\(select) WHERE t.workflow_id = $1 AND t.id = $2" }

    static func byID(workflowId: Int64, triggerId: Int64) -> PreparedRead<ByID> {
        PreparedRead {
            $0.append(workflowId)
            $0.append(triggerId)
        }
    }

    public func get(workflowId: Int64, triggerId: Int64) async throws -> Trigger? {
        try await client.read(Self.byID(workflowId: workflowId, triggerId: triggerId), logger: logger, Self.trigger).first
    }

    /// The trigger, read in the caller's transaction.
    static func get(workflowId: Int64, triggerId: Int64, on connection: PostgresConnection, logger: Logger) async throws -> Trigger? {
        try await connection.read(byID(workflowId: workflowId, triggerId: triggerId), logger: logger, Self.trigger).first
    }

    public func create(_ definition: TriggerDefinition, workflowId: Int64, now: Date) async throws -> Trigger {
        try await client.withOpenTransaction(logger: logger) { connection in
            try await Self.lockGraphIfNeeded(for: definition, on: connection, logger: logger)
            // Locking the workflow row keeps a concurrent delete from racing the insert, and
            // counts of its triggers exact; NO KEY UPDATE leaves dependents free to reference it.
            let rows = try await connection.query(
                "SELECT name FROM flowforge.workflows WHERE id = \(workflowId) FOR NO KEY UPDATE", logger: logger)
            var workflowName: String?
            for try await name in rows.decode(String.self) { workflowName = name }
            guard let workflowName else { throw FlowForgeError.notFound("workflow \(workflowId) does not exist") }
            let id = try await Self.insert(definition, workflowId: workflowId, workflowName: workflowName, now: now, on: connection, logger: logger)
            return try await Self.get(workflowId: workflowId, triggerId: id, on: connection, logger: logger)!
        }
    }

    /// Inserts a validated trigger for an existing (locked) workflow, checking what needs the
    /// database: the trigger limit, the upstream's existence and that no cycle closes.
    static func insert(
        _ definition: TriggerDefinition, workflowId: Int64, workflowName: String, now: Date,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> Int64 {
        let countRows = try await connection.query(
            "SELECT count(*) FROM flowforge.workflow_triggers WHERE workflow_id = \(workflowId)", logger: logger)
        for try await count in countRows.decode(Int64.self) where count >= Limits.triggersPerWorkflow {
            throw FlowForgeError.invalid("a workflow can have at most \(Limits.triggersPerWorkflow) triggers")
        }
        let upstreamNames = try await checkDependency(definition, workflowId: workflowId, workflowName: workflowName, on: connection, logger: logger)
        // The id first: a jittered schedule's next run depends on it.
        let idRows = try await connection.query(
            "SELECT nextval(pg_get_serial_sequence('flowforge.workflow_triggers', 'id'))", logger: logger)
        var id: Int64 = 0
        for try await value in idRows.decode(Int64.self) { id = value }
        let change = TriggerChange(creating: definition, id: id, upstreamNames: upstreamNames, now: now)
        let options = definition.scheduleOptions
        try await connection.query(
            """
            INSERT INTO flowforge.workflow_triggers
                (id, workflow_id, trigger_type, enabled, trigger_name, name_is_generated, cron_expression, timezone, next_run_at,
                 misfire_policy, depends_on_workflow_id, dependency_condition, delay_minutes, event_type, event_config, files_since,
                 params, jitter_seconds, active_from, active_until, dst_gap, dst_overlap)
            OVERRIDING SYSTEM VALUE
            VALUES (\(id), \(workflowId), \(definition.type.rawValue), \(definition.enabled), \(change.name), \(change.nameIsGenerated),
                \(definition.cronExpression), \(definition.timezone), \(change.nextRunAt), \(definition.misfirePolicy.rawValue),
                \(definition.dependsOnWorkflowId), \(definition.dependencyCondition?.rawValue), \(definition.delayMinutes),
                \(definition.eventType?.rawValue), \(definition.eventConfig),
                CASE WHEN \(change.takesFilesFromNow) THEN clock_timestamp() END,
                \(definition.params),
                \(options.jitterSeconds), \(options.activeFrom), \(options.activeUntil), \(options.dstPolicy?.gap?.rawValue),
                \(options.dstPolicy?.overlap?.rawValue))
            """, logger: logger)
        try await writeUpstreams(definition, triggerId: id, on: connection, logger: logger)
        if let sealed = definition.sealedSecret {
            try await connection.query(
                "INSERT INTO flowforge.webhook_secrets (trigger_id, sealed) VALUES (\(id), \(ByteBuffer(bytes: sealed)))", logger: logger)
        }
        try await NotificationChannel.triggersChanged.notify(String(id), on: connection, logger: logger)
        return id
    }

    /// Dependency-graph writers take the graph lock before any row lock, always in that order,
    /// so two of them can never wait on each other.
    static func lockGraphIfNeeded(for definition: TriggerDefinition, on connection: PostgresConnection, logger: Logger) async throws {
        guard definition.type == .dependency else { return }
        try await connection.query("SELECT pg_advisory_xact_lock(\(AdvisoryLock.dependencyGraph))", logger: logger)
    }

    /// For dependency triggers: each upstream exists, is not the workflow itself and closes no
    /// cycle. Serialized by an advisory lock so two halves of a cycle cannot both commit.
    /// Returns the upstreams' names, in order. Every new edge points into `workflowId`, so one
    /// closes a cycle exactly when the graph as it is already leads from `workflowId` to its
    /// upstream: each is checked on its own.
    static func checkDependency(
        _ definition: TriggerDefinition, workflowId: Int64, workflowName: String,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> [String] {
        guard definition.type == .dependency, !definition.upstreamIds.isEmpty else { return [] }
        let me = WorkflowRef(id: workflowId, name: workflowName)
        if definition.upstreamIds.contains(workflowId) { throw FlowForgeError.circularDependency(cycle: [me, me]) }
        try await lockGraphIfNeeded(for: definition, on: connection, logger: logger)
        let rows = try await connection.query(
            "SELECT id, name FROM flowforge.workflows WHERE id = ANY(\(definition.upstreamIds)) FOR KEY SHARE", logger: logger)
        var names: [Int64: String] = [:]
        for try await (id, name) in rows.decode((Int64, String).self) { names[id] = name }
        let field = definition.upstreamIds.count > 1 ? "depends_on_workflow_ids" : "depends_on_workflow_id"
        if let missing = definition.upstreamIds.first(where: { names[$0] == nil }) {
            throw FlowForgeError.invalid("\(field): workflow \(missing) does not exist")
        }
        let graph = try await dependencyGraph(on: connection, logger: logger)
        for upstream in definition.upstreamIds {
            if let cycle = graph.cycle(adding: upstream, to: workflowId) {
                let cycleNames = try await workflowNames(Set(cycle), on: connection, logger: logger)
                throw FlowForgeError.circularDependency(cycle: cycle.map { WorkflowRef(id: $0, name: cycleNames[$0] ?? "#\($0)") })
            }
        }
        return definition.upstreamIds.map { names[$0]! }
    }

    /// Writes a new dependency trigger's edges, one per upstream in the order given.
    static func writeUpstreams(_ definition: TriggerDefinition, triggerId: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        guard definition.type == .dependency, !definition.upstreamIds.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO flowforge.trigger_upstreams (trigger_id, position, upstream_workflow_id)
            SELECT \(triggerId), u.position - 1, u.id FROM unnest(\(definition.upstreamIds)::bigint[]) WITH ORDINALITY AS u(id, position)
            """, logger: logger)
    }

    /// An edited dependency trigger's edges: written again when its upstreams changed (which
    /// takes a join's counted finishes with the old edges), and a join that restarts forgets
    /// what it counted.
    static func rewriteUpstreams(
        _ definition: TriggerDefinition, of current: Trigger, change: TriggerChange, on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard definition.type == .dependency else { return }
        if definition.upstreamIds != TriggerDefinition(current).upstreamIds {
            try await connection.query("DELETE FROM flowforge.trigger_upstreams WHERE trigger_id = \(current.id)", logger: logger)
            try await writeUpstreams(definition, triggerId: current.id, on: connection, logger: logger)
        } else if change.restartsJoin {
            try await restartJoin(triggerId: current.id, on: connection, logger: logger)
        }
    }

    static func restartJoin(triggerId: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("DELETE FROM flowforge.join_pending WHERE trigger_id = \(triggerId)", logger: logger)
    }

    /// Edits a trigger: `edit` turns the trigger as it is (read and locked in the transaction)
    /// into its new definition, and `TriggerChange` decides what follows from the difference.
    public func update(
        workflowId: Int64, triggerId: Int64, now: Date, edit: @escaping @Sendable (Trigger) throws -> TriggerDefinition
    ) async throws -> Trigger {
        try await client.withOpenTransaction(logger: logger) { connection in
            // Which type the trigger has is known only after reading it; a dependency trigger's
            // update takes the graph lock first, like every other graph writer.
            let typeRows = try await connection.query(
                "SELECT trigger_type FROM flowforge.workflow_triggers WHERE id = \(triggerId)", logger: logger)
            for try await type in typeRows.decode(String.self) where type == TriggerType.dependency.rawValue {
                try await Self.lockGraphIfNeeded(for: TriggerDefinition(type: .dependency), on: connection, logger: logger)
            }
            let rows = try await connection.query(
                """
                SELECT w.name FROM flowforge.workflows w
                JOIN flowforge.workflow_triggers t ON t.workflow_id = w.id
                WHERE w.id = \(workflowId) AND t.id = \(triggerId)
                FOR UPDATE OF t
                """, logger: logger)
            var workflowName: String?
            for try await name in rows.decode(String.self) { workflowName = name }
            guard let workflowName, let current = try await Self.get(workflowId: workflowId, triggerId: triggerId, on: connection, logger: logger) else {
                throw FlowForgeError.notFound("trigger \(triggerId) of workflow \(workflowId) does not exist")
            }
            let definition = try edit(current)
            let upstreamNames = try await Self.checkDependency(
                definition, workflowId: workflowId, workflowName: workflowName, on: connection, logger: logger)
            let change = TriggerChange(editing: current, into: definition, upstreamNames: upstreamNames, now: now)
            if change.withdrawsUpcomingRuns {
                try await RunEnqueue.withdrawUpcoming(triggerId: triggerId, on: connection, logger: logger)
            }
            try await Self.rewriteUpstreams(definition, of: current, change: change, on: connection, logger: logger)
            let options = definition.scheduleOptions
            try await connection.query(
                """
                UPDATE flowforge.workflow_triggers SET
                    enabled = \(definition.enabled), trigger_name = \(change.name), name_is_generated = \(change.nameIsGenerated),
                    cron_expression = \(definition.cronExpression), timezone = \(definition.timezone), next_run_at = \(change.nextRunAt),
                    misfire_policy = \(definition.misfirePolicy.rawValue), depends_on_workflow_id = \(definition.dependsOnWorkflowId),
                    dependency_condition = \(definition.dependencyCondition?.rawValue), delay_minutes = \(definition.delayMinutes),
                    event_type = \(definition.eventType?.rawValue), event_config = \(definition.eventConfig), updated_at = now(),
                    files_since = CASE WHEN \(change.takesFilesFromNow) THEN clock_timestamp() ELSE files_since END,
                    params = \(definition.params),
                    jitter_seconds = \(options.jitterSeconds), active_from = \(options.activeFrom), active_until = \(options.activeUntil),
                    dst_gap = \(options.dstPolicy?.gap?.rawValue), dst_overlap = \(options.dstPolicy?.overlap?.rawValue)
                WHERE id = \(triggerId)
                """, logger: logger)
            try await NotificationChannel.triggersChanged.notify(String(triggerId), on: connection, logger: logger)
            return try await Self.get(workflowId: workflowId, triggerId: triggerId, on: connection, logger: logger)!
        }
    }

    /// Turns a trigger on or off. Enabling computes `next_run_at` from now: no backfill of what
    /// fell due while it was off.
    public func setEnabled(_ enabled: Bool, workflowId: Int64, triggerId: Int64, now: Date) async throws -> Trigger {
        try await client.withOpenTransaction(logger: logger) { connection in
            // Locked first (as `update` does), so a workflow deleted meanwhile either waits for
            // this or has already taken the trigger with it: then this is a 404, never a crash.
            let locked = try await connection.query(
                "SELECT 1 FROM flowforge.workflow_triggers WHERE workflow_id = \(workflowId) AND id = \(triggerId) FOR UPDATE",
                logger: logger)
            var exists = false
            for try await _ in locked { exists = true }
            guard exists, let current = try await Self.get(workflowId: workflowId, triggerId: triggerId, on: connection, logger: logger) else {
                throw FlowForgeError.notFound("trigger \(triggerId) of workflow \(workflowId) does not exist")
            }
            let change = TriggerChange(enabling: current, enabled, now: now)
            if change.withdrawsUpcomingRuns {
                try await RunEnqueue.withdrawUpcoming(triggerId: triggerId, on: connection, logger: logger)
            }
            if change.restartsJoin { try await Self.restartJoin(triggerId: triggerId, on: connection, logger: logger) }
            try await connection.query(
                """
                UPDATE flowforge.workflow_triggers SET enabled = \(enabled), next_run_at = \(change.nextRunAt), updated_at = now(),
                    files_since = CASE WHEN \(change.takesFilesFromNow) THEN clock_timestamp() ELSE files_since END
                WHERE id = \(triggerId)
                """, logger: logger)
            try await NotificationChannel.triggersChanged.notify(String(triggerId), on: connection, logger: logger)
            guard let trigger = try await Self.get(workflowId: workflowId, triggerId: triggerId, on: connection, logger: logger) else {
                throw FlowForgeError.notFound("trigger \(triggerId) of workflow \(workflowId) does not exist")
            }
            return trigger
        }
    }

    public func delete(workflowId: Int64, triggerId: Int64) async throws -> Bool {
        try await client.withOpenTransaction(logger: logger) { connection in
            let owned = try await connection.query(
                "SELECT 1 FROM flowforge.workflow_triggers WHERE workflow_id = \(workflowId) AND id = \(triggerId) FOR UPDATE", logger: logger)
            var exists = false
            for try await _ in owned { exists = true }
            guard exists else { return false }
            try await RunEnqueue.withdrawUpcoming(triggerId: triggerId, on: connection, logger: logger)
            let rows = try await connection.query(
                "DELETE FROM flowforge.workflow_triggers WHERE workflow_id = \(workflowId) AND id = \(triggerId) RETURNING id",
                logger: logger)
            var deleted = false
            for try await _ in rows { deleted = true }
            if deleted { try await NotificationChannel.triggersChanged.notify(String(triggerId), on: connection, logger: logger) }
            return deleted
        }
    }

    /// Gives a webhook trigger a new secret. The secrets it had keep working for `grace`
    /// seconds more (unless they expire sooner); returns when the old ones stop working.
    public func rotateSecret(workflowId: Int64, triggerId: Int64, sealed: [UInt8], graceSeconds: Int) async throws -> (Trigger, Date) {
        try await client.withOpenTransaction(logger: logger) { connection in
            guard let trigger = try await Self.get(workflowId: workflowId, triggerId: triggerId, on: connection, logger: logger) else {
                throw FlowForgeError.notFound("trigger \(triggerId) of workflow \(workflowId) does not exist")
            }
            guard trigger.webhookPath != nil else {
                throw FlowForgeError.invalid("trigger \(triggerId) is not a webhook trigger: only webhook triggers have a secret")
            }
            let rows = try await connection.query(
                """
                WITH old AS (
                    UPDATE flowforge.webhook_secrets SET expires_at = least(coalesce(expires_at, 'infinity'), now() + make_interval(secs => \(graceSeconds)))
                    WHERE trigger_id = \(triggerId) AND (expires_at IS NULL OR expires_at > now())
                ), new AS (
                    INSERT INTO flowforge.webhook_secrets (trigger_id, sealed) VALUES (\(triggerId), \(ByteBuffer(bytes: sealed)))
                )
                SELECT now() + make_interval(secs => \(graceSeconds))
                """, logger: logger)
            var expires = Date()
            for try await date in rows.decode(Date.self) { expires = date }
            return (trigger, expires)
        }
    }

    // MARK: - Dependencies

    /// Every dependency edge, enabled or not: a disabled trigger can be enabled again, so it
    /// still counts for cycles.
    public func dependencyGraph() async throws -> DependencyGraph {
        try await client.withOpenConnection { connection in try await Self.dependencyGraph(on: connection, logger: logger) }
    }

    static func dependencyGraph(on connection: PostgresConnection, logger: Logger) async throws -> DependencyGraph {
        let rows = try await connection.query(
            """
            SELECT u.upstream_workflow_id, t.workflow_id FROM flowforge.trigger_upstreams u
            JOIN flowforge.workflow_triggers t ON t.id = u.trigger_id
            """, logger: logger)
        var edges: [(upstream: Int64, downstream: Int64)] = []
        for try await (upstream, downstream) in rows.decode((Int64, Int64).self) { edges.append((upstream, downstream)) }
        return DependencyGraph(edges: edges)
    }

    static func workflowNames(_ ids: Set<Int64>, on connection: PostgresConnection, logger: Logger) async throws -> [Int64: String] {
        let rows = try await connection.query(
            "SELECT id, name FROM flowforge.workflows WHERE id = ANY(\(Array(ids)))", logger: logger)
        var names: [Int64: String] = [:]
        for try await (id, name) in rows.decode((Int64, String).self) { names[id] = name }
        return names
    }

    /// A dependency edge as the dependencies route, the graph and the UI show it.
    public struct DependencyEdge: Sendable {
        public var triggerId: Int64
        public var triggerName: String
        public var upstream: WorkflowRef
        public var downstream: WorkflowRef
        public var condition: DependencyCondition
        public var delayMinutes: Int
        public var enabled: Bool
    }

    /// Edges touching `workflowId`, or all of them when it is nil. A join has an edge per upstream.
    public func dependencyEdges(touching workflowId: Int64? = nil) async throws -> [DependencyEdge] {
        let rows = try await client.rows(
            """
            SELECT t.id, t.trigger_name, u.upstream_workflow_id, up.name AS upstream_name, t.workflow_id,
                down.name AS downstream_name, t.dependency_condition, t.delay_minutes, t.enabled
            FROM flowforge.trigger_upstreams u
            JOIN flowforge.workflow_triggers t ON t.id = u.trigger_id
            JOIN flowforge.workflows up ON up.id = u.upstream_workflow_id
            JOIN flowforge.workflows down ON down.id = t.workflow_id
            WHERE \(workflowId)::bigint IS NULL OR t.workflow_id = \(workflowId) OR u.upstream_workflow_id = \(workflowId)
            ORDER BY t.id, u.position
            """, logger: logger)
        return try rows.collectRows { row in
            DependencyEdge(
                triggerId: try row.column("id"),
                triggerName: try row.column("trigger_name"),
                upstream: WorkflowRef(id: try row.column("upstream_workflow_id"), name: try row.column("upstream_name")),
                downstream: WorkflowRef(id: try row.column("workflow_id"), name: try row.column("downstream_name")),
                condition: DependencyCondition(rawValue: try row.column("dependency_condition")) ?? .onSuccess,
                delayMinutes: try row.column("delay_minutes"),
                enabled: try row.column("enabled"))
        }
    }

    /// Would `upstream → workflowId` close a cycle? The cycle's workflows when it would.
    public func cycle(adding upstream: Int64, to workflowId: Int64) async throws -> [WorkflowRef]? {
        try await client.withOpenConnection { connection in
            let graph = try await Self.dependencyGraph(on: connection, logger: logger)
            guard let cycle = graph.cycle(adding: upstream, to: workflowId) else { return nil }
            let names = try await Self.workflowNames(Set(cycle), on: connection, logger: logger)
            return cycle.map { WorkflowRef(id: $0, name: names[$0] ?? "#\($0)") }
        }
    }
}
