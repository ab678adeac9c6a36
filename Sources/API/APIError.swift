import Foundation
import FlowForgeShared
import Hummingbird
import Logging
import PostgresNIO

/// The one place errors become HTTP answers: always `{"error": "<sentence>"}` with a 4xx, or a
/// bare 500 whose cause is logged, never shown.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    /// A circular dependency's path, answered beside the sentence.
    var cycle: [WorkflowRef]?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    init(_ error: FlowForgeError) {
        switch error {
        case .invalid(let message): self.init(.badRequest, message)
        case .notFound(let message): self.init(.notFound, message)
        case .conflict(let message): self.init(.conflict, message)
        case .circularDependency(let cycle):
            self.init(.conflict, error.message)
            self.cycle = cycle
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try JSONBody(status, ErrorBody(cycle: cycle, error: message)).response()
        response.headers.append(contentsOf: headers)
        return response
    }
}

/// Converts whatever a route threw into the API's error shape.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// How long a request waits for a database connection (`ConnectionWait.limit`), from
    /// `APIConfiguration.databaseWait`.
    let databaseWait: Duration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await ConnectionWait.$limit.withValue(databaseWait) { try await next(request, context) }
        } catch {
            throw Self.apiError(for: error, request: request, context: context)
        }
    }

    static func apiError(for error: any Error, request: Request, context: Context) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as FlowForgeError:
            return APIError(error)
        case let error as PostgresTransactionError where error.closureError != nil:
            // A store threw inside a transaction; what it threw is the answer.
            return apiError(for: error.closureError!, request: request, context: context)
        case let error as HTTPError:
            return APIError(error.status, sentence(for: error))
        case let error as any HTTPResponseError where error.status.code < 500:
            if error.status == .contentTooLarge { return .bodyTooLarge }
            return APIError(error.status, error.status.reasonPhrase)
        case _ where isDatabaseUnavailable(error):
            context.logger.warning(
                "database unavailable", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return APIError(.serviceUnavailable, "the database could not be reached or dropped the connection; try again shortly")
        default:
            context.logger.error(
                "request failed", metadata: ["error": "\(String(reflecting: error))", "path": "\(request.uri.path)"])
            return APIError(.internalServerError, "internal error; the server log has the details")
        }
    }

    /// The database was down, restarting or unreachable, or closed the connection: nothing
    /// is wrong with the request, and the same request can succeed in a moment.
    static func isDatabaseUnavailable(_ error: any Error) -> Bool {
        switch error {
        case is ConnectionClosed, is ConnectionUnavailable, is DeadlineExceeded:
            return true
        case let error as PSQLError:
            switch error.code {
            case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed:
                return true
            case .server:
                // Class 08, connection exception; 57P01–57P03, shutting down or starting up.
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
            default:
                return false
            }
        case let error as PostgresTransactionError:
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(isDatabaseUnavailable) ?? false }
        default:
            return false
        }
    }

    private static func sentence(for error: HTTPError) -> String {
        if let body = error.body, !body.isEmpty { return body }
        switch error.status {
        case .notFound: return "no such route"
        case .methodNotAllowed: return "this route does not accept that method"
        case .contentTooLarge: return "request body is too large"
        default: return error.status.reasonPhrase
        }
    }
}
