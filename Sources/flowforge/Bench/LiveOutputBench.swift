import ArgumentParser
import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `flowforge bench live-output`: N shell steps running at once, each printing a line every
/// few milliseconds for S seconds, on one worker; the API runs beside it. It reports the
/// database writes the live output cost, per running step and second (the bar: at most 1), and
/// how long after a line was printed it could be read in `GET /api/executions/:id` (the bar:
/// under 2 s).
///
/// Writes are counted twice: by the worker (`flowforge_live_output_writes_total` and
/// `…_flushes_total` on its /metrics) and by PostgreSQL (`pg_stat_user_tables` inserts and
/// updates of `flowforge.live_output`). Each printed line carries the time it was printed;
/// every run is polled through the API every `--poll-ms`, and a line's delay is the time it
/// was first seen minus the time it was printed (so it includes up to one poll interval).
struct LiveOutputBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live-output", abstract: "Database writes per running step per second, and how far the API's live output lags.")

    @Option(help: "Steps running at once (one run each, one worker with as many slots).") var steps = 20
    @Option(help: "Seconds each step prints for.") var seconds = 10
    @Option(help: "Milliseconds between two lines of a step.") var lineMs = 10
    @Option(help: "Milliseconds between two reads of a run through the API.") var pollMs = 100

    func validate() throws {
        guard (1...1_000).contains(steps) else { throw ValidationError("--steps must be from 1 to 1000") }
        guard (2...3_600).contains(seconds) else { throw ValidationError("--seconds must be from 2 to 3600") }
        guard (1...10_000).contains(lineMs) else { throw ValidationError("--line-ms must be from 1 to 10000") }
        guard (10...10_000).contains(pollMs) else { throw ValidationError("--poll-ms must be from 10 to 10000") }
    }

    /// Prints "<line number> <epoch seconds>" every interval for a while; perl, so that printing
    /// costs no process per line.
    static let printer = #"use Time::HiRes qw(time sleep); $| = 1; my $end = time + $ARGV[0]; my $i = 0; while (time < $end) { printf("%d %.6f\n", $i++, time); sleep($ARGV[1]); }"#

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let (steps, seconds, lineMs, pollMs) = (steps, seconds, lineMs, pollMs)
        try await cluster.run { client in
            let command: JSONValue = ["perl", "-e", .string(Self.printer), .string(String(seconds)), .string(String(Double(lineMs) / 1000))]
            let stepsJSON: JSONValue = [["name": "print", "kind": "shell", "command": command, "timeout_seconds": .int(Int64(seconds + 120))]]
            let stepsText = String(decoding: stepsJSON.encoded(), as: UTF8.self)
            var workflowId: Int64 = 0
            for try await id in try await client.query(
                "INSERT INTO flowforge.workflows (name, steps, overlap_policy) VALUES ('live-output', \(stepsText)::jsonb, 'allow') RETURNING id",
                logger: cluster.logger
            ).decode(Int64.self) { workflowId = id }

            let token = LocalPostgres.randomToken(bytes: 16)
            let apiPort = try LocalPostgres.freePort()
            let metricsPort = try LocalPostgres.freePort()
            try cluster.start(
                "flowforge-api", name: "flowforge-api", environment: ["FLOWFORGE_API_TOKEN": token, "FLOWFORGE_HTTP_PORT": "\(apiPort)"])
            try cluster.start(
                "flowforge-worker", name: "flowforge-worker",
                environment: [
                    "FLOWFORGE_WORKER_CONCURRENCY": "\(steps)", "FLOWFORGE_WORKER_ID": "bench-worker", "FLOWFORGE_METRICS_PORT": "\(metricsPort)",
                ])
            try await cluster.waitForListeners(1, client: client)
            let session = URLSession(configuration: .ephemeral)
            let base = "http://127.0.0.1:\(apiPort)"
            try await BenchAPI(base: base, token: token).waitUntilReady()
            let statBefore = try await Self.tableWrites(client, logger: cluster.logger)
            let metricsBefore = try await Self.workerCounters(session, port: metricsPort)

            _ = try await ExecutionStore(client: client, logger: cluster.logger).createManual(workflowIds: [workflowId], count: steps)
            var ids: [Int64] = []
            for try await id in try await client.query(
                "SELECT id FROM flowforge.executions WHERE workflow_id = \(workflowId) ORDER BY id", logger: cluster.logger
            ).decode(Int64.self) { ids.append(id) }
            guard ids.count == steps else { throw BenchError("\(ids.count) runs were created, expected \(steps)") }

            // Each run is read through the API until it ends; each new line's delay is noted.
            let deadline = ContinuousClock.now + .seconds(seconds + 120)
            print("\(steps) steps print a line every \(lineMs) ms for \(seconds) s; reading each run every \(pollMs) ms")
            let (lineDelays, apiErrors) = await withTaskGroup(of: (delays: [Double], errors: Int).self) { group in
                for id in ids {
                    group.addTask {
                        var request = URLRequest(url: URL(string: "\(base)/api/executions/\(id)")!)
                        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                        var seen = -1
                        var delays: [Double] = []
                        var errors = 0
                        while ContinuousClock.now < deadline {
                            guard let (body, response) = try? await session.data(for: request),
                                (response as? HTTPURLResponse)?.statusCode == 200, let execution = try? JSONValue.parse(body)
                            else {
                                errors += 1
                                try? await Task.sleep(for: .milliseconds(pollMs))
                                continue
                            }
                            let now = Date().timeIntervalSince1970
                            guard execution["status"] == "running" else {
                                if execution["status"] != "queued" { break }
                                try? await Task.sleep(for: .milliseconds(pollMs))
                                continue
                            }
                            if let output = execution["steps"]?.arrayValue?.first?["output"]?.stringValue {
                                for line in output.split(separator: "\n") {
                                    let fields = line.split(separator: " ")
                                    guard fields.count == 2, let number = Int(fields[0]), let printed = Double(fields[1]), number > seen else { continue }
                                    seen = number
                                    delays.append((now - printed) * 1000)
                                }
                            }
                            try? await Task.sleep(for: .milliseconds(pollMs))
                        }
                        return (delays, errors)
                    }
                }
                var all: (delays: [Double], errors: Int) = ([], 0)
                for await one in group {
                    all.delays += one.delays
                    all.errors += one.errors
                }
                return all
            }
            let completed = try await scalar(
                "SELECT count(*) FROM flowforge.executions WHERE workflow_id = \(workflowId) AND status = 'completed'", client: client,
                logger: cluster.logger)
            guard completed == steps else { throw BenchError("\(completed) of \(steps) runs completed") }
            let metricsAfter = try await Self.workerCounters(session, port: metricsPort)
            let liveRowsAfter = try await scalar("SELECT count(*) FROM flowforge.live_output", client: client, logger: cluster.logger)
            // The steps' running time, from their results.
            let stepSeconds = try await cluster.milliseconds(
                """
                SELECT sum(extract(epoch FROM (s->>'finished_at')::timestamptz - (s->>'started_at')::timestamptz))::float8 * 1000
                FROM flowforge.executions, jsonb_array_elements(steps) s WHERE workflow_id = \(workflowId)
                """, client: client
            ).first.map { $0 / 1000 } ?? 0
            let window = try await cluster.milliseconds(
                "SELECT extract(epoch FROM max(finished_at) - min(started_at))::float8 * 1000 FROM flowforge.executions WHERE workflow_id = \(workflowId)",
                client: client
            ).first.map { $0 / 1000 } ?? 0
            // PostgreSQL's table statistics reach pg_stat_user_tables within about ten seconds
            // of a connection going idle.
            try await Task.sleep(for: .seconds(11))
            let statAfter = try await Self.tableWrites(client, logger: cluster.logger)

            for process in cluster.processes.all { process.usage() }
            BenchProcess.report(cluster.processes.all)
            let rows = metricsAfter.rows - metricsBefore.rows
            let flushes = metricsAfter.flushes - metricsBefore.flushes
            let tableWrites = statAfter - statBefore
            print(
                "live-output steps=\(steps) seconds=\(seconds) line_ms=\(lineMs) poll_ms=\(pollMs) step_seconds=\(BenchFormat.decimal(stepSeconds)) rows_written=\(rows) writes_per_step_second=\(BenchFormat.decimal(Double(rows) / max(stepSeconds, 0.001), 3)) table_writes=\(tableWrites) table_writes_per_step_second=\(BenchFormat.decimal(Double(tableWrites) / max(stepSeconds, 0.001), 3)) flushes=\(flushes) flushes_per_second=\(BenchFormat.decimal(Double(flushes) / max(window, 0.001), 2)) lines_seen=\(lineDelays.count) delay_p50_ms=\(BenchFormat.decimal(BenchFormat.percentile(lineDelays, 50))) delay_p99_ms=\(BenchFormat.decimal(BenchFormat.percentile(lineDelays, 99))) delay_max_ms=\(BenchFormat.decimal(lineDelays.max() ?? 0)) api_errors=\(apiErrors) live_rows_after=\(liveRowsAfter)"
            )
        }
    }

    /// Rows inserted and updated in `flowforge.live_output`, as PostgreSQL counts them.
    static func tableWrites(_ client: PostgresClient, logger: Logger) async throws -> Int {
        try await scalar(
            "SELECT coalesce(sum(n_tup_ins + n_tup_upd), 0)::int8 FROM pg_stat_user_tables WHERE schemaname = 'flowforge' AND relname = 'live_output'",
            client: client, logger: logger)
    }

    /// The worker's live-output counters: rows written, statements.
    static func workerCounters(_ session: URLSession, port: Int) async throws -> (rows: Int, flushes: Int) {
        let deadline = ContinuousClock.now + .seconds(30)
        while true {
            if let (body, response) = try? await session.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                var counters = (rows: 0, flushes: 0)
                for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
                    let parts = line.split(separator: " ")
                    guard parts.count == 2, let value = Double(parts[1]) else { continue }
                    if parts[0] == "flowforge_live_output_writes_total" { counters.rows = Int(value) }
                    if parts[0] == "flowforge_live_output_flushes_total" { counters.flushes = Int(value) }
                }
                return counters
            }
            guard ContinuousClock.now < deadline else { throw BenchError("the worker's /metrics on port \(port) did not answer within 30 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
