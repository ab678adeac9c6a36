import Foundation
import Logging
import PostgresNIO

extension AlertStore {
    /// A rule with its workflows (by id) and its channels, both in id order.
    static let ruleSelect = """
        SELECT r.id, r.name, r.all_workflows, r.on_failed, r.on_succeeded, r.on_recovered, r.on_skipped,
            r.consecutive_failures, r.late_seconds, r.long_running_seconds, r.throttle_minutes, r.enabled,
            r.created_at, r.updated_at,
            (SELECT array_agg(w.workflow_id ORDER BY w.workflow_id) FROM flowforge.alert_rule_workflows w WHERE w.rule_id = r.id)
                AS workflow_ids,
            ch.ids AS channel_ids, ch.names AS channel_names, ch.kinds AS channel_kinds
        FROM flowforge.alert_rules r
        LEFT JOIN LATERAL (
            SELECT array_agg(c.id ORDER BY c.id) AS ids, array_agg(c.name ORDER BY c.id) AS names,
                array_agg(c.kind ORDER BY c.id) AS kinds
            FROM flowforge.alert_rule_channels rc JOIN flowforge.alert_channels c ON c.id = rc.channel_id
            WHERE rc.rule_id = r.id
        ) ch ON true
        """

    static func rule(from row: PostgresRandomAccessRow) throws -> AlertRule {
        var events = AlertEvents()
        events.failed = try row.column("on_failed")
        events.succeeded = try row.column("on_succeeded")
        events.recovered = try row.column("on_recovered")
        events.skipped = try row.column("on_skipped")
        events.consecutiveFailures = (try row.column("consecutive_failures", as: Int32?.self)).map(Int.init)
        events.lateSeconds = (try row.column("late_seconds", as: Int32?.self)).map(Int.init)
        events.longRunningSeconds = (try row.column("long_running_seconds", as: Int32?.self)).map(Int.init)
        let channelIds = try row.column("channel_ids", as: [Int64]?.self) ?? []
        let channelNames = try row.column("channel_names", as: [String]?.self) ?? []
        let channelKinds = try row.column("channel_kinds", as: [String]?.self) ?? []
        let channels = zip(channelIds, zip(channelNames, channelKinds)).map { id, rest in
            AlertChannelRef(id: id, name: rest.0, kind: AlertChannelKind(rawValue: rest.1) ?? .webhook)
        }
        return AlertRule(
            id: try row.column("id"),
            name: try row.column("name"),
            allWorkflows: try row.column("all_workflows"),
            workflowIds: try row.column("workflow_ids", as: [Int64]?.self) ?? [],
            events: events,
            channels: channels,
            throttleMinutes: Int(try row.column("throttle_minutes", as: Int32.self)),
            enabled: try row.column("enabled"),
            createdAt: try row.column("created_at"),
            updatedAt: try row.column("updated_at"))
    }

    /// Every rule, oldest first; with `covering`, those (enabled or not) that cover the
    /// workflow: the ones naming it and the ones for all workflows.
    public func rules(covering workflowId: Int64? = nil) async throws -> [AlertRule] {
        try await client.rows(
            """
            \(unescaped: Self.ruleSelect)
            WHERE \(workflowId)::bigint IS NULL OR r.all_workflows
                OR EXISTS (SELECT 1 FROM flowforge.alert_rule_workflows w WHERE w.rule_id = r.id AND w.workflow_id = \(workflowId))
            ORDER BY r.id
            """, logger: logger
        ).collectRows(Self.rule(from:))
    }

    public func rule(id: Int64) async throws -> AlertRule? {
        try await client.rows("\(unescaped: Self.ruleSelect) WHERE r.id = \(id)", logger: logger).collectRows(Self.rule(from:)).first
    }

