import FlowForgeShared
@testable import FlowForgeWorker
import Foundation
import Hummingbird
import PostgresNIO
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a step may learn of the worker that runs it: nothing. Each test starts the real
/// `flowforge-worker` binary with secrets in its environment, and a step that tries every way
/// in.
/// Serialized: a worker of one test runs as nobody, and another test's step, also nobody, could
/// read its environment in the milliseconds between its exec and its first line of code.
@Suite("Step isolation", .serialized)
struct StepIsolationTests {
    static let secretKey = "8uTZ8m5f5CJhLEc4n5pQtoM6Vsx8xXhPtrMdtrfVlac="
    static let apiToken = "api-token-nobody-must-see-this-0123456789"

    /// The probe: one line per way in, each saying what it found.
    static let probe = """
        echo "uid: $(id -u)"
        if cat /proc/$PPID/environ >/dev/null 2>&1; then echo "worker environ: READABLE"; else echo "worker environ: denied"; fi
        if ls /proc/$PPID/fd >/dev/null 2>&1; then echo "worker fds: READABLE"; else echo "worker fds: denied"; fi
        if cat /proc/1/environ >/dev/null 2>&1; then echo "init environ: READABLE"; else echo "init environ: denied"; fi
        if kill -0 $PPID 2>/dev/null; then echo "signal worker: ALLOWED"; else echo "signal worker: denied"; fi
        if cat "$SECRET_FILE" >/dev/null 2>&1; then echo "secret file: READABLE"; else echo "secret file: denied"; fi
        echo "fds: $(ls /proc/self/fd | tr '\\n' ' ')"
        echo "sockets: $(ls -l /proc/self/fd | grep -c socket)"
        echo "secrets in any environ: $(cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c -e '^DATABASE_URL=' -e '^FLOWFORGE_SECRET_KEY=' -e '^FLOWFORGE_API_TOKEN=' -e '^PGPASSWORD=')"
        echo "environment: $(env | cut -d= -f1 | sort | tr '\\n' ' ')"
        """

    /// Starts flowforge-worker against the test's database with secrets in its environment;
    /// `asUser` starts it as that uid through setpriv (the worker then has no rights to switch).
    /// - databaseURLFile: the worker reads DATABASE_URL from this file (DATABASE_URL_FILE),
    ///   which is then written, root's alone, with the test database's URL.
    static func startWorker(
        api: APIHarness, environment extra: [String: String] = [:], asUser: uid_t? = nil, databaseURLFile: String? = nil
    ) async throws -> Process {
        let path = MigrationAndProcessTests.executable("flowforge-worker").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        let database = try #require(try await api.scalar("SELECT current_database()", as: String.self))
        let url = try TestDatabase.adminURL().withDatabase(database)
        let process = Process()
        if let asUser {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(asUser)", "--regid=\(asUser)", "--clear-groups", path, "--concurrency", "2"]
        } else {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = ["--concurrency", "2"]
        }
        process.environment = [
            "PATH": "/usr/bin:/bin", "DATABASE_URL": url.urlString, "FLOWFORGE_LOG_LEVEL": "error",
            "FLOWFORGE_SECRET_KEY": secretKey, "FLOWFORGE_API_TOKEN": apiToken, "PGPASSWORD": "pg-password-nobody-must-see",
        ].merging(extra) { _, new in new }
        if let databaseURLFile {
            try Data(url.urlString.utf8).write(to: URL(fileURLWithPath: databaseURLFile))
            chmod(databaseURLFile, 0o400)
            process.environment?["DATABASE_URL"] = nil
            process.environment?["DATABASE_URL_FILE"] = databaseURLFile
        }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// A root-only file the step is told the path of.
    static func secretFile() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ff-secret-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        let path = directory + "/database-url"
        #expect(FileManager.default.createFile(atPath: path, contents: Data("postgres://secret".utf8), attributes: [.posixPermissions: 0o400]))
        return path
    }

