import Foundation
import FlowForgeShared
import Hummingbird

/// Largest request body the API reads; larger ones get 413 without being read further.
let maxBodyBytes = 1_048_576

extension APIError {
    static let bodyTooLarge = APIError(.contentTooLarge, "request body is larger than \(maxBodyBytes / 1_048_576) MiB")
}

extension Request {
    /// The body as JSON; an empty body, invalid JSON or one over the size limit is a 4xx.
    mutating func jsonBody(context: some RequestContext) async throws -> JSONValue {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError.bodyTooLarge
        }
        guard buffer.readableBytes > 0 else { throw APIError(.badRequest, "request body is empty: send a JSON object") }
        return try JSONValue.parse(buffer.readableBytesView)
    }

    /// The body as a request type, decoded by `JSONBodyDecoder`: every error a 400 naming the field.
    mutating func decodeBody<Body: RequestBody>(_ type: Body.Type, context: some RequestContext) async throws -> Body {
        try JSONBodyDecoder().decode(type, from: try await jsonBody(context: context))
    }

    /// The body as a request type for a route whose body is optional: `empty` when none was sent.
    mutating func decodeOptionalBody<Body: RequestBody>(
        _ type: Body.Type, context: some RequestContext, empty: Body
    ) async throws -> Body {
        let buffer: ByteBuffer
        do {
            buffer = try await collectBody(upTo: maxBodyBytes)
        } catch let error as any HTTPResponseError where error.status == .contentTooLarge {
            throw APIError.bodyTooLarge
        }
        guard buffer.readableBytes > 0 else { return empty }
        return try JSONBodyDecoder().decode(type, from: try JSONValue.parse(buffer.readableBytesView))
    }

    /// A positive integer id from the path; anything else is a 400 naming the parameter.
    func id(_ name: String, context: some RequestContext, label: String) throws -> Int64 {
        let text = context.parameters.get(name) ?? ""
        guard let id = Int64(text), id > 0 else {
            throw APIError(.badRequest, "\(label) must be a positive whole number, not \"\(text.prefix(40))\"")
        }
        return id
    }

    /// One query parameter, validated; a repeated or malformed one is a 400 naming it.
    func query(_ name: String) throws -> String? {
        let values = uri.queryParameters.getAll(name)
        guard values.count <= 1 else { throw APIError(.badRequest, "query parameter \(name) is given more than once") }
        return values.first.map { String($0) }
    }

    func queryInt(_ name: String, in range: ClosedRange<Int64>, default value: Int64? = nil) throws -> Int64? {
        guard let text = try query(name) else { return value }
        guard let number = Int64(text), range.contains(number) else {
            throw APIError(.badRequest, "query parameter \(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    func queryBool(_ name: String) throws -> Bool? {
        guard let text = try query(name) else { return nil }
        guard let value = Bool(text) else { throw APIError(.badRequest, "query parameter \(name) must be true or false") }
        return value
    }

    func queryChoice<T: CaseIterable & RawRepresentable>(_ name: String, _: T.Type) throws -> T? where T.RawValue == String {
        guard let text = try query(name) else { return nil }
        guard let value = T(rawValue: text) else { throw APIError(.badRequest, "query parameter \(name) must be one of \(T.choices)") }
        return value
    }
}
