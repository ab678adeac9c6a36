import FlowForgeShared
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Delivers alerts: claims due deliveries (SKIP LOCKED, so any number of schedulers can run
/// one), sends each on its own task, up to `alertConcurrency` at once, and records every
/// attempt with what follows it (`AlertRetryPolicy`). Woken by `NotificationChannel.alerts`
/// and by each send that ends; without either it looks again when the next retry or lease is
/// due, or after `alertSweep`.
struct AlertNotifier: Sendable {
    let parts: SchedulerParts

    func run() async {
        let config = parts.config, logger = parts.logger
        let store = AlertDeliveryStore(client: parts.postgres, logger: logger)
        let notifierID = config.notifierID
        let wakeup = Wakeup()
        let inFlight = InFlight()
        parts.notifications.register([.alerts]) { wakeup.wake() }
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                var wait = config.alertSweep
                do {
                    let free = config.alertConcurrency - inFlight.count.load(ordering: .acquiring)
                    if free > 0 {
                        let now = config.clock()
                        let claimed = try await backgroundCall {
                            try await store.claim(notifierID: notifierID, limit: free, now: now, lease: config.alertLease)
                        }
                        for delivery in claimed {
                            inFlight.count.add(1, ordering: .releasing)
                            group.addTask {
                                await deliver(delivery, store: store)
                                inFlight.count.subtract(1, ordering: .releasing)
                                wakeup.wake()
                            }
                        }
                        // With slots left over, nothing else is due now: wait for the next
                        // that will be (a notification comes first for a new alert).
                        if claimed.count < free, let next = try await backgroundCall({ try await store.nextDue() }) {
                            let untilNext = Duration.milliseconds(Int64(max(0, next.timeIntervalSince(config.clock())) * 1000))
                            wait = min(wait, max(untilNext, .milliseconds(10)))
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("alert delivery pass failed", metadata: ["error": "\(String(reflecting: error))"])
                }
                await wakeup.wait(upTo: wait)
            }
            group.cancelAll()
        }
    }

    /// Deliveries being sent now, shared by the claim loop and the sends.
    final class InFlight: Sendable {
        let count = Atomic<Int>(0)
    }

    /// One attempt of one delivery, and its record.
    private func deliver(_ delivery: AlertDeliveryStore.Claimed, store: AlertDeliveryStore) async {
        let config = parts.config, logger = parts.logger, metrics = parts.metrics
        let kind = delivery.channelKind
        if delivery.attempt == 1 { metrics?.alertDelivery(.created, kind: kind) }
        let startedAt = config.clock()
        let result: AlertDeliveryResult
        do {
            let target = try target(of: delivery)
            result = await AlertSender(http: config.alertHTTPClient, config: config.alertSender, logger: logger)
                .send(delivery.message(publicURL: config.publicURL), to: target)
        } catch {
            result = error.result
        }
        let now = config.clock()
        let decision = config.alertRetry.decide(result, attempt: delivery.attempt, raisedAt: delivery.raisedAt, now: now)
        var metadata: Logger.Metadata = [
            "alert_id": "\(delivery.alertId)", "delivery_id": "\(delivery.deliveryId)", "channel": "\(delivery.channel?.name ?? "deleted")",
            "channel_kind": "\(kind.rawValue)", "attempt": "\(delivery.attempt)",
        ]
        if let code = result.statusCode { metadata["status_code"] = "\(code)" }
        if let error = result.error { metadata["error"] = "\(error)" }
        do {
            let stillOurs = try await backgroundCall {
                try await store.record(delivery, notifierID: config.notifierID, result: result, startedAt: startedAt, decision: decision, now: now)
            }
            guard stillOurs else {
                logger.notice("alert attempt ended after its lease ran out; another notifier has it", metadata: metadata)
                return
            }
        } catch {
            // The lease runs out and the next claim records the attempt as lost and sends again,
            // with the same idempotency key.
            metadata["record_error"] = "\(String(reflecting: error))"
            logger.warning("cannot record an alert attempt", metadata: metadata)
            return
        }
        switch decision {
        case .delivered:
            metrics?.alertDelivery(.delivered, kind: kind)
            metrics?.recordAlertDeliveryLatency(seconds: now.timeIntervalSince(delivery.raisedAt))
            logger.info("alert delivered", metadata: metadata)
        case .retry(let at):
            metrics?.alertDelivery(.retried, kind: kind)
            metadata["next_attempt_at"] = "\(Timestamp.format(at))"
            logger.notice("alert not delivered; will try again", metadata: metadata)
        case .failed:
            metrics?.alertDelivery(.failed, kind: kind)
            logger.warning("alert not delivered; giving up", metadata: metadata)
        }
    }

    /// Why a delivery was not even tried, as its attempt's result.
    struct NotSent: Error {
        var result: AlertDeliveryResult
    }

    /// The channel with its secret opened, or why it cannot be sent to.
    private func target(of delivery: AlertDeliveryStore.Claimed) throws(NotSent) -> AlertTarget {
        guard let channel = delivery.channel else {
            throw NotSent(result: .notSent("the channel was deleted after the alert was raised"))
        }
        do {
            return try AlertTarget(channel: channel, sealedSecret: delivery.sealedSecret, secretBox: parts.config.secretBox, process: "scheduler")
        } catch {
            throw NotSent(result: error.result)
        }
    }
}