    static func rule(id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> AlertRule? {
        try await connection.query("\(unescaped: ruleSelect) WHERE r.id = \(id)", logger: logger).collectRows(rule(from:)).first
    }

    /// Creates a rule with its workflows and channels, in one transaction: all or nothing.
    public func createRule(_ definition: AlertRuleDefinition) async throws -> AlertRule {
        try await client.withOpenTransaction(logger: logger) { connection in
            try await Self.checkReferences(definition, on: connection, logger: logger)
            let events = definition.events
            var id: Int64?
            do {
                let rows = try await connection.query(
                    """
                    INSERT INTO flowforge.alert_rules
                        (name, all_workflows, on_failed, on_succeeded, on_recovered, on_skipped, consecutive_failures,
                         late_seconds, long_running_seconds, throttle_minutes, enabled)
                    VALUES (\(definition.name), \(definition.allWorkflows), \(events.failed), \(events.succeeded), \(events.recovered),
                        \(events.skipped), \(events.consecutiveFailures), \(events.lateSeconds), \(events.longRunningSeconds),
                        \(definition.throttleMinutes), \(definition.enabled))
                    RETURNING id
                    """, logger: logger)
                for try await value in rows.decode(Int64.self) { id = value }
            } catch where error.sqlState == "23505" {
                throw Self.ruleNameTaken(definition.name)
            }
            guard let id else { throw FlowForgeError.conflict("the alert rule could not be created") }
            try await Self.writeLinks(definition, ruleId: id, on: connection, logger: logger)
            return try await Self.rule(id: id, on: connection, logger: logger)!
        }
    }

    /// Edits a rule: `edit` turns the rule as it is (read and locked in the transaction) into
    /// its new definition; its workflows and channels are written again with it.
    public func updateRule(id: Int64, edit: @escaping @Sendable (AlertRule) throws -> AlertRuleDefinition) async throws -> AlertRule {
        try await client.withOpenTransaction(logger: logger) { connection in
            guard let current = try await Self.lockedRule(id: id, on: connection, logger: logger) else { throw Self.ruleNotFound(id) }
            let definition = try edit(current)
            try await Self.checkReferences(definition, on: connection, logger: logger)
            let events = definition.events
            do {
                try await connection.query(
                    """
                    UPDATE flowforge.alert_rules SET name = \(definition.name), all_workflows = \(definition.allWorkflows),
                        on_failed = \(events.failed), on_succeeded = \(events.succeeded), on_recovered = \(events.recovered),
                        on_skipped = \(events.skipped), consecutive_failures = \(events.consecutiveFailures),
                        late_seconds = \(events.lateSeconds), long_running_seconds = \(events.longRunningSeconds),
                        throttle_minutes = \(definition.throttleMinutes), enabled = \(definition.enabled), updated_at = now()
                    WHERE id = \(id)
                    """, logger: logger)
            } catch where error.sqlState == "23505" {
                throw Self.ruleNameTaken(definition.name)
            }
            try await connection.query("DELETE FROM flowforge.alert_rule_workflows WHERE rule_id = \(id)", logger: logger)
            try await connection.query("DELETE FROM flowforge.alert_rule_channels WHERE rule_id = \(id)", logger: logger)
            try await Self.writeLinks(definition, ruleId: id, on: connection, logger: logger)
            return try await Self.rule(id: id, on: connection, logger: logger)!
        }
    }

    /// Turns a rule on or off; answers the rule.
    public func setRuleEnabled(_ enabled: Bool, id: Int64) async throws -> AlertRule {
        try await client.withOpenTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                "UPDATE flowforge.alert_rules SET enabled = \(enabled), updated_at = now() WHERE id = \(id) RETURNING id", logger: logger)
            var found = false
            for try await _ in rows { found = true }
            guard found, let rule = try await Self.rule(id: id, on: connection, logger: logger) else { throw Self.ruleNotFound(id) }
            return rule
        }
    }

    /// Deletes a rule; its alerts stay in the history (their rule id becomes null, its name stays).
    public func deleteRule(id: Int64) async throws -> Bool {
        let rows = try await client.rows("DELETE FROM flowforge.alert_rules WHERE id = \(id) RETURNING id", logger: logger)
        return !rows.isEmpty
    }

    /// Every workflow and channel the rule names exists; each is locked against deletion (key
    /// share) until the rule's rows are written. A missing one is a 400 naming the field.
    static func checkReferences(_ definition: AlertRuleDefinition, on connection: PostgresConnection, logger: Logger) async throws {
        if !definition.workflowIds.isEmpty {
            let rows = try await connection.query(
                "SELECT id FROM flowforge.workflows WHERE id = ANY(\(definition.workflowIds)) FOR KEY SHARE", logger: logger)
            var found: Set<Int64> = []
            for try await id in rows.decode(Int64.self) { found.insert(id) }
            if let missing = definition.workflowIds.first(where: { !found.contains($0) }) {
                throw FlowForgeError.invalid("workflow_ids: workflow \(missing) does not exist")
            }
        }
        let rows = try await connection.query(
            "SELECT id FROM flowforge.alert_channels WHERE id = ANY(\(definition.channelIds)) FOR KEY SHARE", logger: logger)
        var found: Set<Int64> = []
        for try await id in rows.decode(Int64.self) { found.insert(id) }
        if let missing = definition.channelIds.first(where: { !found.contains($0) }) {
            throw FlowForgeError.invalid("channel_ids: alert channel \(missing) does not exist")
        }
    }

    static func writeLinks(_ definition: AlertRuleDefinition, ruleId: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        if !definition.allWorkflows && !definition.workflowIds.isEmpty {
            try await connection.query(
                """
                INSERT INTO flowforge.alert_rule_workflows (rule_id, workflow_id)
                SELECT \(ruleId), id FROM unnest(\(definition.workflowIds)::bigint[]) AS id
                """, logger: logger)
        }
        try await connection.query(
            """
            INSERT INTO flowforge.alert_rule_channels (rule_id, channel_id)
            SELECT \(ruleId), id FROM unnest(\(definition.channelIds)::bigint[]) AS id
            """, logger: logger)
    }

    static func lockedRule(id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> AlertRule? {
        let rows = try await connection.query("SELECT 1 FROM flowforge.alert_rules WHERE id = \(id) FOR UPDATE", logger: logger)
        var exists = false
        for try await _ in rows { exists = true }
        guard exists else { return nil }
        return try await rule(id: id, on: connection, logger: logger)
    }

    static func ruleNameTaken(_ name: String) -> FlowForgeError { .conflict("an alert rule named \"\(name)\" already exists") }

    static func ruleNotFound(_ id: Int64) -> FlowForgeError { .notFound("alert rule \(id) does not exist") }
}
