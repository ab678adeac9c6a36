import AsyncHTTPClient
import FlowForgeShared
import Foundation
import NIOCore
import NIOHTTP1

/// What the command-line client says when something went wrong: the API's own sentence, or
/// why the API could not be asked. Printed on stderr, and the command exits 1.
struct ClientFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// The client commands' way to the API: `FLOWFORGE_URL` (default `make run`'s address,
/// http://127.0.0.1:8080) and `FLOWFORGE_TOKEN` (default the token `flowforge dev` keeps in
/// `.flowforge/api-token`). Answers are JSON; a 4xx becomes its `error` sentence.
struct APIClient: Sendable {
    static let defaultURL = "http://127.0.0.1:8080"
    static let tokenFile = ".flowforge/api-token"

    let baseURL: String
    let token: String?
    private let http: HTTPClient

    /// Runs `body` with a client for the API the environment names, shutting it down after.
    static func with<T: Sendable>(
        environment: [String: String] = ProcessInfo.processInfo.environment, _ body: (APIClient) async throws -> T
    ) async throws -> T {
        var base = environment["FLOWFORGE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultURL
        while base.hasSuffix("/") { base.removeLast() }
        if base.hasSuffix("/api") { base.removeLast(4) }
        guard let url = URL(string: base), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ClientFailure("FLOWFORGE_URL must be an http:// or https:// address such as \(defaultURL), not \"\(base)\"")
        }
        var token = environment["FLOWFORGE_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if token == nil, let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) {
            token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var configuration = HTTPClient.Configuration(timeout: .init(connect: .seconds(5), read: .seconds(60)))
        // A refused connection is said at once, with the address tried, instead of being
        // retried until a timeout.
        configuration.connectionPool.retryConnectionEstablishment = false
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        let client = APIClient(baseURL: base, token: token, http: http)
        do {
            let result = try await body(client)
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    func get(_ path: String) async throws -> JSONValue { try await send(.GET, path, body: nil) }

    func post(_ path: String, body: JSONValue? = nil) async throws -> JSONValue { try await send(.POST, path, body: body) }

    private func send(_ method: HTTPMethod, _ path: String, body: JSONValue?) async throws -> JSONValue {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.headers.add(name: "Accept", value: "application/json")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body.encoded()))
        }
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(60))
            bytes = try await response.body.collect(upTo: 256 << 20)
        } catch {
            throw ClientFailure("cannot reach FlowForge at \(baseURL): \(Self.describe(error)) (FLOWFORGE_URL sets the address)")
        }
        let answer = try? JSONValue.parse(bytes.readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            if var message = answer?["error"]?.stringValue {
                if response.status == .unauthorized && token == nil {
                    message += " (set FLOWFORGE_TOKEN, or run this where \(Self.tokenFile) is)"
                }
                throw ClientFailure(message)
            }
            throw ClientFailure("\(method.rawValue) \(baseURL)\(path) answered \(response.status.code) \(response.status.reasonPhrase)")
        }
        guard let answer else {
            throw ClientFailure("\(method.rawValue) \(baseURL)\(path) answered something that is not JSON: is FLOWFORGE_URL FlowForge's address?")
        }
        return answer
    }

    /// A connection error in a few words.
    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.localizedCaseInsensitiveContains("refused") { return "connection refused" }
        if let error = error as? HTTPClientError, error == .connectTimeout { return "no answer to the connection within 5 s" }
        return text
    }

    // MARK: - What the commands ask

    /// Every workflow, a page of 200 at a time.
    func workflows() async throws -> [JSONValue] {
        var all: [JSONValue] = []
        while true {
            let page = try await get("/api/workflows?limit=200&offset=\(all.count)")
            let items = page.list("workflows")
            all += items
            guard !items.isEmpty, all.count < (page["total"]?.intValue).map(Int.init) ?? 0 else { return all }
        }
    }

    /// The workflow `reference` names: an id (when it is a number and such a workflow exists),
    /// else the workflow of that name.
    func workflow(_ reference: String) async throws -> JSONValue {
        if let id = Int64(reference), id > 0 {
            do {
                return try await get("/api/workflows/\(id)")
            } catch let failure as ClientFailure where failure.message == "workflow \(id) does not exist" {
                // A workflow may be named "42": look for the name.
            }
        }
        guard let found = try await workflows().first(where: { $0["name"]?.stringValue == reference }),
            let id = found["id"]?.intValue
        else {
            throw ClientFailure("no workflow is named \"\(reference)\"\(Int64(reference) != nil ? " or has that id" : ""); `flowforge workflows` lists them")
        }
        return try await get("/api/workflows/\(id)")
    }
}

extension JSONValue {
    /// The elements of an array field, or an empty list.
    func list(_ key: String) -> [JSONValue] { self[key]?.arrayValue ?? [] }

    /// A field as text for a table: strings as they are, numbers, "-" for null or absent.
    func text(_ key: String) -> String {
        switch self[key] {
        case .string(let text)?: text
        case .int(let number)?: String(number)
        case .bool(let flag)?: flag ? "yes" : "no"
        case .double?: String(decoding: self[key]!.encoded(), as: UTF8.self)
        default: "-"
        }
    }
}

/// Lines of columns, each as wide as its widest cell, two spaces apart.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    return all.map { row in
        row.enumerated().map { index, cell in
            index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
