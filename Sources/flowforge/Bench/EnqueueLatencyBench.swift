import ArgumentParser
import FlowForgeShared
import Foundation
import PostgresNIO

/// `flowforge bench latency`: single "Run now" runs arriving at a steady rate on an otherwise
/// idle system, and the time each waits before a worker starts it.
///
/// Each run is created by the API's own code path (`ExecutionStore.createManual`: the run, its
/// job and the `flowforge_jobs` notification, in one transaction), on a pace kept against an
/// absolute schedule, so a slow enqueue does not lower the rate. Latency is measured on the
/// database's clock, `started_at − queued_at`; the first second is warm-up and is left out.
struct EnqueueLatencyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latency", abstract: "Enqueue-to-start latency of single runs arriving at a steady rate.")

    @Option(help: "Runs per second.") var rate = 200
    @Option(help: "Seconds to keep enqueuing.") var seconds = 20
    @Option(help: "Slots of the one worker process.") var concurrency = 64

    func validate() throws {
        guard (1...5_000).contains(rate) else { throw ValidationError("--rate must be from 1 to 5000") }
        guard (2...3_600).contains(seconds) else { throw ValidationError("--seconds must be from 2 to 3600") }
        guard (1...1_024).contains(concurrency) else { throw ValidationError("--concurrency must be from 1 to 1024") }
    }

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let (rate, seconds, concurrency) = (rate, seconds, concurrency)
        try await cluster.run { client in
            var workflowId: Int64 = 0
            for try await id in try await client.query(
                """
                INSERT INTO flowforge.workflows (name, steps, overlap_policy)
                VALUES ('bench-latency', '[{"name": "noop", "kind": "noop"}]', 'allow') RETURNING id
                """, logger: cluster.logger
            ).decode(Int64.self) { workflowId = id }
            try cluster.start(
                "flowforge-worker", name: "flowforge-worker",
                environment: ["FLOWFORGE_WORKER_CONCURRENCY": "\(concurrency)", "FLOWFORGE_WORKER_ID": "bench-worker"])
            try await cluster.waitForListeners(1, client: client)
            try await Task.sleep(for: .seconds(1))

            let executions = ExecutionStore(client: client, logger: cluster.logger)
            let total = rate * seconds
            var progress = BenchProgress("enqueued", total: total)
            let clock = ContinuousClock()
            let start = clock.now
            var firstMeasured: Int64 = .max
            for index in 0..<total {
                try await Task.sleep(until: start + .nanoseconds(Int64(index) * 1_000_000_000 / Int64(rate)), clock: clock)
                let execution = try await executions.createManual(workflowId: workflowId)
                if index == rate { firstMeasured = execution.id }  // after one second of warm-up
                progress.update(index + 1)
            }
            progress.finish()
            let achieved = Double(total) / (clock.now - start).seconds
            // Every run must have been started and completed, once.
            let deadline = ContinuousClock.now + .seconds(60)
            while try await scalar("SELECT count(*) FROM flowforge.jobs", client: client, logger: cluster.logger) > 0 {
                guard ContinuousClock.now < deadline else { throw BenchError("runs still queued 60 s after the last was enqueued") }
                try await Task.sleep(for: .milliseconds(100))
            }
            let completed = try await scalar(
                "SELECT count(*) FROM flowforge.executions WHERE status = 'completed' AND attempt = 1", client: client, logger: cluster.logger)
            guard completed == total else { throw BenchError("only \(completed) of \(total) runs completed on their first attempt") }
            for process in cluster.processes.all { process.usage() }
            let latencies = try await cluster.milliseconds(
                "SELECT extract(epoch FROM started_at - queued_at)::float8 * 1000 FROM flowforge.executions WHERE id >= \(firstMeasured)",
                client: client)
            BenchProcess.report(cluster.processes.all)
            print("enqueued \(total) runs at \(BenchFormat.decimal(achieved, 1))/s; measured the \(latencies.count) after the first second")
            print(
                "latency rate=\(rate) runs=\(latencies.count) p50_ms=\(BenchFormat.decimal(BenchFormat.percentile(latencies, 50), 2)) p99_ms=\(BenchFormat.decimal(BenchFormat.percentile(latencies, 99), 2)) max_ms=\(BenchFormat.decimal(latencies.max() ?? 0, 2))"
            )
        }
    }
}
