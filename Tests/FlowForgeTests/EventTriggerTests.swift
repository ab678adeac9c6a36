import FlowForgeAPI
import FlowForgeScheduler
import FlowForgeShared
import FlowForgeWorker
import Foundation
import Hummingbird
import PostgresNIO
import ServiceLifecycle
import Testing

@Suite("Webhook triggers")
struct WebhookTests {
    /// A workflow with a webhook trigger; returns (workflow id, trigger id, secret).
    static func webhook(_ api: APIHarness, config: JSONValue? = nil, steps: JSONValue? = nil) async throws -> (Int64, Int64, String) {
        var trigger: [String: JSONValue] = ["trigger_type": "event", "event_type": "webhook"]
        if let config { trigger["event_config"] = config }
        let created = try await api.expect(
            .created, .post, "/api/workflows",
            json: ["name": "on-event", "steps": steps ?? [["name": "n", "kind": "noop"]], "triggers": [.object(trigger)]])
        let shown = try #require(created.list("triggers").first)
        let triggerId = try #require(shown["id"]?.intValue)
        #expect(shown["webhook_path"] == .string("/api/hooks/\(triggerId)"))
        let secret = try #require(shown["secret"]?.stringValue)
        return (try #require(created["id"]?.intValue), triggerId, secret)
    }

    static func runs(_ api: APIHarness) async throws -> Int64 {
        try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) ?? -1
    }

