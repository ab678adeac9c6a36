import Foundation
import Logging
import PostgresNIO

/// Event triggers in PostgreSQL: webhook secrets and deliveries, files that arrived, and the
/// event behind an event run.
public struct EventStore: Sendable {
    let client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics?

    public init(client: PostgresClient, logger: Logger, metrics: FlowForgeMetrics? = nil) {
        (self.client, self.logger, self.metrics) = (client, logger, metrics)
    }

    /// What a webhook delivery is checked against. `active` is false for a trigger that does
    /// not exist, is disabled, or is no webhook; `secrets` are sealed, expired ones left out.
    public struct WebhookTarget: Sendable {
        public var active: Bool
        public var config: JSONValue?
        public var secrets: [[UInt8]]
    }

    /// One query whether or not the trigger exists, so that both answers take the same path.
    public func webhookTarget(triggerId: Int64) async throws -> WebhookTarget {
        let rows = try await client.rows(
            """
            SELECT bool_or(t.enabled AND t.trigger_type = 'event' AND t.event_type = 'webhook') AS active,
                   (array_agg(t.event_config))[1] AS config,
                   array_remove(array_agg(s.sealed), NULL) AS secrets
            FROM (SELECT \(triggerId)::bigint AS id) AS wanted
            LEFT JOIN flowforge.workflow_triggers t ON t.id = wanted.id
            LEFT JOIN flowforge.webhook_secrets s ON s.trigger_id = t.id AND (s.expires_at IS NULL OR s.expires_at > now())
            """, logger: logger)
        for (active, config, secrets) in try rows.decode((Bool?, JSONValue?, [ByteBuffer]).self) {
            return WebhookTarget(active: active ?? false, config: config, secrets: secrets.map { Array($0.readableBytesView) })
        }
        return WebhookTarget(active: false, config: nil, secrets: [])
    }

    public enum Delivery: Sendable {
        /// The run it started.
        case started(Execution)
        /// Recorded; the event did not pass the trigger's filter.
        case filtered
        /// This signed delivery was taken before.
        case replayed
        /// Recorded; the trigger's workflow is paused (`WorkflowStore.setPaused`).
        case paused
        /// The trigger was deleted or disabled meanwhile.
        case gone
    }

    /// Records a verified delivery, once, and starts its run when `matched`: the delivery, the
    /// run, its job and its event in one transaction.
    public func accept(
        triggerId: Int64, replayKey: [UInt8], payload: [UInt8], payloadJSON: JSONValue?, matched: Bool
    ) async throws -> Delivery {
        let delivery: Delivery = try await client.withOpenTransaction(logger: logger) { connection in
            let recorded = try await connection.query(
                """
                INSERT INTO flowforge.webhook_deliveries (trigger_id, signed_digest)
                SELECT id, \(ByteBuffer(bytes: replayKey)) FROM flowforge.workflow_triggers
                WHERE id = \(triggerId) AND enabled AND trigger_type = 'event' AND event_type = 'webhook'
                FOR KEY SHARE
                ON CONFLICT DO NOTHING
                RETURNING trigger_id
                """, logger: logger)
            var inserted = false
            for try await _ in recorded { inserted = true }
            guard inserted else {
                let known = try await connection.query(
                    "SELECT 1 FROM flowforge.webhook_deliveries WHERE trigger_id = \(triggerId) AND signed_digest = \(ByteBuffer(bytes: replayKey))",
                    logger: logger)
                for try await _ in known { return .replayed }
                return .gone
            }
            guard matched else { return .filtered }
            let rows = try await connection.query(
                """
                WITH wanted AS (
                    SELECT w.id AS workflow_id, w.name AS workflow_name, t.id AS trigger_id, t.trigger_name,
                        NULL::timestamptz AS scheduled_for, NULL::bigint AS upstream_execution_id, now() AS queued_at, t.params
                    FROM flowforge.workflow_triggers t JOIN flowforge.workflows w ON w.id = t.workflow_id
                    WHERE t.id = \(triggerId) AND w.paused_at IS NULL
                ), \(unescaped: RunEnqueue.ctes(.event, returningExecution: true)), event AS (
                    INSERT INTO flowforge.execution_events (execution_id, payload, payload_json)
                    SELECT id, \(ByteBuffer(bytes: payload)), \(payloadJSON) FROM run
                ), seen AS (
                    UPDATE flowforge.workflow_triggers SET last_run_at = now() WHERE id = \(triggerId)
                )
                SELECT *, pg_notify(\(NotificationChannel.jobs.rawValue), id::text) FROM run
                """, logger: logger)
            guard let execution = try await rows.collectRows(ExecutionStore.execution).first else {
                let paused = try await connection.query(
                    """
                    SELECT 1 FROM flowforge.workflow_triggers t JOIN flowforge.workflows w ON w.id = t.workflow_id
                    WHERE t.id = \(triggerId) AND w.paused_at IS NOT NULL
                    """, logger: logger)
                for try await _ in paused { return .paused }
                return .gone
            }
            try await connection.query(
                """
                UPDATE flowforge.webhook_deliveries SET execution_id = \(execution.id)
                WHERE trigger_id = \(triggerId) AND signed_digest = \(ByteBuffer(bytes: replayKey))
                """, logger: logger)
            return .started(execution)
        }
        if case .started = delivery { metrics?.runsCreated(1, triggerType: .event) }
        return delivery
    }

