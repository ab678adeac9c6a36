import FlowForgeShared
import Hummingbird

/// `/api/alert-channels`: where alerts go. A channel's secret (a webhook's signing secret, a
/// Slack URL, an email password) is sealed with FLOWFORGE_SECRET_KEY before it is stored and is
/// never answered, except a webhook's new secret, once.
struct AlertChannelsController {
    let stores: Stores
    /// Sends test messages (the notifier sends alerts; this only tries a channel out).
    let sender: AlertSender

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get(use: list)
        group.post(use: create)
        group.get(":id", use: get)
        group.put(":id", use: update)
        group.delete(":id", use: delete)
        group.post(":id/rotate-secret", use: rotateSecret)
        group.post(":id/test", use: test)
    }

    /// Sends a test message to the channel now and answers what its receiver said. Nothing is
    /// recorded in the alert history. A channel whose secret cannot be opened here (the API's
    /// FLOWFORGE_SECRET_KEY is missing or is not the one that sealed it) is answered as not
    /// delivered, with the reason, as the notifier would record it.
    @Sendable func test(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertChannelTestBody> {
        let id = try channelId(request, context)
        guard let (channel, sealed) = try await stores.alerts.channelForSending(id: id) else { throw notFound(id) }
        let target: AlertTarget
        do {
            target = try AlertTarget(channel: channel, sealedSecret: sealed, secretBox: stores.secretBox, process: "API")
        } catch {
            return JSONBody(AlertChannelTestBody(error.result))
        }
        let result = await sender.send(.test(now: stores.clock()), to: target)
        return JSONBody(AlertChannelTestBody(result))
    }

    @Sendable func list(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertChannelListBody> {
        JSONBody(AlertChannelListBody(alertChannels: try await stores.alerts.channels().map(AlertChannelBody.init)))
    }

    @Sendable func create(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertChannelBody> {
        var request = request
        let input = try await request.decodeBody(AlertChannelCreate.self, context: context).input
        let (definition, secret) = try Self.definition(input, creating: true, secretBox: stores.secretBox)
        var channel = try await stores.alerts.createChannel(definition)
        channel.newSecret = secret
        return JSONBody(.created, AlertChannelBody(channel))
    }

    @Sendable func get(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertChannelBody> {
        let id = try channelId(request, context)
        guard let channel = try await stores.alerts.channel(id: id) else { throw notFound(id) }
        return JSONBody(AlertChannelBody(channel))
    }

    @Sendable func update(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertChannelBody> {
        var request = request
        let id = try channelId(request, context)
        let body = try await request.jsonBody(context: context)
        let secretBox = stores.secretBox
        let channel = try await stores.alerts.updateChannel(id: id) { current in
            let input = try JSONBodyDecoder(userInfo: [.editedAlertChannel: current]).decode(AlertChannelUpdate.self, from: body).input
            return try Self.definition(input, creating: false, secretBox: secretBox).0
        }
        return JSONBody(AlertChannelBody(channel))
    }

    @Sendable func delete(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let id = try channelId(request, context)
        guard try await stores.alerts.deleteChannel(id: id) else { throw notFound(id) }
        return Response(status: .noContent)
    }

    /// A new signing secret for a webhook channel, shown this once; the old one stops at once
    /// (a receiver checks one channel's signatures, and the test route helps it switch).
    @Sendable func rotateSecret(_ request: Request, context: BasicRequestContext) async throws -> JSONBody<AlertChannelBody> {
        let id = try channelId(request, context)
        guard let current = try await stores.alerts.channel(id: id) else { throw notFound(id) }
        guard current.kind == .webhook else {
            throw APIError(
                .badRequest, "alert channel \(id) is \(current.kind == .email ? "an" : "a") \(current.kind.rawValue) channel: only webhook channels have a signing secret to rotate")
        }
        let (secret, sealed) = try Self.secretBox(stores.secretBox, for: .webhook).newSecret()
        var channel = try await stores.alerts.rotateChannelSecret(id: id, sealed: sealed)
        channel.newSecret = secret
        return JSONBody(AlertChannelBody(channel))
    }

    /// What a decoded body writes, its secret sealed: a new webhook channel gets a new signing
    /// secret (returned, to show once); a Slack URL or an email password given is sealed.
    static func definition(
        _ input: AlertChannelInput, creating: Bool, secretBox: SecretBox?
    ) throws -> (AlertChannelDefinition, newSecret: String?) {
        var change = AlertChannelDefinition.SecretChange.keep
        var newSecret: String?
        if input.kind == .webhook {
            if creating {
                let (secret, sealed) = try Self.secretBox(secretBox, for: .webhook).newSecret()
                (change, newSecret) = (.replace(sealed: sealed), secret)
            }
        } else {
            switch input.secret {
            case .keep: change = .keep
            case .remove: change = .remove
            case .set(let secret): change = .replace(sealed: try Self.secretBox(secretBox, for: input.kind).seal(secret))
            }
        }
        return (AlertChannelDefinition(name: input.name, kind: input.kind, settings: input.settings, secret: change), newSecret)
    }

    /// The API's SecretBox; without FLOWFORGE_SECRET_KEY a channel with a secret cannot be
    /// stored, as a webhook trigger cannot (the same 409).
    static func secretBox(_ secretBox: SecretBox?, for kind: AlertChannelKind) throws -> SecretBox {
        guard let secretBox else {
            let what =
                switch kind {
                case .webhook: "webhook alert channels need"
                case .slack: "Slack alert channels need"
                case .email: "an email alert channel with a password needs"
                }
            throw APIError(.conflict, "\(what) FLOWFORGE_SECRET_KEY on the API (32 random bytes: openssl rand -hex 32), and it is not set")
        }
        return secretBox
    }

    private func channelId(_ request: Request, _ context: BasicRequestContext) throws -> Int64 {
        try request.id("id", context: context, label: "alert channel id")
    }

    private func notFound(_ id: Int64) -> APIError { APIError(.notFound, "alert channel \(id) does not exist") }
}