    @Test("a signed delivery starts one event run carrying its body; the secret is shown once and stored sealed")
    func signedDelivery() async throws {
        try await withAPI { api in
            let (workflow, triggerId, secret) = try await Self.webhook(api)
            #expect(secret.hasPrefix("whsec_") && secret.count == 70)
            // Never shown again, and not in the database in the clear.
            let again = try await api.expect(.ok, .get, "/api/workflows/\(workflow)/triggers/\(triggerId)")
            #expect(again["secret"] == nil)
            #expect(again["webhook_path"] == .string("/api/hooks/\(triggerId)"))
            let stored = try await api.scalar(
                "SELECT count(*) FROM flowforge.webhook_secrets WHERE position(\(ByteBuffer(string: secret)) IN sealed) > 0", as: Int64.self)
            #expect(stored == 0)

            let body = Array(#"{"action":"push","ref":"main"}"#.utf8)
            let (status, run) = try await api.hook(triggerId, body: body, secret: secret)
            #expect(status == .accepted)
            #expect(run["trigger_type"] == "event")
            #expect(run["trigger_id"]?.intValue == triggerId)
            #expect(run["trigger_name"] == "Webhook")
            #expect(run["status"] == "queued")
            let id = try #require(run["id"]?.intValue)
            let shown = try await api.expect(.ok, .get, "/api/executions/\(id)")
            #expect(shown["event"]?["payload"] == ["action": "push", "ref": "main"])
            #expect(shown["event"]?["payload_bytes"] == .int(Int64(body.count)))
            let raw = try await api.scalar("SELECT payload FROM flowforge.execution_events WHERE execution_id = \(id)", as: ByteBuffer.self)
            #expect(raw.map { Array($0.readableBytesView) } == body)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs WHERE execution_id = \(id)", as: Int64.self) == 1)
            // A body that is not JSON is kept as it is, and shown as null.
            let (_, plain) = try await api.hook(triggerId, body: Array("plain text".utf8), secret: secret)
            let plainRun = try await api.expect(.ok, .get, "/api/executions/\(plain["id"]!.intValue!)")
            #expect(plainRun["event"]?["payload"] == .null)
            #expect(plainRun["event"]?["payload_bytes"] == 10)
        }
    }

    @Test("bad deliveries are refused and start nothing: no, malformed, wrong or stale signature, replay, too large, unknown or disabled trigger")
    func rejections() async throws {
        try await withAPI { api in
            let (workflow, triggerId, secret) = try await Self.webhook(api)
            let body = Array(#"{"n":1}"#.utf8)
            let t = Int64(testNow.timeIntervalSince1970)
            let wrong = "whsec_" + String(repeating: "0", count: 64)
            let cases: [(String, (HTTPResponse.Status, JSONValue), HTTPResponse.Status, String)] = [
                ("no signature", try await api.hook(triggerId, body: body, signature: .some(nil)), .unauthorized,
                 "the X-FlowForge-Signature header is missing"),
                ("malformed", try await api.hook(triggerId, body: body, signature: "v1=abc"), .unauthorized,
                 "the X-FlowForge-Signature header must look like t=<unix seconds>,v1=<64 hex digits>"),
                ("wrong secret", try await api.hook(triggerId, body: body, secret: wrong), .unauthorized,
                 "the X-FlowForge-Signature does not match the body under any of the trigger's secrets"),
                ("body changed", try await api.hook(
                    triggerId, body: Array(#"{"n":2}"#.utf8),
                    signature: "t=\(t),v1=\(WebhookSignature.sign(body: body, timestamp: t, secret: Array(secret.utf8)))"), .unauthorized,
                 "the X-FlowForge-Signature does not match the body under any of the trigger's secrets"),
                ("too old", try await api.hook(triggerId, body: body, secret: secret, timestamp: testNow - 301), .unauthorized,
                 "the X-FlowForge-Signature timestamp is more than 5 minutes away from the server's clock"),
                ("too new", try await api.hook(triggerId, body: body, secret: secret, timestamp: testNow + 301), .unauthorized,
                 "the X-FlowForge-Signature timestamp is more than 5 minutes away from the server's clock"),
                ("unknown trigger", try await api.hook(triggerId + 1000, body: body, secret: secret), .notFound,
                 "no enabled webhook trigger has the id \"\(triggerId + 1000)\""),
                ("too large", try await api.hook(triggerId, body: Array(repeating: 0x20, count: 1_048_577), secret: secret), .contentTooLarge,
                 "the event body is larger than 1 MiB"),
            ]
            for (name, answer, status, message) in cases {
                #expect(answer.0 == status, "\(name): \(answer.0.code) \(answer.1)")
                #expect(answer.1["error"] == .string(message), "\(name)")
            }
            #expect(try await Self.runs(api) == 0)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.webhook_deliveries", as: Int64.self) == 0)

            // Taken once; the same signed delivery again (even with only part of its header) is a replay.
            let header = "t=\(t),v1=\(WebhookSignature.sign(body: body, timestamp: t, secret: Array(secret.utf8)))"
            #expect(try await api.hook(triggerId, body: body, signature: .some(header)).status == .accepted)
            let replay = try await api.hook(triggerId, body: body, signature: .some(header + ",v1=" + String(repeating: "ab", count: 32)))
            #expect(replay.status == .unauthorized)
            #expect(replay.body["error"] == "this X-FlowForge-Signature was already accepted: a delivery is taken once")
            #expect(try await api.hook(triggerId, body: body, signature: .some(header)).status == .unauthorized)
            #expect(try await Self.runs(api) == 1)

            // A disabled trigger answers like an unknown one.
            try await api.expect(.ok, .patch, "/api/workflows/\(workflow)/triggers/\(triggerId)/disable")
            let disabled = try await api.hook(triggerId, body: Array(#"{"n":3}"#.utf8), secret: secret)
            #expect(disabled.status == .notFound)
            #expect(disabled.body["error"] == .string("no enabled webhook trigger has the id \"\(triggerId)\""))
            // So does a trigger of another kind, and a path that is no id.
            let other = try await api.workflow("scheduled", extra: ["triggers": [["trigger_type": "scheduled", "cron_expression": "0 2 * * *"]]])
            let scheduledTrigger = try #require(
                try await api.expect(.ok, .get, "/api/workflows/\(other)/triggers").list("triggers").first?["id"]?.intValue)
            #expect(try await api.hook(scheduledTrigger, body: body, secret: secret).status == .notFound)
            let (status, _) = try await api.call(.post, "/api/hooks/abc", raw: "{}", token: nil)
            #expect(status == .notFound)
            #expect(try await Self.runs(api) == 1)
        }
    }

    @Test("a filter: a matching event starts a run, another is recorded and starts nothing")
    func filter() async throws {
        try await withAPI { api in
            let (_, triggerId, secret) = try await Self.webhook(
                api, config: ["filter": [["pointer": "/action", "equals": "published"], ["pointer": "/release/draft", "equals": false]]])
            let matching = try await api.hook(
                triggerId, body: Array(#"{"action":"published","release":{"draft":false,"tag":"v1"}}"#.utf8), secret: secret)
            #expect(matching.status == .accepted)
            #expect(matching.body["status"] == "queued")
            for other in [#"{"action":"created","release":{"draft":false}}"#, #"{"action":"published","release":{"draft":true}}"#, "not json"] {
                let answer = try await api.hook(triggerId, body: Array(other.utf8), secret: secret)
                #expect(answer.status == .accepted)
                #expect(answer.body["filtered"] == true)
                #expect(answer.body["execution_id"] == .null)
            }
            #expect(try await Self.runs(api) == 1)
            #expect(try await api.scalar(
                "SELECT count(*) FROM flowforge.webhook_deliveries WHERE execution_id IS NULL", as: Int64.self) == 3)
        }
    }

    @Test("rotate-secret: the new secret works at once, the old one for its grace period only")
    func rotation() async throws {
        try await withAPI { api in
            let (workflow, triggerId, old) = try await Self.webhook(api)
            let rotated = try await api.expect(.ok, .post, "/api/workflows/\(workflow)/triggers/\(triggerId)/rotate-secret")
            let new = try #require(rotated["secret"]?.stringValue)
            #expect(new != old && new.hasPrefix("whsec_"))
            #expect(rotated["previous_secrets_expire_at"]?.stringValue != nil)
            #expect(try await api.hook(triggerId, body: Array("1".utf8), secret: new).status == .accepted)
            #expect(try await api.hook(triggerId, body: Array("2".utf8), secret: old).status == .accepted)
            // A rotation with no grace ends every earlier secret now.
            let again = try await api.expect(
                .ok, .post, "/api/workflows/\(workflow)/triggers/\(triggerId)/rotate-secret", json: ["grace_seconds": 0])
            let newest = try #require(again["secret"]?.stringValue)
            #expect(try await api.hook(triggerId, body: Array("3".utf8), secret: old).status == .unauthorized)
            #expect(try await api.hook(triggerId, body: Array("4".utf8), secret: new).status == .unauthorized)
            #expect(try await api.hook(triggerId, body: Array("5".utf8), secret: newest).status == .accepted)
            let bad = try await api.call(.post, "/api/workflows/\(workflow)/triggers/\(triggerId)/rotate-secret", json: ["grace_seconds": -1])
            #expect(bad.status == .badRequest)
            #expect(bad.body["error"] == "grace_seconds must be between 0 and 604800, not -1")
            let scheduled = try await api.expect(
                .created, .post, "/api/workflows/\(workflow)/triggers", json: ["trigger_type": "scheduled", "cron_expression": "0 2 * * *"])
            let notWebhook = try await api.call(.post, "/api/workflows/\(workflow)/triggers/\(scheduled["id"]!.intValue!)/rotate-secret")
            #expect(notWebhook.status == .badRequest)
        }
    }

    @Test("without FLOWFORGE_SECRET_KEY the API refuses to create webhook triggers, and says why")
    func needsSecretKey() async throws {
        try await withAPI(secretBox: nil) { api in
            let id = try await api.workflow("plain")
            let answer = try await api.call(
                .post, "/api/workflows/\(id)/triggers", json: ["trigger_type": "event", "event_type": "webhook"])
            #expect(answer.status == .conflict)
            #expect(answer.body["error"]
                == "webhook triggers need FLOWFORGE_SECRET_KEY on the API (32 random bytes: openssl rand -hex 32), and it is not set")
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflow_triggers", as: Int64.self) == 0)
        }
    }

    @Test("event_config is checked per event type, naming the field")
    func eventConfigValidation() async throws {
        try await withAPI { api in
            let id = try await api.workflow("events")
            let cases: [(JSONValue, String)] = [
                (["event_type": "file_arrival"],
                 #"event_config is required for a file_arrival trigger: {"directory": "/data/incoming", "pattern": "*.csv"}"#),
                (["event_type": "file_arrival", "event_config": ["pattern": "*.csv"]],
                 "event_config.directory is required: the absolute path of the folder to watch"),
                (["event_type": "file_arrival", "event_config": ["directory": "incoming"]],
                 "event_config.directory must be an absolute path (starting with /)"),
                (["event_type": "file_arrival", "event_config": ["directory": "/in", "pattern": "a/*.csv"]],
                 "event_config.pattern matches file names only and must not contain /"),
                (["event_type": "file_arrival", "event_config": ["directory": "/in", "min_quiet_seconds": 90_000]],
                 "event_config.min_quiet_seconds must be between 0 and 86400, not 90000"),
                (["event_type": "file_arrival", "event_config": ["directory": "/in", "recursive": true]],
                 "event_config.recursive is not a known field"),
                (["event_type": "webhook", "event_config": ["filter": [["pointer": "action", "equals": 1]]]],
                 "event_config.filter[0].pointer must be a JSON pointer: empty, or /-separated keys such as /repository/name"),
                (["event_type": "webhook", "event_config": ["filter": [["pointer": "/action"]]]],
                 "event_config.filter[0].equals is required: the value to compare with"),
                (["event_type": "webhook", "event_config": ["filter": "x"]], "event_config.filter must be an array, not a string"),
            ]
            for (fields, message) in cases {
                guard case .object(var body) = fields else { continue }
                body["trigger_type"] = "event"
                let answer = try await api.call(.post, "/api/workflows/\(id)/triggers", json: .object(body))
                #expect(answer.status == .badRequest, "\(fields)")
                #expect(answer.body["error"] == .string(message))
            }
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.workflow_triggers", as: Int64.self) == 0)
            let created = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers",
                json: ["trigger_type": "event", "event_type": "file_arrival", "event_config": ["directory": "/data/in/", "pattern": "*.csv"]])
            let changed = try await api.call(
                .put, "/api/workflows/\(id)/triggers/\(created["id"]!.intValue!)", json: ["event_type": "webhook"])
            #expect(changed.status == .badRequest)
            #expect(changed.body["error"] == "event_type cannot be changed from file_arrival to webhook; create a new trigger instead")
        }
    }

    @Test("a step reads the event from a file, byte for byte; nothing in it is ever run")
    func payloadNeverExecuted() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ff-payload-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let canary = "\(scratch)/pwned"
        let payload = Array(
            "{\"cmd\":\"$(touch \(canary))\",\"tick\":\"`touch \(canary)`\",\"quote\":\"'\\\"; touch \(canary); echo '\",\"nl\":\"a\\nb\"}\n$(touch \(canary))\n".utf8)
        try await withAPI(services: WorkerTests.worker()) { api in
            let (_, triggerId, secret) = try await Self.webhook(
                api,
                steps: [["name": "keep", "kind": "shell",
                         "command": ["sh", "-c", .string("cp \"$FLOWFORGE_EVENT_PAYLOAD_FILE\" \(scratch)/copy && echo \"$FLOWFORGE_TRIGGER_TYPE\"")]]])
            let (status, run) = try await api.hook(triggerId, body: payload, secret: secret)
            #expect(status == .accepted)
            let finished = try await WorkerTests.finished(api, try #require(run["id"]?.intValue))
            #expect(finished["status"] == "completed")
            #expect(finished.list("steps").first?["output"] == "event\n")
            #expect(FileManager.default.contents(atPath: "\(scratch)/copy").map(Array.init) == payload)
            #expect(!FileManager.default.fileExists(atPath: canary))
            // The payload file is removed once the run is over.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
                .filter { $0.hasPrefix("flowforge-event-\(run["id"]!.intValue!)-") }
            #expect(leftovers.isEmpty)
        }
    }
}

@Suite("File-arrival triggers")
struct FileArrivalTests {
    static func scheduler(scan: Duration = .milliseconds(200)) -> SchedulerService.Config {
        var config = SchedulerService.Config()
        config.fileScanInterval = scan
        return config
    }

    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ff-arrivals-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func waitFor(_ api: APIHarness, runs expected: Int64, seconds: Int = 30) async throws -> Int64 {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var count: Int64 = -1
        while ContinuousClock.now < deadline {
            count = try await api.scalar("SELECT count(*) FROM flowforge.executions WHERE trigger_type = 'event'", as: Int64.self) ?? -1
            if count >= expected { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return count
    }

    @Test("two schedulers watching one folder: 200 files start 200 runs, one per file")
    func twoSchedulers() async throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let services: @Sendable (PostgresClient) -> [any Service] = { postgres in
            (0..<2).map { _ in SchedulerService(postgres: postgres, config: Self.scheduler(), logger: TestDatabase.logger) }
        }
        try await withAPI(clock: Date.init, services: services) { api in
            let id = try await api.workflow("ingest")
            try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers",
                json: ["trigger_type": "event", "event_type": "file_arrival", "event_config": ["directory": .string(directory), "pattern": "*.csv"]])
            for index in 0..<200 {
                try Data("row \(index)\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/part-\(index).csv"))
            }
            try Data("ignored".utf8).write(to: URL(fileURLWithPath: "\(directory)/notes.txt"))
            let started = try await Self.waitFor(api, runs: 200)
            #expect(started == 200)
            // Give both schedulers another few scans: still 200.
            try await Task.sleep(for: .seconds(1))
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) == 200)
            #expect(try await api.scalar("SELECT count(DISTINCT file_path) FROM flowforge.execution_events", as: Int64.self) == 200)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.file_arrivals WHERE path LIKE '%.txt'", as: Int64.self) == 0)
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.jobs", as: Int64.self) == 200)
        }
    }

