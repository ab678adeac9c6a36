import FlowForgeShared
import Logging

/// Maintenance: requeues (or fails) runs whose worker stopped renewing its lease, raises
/// alerts for late and long-running runs, deletes live output no running attempt holds, and
/// deletes history older than the retention setting.
struct Maintenance: Sendable {
    let parts: SchedulerParts

    func run() async {
        let config = parts.config, logger = parts.logger
        var sincePrune = config.pruneInterval  // prune once at start
        let loop = BackgroundLoop.Config(interval: config.rescueInterval, failure: "maintenance failed")
        await BackgroundLoop(config: loop, notifications: nil, logger: logger).run { _ in
            do {
                let (requeued, failed) = try await rescueExpiredLeases()
                if requeued + failed > 0 {
                    logger.notice("rescued runs of lost workers", metadata: ["requeued": "\(requeued)", "failed": "\(failed)"])
                }
            } catch {
                logger.warning("lease rescue failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            do {
                let store = parts.store, batch = config.timingAlertBatch
                let raised = try await backgroundCall { try await store.raiseTimingAlerts(batch: batch) }
                if raised > 0 { logger.info("raised alerts for late or long-running runs", metadata: ["alerts": "\(raised)"]) }
            } catch {
                logger.warning("looking for late or long-running runs failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            do {
                let store = parts.store
                _ = try await backgroundCall { try await store.pruneLiveOutput() }
            } catch {
                logger.warning("pruning live output failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            if sincePrune >= config.pruneInterval {
                sincePrune = .zero
                await prune()
            }
            sincePrune += config.rescueInterval
            return nil
        }
    }

    /// One rescue pass: batch after batch until one comes back short, so that thousands of
    /// expired leases (a large worker lost, a failover) are all handled now, not one batch per
    /// interval. Each batch is its own short transaction. Returns the totals.
    func rescueExpiredLeases() async throws -> (requeued: Int, failed: Int) {
        var total = (requeued: 0, failed: 0)
        let store = parts.store, limit = parts.config.rescueBatchSize
        while !Task.isCancelled {
            let (requeued, failed) = try await backgroundCall { try await store.rescueExpiredLeases(limit: limit) }
            total.requeued += requeued
            total.failed += failed
            if requeued < limit, failed < limit { break }
        }
        return total
    }

    /// Deletes in batches, so a large backlog never holds one long transaction. Old webhook
    /// replay records and expired secrets go too.
    private func prune() async {
        let store = parts.store, events = parts.events, logger = parts.logger, retentionDays = parts.config.historyRetentionDays
        do {
            _ = try await backgroundCall { try await events.prune() }
        } catch {
            logger.warning("pruning webhook records failed", metadata: ["error": "\(String(reflecting: error))"])
        }
        guard retentionDays > 0 else { return }
        var total = 0
        do {
            while !Task.isCancelled {
                let deleted = try await backgroundCall { try await store.pruneHistory(olderThanDays: retentionDays) }
                total += deleted
                if deleted == 0 { break }
            }
        } catch {
            logger.warning("history pruning failed", metadata: ["error": "\(String(reflecting: error))"])
        }
        var alerts = 0
        do {
            while !Task.isCancelled {
                let deleted = try await backgroundCall { try await store.pruneAlerts(olderThanDays: retentionDays) }
                alerts += deleted
                if deleted == 0 { break }
            }
        } catch {
            logger.warning("alert history pruning failed", metadata: ["error": "\(String(reflecting: error))"])
        }
        if total + alerts > 0 {
            logger.info(
                "pruned old history", metadata: ["executions": "\(total)", "alerts": "\(alerts)", "older_than_days": "\(retentionDays)"])
        }
    }
}
