@testable import FlowForgeScheduler
import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

/// Run parameters and reruns (issue 22, item 3) against real PostgreSQL: the parameters reach
/// a real shell step through a file and the environment, triggers give theirs to every run they
/// create, a rerun repeats a run's parameters, and bad parameters change nothing.
@Suite("Run parameters")
struct RunParamsTests {
    /// A shell step that prints the parameters file, its mode, the parameter variables and the
    /// variables a parameter must not be able to replace.
    static let printer: JSONValue = [
        "name": "print",
        "steps": [[
            "name": "print", "kind": "shell",
            "command": [
                "sh", "-c",
                #"cat "$FLOWFORGE_PARAMS_FILE"; echo; stat -c %a "$FLOWFORGE_PARAMS_FILE"; echo "$FLOWFORGE_PARAMS_FILE"; env | grep '^FLOWFORGE_PARAM_' | LC_ALL=C sort; echo "PATH=$PATH"; echo "ID=$FLOWFORGE_EXECUTION_ID""#,
            ],
        ]],
    ]

    static func output(_ execution: JSONValue) -> [String] {
        (execution.list("steps").first?["output"]?.stringValue ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test("a shell step reads the parameters from FLOWFORGE_PARAMS_FILE (mode 600, gone after the run) and FLOWFORGE_PARAM_<NAME>; none replaces another variable")
    func reachShellStep() async throws {
        try await withAPI(services: WorkerTests.worker()) { api in
            let workflow = try await api.expect(.created, .post, "/api/workflows", json: Self.printer)
            let params: JSONValue = [
                "date": "2024-01-01", "limit": 100, "ratio": .double(2.5), "flags": ["full": true], "dry": false,
                "PATH": "/nowhere", "EXECUTION_ID": "x", "S_FILE": "y", "note": "two words; $(no) `subst`",
            ]
            let run = try await api.expect(.created, .post, "/api/workflows/\(workflow["id"]!.intValue!)/run", json: ["params": params])
            #expect(run["params"] == params && run["rerun_of"] == .null)
            let id = try #require(run["id"]?.intValue)
            let done = try await WorkerTests.finished(api, id)
            #expect(done["status"] == "completed", "\(done)")
            #expect(done["params"] == params)
            let lines = Self.output(done)
            #expect(lines.count == 13, "\(lines)")
            guard lines.count == 13 else { return }
            #expect(try JSONValue.parse(Array(lines[0].utf8)) == params)
            #expect(lines[1] == "600")
            let path = lines[2]
            #expect(path.contains("flowforge-params-\(id)-"))
            #expect(!FileManager.default.fileExists(atPath: path), "the parameters file outlived its run")
            // Strings and numbers, upper-cased; booleans and objects only in the file.
            #expect(Array(lines[3..<10]) == [
                "FLOWFORGE_PARAM_DATE=2024-01-01",
                "FLOWFORGE_PARAM_EXECUTION_ID=x",
                "FLOWFORGE_PARAM_LIMIT=100",
                "FLOWFORGE_PARAM_NOTE=two words; $(no) `subst`",
                "FLOWFORGE_PARAM_PATH=/nowhere",
                "FLOWFORGE_PARAM_RATIO=2.5",
                "FLOWFORGE_PARAM_S_FILE=y",
            ], "\(lines)")
            // PATH and FlowForge's own variables are FlowForge's.
            #expect(lines[10].hasPrefix("PATH=/") && lines[10] != "PATH=/nowhere")
            #expect(lines[11] == "ID=\(id)")

            // A run without parameters still has the file, holding {}, and no FLOWFORGE_PARAM_ variable.
            let plain = try await api.expect(.created, .post, "/api/workflows/\(workflow["id"]!.intValue!)/run")
            #expect(plain["params"] == [:])
            let plainDone = try await WorkerTests.finished(api, try #require(plain["id"]?.intValue))
            let plainLines = Self.output(plainDone)
            #expect(plainLines.first == "{}")
            #expect(!plainLines.contains { $0.hasPrefix("FLOWFORGE_PARAM_") })
        }
    }

    @Test("a trigger's params default every run it creates: scheduled (ticker and backfill), dependency and webhook")
    func triggerDefaults() async throws {
        try await withAPI { api in
            let params: JSONValue = ["region": "eu", "batch": 7]
            let workflow = try await api.workflow("nightly")
            let scheduled = try await api.expect(
                .created, .post, "/api/workflows/\(workflow)/triggers",
                json: ["trigger_type": "scheduled", "cron_expression": "*/5 * * * *", "params": params])
            #expect(scheduled["params"] == params)
            let scheduledId = try #require(scheduled["id"]?.intValue)
            #expect(try await api.expect(.ok, .get, "/api/workflows/\(workflow)/triggers/\(scheduledId)")["params"] == params)

            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            #expect(try await store.fireDueTriggers(now: testNow.addingTimeInterval(301)) == 1)
            let backfill = try await api.expect(
                .ok, .post, "/api/workflows/\(workflow)/triggers/\(scheduledId)/backfill",
                json: ["from": "2026-01-15T09:00:00Z", "to": "2026-01-15T09:30:00Z"])
            #expect(backfill["created"] == 6)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE trigger_id = \(scheduledId) AND params = \(params)") == 7)

            // Another trigger without params: its runs have none.
            let upstream = try await api.workflow("upstream")
            let dependency = try await api.call(
                .post, "/api/workflows/\(workflow)/triggers",
                json: ["trigger_type": "dependency", "depends_on_workflow_id": .int(upstream), "params": ["from_upstream": "yes"]])
            #expect(dependency.status == .created && dependency.body["params"] == ["from_upstream": "yes"])
            _ = try await SchedulerTests.finishedRun(api, workflow: upstream, status: "completed")
            #expect(try await store.cascade() == 1)
            let downstream = try await api.expect(.ok, .get, "/api/executions?trigger_type=dependency")
            #expect(downstream.list("executions").first?["params"] == ["from_upstream": "yes"])

            // A join's run too, once both its upstreams have finished.
            let other = try await api.workflow("other-upstream")
            let joined = try await api.workflow("joined")
            try await api.expect(
                .created, .post, "/api/workflows/\(joined)/triggers",
                json: ["trigger_type": "dependency", "depends_on_workflow_ids": [.int(upstream), .int(other)], "params": ["join": 1]])
            _ = try await SchedulerTests.finishedRun(api, workflow: upstream, status: "completed")
            _ = try await SchedulerTests.finishedRun(api, workflow: other, status: "completed")
            // The first finish also starts the single-upstream trigger's second run.
            #expect(try await store.cascade() == 2)
            #expect(try await api.count(#"SELECT count(*) FROM flowforge.executions WHERE workflow_id = \#(joined) AND params = '{"join": 1}'"#) == 1)

            let (_, hookTrigger, secret) = try await WebhookTests.webhook(api)
            try await api.expect(.ok, .put, "/api/workflows/\(try await Self.workflowOf(api, trigger: hookTrigger))/triggers/\(hookTrigger)",
                json: ["params": ["source": "hook"]])
            let delivered = try await api.hook(hookTrigger, body: Array(#"{"n":1}"#.utf8), secret: secret)
            #expect(delivered.status == .accepted && delivered.body["params"] == ["source": "hook"], "\(delivered)")

            // {} clears a trigger's params; later runs have none.
            let cleared = try await api.expect(.ok, .put, "/api/workflows/\(workflow)/triggers/\(scheduledId)", json: ["params": [:]])
            #expect(cleared["params"] == [:])
            #expect(try await api.scalar("SELECT params FROM flowforge.workflow_triggers WHERE id = \(scheduledId)", as: JSONValue?.self) == .some(nil))
        }
    }

    static func workflowOf(_ api: APIHarness, trigger: Int64) async throws -> Int64 {
        try #require(try await api.scalar("SELECT workflow_id FROM flowforge.workflow_triggers WHERE id = \(trigger)", as: Int64.self))
    }

    @Test("changing a scheduled trigger's params withdraws the run it created ahead, and the ticker makes it again with the new ones")
    func paramsChangeUpcoming() async throws {
        // The real clock: a run created ahead is one whose time the database has not reached.
        try await withAPI(clock: { Date() }) { api in
            let workflow = try await api.workflow("ahead")
            let trigger = try await api.expect(
                .created, .post, "/api/workflows/\(workflow)/triggers",
                json: ["trigger_type": "scheduled", "cron_expression": "0 3 * * *", "params": ["v": 1]])
            let triggerId = try #require(trigger["id"]?.intValue)
            let next = try #require(trigger["next_run_at"]?.stringValue.flatMap(Timestamp.parse))
            let store = SchedulerStore(client: api.postgres, logger: TestDatabase.logger)
            // 5 s before its time, with a 10 s look-ahead, the ticker creates the run ahead.
            #expect(try await store.fireDueTriggers(now: next.addingTimeInterval(-5), lookahead: 10) == 1)
            #expect(try await api.count(#"SELECT count(*) FROM flowforge.executions WHERE params = '{"v": 1}'"#) == 1)
            let edited = try await api.expect(.ok, .put, "/api/workflows/\(workflow)/triggers/\(triggerId)", json: ["params": ["v": 2]])
            #expect(edited["next_run_at"]?.stringValue == Timestamp.format(next))
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == 0)
            #expect(try await store.fireDueTriggers(now: next.addingTimeInterval(-4), lookahead: 10) == 1)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE params = \(JSONValue.object(["v": 2])) AND scheduled_for = \(next)") == 1)
        }
    }

    @Test("a rerun is a manual run of the same workflow with the same params and rerun_of; a body replaces them; unknown or deleted is 404")
    func rerun() async throws {
        try await withAPI { api in
            let workflow = try await api.workflow("again")
            let original = try await api.expect(.created, .post, "/api/workflows/\(workflow)/run", json: ["params": ["day": "2024-02-29"]])
            let originalId = try #require(original["id"]?.intValue)

            let rerun = try await api.expect(.created, .post, "/api/executions/\(originalId)/rerun")
            #expect(rerun["rerun_of"]?.intValue == originalId && rerun["params"] == ["day": "2024-02-29"])
            #expect(rerun["trigger_type"] == "manual" && rerun["workflow_id"]?.intValue == workflow && rerun["status"] == "queued")
            #expect(rerun["trigger_name"] == .string("Rerun of #\(originalId)"))
            let rerunId = try #require(rerun["id"]?.intValue)
            #expect(try await api.count("SELECT count(*) FROM flowforge.jobs WHERE execution_id = \(rerunId)") == 1)

            let replaced = try await api.expect(.created, .post, "/api/executions/\(originalId)/rerun", json: ["params": ["day": "2024-03-01"]])
            #expect(replaced["params"] == ["day": "2024-03-01"] && replaced["rerun_of"]?.intValue == originalId)
            let emptied = try await api.expect(.created, .post, "/api/executions/\(originalId)/rerun", json: ["params": [:]])
            #expect(emptied["params"] == [:])
            // A rerun of a rerun records the one it repeats.
            let second = try await api.expect(.created, .post, "/api/executions/\(rerunId)/rerun", json: [:])
            #expect(second["rerun_of"]?.intValue == rerunId && second["params"] == ["day": "2024-02-29"])

            let one = try await api.expect(.ok, .get, "/api/executions/\(rerunId)")
            #expect(one["rerun_of"]?.intValue == originalId && one["params"] == ["day": "2024-02-29"])
            let listed = try await api.expect(.ok, .get, "/api/executions?workflow_id=\(workflow)")
            #expect(listed.list("executions").map { $0["rerun_of"] } == [.int(rerunId), .int(originalId), .int(originalId), .int(originalId), .null])
            #expect(listed.list("executions").last?["params"] == ["day": "2024-02-29"])

            let unknown = try await api.expect(.notFound, .post, "/api/executions/999999/rerun")
            #expect(unknown["error"] == "execution 999999 does not exist")
            try await api.expect(.noContent, .delete, "/api/workflows/\(workflow)")
            let before = try await api.count("SELECT count(*) FROM flowforge.executions")
            let gone = try await api.expect(.notFound, .post, "/api/executions/\(originalId)/rerun")
            #expect(gone["error"] == .string("execution \(originalId) cannot be rerun: its workflow again (\(workflow)) was deleted"))
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == before)
        }
    }

    static let big = String(repeating: "x", count: 65_536)

    @Test("bad params are 400s naming the field, and change nothing", arguments: [
        (#"{"params": [1, 2]}"#, #"params must be an object of parameters, such as {"date": "2024-01-01"}, not an array"#),
        (#"{"params": "date=1"}"#, #"params must be an object of parameters, such as {"date": "2024-01-01"}, not a string"#),
        (#"{"params": {"1st": 1}}"#, "params.1st is not a valid parameter name: use letters, digits and underscores, not starting with a digit, at most 64 characters"),
        (#"{"params": {"my-date": 1}}"#, "params.my-date is not a valid parameter name: use letters, digits and underscores, not starting with a digit, at most 64 characters"),
        (#"{"params": {"": 1}}"#, "params. is not a valid parameter name: use letters, digits and underscores, not starting with a digit, at most 64 characters"),
        (#"{"params": {"Région": 1}}"#, "params.Région is not a valid parameter name: use letters, digits and underscores, not starting with a digit, at most 64 characters"),
        ("{\"params\": {\"\(String(repeating: "a", count: 65))\": 1}}",
         "params.\(String(repeating: "a", count: 65)) is not a valid parameter name: use letters, digits and underscores, not starting with a digit, at most 64 characters"),
        (#"{"params": {"day": 1, "DAY": 2}}"#, "params.day differs from params.DAY only in case: both would be FLOWFORGE_PARAM_DAY"),
        (#"{"params": {"a": "x\u0000y"}}"#, "params must not contain NUL characters"),
        ("{\"params\": {\"blob\": \"\(big)\"}}", "params must be at most 65536 bytes (64 KiB) as JSON, not 65547"),
        (#"{"parms": {}}"#, "parms is not a known field"),
        (#"[]"#, "request body must be a JSON object, not an array"),
    ])
    func refused(body: String, error: String) async throws {
        try await withAPI { api in
            let workflow = try await api.workflow("strict")
            let original = try await api.expect(.created, .post, "/api/workflows/\(workflow)/run", json: ["params": ["ok": 1]])
            let raw = try JSONValue.parse(Array(body.utf8))
            for route in ["/api/workflows/\(workflow)/run", "/api/executions/\(original["id"]!.intValue!)/rerun"] {
                let answer = try await api.expect(.badRequest, .post, route, json: raw)
                #expect(answer["error"] == .string(error), "\(route)")
            }
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions") == 1)
            // A trigger's params are checked the same way, under the trigger's own path.
            guard body.contains("params\":") else { return }
            let params = try #require(raw["params"])
            let trigger = try await api.expect(
                .badRequest, .post, "/api/workflows/\(workflow)/triggers",
                json: ["trigger_type": "scheduled", "cron_expression": "0 2 * * *", "params": params])
            #expect(trigger["error"] == .string(error))
            let nested = try await api.expect(
                .badRequest, .post, "/api/workflows",
                json: ["name": "n", "steps": [["name": "s", "kind": "noop"]], "triggers": [["trigger_type": "scheduled", "cron_expression": "0 2 * * *", "params": params]]])
            #expect(nested["error"] == .string(error.replacingOccurrences(of: "params", with: "triggers[0].params")))
            #expect(try await api.count("SELECT count(*) FROM flowforge.workflow_triggers") == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.workflows") == 1)
        }
    }

    @Test("Run now takes no body, {}, {\"params\": {}} or null params as no params; 64 KiB exactly is accepted")
    func accepted() async throws {
        try await withAPI { api in
            let workflow = try await api.workflow("lenient")
            for body: JSONValue? in [nil, [:], ["params": [:]], ["params": nil]] {
                let run = try await api.expect(.created, .post, "/api/workflows/\(workflow)/run", json: body)
                #expect(run["params"] == [:], "\(String(describing: body))")
            }
            // {"blob":"…"} is 11 bytes around the string.
            let exact: JSONValue = ["blob": .string(String(repeating: "x", count: 65_536 - 11))]
            #expect(exact.encoded().count == 65_536)
            #expect(try await api.expect(.created, .post, "/api/workflows/\(workflow)/run", json: ["params": exact])["params"] == exact)
            #expect(try await api.count("SELECT count(*) FROM flowforge.executions WHERE params IS NULL") == 4)
            try await api.expect(.notFound, .post, "/api/workflows/999999/run", json: ["params": ["a": 1]])
        }
    }
}
