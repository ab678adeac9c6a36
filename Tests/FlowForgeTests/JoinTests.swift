@testable import FlowForgeScheduler
import FlowForgeShared
import FlowForgeWorker
import Foundation
import Hummingbird
import PostgresNIO
import ServiceLifecycle
import Testing

/// Joins: a dependency trigger over several upstreams fires once each has finished, matching
/// its condition, since it last fired; its run records every upstream run that counted.
@Suite("Joins")
struct JoinTests {
    // MARK: - The rule, pure

    static func finishes(_ upstreams: [Int64]) -> [JoinPlan.Finish] {
        upstreams.enumerated().map { index, upstream in
            JoinPlan.Finish(
                seq: Int64(index + 1), upstreamWorkflowId: upstream, executionId: Int64(100 + index),
                finishedAt: testNow.addingTimeInterval(Double(index)))
        }
    }

    @Test("the rule: a firing gathers finishes until every upstream is covered, then the next one starts")
    func plan() {
        // A A B C | B C A | B
        let plan = JoinPlan(pending: Self.finishes([1, 1, 2, 3, 2, 3, 1, 2]), upstreams: [1, 2, 3])
        #expect(plan.firings.map { $0.finishes.map(\.executionId) } == [[100, 101, 102, 103], [104, 105, 106]])
        #expect(plan.firings.map(\.completing.executionId) == [103, 106])
        #expect(plan.firings[1].finishedAt == testNow.addingTimeInterval(6))
        #expect(plan.waiting.map(\.executionId) == [107])
        #expect(JoinPlan(pending: Self.finishes([1, 1, 2]), upstreams: [1, 2, 3]).firings.isEmpty)
        #expect(JoinPlan(pending: [], upstreams: [1, 2]) == JoinPlan(pending: [], upstreams: [1, 2]))
        #expect(JoinPlan(pending: Self.finishes([5]), upstreams: []).firings.isEmpty)
    }

    // MARK: - The API

    @Test("a join is created with depends_on_workflow_ids, named after its upstreams, and answers them all")
    func create() async throws {
        try await withAPI { api in
            let a = try await api.workflow("extract-a")
            let b = try await api.workflow("extract-b")
            let c = try await api.workflow("extract-c")
            let load = try await api.workflow("load")
            let join = try await api.expect(
                .created, .post, "/api/workflows/\(load)/triggers",
                json: ["trigger_type": "dependency", "depends_on_workflow_ids": [.int(a), .int(b), .int(c)], "delay_minutes": 5])
            #expect(join["trigger_name"] == "After extract-a, extract-b and extract-c succeed")
            #expect(join["depends_on_workflow_ids"] == [.int(a), .int(b), .int(c)])
            #expect(join["depends_on_workflow_id"]?.intValue == a)
            #expect(join["depends_on_workflow_name"] == "extract-a")
            #expect(join.list("depends_on_workflows").map { $0["name"] } == ["extract-a", "extract-b", "extract-c"])
            #expect(join["dependency_condition"] == "on_success" && join["delay_minutes"] == 5)

            // The single form answers a one-element list.
            let single = try await api.dependency(c, on: a)
            #expect(single.status == .created && single.body["depends_on_workflow_ids"] == [.int(a)])
            let scheduled = try await api.scheduledTrigger(a, cron: "0 2 * * *")
            #expect(try await api.expect(.ok, .get, "/api/workflows/\(a)/triggers/\(scheduled)")["depends_on_workflow_ids"] == .null)

            // Every edge is an edge: the dependencies route and the graph show three for the join.
            let edges = try await api.expect(.ok, .get, "/api/workflows/\(load)/triggers/dependencies")
            #expect(edges.list("upstream").compactMap { $0["workflow_id"]?.intValue } == [a, b, c])
            let graph = try await api.expect(.ok, .get, "/api/graph")
            #expect(graph.list("edges").filter { $0["to"]?.intValue == load }.compactMap { $0["from"]?.intValue } == [a, b, c])

            // Editing the list: the name follows, the edges are written again.
            let id = try #require(join["id"]?.intValue)
            let edited = try await api.expect(
                .ok, .put, "/api/workflows/\(load)/triggers/\(id)", json: ["depends_on_workflow_ids": [.int(b), .int(a)]])
            #expect(edited["trigger_name"] == "After extract-b and extract-a succeed")
            #expect(edited["depends_on_workflow_ids"] == [.int(b), .int(a)] && edited["depends_on_workflow_id"]?.intValue == b)
            #expect(try await api.count("SELECT count(*) FROM flowforge.trigger_upstreams WHERE trigger_id = \(id)") == 2)
            let narrowed = try await api.expect(.ok, .put, "/api/workflows/\(load)/triggers/\(id)", json: ["depends_on_workflow_id": .int(c)])
            #expect(narrowed["depends_on_workflow_ids"] == [.int(c)] && narrowed["trigger_name"] == "After extract-c succeeds")
        }
    }