    // MARK: - File arrival

    public struct FileTrigger: Sendable {
        public var id: Int64
        public var config: FileArrivalConfig
        /// Files modified before this are not taken (nil: every file is).
        public var since: Date?
    }

    /// Enabled file-arrival triggers. One whose stored config no longer reads is skipped.
    public func fileTriggers() async throws -> [FileTrigger] {
        let rows = try await client.rows(
            """
            SELECT t.id, t.event_config, t.files_since FROM flowforge.workflow_triggers t
            JOIN flowforge.workflows w ON w.id = t.workflow_id AND w.paused_at IS NULL
            WHERE t.enabled AND t.trigger_type = 'event' AND t.event_type = 'file_arrival'
            ORDER BY t.id
            """, logger: logger)
        var triggers: [FileTrigger] = []
        for (id, config, since) in try rows.decode((Int64, JSONValue?, Date?).self) {
            guard let parsed = try? FileArrivalConfig(config, path: "event_config.") else { continue }
            triggers.append(FileTrigger(id: id, config: parsed, since: parsed.includeExisting ? nil : since))
        }
        return triggers
    }

    /// A file as the watcher saw it; `mtime` in microseconds since 1970, exact.
    public struct SeenFile: Sendable, Hashable {
        public var path: String
        public var size: Int64
        public var mtimeMicroseconds: Int64

        public init(path: String, size: Int64, mtimeMicroseconds: Int64) {
            self.path = path
            self.size = size
            self.mtimeMicroseconds = mtimeMicroseconds
        }
    }

