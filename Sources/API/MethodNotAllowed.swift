import FlowForgeShared
import Hummingbird
import Synchronization

/// Hummingbird's router answers 404 when a path exists but has no handler for the method asked.
/// HTTP wants 405 with `Allow` naming the methods the path has, and an `OPTIONS` request answered
/// with that list. This middleware sits in front of the router's not-found answer and looks the
/// path up in the routes `buildRouter` hands it once every route is registered; a path no route
/// matches stays a 404.
final class MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware, Sendable {
    private struct Route: Sendable {
        let path: RouterPath
        var methods: Set<HTTPRequest.Method>
    }

    private let table = Mutex<[Route]>([])

    /// The routes of the finished router. `HEAD` is allowed wherever `GET` is (the router answers
    /// it from the `GET` handler).
    func learn(_ routes: [Router<Context>.RouteDescription]) {
        var byPath: [String: Route] = [:]
        for route in routes {
            byPath[route.path.description, default: Route(path: route.path, methods: [])].methods.insert(route.method)
        }
        for key in byPath.keys where byPath[key]!.methods.contains(.get) { byPath[key]!.methods.insert(.head) }
        table.withLock { $0 = Array(byPath.values) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = allowedMethods(path: request.uri.path), !methods.contains(request.method) else { throw error }
            let allow = (methods.union([.options])).map(\.rawValue).sorted().joined(separator: ", ")
            if request.method == .options { return Response(status: .noContent, headers: [.allow: allow]) }
            var answer = APIError(
                .methodNotAllowed, "\(request.uri.path.prefix(200)) does not accept \(request.method.rawValue.prefix(20)); it accepts \(allow)")
            answer.headers[.allow] = allow
            throw answer
        }
    }

    /// The methods of the route the router would pick for `path` (constant segments before
    /// parameters and wildcards), or nil when no route matches it.
    private func allowedMethods(path: String) -> Set<HTTPRequest.Method>? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (rank: [Int], methods: Set<HTTPRequest.Method>)?
        for route in table.withLock({ $0 }) {
            guard let rank = Self.rank(route.path, segments) else { continue }
            if best == nil || rank.lexicographicallyPrecedes(best!.rank) { best = (rank, route.methods) }
        }
        return best?.methods
    }

    /// Per segment 0 for a constant match, 1 for a parameter or wildcard; nil when it does not match.
    private static func rank(_ route: RouterPath, _ segments: [Substring]) -> [Int]? {
        var rank: [Int] = []
        for (index, element) in route.components.enumerated() {
            if element.description == "**" { return rank + [2] }
            guard index < segments.count, element ~= segments[index] else { return nil }
            rank.append(element == segments[index] ? 0 : 1)
        }
        return route.components.count == segments.count ? rank : nil
    }
}