    @Test("bad joins are 400s naming the field, a cycle through any upstream is 409, and nothing is written")
    func refusals() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let down = try await api.workflow("down")
            // a runs after down: down joining over b and a would close down → a → down.
            #expect(try await api.dependency(a, on: down).status == .created)
            let path = "/api/workflows/\(down)/triggers"
            let cases: [(JSONValue, String)] = [
                (["depends_on_workflow_ids": [.int(b)], "depends_on_workflow_id": .int(b)],
                 "give either depends_on_workflow_id or depends_on_workflow_ids, not both"),
                (["depends_on_workflow_ids": [.int(b), .int(b)]], "depends_on_workflow_ids[1]: workflow \(b) is listed twice"),
                (["depends_on_workflow_ids": []], "depends_on_workflow_ids must list between 1 and 20 workflow ids, not 0"),
                (["depends_on_workflow_ids": [.int(b), "x"]], "depends_on_workflow_ids[1] must be a number, not a string"),
                (["depends_on_workflow_ids": .int(b)], "depends_on_workflow_ids must be an array of workflow ids, not a number"),
                (["depends_on_workflow_ids": [.int(b), 999_999]], "depends_on_workflow_ids: workflow 999999 does not exist"),
                ([:], "depends_on_workflow_id or depends_on_workflow_ids is required for a dependency trigger"),
            ]
            for (fields, message) in cases {
                var body = fields.objectValue ?? [:]
                body["trigger_type"] = "dependency"
                let (status, answer) = try await api.call(.post, path, json: .object(body))
                #expect(status == .badRequest && answer["error"]?.stringValue == message, "\(fields) → \(answer)")
            }
            let cycle = try await api.call(.post, path, json: ["trigger_type": "dependency", "depends_on_workflow_ids": [.int(b), .int(a)]])
            #expect(cycle.status == .conflict && cycle.body["error"] == "circular dependency: a → down → a")
            let selfJoin = try await api.call(.post, path, json: ["trigger_type": "dependency", "depends_on_workflow_ids": [.int(b), .int(down)]])
            #expect(selfJoin.status == .conflict)
            #expect(try await api.count("SELECT count(*) FROM flowforge.workflow_triggers WHERE workflow_id = \(down)") == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.trigger_upstreams") == 1)
        }
    }

    @Test("deleting any upstream of a join deletes the join, as deleting the only upstream deletes a dependency trigger")
    func upstreamDeleted() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let down = try await api.workflow("down")
            try await api.expect(
                .created, .post, "/api/workflows/\(down)/triggers",
                json: ["trigger_type": "dependency", "depends_on_workflow_ids": [.int(a), .int(b)]])
            try await api.expect(.noContent, .delete, "/api/workflows/\(b)")
            #expect(try await api.expect(.ok, .get, "/api/workflows/\(down)/triggers").list("triggers").isEmpty)
            #expect(try await api.count("SELECT count(*) FROM flowforge.trigger_upstreams") == 0)
        }
    }

    // MARK: - The cascade

    /// A join of `upstreams` for a new workflow "joined"; returns (workflow, trigger).
    static func join(_ api: APIHarness, over upstreams: [Int64], condition: String = "on_success", delay: Int = 0) async throws -> (Int64, Int64) {
        let joined = try await api.workflow("joined")
        let trigger = try await api.expect(
            .created, .post, "/api/workflows/\(joined)/triggers",
            json: [
                "trigger_type": "dependency", "depends_on_workflow_ids": .array(upstreams.map { .int($0) }),
                "dependency_condition": .string(condition), "delay_minutes": .int(Int64(delay)),
            ])
        return (joined, try #require(trigger["id"]?.intValue))
    }

    /// The join's runs, oldest first: (upstream_execution_id, upstream_execution_ids).
    static func runs(_ api: APIHarness, trigger: Int64) async throws -> [(Int64, [Int64])] {
        let rows = try await api.postgres.query(
            "SELECT upstream_execution_id, upstream_execution_ids FROM flowforge.executions WHERE trigger_id = \(trigger) ORDER BY id")
        var runs: [(Int64, [Int64])] = []
        for try await (completing, all) in rows.decode((Int64, [Int64]).self) { runs.append((completing, all)) }
        return runs
    }

    @Test("finishes counted one at a time: the join fires when the last upstream finishes, with every run that counted")
    func cascadeOneByOne() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let c = try await api.workflow("c")
            let (joined, trigger) = try await Self.join(api, over: [a, b, c], delay: 2)
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            func finish(_ workflow: Int64, _ status: String = "completed") async throws -> Int64 {
                let id = try await SchedulerTests.finishedRun(api, workflow: workflow, status: status)
                return id
            }
            let a1 = try await finish(a)
            #expect(try await store.cascade() == 0)
            let a2 = try await finish(a)
            let bFailed = try await finish(b, "failed")   // on_success: does not count
            #expect(try await store.cascade() == 0)
            let b1 = try await finish(b)
            #expect(try await store.cascade() == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.join_pending WHERE trigger_id = \(trigger)") == 3)
            let c1 = try await finish(c)
            #expect(try await store.cascade() == 1)
            let runs = try await Self.runs(api, trigger: trigger)
            #expect(runs.count == 1)
            #expect(runs.first?.0 == c1 && runs.first?.1 == [a1, a2, b1, c1])
            #expect(!(runs.first?.1.contains(bFailed) ?? true))
            #expect(try await api.count("SELECT count(*) FROM flowforge.join_pending") == 0)
            // Due two minutes after the last upstream finished, as a dependency run with a delay is.
            let due = try await api.scalar(
                """
                SELECT extract(epoch FROM j.run_at - u.finished_at)::float8 FROM flowforge.jobs j
                JOIN flowforge.executions e ON e.id = j.execution_id JOIN flowforge.executions u ON u.id = \(c1)
                WHERE e.workflow_id = \(joined)
                """, as: Double.self)
            #expect(due == 120)
            let run = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(joined)")
            #expect(run.list("executions").first?["upstream_execution_ids"] == .array([a1, a2, b1, c1].map { .int($0) }))
            #expect(run.list("executions").first?["trigger_type"] == "dependency")

            // A second round starts from nothing: b and c alone do not fire it.
            _ = try await finish(b)
            _ = try await finish(c)
            #expect(try await store.cascade() == 0)
            // Turning the join off forgets what it counted; on again, it counts from then.
            try await api.expect(.ok, .patch, "/api/workflows/\(joined)/triggers/\(trigger)/disable")
            try await api.expect(.ok, .patch, "/api/workflows/\(joined)/triggers/\(trigger)/enable")
            #expect(try await api.count("SELECT count(*) FROM flowforge.join_pending") == 0)
            _ = try await finish(a)
            #expect(try await store.cascade() == 0)
        }
    }

    @Test("one batch holding two rounds of finishes fires twice, in the order the runs finished")
    func cascadeBatch() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let (_, trigger) = try await Self.join(api, over: [a, b], condition: "on_completion")
            var ids: [Int64] = []
            for workflow in [b, a, a, b, a] {
                ids.append(try await SchedulerTests.finishedRun(api, workflow: workflow, status: workflow == a ? "failed" : "completed"))
            }
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.cascade() == 2)
            let runs = try await Self.runs(api, trigger: trigger)
            #expect(runs.map(\.1) == [[ids[0], ids[1]], [ids[2], ids[3]]])
            #expect(try await api.count("SELECT count(*) FROM flowforge.join_pending WHERE execution_id = \(ids[4])") == 1)
        }
    }

    @Test("two upstreams finishing in the same millisecond, taken by two cascaders at once, fire the join exactly once")
    func sameMillisecond() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let (_, trigger) = try await Self.join(api, over: [a, b])
            let other = PostgresClient(configuration: api.url.clientConfiguration(maximumConnections: 2), backgroundLogger: TestDatabase.logger)
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { await other.run() }
                let first = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
                let second = SchedulerStore(client: other, logger: TestDatabase.logger)
                for round in 1...40 {
                    try await api.postgres.query(
                        """
                        WITH run AS (
                            INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, status, started_at, finished_at)
                            SELECT w, 'up', 'manual', 'completed', now(), date_trunc('milliseconds', now())
                            FROM unnest(ARRAY[\(a), \(b)]::bigint[]) AS w RETURNING id, finished_at
                        )
                        INSERT INTO flowforge.cascade_backlog (execution_id, finished_at) SELECT id, finished_at FROM run
                        """)
                    async let one = first.cascade(limit: 1)
                    async let two = second.cascade(limit: 1)
                    let created = try await one + two
                    #expect(created == 1, "round \(round)")
                    #expect(try await Self.runs(api, trigger: trigger).count == round)
                }
                #expect(try await api.count("SELECT count(*) FROM flowforge.join_pending") == 0)
                group.cancelAll()
            }
        }
    }

    @Test("three upstreams finishing 1,000 times each in random order, on 2 workers and 2 schedulers: exactly the runs the rule gives")
    func thousandsAcrossReplicas() async throws {
        let services: @Sendable (PostgresClient) -> [any Service] = { postgres in
            (1...2).flatMap { n -> [any Service] in
                var worker = WorkerService.Config(workerID: "join-worker-\(n)", concurrency: 8)
                worker.pollInterval = .milliseconds(200)
                var scheduler = SchedulerService.Config()
                scheduler.cascadeSweep = .milliseconds(200)
                return [
                    WorkerService(postgres: postgres, config: worker, metrics: FlowForgeMetrics(), logger: TestDatabase.logger),
                    SchedulerService(postgres: postgres, config: scheduler, metrics: FlowForgeMetrics(), logger: TestDatabase.logger),
                ]
            }
        }
        try await withAPI(maximumConnections: 40, services: services) { api in
            let upstreams = [try await api.workflow("a"), try await api.workflow("b"), try await api.workflow("c")]
            let (_, trigger) = try await Self.join(api, over: upstreams)
            var order = upstreams.flatMap { Array(repeating: $0, count: 1000) }
            order.shuffle()
            try await api.postgres.query(
                """
                WITH runs AS (
                    INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_type, trigger_name)
                    SELECT o.w, 'up', 'manual', 'Run now' FROM unnest(\(order)::bigint[]) WITH ORDINALITY AS o(w, n) ORDER BY o.n
                    RETURNING id, workflow_id
                )
                INSERT INTO flowforge.jobs (execution_id, workflow_id, limited) SELECT id, workflow_id, false FROM runs
                """)
            try await api.postgres.query("NOTIFY flowforge_jobs")
            let deadline = ContinuousClock.now + .seconds(240)
            while ContinuousClock.now < deadline {
                let done = try await api.count(
                    "SELECT count(*) FROM flowforge.executions WHERE workflow_id = ANY(\(upstreams)) AND status = 'completed'")
                let backlog = try await api.count("SELECT count(*) FROM flowforge.cascade_backlog")
                if done == 3000 && backlog == 0 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            var workflowOf: [Int64: Int64] = [:]
            for try await (id, workflow) in try await api.postgres.query(
                "SELECT id, workflow_id FROM flowforge.executions WHERE workflow_id = ANY(\(upstreams)) AND status = 'completed'"
            ).decode((Int64, Int64).self) {
                workflowOf[id] = workflow
            }
            #expect(workflowOf.count == 3000)
            let runs = try await Self.runs(api, trigger: trigger)
            var waiting: [Int64] = []
            for try await id in try await api.postgres.query(
                "SELECT execution_id FROM flowforge.join_pending WHERE trigger_id = \(trigger) ORDER BY seq"
            ).decode(Int64.self) {
                waiting.append(id)
            }
            // No more, no fewer: every upstream run counted exactly once, in a run or still waiting.
            let counted = runs.flatMap(\.1) + waiting
            #expect(counted.count == 3000 && Set(counted) == Set(workflowOf.keys))
            // Each run is what the rule gives for the finishes it holds, in the order they
            // counted: it covers every upstream, and fired the moment it did (no sooner, no later).
            func finishes(_ ids: [Int64]) -> [JoinPlan.Finish] {
                ids.enumerated().map { JoinPlan.Finish(seq: Int64($0), upstreamWorkflowId: workflowOf[$1] ?? 0, executionId: $1, finishedAt: testNow) }
            }
            for (completing, ids) in runs {
                let plan = JoinPlan(pending: finishes(ids), upstreams: Set(upstreams))
                #expect(plan.firings.map { $0.finishes.map(\.executionId) } == [ids] && plan.waiting.isEmpty, "\(ids)")
                #expect(completing == ids.last)
            }
            #expect(JoinPlan(pending: finishes(waiting), upstreams: Set(upstreams)).firings.isEmpty)
            // And the count is the rule's over the whole order.
            let whole = JoinPlan(pending: finishes(counted), upstreams: Set(upstreams))
            #expect(whole.firings.count == runs.count && runs.count >= 1)
            print("join: 3,000 upstream finishes → \(runs.count) join runs, \(waiting.count) finishes waiting")
        }
    }
}
