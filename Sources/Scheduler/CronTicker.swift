import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

/// Turns due scheduled triggers into runs, exactly once across replicas. Sleeps until the
/// earliest `next_run_at` (at most `maxSleep`) and wakes early when triggers change.
struct CronTicker: Sendable {
    var maxSleep: Duration = .seconds(5)
    let store: SchedulerStore
    let postgres: PostgresClient
    let clock: @Sendable () -> Date
    let logger: Logger

    func run() async {
        let wakeup = Wakeup()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await listen("flowforge_triggers_changed", postgres: postgres, logger: logger, wake: wakeup) }
            while !Task.isCancelled {
                var sleep = maxSleep
                do {
                    let created = try await store.fireDueTriggers(now: clock())
                    if created > 0 { logger.info("scheduled runs created", metadata: ["count": "\(created)"]) }
                    if let next = try await store.nextTriggerTime() {
                        let wait = next.timeIntervalSince(clock())
                        sleep = min(maxSleep, .milliseconds(max(0, Int64(wait * 1000))))
                    }
                } catch {
                    logger.warning("cron tick failed", metadata: ["error": "\(String(reflecting: error))"])
                }
                await wakeup.wait(upTo: sleep)
            }
            group.cancelAll()
        }
    }
}
