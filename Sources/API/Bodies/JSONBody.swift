import FlowForgeShared
import Hummingbird

/// An answer: a status and a value encoded by `JSONBodyEncoder`, so that a route is one line
/// (`return JSONBody(.created, TriggerBody(trigger))`).
struct JSONBody<Value: Encodable>: ResponseGenerator {
    let status: HTTPResponse.Status
    let value: Value
    /// Bytes to reserve, for answers known to be large.
    let capacity: Int

    init(_ status: HTTPResponse.Status, _ value: Value, capacity: Int = 512) {
        self.status = status
        self.value = value
        self.capacity = capacity
    }

    init(_ value: Value, capacity: Int = 512) {
        self.init(.ok, value, capacity: capacity)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { try response() }

    func response() throws -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try JSONBodyEncoder().encode(value, capacity: capacity))))
    }
}
