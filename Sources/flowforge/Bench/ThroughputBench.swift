import ArgumentParser
import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

/// `flowforge bench throughput`: how fast worker processes drain a queue of no-op runs.
///
/// The runs are enqueued first (one workflow, `overlap_policy` allow, one noop step), then W
/// `flowforge-worker` processes start with C slots each. The drain time is measured on the
/// database's own clock, from the first run's start to the last run's finish, so process
/// start-up is not counted; every run must end `completed` on its first attempt.
struct ThroughputBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput", abstract: "Drain N no-op runs with W worker processes of C slots each.")

    @Option(help: "Runs to enqueue.") var jobs = 20_000
    @Option(help: "Worker processes.") var workers = 1
    @Option(help: "Slots per worker (FLOWFORGE_WORKER_CONCURRENCY).") var concurrency = 64
    @Option(help: "Give up after this many seconds.") var timeout = 600

    func validate() throws {
        guard jobs >= 1, jobs <= 10_000_000 else { throw ValidationError("--jobs must be from 1 to 10000000") }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be from 1 to 64") }
        guard (1...1_024).contains(concurrency) else { throw ValidationError("--concurrency must be from 1 to 1024") }
    }

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let (jobs, workers, concurrency) = (jobs, workers, concurrency)
        try await cluster.run { client in
            try await enqueue(client: client, logger: cluster.logger)
            for index in 1...workers {
                try cluster.start(
                    "flowforge-worker", name: "flowforge-worker-\(index)",
                    environment: ["FLOWFORGE_WORKER_CONCURRENCY": "\(concurrency)", "FLOWFORGE_WORKER_ID": "bench-worker-\(index)"])
            }
            try await waitForDrain(client: client, processes: cluster.processes.all, logger: cluster.logger)
            for process in cluster.processes.all { process.usage() }
            let seconds = try await verify(client: client, logger: cluster.logger)
            await cluster.processes.stopAll()
            BenchProcess.report(cluster.processes.all)
            print(
                "throughput jobs=\(jobs) workers=\(workers) concurrency=\(concurrency) seconds=\(BenchFormat.decimal(seconds, 3)) jobs_per_s=\(Int((Double(jobs) / seconds).rounded()))"
            )
        }
    }

    private func enqueue(client: PostgresClient, logger: Logger) async throws {
        let workflowId = try await client.withOpenTransaction(logger: logger) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO flowforge.workflows (name, steps, overlap_policy, max_concurrent_runs)
                VALUES ('bench-noop', '[{"name": "noop", "kind": "noop", "sleep_ms": 0}]', 'allow', 1000000)
                RETURNING id
                """, logger: logger)
            var workflowId: Int64 = 0
            for try await id in rows.decode(Int64.self) { workflowId = id }
            return workflowId
        }
        _ = try await ExecutionStore(client: client, logger: logger).createManual(workflowIds: [workflowId], count: jobs)
        try await client.query("ANALYZE flowforge.jobs", logger: logger)
        try await client.query("ANALYZE flowforge.executions", logger: logger)
    }

    private func waitForDrain(client: PostgresClient, processes: [BenchProcess], logger: Logger) async throws {
        var progress = BenchProgress("draining", total: jobs)
        let deadline = ContinuousClock.now + .seconds(timeout)
        // The check for the end reads one index entry. Counting what is left scans the whole
        // queue, which competes with the workers for the database, so it runs only as often
        // as the progress display wants a new figure.
        var remaining = jobs
        while true {
            if try await scalar("SELECT count(*) FROM (SELECT 1 FROM flowforge.jobs ORDER BY execution_id LIMIT 1) AS head", client: client, logger: logger) == 0 {
                remaining = 0
            } else if progress.wantsFigure {
                remaining = try await scalar("SELECT count(*) FROM flowforge.jobs", client: client, logger: logger)
            }
            progress.update(jobs - remaining)
            if remaining == 0 { break }
            if let dead = processes.first(where: { !$0.isRunning }) {
                throw BenchError("\(dead.name) exited early; see \(dead.logPath)")
            }
            guard ContinuousClock.now < deadline else { throw BenchError("\(remaining) runs still queued after \(timeout) s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        progress.finish()
    }

    /// Every run completed exactly once, on its first attempt; returns the drain time in seconds.
    private func verify(client: PostgresClient, logger: Logger) async throws -> Double {
        let rows = try await client.query(
            """
            SELECT count(*) FILTER (WHERE status = 'completed' AND attempt = 1),
                   extract(epoch FROM max(finished_at) - min(started_at))::float8
            FROM flowforge.executions
            """, logger: logger)
        for try await (completed, seconds) in rows.decode((Int64, Double).self) {
            guard completed == jobs else { throw BenchError("only \(completed) of \(jobs) runs completed on their first attempt") }
            return seconds
        }
        throw BenchError("no executions found")
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func scalar(_ sql: String, client: PostgresClient, logger: Logger) async throws -> Int {
    let rows = try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    for try await value in rows.decode(Int64.self) { return Int(value) }
    return 0
}

func benchLogger() -> Logger {
    var logger = Logger(label: "flowforge-bench")
    logger.logLevel = .warning
    return logger
}

func benchBuildNote() {
    #if DEBUG
    print("note: this is a debug build; build with `swift build -c release` for real figures")
    #endif
}
