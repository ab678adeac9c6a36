import ArgumentParser
import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What the latency benchmarks share: a database, FlowForge processes started as children,
/// and a wait until they listen.
struct BenchCluster {
    let database: BenchDatabase
    let processes = BenchProcesses()
    /// Set once by a SIGINT or SIGTERM: the signal handler then owns the clean-up.
    let interrupted = AtomicFlag()
    let logs: URL
    let logger = benchLogger()

    static func open() async throws -> BenchCluster {
        let logs = FileManager.default.temporaryDirectory.appendingPathComponent("flowforge-bench-logs-\(getpid())")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        return BenchCluster(database: try await BenchDatabase.open(logger: benchLogger()), logs: logs)
    }

    func start(_ program: String, name: String, environment: [String: String] = [:]) throws {
        var env = environment
        env["DATABASE_URL"] = database.url.urlString
        env["FLOWFORGE_LOG_LEVEL"] = env["FLOWFORGE_LOG_LEVEL"] ?? "notice"
        processes.add(try BenchProcess(program, name: name, environment: env, logDirectory: logs))
    }

    /// Two schedulers and `workers` workers of `concurrency` slots each.
    func startSchedulersAndWorkers(workers: Int, concurrency: Int) throws {
        try start("flowforge-scheduler", name: "flowforge-scheduler-1")
        try start("flowforge-scheduler", name: "flowforge-scheduler-2")
        for index in 1...workers {
            try start(
                "flowforge-worker", name: "flowforge-worker-\(index)",
                environment: ["FLOWFORGE_WORKER_CONCURRENCY": "\(concurrency)", "FLOWFORGE_WORKER_ID": "bench-worker-\(index)"])
        }
    }

