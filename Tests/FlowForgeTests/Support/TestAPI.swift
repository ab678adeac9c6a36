import FlowForgeAPI
import FlowForgeShared
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO
import ServiceLifecycle
import Testing

/// The token every API test sends.
let testToken = "test-token-0123456789abcdef"

/// "Now", as the API under test sees it: 2026-01-15T10:00:00Z, a Thursday.
let testNow = Date(timeIntervalSince1970: 1_768_471_200)

/// Each test gets a database of its own, migrated from `sql/`, dropped afterwards, so tests run
/// in parallel without seeing each other's rows.
struct TestDatabase {
    static func adminURL() throws -> DatabaseURL {
        guard let text = ProcessInfo.processInfo.environment["FLOWFORGE_TEST_DATABASE_URL"] else {
            throw ConfigError("FLOWFORGE_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a private PostgreSQL")
        }
        return try DatabaseURL(text)
    }

    static var logger: Logger {
        var logger = Logger(label: "flowforge-test")
        logger.logLevel = .warning
        return logger
    }

    /// Creates and migrates a fresh database, runs `body` with its URL, then drops it.
    static func with<T: Sendable>(_ body: @Sendable (DatabaseURL) async throws -> T) async throws -> T {
        let admin = try adminURL()
        let name = "ff_test_\(LocalPostgres.randomToken(bytes: 6))"
        try await PostgresClient.withClient(admin.clientConfiguration(maximumConnections: 1), logger: logger) { client in
            try await client.query("CREATE DATABASE \(unescaped: name)")
        }
        let url = admin.withDatabase(name)
        do {
            try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1), logger: logger) { client in
                try await Migrator(directory: try Migrator.locateDirectory()).migrate(client: client, logger: logger)
            }
            let result = try await body(url)
            try await drop(name, admin: admin)
            return result
        } catch {
            try? await drop(name, admin: admin)
            throw error
        }
    }

    private static func drop(_ name: String, admin: DatabaseURL) async throws {
        try await PostgresClient.withClient(admin.clientConfiguration(maximumConnections: 1), logger: logger) { client in
            try await client.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)")
        }
    }
}

/// What an API test works with: a client for requests and the database behind the API.
struct APIHarness: Sendable {
    let client: any TestClientProtocol
    let postgres: PostgresClient
    /// The test's database, for a test that needs a second client of its own.
    let url: DatabaseURL
    /// The API's port, when it listens on one (`withAPI(live: true)`).
    var port: Int? { client.port }

