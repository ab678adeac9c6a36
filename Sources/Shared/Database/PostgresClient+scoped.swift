import Logging
import PostgresNIO

extension PostgresClient {
    /// Runs `body` with a client whose connection pool runs only for that long: for one-shot
    /// commands (`flowforge migrate`, setting up a database) that have no ServiceGroup.
    @discardableResult
    public static func withClient<T: Sendable>(
        _ configuration: PostgresClient.Configuration, logger: Logger,
        _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        // The pool may be asked for a connection a moment before its run() task starts; that
        // is expected here, so its warning about it is not shown.
        var background = logger
        background.logLevel = max(logger.logLevel, .error)
        let client = PostgresClient(configuration: configuration, backgroundLogger: background)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            do {
                let result = try await body(client)
                group.cancelAll()
                return result
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }
}
