import FlowForgeShared
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Testing

@testable import FlowForgeWorker

/// http steps against real servers on 127.0.0.1: the answer is read as a stream and capped,
/// and the deadline ends the step whatever the server does.
@Suite("HTTP steps")
struct HTTPStepTests {
    /// What the test server's streaming handlers saw: how many bytes they wrote, and whether
    /// the client went away before they were done.
    actor ServerLog {
        private(set) var written = 0
        private(set) var abandoned = false
        private(set) var requests: [String] = []
        func wrote(_ count: Int) { written += count }
        func sawAbandon() { abandoned = true }
        func received(_ request: String) { requests.append(request) }
    }

    /// Serves `router` on a free port of 127.0.0.1 while `body` runs, then shuts the server down
    /// gracefully: its handlers see their client gone and end. (Cancelling the server's task
    /// instead, while a streaming handler was between two writes, crashed the test process in
    /// NIO: "Deinited NIOAsyncWriter without calling finish()".)
    static func withServer(_ router: Router<BasicRequestContext>, _ body: (Int) async throws -> Void) async throws {
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let server = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) })
        let group = ServiceGroup(configuration: .init(services: [server], logger: TestDatabase.logger))
        let serverTask = Task { try await group.run() }
        func stop() async {
            await group.triggerGracefulShutdown()
            // Handlers notice a closed connection at their next write, a second at most here.
            // Past 20 s it is cancelled after all (awaiting its value cannot be called off).
            await withTaskGroup(of: Void.self) { race in
                race.addTask { _ = try? await serverTask.value }
                race.addTask {
                    try? await Task.sleep(for: .seconds(20))
                    if !Task.isCancelled { serverTask.cancel() }
                }
                await race.next()
                race.cancelAll()
            }
        }
        var ports = portStream.makeAsyncIterator()
        guard let port = await ports.next() else {
            await stop()
            throw FlowForgeError.invalid("the test server did not start")
        }
        do {
            try await body(port)
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    static func step(_ fields: JSONValue) throws -> Step.HTTP {
        var json: [String: JSONValue] = ["name": "call", "kind": "http"]
        if case .object(let given) = fields { json.merge(given) { _, new in new } }
        guard case .http(let http) = try Step(stored: .object(json)).action else { throw FlowForgeError.invalid("not an http step") }
        return http
    }

    static func run(_ http: Step.HTTP, name: String = "call", deadline: ContinuousClock.Instant? = nil) async -> StepResult {
        let deadline = deadline ?? ContinuousClock.now + .seconds(http.timeoutSeconds)
        return await HTTPStepRunner().run(http, name: name, context: ["FLOWFORGE_EXECUTION_ID": "42"], deadline: deadline)
    }

    /// A handler that answers 200 and then writes `chunk`, `pause` apart, `times` times (then
    /// ends the body) or until the client leaves; the log says what it wrote and whether the
    /// client left first.
    static func streaming(
        _ log: ServerLog, _ chunk: ByteBuffer, times: Int? = nil, pause: Duration? = nil, contentLength: Int? = nil
    ) -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { _, _ in
            Response(
                status: .ok,
                body: ResponseBody(contentLength: contentLength) { writer in
                    do {
                        var written = 0
                        while times.map({ written < $0 }) ?? true {
                            try await writer.write(chunk)
                            written += 1
                            await log.wrote(chunk.readableBytes)
                            if let pause { try await Task.sleep(for: pause) }
                        }
                        try await writer.finish(nil)
                    } catch {
                        await log.sawAbandon()
                        throw error
                    }
                })
        }
    }

    /// A handler that answers 200 and then sends one byte a second, until the client leaves.
    static func trickle(_ log: ServerLog) -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        streaming(log, ByteBuffer(string: "x"), pause: .seconds(1))
    }

    /// A server whose `/slow` answers 200 and then a byte a second, and what it saw.
    static func withTrickleServer(_ body: (Int, ServerLog) async throws -> Void) async throws {
        let log = ServerLog()
        let router = Router()
        router.get("slow", use: Self.trickle(log))
        try await withServer(router) { port in try await body(port, log) }
    }

    static func waitUntil(_ condition: @Sendable () async -> Bool, within limit: Duration = .seconds(10)) async -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }

    @Test("a server that sends one byte a second is stopped at the step's timeout, and its connection closed")
    func trickleTimesOut() async throws {
        try await Self.withTrickleServer { port, log in
            // 6 s: the head must arrive first, and on a machine busy with other builds that
            // took more than 3 s.
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/slow"), "method": "GET", "timeout_seconds": 6])
            let began = ContinuousClock.now
            let result = await Self.run(http, name: "trickle")
            let took = ContinuousClock.now - began
            #expect(!result.succeeded)
            #expect(result.error == "step trickle timed out after 6 s and was stopped")
            #expect(took >= .seconds(5.9) && took < .seconds(30), "took \(took)")
            // What arrived before the deadline is kept: the status line and a few bytes.
            #expect(result.exitCode == 200)
            #expect(String(decoding: result.output.kept, as: UTF8.self).hasPrefix("HTTP 200\nx"))
            #expect(await Self.waitUntil { await log.abandoned }, "the server still writes to the step's connection")
        }
    }

    @Test("the run's deadline ends an http step before its own timeout")
    func runDeadlineBoundsStep() async throws {
        try await Self.withTrickleServer { port, log in
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/slow"), "method": "GET", "timeout_seconds": 600])
            let began = ContinuousClock.now
            let result = await Self.run(http, name: "trickle", deadline: ContinuousClock.now + .seconds(2))
            #expect(ContinuousClock.now - began < .seconds(20))
            #expect(result.error == "step trickle timed out after 2 s and was stopped")
        }
    }

    @Test("a server that never answers is stopped at the deadline too")
    func silentServerTimesOut() async throws {
        let router = Router()
        router.get("never") { _, _ -> Response in
            // Longer than the step's 2 s, short enough for the server's graceful stop to wait for.
            try await Task.sleep(for: .seconds(6))
            return Response(status: .ok)
        }
        try await Self.withServer(router) { port in
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/never"), "method": "GET", "timeout_seconds": 2])
            let began = ContinuousClock.now
            let result = await Self.run(http, name: "silent")
            #expect(ContinuousClock.now - began < .seconds(20))
            #expect(result.error == "step silent timed out after 2 s and was stopped")
            #expect(result.exitCode == nil)
        }
    }

    @Test("a cancelled run stops its http step at once")
    func cancelStops() async throws {
        try await Self.withTrickleServer { port, log in
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/slow"), "method": "GET", "timeout_seconds": 600])
            let began = ContinuousClock.now
            let running = Task { await Self.run(http, name: "trickle") }
            #expect(await Self.waitUntil { await log.written > 0 })
            let cancelledAt = ContinuousClock.now
            running.cancel()
            let result = await running.value
            // Far below the step's 600 s: the cancel, not a deadline, ended it (bounds loose for a busy machine).
            #expect(ContinuousClock.now - cancelledAt < .seconds(30))
            #expect(result.error == "step trickle was stopped: the run was cancelled")
            #expect(await Self.waitUntil { await log.abandoned })
        }
    }

    @Test("a 5 MiB body is read up to 1 MiB: the first 64 KiB are kept and the cut is noted")
    func largeBodyIsCut() async throws {
        let log = ServerLog()
        let router = Router()
        router.get("big", use: Self.streaming(log, ByteBuffer(repeating: UInt8(ascii: "a"), count: 64 * 1024), times: 80, contentLength: 5 << 20))
        try await Self.withServer(router) { port in
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/big"), "method": "GET", "timeout_seconds": 30])
            let result = await Self.run(http)
            #expect(result.succeeded)
            #expect(result.error == nil)
            #expect(result.exitCode == 200)
            let header = "HTTP 200\n".utf8.count
            #expect(result.output.totalBytes == header + (1 << 20))
            #expect(result.output.totalBytes > 1 << 20 && result.output.totalBytes <= (1 << 20) + 64)
            #expect(result.output.kept.count == maxOutputBytes)
            #expect(result.output.kept.prefix(header) == ArraySlice("HTTP 200\n".utf8))
            #expect(result.output.kept.dropFirst(header).allSatisfy { $0 == UInt8(ascii: "a") })
            #expect(result.output.cutNote == "[… response body cut at 1 MiB; 65536 bytes kept]")
            let json = result.json
            #expect(json["output_bytes"] == .int(Int64(header + (1 << 20))))
            #expect(json["output_truncated"] == true)
            #expect(json["output"]?.stringValue?.hasPrefix("[… response body cut at 1 MiB; 65536 bytes kept]\nHTTP 200\naaa") == true)
        }
    }

    @Test("an endless body is abandoned at 1 MiB: the step ends and the server sees its connection closed")
    func endlessBodyIsAbandoned() async throws {
        let log = ServerLog()
        let router = Router()
        router.get("endless", use: Self.streaming(log, ByteBuffer(repeating: UInt8(ascii: "e"), count: 64 * 1024)))
        try await Self.withServer(router) { port in
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/endless"), "method": "GET", "timeout_seconds": 30])
            let began = ContinuousClock.now
            let result = await Self.run(http)
            #expect(ContinuousClock.now - began < .seconds(25))
            #expect(result.succeeded)
            #expect(result.output.totalBytes == 9 + (1 << 20))
            #expect(result.output.cutNote == "[… response body cut at 1 MiB; 65536 bytes kept]")
            // Had the client kept reading, or kept the connection, the server would write on.
            #expect(await Self.waitUntil { await log.abandoned })
        }
    }

    @Test("a body over 64 KiB but under 1 MiB is read whole; the first 64 KiB are kept and the note says how much came")
    func mediumBodyIsKeptInPart() async throws {
        let router = Router()
        router.get("medium") { _, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "b"), count: 200_000)))
        }
        try await Self.withServer(router) { port in
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/medium"), "method": "GET"])
            let result = await Self.run(http)
            #expect(result.succeeded)
            #expect(result.output.totalBytes == 9 + 200_000)
            #expect(result.output.kept.count == maxOutputBytes)
            #expect(result.output.cutNote == "[… response of 200009 bytes; the first 65536 kept]")
        }
    }

    @Test("a body of exactly 1 MiB is whole, not cut")
    func bodyOfExactlyTheCap() async throws {
        let router = Router()
        router.get("exact") { _, _ in
            Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(repeating: UInt8(ascii: "c"), count: 1 << 20)))
        }
        try await Self.withServer(router) { port in
            let http = try Self.step(["url": .string("http://127.0.0.1:\(port)/exact"), "method": "GET"])
            let result = await Self.run(http)
            #expect(result.succeeded)
            #expect(result.output.totalBytes == 9 + (1 << 20))
            #expect(result.output.cutNote == "[… response of \(9 + (1 << 20)) bytes; the first 65536 kept]")
        }
    }

    @Test("a small JSON answer is kept exactly; method, headers, body and the execution id reach the server")
    func smallAnswerKeptExactly() async throws {
        let log = ServerLog()
        let router = Router()
        let answer = #"{"ok": true, "name": "flöw"}"#
        router.put("json") { request, _ in
            let body = try await String(buffer: request.body.collect(upTo: 10_000))
            let token = request.headers[.init("X-Token")!] ?? "-"
            let execution = request.headers[.init("X-FlowForge-Execution-Id")!] ?? "-"
            await log.received("\(request.method) \(token) \(execution) \(body)")
            return Response(
                status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: answer)))
        }
        router.delete("empty") { _, _ in Response(status: .noContent) }
        try await Self.withServer(router) { port in
            let http = try Self.step([
                "url": .string("http://127.0.0.1:\(port)/json"), "method": "PUT", "headers": ["X-Token": "abc"], "body": "{\"ping\": 1}",
            ])
            let result = await Self.run(http)
            #expect(result.succeeded)
            #expect(result.exitCode == 200)
            #expect(result.output == StepOutput(text: "HTTP 200\n" + answer))
            #expect(await log.requests == ["PUT abc 42 {\"ping\": 1}"])

            let empty = await Self.run(try Self.step(["url": .string("http://127.0.0.1:\(port)/empty"), "method": "DELETE"]))
            #expect(empty.succeeded)
            #expect(empty.exitCode == 204)
            #expect(empty.output == StepOutput(text: "HTTP 204\n"))
        }
    }

    @Test("a status outside expect_status fails the step with what the server answered")
    func unexpectedStatusFails() async throws {
        let router = Router()
        router.post("hook") { _, _ in Response(status: .accepted, body: ResponseBody(byteBuffer: ByteBuffer(string: "queued it"))) }
        router.get("missing") { _, _ in Response(status: .notFound) }
        try await Self.withServer(router) { port in
            let url = "http://127.0.0.1:\(port)/hook"
            let strict = await Self.run(try Self.step(["url": .string(url), "method": "POST", "expect_status": [200]]))
            #expect(!strict.succeeded)
            #expect(strict.exitCode == 202)
            #expect(strict.error == "step call: POST \(url) answered 202")
            #expect(strict.output == StepOutput(text: "HTTP 202\nqueued it"))

            let accepted = await Self.run(try Self.step(["url": .string(url), "method": "POST", "expect_status": [202]]))
            #expect(accepted.succeeded)

            let missing = "http://127.0.0.1:\(port)/missing"
            let notFound = await Self.run(try Self.step(["url": .string(missing), "method": "GET"]))
            #expect(notFound.error == "step call: GET \(missing) answered 404")
        }
    }

    @Test("redirects are followed, a bounded number of times")
    func redirectsAreFollowed() async throws {
        let router = Router()
        router.get("old") { _, _ in Response(status: .found, headers: [.location: "/new"]) }
        router.get("new") { _, _ in Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "moved here"))) }
        router.get("loop/:n") { _, context in
            let n = try context.parameters.require("n", as: Int.self)
            return Response(status: .found, headers: [.location: "/loop/\(n + 1)"])
        }
        try await Self.withServer(router) { port in
            let moved = await Self.run(try Self.step(["url": .string("http://127.0.0.1:\(port)/old"), "method": "GET"]))
            #expect(moved.succeeded)
            #expect(moved.output == StepOutput(text: "HTTP 200\nmoved here"))

            let endless = await Self.run(try Self.step(["url": .string("http://127.0.0.1:\(port)/loop/0"), "method": "GET"]))
            #expect(!endless.succeeded)
            #expect(endless.error?.hasPrefix("step call: GET http://127.0.0.1:\(port)/loop/0 failed: ") == true)
        }
    }

    @Test("a server that is not there fails the step with a sentence")
    func refusedConnectionFails() async throws {
        // Port 9 (discard) is closed on the test machine.
        let began = ContinuousClock.now
        let result = await Self.run(try Self.step(["url": "http://127.0.0.1:9/", "method": "GET", "timeout_seconds": 20]))
        #expect(ContinuousClock.now - began < .seconds(15), "a refused connection is not retried until the deadline")
        #expect(!result.succeeded)
        #expect(result.error?.hasPrefix("step call: GET http://127.0.0.1:9/ failed: ") == true)
    }

    @Test("a workflow's timeout_seconds ends its http step, through the worker")
    func workflowTimeoutEndsStep() async throws {
        try await Self.withTrickleServer { port, log in
            try await withAPI(services: WorkerTests.worker()) { api in
                let id = try await WorkerTests.run(
                    api,
                    [
                        "name": "slow-call", "timeout_seconds": 6,
                        "steps": [["name": "call", "kind": "http", "method": "GET", "url": .string("http://127.0.0.1:\(port)/slow"), "timeout_seconds": 600]],
                    ])
                let execution = try await WorkerTests.finished(api, id)
                #expect(execution["status"] == "failed")
                #expect(execution["error"] == "step call timed out after 6 s and was stopped")
                #expect(execution.list("steps").first?["exit_code"] == 200)
            }
        }
    }
}