    static func probeOutput(_ api: APIHarness, secretFile: String) async throws -> (JSONValue, [String: String]) {
        let id = try await WorkerTests.run(
            api,
            ["name": "probe", "steps": [["name": "probe", "kind": "shell", "env": ["SECRET_FILE": .string(secretFile)], "command": ["sh", "-c", .string(probe)]]]])
        let execution = try await WorkerTests.finished(api, id)
        let output = execution.list("steps").first?["output"]?.stringValue ?? ""
        var lines: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            lines[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (execution, lines)
    }

    static func expectNothingFound(_ lines: [String: String], output: String, secretFileIsOthers: Bool = true) {
        #expect(lines["worker environ"] == "denied")
        #expect(lines["worker fds"] == "denied")
        #expect(lines["init environ"] == "denied")
        if secretFileIsOthers { #expect(lines["secret file"] == "denied") }
        // ls's own 0, 1 (the pipe to tr), 2, and 3 (the directory it reads): nothing inherited.
        #expect(lines["fds"] == "0 1 2 3")
        #expect(lines["sockets"] == "0")
        #expect(lines["secrets in any environ"] == "0")
        #expect(!output.contains(secretKey) && !output.contains(apiToken) && !output.contains("pg-password"))
    }

    @Test("as FLOWFORGE_STEP_USER, a step finds no secret of the worker's: environ, descriptors, files, signals")
    func stepUser() async throws {
        try #require(geteuid() == 0, "switching users needs root; make test runs as root")
        let secret = try Self.secretFile()
        defer { try? FileManager.default.removeItem(atPath: (secret as NSString).deletingLastPathComponent) }
        try await withAPI { api in
            // As deployed: the database's URL in a file of root's, steps as another user.
            let worker = try await Self.startWorker(api: api, environment: ["FLOWFORGE_STEP_USER": "nobody"], databaseURLFile: secret)
            defer { if worker.isRunning { worker.terminate() } }
            let (execution, lines) = try await Self.probeOutput(api, secretFile: secret)
            #expect(execution["status"] == "completed")
            #expect(lines["uid"] == "65534")
            #expect(lines["signal worker"] == "denied")
            Self.expectNothingFound(lines, output: execution.list("steps").first?["output"]?.stringValue ?? "")
            // Built afresh: what every step has, its own env, and FlowForge's context.
            let names = Set((lines["environment"] ?? "").split(separator: " ").map(String.init))
            #expect(names.isSuperset(of: ["PATH", "HOME", "USER", "LOGNAME", "SECRET_FILE", "FLOWFORGE_EXECUTION_ID", "FLOWFORGE_WORKFLOW_NAME"]))
            #expect(names.subtracting(["PATH", "HOME", "USER", "LOGNAME", "PWD", "SECRET_FILE"]).allSatisfy { $0.hasPrefix("FLOWFORGE_") && !$0.contains("SECRET") && !$0.contains("TOKEN") })

            // An event's payload file is the step user's to read.
            let (_, triggerId, secret) = try await WebhookTests.webhook(
                api, steps: [["name": "read", "kind": "shell", "command": ["sh", "-c", "id -u; cat \"$FLOWFORGE_EVENT_PAYLOAD_FILE\""]]])
            let (status, run) = try await api.hook(triggerId, body: Array(#"{"ok":1}"#.utf8), secret: secret)
            #expect(status == .accepted)
            let event = try await WorkerTests.finished(api, try #require(run["id"]?.intValue))
            #expect(event["status"] == "completed")
            #expect(event.list("steps").first?["output"] == "65534\n{\"ok\":1}")

            // So is the run's parameters file, and nobody else's.
            let owner = try await api.expect(
                .created, .post, "/api/workflows",
                json: ["name": "params-owner", "steps": [["name": "stat", "kind": "shell", "command": ["sh", "-c", "stat -c '%u %a' \"$FLOWFORGE_PARAMS_FILE\"; cat \"$FLOWFORGE_PARAMS_FILE\""]]]])
            let paramsRun = try await api.expect(
                .created, .post, "/api/workflows/\(try #require(owner["id"]?.intValue))/run", json: ["params": ["who": "nobody"]])
            let withParams = try await WorkerTests.finished(api, try #require(paramsRun["id"]?.intValue))
            #expect(withParams["status"] == "completed")
            #expect(withParams.list("steps").first?["output"] == "65534 600\n{\"who\":\"nobody\"}")
        }
    }

    @Test("a worker and its steps under one user (as flowforge dev runs them): the worker's environ and descriptors stay closed")
    func sameUser() async throws {
        let secret = try Self.secretFile()
        defer { try? FileManager.default.removeItem(atPath: (secret as NSString).deletingLastPathComponent) }
        try await withAPI { api in
            // As root, the worker is started as nobody: root may read any process.
            let worker = try await Self.startWorker(api: api, asUser: geteuid() == 0 ? 65534 : nil)
            defer { if worker.isRunning { worker.terminate() } }
            let (execution, lines) = try await Self.probeOutput(api, secretFile: secret)
            #expect(execution["status"] == "completed")
            Self.expectNothingFound(
                lines, output: execution.list("steps").first?["output"]?.stringValue ?? "", secretFileIsOthers: geteuid() == 0)
        }
    }

    @Test("FLOWFORGE_STEP_USER that the worker cannot switch to stops it at start, in one line")
    func stepUserRefused() throws {
        let path = MigrationAndProcessTests.executable("flowforge-worker").path
        try #require(FileManager.default.isExecutableFile(atPath: path), "build the executables first (make test does)")
        let base = ["PATH": "/usr/bin:/bin", "DATABASE_URL": "postgres://u:p@127.0.0.1:1/d"]
        let (unknown, unknownOutput) = try MigrationAndProcessTests.run("flowforge-worker", [], environment: base.merging(["FLOWFORGE_STEP_USER": "no-such-user-xyz"]) { $1 })
        #expect(unknown == 78)
        #expect(unknownOutput.hasPrefix("flowforge-worker: FLOWFORGE_STEP_USER names no user of this system: \"no-such-user-xyz\""))
        let (root, rootOutput) = try MigrationAndProcessTests.run("flowforge-worker", [], environment: base.merging(["FLOWFORGE_STEP_USER": "root"]) { $1 })
        #expect(root == 78)
        #expect(rootOutput == "flowforge-worker: FLOWFORGE_STEP_USER must not be root: steps would hold every right the worker has\n")
    }
}

@Suite("Step output")
struct StepOutputTests {
    @Test("text is stored as it is; NUL and invalid UTF-8 are shown replaced and kept exactly in base64")
    func encoding() {
        let text = StepOutput(text: "héllo\n").json
        #expect(text["output"] == "héllo\n")
        #expect(text["output_bytes"] == 7)
        #expect(text["output_binary"] == nil && text["output_base64"] == nil && text["output_truncated"] == nil)

        let nul = StepOutput(kept: Array("a\0b".utf8), totalBytes: 3).json
        #expect(nul["output"] == "a\u{FFFD}b")
        #expect(nul["output_binary"] == true)
        #expect(nul["output_base64"] == "YQBi")

        let invalid = StepOutput(kept: [0x61, 0xFF, 0xC3], totalBytes: 3).json
        #expect(invalid["output"] == "a\u{FFFD}\u{FFFD}")
        #expect(invalid["output_base64"] == "Yf/D")

        // A tail cut inside "é" is still text; its stray first byte is not counted against it.
        let cut = StepOutput(kept: [0xA9] + Array("ok".utf8), totalBytes: 10, cutNote: "[cut]").json
        #expect(cut["output_binary"] == nil)
        #expect(cut["output_truncated"] == true)
        #expect(cut["output_bytes"] == 10)
        #expect(cut["output"]?.stringValue?.hasPrefix("[cut]\n") == true)
    }

    @Test("the tail buffer keeps the last bytes of a stream, however it arrives")
    func tail() {
        var tail = TailBuffer(capacity: 5)
        for chunk in ["abc", "defg", "h", "", "ijklmnop", "q"] {
            Array(chunk.utf8).withUnsafeBytes { tail.append($0) }
        }
        #expect(String(decoding: tail.bytes, as: UTF8.self) == "mnopq")
        #expect(tail.total == 17)
        #expect(tail.output.cutNote == "[… output truncated to the last 0 KiB of 17 bytes]")
        var small = TailBuffer(capacity: 8)
        Array("xy".utf8).withUnsafeBytes { small.append($0) }
        #expect(small.bytes == Array("xy".utf8))
        #expect(small.output.cutNote == nil)
    }
}

extension StepOutput {
    var json: JSONValue {
        var fields: [String: JSONValue] = [:]
        describe(into: &fields)
        return .object(fields)
    }
}