    /// Sends a request (JSON body optional) with the test token unless `token` says otherwise.
    @discardableResult
    func call(
        _ method: HTTPRequest.Method, _ uri: String, json: JSONValue? = nil, raw: String? = nil,
        token: String? = testToken, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (status: HTTPResponse.Status, body: JSONValue) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(bytes: json.encoded()) }
        if let raw { body = ByteBuffer(string: raw) }
        if body != nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        return Self.answer(response, "\(method) \(uri)", sourceLocation: sourceLocation)
    }

    /// Delivers a webhook: `body` as it is, signed with `secret` at `timestamp` unless
    /// `signature` gives the header's exact value (nil: no header).
    func hook(
        _ triggerId: Int64, body: [UInt8], secret: String? = nil, timestamp: Date = testNow, signature: String?? = .none,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> (status: HTTPResponse.Status, body: JSONValue) {
        var headers: HTTPFields = [.contentType: "application/json"]
        let header: String?
        switch signature {
        case .some(let given): header = given
        case .none:
            let t = Int64(timestamp.timeIntervalSince1970)
            header = secret.map { "t=\(t),v1=\(WebhookSignature.sign(body: body, timestamp: t, secret: Array($0.utf8)))" }
        }
        if let header { headers.append(.init(name: .init("X-FlowForge-Signature")!, value: header)) }
        let response = try await client.execute(uri: "/api/hooks/\(triggerId)", method: .post, headers: headers, body: ByteBuffer(bytes: body))
        return Self.answer(response, "hook \(triggerId)", sourceLocation: sourceLocation)
    }

    /// A response's status and body (JSON, or the text when it is not JSON); a 5xx is a test failure.
    private static func answer(
        _ response: TestResponse, _ request: String, sourceLocation: SourceLocation
    ) -> (status: HTTPResponse.Status, body: JSONValue) {
        let data = Data(response.body.readableBytesView)
        let value = data.isEmpty ? JSONValue.null : ((try? JSONValue.parse(data)) ?? .string(String(decoding: data, as: UTF8.self)))
        if response.status.code >= 500 {
            Issue.record("\(request) answered \(response.status.code): \(value)", sourceLocation: sourceLocation)
        }
        return (response.status, value)
    }

    /// Calls and requires `expected`, returning the body.
    @discardableResult
    func expect(
        _ expected: HTTPResponse.Status, _ method: HTTPRequest.Method, _ uri: String, json: JSONValue? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let (status, body) = try await call(method, uri, json: json, sourceLocation: sourceLocation)
        #expect(status == expected, "\(method) \(uri) → \(status.code) \(body)", sourceLocation: sourceLocation)
        return body
    }

    /// Creates a workflow with one noop step and returns its id.
    func workflow(_ name: String, extra: [String: JSONValue] = [:]) async throws -> Int64 {
        var fields: [String: JSONValue] = ["name": .string(name), "steps": [["name": "pause", "kind": "noop"]]]
        fields.merge(extra) { _, new in new }
        let body = try await expect(.created, .post, "/api/workflows", json: .object(fields))
        return try #require(body["id"]?.intValue)
    }

    /// Adds a dependency trigger "`workflow` runs after `upstream`"; returns the answer.
    func dependency(
        _ workflow: Int64, on upstream: Int64, condition: String = "on_success"
    ) async throws -> (status: HTTPResponse.Status, body: JSONValue) {
        try await call(
            .post, "/api/workflows/\(workflow)/triggers",
            json: ["trigger_type": "dependency", "depends_on_workflow_id": .int(upstream), "dependency_condition": .string(condition)])
    }

    /// Adds a scheduled trigger to `workflow` and returns its id.
    func scheduledTrigger(_ workflow: Int64, cron: String, zone: String? = nil) async throws -> Int64 {
        var fields: [String: JSONValue] = ["trigger_type": "scheduled", "cron_expression": .string(cron)]
        if let zone { fields["timezone"] = .string(zone) }
        let trigger = try await expect(.created, .post, "/api/workflows/\(workflow)/triggers", json: .object(fields))
        return try #require(trigger["id"]?.intValue)
    }

    /// Puts `count` manual runs of a workflow whose overlap_policy is allow straight into the
    /// queue, in one statement, and wakes the workers.
    func enqueueRuns(of workflowId: Int64, count: Int) async throws {
        try await postgres.query(
            """
            WITH runs AS (
                INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name)
                SELECT id, name, 'manual', 'Run now' FROM flowforge.workflows, generate_series(1, \(count))
                WHERE id = \(workflowId)
                RETURNING id, workflow_id
            )
            INSERT INTO flowforge.jobs (execution_id, workflow_id, limited) SELECT id, workflow_id, false FROM runs
            """)
        try await postgres.query("NOTIFY flowforge_jobs")
    }

    /// A `count(*)` query's answer, required to be there.
    func count(_ query: PostgresQuery) async throws -> Int64 {
        try #require(try await scalar(query, as: Int64.self))
    }

    /// One SQL query's first column of the first row, as a test's independent look at the tables.
    func scalar<T: PostgresDecodable & Sendable>(_ query: PostgresQuery, as: T.Type = T.self) async throws -> T? {
        let rows = try await postgres.query(query)
        for try await value in rows.decode(T.self) { return value }
        return nil
    }
}

/// Runs `body` against the real API on a fresh database, with the clock fixed at `testNow`.
/// `services` run beside the API (a worker, a scheduler), given the API's PostgreSQL client.
/// `live`: the API listens on a free loopback port (`APIHarness.port`), for clients in other
/// processes; otherwise requests go straight to its router.
func withAPI(
    clock: @escaping @Sendable () -> Date = { testNow },
    metrics: FlowForgeMetrics = FlowForgeMetrics(),
    secretBox: SecretBox? = .random(),
    maximumConnections: Int = 8,
    live: Bool = false,
    services: @Sendable (PostgresClient) -> [any Service] = { _ in [] },
    _ body: @Sendable (APIHarness) async throws -> Void
) async throws {
    try await TestDatabase.with { url in
        let postgres = PostgresClient(configuration: url.clientConfiguration(maximumConnections: maximumConnections), backgroundLogger: TestDatabase.logger)
        var configuration = APIConfiguration(tokens: [testToken], secretBox: secretBox)
        // The suite runs many APIs, workers and schedulers at once on a small machine, and a
        // test that races a dozen requests through eight connections can wait longer for one
        // than a server would; the 503 after the wait has a test of its own.
        configuration.databaseWait = .seconds(60)
        if live { configuration.port = 0 }
        let app = buildApplication(
            configuration: configuration, postgres: postgres, logger: TestDatabase.logger, clock: clock,
            metrics: metrics, services: services(postgres))
        try await app.test(live ? .live : .router) { client in
            try await body(APIHarness(client: client, postgres: postgres, url: url))
        }
    }
}

extension JSONValue {
    /// The elements of an array field, or an empty list.
    func list(_ key: String) -> [JSONValue] { self[key]?.arrayValue ?? [] }
}
