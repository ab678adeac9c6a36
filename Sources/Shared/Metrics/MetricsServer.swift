import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

extension FlowForgeMetrics {
    /// Adds `GET /metrics` to a router: the queue depth is read fresh, then everything is rendered.
    public func addRoute<Context: RequestContext>(to router: Router<Context>, postgres: PostgresClient, logger: Logger) {
        router.get("metrics") { _, _ in
            await self.refreshQueueDepth(client: postgres, logger: logger)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: self.render())))
        }
    }

    /// The small HTTP server the scheduler and the worker run when `FLOWFORGE_METRICS_PORT` is
    /// set: `/metrics` and `/healthz` (the process is up and its event loop answers).
    public func server(
        host: String, port: Int, postgres: PostgresClient, logger: Logger,
        onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
    ) -> some Service {
        let router = Router(context: BasicRequestContext.self)
        router.get("healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        addRoute(to: router, postgres: postgres, logger: logger)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "FlowForge"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
