import FlowForgeShared
import Logging
import PostgresNIO

/// Starts downstream workflows when an upstream run finishes: woken by
/// `NotificationChannel.executionFinished`, and sweeping every `sweepInterval` in case a notification
/// was lost or the cascader was down. The executions table is the truth.
struct DependencyCascader: Sendable {
    let sweepInterval: Duration
    let store: SchedulerStore
    let postgres: PostgresClient
    let logger: Logger

    func run() async {
        let loop = BackgroundLoop.Config(interval: sweepInterval, listen: [.executionFinished], failure: "cascade failed")
        await BackgroundLoop(config: loop, postgres: postgres, logger: logger).run { _ in
            while try await backgroundCall({ try await store.cascade() }) > 0 {}
            return nil
        }
    }
}
