@testable import FlowForgeScheduler
import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

/// Jitter, active window and DST policy of scheduled triggers, through the API, the cron ticker
/// and the backfill against real PostgreSQL (the API's clock stands at 2026-01-15T10:00:00Z).
@Suite("Schedule options")
struct ScheduleOptionsTests {
    /// A workflow with one scheduled trigger made of `fields`; returns (workflow, trigger answer).
    static func trigger(_ api: APIHarness, _ fields: [String: JSONValue]) async throws -> (Int64, JSONValue) {
        let workflow = try await api.workflow("options-\(UUID().uuidString.prefix(8))")
        var body: [String: JSONValue] = ["trigger_type": "scheduled"]
        body.merge(fields) { _, new in new }
        let trigger = try await api.expect(.created, .post, "/api/workflows/\(workflow)/triggers", json: .object(body))
        return (workflow, trigger)
    }

    static let year2024: JSONValue = ["from": "2024-01-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"]

    @Test("backfills over 2024 in New York follow the DST policy: gap skip 365, gap shift 366 (one at 03:00 EDT), overlap both 367")
    func backfillByPolicy() async throws {
        try await withAPI { api in
            let cases: [(String, JSONValue, Int)] = [
                ("30 2 * * *", ["gap": "skip"], 365),
                ("30 2 * * *", ["gap": "shift"], 366),
                ("30 2 * * *", .null, 366),
                ("30 1 * * *", ["overlap": "both"], 367),
                ("30 1 * * *", ["overlap": "first", "gap": "skip"], 366),
            ]
            for (cron, policy, expected) in cases {
                let (workflow, trigger) = try await Self.trigger(
                    api, ["cron_expression": .string(cron), "timezone": "America/New_York", "dst_policy": policy])
                let id = try #require(trigger["id"]?.intValue)
                let done = try await api.expect(.ok, .post, "/api/workflows/\(workflow)/triggers/\(id)/backfill", json: Self.year2024)
                #expect(done["created"] == .int(Int64(expected)), "\(cron) \(policy)")
                #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE trigger_id = \(id) AND backfill") == expected)
                let onSpringDay = try await api.count(
                    "SELECT count(*) FROM flowforge.executions WHERE trigger_id = \(id) AND scheduled_for = '2024-03-10T07:00:00Z'")
                if cron == "30 2 * * *" { #expect(onSpringDay == (expected == 365 ? 0 : 1)) }
            }
        }
    }

    @Test("jitter: the trigger's preview is exactly its runs' scheduled_for, from the backfill and from the ticker; times spread within bounds")
    func jitterPreviewEqualsRuns() async throws {
        try await withAPI { api in
            let (workflow, trigger) = try await Self.trigger(api, ["cron_expression": "0 * * * *", "jitter_seconds": 900])
            let id = try #require(trigger["id"]?.intValue)
            #expect(trigger["jitter_seconds"] == 900)
            let base = "/api/workflows/\(workflow)/triggers"

            // The stored settings stand in for the parameters not given.
            let preview = try await api.expect(.ok, .get, "\(base)/schedule/preview?trigger_id=\(id)&after=2024-12-31T23:59:59Z&count=24")
            #expect(preview["trigger_id"] == .int(id) && preview["jitter_seconds"] == 900 && preview["cron"] == "0 * * * *")
            let times = preview.list("next_runs").compactMap { $0["utc"]?.stringValue }
            #expect(times.count == 24)
            let slots = (0..<24).map { Date(timeIntervalSince1970: 1_735_689_600 + Double($0) * 3600) }  // 2025-01-01T00:00Z on
            let offsets = zip(times, slots).map { Timestamp.parse($0)!.timeIntervalSince($1) }
            #expect(offsets.allSatisfy { $0 >= 0 && $0 <= 900 }, "\(offsets)")
            #expect(Set(offsets).count > 12, "\(offsets)")
            // The same answer a second time, and from the route that reads nothing stored.
            #expect(try await api.expect(.ok, .get, "\(base)/schedule/preview?trigger_id=\(id)&after=2024-12-31T23:59:59Z&count=24") == preview)
            let global = try await api.expect(
                .ok, .get, "/api/schedule/preview?cron=0%20*%20*%20*%20*&jitter_seconds=900&trigger_id=\(id)&after=2024-12-31T23:59:59Z&count=24")
            #expect(global.list("next_runs") == preview.list("next_runs"))
            // Without a trigger id the times are not moved.
            let unsaved = try await api.expect(.ok, .get, "/api/schedule/preview?cron=0%20*%20*%20*%20*&jitter_seconds=900&after=2024-12-31T23:59:59Z&count=2")
            #expect(unsaved.list("next_runs").map { $0["utc"] } == ["2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z"] && unsaved["trigger_id"] == .null)

            // The backfill creates runs at exactly those times.
            let done = try await api.expect(
                .ok, .post, "\(base)/\(id)/backfill", json: ["from": "2025-01-01T00:00:00Z", "to": "2025-01-02T00:00:00Z"])
            #expect(done["created"] == 24)
            let rows = try await api.postgres.query(
                "SELECT scheduled_for FROM flowforge.executions WHERE trigger_id = \(id) ORDER BY scheduled_for")
            var created: [String] = []
            for try await date in rows.decode(Date.self) { created.append(Timestamp.format(date)) }
            #expect(created == times)

            // The ticker: next_run_at is the preview's first time from now, and two replicas create its run once, at that time.
            let now = try await api.expect(.ok, .get, "\(base)/schedule/preview?trigger_id=\(id)&count=2")
            let next = try #require(now.list("next_runs").first?["utc"]?.stringValue)
            #expect(try await api.expect(.ok, .get, "\(base)/\(id)")["next_run_at"] == .string(next))
            let due = try #require(Timestamp.parse(next))
            let replicaA = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            let replicaB = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            async let a = replicaA.fireDueTriggers(now: due.addingTimeInterval(0.2))
            async let b = replicaB.fireDueTriggers(now: due.addingTimeInterval(0.2))
            #expect(try await a + b == 1)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE trigger_id = \(id) AND NOT backfill AND scheduled_for = \(due)") == 1)
            #expect(try await api.count("SELECT count(*) FROM flowforge.jobs j JOIN flowforge.executions e ON e.id = j.execution_id WHERE e.trigger_id = \(id) AND NOT e.backfill AND j.run_at = \(due)") == 1)
            let stored = try #require(try await api.scalar("SELECT next_run_at FROM flowforge.workflow_triggers WHERE id = \(id)", as: Date.self))
            #expect(Timestamp.format(stored) == now.list("next_runs").last?["utc"]?.stringValue)
        }
    }

    @Test("the active window bounds the ticker and the backfill; next_run_at is null once it has ended")
    func activeWindow() async throws {
        try await withAPI { api in
            // Ended before now: no next run; the backfill creates only what the window held.
            let (workflow, ended) = try await Self.trigger(
                api, ["cron_expression": "0 6 * * *", "active_from": "2025-01-10T00:00:00Z", "active_until": "2025-01-13T06:00:00Z"])
            let endedId = try #require(ended["id"]?.intValue)
            #expect(ended["next_run_at"] == .null)
            #expect(ended["active_from"] == "2025-01-10T00:00:00Z" && ended["active_until"] == "2025-01-13T06:00:00Z")
            let january = try await api.expect(
                .ok, .post, "/api/workflows/\(workflow)/triggers/\(endedId)/backfill", json: ["from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"])
            #expect(january["created"] == 3 && january["times"] == ["2025-01-10T06:00:00Z", "2025-01-11T06:00:00Z", "2025-01-12T06:00:00Z"])

            // Starts later: the first run is the first time in the window.
            let (_, later) = try await Self.trigger(api, ["cron_expression": "0 6 * * *", "active_from": "2026-02-01T00:00:00Z"])
            #expect(later["next_run_at"] == "2026-02-01T06:00:00Z")

            // Ends tomorrow: the ticker creates the last run and leaves next_run_at empty.
            let (_, ending) = try await Self.trigger(api, ["cron_expression": "0 6 * * *", "active_until": "2026-01-17T00:00:00Z"])
            let endingId = try #require(ending["id"]?.intValue)
            #expect(ending["next_run_at"] == "2026-01-16T06:00:00Z")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.fireDueTriggers(now: Timestamp.parse("2026-01-16T06:00:00.2Z")!) == 1)
            #expect(try await api.scalar("SELECT next_run_at FROM flowforge.workflow_triggers WHERE id = \(endingId)", as: Date?.self) == .some(nil))
            // A window moved into the past leaves nothing to run.
            let over = try await api.expect(
                .ok, .put, "/api/workflows/\(ending["workflow_id"]!.intValue!)/triggers/\(endingId)", json: ["active_until": "2026-01-15T09:00:00Z"])
            #expect(over["next_run_at"] == .null && over["active_until"] == "2026-01-15T09:00:00Z")
            // The preview of a trigger with a window honours it.
            let preview = try await api.expect(
                .ok, .get, "/api/schedule/preview?cron=0%206%20*%20*%20*&active_until=2026-01-18T00:00:00Z&count=10")
            #expect(preview.list("next_runs").map { $0["utc"] } == ["2026-01-16T06:00:00Z", "2026-01-17T06:00:00Z"])
        }
    }

    @Test("the fields are answered, changed by PUT (null clears), and a change computes next_run_at again and withdraws early runs")
    func updateRecomputes() async throws {
        try await withAPI { api in
            let (workflow, trigger) = try await Self.trigger(api, ["cron_expression": "0 0 1 1 *", "dst_policy": ["gap": "skip"]])
            let id = try #require(trigger["id"]?.intValue)
            #expect(trigger["dst_policy"] == ["gap": "skip", "overlap": .null])
            #expect(trigger["jitter_seconds"] == 0 && trigger["active_from"] == .null && trigger["active_until"] == .null)
            // A run created 20 s ahead of its time.
            try await api.postgres.query("UPDATE flowforge.workflow_triggers SET next_run_at = now() + interval '20 seconds' WHERE id = \(id)")
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.fireDueTriggers(now: Date(), lookahead: 30) == 1)
            let route = "/api/workflows/\(workflow)/triggers/\(id)"

            // Changing the name alone keeps the early run.
            try await api.expect(.ok, .put, route, json: ["trigger_name": "New year"])
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE trigger_id = \(id)") == 1)

            let changed = try await api.expect(.ok, .put, route, json: ["jitter_seconds": 600, "active_until": "2030-01-01T00:00:00Z"])
            #expect(changed["jitter_seconds"] == 600 && changed["active_until"] == "2030-01-01T00:00:00Z")
            #expect(changed["dst_policy"] == ["gap": "skip", "overlap": .null])
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE trigger_id = \(id)") == 0)
            let preview = try await api.expect(.ok, .get, "/api/workflows/\(workflow)/triggers/schedule/preview?trigger_id=\(id)&count=1")
            #expect(changed["next_run_at"] == preview.list("next_runs").first?["utc"])
            let next = try #require(changed["next_run_at"]?.stringValue.flatMap(Timestamp.parse))
            let slot = Timestamp.parse("2027-01-01T00:00:00Z")!
            #expect(next >= slot && next <= slot.addingTimeInterval(600))

            let cleared = try await api.expect(.ok, .put, route, json: ["dst_policy": .null, "active_until": .null, "jitter_seconds": 0])
            #expect(cleared["dst_policy"] == .null && cleared["active_until"] == .null && cleared["next_run_at"] == "2027-01-01T00:00:00Z")
            let both = try await api.expect(.ok, .put, route, json: ["dst_policy": ["overlap": "both", "gap": "shift"]])
            #expect(both["dst_policy"] == ["gap": "shift", "overlap": "both"])
            #expect(try await api.scalar("SELECT dst_gap || '/' || dst_overlap FROM flowforge.workflow_triggers WHERE id = \(id)", as: String.self) == "shift/both")
        }
    }

