import FlowForgeShared
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Runs an http step: one request; the step succeeds when the status is in `expect_status`
/// (any 2xx when none is given).
struct HTTPStepRunner: Sendable {
    func run(_ http: Step.HTTP, name: String, context: [String: String]) async -> StepResult {
        let startedAt = Date()
        func failed(_ error: String, status: Int? = nil, output: String = "") -> StepResult {
            StepResult(
                name: name, succeeded: false, exitCode: status.map { Int32($0) }, startedAt: startedAt, finishedAt: Date(),
                output: StepOutput(text: output), error: error)
        }
        guard let url = URL(string: http.url) else { return failed("step \(name): \(http.url) is not a URL") }
        var request = URLRequest(url: url, timeoutInterval: TimeInterval(http.timeoutSeconds))
        request.httpMethod = http.method
        for (header, value) in http.headers { request.setValue(value, forHTTPHeaderField: header) }
        request.setValue(context["FLOWFORGE_EXECUTION_ID"], forHTTPHeaderField: "X-FlowForge-Execution-Id")
        if let body = http.body { request.httpBody = Data(body.utf8) }
        do {
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let body = String(decoding: data.suffix(maxOutputBytes), as: UTF8.self)
            let output = "HTTP \(status)\n\(body)"
            let expected = http.expectStatus.map { $0.contains(status) } ?? (200..<300).contains(status)
            guard expected else { return failed("step \(name): \(http.method) \(http.url) answered \(status)", status: status, output: output) }
            return StepResult(
                name: name, succeeded: true, exitCode: Int32(status), startedAt: startedAt, finishedAt: Date(), output: StepOutput(text: output), error: nil)
        } catch {
            return failed("step \(name): \(http.method) \(http.url) failed: \(error.localizedDescription)")
        }
    }
}
