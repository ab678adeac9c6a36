import ArgumentParser
import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `flowforge bench backfill`: a backfill of R runs asked of the API a second before a
/// minute in which T other workflows run on schedule, with two schedulers and two workers.
/// It reports how long the API took to create the backfill, how long the workers took to drain
/// it, and the lag of the other workflows' scheduled runs meanwhile (start minus `scheduled_for`),
/// which the backfill must not push past the 250 ms bar.
struct BackfillBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill", abstract: "Create R backfill runs through the API, drain them, and the lag of other schedules meanwhile.")

    enum StepKind: String, ExpressibleByArgument { case noop, shell }

    @Option(help: "Runs the backfill creates (an every-minute schedule over as many minutes).") var runs = 10_000
    @Option(help: "Other workflows with an every-minute schedule, running while the backfill drains.") var triggers = 100
    @Option(help: "Whole minutes of the other schedules to watch.") var minutes = 2
    @Option(help: "Each workflow's one step: noop, or shell running `true` as a real child process.") var step = StepKind.shell
    @Option(help: "Worker processes.") var workers = 2
    @Option(help: "Slots per worker.") var concurrency = 64

    func validate() throws {
        guard (1...Limits.maxBackfillRuns).contains(runs) else { throw ValidationError("--runs must be from 1 to \(Limits.maxBackfillRuns)") }
        guard (1...10_000).contains(triggers) else { throw ValidationError("--triggers must be from 1 to 10000") }
        guard (1...30).contains(minutes) else { throw ValidationError("--minutes must be from 1 to 30") }
        guard (1...1024).contains(concurrency) else { throw ValidationError("--concurrency must be from 1 to 1024") }
    }

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let (runs, triggers, minutes, step, workers, concurrency) = (runs, triggers, minutes, step, workers, concurrency)
        try await cluster.run { client in
            let token = LocalPostgres.randomToken(bytes: 16)
            let port = try LocalPostgres.freePort()
            try cluster.start("flowforge-api", name: "flowforge-api", environment: ["FLOWFORGE_API_TOKEN": token, "FLOWFORGE_HTTP_PORT": "\(port)"])
            try cluster.startSchedulersAndWorkers(workers: workers, concurrency: concurrency)
            try await cluster.waitForListeners(4 + workers, client: client)
            let api = BenchAPI(base: "http://127.0.0.1:\(port)", token: token)
            try await api.waitUntilReady()

            // The other workflows' window: the first whole minute at least 25 s away, and the
            // minutes after it. The backfill is asked for a second before its first minute, so
            // that minute's runs come due while the backfill's are waiting.
            let schedule = CronSchedule(expression: try CronExpression("* * * * *"), timeZone: try CronTimeZone.named("UTC"))
            var fireTimes: [Date] = []
            var cursor = Date().addingTimeInterval(25)
            while fireTimes.count < minutes, let next = schedule.next(after: cursor)?.instant {
                fireTimes.append(next)
                cursor = next
            }
            let (first, last) = (fireTimes[0], fireTimes[fireTimes.count - 1])
            let stepJSON = step == .noop ? #"[{"name": "noop", "kind": "noop"}]"# : #"[{"name": "true", "kind": "shell", "command": ["true"]}]"#
            try await cluster.seedEveryMinuteTriggers(triggers, cron: "* * * * *", firstAt: first, steps: stepJSON, client: client)

            // The backfilled workflow, through the API as a user makes it: a disabled every-minute
            // schedule (so only the backfill creates its runs), backfilled over `runs` minutes.
            let workflow = try await api.post(
                "/api/workflows",
                ["name": "backfilled", "overlap_policy": "allow", "steps": try JSONValue.parse(Data(stepJSON.utf8))], expect: 201)
            let workflowId = try workflow["id"]?.intValue ?? { throw BenchError("no workflow id") }()
            let trigger = try await api.post(
                "/api/workflows/\(workflowId)/triggers",
                ["trigger_type": "scheduled", "cron_expression": "* * * * *", "enabled": false], expect: 201)
            let triggerId = try trigger["id"]?.intValue ?? { throw BenchError("no trigger id") }()
            let to = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 - 60)
            let from = to.addingTimeInterval(-60 * Double(runs))
            let askAt = first.addingTimeInterval(-1)
            if askAt > Date() { try await Task.sleep(for: .seconds(askAt.timeIntervalSinceNow)) }
            let asked = ContinuousClock.now
            let answer = try await api.post(
                "/api/workflows/\(workflowId)/triggers/\(triggerId)/backfill",
                ["from": .string(Timestamp.format(from)), "to": .string(Timestamp.format(to))], expect: 200)
            let creation = ContinuousClock.now - asked
            guard answer["created"]?.intValue == Int64(runs) else { throw BenchError("the backfill answered \(answer), expected \(runs) created") }

            var progress = BenchProgress("backfill runs finished", total: runs)
            var drained: Duration?
            var drainedAt = Date()
            while Date() < last.addingTimeInterval(120) {
                let finished = try await scalar(
                    "SELECT count(*) FROM flowforge.executions WHERE workflow_id = \(workflowId) AND finished_at IS NOT NULL",
                    client: client, logger: cluster.logger)
                progress.update(finished)
                if finished >= runs, drained == nil { (drained, drainedAt) = (ContinuousClock.now - asked, Date()) }
                let started = try await scalar(
                    """
                    SELECT count(*) FROM flowforge.executions
                    WHERE workflow_id <> \(workflowId) AND started_at IS NOT NULL
                      AND scheduled_for BETWEEN '\(Timestamp.format(first))' AND '\(Timestamp.format(last))'
                    """, client: client, logger: cluster.logger)
                if drained != nil, started >= triggers * fireTimes.count, Date() > last { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            progress.finish()
            for process in cluster.processes.all { process.usage() }
            guard let drained else { throw BenchError("the backfill's \(runs) runs did not all finish") }
            let window = "workflow_id <> \(workflowId) AND scheduled_for BETWEEN '\(Timestamp.format(first))' AND '\(Timestamp.format(last))'"
            let lags = try await cluster.milliseconds(
                "SELECT extract(epoch FROM started_at - scheduled_for)::float8 * 1000 FROM flowforge.executions WHERE \(window) AND started_at IS NOT NULL",
                client: client)
            // The minutes that fell while the backfill was still draining, and their runs' lag.
            let drainEnd = Timestamp.format(drainedAt)
            let during = try await cluster.milliseconds(
                """
                SELECT extract(epoch FROM started_at - scheduled_for)::float8 * 1000 FROM flowforge.executions
                WHERE \(window) AND started_at IS NOT NULL AND scheduled_for <= '\(drainEnd)'
                """, client: client)
            let completed = try await scalar(
                "SELECT count(*) FROM flowforge.executions WHERE workflow_id = \(workflowId) AND backfill AND status = 'completed'",
                client: client, logger: cluster.logger)
            BenchProcess.report(cluster.processes.all)
            print(
                "backfill runs=\(runs) step=\(step.rawValue) created_s=\(BenchFormat.decimal(creation.seconds, 2)) drained_s=\(BenchFormat.decimal(drained.seconds, 1)) completed=\(completed) other_triggers=\(triggers) other_runs=\(lags.count) of \(triggers * fireTimes.count) lag_p50_ms=\(BenchFormat.decimal(BenchFormat.percentile(lags, 50))) lag_p99_ms=\(BenchFormat.decimal(BenchFormat.percentile(lags, 99))) lag_max_ms=\(BenchFormat.decimal(lags.max() ?? 0)) runs_due_while_draining=\(during.count) their_lag_p99_ms=\(BenchFormat.decimal(BenchFormat.percentile(during, 99)))"
            )
        }
    }
}