    @Test("a file starts a run with FLOWFORGE_EVENT_FILE; again only when it changes; not twice across restarts; quiet time waits")
    func arrivalsAcrossRestarts() async throws {
        let directory = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("old".utf8).write(to: URL(fileURLWithPath: "\(directory)/before.csv"))
        // Older than the trigger: not taken, unless include_existing.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3_600)], ofItemAtPath: "\(directory)/before.csv")
        try await withAPI(clock: Date.init, services: WorkerTests.worker()) { api in
            let id = try await api.workflow(
                "ingest", extra: ["steps": [["name": "show", "kind": "shell", "command": ["sh", "-c", "cat \"$FLOWFORGE_EVENT_FILE\""]]]])
            let trigger = try await api.expect(
                .created, .post, "/api/workflows/\(id)/triggers",
                json: ["trigger_type": "event", "event_type": "file_arrival",
                       "event_config": ["directory": .string(directory), "pattern": "*.csv", "min_quiet_seconds": 1]])
            let triggerId = try #require(trigger["id"]?.intValue)
            // A scheduler runs for a while, stops; another starts later (a restart).
            func scheduler(for duration: Duration) async throws {
                let service = SchedulerService(postgres: api.postgres, config: Self.scheduler(), logger: TestDatabase.logger)
                let task = Task { try await service.run() }
                try await Task.sleep(for: duration)
                task.cancel()
                _ = await task.result
            }
            // A scheduler runs until `runs` event runs exist (or 30 s have passed): on a busy
            // machine its first scan can come later than any fixed time would allow.
            func scheduler(until runs: Int64) async throws -> Int64 {
                let service = SchedulerService(postgres: api.postgres, config: Self.scheduler(), logger: TestDatabase.logger)
                let task = Task { try await service.run() }
                let count = try await Self.waitFor(api, runs: runs)
                task.cancel()
                _ = await task.result
                return count
            }
            try Data("a,b\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/new.csv"))
            // Quiet time: a file modified just now is not taken yet.
            try await scheduler(for: .milliseconds(500))
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) == 0)
            #expect(try await scheduler(until: 1) == 1)
            let run = try #require(try await api.scalar("SELECT id FROM flowforge.executions", as: Int64.self))
            let finished = try await WorkerTests.finished(api, run)
            #expect(finished.list("steps").first?["output"] == "a,b\n")
            let shown = try await api.expect(.ok, .get, "/api/executions/\(run)")
            #expect(shown["event"]?["file"] == .string("\(directory)/new.csv"))
            #expect(shown["event"]?["file_size"] == 4)
            // Restarted: nothing new, nothing again.
            try await scheduler(for: .seconds(1))
            #expect(try await api.scalar("SELECT count(*) FROM flowforge.executions", as: Int64.self) == 1)
            // The file is rewritten: a new run.
            try Data("a,b\nc,d\n".utf8).write(to: URL(fileURLWithPath: "\(directory)/new.csv"))
            // Modified after the trigger was created, and quiet for its second.
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -1.5)], ofItemAtPath: "\(directory)/new.csv")
            #expect(try await scheduler(until: 2) == 2)
            // include_existing takes the file from before the trigger too.
            try await api.expect(
                .ok, .put, "/api/workflows/\(id)/triggers/\(triggerId)",
                json: ["event_config": ["directory": .string(directory), "pattern": "before.csv", "include_existing": true]])
            #expect(try await scheduler(until: 3) == 3)
            #expect(try await api.scalar(
                "SELECT count(*) FROM flowforge.execution_events WHERE file_path LIKE '%/before.csv'", as: Int64.self) == 1)
        }
    }
}
