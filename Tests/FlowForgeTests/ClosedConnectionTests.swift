@testable import FlowForgeAPI
import FlowForgeShared
import Hummingbird
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
}
