import FlowForgeShared
import Hummingbird

/// Bearer-token check for `/api/*`. Tokens are compared in constant time so response timing
/// does not leak how much of a guess was right.
struct AuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let tokens: [[UInt8]]

    init(tokens: [String]) {
        self.tokens = tokens.map { Array($0.utf8) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.count > 7,
            header.prefix(7).lowercased() == "bearer "
        else { throw Self.unauthorized }
        let presented = Array(header.dropFirst(7).utf8)
        var matched = false
        for token in tokens where Self.constantTimeEqual(token, presented) { matched = true }
        guard matched else { throw Self.unauthorized }
        return try await next(request, context)
    }

    static var unauthorized: APIError {
        var error = APIError(.unauthorized, "a valid API token is required: send the header Authorization: Bearer <token>")
        error.headers[.wwwAuthenticate] = "Bearer realm=\"flowforge\""
        return error
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            let x = index < a.count ? a[index] : 0
            let y = index < b.count ? b[index] : 0
            difference |= x ^ y
        }
        return difference == 0
    }
}
