import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A receiver for webhook alert channels: what `flowforge receive-alerts` runs to try a
/// channel out, what `flowforge bench alerts` counts with, and what the tests deliver to. It
/// takes a POST on any path, checks `X-FlowForge-Signature` when it knows the channel's
/// secret, and tells a repeat (an idempotency key it already accepted) from a new alert.
public final class AlertReceiver: Sendable {
    /// One request as it arrived.
    public struct Request: Sendable {
        public var path: String
        public var idempotencyKey: String?
        public var body: [UInt8]
        /// The body as JSON, when it is.
        public var json: JSONValue?
        /// Whether the signature matches the secret; nil when the receiver has no secret.
        public var signatureValid: Bool?
        /// Whether a request with this idempotency key was already answered with a 2xx.
        public var isRepeat: Bool
        public var receivedAt: Date
    }

    let host: String
    let port: Int
    let secret: String?
    let logger: Logger
    /// Decides the answer to each request (any 2xx accepts it); called once per request.
    let answer: @Sendable (Request) async -> HTTPResponse.Status
    private let accepted = Mutex(Set<String>())

    public init(
        host: String = "127.0.0.1", port: Int, secret: String? = nil, logger: Logger,
        answer: @escaping @Sendable (Request) async -> HTTPResponse.Status
    ) {
        self.host = host
        self.port = port
        self.secret = secret
        self.logger = logger
        self.answer = answer
    }

    /// The server, as a service; `onServerRunning` gets the port it listens on.
    public func service(onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.post("**") { request, context in
            try await self.receive(request, context: context)
        }
        router.post("/") { request, context in
            try await self.receive(request, context: context)
        }
        let port = port
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "FlowForge alert receiver"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    private func receive(_ request: Hummingbird.Request, context: BasicRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        let body = Array(buffer.readableBytesView)
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        var signatureValid: Bool?
        if let secret {
            if case .success(let signature) = WebhookSignature.parse(request.headers[HTTPField.Name(WebhookSignature.header)!]) {
                signatureValid = signature.isFresh(now: Date()) && signature.matches(body: body, secrets: [Array(secret.utf8)])
            } else {
                signatureValid = false
            }
        }
        let isRepeat = key.map { key in accepted.withLock { $0.contains(key) } } ?? false
        let arrived = Request(
            path: request.uri.path, idempotencyKey: key, body: body, json: try? JSONValue.parse(body), signatureValid: signatureValid,
            isRepeat: isRepeat, receivedAt: Date())
        let status = signatureValid == false ? .unauthorized : await answer(arrived)
        if (200..<300).contains(status.code), let key { _ = accepted.withLock { $0.insert(key) } }
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"received":\#(isRepeat ? "\"repeat\"" : "true")}"#)))
    }
}
