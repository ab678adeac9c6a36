import ArgumentParser
import FlowForgeShared
import Foundation
import HTTPTypes
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// `flowforge bench alerts`: N failing runs spread over a minute, run by real worker
/// processes; two scheduler processes' notifiers deliver their alerts to a webhook receiver in
/// this process. It reports the time from each run's failure (its `finished_at`, written with
/// the alert) to the receiver accepting the message, and counts the alerts lost (a failed run
/// whose message never came) and duplicated (a message whose idempotency key was already
/// accepted). The bar: p99 ≤ 1 s, nothing lost, nothing duplicated.
struct AlertsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts", abstract: "Failure-to-delivery latency of alerts, and none lost or duplicated.")

    @Option(help: "Failing runs, spread evenly over --seconds.") var failures = 1_000
    @Option(help: "Seconds the failures are spread over.") var seconds = 60
    @Option(help: "Worker processes (8 slots each).") var workers = 2

    func validate() throws {
        guard (1...100_000).contains(failures) else { throw ValidationError("--failures must be from 1 to 100000") }
        guard (1...3_600).contains(seconds) else { throw ValidationError("--seconds must be from 1 to 3600") }
        guard (1...16).contains(workers) else { throw ValidationError("--workers must be from 1 to 16") }
    }

    /// What the receiver saw of one alert.
    struct Arrival: Sendable {
        var executionId: Int64
        var at: Date
        var isRepeat: Bool
    }

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let (failures, seconds, workers) = (failures, seconds, workers)
        let arrivals = Mutex<[Arrival]>([])
        let secret = "whsec_" + LocalPostgres.randomToken(bytes: 16)
        let keyText = SecretBox.newKeyText()
        let box = try SecretBox(keyText: keyText)
        let receiverPort = try LocalPostgres.freePort()
        let receiver = AlertReceiver(port: receiverPort, secret: secret, logger: cluster.logger) { request in
            let id = request.json?["execution"]?["id"]?.intValue ?? -1
            arrivals.withLock { $0.append(Arrival(executionId: id, at: request.receivedAt, isRepeat: request.isRepeat)) }
            return .ok
        }
        let receiverGroup = ServiceGroup(configuration: .init(services: [receiver.service()], logger: cluster.logger))
        let receiverTask = Task { try await receiverGroup.run() }
        defer { receiverTask.cancel() }

        try await cluster.run { client in
            let logger = cluster.logger
            let steps = #"[{"name":"fail","kind":"shell","command":["sh","-c","echo 'bench failure' >&2; exit 1"]}]"#
            var workflowId: Int64 = 0
            for try await id in try await client.query(
                "INSERT INTO flowforge.workflows (name, steps, overlap_policy) VALUES ('always-fails', \(steps)::jsonb, 'allow') RETURNING id",
                logger: logger
            ).decode(Int64.self) { workflowId = id }
            let settings = #"{"url":"http://127.0.0.1:\#(receiverPort)/alerts"}"#
            try await client.query(
                """
                WITH channel AS (
                    INSERT INTO flowforge.alert_channels (name, kind, settings, sealed_secret)
                    VALUES ('bench receiver', 'webhook', \(settings)::jsonb, \(ByteBuffer(bytes: box.seal(secret)))) RETURNING id
                ), rule AS (
                    INSERT INTO flowforge.alert_rules (name, all_workflows, on_failed) VALUES ('every failure', true, true) RETURNING id
                )
                INSERT INTO flowforge.alert_rule_channels SELECT rule.id, channel.id FROM rule, channel
                """, logger: logger)

            for index in 1...2 {
                try cluster.start(
                    "flowforge-scheduler", name: "flowforge-scheduler-\(index)",
                    environment: ["FLOWFORGE_SECRET_KEY": keyText, "FLOWFORGE_WORKER_ID": "bench-notifier-\(index)"])
            }
            for index in 1...workers {
                try cluster.start(
                    "flowforge-worker", name: "flowforge-worker-\(index)",
                    environment: ["FLOWFORGE_WORKER_CONCURRENCY": "8", "FLOWFORGE_WORKER_ID": "bench-worker-\(index)"])
            }
            // Each scheduler listens on 3 channels and more; each worker on 2.
            try await cluster.waitForListeners(2 + workers, client: client)

            // The runs come due evenly over the window, as failures in production would.
            let spacing = Double(seconds) / Double(failures)
            try await client.query(
                """
                WITH runs AS (
                    INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name)
                    SELECT \(workflowId), 'always-fails', 'manual', 'bench' FROM generate_series(1, \(failures))
                    RETURNING id
                )
                INSERT INTO flowforge.jobs (execution_id, workflow_id, limited, run_at)
                SELECT id, \(workflowId), false, now() + make_interval(secs => 2 + (row_number() OVER (ORDER BY id) - 1) * \(spacing))
                FROM runs
                """, logger: logger)
            print("\(failures) failing runs over \(seconds) s, \(workers) worker(s), 2 notifiers, one webhook receiver")

            let deadline = ContinuousClock.now + .seconds(seconds + 120)
            var progress = BenchProgress("alerts received", total: failures)
            while ContinuousClock.now < deadline {
                let accepted = arrivals.withLock { $0.filter { !$0.isRepeat }.count }
                progress.update(accepted)
                if accepted >= failures { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            progress.finish()
            try await Task.sleep(for: .seconds(2))  // any repeat would come now

            var failedAt: [Int64: Date] = [:]
            for try await (id, finished) in try await client.query(
                "SELECT id, finished_at FROM flowforge.executions WHERE workflow_id = \(workflowId) AND status = 'failed'", logger: logger
            ).decode((Int64, Date).self) { failedAt[id] = finished }
            let seen = arrivals.withLock { $0 }
            let firsts = Dictionary(seen.filter { !$0.isRepeat }.map { ($0.executionId, $0.at) }) { first, _ in first }
            let duplicated = seen.filter(\.isRepeat).count + (seen.filter { !$0.isRepeat }.count - firsts.count)
            let lost = failedAt.keys.filter { firsts[$0] == nil }.count
            let latencies = firsts.compactMap { id, at in failedAt[id].map { at.timeIntervalSince($0) * 1000 } }.sorted()
            let attempts = try await scalar("SELECT count(*) FROM flowforge.alert_attempts", client: client, logger: logger)
            let delivered = try await scalar(
                "SELECT count(*) FROM flowforge.alert_deliveries WHERE status = 'delivered'", client: client, logger: logger)

            for process in cluster.processes.all { process.usage() }
            BenchProcess.report(cluster.processes.all)
            print("")
            print("runs failed:            \(failedAt.count) of \(failures)")
            print("alerts delivered:       \(delivered) (attempts: \(attempts))")
            print("lost:                   \(lost)")
            print("duplicated:             \(duplicated)")
            if !latencies.isEmpty {
                let p50 = BenchFormat.decimal(BenchFormat.percentile(latencies, 50))
                let p99 = BenchFormat.decimal(BenchFormat.percentile(latencies, 99))
                let worst = BenchFormat.decimal(latencies.last ?? 0)
                print("failure → delivery:     p50 \(p50) ms, p99 \(p99) ms, max \(worst) ms")
            }
            guard failedAt.count == failures else { throw BenchError("\(failedAt.count) of \(failures) runs failed as planned") }
            guard lost == 0, duplicated == 0 else { throw BenchError("\(lost) alerts lost, \(duplicated) duplicated") }
        }
    }
}
