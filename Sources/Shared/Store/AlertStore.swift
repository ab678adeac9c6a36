import Foundation
import Logging
import PostgresNIO

/// Alert channels, rules and history in PostgreSQL, as the API reads and writes them: every
/// query of the `alert_*` tables outside the notifier lives here and in its extensions.
public struct AlertStore: Sendable {
    let client: PostgresClient, logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        (self.client, self.logger) = (client, logger)
    }

    // MARK: - Channels

    /// A channel with the rules that send to it, oldest rule first.
    static let channelSelect = """
        SELECT c.id, c.name, c.kind, c.settings, c.sealed_secret IS NOT NULL AS has_secret, c.created_at, c.updated_at,
            u.ids AS rule_ids, u.names AS rule_names
        FROM flowforge.alert_channels c
        LEFT JOIN LATERAL (
            SELECT array_agg(r.id ORDER BY r.id) AS ids, array_agg(r.name ORDER BY r.id) AS names
            FROM flowforge.alert_rule_channels rc JOIN flowforge.alert_rules r ON r.id = rc.rule_id
            WHERE rc.channel_id = c.id
        ) u ON true
        """

    static func channel(from row: PostgresRandomAccessRow) throws -> AlertChannel {
        let ruleIds = try row.column("rule_ids", as: [Int64]?.self) ?? []
        let ruleNames = try row.column("rule_names", as: [String]?.self) ?? []
        return AlertChannel(
            id: try row.column("id"),
            name: try row.column("name"),
            kind: AlertChannelKind(rawValue: try row.column("kind")) ?? .webhook,
            settings: try settings(from: try row.column("settings", as: JSONValue.self)),
            hasSecret: try row.column("has_secret"),
            rules: zip(ruleIds, ruleNames).map { AlertRuleRef(id: $0, name: $1) },
            createdAt: try row.column("created_at"),
            updatedAt: try row.column("updated_at"))
    }

    /// `alert_channels.settings` as stored (snake_case JSON, absent fields left out).
    static func settings(from value: JSONValue) throws -> AlertChannelSettings {
        try JSONDecoder().decode(AlertChannelSettings.self, from: Data(value.encoded()))
    }

    static func settingsJSON(_ settings: AlertChannelSettings) throws -> JSONValue {
        try JSONValue.parse(Array(try JSONEncoder().encode(settings)))
    }

    public func channels() async throws -> [AlertChannel] {
        try await client.rows("\(unescaped: Self.channelSelect) ORDER BY c.id", logger: logger).collectRows(Self.channel(from:))
    }

    public func channel(id: Int64) async throws -> AlertChannel? {
        try await client.rows("\(unescaped: Self.channelSelect) WHERE c.id = \(id)", logger: logger).collectRows(Self.channel(from:)).first
    }

    static func channel(id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> AlertChannel? {
        try await connection.query("\(unescaped: channelSelect) WHERE c.id = \(id)", logger: logger).collectRows(channel(from:)).first
    }

    /// A channel with its sealed secret, for what sends to it (the notifier, the API's test
    /// message); nil when it does not exist. The secret never leaves the process that opens it.
    public func channelForSending(id: Int64) async throws -> (AlertChannel, sealedSecret: [UInt8]?)? {
        let rows = try await client.rows(
            """
            SELECT c.id, c.name, c.kind, c.settings, c.sealed_secret IS NOT NULL AS has_secret, c.created_at, c.updated_at,
                NULL::bigint[] AS rule_ids, NULL::text[] AS rule_names, c.sealed_secret
            FROM flowforge.alert_channels c WHERE c.id = \(id)
            """, logger: logger)
        guard let row = rows.first?.makeRandomAccess() else { return nil }
        let sealed = try row.column("sealed_secret", as: ByteBuffer?.self)
        return (try Self.channel(from: row), sealedSecret: sealed.map { Array($0.readableBytesView) })
    }

    public func createChannel(_ definition: AlertChannelDefinition) async throws -> AlertChannel {
        let settings = try Self.settingsJSON(definition.settings)
        let sealed: ByteBuffer? = if case .replace(let bytes) = definition.secret { ByteBuffer(bytes: bytes) } else { nil }
        return try await client.withOpenTransaction(logger: logger) { connection in
            var id: Int64?
            do {
                // Read inside the `do`: the server's error may arrive with the rows.
                let rows = try await connection.query(
                    """
                    INSERT INTO flowforge.alert_channels (name, kind, settings, sealed_secret)
                    VALUES (\(definition.name), \(definition.kind.rawValue), \(settings), \(sealed))
                    RETURNING id
                    """, logger: logger)
                for try await value in rows.decode(Int64.self) { id = value }
            } catch where error.sqlState == "23505" {
                throw FlowForgeError.conflict("an alert channel named \"\(definition.name)\" already exists")
            }
            guard let id, let channel = try await Self.channel(id: id, on: connection, logger: logger) else {
                throw FlowForgeError.conflict("the alert channel could not be created")
            }
            return channel
        }
    }

    /// Edits a channel: `edit` turns the channel as it is (read and locked in the transaction)
    /// into its new definition. Its kind cannot change.
    public func updateChannel(
        id: Int64, edit: @escaping @Sendable (AlertChannel) throws -> AlertChannelDefinition
    ) async throws -> AlertChannel {
        try await client.withOpenTransaction(logger: logger) { connection in
            guard let current = try await Self.lockedChannel(id: id, on: connection, logger: logger) else {
                throw Self.channelNotFound(id)
            }
            let definition = try edit(current)
            precondition(definition.kind == current.kind, "an alert channel's kind cannot change")
            let settings = try Self.settingsJSON(definition.settings)
            let keep: Bool
            var sealed: ByteBuffer?
            switch definition.secret {
            case .keep: keep = true
            case .remove: keep = false
            case .replace(let bytes): (keep, sealed) = (false, ByteBuffer(bytes: bytes))
            }
            do {
                try await connection.query(
                    """
                    UPDATE flowforge.alert_channels SET name = \(definition.name), settings = \(settings),
                        sealed_secret = CASE WHEN \(keep) THEN sealed_secret ELSE \(sealed)::bytea END, updated_at = now()
                    WHERE id = \(id)
                    """, logger: logger)
            } catch where error.sqlState == "23505" {
                throw FlowForgeError.conflict("an alert channel named \"\(definition.name)\" already exists")
            }
            return try await Self.channel(id: id, on: connection, logger: logger)!
        }
    }

    /// Deletes a channel that no rule sends to; one that rules use is a conflict naming them,
    /// because a rule left without it would silently alert nobody there. History keeps its
    /// deliveries (their channel id becomes null, its name stays).
    public func deleteChannel(id: Int64) async throws -> Bool {
        try await client.withOpenTransaction(logger: logger) { connection in
            guard let channel = try await Self.lockedChannel(id: id, on: connection, logger: logger) else { return false }
            // Rules being written now take a key-share lock on the channel, so they have either
            // committed (and are listed) or wait for this delete and then find it gone.
            guard channel.rules.isEmpty else { throw Self.channelInUse(channel) }
            do {
                try await connection.query("DELETE FROM flowforge.alert_channels WHERE id = \(id)", logger: logger)
            } catch where error.sqlState == "23503" {
                throw FlowForgeError.conflict("alert channel \(id) (\(channel.name)) is used by an alert rule; remove it from the rule first")
            }
            return true
        }
    }

    static func channelInUse(_ channel: AlertChannel) -> FlowForgeError {
        let rules = channel.rules.map { "\"\($0.name)\" (\($0.id))" }.joined(separator: ", ")
        let (noun, them) = channel.rules.count == 1 ? ("alert rule", "it") : ("alert rules", "them")
        return .conflict("alert channel \(channel.id) (\(channel.name)) is used by \(noun) \(rules); remove it from \(them) first")
    }

    /// Gives a webhook channel a new signing secret (sealed); the old one stops working at once.
    public func rotateChannelSecret(id: Int64, sealed: [UInt8]) async throws -> AlertChannel {
        try await client.withOpenTransaction(logger: logger) { connection in
            guard let channel = try await Self.lockedChannel(id: id, on: connection, logger: logger) else {
                throw Self.channelNotFound(id)
            }
            guard channel.kind == .webhook else {
                throw FlowForgeError.invalid(
                    "alert channel \(id) is \(channel.kind == .email ? "an" : "a") \(channel.kind.rawValue) channel: only webhook channels have a signing secret to rotate")
            }
            try await connection.query(
                "UPDATE flowforge.alert_channels SET sealed_secret = \(ByteBuffer(bytes: sealed)), updated_at = now() WHERE id = \(id)",
                logger: logger)
            return try await Self.channel(id: id, on: connection, logger: logger)!
        }
    }

    /// The channel, its row locked for the rest of the caller's transaction.
    static func lockedChannel(id: Int64, on connection: PostgresConnection, logger: Logger) async throws -> AlertChannel? {
        let rows = try await connection.query("SELECT 1 FROM flowforge.alert_channels WHERE id = \(id) FOR UPDATE", logger: logger)
        var exists = false
        for try await _ in rows { exists = true }
        guard exists else { return nil }
        return try await channel(id: id, on: connection, logger: logger)
    }

    static func channelNotFound(_ id: Int64) -> FlowForgeError { .notFound("alert channel \(id) does not exist") }
}
