import ArgumentParser
import FlowForgeShared
import Foundation
import Logging
import PostgresNIO

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `flowforge bench api`: the list and get endpoints under concurrent load. The API runs as its
/// own process against a database holding 200 workflows and 5,000 finished executions; this
/// process is the load generator, with `--connections` requests in flight at a time.
struct APIBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api", abstract: "Requests per second and latency of the list and get endpoints.",
        discussion: """
            Two cases, one after the other, each for --seconds: "mixed", the list and get routes over \
            200 workflows and 5,000 executions; then "big-list", GET /api/executions?limit=200 over 200 \
            more runs of 20 steps with 64 KiB of output each (targets: answers under 1 MiB, p99 under 50 ms).
            """)

    enum Case: String, CaseIterable, ExpressibleByArgument {
        case mixed
        case bigList = "big-list"
    }

    @Option(help: "Seconds of load, per case.") var seconds = 20
    @Option(help: "Requests in flight at a time.") var connections = 4
    @Option(help: "Run only this case: mixed or big-list.") var only: Case?

    func validate() throws {
        guard (1...3_600).contains(seconds) else { throw ValidationError("--seconds must be from 1 to 3600") }
        guard (1...256).contains(connections) else { throw ValidationError("--connections must be from 1 to 256") }
    }

    /// The big-list case's runs: as many as a page holds, each step's output as large as a worker keeps.
    static let bigRuns = 200
    static let bigSteps = 20
    static let bigOutputBytes = 65_536

    func run() async throws {
        benchBuildNote()
        let cluster = try await BenchCluster.open()
        let (seconds, connections, only) = (seconds, connections, only)
        try await cluster.run { client in
            try await client.query(
                """
                INSERT INTO flowforge.workflows (name, steps)
                SELECT 'workflow-' || n, '[{"name": "noop", "kind": "noop"}]' FROM generate_series(1, 200) n
                """, logger: cluster.logger)
            try await client.query(
                """
                INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name, status, started_at, finished_at, cascaded_at)
                SELECT 1 + n % 200, 'workflow-' || (1 + n % 200), 'manual', 'Run now', 'completed', now(), now(), now()
                FROM generate_series(1, 5000) n
                """, logger: cluster.logger)
            try await client.query("ANALYZE", logger: cluster.logger)
            let token = LocalPostgres.randomToken(bytes: 16)
            let port = try LocalPostgres.freePort()
            try cluster.start(
                "flowforge-api", name: "flowforge-api", environment: ["FLOWFORGE_API_TOKEN": token, "FLOWFORGE_HTTP_PORT": "\(port)"])
            let base = "http://127.0.0.1:\(port)"
            let session = URLSession(configuration: .ephemeral)
            try await BenchAPI(base: base, token: token).waitUntilReady()
            func measure(_ paths: [String]) async -> (requests: Int, figures: String) {
                let deadline = ContinuousClock.now + .seconds(seconds)
                let results = await LoadClient(port: port, token: token, paths: paths).run(lanes: connections, until: deadline)
                let requests = results.latencies.count
                return (
                    requests,
                    "requests=\(requests) rps=\(Int((Double(requests) / Double(seconds)).rounded())) p50_ms=\(BenchFormat.decimal(BenchFormat.percentile(results.latencies, 50), 2)) p99_ms=\(BenchFormat.decimal(BenchFormat.percentile(results.latencies, 99), 2)) errors=\(results.errors)"
                )
            }

            if only == nil || only == .mixed {
                let paths = [
                    "/api/workflows?limit=50", "/api/workflows/7", "/api/executions?limit=50", "/api/executions/4321",
                    "/api/executions?workflow_id=9&limit=20", "/api/workflows/42/triggers",
                ]
                let (_, figures) = await measure(paths)
                for process in cluster.processes.all { process.usage() }
                BenchProcess.report(cluster.processes.all)
                print("api \(figures)")
            }

            if only == nil || only == .bigList {
                try await Self.seedBigRuns(client, logger: cluster.logger)
                let path = "/api/executions?limit=\(Self.bigRuns)"
                var request = URLRequest(url: URL(string: base + path)!)
                request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                let (body, response) = try await session.data(for: request)
                guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw BenchError("GET \(path) did not answer 200") }
                let page = try JSONValue.parse(body)
                let runs = page["executions"]?.arrayValue ?? []
                let bigRuns = runs.filter { $0["workflow_name"] == "big-output" }
                guard bigRuns.count == Self.bigRuns, bigRuns.allSatisfy({ $0["steps"]?.arrayValue?.count == Self.bigSteps }) else {
                    throw BenchError("GET \(path) did not answer the \(Self.bigRuns) seeded runs of \(Self.bigSteps) steps")
                }
                let (_, figures) = await measure([path])
                for process in cluster.processes.all { process.usage() }
                BenchProcess.report(cluster.processes.all)
                print(
                    "api big-list runs=\(Self.bigRuns) steps=\(Self.bigSteps) step_output_bytes=\(Self.bigOutputBytes) answer_bytes=\(body.count) \(figures)"
                )
            }
        }
    }

    /// 200 finished runs of a 20-step workflow, each step with 64 KiB of output, written straight
    /// into the table as a worker leaves them (the output hex digits, which PostgreSQL cannot
    /// compress, like most real output). They are the newest runs.
    static func seedBigRuns(_ client: PostgresClient, logger: Logger) async throws {
        try await client.query(
            """
            WITH workflow AS (
                INSERT INTO flowforge.workflows (name, steps)
                SELECT 'big-output', jsonb_agg(jsonb_build_object('name', 'step-' || s, 'kind', 'noop') ORDER BY s)
                FROM generate_series(1, \(bigSteps)) s
                RETURNING id, name
            )
            INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name, status, started_at, finished_at, cascaded_at, steps)
            SELECT workflow.id, workflow.name, 'manual', 'Run now', 'completed', now(), now(), now(),
                (SELECT jsonb_agg(jsonb_build_object(
                    'name', 'step-' || s, 'status', 'completed', 'exit_code', 0,
                    'started_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'finished_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                    'output', (SELECT string_agg(md5(r::text || ':' || s::text || ':' || k::text), '') FROM generate_series(1, \(bigOutputBytes / 32)) k))
                    ORDER BY s)
                 FROM generate_series(1, \(bigSteps)) s)
            FROM workflow, generate_series(1, \(bigRuns)) r
            """, logger: logger)
        try await client.query("ANALYZE flowforge.executions", logger: logger)
    }
}