    static let invalid: [(JSONValue, String)] = [
        (["jitter_seconds": 3601], "jitter_seconds must be between 0 and 3600, not 3601"),
        (["jitter_seconds": -1], "jitter_seconds must be between 0 and 3600, not -1"),
        (["jitter_seconds": "60"], "jitter_seconds must be a number, not a string"),
        (["jitter_seconds": .double(1.5)], "jitter_seconds must be a whole number"),
        (["active_from": "tomorrow"], "active_from must be an RFC 3339 time such as 2026-01-01T00:00:00Z, or null"),
        (["active_until": 5], "active_until must be a string, not a number"),
        (
            ["active_from": "2026-03-01T00:00:00Z", "active_until": "2026-02-01T00:00:00Z"],
            "active_until (2026-02-01T00:00:00Z) must be later than active_from (2026-03-01T00:00:00Z)"
        ),
        (["active_from": "2026-03-01T00:00:00Z", "active_until": "2026-03-01T00:00:00Z"], "active_until (2026-03-01T00:00:00Z) must be later than active_from"),
        (["dst_policy": "skip"], "dst_policy must be a JSON object, not a string"),
        (["dst_policy": ["gap": "later"]], "dst_policy.gap must be one of shift or skip"),
        (["dst_policy": ["overlap": "second"]], "dst_policy.overlap must be one of first or both"),
        (["dst_policy": ["gaps": "skip"]], "dst_policy.gaps is not a known field"),
    ]

