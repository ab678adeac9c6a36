import ArgumentParser
import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `flowforge bench idle`: the API, a scheduler and a worker with 100 triggers that are not due
/// for a year; the CPU they (and PostgreSQL) use while they wait. They wait on LISTEN and
/// timers, so the figure should be near zero.
struct IdleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle", abstract: "CPU used by an idle FlowForge (nothing due) over S seconds.")

    @Option(help: "Seconds to measure.") var seconds = 60

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let seconds = seconds
        try await cluster.run { client in
            try await client.query(
                """
                WITH w AS (
                    INSERT INTO flowforge.workflows (name, steps) SELECT 'yearly-' || n, '[{"name": "noop", "kind": "noop"}]'
                    FROM generate_series(1, 100) n RETURNING id
                )
                INSERT INTO flowforge.workflow_triggers (workflow_id, trigger_type, trigger_name, cron_expression, timezone, next_run_at)
                SELECT id, 'scheduled', 'yearly', '0 0 1 1 *', 'UTC', date_trunc('year', now()) + interval '1 year' FROM w
                """, logger: cluster.logger)
            let port = try LocalPostgres.freePort()
            try cluster.start(
                "flowforge-api", name: "flowforge-api",
                environment: ["FLOWFORGE_API_TOKEN": LocalPostgres.randomToken(bytes: 16), "FLOWFORGE_HTTP_PORT": "\(port)"])
            try cluster.start("flowforge-scheduler", name: "flowforge-scheduler")
            try cluster.start("flowforge-worker", name: "flowforge-worker")
            try await cluster.waitForListeners(3, client: client)
            try await Task.sleep(for: .seconds(5))  // past start-up
            let before = cluster.processes.all.map { $0.usage().cpuSeconds }
            let postgresBefore = cluster.database.cluster.flatMap(postgresCPUSeconds)
            try await Task.sleep(for: .seconds(seconds))
            let after = cluster.processes.all.map { $0.usage().cpuSeconds }
            let postgresAfter = cluster.database.cluster.flatMap(postgresCPUSeconds)
            BenchProcess.report(cluster.processes.all)
            var line = "idle seconds=\(seconds)"
            for (index, process) in cluster.processes.all.enumerated() {
                let percent = (after[index] - before[index]) / Double(seconds) * 100
                line += " \(process.name)_cpu_pct=\(BenchFormat.decimal(percent, 3))"
            }
            if let postgresBefore, let postgresAfter {
                line += " postgres_cpu_pct=\(BenchFormat.decimal((postgresAfter - postgresBefore) / Double(seconds) * 100, 3))"
            }
            print(line)
        }
    }
}