    /// Records files for a trigger and starts one run for each the database had not seen, in
    /// one statement: however many schedulers see a file, the primary key lets one record it,
    /// and only that one's run exists. Returns the files that started runs.
    public func recordArrivals(triggerId: Int64, files: [SeenFile]) async throws -> [SeenFile] {
        guard !files.isEmpty else { return [] }
        let rows = try await client.rows(
            """
            WITH trigger AS (
                SELECT t.id, t.trigger_name, w.id AS workflow_id, w.name, t.params
                FROM flowforge.workflow_triggers t JOIN flowforge.workflows w ON w.id = t.workflow_id
                WHERE t.id = \(triggerId) AND t.enabled AND t.trigger_type = 'event' AND t.event_type = 'file_arrival'
                FOR KEY SHARE OF t
            ), candidate AS (
                SELECT f.path, f.size, timestamptz 'epoch' + f.mtime * interval '1 microsecond' AS mtime
                FROM unnest(\(files.map(\.path))::text[], \(files.map(\.size))::bigint[], \(files.map(\.mtimeMicroseconds))::bigint[])
                    AS f(path, size, mtime)
            ), new AS (
                INSERT INTO flowforge.file_arrivals (trigger_id, path, size, mtime, execution_id)
                SELECT trigger.id, c.path, c.size, c.mtime, nextval(pg_get_serial_sequence('flowforge.executions', 'id'))
                FROM candidate c, trigger
                ON CONFLICT DO NOTHING
                RETURNING path, size, mtime, execution_id
            ), wanted AS (
                SELECT new.execution_id AS id, trigger.workflow_id, trigger.name AS workflow_name, trigger.id AS trigger_id,
                    trigger.trigger_name, NULL::timestamptz AS scheduled_for, NULL::bigint AS upstream_execution_id, now() AS queued_at,
                    trigger.params
                FROM new, trigger
            ), \(unescaped: RunEnqueue.ctes(.event, idsGiven: true)), event AS (
                INSERT INTO flowforge.execution_events (execution_id, file_path, file_size, file_mtime)
                SELECT execution_id, path, size, mtime FROM new
            ), seen AS (
                UPDATE flowforge.workflow_triggers SET last_run_at = now()
                WHERE id = \(triggerId) AND EXISTS (SELECT 1 FROM new)
            )
            SELECT path, size, (extract(epoch FROM mtime) * 1000000)::bigint, pg_notify(\(NotificationChannel.jobs.rawValue), execution_id::text)::text
            FROM new
            """, logger: logger)
        var started: [SeenFile] = []
        for (path, size, mtime, _) in try rows.decode((String, Int64, Int64, String?).self) {
            started.append(SeenFile(path: path, size: size, mtimeMicroseconds: mtime))
        }
        metrics?.runsCreated(started.count, triggerType: .event)
        return started
    }

    // MARK: - The worker's side

    /// The event behind a run: the webhook body, or the file that arrived.
    public struct EventData: Sendable {
        public var payload: [UInt8]?
        public var filePath: String?
    }

    public func eventData(executionId: Int64) async throws -> EventData? {
        let rows = try await client.rows(
            "SELECT payload, file_path FROM flowforge.execution_events WHERE execution_id = \(executionId)", logger: logger)
        for (payload, path) in try rows.decode((ByteBuffer?, String?).self) {
            return EventData(payload: payload.map { Array($0.readableBytesView) }, filePath: path)
        }
        return nil
    }

    /// The event behind an execution: the JSON body, or the file. A small body that jsonb could
    /// not hold (JSON with "\u0000") is read as bytes and parsed here.
    public func eventSummary(executionId: Int64) async throws -> ExecutionEvent? {
        let rows = try await client.rows(
            """
            SELECT payload_json, octet_length(payload), file_path, file_size, file_mtime,
                CASE WHEN coalesce(payload_json, 'null') = 'null' AND octet_length(payload) <= \(Limits.eventJSONBytes) THEN payload END
            FROM flowforge.execution_events WHERE execution_id = \(executionId)
            """, logger: logger)
        for (json, bytes, path, size, mtime, raw) in try rows.decode((JSONValue?, Int64?, String?, Int64?, Date?, ByteBuffer?).self) {
            if let path {
                return .file(path: path, size: size, modifiedAt: mtime)
            }
            // `raw` is there only when no JSON was stored (the webhook writes jsonb `null` then).
            let shown = raw.map { (try? JSONValue.parse(Array($0.readableBytesView))) ?? .null } ?? json
            return .payload(json: shown, bytes: bytes)
        }
        return nil
    }

    // MARK: - Upkeep

    /// Deletes replay records older than a day (a delivery's timestamp is refused after five
    /// minutes anyway) and secrets past their grace period. Returns how many rows went.
    public func prune() async throws -> Int {
        let rows = try await client.rows(
            """
            WITH deliveries AS (
                DELETE FROM flowforge.webhook_deliveries WHERE received_at < now() - interval '1 day' RETURNING 1
            ), secrets AS (
                DELETE FROM flowforge.webhook_secrets WHERE expires_at < now() RETURNING 1
            )
            SELECT (SELECT count(*) FROM deliveries) + (SELECT count(*) FROM secrets)
            """, logger: logger)
        for count in try rows.decode(Int64.self) { return Int(count) }
        return 0
    }
}
