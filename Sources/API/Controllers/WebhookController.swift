import FlowForgeShared
import Foundation
import Hummingbird

/// `POST /api/hooks/:triggerId`: an outside system announces an event. Authenticated by the
/// `X-FlowForge-Signature` HMAC of the body under the trigger's secret, not by an API token.
struct WebhookController {
    let stores: Stores
    /// Stands in for a missing trigger's sealed secret, so that an unknown or disabled id costs
    /// the same work (one query, one AES-GCM open, one HMAC) as a known one, and ids cannot be
    /// told apart by timing.
    private let decoy: [UInt8]?

    init(stores: Stores) {
        self.stores = stores
        decoy = stores.secretBox?.seal("whsec_" + String(repeating: "0", count: 64))
    }

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.post(":triggerId", use: receive)
    }

    @Sendable func receive(_ request: Request, context: BasicRequestContext) async throws -> Response {
        var request = request
        let text = context.parameters.get("triggerId") ?? ""
        guard let triggerId = Int64(text), triggerId > 0 else { throw Self.unknown(text) }
        let body: [UInt8]
        do {
            body = Array(try await request.collectBody(upTo: Limits.webhookBodyBytes).readableBytesView)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError(.contentTooLarge, "the event body is larger than \(Limits.webhookBodyBytes / 1_048_576) MiB")
        }
        let signature: WebhookSignature
        let header = request.headers.first { $0.name.canonicalName == WebhookSignature.header.lowercased() }?.value
        switch WebhookSignature.parse(header) {
        case .success(let parsed): signature = parsed
        case .failure(let rejection): throw Self.rejected(rejection)
        }
        guard signature.isFresh(now: stores.clock()) else { throw Self.rejected(.stale) }

        let target = try await stores.events.webhookTarget(triggerId: triggerId)
        let real = target.active && !target.secrets.isEmpty
        let sealed = real ? target.secrets : decoy.map { [$0] } ?? []
        let secrets = sealed.compactMap { stores.secretBox?.open($0) }
        let verified = signature.matches(body: body, secrets: secrets)
        guard target.active else { throw Self.unknown(text) }
        guard real, verified else { throw Self.rejected(.badSignature) }

        // The JSON, when the body is JSON: for the filter, and (when small) to show on the run.
        let json = body.isEmpty ? nil : try? JSONValue.parse(body)
        let config = (try? WebhookConfig(target.config, path: "event_config.")) ?? WebhookConfig()
        // jsonb cannot hold "\u0000": such a document is kept as its bytes only, and shown
        // from them (see EventStore.eventSummary).
        let shown = json.flatMap { !$0.containsNUL && $0.encoded().count <= Limits.eventJSONBytes ? $0 : nil }
        switch try await stores.events.accept(
            triggerId: triggerId, replayKey: signature.replayKey(body: body), payload: body, payloadJSON: shown,
            matched: config.matches(json))
        {
        case .started(let execution):
            return try JSONBody(.accepted, ExecutionBody(execution)).response()
        case .filtered:
            return try JSONBody(.accepted, WebhookHeldBody(reason: .filtered)).response()
        case .paused:
            return try JSONBody(.accepted, WebhookHeldBody(reason: .paused)).response()
        case .replayed:
            throw Self.rejected(.replayed)
        case .gone:
            throw Self.unknown(text)
        }
    }

    static func rejected(_ rejection: WebhookRejection) -> APIError {
        APIError(.unauthorized, rejection.message)
    }

    static func unknown(_ id: String) -> APIError {
        APIError(.notFound, "no enabled webhook trigger has the id \"\(id.prefix(40))\"")
    }
}
