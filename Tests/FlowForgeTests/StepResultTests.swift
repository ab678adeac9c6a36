import FlowForgeShared
@testable import FlowForgeWorker
import Foundation
import Hummingbird
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whatever a step writes, its run ends with its real status, and no run's result harms another's.
@Suite("Step results")
struct StepResultTests {
    @Test("a step that writes NUL and invalid UTF-8 completes; its bytes are kept, and a run beside it is not delayed")
    func binaryOutput() async throws {
        try await withAPI(services: WorkerTests.worker(concurrency: 4)) { api in
            let binary = try await WorkerTests.run(
                api, ["name": "binary", "steps": [["name": "print", "kind": "shell", "command": ["sh", "-c", "printf 'a\\000b\\377'"]]]])
            let plain = try await WorkerTests.run(api, ["name": "plain", "steps": [["name": "wait", "kind": "noop", "sleep_ms": 1]]])
            let execution = try await WorkerTests.finished(api, binary)
            #expect(execution["status"] == "completed")
            let step = try #require(execution.list("steps").first)
            #expect(step["output"] == "a\u{FFFD}b\u{FFFD}")
            #expect(step["output_binary"] == true)
            #expect(step["output_base64"] == "YQBi/w==")
            #expect(step["output_bytes"] == 4)
            #expect(try await WorkerTests.finished(api, plain)["status"] == "completed")
        }
    }

    @Test("a result the database refuses is recorded as failed with the reason; the others of its batch are written")
    func refusedResult() async throws {
        try await withAPI { api in
            let created = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "batch", "overlap_policy": "allow", "steps": [["name": "s", "kind": "noop"]]])
            let workflow = try #require(created["id"]?.intValue)
            var ids: [Int64] = []
            for _ in 0..<3 { ids.append(try #require(try await api.expect(.created, .post, "/api/workflows/\(workflow)/run")["id"]?.intValue)) }
            var settings = WorkerService.Config(workerID: "refusal", concurrency: 4)
            settings.leaseSeconds = 60
            let writer = RunDispatcher(
                queue: QueueStore(client: api.postgres, logger: TestDatabase.logger), settings: settings, stopping: AtomicFlag(),
                wakeClaimLoop: {}, metrics: nil, logger: TestDatabase.logger)
            await writer.setLauncher { _ in Task {} }
            #expect(await writer.claim() == .drained(nextDueIn: nil))
            let claimed = await writer.attempts.sorted { $0.executionId < $1.executionId }
            try #require(claimed.map(\.executionId) == ids)

            // jsonb refuses "\u0000": a result that bypassed StepOutput's escaping.
            let poisoned = claimed[1]
            for run in claimed {
                let output: JSONValue = run.executionId == poisoned.executionId ? .string("a\u{0}b") : "fine"
                writer.submit(
                    RunOutcome(
                        executionId: run.executionId, attempt: run.attempt, succeeded: true, error: nil,
                        steps: [["name": "s", "status": "completed", "exit_code": 0, "output": output]]))
            }
            for id in ids {
                let execution = try await WorkerTests.finished(api, id)
                if id == poisoned.executionId {
                    #expect(execution["status"] == "failed")
                    let error = execution["error"]?.stringValue ?? ""
                    #expect(error.hasPrefix("the run's result could not be stored, so it is recorded as failed: the database refused it ("))
                    #expect(execution.list("steps").first?["name"] == "s")
                    #expect(execution.list("steps").first?["output"] == nil)
                } else {
                    #expect(execution["status"] == "completed")
                    #expect(execution.list("steps").first?["output"] == "fine")
                }
            }
        }
    }

    @Test("a webhook event whose JSON holds \\u0000 is accepted, shown on the run, and reaches the step byte for byte")
    func nulEvent() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ff-nul-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await withAPI(services: WorkerTests.worker()) { api in
            let (_, triggerId, secret) = try await WebhookTests.webhook(
                api, steps: [["name": "keep", "kind": "shell", "command": ["sh", "-c", .string("cp \"$FLOWFORGE_EVENT_PAYLOAD_FILE\" \(scratch)/copy")]]])
            let body = Array(#"{"a":"x\u0000y"}"#.utf8)
            let (status, run) = try await api.hook(triggerId, body: body, secret: secret)
            #expect(status == .accepted)
            let execution = try await WorkerTests.finished(api, try #require(run["id"]?.intValue))
            #expect(execution["status"] == "completed")
            #expect(execution["event"]?["payload"] == ["a": "x\u{0}y"])
            #expect(execution["event"]?["payload_bytes"] == .int(Int64(body.count)))
            #expect(FileManager.default.contents(atPath: "\(scratch)/copy").map(Array.init) == body)
        }
    }

    @Test("2 GiB of output: the worker keeps the last 64 KiB, grows by less than 16 MiB, and writes no file over 1 MiB")
    func boundedOutput() async throws {
        let temporary = FileManager.default.temporaryDirectory.appendingPathComponent("ff-worker-tmp-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o777])
        defer { try? FileManager.default.removeItem(atPath: temporary) }
        try await withAPI { api in
            let worker = try await StepIsolationTests.startWorker(api: api, environment: ["TMPDIR": temporary])
            defer { if worker.isRunning { worker.terminate() } }
            // A first run brings the worker to its working size.
            let warmUp = try await WorkerTests.run(api, ["name": "warm-up", "steps": [["name": "s", "kind": "shell", "command": ["sh", "-c", "yes | head -c 1000000"]]]])
            #expect(try await WorkerTests.finished(api, warmUp)["status"] == "completed")
            let before = try #require(Self.memory(of: worker.processIdentifier, "VmRSS"))

            let size = 2 << 30
            let id = try await WorkerTests.run(
                api, ["name": "flood", "steps": [["name": "s", "kind": "shell", "command": ["sh", "-c", .string("yes 0123456789 | head -c \(size); echo; echo end")]]]])
            var largestFile = 0
            var execution: JSONValue = .null
            let deadline = ContinuousClock.now + .seconds(120)
            while ContinuousClock.now < deadline {
                largestFile = max(largestFile, Self.largestFile(in: temporary))
                execution = try await api.expect(.ok, .get, "/api/executions/\(id)")
                if let status = execution["status"]?.stringValue, !["queued", "running"].contains(status) { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let peak = try #require(Self.memory(of: worker.processIdentifier, "VmHWM"))
            #expect(execution["status"] == "completed")
            let step = try #require(execution.list("steps").first)
            #expect(step["output_bytes"]?.intValue == Int64(size + 5))
            #expect(step["output_truncated"] == true)
            let output = step["output"]?.stringValue ?? ""
            #expect(output.hasPrefix("[… output truncated to the last 64 KiB of \(size + 5) bytes]\n"))
            #expect(output.hasSuffix("\nend\n") && output.contains("0123456789\n0123456789\n"))
            #expect(output.utf8.count < 65_536 + 100)
            #expect(peak - before < 16 << 20, "the worker grew from \(before >> 20) MiB to a peak of \(peak >> 20) MiB")
            #expect(largestFile < 1 << 20)
        }
    }

    /// A line of /proc/<pid>/status, in bytes.
    static func memory(of pid: pid_t, _ field: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
            let kilobytes = Int(line.split(separator: " ").dropFirst().first { !$0.isEmpty }.map(String.init) ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    static func largestFile(in directory: String) -> Int {
        guard let files = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var largest = 0
        for case let file as String in files {
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + file))?[.size] as? Int
            largest = max(largest, size ?? 0)
        }
        return largest
    }
}
