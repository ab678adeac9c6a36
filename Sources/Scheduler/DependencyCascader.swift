import FlowForgeShared
import Logging
import PostgresNIO

/// Starts downstream workflows when an upstream run finishes: woken by
/// `NotificationChannel.executionFinished`, and sweeping every `cascadeSweep` in case a notification
/// was lost or the cascader was down. The executions table is the truth. Which downstream runs
/// a finished run starts (the trigger's condition and delay) is decided by `SchedulerStore.cascadeSQL`.
struct DependencyCascader: Sendable {
    let parts: SchedulerParts

    func run() async {
        let store = parts.store
        let loop = BackgroundLoop.Config(interval: parts.config.cascadeSweep, listen: [.executionFinished], failure: "cascade failed")
        await BackgroundLoop(config: loop, notifications: parts.notifications, logger: parts.logger).run { _ in
            while try await backgroundCall({ try await store.cascade() }) > 0 {}
            return nil
        }
    }
}