    @Test("bad values answer 400 naming the field and store nothing", arguments: invalid)
    func refused(fields: JSONValue, message: String) async throws {
        try await withAPI { api in
            let workflow = try await api.workflow("target")
            var body: [String: JSONValue] = ["trigger_type": "scheduled", "cron_expression": "0 2 * * *"]
            for (key, value) in fields.objectValue ?? [:] { body[key] = value }
            let (status, answer) = try await api.call(.post, "/api/workflows/\(workflow)/triggers", json: .object(body))
            #expect(status == .badRequest)
            let error = try #require(answer["error"]?.stringValue)
            #expect(error.hasPrefix(message), "got: \(error)")
            #expect(try await api.count("SELECT count(*) FROM flowforge.workflow_triggers") == 0)
        }
    }

    @Test("the options belong to scheduled triggers only; an update checks the window against what is stored")
    func refusedElsewhere() async throws {
        try await withAPI { api in
            let upstream = try await api.workflow("up")
            let downstream = try await api.workflow("down")
            for field in ["jitter_seconds", "active_from", "active_until", "dst_policy"] {
                let body: [String: JSONValue] = ["trigger_type": "dependency", "depends_on_workflow_id": .int(upstream), field: .null]
                let (status, answer) = try await api.call(.post, "/api/workflows/\(downstream)/triggers", json: .object(body))
                #expect(status == .badRequest && answer["error"] == .string("\(field) applies only to scheduled triggers, not dependency ones"))
            }
            let dependency = try await api.dependency(downstream, on: upstream).body
            #expect(dependency["jitter_seconds"] == .null && dependency["dst_policy"] == .null && dependency["active_from"] == .null)

            let (workflow, trigger) = try await Self.trigger(api, ["cron_expression": "0 2 * * *", "active_until": "2027-01-01T00:00:00Z"])
            let route = "/api/workflows/\(workflow)/triggers/\(trigger["id"]!.intValue!)"
            let (status, answer) = try await api.call(.put, route, json: ["active_from": "2027-06-01T00:00:00Z"])
            #expect(status == .badRequest)
            #expect(answer["error"] == "active_from (2027-06-01T00:00:00Z) must be earlier than active_until (2027-01-01T00:00:00Z)")
            #expect(try await api.expect(.ok, .get, route)["active_from"] == .null)
        }
    }

