import FlowForgeShared
import Foundation
import PostgresNIO
import Hummingbird
import Testing

@Suite("Trigger routes")
struct TriggerRoutesTests {
    @Test("a scheduled trigger gets its next run, description and generated name")
    func scheduled() async throws {
        try await withAPI { api in
            let id = try await api.workflow("report")
            let trigger = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers",
                json: ["trigger_type": "scheduled", "cron_expression": "0 9 * * 1-5", "timezone": "America/New_York"])
            #expect(trigger["trigger_type"] == "scheduled")
            #expect(trigger["enabled"] == true)
            #expect(trigger["timezone"] == "America/New_York")
            #expect(trigger["misfire_policy"] == "run_once")
            // Thursday 2026-01-15 10:00Z is 05:00 in New York (EST): next is 09:00 EST the same day.
            #expect(trigger["next_run_at"] == "2026-01-15T14:00:00Z")
            #expect(trigger["description"] == "At 09:00, Monday through Friday")
            #expect(trigger["trigger_name"] == "At 09:00, Monday through Friday")
            #expect(trigger["depends_on_workflow_id"] == .null)

            let workflow = try await api.expect(.ok, .get, "/api/workflows/\(id)")
            #expect(workflow["next_run_at"] == "2026-01-15T14:00:00Z")
            #expect(workflow["trigger_count"] == 1)
        }
    }

    @Test("the workflow's Next Run is the earliest of its enabled schedules")
    func earliestNextRun() async throws {
        try await withAPI { api in
            let id = try await api.workflow("multi")
            try await api.expect(.created, .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "scheduled", "cron_expression": "0 2 * * *"])
            let early = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "scheduled", "cron_expression": "30 10 * * *"])
            #expect(try await api.expect(.ok, .get, "/api/workflows/\(id)")["next_run_at"] == "2026-01-15T10:30:00Z")
            try await api.expect(.ok, .patch, "/api/workflows/\(id)/triggers/\(early["id"]!.intValue!)/disable")
            #expect(try await api.expect(.ok, .get, "/api/workflows/\(id)")["next_run_at"] == "2026-01-16T02:00:00Z")
        }
    }

    @Test("a workflow can be created together with its initial triggers, atomically")
    func initialTriggers() async throws {
        try await withAPI { api in
            let upstream = try await api.workflow("extract")
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: [
                    "name": "load", "steps": [["name": "x", "kind": "noop"]],
                    "triggers": [
                        ["trigger_type": "scheduled", "cron_expression": "*/15 * * * *"],
                        ["trigger_type": "dependency", "depends_on_workflow_id": .int(upstream)],
                    ],
                ])
            let triggers = created.list("triggers")
            #expect(triggers.count == 2)
            #expect(triggers[0]["next_run_at"] == "2026-01-15T10:15:00Z")
            #expect(triggers[1]["trigger_name"] == "After extract succeeds")
            #expect(triggers[1]["dependency_condition"] == "on_success")
            #expect(created["trigger_count"] == 2)

            // One bad trigger: nothing at all is created.
            let (status, body) = try await api.call(
                .post, "/api/workflows",
                json: [
                    "name": "half", "steps": [["name": "x", "kind": "noop"]],
                    "triggers": [["trigger_type": "dependency", "depends_on_workflow_id": 9999]],
                ])
            #expect(status == .badRequest)
            #expect(body["error"] == "depends_on_workflow_id: workflow 9999 does not exist")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflows WHERE name = 'half'", as: Int64.self) == 0)
        }
    }

    static let invalidTriggers: [(JSONValue, String)] = [
        ([:], "trigger_type is required (scheduled, dependency or event)"),
        (["trigger_type": "cron"], "trigger_type must be one of scheduled, dependency or event"),
        (["trigger_type": "scheduled"], "cron_expression is required for a scheduled trigger"),
        (["trigger_type": "scheduled", "cron_expression": "61 * * * *"], "cron_expression: minute: 61 is outside 0-59"),
        (["trigger_type": "scheduled", "cron_expression": "0 0 30 2 *"], "cron_expression: never fires"),
        (["trigger_type": "scheduled", "cron_expression": "0 2 * * *", "timezone": "Mars/Olympus"], "timezone: \"Mars/Olympus\" is not a known IANA time zone"),
        (["trigger_type": "scheduled", "cron_expression": "0 2 * * *", "timezone": "+05:30"], "timezone: \"+05:30\" is not a known IANA time zone"),
        (["trigger_type": "scheduled", "cron_expression": "0 2 * * *", "misfire_policy": "all"], "misfire_policy must be one of skip, run_once or run_all"),
        (["trigger_type": "scheduled", "cron_expression": "0 2 * * *", "delay_minutes": 5], "delay_minutes applies only to dependency triggers, not scheduled ones"),
        (["trigger_type": "dependency"], "depends_on_workflow_id or depends_on_workflow_ids is required for a dependency trigger"),
        (["trigger_type": "dependency", "depends_on_workflow_id": "1"], "depends_on_workflow_id must be a number, not a string"),
        (["trigger_type": "dependency", "depends_on_workflow_id": 424242], "depends_on_workflow_id: workflow 424242 does not exist"),
        (["trigger_type": "dependency", "depends_on_workflow_id": 1, "dependency_condition": "on_done"], "dependency_condition must be one of on_success, on_failure or on_completion"),
        (["trigger_type": "dependency", "depends_on_workflow_id": 1, "delay_minutes": 61], "delay_minutes must be between 0 and 60, not 61"),
        (["trigger_type": "dependency", "depends_on_workflow_id": 1, "delay_minutes": -1], "delay_minutes must be between 0 and 60, not -1"),
        (["trigger_type": "dependency", "depends_on_workflow_id": 1, "cron_expression": "* * * * *"], "cron_expression applies only to scheduled triggers, not dependency ones"),
        (["trigger_type": "event"], "event_type is required for an event trigger (webhook or file_arrival)"),
        (["trigger_type": "event", "event_type": "email"], "event_type must be one of webhook or file_arrival"),
        (["trigger_type": "event", "event_type": "webhook", "event_config": "x"], "event_config must be an object, not a string"),
        (["trigger_type": "event", "event_type": "webhook", "enabled": "yes"], "enabled must be true or false, not a string"),
        (["trigger_type": "event", "event_type": "webhook", "trigger_name": ""], "trigger_name must not be empty"),
        (["trigger_type": "event", "event_type": "webhook", "secret": "x"], "secret is not a known field"),
    ]

    @Test("bad trigger bodies answer 400 naming the field, and store nothing", arguments: invalidTriggers)
    func rejectsInvalid(body: JSONValue, message: String) async throws {
        try await withAPI { api in
            let id = try await api.workflow("target")
            let (status, answer) = try await api.call(.post, "/api/workflows/\(id)/triggers", json: body)
            #expect(status == .badRequest)
            let error = try #require(answer["error"]?.stringValue)
            #expect(error.hasPrefix(message), "got: \(error)")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflow_triggers", as: Int64.self) == 0)
        }
    }

    @Test("a workflow cannot depend on itself")
    func selfDependency() async throws {
        try await withAPI { api in
            let id = try await api.workflow("loop")
            let (status, body) = try await api.dependency(id, on: id)
            #expect(status == .conflict)
            #expect(body["error"] == "circular dependency: loop → loop")
            #expect(body["cycle"] == [["id": .int(id), "name": "loop"], ["id": .int(id), "name": "loop"]])
        }
    }

    @Test("closing a 3-workflow cycle is a 409 with the whole chain in order")
    func threeCycle() async throws {
        try await withAPI { api in
            let a = try await api.workflow("A")
            let b = try await api.workflow("B")
            let c = try await api.workflow("C")
            #expect(try await api.dependency(b, on: a).status == .created)  // A → B
            #expect(try await api.dependency(c, on: b).status == .created)  // B → C
            let (status, body) = try await api.dependency(a, on: c)  // C → A closes A → B → C → A
            #expect(status == .conflict)
            #expect(body["error"] == "circular dependency: C → A → B → C")
            #expect(body["cycle"]?.arrayValue?.map { $0["name"] } == ["C", "A", "B", "C"])
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflow_triggers", as: Int64.self) == 2)
        }
    }

    @Test("closing a 5-workflow cycle is refused, by create and by update; validate-dependency shows the path")
    func fiveCycle() async throws {
        try await withAPI { api in
            var ids: [Int64] = []
            for name in ["w1", "w2", "w3", "w4", "w5"] { ids.append(try await api.workflow(name)) }
            for index in 1..<5 { #expect(try await api.dependency(ids[index], on: ids[index - 1]).status == .created) }
            let (status, body) = try await api.dependency(ids[0], on: ids[4])
            #expect(status == .conflict)
            #expect(body["error"] == "circular dependency: w5 → w1 → w2 → w3 → w4 → w5")

            let check = try await api.expect(
                .ok, .post, "/api/workflows/\(ids[0])/triggers/validate-dependency", json: ["depends_on_workflow_id": .int(ids[4])])
            #expect(check["valid"] == false)
            #expect(check["cycle"]?.arrayValue?.map { $0["id"] } == [ids[4], ids[0], ids[1], ids[2], ids[3], ids[4]].map { .int($0) })
            let fine = try await api.expect(
                .ok, .post, "/api/workflows/\(ids[4])/triggers/validate-dependency", json: ["depends_on_workflow_id": .int(ids[0])])
            #expect(fine == ["valid": true])

            // Re-pointing an existing edge can close a cycle too.
            let other = try await api.workflow("other")
            let edge = try await api.dependency(ids[0], on: other)
            let edgeId = try #require(edge.body["id"]?.intValue)
            let (updateStatus, updateBody) = try await api.call(
                .put, "/api/workflows/\(ids[0])/triggers/\(edgeId)", json: ["depends_on_workflow_id": .int(ids[3])])
            #expect(updateStatus == .conflict)
            #expect(updateBody["error"] == "circular dependency: w4 → w1 → w2 → w3 → w4")
            let unchanged = try await api.expect(.ok, .get, "/api/workflows/\(ids[0])/triggers/\(edgeId)")
            #expect(unchanged["depends_on_workflow_id"]?.intValue == other)
        }
    }

    @Test("two halves of a cycle created at the same moment: exactly one succeeds", arguments: 0..<8)
    func concurrentHalves(round: Int) async throws {
        try await withAPI { api in
            let a = try await api.workflow("A\(round)")
            let b = try await api.workflow("B\(round)")
            async let first = api.dependency(b, on: a)
            async let second = api.dependency(a, on: b)
            let statuses = [try await first.status, try await second.status].map(\.code).sorted()
            #expect(statuses == [201, 409])
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflow_triggers", as: Int64.self) == 1)
        }
    }

    @Test("available-upstream marks the workflows that would close a cycle")
    func availableUpstream() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let c = try await api.workflow("c")
            #expect(try await api.dependency(b, on: a).status == .created)
            let body = try await api.expect(.ok, .get, "/api/workflows/available-upstream?workflow_id=\(a)")
            let entries = body.list("workflows")
            #expect(entries.map { $0["name"] } == ["b", "c"])
            #expect(entries.map { $0["creates_cycle"] } == [true, false])
            #expect(entries[0]["cycle"]?.arrayValue?.map { $0["name"] } == ["b", "a", "b"])
            let all = try await api.expect(.ok, .get, "/api/workflows/available-upstream")
            #expect(all.list("workflows").count == 3)
            _ = c
            let (status, _) = try await api.call(.get, "/api/workflows/available-upstream?workflow_id=777")
            #expect(status == .notFound)
        }
    }

    @Test("dependencies lists upstream and downstream with conditions and delays")
    func dependencies() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let c = try await api.workflow("c")
            try await api.expect(
                .created, .post, "/api/workflows/\(b)/triggers",
                json: ["trigger_type": "dependency", "depends_on_workflow_id": .int(a), "dependency_condition": "on_failure", "delay_minutes": 5])
            #expect(try await api.dependency(c, on: b, condition: "on_completion").status == .created)
            let body = try await api.expect(.ok, .get, "/api/workflows/\(b)/triggers/dependencies")
            let upstream = body.list("upstream")
            #expect(upstream.count == 1)
            #expect(upstream[0]["workflow_name"] == "a")
            #expect(upstream[0]["condition"] == "on_failure")
            #expect(upstream[0]["delay_minutes"] == 5)
            let downstream = body.list("downstream")
            #expect(downstream.map { $0["workflow_name"] } == ["c"])
            #expect(downstream[0]["condition"] == "on_completion")

            let graph = try await api.expect(.ok, .get, "/api/graph")
            #expect(graph.list("nodes").count == 3)
            let edges = graph.list("edges")
            #expect(edges.count == 2)
            #expect(edges[0]["from"]?.intValue == a)
            #expect(edges[0]["to"]?.intValue == b)
            #expect(edges[0]["condition"] == "on_failure")
            #expect(edges[1]["from"]?.intValue == b)
        }
    }

    @Test("PUT changes only the fields given; the type cannot change")
    func update() async throws {
        try await withAPI { api in
            let id = try await api.workflow("w")
            let triggerId = try await api.scheduledTrigger(id, cron: "0 2 * * *")
            let path = "/api/workflows/\(id)/triggers/\(triggerId)"
            let moved = try await api.expect(.ok, .put, path, json: ["cron_expression": "0 3 * * *", "timezone": "Europe/Berlin"])
            #expect(moved["cron_expression"] == "0 3 * * *")
            #expect(moved["timezone"] == "Europe/Berlin")
            #expect(moved["next_run_at"] == "2026-01-16T02:00:00Z")  // 03:00 CET
            #expect(moved["trigger_name"] == "At 03:00")  // a generated name follows the schedule
            #expect(moved["misfire_policy"] == "run_once")

            let renamed = try await api.expect(.ok, .put, path, json: ["trigger_name": "Nightly", "misfire_policy": "skip"])
            #expect(renamed["trigger_name"] == "Nightly")
            #expect(renamed["cron_expression"] == "0 3 * * *")
            #expect(renamed["next_run_at"] == "2026-01-16T02:00:00Z")
            #expect(try await api.expect(.ok, .put, path, json: ["cron_expression": "0 4 * * *"])["trigger_name"] == "Nightly")

            let (typeStatus, typeBody) = try await api.call(.put, path, json: ["trigger_type": "dependency"])
            #expect(typeStatus == .badRequest)
            #expect(typeBody["error"] == "trigger_type cannot be changed from scheduled to dependency; create a new trigger instead")
            let (badStatus, badBody) = try await api.call(.put, path, json: ["cron_expression": "* * *"])
            #expect(badStatus == .badRequest)
            #expect(badBody["error"]?.stringValue?.hasPrefix("cron_expression: ") == true)
            #expect(try await api.expect(.ok, .get, path)["cron_expression"] == "0 4 * * *")
        }
    }

    @Test("disable clears next_run_at; enable recomputes it from now, with no backfill")
    func enableDisable() async throws {
        let clock = MutableClock(testNow)
        try await withAPI(clock: { clock.now }) { api in
            let id = try await api.workflow("w")
            let created = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "scheduled", "cron_expression": "0 * * * *"])
            let path = "/api/workflows/\(id)/triggers/\(created["id"]!.intValue!)"
            #expect(created["next_run_at"] == "2026-01-15T11:00:00Z")
            let disabled = try await api.expect(.ok, .patch, path + "/disable")
            #expect(disabled["enabled"] == false)
            #expect(disabled["next_run_at"] == .null)
            #expect(try await api.expect(.ok, .get, "/api/workflows/\(id)")["next_run_at"] == .null)
            clock.now = testNow.addingTimeInterval(5 * 3600 + 60)  // 15:01Z
            let enabled = try await api.expect(.ok, .patch, path + "/enable")
            #expect(enabled["enabled"] == true)
            #expect(enabled["next_run_at"] == "2026-01-15T16:00:00Z")
            let (status, _) = try await api.call(.patch, "/api/workflows/\(id)/triggers/98765/enable")
            #expect(status == .notFound)
        }
    }

    @Test("enable and disable racing the workflow's deletion answer 200 or 404, never a 500 or a crash")
    func toggleRacingDelete() async throws {
        try await withAPI { api in
            for round in 0..<20 {
                let id = try await api.workflow("race\(round)")
                var paths: [String] = []
                for minute in 0..<2 {
                    let trigger = try await api.expect(
                        .created, .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "scheduled", "cron_expression": .string("\(minute) * * * *")])
                    paths.append("/api/workflows/\(id)/triggers/\(trigger["id"]!.intValue!)")
                }
                let statuses = try await withThrowingTaskGroup(of: (String, Int).self) { group in
                    for index in 0..<12 {
                        let path = paths[index % 2] + (index % 3 == 0 ? "/disable" : "/enable")
                        group.addTask { ("PATCH \(path)", try await api.call(.patch, path).status.code) }
                        if index == 4 { group.addTask { ("DELETE", try await api.call(.delete, "/api/workflows/\(id)").status.code) } }
                    }
                    var statuses: [(String, Int)] = []
                    for try await status in group { statuses.append(status) }
                    return statuses
                }
                for (request, status) in statuses {
                    #expect(request == "DELETE" ? status == 204 : [200, 404].contains(status), "\(request) → \(status)")
                }
                #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflow_triggers WHERE workflow_id = \(id)", as: Int64.self) == 0)
            }
        }
    }

    @Test("deleting a trigger; another workflow's trigger id is not reachable through this workflow")
    func deleteTrigger() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let trigger = try await api.expect(.created, .post, "/api/workflows/\(a)/triggers", json: ["trigger_type": "event", "event_type": "webhook"])
            let triggerId = try #require(trigger["id"]?.intValue)
            #expect(trigger["trigger_name"] == "Webhook")
            #expect(try await api.call(.get, "/api/workflows/\(b)/triggers/\(triggerId)").status == .notFound)
            #expect(try await api.call(.delete, "/api/workflows/\(b)/triggers/\(triggerId)").status == .notFound)
            #expect(try await api.call(.delete, "/api/workflows/\(a)/triggers/\(triggerId)").status == .noContent)
            #expect(try await api.call(.get, "/api/workflows/\(a)/triggers/\(triggerId)").status == .notFound)
        }
    }

    @Test("history lists the executions a trigger started, newest first, bounded by limit")
    func history() async throws {
        try await withAPI { api in
            let id = try await api.workflow("w")
            let triggerId = try await api.scheduledTrigger(id, cron: "0 * * * *")
            // Rows as the cron ticker writes them (the ticker itself is tested with the engine).
            for hour in 1...12 {
                try await api.postgres.query(
                    """
                    INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_id, trigger_type, trigger_name, scheduled_for)
                    VALUES (\(id), 'w', \(triggerId), 'scheduled', 'Every hour', \(testNow.addingTimeInterval(Double(hour) * 3600)))
                    """)
            }
            _ = try await api.expect(.created, .post, "/api/workflows/\(id)/run")
            let body = try await api.expect(.ok, .get, "/api/workflows/\(id)/triggers/\(triggerId)/history")
            let runs = body.list("executions")
            #expect(runs.count == 10)
            #expect(runs.first?["scheduled_for"] == "2026-01-15T22:00:00Z")
            #expect(runs.allSatisfy { $0["trigger_type"] == "scheduled" && $0["trigger_name"] == "Every hour" })
            let three = try await api.expect(.ok, .get, "/api/workflows/\(id)/triggers/\(triggerId)/history?limit=3")
            #expect(three.list("executions").count == 3)
            #expect(try await api.call(.get, "/api/workflows/\(id)/triggers/\(triggerId)/history?limit=0").status == .badRequest)
        }
    }

    @Test("a workflow holds at most 100 triggers")
    func triggerLimit() async throws {
        try await withAPI { api in
            let id = try await api.workflow("busy")
            for _ in 0..<100 {
                try await api.postgres.query(
                    "INSERT INTO flowforge.workflow_triggers (workflow_id, trigger_type, trigger_name, event_type) VALUES (\(id), 'event', 'Webhook', 'webhook')")
            }
            let (status, body) = try await api.call(.post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "event", "event_type": "webhook"])
            #expect(status == .badRequest)
            #expect(body["error"] == "a workflow can have at most 100 triggers")
        }
    }
}

/// A clock a test moves by hand.
final class MutableClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Date
    init(_ start: Date) { value = start }
    var now: Date {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}
