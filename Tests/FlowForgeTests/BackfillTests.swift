import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

/// `POST …/triggers/:triggerId/backfill` against real PostgreSQL (the API's clock stands at
/// 2026-01-15T10:00:00Z).
@Suite("Backfill")
struct BackfillTests {
    /// A workflow with one scheduled trigger; returns the backfill route.
    static func scheduled(_ api: APIHarness, _ cron: String, zone: String = "UTC", extra: [String: JSONValue] = [:]) async throws -> String {
        let workflow = try await api.workflow("nightly-\(UUID().uuidString.prefix(8))", extra: extra)
        return "/api/workflows/\(workflow)/triggers/\(try await api.scheduledTrigger(workflow, cron: cron, zone: zone))/backfill"
    }

    @Test("0 2 * * * in New York over 2024: 366 runs on its DST rules; a dry run first creates nothing; a second call creates nothing")
    func newYork2024() async throws {
        try await withAPI { api in
            let route = try await Self.scheduled(api, "0 2 * * *", zone: "America/New_York")
            let year: JSONValue = ["from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"]

            let dry = try await api.expect(.ok, .post, route + "?dry_run=true", json: year)
            #expect(dry["dry_run"] == true && dry["count"] == 366 && dry["created"] == 0 && dry["existing"] == 0)
            let times = dry.list("times")
            #expect(times.count == 100)
            #expect(times.first == "2024-01-01T07:00:00Z")  // 02:00 EST
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == 0)

            let done = try await api.expect(.ok, .post, route, json: year)
            #expect(done["dry_run"] == false && done["count"] == 366 && done["created"] == 366 && done["existing"] == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE backfill AND trigger_type = 'scheduled'") == 366)
            // The spring-forward gap moves 2024-03-10 02:00 to 03:00 EDT (07:00Z); summer days are 06:00Z.
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE scheduled_for = '2024-03-10T07:00:00Z'") == 1)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE scheduled_for = '2024-07-01T06:00:00Z'") == 1)
            // Each run's job is due now, behind what waits, not at its past time.
            #expect(try await api.count("SELECT count(*) FROM flowforge.jobs j JOIN flowforge.executions e ON e.id = j.execution_id WHERE j.run_at = e.queued_at") == 366)

            let again = try await api.expect(.ok, .post, route, json: year)
            #expect(again["created"] == 0 && again["existing"] == 366)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == 366)

            let listed = try await api.expect(.ok, .get, "/api/executions?limit=1")
            #expect(listed.list("executions").first?["backfill"] == true)
        }
    }

    @Test("a range over times that already have runs creates only the missing ones")
    func onlyMissing() async throws {
        try await withAPI { api in
            let route = try await Self.scheduled(api, "0 6 * * *")
            let half = try await api.expect(.ok, .post, route, json: ["from": "2025-01-01T00:00:00Z", "to": "2025-01-16T00:00:00Z"])
            #expect(half["created"] == 15)
            let dry = try await api.expect(.ok, .post, route + "?dry_run=true", json: ["from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"])
            #expect(dry["count"] == 31 && dry["existing"] == 15 && dry["created"] == 0)
            let month = try await api.expect(.ok, .post, route, json: ["from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"])
            #expect(month["count"] == 31 && month["created"] == 16 && month["existing"] == 15)
        }
    }

    @Test("a workflow that limits overlapping runs gets its backfill's jobs behind its overlap lock")
    func overlapPolicy() async throws {
        try await withAPI { api in
            let route = try await Self.scheduled(api, "0 6 * * *", extra: ["overlap_policy": "queue", "max_concurrent_runs": 1])
            try await api.expect(.ok, .post, route, json: ["from": "2025-01-01T00:00:00Z", "to": "2025-01-04T00:00:00Z"])
            #expect(try await api.count("SELECT count(*) FROM flowforge.jobs WHERE limited") == 3)
        }
    }

    @Test("bad requests name the field and create nothing", arguments: [
        (#"{"from": "2024-01-01T00:00:00Z"}"#, "to is required"),
        (#"{"from": "yesterday", "to": "2024-01-02T00:00:00Z"}"#, "from must be an RFC 3339 time such as 2024-01-01T00:00:00Z"),
        (#"{"from": "2024-01-02T00:00:00Z", "to": "2024-01-01T00:00:00Z"}"#, "to must be later than from"),
        (#"{"from": "2024-01-01T00:00:00Z", "to": "2024-01-02T00:00:00Z", "until": 1}"#, "until is not a known field"),
        (#"{"from": "2026-01-01T00:00:00Z", "to": "2027-01-01T00:00:00Z"}"#, "to must not be in the future: a backfill creates the runs of times that have passed"),
        (#"{"from": "2024-01-01T00:00:00Z", "to": "2024-02-01T00:00:00Z"}"#, "the range holds more than 10000 times of this schedule; backfill at most 10000 runs per call"),
    ])
    func refused(body: String, error: String) async throws {
        try await withAPI { api in
            let route = try await Self.scheduled(api, "* * * * *")
            let answer = try await api.expect(.badRequest, .post, route, json: try JSONValue.parse(Array(body.utf8)))
            #expect(answer["error"]?.stringValue == error)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == 0)
        }
    }

    @Test("only a scheduled trigger can be backfilled; an unknown one is 404")
    func notScheduled() async throws {
        try await withAPI { api in
            let upstream = try await api.workflow("up")
            let downstream = try await api.workflow("down")
            let dependency = try await api.dependency(downstream, on: upstream).body
            let id = try #require(dependency["id"]?.intValue)
            let range: JSONValue = ["from": "2024-01-01T00:00:00Z", "to": "2024-01-02T00:00:00Z"]
            let answer = try await api.expect(.badRequest, .post, "/api/workflows/\(downstream)/triggers/\(id)/backfill", json: range)
            #expect(answer["error"] == .string("trigger \(id) is a dependency trigger: only a scheduled trigger has times to backfill"))
            try await api.expect(.notFound, .post, "/api/workflows/\(downstream)/triggers/999999/backfill", json: range)
        }
    }
}
