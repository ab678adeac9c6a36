import FlowForgeShared
import Foundation
import PostgresNIO
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Executions, auth, health and preview routes")
struct ExecutionAndAccessTests {
    @Test("executions list newest first, filter, and page with before_id")
    func listAndFilter() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            var ids: [Int64] = []
            for workflow in [a, b, a, b, a] {
                ids.append(try #require(try await api.expect(.created, .post, "/api/workflows/\(workflow)/run")["id"]?.intValue))
            }
            let all = try await api.expect(.ok, .get, "/api/executions")
            #expect(all.list("executions").map { $0["id"]?.intValue } == ids.reversed())
            #expect(all["next_before_id"] == .null)
            let onlyA = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(a)")
            #expect(onlyA.list("executions").map { $0["id"]?.intValue } == [ids[4], ids[2], ids[0]])
            let page = try await api.expect(.ok, .get, "/api/executions?limit=2")
            #expect(page.list("executions").map { $0["id"]?.intValue } == [ids[4], ids[3]])
            #expect(page["next_before_id"]?.intValue == ids[3])
            let next = try await api.expect(.ok, .get, "/api/executions?limit=2&before_id=\(ids[3])")
            #expect(next.list("executions").map { $0["id"]?.intValue } == [ids[2], ids[1]])
            #expect(try await api.expect(.ok, .get, "/api/executions?trigger_type=manual&status=queued").list("executions").count == 5)
            #expect(try await api.expect(.ok, .get, "/api/executions?trigger_type=scheduled").list("executions").isEmpty)
            for bad in ["status=done", "trigger_type=cron", "limit=0", "before_id=x", "workflow_id=-1", "limit=1&limit=2"] {
                let (status, body) = try await api.call(.get, "/api/executions?\(bad)")
                #expect(status == .badRequest, "\(bad)")
                #expect(body["error"]?.stringValue?.hasPrefix("query parameter") == true, "\(bad): \(body)")
            }
        }
    }

    @Test("an execution answers with every field of DESIGN.md")
    func executionShape() async throws {
        try await withAPI { api in
            let id = try await api.workflow("shape")
            let run = try await api.expect(.created, .post, "/api/workflows/\(id)/run")
            let fetched = try await api.expect(.ok, .get, "/api/executions/\(run["id"]!.intValue!)")
            let keys = Set(fetched.objectValue?.keys.map { $0 } ?? [])
            let expected: Set<String> = [
                "id", "workflow_id", "workflow_name", "trigger_id", "trigger_type", "trigger_name", "status", "scheduled_for",
                "queued_at", "started_at", "finished_at", "attempt", "worker_id", "upstream_execution_id", "error", "steps",
            ]
            #expect(expected.isSubset(of: keys), "missing: \(expected.subtracting(keys))")
            #expect(fetched["steps"] == [])
            #expect(fetched["trigger_name"] == "Run now")
            let queuedAt = try #require(fetched["queued_at"]?.stringValue)
            #expect(queuedAt.hasSuffix("Z"))
            #expect(Timestamp.parse(queuedAt) != nil)
            #expect(try await api.call(.get, "/api/executions/424242").status == .notFound)
        }
    }

    @Test("lists answer each step's summary with output_bytes and no output; one execution keeps every byte of its output")
    func stepSummaries() async throws {
        try await withAPI { api in
            let workflowId = try await api.workflow("big-output")
            let triggerId = try await api.scheduledTrigger(workflowId, cron: "0 2 * * *")
            func step(_ name: String, _ extra: [String: JSONValue]) -> JSONValue {
                var fields: [String: JSONValue] = [
                    "name": .string(name), "status": "completed", "exit_code": 0,
                    "started_at": "2026-01-15T10:00:01Z", "finished_at": "2026-01-15T10:00:02Z",
                ]
                fields.merge(extra) { _, new in new }
                return .object(fields)
            }
            let big = String(repeating: "0123456789abcdef", count: 4_096)  // 64 KiB
            let accented = String(repeating: "é", count: 1_000)  // 2,000 bytes of UTF-8
            // As workers before output counting wrote steps: the output alone.
            let oldSteps: JSONValue = [
                step("extract", ["output": .string(big)]), step("accents", ["output": .string(accented)]),
                step("quiet", ["output": ""]), step("broken", ["status": "failed", "exit_code": 3, "output": .string(big)]),
            ]
            // As they write them now: what was printed, what was kept, and binary output as base64.
            let newSteps: JSONValue = [
                step("loud", ["output": .string(big), "output_bytes": 3_000_000, "output_truncated": true, "output_binary": false]),
                step("binary", ["output": "a\u{FFFD}b", "output_base64": "YQBi", "output_bytes": 3, "output_truncated": false, "output_binary": true]),
            ]
            var ids: [Int64] = []
            for steps in [oldSteps, newSteps] {
                let row = try await api.postgres.query(
                    """
                    INSERT INTO flowforge.executions (workflow_id, workflow_name, trigger_id, trigger_type, trigger_name, status,
                        scheduled_for, started_at, finished_at, cascaded_at, steps)
                    VALUES (\(workflowId), 'big-output', \(triggerId), 'scheduled', 'nightly', 'completed',
                        \(testNow.addingTimeInterval(-3_600 * Double(ids.count + 1))), now(), now(), now(), \(steps))
                    RETURNING id
                    """)
                for try await id in row.decode(Int64.self) { ids.append(id) }
            }
            // A run's steps written after it was created, as a worker records its result.
            let manual = try #require(try await api.expect(.created, .post, "/api/workflows/\(workflowId)/run")["id"]?.intValue)
            try await api.postgres.query(
                "UPDATE flowforge.executions SET status = 'completed', started_at = now(), finished_at = now(), steps = \(oldSteps) WHERE id = \(manual)")
            ids.append(manual)

            let expectedOld: [JSONValue] = [
                step("extract", ["output_bytes": 65_536]), step("accents", ["output_bytes": 2_000]), step("quiet", ["output_bytes": 0]),
                step("broken", ["status": "failed", "exit_code": 3, "output_bytes": 65_536]),
            ]
            let expectedNew: [JSONValue] = [
                step("loud", ["output_bytes": 3_000_000, "output_truncated": true, "output_binary": false]),
                step("binary", ["output_bytes": 3, "output_truncated": false, "output_binary": true]),
            ]
            let list = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(workflowId)").list("executions")
            #expect(list.map { $0["id"]?.intValue } == [ids[2], ids[1], ids[0]])
            #expect(list.map { $0.list("steps") } == [expectedOld, expectedNew, expectedOld])
            let history = try await api.expect(.ok, .get, "/api/workflows/\(workflowId)/triggers/\(triggerId)/history").list("executions")
            #expect(history.map { $0["id"]?.intValue } == [ids[1], ids[0]])
            #expect(history.map { $0.list("steps") } == [expectedNew, expectedOld])
            let page = try await api.call(.get, "/api/executions?limit=200")
            #expect(page.body.encoded().count < 16_000, "a page of three runs with 320 KiB of output is not small")

            // The run itself still has every byte.
            let one = try await api.expect(.ok, .get, "/api/executions/\(ids[0])")
            #expect(one["steps"] == oldSteps)
            #expect(one.list("steps").first?["output"]?.stringValue?.utf8.count == 65_536)
            #expect(try await api.expect(.ok, .get, "/api/executions/\(ids[1])")["steps"] == newSteps)
            #expect(try await api.expect(.ok, .get, "/api/executions/\(manual)")["steps"] == oldSteps)
        }
    }

    @Test("cancel stops a queued run at once; a finished run cannot be cancelled")
    func cancel() async throws {
        try await withAPI { api in
            let id = try await api.workflow("c")
            let run = try await api.expect(.created, .post, "/api/workflows/\(id)/run")
            let executionId = try #require(run["id"]?.intValue)
            let cancelled = try await api.expect(.ok, .post, "/api/executions/\(executionId)/cancel")
            #expect(cancelled["status"] == "cancelled")
            #expect(cancelled["finished_at"] != .null)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 0)
            let (status, body) = try await api.call(.post, "/api/executions/\(executionId)/cancel")
            #expect(status == .conflict)
            #expect(body["error"] == .string("execution \(executionId) has already finished (cancelled); there is nothing to cancel"))
            #expect(try await api.call(.post, "/api/executions/999999/cancel").status == .notFound)
        }
    }

    @Test("every /api route needs a valid bearer token")
    func auth() async throws {
        try await withAPI { api in
            let routes: [(HTTPRequest.Method, String)] = [
                (.get, "/api/workflows"), (.post, "/api/workflows"), (.get, "/api/workflows/1"), (.put, "/api/workflows/1"),
                (.delete, "/api/workflows/1"), (.post, "/api/workflows/1/run"), (.get, "/api/workflows/1/triggers"),
                (.post, "/api/workflows/1/triggers"), (.get, "/api/workflows/1/triggers/1"), (.patch, "/api/workflows/1/triggers/1/enable"),
                (.get, "/api/workflows/1/triggers/1/history"), (.get, "/api/workflows/1/triggers/dependencies"),
                (.get, "/api/workflows/available-upstream"), (.post, "/api/workflows/1/triggers/validate-dependency"),
                (.get, "/api/schedule/preview?cron=*%20*%20*%20*%20*"), (.get, "/api/executions"), (.get, "/api/executions/1"),
                (.post, "/api/executions/1/cancel"), (.get, "/api/graph"),
            ]
            for (method, path) in routes {
                for token in [nil, "wrong-token-0123456789", testToken + "x", String(testToken.dropLast())] {
                    let (status, body) = try await api.call(method, path, token: token)
                    #expect(status == .unauthorized, "\(method) \(path) with \(token ?? "no token")")
                    #expect(body["error"] == "a valid API token is required: send the header Authorization: Bearer <token>")
                }
            }
            #expect(try await api.call(.get, "/api/workflows").status == .ok)
            // Nothing was created by the refused requests.
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflows", as: Int64.self) == 0)
        }
    }

    @Test("health, readiness and the OpenAPI document need no token")
    func openEndpoints() async throws {
        try await withAPI { api in
            let health = try await api.call(.get, "/healthz", token: nil)
            #expect(health.status == .ok)
            #expect(health.body == ["status": "ok"])
            // A connection first: opening one (SCRAM in a debug build, on a busy machine) can
            // take longer than the readiness check's two seconds, which is about the database
            // answering, not about how fast a cold pool connects.
            _ = try await api.scalar("SELECT 1", as: Int32.self)
            let ready = try await api.call(.get, "/readyz", token: nil)
            #expect(ready.status == .ok)
            #expect(ready.body["database"] == "ok")
            let spec = try await api.call(.get, "/openapi.yaml", token: nil)
            #expect(spec.status == .ok)
            let text = try #require(spec.body.stringValue)
            #expect(text.hasPrefix("openapi: 3.1"))
            for path in ["/api/workflows:", "/api/workflows/{id}/triggers/{triggerId}:", "/api/schedule/preview:", "/api/graph:"] {
                #expect(text.contains(path), "\(path) missing from openapi.yaml")
            }
            #expect(!text.contains(testToken))
        }
    }

    @Test("unknown routes and methods answer JSON 4xx errors")
    func unknownRoutes() async throws {
        try await withAPI { api in
            let (status, body) = try await api.call(.get, "/api/nothing-here")
            #expect(status == .notFound)
            #expect(body["error"] != nil)
            let (methodStatus, _) = try await api.call(.patch, "/api/workflows")
            #expect([404, 405].contains(methodStatus.code))
        }
    }

    @Test("a route asked with a method it lacks answers 405 with Allow; OPTIONS lists the methods; HEAD follows GET")
    func methodNotAllowed() async throws {
        try await withAPI { api in
            let headers: HTTPFields = [.authorization: "Bearer \(testToken)"]
            let cases: [(HTTPRequest.Method, String, String)] = [
                (.patch, "/api/workflows", "GET, HEAD, OPTIONS, POST"),
                (.trace, "/healthz", "GET, HEAD, OPTIONS"),
                (.post, "/api/workflows/available-upstream", "GET, HEAD, OPTIONS"),
                (.get, "/api/workflows/1/run", "OPTIONS, POST"),
                (.delete, "/api/executions/abc", "GET, HEAD, OPTIONS"),
            ]
            for (method, uri, allow) in cases {
                let response = try await api.client.execute(uri: uri, method: method, headers: headers, body: nil)
                #expect(response.status == .methodNotAllowed, "\(method) \(uri)")
                #expect(response.headers[.allow] == allow, "\(method) \(uri)")
                let body = try JSONValue.parse(Data(response.body.readableBytesView))
                #expect(body["error"] == .string("\(uri) does not accept \(method.rawValue); it accepts \(allow)"))
            }
            let options = try await api.client.execute(uri: "/api/workflows/1", method: .options, headers: headers, body: nil)
            #expect(options.status == .noContent)
            #expect(options.headers[.allow] == "DELETE, GET, HEAD, OPTIONS, PUT")
            let head = try await api.client.execute(uri: "/healthz", method: .head, headers: [:], body: nil)
            #expect(head.status == .ok)
            #expect(head.body.readableBytes == 0)
            let (status, _) = try await api.call(.patch, "/api/nothing-here")
            #expect(status == .notFound)
        }
    }

    @Test("schedule preview: next runs with UTC, local time and DST markers")
    func preview() async throws {
        try await withAPI { api in
            let body = try await api.expect(
                .ok, .get, "/api/schedule/preview?cron=30%202%20*%20*%20*&timezone=America/New_York&count=3&after=2026-03-07T12:00:00Z")
            #expect(body["cron"] == "30 2 * * *")
            #expect(body["timezone"] == "America/New_York")
            #expect(body["description"] == "At 02:30")
            let runs = body.list("next_runs")
            #expect(runs.count == 3)
            // 2026-03-08 02:30 does not exist in New York (02:00 EST jumps to 03:00 EDT): it fires once, at 03:00 EDT.
            #expect(runs[0] == ["utc": "2026-03-08T07:00:00Z", "local": "2026-03-08T03:00:00-04:00", "dst_adjusted": true])
            #expect(runs[1] == ["utc": "2026-03-09T06:30:00Z", "local": "2026-03-09T02:30:00-04:00", "dst_adjusted": false])
            #expect(runs[2]["utc"] == "2026-03-10T06:30:00Z")
            // A form-encoded space (+) reads as a space.
            let plus = try await api.expect(.ok, .get, "/api/schedule/preview?cron=30+2+*+*+*&count=1")
            #expect(plus["cron"] == "30 2 * * *")
            #expect(plus.list("next_runs").first?["utc"] == "2026-01-16T02:30:00Z")
            let defaults = try await api.expect(.ok, .get, "/api/schedule/preview?cron=@hourly")
            #expect(defaults["timezone"] == "UTC")
            #expect(defaults.list("next_runs").count == 5)
            #expect(defaults.list("next_runs").first?["utc"] == "2026-01-15T11:00:00Z")

            let id = try await api.workflow("w")
            let scoped = try await api.expect(.ok, .get, "/api/workflows/\(id)/triggers/schedule/preview?cron=0%202%20*%20*%20*&count=1")
            #expect(scoped.list("next_runs").first?["utc"] == "2026-01-16T02:00:00Z")
            #expect(try await api.call(.get, "/api/workflows/9999/triggers/schedule/preview?cron=@daily").status == .notFound)

            let bad: [(String, String)] = [
                ("", "query parameter cron is required"),
                ("cron=61%20*%20*%20*%20*", "cron: minute: 61 is outside 0-59"),
                ("cron=@daily&count=0", "query parameter count must be a whole number from 1 to 100"),
                ("cron=@daily&count=101", "query parameter count must be a whole number from 1 to 100"),
                ("cron=@daily&timezone=Nowhere/Land", "timezone: \"Nowhere/Land\" is not a known IANA time zone"),
                ("cron=@daily&timezone=%2B05:30", "timezone: \"+05:30\" is not a known IANA time zone"),
                ("cron=@daily&after=yesterday", "query parameter after must be an RFC 3339 time"),
                ("cron=@reboot", "cron: "),
            ]
            for (query, message) in bad {
                let (status, answer) = try await api.call(.get, "/api/schedule/preview?\(query)")
                #expect(status == .badRequest, "\(query)")
                #expect(answer["error"]?.stringValue?.hasPrefix(message) == true, "\(query): \(answer)")
            }
        }
    }
}
