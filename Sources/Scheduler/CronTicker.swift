import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

/// Turns due scheduled triggers into runs, exactly once across replicas, `lookahead` seconds
/// ahead of their time (see `SchedulerStore.defaultLookahead`). Sleeps until the earliest
/// `next_run_at` less the look-ahead (at most `maxSleep`) and wakes early when triggers change.
struct CronTicker: Sendable {
    let maxSleep: Duration
    let lookahead: TimeInterval
    let store: SchedulerStore
    let postgres: PostgresClient
    let clock: @Sendable () -> Date
    let logger: Logger

    func run() async {
        let loop = BackgroundLoop.Config(interval: maxSleep, listen: [.triggersChanged], failure: "cron tick failed")
        await BackgroundLoop(config: loop, postgres: postgres, logger: logger).run { _ in
            let created = try await backgroundCall { try await store.fireDueTriggers(now: clock(), lookahead: lookahead) }
            if created > 0 { logger.info("scheduled runs created", metadata: ["count": "\(created)"]) }
            guard let next = try await backgroundCall({ try await store.nextTriggerTime() }) else { return nil }
            let wait = next.timeIntervalSince(clock()) - lookahead
            return min(maxSleep, .milliseconds(max(0, Int64(wait * 1000))))
        }
    }
}
