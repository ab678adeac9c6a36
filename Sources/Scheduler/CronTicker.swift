import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

/// Turns due scheduled triggers into runs, exactly once across replicas, `lookahead` seconds
/// ahead of their time (see `SchedulerStore.defaultLookahead`), as `FirePlan` says. Sleeps until
/// the earliest `next_run_at` less the look-ahead (at most `tickerMaxSleep`) and wakes early when triggers change.
struct CronTicker: Sendable {
    let parts: SchedulerParts

    func run() async {
        let config = parts.config, store = parts.store, logger = parts.logger
        let loop = BackgroundLoop.Config(interval: config.tickerMaxSleep, listen: [.triggersChanged], failure: "cron tick failed")
        await BackgroundLoop(config: loop, notifications: parts.notifications, logger: logger).run { _ in
            let created = try await backgroundCall {
                try await store.fireDueTriggers(now: config.clock(), lookahead: config.scheduleLookahead)
            }
            if created > 0 { logger.info("scheduled runs created", metadata: ["count": "\(created)"]) }
            guard let next = try await backgroundCall({ try await store.nextTriggerTime() }) else { return nil }
            let wait = next.timeIntervalSince(config.clock()) - config.scheduleLookahead
            return min(config.tickerMaxSleep, .milliseconds(max(0, Int64(wait * 1000))))
        }
    }
}
