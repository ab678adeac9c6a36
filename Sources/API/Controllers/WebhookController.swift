import FlowForgeShared
import Foundation
import Hummingbird

/// `POST /api/hooks/:triggerId`: an outside system announces an event. Authenticated by the
/// `X-FlowForge-Signature` HMAC of the body under the trigger's secret, not by an API token.
struct WebhookController {
    let stores: Stores
    /// Stands in for a missing trigger's secret, so that an unknown id costs the same HMAC work
    /// as a known one and ids cannot be told apart by timing.
    private static let decoySecret = Array("flowforge-decoy-secret-for-unknown-triggers".utf8)

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
        let box = try? stores.requireSecretBox()
        let secrets = target.secrets.compactMap { box?.open($0) }
        let verified = signature.matches(body: body, secrets: target.active && !secrets.isEmpty ? secrets : [Self.decoySecret])
        guard target.active else { throw Self.unknown(text) }
        guard verified, !secrets.isEmpty else { throw Self.rejected(.badSignature) }

        // The JSON, when the body is JSON: for the filter, and (when small) to show on the run.
        let json = body.isEmpty ? nil : try? JSONValue.parse(body)
        let config = (try? WebhookConfig(target.config, path: "event_config.")) ?? WebhookConfig()
        let shown = json.flatMap { $0.encoded().count <= Limits.eventJSONBytes ? $0 : nil }
        switch try await stores.events.accept(
            triggerId: triggerId, replayKey: signature.replayKey(body: body), payload: body, payloadJSON: shown,
            matched: config.matches(json))
        {
        case .started(let execution):
            return execution.json.response(status: .accepted)
        case .filtered:
            return JSONValue.object([
                "execution_id": .null, "filtered": true,
                "message": "the event was recorded and did not match the trigger's filter, so it started no run",
            ]).response(status: .accepted)
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
