@testable import FlowForgeAPI
import FlowForgeShared
import Hummingbird
import HummingbirdTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// A connection the server closes while FlowForge holds it (PostgreSQL restarted between two
/// statements of a transaction) must fail the call, not leave it waiting forever.
@Suite struct ClosedConnectionTests {
    /// Terminates `connection`'s backend from another connection and waits until the client
    /// has seen it close.
    private static func terminate(_ connection: PostgresConnection, url: DatabaseURL) async throws {
        var pid: Int32 = 0
        for try await value in try await connection.query("SELECT pg_backend_pid()", logger: TestDatabase.logger).decode(Int32.self) { pid = value }
        let backend = pid
        try await PostgresClient.withClient(url.clientConfiguration(maximumConnections: 1), logger: TestDatabase.logger) { other in
            try await other.query("SELECT pg_terminate_backend(\(backend))")
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while !connection.isClosed && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(connection.isClosed)
    }

    @Test func transactionOnATerminatedConnectionFailsAndThePoolRecovers() async throws {
        try await TestDatabase.with { url in
            let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 2), backgroundLogger: TestDatabase.logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                // Without the guard, the statement after the termination is never answered
                // (postgres-nio drops it) and this call waits forever; the deadline turns that
                // into a failure of the test instead of a hang.
                let failure: (any Error)? = try await abandoning(after: .seconds(20)) {
                    do {
                        try await client.withOpenTransaction(logger: TestDatabase.logger) { connection in
                            try await connection.query("CREATE TABLE half_done (id int)", logger: TestDatabase.logger)
                            try await Self.terminate(connection, url: url)
                            try await connection.query("INSERT INTO half_done VALUES (1)", logger: TestDatabase.logger)
                        }
                        return nil
                    } catch {
                        return error
                    }
                }
                let error = try #require(failure, "the transaction committed on a terminated connection")
                #expect(error is ConnectionClosed || error is PostgresTransactionError, "\(String(reflecting: error))")
                // The API answers such a failure with 503 (try again), not 500.
                #expect(ErrorMiddleware<BasicRequestContext>.isDatabaseUnavailable(error), "\(String(reflecting: error))")
                #expect(!ErrorMiddleware<BasicRequestContext>.isDatabaseUnavailable(FlowForgeError.notFound("x")))

                // The transaction left nothing behind, and the pool serves the next call on a
                // new connection.
                let exists = try await client.withOpenConnection { connection in
                    var found: Bool?
                    for try await value in try await connection.query("SELECT to_regclass('half_done') IS NOT NULL", logger: TestDatabase.logger).decode(Bool.self) {
                        found = value
                    }
                    return found
                }
                #expect(exists == false)
                group.cancelAll()
            }
        }
    }

    @Test("while the database cannot be reached, a request answers 503 once its wait for a connection runs out, not a 500 a minute later")
    func requestsWhileTheDatabaseIsAwayAnswer503() async throws {
        // Nothing listens on port 1: every connection attempt is refused, and postgres-nio's
        // pool keeps requests waiting for a minute before it gives up on them.
        let url = try DatabaseURL("postgres://flowforge:x@127.0.0.1:1/flowforge?sslmode=disable")
        let postgres = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 2), backgroundLogger: TestDatabase.logger)
        var configuration = APIConfiguration(tokens: [testToken])
        configuration.databaseWait = .seconds(1)
        let app = buildApplication(configuration: configuration, postgres: postgres, logger: TestDatabase.logger)
        let requests: [(HTTPRequest.Method, String, String?)] = [
            (.get, "/api/workflows", nil),
            (.post, "/api/workflows", #"{"name": "while-away", "steps": [{"name": "a", "kind": "noop"}]}"#),
            (.post, "/api/workflows/1/run", nil),
            (.get, "/api/executions/1", nil),
        ]
        try await app.test(.router) { client in
            for (method, path, body) in requests {
                let started = ContinuousClock.now
                let response = try await client.execute(
                    uri: path, method: method, headers: [.authorization: "Bearer \(testToken)", .contentType: "application/json"],
                    body: body.map { ByteBuffer(string: $0) })
                let waited = ContinuousClock.now - started
                #expect(response.status == .serviceUnavailable, "\(method) \(path)")
                let answer = try JSONValue.parse(response.body.readableBytesView)
                #expect(answer["error"] == "the database could not be reached or dropped the connection; try again shortly")
                #expect(waited >= .milliseconds(900) && waited < .seconds(10), "\(method) \(path) took \(waited)")
            }
        }
    }
}