    @Test("bad preview parameters answer 400 naming them; a trigger_id of another workflow is 404")
    func previewRefused() async throws {
        try await withAPI { api in
            let (workflow, trigger) = try await Self.trigger(api, ["cron_expression": "0 2 * * *"])
            let other = try await api.workflow("other")
            let cron = "cron=0%202%20*%20*%20*"
            let cases: [(String, String)] = [
                ("jitter_seconds=3601", "query parameter jitter_seconds must be a whole number from 0 to 3600"),
                ("dst_gap=later", "query parameter dst_gap must be one of shift or skip"),
                ("dst_overlap=twice", "query parameter dst_overlap must be one of first or both"),
                ("active_from=soon", "query parameter active_from must be an RFC 3339 time such as 2026-03-08T00:00:00Z"),
                ("active_from=2026-02-01T00:00:00Z&active_until=2026-01-01T00:00:00Z",
                 "query parameter active_until (2026-01-01T00:00:00Z) must be later than active_from (2026-02-01T00:00:00Z)"),
                ("trigger_id=0", "query parameter trigger_id must be a whole number from 1 to 9223372036854775807"),
            ]
            for (query, message) in cases {
                let answer = try await api.expect(.badRequest, .get, "/api/schedule/preview?\(cron)&\(query)")
                #expect(answer["error"] == .string(message))
            }
            let id = try #require(trigger["id"]?.intValue)
            try await api.expect(.notFound, .get, "/api/workflows/\(other)/triggers/schedule/preview?trigger_id=\(id)")
            let missing = try await api.expect(.badRequest, .get, "/api/workflows/\(other)/triggers/schedule/preview")
            #expect(missing["error"] == "query parameter cron is required, for example cron=0%202%20*%20*%20*")
            // Given parameters replace the stored ones; an empty one removes it.
            let edited = try await api.expect(
                .ok, .get, "/api/workflows/\(workflow)/triggers/schedule/preview?trigger_id=\(id)&dst_gap=skip&timezone=America/New_York&after=2024-03-09T12:00:00Z&count=1")
            #expect(edited.list("next_runs").first?["utc"] == "2024-03-11T06:00:00Z" && edited["dst_policy"] == ["gap": "skip", "overlap": .null])
            let plain = try await api.expect(
                .ok, .get, "/api/workflows/\(workflow)/triggers/schedule/preview?trigger_id=\(id)&dst_gap=&timezone=America/New_York&after=2024-03-09T12:00:00Z&count=1")
            #expect(plain.list("next_runs").first?["utc"] == "2024-03-10T07:00:00Z" && plain["dst_policy"] == .null)
        }
    }
}
