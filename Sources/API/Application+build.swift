import FlowForgeShared
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// What the API process needs besides the database.
public struct APIConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Bearer tokens accepted on `/api/*`; empty only together with `insecureNoAuth`.
    public var tokens: [String]
    public var insecureNoAuth: Bool
    /// Seals webhook triggers' secrets and alert channels' (a webhook's signing secret, a Slack
    /// URL, an email password); without it neither can be created, nor a webhook trigger called.
    public var secretBox: SecretBox?
    /// How long a request waits for a database connection before it answers 503 (see
    /// `ConnectionWait`). Only a database that is away, or a pool worn out by load, makes a
    /// request wait that long.
    public var databaseWait: Duration = .seconds(10)

    public init(
        host: String = "127.0.0.1", port: Int = 8080, tokens: [String], insecureNoAuth: Bool = false, secretBox: SecretBox? = nil
    ) {
        self.host = host
        self.port = port
        self.tokens = tokens
        self.insecureNoAuth = insecureNoAuth
        self.secretBox = secretBox
    }

    /// Refuses to run an open API by accident.
    public func validate() throws(ConfigError) {
        if tokens.isEmpty && !insecureNoAuth {
            throw ConfigError("FLOWFORGE_API_TOKEN is not set: give one or more bearer tokens, or start with --insecure-no-auth")
        }
    }
}

/// Builds the API application. Production, `flowforge dev` and the tests all come through here;
/// they differ only in configuration. The caller runs `postgres` (it is a Service) unless
/// `runsPostgres` asks the application to run it.
public func buildApplication(
    configuration: APIConfiguration, postgres: PostgresClient, logger: Logger, runsPostgres: Bool = true,
    clock: @escaping @Sendable () -> Date = Date.init,
    metrics: FlowForgeMetrics = FlowForgeMetrics(),
    services: [any Service] = [],
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, postgres: postgres, logger: logger, clock: clock, metrics: metrics)
    var app = Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "FlowForge"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
    if runsPostgres { app.addServices(postgres) }
    app.addServices(services)
    return app
}

public func buildRouter(
    configuration: APIConfiguration, postgres: PostgresClient, logger: Logger,
    clock: @escaping @Sendable () -> Date = Date.init,
    metrics: FlowForgeMetrics = FlowForgeMetrics()
) -> Router<BasicRequestContext> {
    let stores = Stores(client: postgres, logger: logger, clock: clock, metrics: metrics, secretBox: configuration.secretBox)
    let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
    router.add(middleware: ErrorMiddleware(databaseWait: configuration.databaseWait))
    let methodNotAllowed = MethodNotAllowedMiddleware<BasicRequestContext>()
    router.add(middleware: methodNotAllowed)
    HealthController(postgres: postgres, logger: logger).addRoutes(to: router)
    metrics.addRoute(to: router, postgres: postgres, logger: logger)
    router.add(middleware: UIController())

    // Webhooks authenticate by signature, not by token: outside the token-checked group.
    WebhookController(stores: stores).addRoutes(to: router.group("api/hooks"))
    let api = router.group("api")
    if !configuration.insecureNoAuth {
        api.add(middleware: AuthMiddleware(tokens: configuration.tokens))
    }
    WorkflowsController(stores: stores).addRoutes(to: api.group("workflows"))
    TriggersController(stores: stores).addRoutes(to: api.group("workflows/:id/triggers"))
    ScheduleController(clock: clock).addRoutes(to: api.group("schedule"))
    ExecutionsController(stores: stores).addRoutes(to: api.group("executions"))
    GraphController(stores: stores).addRoutes(to: api.group("graph"))
    AlertChannelsController(stores: stores, sender: AlertSender(logger: logger)).addRoutes(to: api.group("alert-channels"))
    AlertRulesController(stores: stores).addRoutes(to: api.group("alert-rules"))
    AlertsController(stores: stores).addRoutes(to: api.group("alerts"))
    methodNotAllowed.learn(router.routes)
    return router
}

/// The stores every controller draws on, and the clock they read "now" from.
struct Stores: Sendable {
    let workflows: WorkflowStore
    let triggers: TriggerStore
    let executions: ExecutionStore
    let events: EventStore
    let alerts: AlertStore
    let secretBox: SecretBox?
    let clock: @Sendable () -> Date

    init(client: PostgresClient, logger: Logger, clock: @escaping @Sendable () -> Date, metrics: FlowForgeMetrics, secretBox: SecretBox?) {
        workflows = WorkflowStore(client: client, logger: logger)
        triggers = TriggerStore(client: client, logger: logger)
        executions = ExecutionStore(client: client, logger: logger, metrics: metrics)
        events = EventStore(client: client, logger: logger, metrics: metrics)
        alerts = AlertStore(client: client, logger: logger)
        self.secretBox = secretBox
        self.clock = clock
    }

    /// Gives a new webhook trigger its secret (sealed into the definition); returns the secret
    /// to show once. Other triggers are left alone.
    func sealSecret(for definition: inout TriggerDefinition) throws -> String? {
        guard definition.type == .event, definition.eventType == .webhook else { return nil }
        let (secret, sealed) = try requireSecretBox().newSecret()
        definition.sealedSecret = sealed
        return secret
    }

    func requireSecretBox() throws -> SecretBox {
        guard let secretBox else {
            throw APIError(
                .conflict,
                "webhook triggers need FLOWFORGE_SECRET_KEY on the API (32 random bytes: openssl rand -hex 32), and it is not set")
        }
        return secretBox
    }
}
