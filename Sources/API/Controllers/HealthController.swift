import FlowForgeShared
import Foundation
import Hummingbird
import Logging
import PostgresNIO

/// Liveness, readiness and the OpenAPI document: no token needed, no secret revealed.
struct HealthController {
    let postgres: PostgresClient
    let logger: Logger

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in JSONBody(HealthBody()) }
        router.get("readyz") { _, _ in try await ready() }
        router.get("openapi.yaml") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.yaml)))
        }
    }

    /// Ready when the database answers within two seconds.
    private func ready() async throws -> Response {
        let reachable = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    try await postgres.ping(logger: logger)
                    return true
                } catch {
                    return false
                }
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        return try JSONBody(reachable ? .ok : .serviceUnavailable, ReadinessBody(databaseReachable: reachable)).response()
    }
}

/// The API's OpenAPI 3.1 document, shipped as a resource of this module.
enum OpenAPIDocument {
    static let yaml: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else { return Array("openapi: 3.1.0\ninfo: {title: FlowForge, version: unknown}\npaths: {}\n".utf8) }
        return Array(data)
    }()
}
