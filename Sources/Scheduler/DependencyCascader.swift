import FlowForgeShared
import Logging
import PostgresNIO

/// Starts downstream workflows when an upstream run finishes: woken by
/// `flowforge_execution_finished`, and sweeping every `sweepInterval` in case a notification
/// was lost or the cascader was down. The executions table is the truth.
struct DependencyCascader: Sendable {
    var sweepInterval: Duration = .seconds(2)
    let store: SchedulerStore
    let postgres: PostgresClient
    let logger: Logger

    func run() async {
        let wakeup = Wakeup()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await listen("flowforge_execution_finished", postgres: postgres, logger: logger, wake: wakeup) }
            while !Task.isCancelled {
                do {
                    while try await backgroundCall({ try await store.cascade() }) > 0 {}
                } catch {
                    logger.warning("cascade failed", metadata: ["error": "\(String(reflecting: error))"])
                }
                await wakeup.wait(upTo: sweepInterval)
            }
            group.cancelAll()
        }
    }
}
