import Foundation

/// Encodes response bodies straight into JSON text, with the writer `JSONValue` uses: compact,
/// fields in the order the type encodes them, `Date` as an RFC 3339 `Timestamp`, `JSONValue`
/// as its own text (keys sorted) and `RawJSON` copied as it is, never parsed. A nil encoded
/// with `encode` is written as `null`; with `encodeIfPresent` the field is left out. Coding paths
/// are not tracked (always empty): nothing FlowForge encodes reads them, and keeping them cost an
/// allocation per field.
public struct JSONBodyEncoder {
    public init() {}

    /// `capacity`: the bytes to reserve, for answers whose size is known to be large.
    public func encode<T: Encodable>(_ value: T, capacity: Int = 512) throws -> [UInt8] {
        let sink = JSONSink(capacity: capacity)
        try sink.encode(value)
        return sink.bytes
    }
}

/// The text being written and the containers still open in it, as one value: each step of the
/// encoder is one access to it (a class's separate properties cost an exclusivity check each).
struct JSONOutput {
    var bytes: [UInt8] = []
    /// Open objects and arrays, innermost last: each one's closing byte and whether it has an
    /// entry yet (so the next needs a comma).
    var stack: [(closer: UInt8, empty: Bool)] = []

    /// Opens an object or array at `level`, unless the encoder at that level already did.
    mutating func open(_ opener: UInt8, _ closer: UInt8, level: Int) {
        close(downTo: level + 1)
        guard stack.count == level else { return }
        bytes.append(opener)
        stack.append((closer, true))
    }

    /// Before an entry of the container at `level`: closes what entries before it left open,
    /// and writes the comma.
    mutating func entry(level: Int) {
        close(downTo: level + 1)
        if stack[level].empty {
            stack[level].empty = false
        } else {
            bytes.append(UInt8(ascii: ","))
        }
    }

    /// An entry of the object at `level`: its key, then what `value` writes.
    mutating func field(_ key: String, level: Int, _ value: (inout [UInt8]) -> Void) {
        entry(level: level)
        JSONValue.writeString(key, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        value(&bytes)
    }

    /// An entry of the array at `level`: what `value` writes.
    mutating func item(level: Int, _ value: (inout [UInt8]) -> Void) {
        entry(level: level)
        value(&bytes)
    }

    /// Closes what `level` and deeper left open; a value that wrote nothing since `start` is an
    /// empty object, as Foundation writes it.
    mutating func close(downTo level: Int, start: Int? = nil) {
        while stack.count > level { bytes.append(stack.removeLast().closer) }
        if let start, bytes.count == start { bytes.append(contentsOf: "{}".utf8) }
    }
}

/// The output shared by the encoders and containers of one answer.
final class JSONSink {
    var output = JSONOutput()

    init(capacity: Int) {
        output.bytes.reserveCapacity(capacity)
    }

    var bytes: [UInt8] { output.bytes }

    func encode<T: Encodable>(_ value: T) throws {
        if T.self == JSONValue.self {
            (value as! JSONValue).write(into: &output.bytes)
        } else if T.self == RawJSON.self {
            output.bytes.append(contentsOf: (value as! RawJSON).bytes)
        } else if T.self == Date.self {
            JSONValue.writeString(Timestamp.format(value as! Date), into: &output.bytes)
        } else {
            let level = output.stack.count
            let start = output.bytes.count
            try value.encode(to: BodyEncoder(sink: self, level: level))
            output.close(downTo: level, start: start)
        }
    }
}

/// How the containers write scalars.
extension [UInt8] {
    mutating func writeNull() { append(contentsOf: "null".utf8) }
    mutating func write(_ value: Bool) { append(contentsOf: (value ? "true" : "false").utf8) }
    mutating func write(_ value: String) { JSONValue.writeString(value, into: &self) }
    mutating func write(_ value: Double) { JSONValue.double(value).write(into: &self) }
    mutating func write(_ value: some BinaryInteger) { append(contentsOf: String(value).utf8) }
}

/// One value being encoded, at `level` of the sink's open containers.
struct BodyEncoder: Encoder {
    let sink: JSONSink
    let level: Int

    var codingPath: [any CodingKey] { [] }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        sink.output.open(UInt8(ascii: "{"), UInt8(ascii: "}"), level: level)
        return KeyedEncodingContainer(ObjectWriter<Key>(sink: sink, level: level))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.output.open(UInt8(ascii: "["), UInt8(ascii: "]"), level: level)
        return ArrayWriter(sink: sink, level: level)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { ValueWriter(sink: sink) }
}
