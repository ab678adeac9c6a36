import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Sends an alert to a channel, once: one attempt, whose result says whether to try again.
/// Retries, backoff and records are the notifier's.
public struct AlertSender: Sendable {
    public struct Config: Sendable {
        /// How long one HTTP attempt may take, connection included.
        public var httpTimeout: Duration = .seconds(10)
        /// How long one SMTP conversation may take.
        public var smtpTimeout: Duration = .seconds(30)
        public init() {}
    }

    let http: HTTPClient
    let config: Config
    let logger: Logger

    /// One client for the process's life, so connections to a receiver are reused.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(5)), decompression: .disabled)
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(http: HTTPClient = AlertSender.sharedHTTPClient, config: Config = Config(), logger: Logger) {
        self.http = http
        self.config = config
        self.logger = logger
    }

    public func send(_ message: AlertMessage, to target: AlertTarget) async -> AlertDeliveryResult {
        switch target {
        case .webhook(let url, let secret):
            let body = message.json().encoded()
            let timestamp = Int64(Date().timeIntervalSince1970)
            let signature = "t=\(timestamp),v1=\(WebhookSignature.sign(body: body, timestamp: timestamp, secret: secret))"
            return await post(body, to: url, headers: [(WebhookSignature.header, signature)], message: message)
        case .slack(let url):
            return await post(SlackMessage(message).json().encoded(), to: url, headers: [], message: message)
        case .email(let email):
            return await EmailAlertSender(timeout: config.smtpTimeout, logger: logger).send(message, to: email)
        }
    }

    /// One POST of a JSON body; delivered on any 2xx answer.
    private func post(_ body: [UInt8], to url: String, headers: [(String, String)], message: AlertMessage) async -> AlertDeliveryResult {
        let started = ContinuousClock.now
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "FlowForge")
        request.headers.add(name: "Idempotency-Key", value: message.idempotencyKey)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await http.execute(request, timeout: .nanoseconds(Int64(config.httpTimeout / .nanoseconds(1))))
            var answer = try await response.body.collect(upTo: 64 * 1024)
            let text = answer.readString(length: min(answer.readableBytes, AlertDeliveryResult.maxResponse * 4)) ?? ""
            let status = Int(response.status.code)
            let duration = ContinuousClock.now - started
            if (200..<300).contains(status) {
                return AlertDeliveryResult(delivered: true, retryable: false, statusCode: status, response: text, duration: duration)
            }
            // A receiver that is down or overloaded may take it later; one that refused this
            // message (a 4xx: a revoked Slack URL, a wrong path) will refuse it again.
            let retryable = status >= 500 || status == 408 || status == 429
            return AlertDeliveryResult(
                delivered: false, retryable: retryable, statusCode: status, response: text,
                error: "the receiver answered \(status) \(response.status.reasonPhrase)", duration: duration)
        } catch {
            return AlertDeliveryResult(
                delivered: false, retryable: true, error: Self.describe(error, url: url), duration: ContinuousClock.now - started)
        }
    }

    /// One sentence for a request that got no answer.
    static func describe(_ error: any Error, url: String) -> String {
        let parsed = URL(string: url)
        let host = parsed?.host ?? url
        let address = parsed?.port.map { "\(host):\($0)" } ?? host
        func refused(_ error: any Error) -> Bool { (error as? IOError)?.errnoCode == ECONNREFUSED }
        if refused(error) || (error as? NIOConnectionError)?.connectionErrors.contains(where: { refused($0.error) }) == true {
            return "\(address) refused the connection (is the receiver running?)"
        }
        switch error {
        case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout:
            return "no answer from \(host) in time"
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            return "\(host) closed the connection without an answer"
        default:
            return "cannot reach \(host): \(error)"
        }
    }
}
