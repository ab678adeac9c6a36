import AsyncHTTPClient
import FlowForgeShared
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// Runs an http step: one request; the step succeeds when the status is in `expect_status`
/// (any 2xx when none is given).
///
/// The answer is read as a stream and never held whole: at most `maxBodyBytes` of its body are
/// read (past that the connection is closed), and of those only the first `maxOutputBytes` are
/// kept. The deadline ends the step whatever the server does, a server that trickles one byte
/// a second included: an idle timeout alone would never fire on it.
struct HTTPStepRunner: Sendable {
    /// How much of an answer's body is read before the request is abandoned.
    static let maxBodyBytes = 1 << 20

    /// One client for the worker's whole life, so connections are pooled across steps. Like
    /// `HTTPClient.shared` it is never shut down (it lives as long as the process); it exists
    /// because the shared one's 90 s read timeout would end a step that waits longer than that
    /// for an answer within its own `timeout_seconds`: here the step's deadline is the only one.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            // Redirects are followed as URLSession did, a bounded number of times.
            redirectConfiguration: .follow(max: 10, allowCycles: false),
            timeout: .init(connect: .seconds(10)),
            // The body is kept as the server sent it: no Accept-Encoding is added, and the cap
            // counts the bytes that arrived.
            decompression: .disabled)
        // A refused connection fails the step at once with its reason, as it did with
        // URLSession, instead of being retried until the deadline and reported as a timeout;
        // a workflow's max_attempts is the retry.
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// - live: where the answer shows while it arrives.
    func run(
        _ http: Step.HTTP, name: String, context: [String: String], deadline: ContinuousClock.Instant, live: LiveStep? = nil
    ) async -> StepResult {
        let startedAt = Date()
        func ended(_ error: String?, status: Int? = nil, output: StepOutput = .empty) -> StepResult {
            StepResult(
                name: name, succeeded: error == nil, exitCode: status.map { Int32($0) }, startedAt: startedAt, finishedAt: Date(),
                output: output, error: error)
        }
        guard URL(string: http.url) != nil else { return ended("step \(name): \(http.url) is not a URL") }
        let request = Self.request(for: http, context: context)

        // The exchange races the deadline; whichever ends first cancels the other, and
        // cancelling the exchange closes its connection, in the head or in the body alike.
        // (The client's own deadline covers only the wait for the head.)
        let remaining = max(deadline - ContinuousClock.now, .zero)
        let clientDeadline = NIODeadline.now() + .nanoseconds(Int64(remaining / .nanoseconds(1)))
        let (first, late) = await withTaskGroup(of: Race.self) { group -> (Race, Race?) in
            group.addTask {
                do {
                    return .answer(try await Self.exchange(request, deadline: clientDeadline, live: live))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(until: deadline, clock: .continuous)
                return .deadline
            }
            let first = await group.next()!
            group.cancelAll()
            return (first, await group.next())
        }

        // The seconds the step was given: its own timeout, or less when the run's deadline
        // came first.
        let givenSeconds = min(http.timeoutSeconds, Int((remaining / .seconds(1)).rounded(.up)))
        let timedOut = "step \(name) timed out after \(givenSeconds) s and was stopped"
        switch first {
        case .answer(let answer) where answer.bodyError == nil:
            let expected = http.expectStatus.map { $0.contains(answer.status) } ?? (200..<300).contains(answer.status)
            return ended(
                expected ? nil : "step \(name): \(http.method) \(http.url) answered \(answer.status)", status: answer.status,
                output: answer.output)
        case _ where Task.isCancelled:
            let partial = first.answer ?? late?.answer
            return ended("step \(name) was stopped: the run was cancelled", status: partial?.status, output: partial?.output ?? .empty)
        case .answer(let answer):
            let reason = answer.bodyError.map { "\($0)" } ?? "it ended early"
            return ended(
                "step \(name): \(http.method) \(http.url) failed while its answer was read: \(reason)", status: answer.status,
                output: answer.output)
        case .deadline:
            // What arrived before the deadline is still shown on the step.
            return ended(timedOut, status: late?.answer?.status, output: late?.answer?.output ?? .empty)
        case .failure(let error as HTTPClientError) where error == .deadlineExceeded:
            return ended(timedOut)
        case .failure(let error):
            return ended("step \(name): \(http.method) \(http.url) failed: \(error)")
        }
    }

    /// The request as the step describes it, with the run's execution id.
    static func request(for http: Step.HTTP, context: [String: String]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: http.url)
        request.method = HTTPMethod(rawValue: http.method)
        for (header, value) in http.headers { request.headers.replaceOrAdd(name: header, value: value) }
        if let executionId = context["FLOWFORGE_EXECUTION_ID"] {
            request.headers.replaceOrAdd(name: "X-FlowForge-Execution-Id", value: executionId)
        }
        if let body = http.body { request.body = .bytes(ByteBuffer(string: body)) }
        return request
    }

    private enum Race: Sendable {
        case answer(Answer)
        case failure(any Error)
        case deadline

        var answer: Answer? {
            if case .answer(let answer) = self { answer } else { nil }
        }
    }

    /// What was read of an answer.
    struct Answer: Sendable {
        var status: Int
        /// "HTTP <status>\n" and the body, as far as it was read.
        var output: StepOutput
        /// Why the body stopped before its end, when it did (the cap is not an error).
        var bodyError: (any Error)?
    }

    /// Sends the request and reads the answer's body, up to `maxBodyBytes`. Leaving the loop
    /// early drops the body's iterator, which cancels the request and closes its connection.
    private static func exchange(_ request: HTTPClientRequest, deadline: NIODeadline, live: LiveStep?) async throws -> Answer {
        let response = try await client.execute(request, deadline: deadline)
        let status = Int(response.status.code)
        let capture = LiveCapture(Capture(headerLine: "HTTP \(status)\n"))
        live?.follow(capture)
        var bodyError: (any Error)?
        do {
            for try await chunk in response.body {
                if !capture.append(chunk.readableBytesView) { break }
            }
        } catch {
            bodyError = error
        }
        return Answer(status: status, output: capture.output, bodyError: bodyError)
    }

    /// A `Capture` that the live output reads while the answer arrives.
    final class LiveCapture: LiveOutputSource {
        private let capture: Mutex<Capture>

        init(_ capture: Capture) { self.capture = Mutex(capture) }

        func append(_ bytes: some Collection<UInt8>) -> Bool { capture.withLock { $0.append(bytes) } }

        var output: StepOutput { capture.withLock { $0.output } }
        var outputSoFar: StepOutput { output }
        var outputBytes: Int { capture.withLock { $0.totalBytes } }
    }

    /// The bounded record of an answer: the first `maxOutputBytes` of the header line and body,
    /// and how much arrived.
    struct Capture {
        private(set) var kept: [UInt8]
        private(set) var totalBytes: Int
        private(set) var bodyBytes = 0
        private(set) var cut = false

        init(headerLine: String) {
            kept = Array(headerLine.utf8.prefix(maxOutputBytes))
            totalBytes = headerLine.utf8.count
        }

        /// Takes in a piece of the body; false once a byte past `maxBodyBytes` arrived, when
        /// the body is cut and nothing more should be read. (A body of exactly `maxBodyBytes`
        /// is whole.)
        mutating func append(_ bytes: some Collection<UInt8>) -> Bool {
            let room = HTTPStepRunner.maxBodyBytes - bodyBytes
            let counted = min(bytes.count, room)
            if kept.count < maxOutputBytes {
                kept.append(contentsOf: bytes.prefix(min(counted, maxOutputBytes - kept.count)))
            }
            bodyBytes += counted
            totalBytes += counted
            if bytes.count > room { cut = true }
            return !cut
        }

        var output: StepOutput {
            var note: String?
            if cut {
                note = "[… response body cut at \(HTTPStepRunner.maxBodyBytes >> 20) MiB; \(kept.count) bytes kept]"
            } else if totalBytes > kept.count {
                note = "[… response of \(totalBytes) bytes; the first \(kept.count) kept]"
            }
            return StepOutput(kept: kept, totalBytes: totalBytes, cutNote: note)
        }
    }
}
