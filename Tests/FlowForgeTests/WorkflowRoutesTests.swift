import FlowForgeShared
import Foundation
import PostgresNIO
import Hummingbird
import Testing

@Suite("Workflow routes")
struct WorkflowRoutesTests {
    @Test("creating a workflow fills DESIGN.md's defaults and echoes the steps")
    func createWithDefaults() async throws {
        try await withAPI { api in
            let body = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "customer-ingestion", "steps": [["name": "extract", "kind": "shell", "command": ["python3", "extract.py"]]]])
            #expect(body["name"] == "customer-ingestion")
            #expect(body["description"] == "")
            #expect(body["timeout_seconds"] == 3600)
            #expect(body["max_attempts"] == 1)
            #expect(body["retry_backoff_seconds"] == 30)
            #expect(body["max_concurrent_runs"] == 1)
            #expect(body["overlap_policy"] == "queue")
            #expect(body["trigger_count"] == 0)
            #expect(body["next_run_at"] == .null)
            #expect(body["last_execution"] == .null)
            #expect(body.list("triggers").isEmpty)
            let step = try #require(body.list("steps").first)
            #expect(step["kind"] == "shell")
            #expect(step["command"] == ["python3", "extract.py"])
            #expect(step["timeout_seconds"] == 600)
            #expect(step["env"] == [:])
        }
    }

    @Test("the full example of DESIGN.md round-trips field for field")
    func createDesignExample() async throws {
        try await withAPI { api in
            let example: JSONValue = [
                "name": "customer-ingestion", "description": "Nightly load",
                "steps": [
                    ["name": "extract", "kind": "shell", "command": ["python3", "extract.py"], "env": ["SOURCE": "s3"],
                     "working_directory": "/data", "timeout_seconds": 600],
                    ["name": "notify", "kind": "http", "method": "POST", "url": "http://127.0.0.1:9000/done",
                     "headers": ["Content-Type": "application/json"], "body": "{}", "expect_status": [200, 204], "timeout_seconds": 30],
                    ["name": "pause", "kind": "noop", "sleep_ms": 100],
                ],
                "timeout_seconds": 3600, "max_attempts": 1, "retry_backoff_seconds": 30, "max_concurrent_runs": 1, "overlap_policy": "queue",
            ]
            let created = try await api.expect(.created, .post, "/api/workflows", json: example)
            let id = try #require(created["id"]?.intValue)
            let fetched = try await api.expect(.ok, .get, "/api/workflows/\(id)")
            #expect(fetched["description"] == "Nightly load")
            let steps = fetched.list("steps")
            #expect(steps.count == 3)
            #expect(steps[0]["env"] == ["SOURCE": "s3"])
            #expect(steps[0]["working_directory"] == "/data")
            #expect(steps[1]["method"] == "POST")
            #expect(steps[1]["url"] == "http://127.0.0.1:9000/done")
            #expect(steps[1]["expect_status"] == [200, 204])
            #expect(steps[1]["body"] == "{}")
            #expect(steps[2]["sleep_ms"] == 100)
        }
    }

    static let invalidBodies: [(String, String)] = [
        (#"{"name": "a", "steps": [{"name": "x", "kind": "noop"}]"#, "request body is not valid JSON"),
        (#"[1, 2]"#, "request body must be a JSON object, not an array"),
        (#"{"steps": [{"name": "x", "kind": "noop"}]}"#, "name is required"),
        (#"{"name": "", "steps": [{"name": "x", "kind": "noop"}]}"#, "name must not be empty"),
        (#"{"name": 42, "steps": [{"name": "x", "kind": "noop"}]}"#, "name must be a string, not a number"),
        (#"{"name": " padded", "steps": [{"name": "x", "kind": "noop"}]}"#, "name must not start or end with spaces"),
        (#"{"name": "w"}"#, "steps is required: a workflow needs at least one step"),
        (#"{"name": "w", "steps": []}"#, "steps must contain at least one step"),
        (#"{"name": "w", "steps": {"name": "x"}}"#, "steps must be an array, not an object"),
        (#"{"name": "w", "steps": [42]}"#, "steps[0] must be a JSON object, not a number"),
        (#"{"name": "w", "steps": [{"name": "x"}]}"#, "steps[0].kind is required (shell, http or noop)"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "python"}]}"#, "steps[0].kind must be one of shell, http or noop"),
        (#"{"name": "w", "steps": [{"kind": "noop"}]}"#, "steps[0].name is required"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "shell"}]}"#, "steps[0].command is required for a shell step"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "shell", "command": []}]}"#, "steps[0].command must be a non-empty array of strings"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "shell", "command": "ls -l"}]}"#, "steps[0].command must be a non-empty array of strings"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "shell", "command": ["ls", 3]}]}"#, "steps[0].command must be a non-empty array of strings"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "shell", "command": ["ls"], "timeout_seconds": -5}]}"#, "steps[0].timeout_seconds must be between 1 and 604800, not -5"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "shell", "command": ["ls"], "env": {"FLOWFORGE_X": "1"}}]}"#, "steps[0].env.FLOWFORGE_X is reserved"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "shell", "command": ["ls"], "env": {"A": 1}}]}"#, "steps[0].env.A must be a string, not a number"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "http"}]}"#, "steps[0].url is required for an http step"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "http", "url": "ftp://x"}]}"#, "steps[0].url must be an absolute http:// or https:// URL"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "http", "url": "http://a", "expect_status": [99]}]}"#, "steps[0].expect_status must be a non-empty array of HTTP status codes"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "http", "url": "http://a", "method": "FETCH"}]}"#, "steps[0].method must be one of"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop", "sleep_ms": "10"}]}"#, "steps[0].sleep_ms must be a number, not a string"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop", "command": ["ls"]}]}"#, "steps[0].command is not a known field"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}, {"name": "x", "kind": "noop"}]}"#, "steps[1].name \"x\" is used by an earlier step"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}], "max_attempts": 0}"#, "max_attempts must be between 1 and 100, not 0"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}], "max_attempts": 1.5}"#, "max_attempts must be a whole number"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}], "timeout_seconds": 0}"#, "timeout_seconds must be between 1 and 604800, not 0"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}], "overlap_policy": "replace"}"#, "overlap_policy must be one of allow, queue or skip"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}], "max_concurrent_runs": 0}"#, "max_concurrent_runs must be between 1 and 1000, not 0"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}], "colour": "blue"}"#, "colour is not a known field"),
        (#"{"name": "w", "steps": [{"name": "x", "kind": "noop"}], "triggers": [{"trigger_type": "manual"}]}"#, "triggers[0].trigger_type must be one of scheduled, dependency or event"),
    ]

    @Test("bad workflow bodies answer 400 naming the field, and store nothing", arguments: invalidBodies)
    func rejectsInvalid(body: String, message: String) async throws {
        try await withAPI { api in
            let (status, answer) = try await api.call(.post, "/api/workflows", raw: body)
            #expect(status == .badRequest)
            let error = try #require(answer["error"]?.stringValue)
            #expect(error.hasPrefix(message), "got: \(error)")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflows", as: Int64.self) == 0)
        }
    }

    @Test("over-long names and bodies are refused with a clear 4xx")
    func limits() async throws {
        try await withAPI { api in
            let long = String(repeating: "n", count: 201)
            let (status, body) = try await api.call(.post, "/api/workflows", json: ["name": .string(long), "steps": [["name": "x", "kind": "noop"]]])
            #expect(status == .badRequest)
            #expect(body["error"] == "name must be at most 200 characters long")
            let exactly200 = String(repeating: "n", count: 200)
            try await api.expect(.created, .post, "/api/workflows", json: ["name": .string(exactly200), "steps": [["name": "x", "kind": "noop"]]])
            let huge = String(repeating: "x", count: 1_200_000)
            let (bigStatus, bigBody) = try await api.call(.post, "/api/workflows", raw: "{\"name\": \"\(huge)\"}")
            #expect(bigStatus == .contentTooLarge)
            #expect(bigBody["error"] == "request body is larger than 1 MiB")
            let (emptyStatus, emptyBody) = try await api.call(.post, "/api/workflows", raw: "")
            #expect(emptyStatus == .badRequest)
            #expect(emptyBody["error"] == "request body is empty: send a JSON object")
            let steps = JSONValue.array((0...100).map { .object(["name": .string("s\($0)"), "kind": "noop"]) })
            let (stepsStatus, stepsBody) = try await api.call(.post, "/api/workflows", json: ["name": "many", "steps": steps])
            #expect(stepsStatus == .badRequest)
            #expect(stepsBody["error"] == "steps must contain at most 100 steps")
        }
    }

    @Test("names are unique: a second workflow with the same name is a 409")
    func uniqueName() async throws {
        try await withAPI { api in
            _ = try await api.workflow("nightly")
            let (status, body) = try await api.call(.post, "/api/workflows", json: ["name": "nightly", "steps": [["name": "x", "kind": "noop"]]])
            #expect(status == .conflict)
            #expect(body["error"] == "a workflow named \"nightly\" already exists")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflows", as: Int64.self) == 1)
        }
    }

    @Test("PUT changes only the fields given and keeps the rest")
    func partialUpdate() async throws {
        try await withAPI { api in
            let id = try await api.workflow("report", extra: ["description": "old", "max_attempts": 3])
            let updated = try await api.expect(.ok, .put, "/api/workflows/\(id)", json: ["description": "new", "overlap_policy": "skip"])
            #expect(updated["description"] == "new")
            #expect(updated["overlap_policy"] == "skip")
            #expect(updated["max_attempts"] == 3)
            #expect(updated["name"] == "report")
            #expect(updated.list("steps").count == 1)

            let other = try await api.workflow("other")
            let (status, body) = try await api.call(.put, "/api/workflows/\(other)", json: ["name": "report"])
            #expect(status == .conflict)
            #expect(body["error"] == "a workflow named \"report\" already exists")
            let (badStatus, badBody) = try await api.call(.put, "/api/workflows/\(id)", json: ["steps": []])
            #expect(badStatus == .badRequest)
            #expect(badBody["error"] == "steps must contain at least one step")
            let unchanged = try await api.expect(.ok, .get, "/api/workflows/\(id)")
            #expect(unchanged["description"] == "new")
        }
    }

    @Test("a step's optional fields given as null count as omitted, so a step read back can be sent again")
    func nullStepOptions() async throws {
        try await withAPI { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: [
                    "name": "nulls",
                    "steps": [
                        ["name": "run", "kind": "shell", "command": ["true"], "env": nil, "working_directory": nil, "timeout_seconds": nil],
                        ["name": "call", "kind": "http", "url": "http://127.0.0.1:9/", "method": nil, "headers": nil, "body": nil,
                         "expect_status": nil, "timeout_seconds": nil],
                        ["name": "wait", "kind": "noop", "sleep_ms": nil],
                    ],
                ])
            let steps = created.list("steps")
            #expect(steps[0]["env"] == [:])
            #expect(steps[0]["timeout_seconds"] == 600)
            #expect(steps[1]["method"] == "GET")
            #expect(steps[1]["timeout_seconds"] == 30)
            #expect(steps[2]["sleep_ms"] == 0)
            let id = try #require(created["id"]?.intValue)
            let again = try await api.expect(.ok, .put, "/api/workflows/\(id)", json: ["steps": .array(steps)])
            #expect(again["steps"] == .array(steps))
            let (status, body) = try await api.call(
                .post, "/api/workflows", json: ["name": "x", "steps": [["name": "s", "kind": "shell", "command": nil]]])
            #expect(status == .badRequest)
            #expect(body["error"] == "steps[0].command is required for a shell step")
        }
    }

    @Test("ids that do not exist are 404s; ids that are not numbers are 400s")
    func missingAndMalformedIds() async throws {
        try await withAPI { api in
            for (method, path) in [(HTTPRequest.Method.get, "/api/workflows/999"), (.delete, "/api/workflows/999"), (.post, "/api/workflows/999/run")] {
                let (status, body) = try await api.call(method, path)
                #expect(status == .notFound)
                #expect(body["error"] == "workflow 999 does not exist")
            }
            let (putStatus, _) = try await api.call(.put, "/api/workflows/999", json: ["description": "x"])
            #expect(putStatus == .notFound)
            let (status, body) = try await api.call(.get, "/api/workflows/abc")
            #expect(status == .badRequest)
            #expect(body["error"] == "workflow id must be a positive whole number, not \"abc\"")
            let (negative, _) = try await api.call(.get, "/api/workflows/-4")
            #expect(negative == .badRequest)
        }
    }

    @Test("the list is paginated, ordered by name, and says how many there are")
    func pagination() async throws {
        try await withAPI { api in
            for name in ["charlie", "alpha", "bravo"] { _ = try await api.workflow(name) }
            let first = try await api.expect(.ok, .get, "/api/workflows?limit=2")
            #expect(first.list("workflows").map { $0["name"] } == ["alpha", "bravo"])
            #expect(first["total"] == 3)
            let second = try await api.expect(.ok, .get, "/api/workflows?limit=2&offset=2")
            #expect(second.list("workflows").map { $0["name"] } == ["charlie"])
            for bad in ["limit=0", "limit=-1", "limit=201", "offset=-3", "limit=ten"] {
                let (status, body) = try await api.call(.get, "/api/workflows?\(bad)")
                #expect(status == .badRequest, "\(bad)")
                #expect(body["error"]?.stringValue?.hasPrefix("query parameter") == true)
            }
        }
    }

    @Test("the list carries trigger count and the last execution")
    func listSummary() async throws {
        try await withAPI { api in
            let upstream = try await api.workflow("upstream")
            let id = try await api.workflow("downstream")
            #expect(try await api.dependency(id, on: upstream).status == .created)
            let run = try await api.expect(.created, .post, "/api/workflows/\(id)/run")
            let list = try await api.expect(.ok, .get, "/api/workflows")
            let entry = try #require(list.list("workflows").first { $0["id"]?.intValue == id })
            #expect(entry["trigger_count"] == 1)
            #expect(entry["next_run_at"] == .null)
            #expect(entry["last_execution"]?["id"] == run["id"])
            #expect(entry["last_execution"]?["status"] == "queued")
            #expect(entry["last_execution"]?["trigger_type"] == "manual")
        }
    }

    @Test("Run now creates a queued manual execution and its job")
    func runNow() async throws {
        try await withAPI { api in
            let id = try await api.workflow("adhoc")
            let execution = try await api.expect(.created, .post, "/api/workflows/\(id)/run")
            #expect(execution["trigger_type"] == "manual")
            #expect(execution["status"] == "queued")
            #expect(execution["workflow_id"]?.intValue == id)
            #expect(execution["workflow_name"] == "adhoc")
            #expect(execution["attempt"] == 1)
            #expect(execution["started_at"] == .null)
            let executionId = try #require(execution["id"]?.intValue)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs WHERE execution_id = \(executionId)", as: Int64.self) == 1)
        }
    }

    @Test("deleting a workflow removes its triggers and the dependency triggers on it; its history stays")
    func deleteCascades() async throws {
        try await withAPI { api in
            let a = try await api.workflow("a")
            let b = try await api.workflow("b")
            let c = try await api.workflow("c")
            #expect(try await api.dependency(b, on: a).status == .created)
            #expect(try await api.dependency(c, on: b).status == .created)
            let run = try await api.expect(.created, .post, "/api/workflows/\(b)/run")
            let (status, _) = try await api.call(.delete, "/api/workflows/\(b)")
            #expect(status == .noContent)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflow_triggers", as: Int64.self) == 0)
            #expect(try await api.expect(.ok, .get, "/api/workflows/\(c)/triggers").list("triggers").isEmpty)
            let history = try await api.expect(.ok, .get, "/api/executions/\(run["id"]!.intValue!)")
            #expect(history["workflow_name"] == "b")
            #expect(history["status"] == "cancelled")
            #expect(history["error"] == "the workflow was deleted")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 0)
            // The other workflows are untouched.
            #expect(try await api.expect(.ok, .get, "/api/workflows").list("workflows").map { $0["name"] } == ["a", "c"])
        }
    }
}
