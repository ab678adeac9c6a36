import Foundation
import Logging
import PostgresNIO
import Prometheus

/// The metrics one FlowForge process exports in Prometheus text format on `/metrics`.
///
/// Each process counts what it does itself: the API its manual runs and cancels, the scheduler
/// the scheduled and dependency runs it creates and the runs it fails after a lost worker, the
/// worker the runs it finishes, its slots and the two latencies it observes when it starts a
/// run. The queue depth is read from the database when `/metrics` is scraped, so every process
/// reports the same, current figure.
public final class FlowForgeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private static let triggerTypes = ExecutionTriggerType.allCases.map(\.rawValue)
    private static let finalStatuses = ["completed", "failed", "cancelled", "skipped"]
    /// From 1 ms to 1 min: the targets are tens of milliseconds, the misfire threshold is 60 s.
    private static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5),
        .seconds(10), .seconds(30), .seconds(60),
    ]

    private let scheduleLag: DurationHistogram
    private let cascadeLatency: DurationHistogram
    private let slots: Gauge
    private let busySlots: Gauge
    private let liveOutputRows: Counter
    private let liveOutputStatements: Counter
    private let alertDeliveryLatency: DurationHistogram

    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        scheduleLag = registry.makeDurationHistogram(
            descriptor: Self.name(
                "schedule_lag", "seconds", "From a scheduled run's minute (scheduled_for) to the moment a worker started it."),
            buckets: Self.latencyBuckets)
        cascadeLatency = registry.makeDurationHistogram(
            descriptor: Self.name(
                "cascade_latency", "seconds",
                "From the moment a dependency run was due (upstream finished, plus the trigger's delay) to its start."),
            buckets: Self.latencyBuckets)
        slots = registry.makeGauge(descriptor: Self.name("worker_slots", "", "Concurrent run slots of this worker."))
        busySlots = registry.makeGauge(descriptor: Self.name("worker_busy_slots", "", "Slots of this worker running a run now."))
        liveOutputRows = registry.makeCounter(
            descriptor: Self.name("live_output_writes", "total", "Rows of running steps' live output this worker wrote (one per step whose output changed, at most one per step a second)."))
        liveOutputStatements = registry.makeCounter(
            descriptor: Self.name("live_output_flushes", "total", "Statements that wrote running steps' live output (one per flush, for all of this worker's steps)."))
        alertDeliveryLatency = registry.makeDurationHistogram(
            descriptor: Self.name(
                "alert_delivery_latency", "seconds", "From an alert being raised (with the run's final status) to its delivery, as this notifier saw it."),
            buckets: Self.latencyBuckets)
        // Every series exists from the start, at zero, so rates and alerts work before the first event.
        for kind in AlertChannelKind.allCases {
            for outcome in AlertOutcome.allCases { _ = alerts(outcome, kind) }
        }
        for type in Self.triggerTypes {
            _ = created(type)
            for status in Self.finalStatuses { _ = finished(status, type) }
        }
        for state in ["due", "delayed", "leased"] { _ = queue(state) }
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "flowforge", metricName: metric, unitName: unit, helpText: help)
    }

    private func created(_ triggerType: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.name("runs_created", "total", "Runs this process created, by what started them."),
            labels: [("trigger_type", triggerType)])
    }

    private func finished(_ status: String, _ triggerType: String) -> Counter {
        registry.makeCounter(
            descriptor: Self.name("runs_finished", "total", "Runs this process brought to a final status."),
            labels: [("status", status), ("trigger_type", triggerType)])
    }

    private func queue(_ state: String) -> Gauge {
        registry.makeGauge(
            descriptor: Self.name(
                "queue_depth", "",
                "Jobs in the queue when this page was read: due and waiting for a worker, delayed (retry backoff or dependency delay), leased by a worker."),
            labels: [("state", state)])
    }

    public func runsCreated(_ count: Int, triggerType: ExecutionTriggerType) {
        guard count > 0 else { return }
        created(triggerType.rawValue).increment(by: Int64(count))
    }

    public func runsFinished(_ count: Int = 1, status: ExecutionStatus, triggerType: ExecutionTriggerType) {
        guard count > 0 else { return }
        finished(status.rawValue, triggerType.rawValue).increment(by: Int64(count))
    }

    /// What happened to alert deliveries, by channel kind. `created` is counted by the notifier
    /// that first takes a delivery (alerts are raised inside SQL statements of every process).
    public enum AlertOutcome: String, CaseIterable, Sendable {
        case created, delivered, failed, retried
    }

    private func alerts(_ outcome: AlertOutcome, _ kind: AlertChannelKind) -> Counter {
        registry.makeCounter(
            descriptor: Self.name(
                "alert_deliveries", "total",
                "Alert deliveries by channel kind: created (first taken by this notifier), delivered, failed for good, retried (an attempt failed and another is due)."),
            labels: [("channel_kind", kind.rawValue), ("outcome", outcome.rawValue)])
    }

    public func alertDelivery(_ outcome: AlertOutcome, kind: AlertChannelKind) {
        alerts(outcome, kind).increment()
    }

    public func recordAlertDeliveryLatency(seconds: Double) {
        alertDeliveryLatency.record(Duration.milliseconds(max(0, Int64((seconds * 1000).rounded()))))
    }

    public func recordScheduleLag(seconds: Double) {
        scheduleLag.record(Duration.milliseconds(max(0, Int64((seconds * 1000).rounded()))))
    }

    public func recordCascadeLatency(seconds: Double) {
        cascadeLatency.record(Duration.milliseconds(max(0, Int64((seconds * 1000).rounded()))))
    }

    /// One live-output flush wrote `rows` rows.
    public func liveOutputWritten(rows: Int) {
        liveOutputStatements.increment()
        liveOutputRows.increment(by: Int64(rows))
    }

    public func setSlots(total: Int, busy: Int) {
        slots.set(Double(total))
        busySlots.set(Double(busy))
    }

    /// Reads the queue's depth from the database. A failure leaves the last figures in place:
    /// `/metrics` still answers, and the scrape shows the rest.
    public func refreshQueueDepth(client: PostgresClient, logger: Logger) async {
        do {
            let depth = try await ExecutionStore(client: client, logger: logger).queueDepth()
            queue("due").set(Double(depth.due))
            queue("delayed").set(Double(depth.delayed))
            queue("leased").set(Double(depth.leased))
        } catch {
            logger.debug("cannot read the queue depth for /metrics", metadata: ["error": "\(error)"])
        }
    }

    /// The exposition text.
    public func render() -> String {
        registry.emitToString()
    }
}