    /// Waits until `count` connections of the benchmark's database sit in LISTEN.
    func waitForListeners(_ count: Int, client: PostgresClient) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while try await scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN %'", client: client,
            logger: logger) < count
        {
            if let dead = processes.all.first(where: { !$0.isRunning }) { throw BenchError("\(dead.name) exited early; see \(dead.logPath)") }
            guard ContinuousClock.now < deadline else { throw BenchError("the FlowForge processes did not start listening within 30 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs `body` with a client, then stops every process and removes the database, whatever
    /// happens; Ctrl-C and SIGTERM included.
    func run(_ body: @Sendable (PostgresClient) async throws -> Void) async throws {
        let signals = stopOnSignals()
        defer {
            for source in signals { source.cancel() }
            signal(SIGINT, SIG_DFL)
            signal(SIGTERM, SIG_DFL)
        }
        do {
            try await PostgresClient.withClient(database.url.clientConfiguration(maximumConnections: 2), logger: logger) { client in
                try await body(client)
            }
        } catch {
            // Interrupted: the signal handler cleans up and exits; do not race it.
            while interrupted.isSet { try? await Task.sleep(for: .seconds(1)) }
            await processes.stopAll(grace: .seconds(5))
            await database.close(logger: logger)
            print("bench failed: \(error); process logs are in \(logs.path)")
            throw ExitCode.failure
        }
        while interrupted.isSet { try? await Task.sleep(for: .seconds(1)) }
        await processes.stopAll()
        await database.close(logger: logger)
        try? FileManager.default.removeItem(at: logs)
    }

    /// On Ctrl-C or SIGTERM: stop the child processes (SIGTERM, SIGKILL after 3 s) and a
    /// private PostgreSQL, then exit, so an interrupted benchmark leaves nothing running.
    private func stopOnSignals() -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [processes, database, interrupted, logs] in
                guard interrupted.set() else { return }
                print("\ninterrupted: stopping the FlowForge processes\(database.cluster == nil ? "" : " and the private PostgreSQL")")
                let running = processes.all.filter(\.isRunning)
                for process in running { kill(process.pid, SIGTERM) }
                let deadline = ContinuousClock.now + .seconds(3)
                while running.contains(where: \.isRunning), ContinuousClock.now < deadline { usleep(50_000) }
                for process in running where process.isRunning { kill(process.pid, SIGKILL) }
                if let cluster = database.cluster {
                    try? cluster.stop()
                    try? FileManager.default.removeItem(at: cluster.directory)
                } else {
                    print("the benchmark's database \(database.url.database) stays on the server; drop it with DROP DATABASE")
                }
                try? FileManager.default.removeItem(at: logs)
                exit(128 + number)
            }
            source.resume()
            return source
        }
    }

    /// `count` workflows named scheduled-N (overlap allowed), each with one step list `steps` (JSON)
    /// and one UTC trigger on `cron` whose next run is `firstAt`; the scheduler is told, and the
    /// tables analyzed as autovacuum would within a minute.
    func seedEveryMinuteTriggers(_ count: Int, cron: String, firstAt first: Date, steps: String, client: PostgresClient) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO flowforge.workflows (name, steps, overlap_policy)
                SELECT 'scheduled-' || n, \(steps)::jsonb, 'allow' FROM generate_series(1, \(count)) n
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO flowforge.workflow_triggers (workflow_id, trigger_type, trigger_name, cron_expression, timezone, next_run_at)
                SELECT id, 'scheduled', 'bench', \(cron), 'UTC', \(first) FROM flowforge.workflows
                """, logger: logger)
            try await connection.query("NOTIFY \(unescaped: NotificationChannel.triggersChanged.rawValue)", logger: logger)
        }
        try await client.query("ANALYZE flowforge.workflows", logger: logger)
        try await client.query("ANALYZE flowforge.workflow_triggers", logger: logger)
    }

    /// Milliseconds from a query returning one float8 per row.
    func milliseconds(_ sql: String, client: PostgresClient) async throws -> [Double] {
        var values: [Double] = []
        for try await value in try await client.query(PostgresQuery(unsafeSQL: sql), logger: logger).decode(Double.self) {
            values.append(value)
        }
        return values
    }
}

/// `flowforge bench cascade`: K chains of L workflows linked by on_success dependency triggers
/// with no delay; every chain head is started at once. Latency is measured on the database's
/// clock from an upstream run's finish to its downstream run's start.
struct CascadeBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cascade", abstract: "Latency from an upstream run's finish to its downstream run's start.")

    @Option(help: "Independent chains.") var chains = 20
    @Option(help: "Workflows per chain.") var depth = 10
    /// Enough for every chain's run to start at once by default, so that the latency measured is
    /// the cascade's, not a wait for a free slot (with fewer slots than chains, a downstream run
    /// also queues behind the others of its hop).
    @Option(help: "Slots of the one worker process (default: one per chain, up to 128).") var concurrency: Int?
    @Option(help: "Give up after this many seconds.") var timeout = 300

    func validate() throws {
        guard (1...10_000).contains(chains) else { throw ValidationError("--chains must be from 1 to 10000") }
        guard (2...1_000).contains(depth) else { throw ValidationError("--depth must be from 2 to 1000") }
        if let concurrency, !(1...4_096).contains(concurrency) { throw ValidationError("--concurrency must be from 1 to 4096") }
    }

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let total = chains * depth
        let (chains, depth, concurrency, timeout) = (chains, depth, concurrency ?? min(chains, 128), timeout)
        try await cluster.run { client in
            try await client.withTransaction(logger: cluster.logger) { connection in
                try await connection.query(
                    """
                    INSERT INTO flowforge.workflows (name, steps, overlap_policy)
                    SELECT 'chain-' || c || '-' || d, '[{"name": "noop", "kind": "noop"}]', 'allow'
                    FROM generate_series(1, \(chains)) c, generate_series(1, \(depth)) d
                    """, logger: cluster.logger)
                try await connection.query(
                    """
                    WITH t AS (
                        INSERT INTO flowforge.workflow_triggers
                            (workflow_id, trigger_type, trigger_name, depends_on_workflow_id, dependency_condition)
                        SELECT down.id, 'dependency', 'After ' || up.name || ' succeeds', up.id, 'on_success'
                        FROM flowforge.workflows up
                        JOIN flowforge.workflows down
                          ON split_part(down.name, '-', 2) = split_part(up.name, '-', 2)
                         AND split_part(down.name, '-', 3)::int = split_part(up.name, '-', 3)::int + 1
                        RETURNING id, depends_on_workflow_id
                    )
                    INSERT INTO flowforge.trigger_upstreams (trigger_id, position, upstream_workflow_id)
                    SELECT id, 0, depends_on_workflow_id FROM t
                    """, logger: cluster.logger)
            }
            try cluster.start("flowforge-scheduler", name: "flowforge-scheduler-1")
            try cluster.start(
                "flowforge-worker", name: "flowforge-worker-1",
                environment: ["FLOWFORGE_WORKER_CONCURRENCY": "\(concurrency)", "FLOWFORGE_WORKER_ID": "bench-worker-1"])
            try await cluster.waitForListeners(3, client: client)
            var heads: [Int64] = []
            for try await id in try await client.query(
                "SELECT id FROM flowforge.workflows WHERE name LIKE 'chain-%-1'", logger: cluster.logger
            ).decode(Int64.self) { heads.append(id) }
            _ = try await ExecutionStore(client: client, logger: cluster.logger).createManual(workflowIds: heads, count: 1)

            var progress = BenchProgress("cascading", total: total)
            let deadline = ContinuousClock.now + .seconds(timeout)
            while true {
                let done = try await scalar(
                    "SELECT count(*) FROM flowforge.executions WHERE status = 'completed'", client: client, logger: cluster.logger)
                progress.update(done)
                if done >= total { break }
                guard ContinuousClock.now < deadline else { throw BenchError("only \(done) of \(total) runs completed after \(timeout) s") }
                try await Task.sleep(for: .milliseconds(100))
            }
            progress.finish()
            for process in cluster.processes.all { process.usage() }
            let latencies = try await cluster.milliseconds(
                """
                SELECT extract(epoch FROM d.started_at - u.finished_at)::float8 * 1000
                FROM flowforge.executions d JOIN flowforge.executions u ON u.id = d.upstream_execution_id
                WHERE d.trigger_type = 'dependency'
                """, client: client)
            let hops = chains * (depth - 1)
            guard latencies.count == hops else { throw BenchError("\(latencies.count) dependency runs, expected \(hops)") }
            let runs = try await scalar("SELECT count(*) FROM flowforge.executions", client: client, logger: cluster.logger)
            guard runs == total else { throw BenchError("\(runs) runs exist, expected exactly \(total)") }
            BenchProcess.report(cluster.processes.all)
            print(
                "cascade chains=\(chains) depth=\(depth) hops=\(hops) latency_p50_ms=\(BenchFormat.decimal(BenchFormat.percentile(latencies, 50))) latency_p99_ms=\(BenchFormat.decimal(BenchFormat.percentile(latencies, 99)))"
            )
        }
    }
}

/// `flowforge bench schedules`: T workflows with one every-minute trigger each, two scheduler
/// processes, and workers; it watches M whole minutes and counts what fired, what was missed
/// and what fired twice. Lag is a run's start minus its `scheduled_for`.
struct SchedulesBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules", abstract: "T every-minute triggers over M whole minutes: missed, duplicated, lag.")

    enum StepKind: String, ExpressibleByArgument { case noop, shell }

    @Option(help: "Scheduled triggers, one workflow each.") var triggers = 50
    @Option(help: "The triggers' cron expression.") var cron = "* * * * *"
    @Option(help: "Whole minutes to watch.") var minutes = 3
    @Option(help: "The one step of each workflow: noop, or shell running `true` as a real child process.") var step = StepKind.noop
    @Option(help: "Worker processes.") var workers = 2
    @Option(help: "Slots per worker (a minute of 10,000 runs is started in about half a second by 2 × 256).") var concurrency = 256

    func validate() throws {
        guard (1...100_000).contains(triggers) else { throw ValidationError("--triggers must be from 1 to 100000") }
        guard (1...120).contains(minutes) else { throw ValidationError("--minutes must be from 1 to 120") }
        guard (try? CronExpression(cron)) != nil else { throw ValidationError("--cron is not a valid cron expression") }
    }

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let (triggers, cron, minutes, step, workers, concurrency) = (triggers, cron, minutes, step, workers, concurrency)
        let schedule = CronSchedule(expression: try CronExpression(cron), timeZone: try CronTimeZone.named("UTC"))
        try await cluster.run { client in
            try cluster.startSchedulersAndWorkers(workers: workers, concurrency: concurrency)
            try await cluster.waitForListeners(4 + workers, client: client)

            // The window: the first fire time at least 10 s away (so the triggers are in place
            // before it), and the next minutes - 1 after it.
            var fireTimes: [Date] = []
            var cursor = Date().addingTimeInterval(10)
            while fireTimes.count < minutes, let next = schedule.next(after: cursor)?.instant {
                fireTimes.append(next)
                cursor = next
            }
            let first = fireTimes[0]
            let last = fireTimes[fireTimes.count - 1]
            let stepJSON = step == .noop ? #"[{"name": "noop", "kind": "noop"}]"# : #"[{"name": "true", "kind": "shell", "command": ["true"]}]"#
            try await cluster.seedEveryMinuteTriggers(triggers, cron: cron, firstAt: first, steps: stepJSON, client: client)
            let expected = triggers * fireTimes.count
            print("watching \(fireTimes.count) fire times from \(Timestamp.format(first)) to \(Timestamp.format(last))")
            var progress = BenchProgress("started", total: expected)
            // Until every run of the window has started, or 60 s past its last minute.
            while Date() < last.addingTimeInterval(60) {
                let started = try await scalar(
                    """
                    SELECT count(*) FROM flowforge.executions
                    WHERE started_at IS NOT NULL AND scheduled_for BETWEEN '\(Timestamp.format(first))' AND '\(Timestamp.format(last))'
                    """, client: client, logger: cluster.logger)
                progress.update(started)
                if started >= expected, Date() > last { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            progress.finish()
            for process in cluster.processes.all { process.usage() }
            let window = "scheduled_for BETWEEN '\(Timestamp.format(first))' AND '\(Timestamp.format(last))'"
            let created = try await scalar(
                "SELECT count(*) FROM flowforge.executions WHERE trigger_type = 'scheduled' AND \(window)", client: client, logger: cluster.logger)
            let distinct = try await scalar(
                "SELECT count(DISTINCT (trigger_id, scheduled_for)) FROM flowforge.executions WHERE trigger_type = 'scheduled' AND \(window)",
                client: client, logger: cluster.logger)
            let lags = try await cluster.milliseconds(
                """
                SELECT extract(epoch FROM started_at - scheduled_for)::float8 * 1000 FROM flowforge.executions
                WHERE trigger_type = 'scheduled' AND started_at IS NOT NULL AND \(window)
                """, client: client)
            // How far ahead of its minute each run was created (negative: after it).
            let ahead = try await cluster.milliseconds(
                "SELECT extract(epoch FROM scheduled_for - queued_at)::float8 * 1000 FROM flowforge.executions WHERE trigger_type = 'scheduled' AND \(window)",
                client: client)
            print(
                "runs created ahead of their minute: min \(BenchFormat.decimal(ahead.min() ?? 0)) ms, p50 \(BenchFormat.decimal(BenchFormat.percentile(ahead, 50))) ms, max \(BenchFormat.decimal(ahead.max() ?? 0)) ms"
            )
            BenchProcess.report(cluster.processes.all)
            print(
                "schedules triggers=\(triggers) minutes=\(fireTimes.count) expected=\(expected) fired=\(distinct) missed=\(expected - distinct) duplicates=\(created - distinct) lag_p50_ms=\(BenchFormat.decimal(BenchFormat.percentile(lags, 50))) lag_p99_ms=\(BenchFormat.decimal(BenchFormat.percentile(lags, 99))) lag_max_ms=\(BenchFormat.decimal(lags.max() ?? 0))"
            )
        }
    }
}
