import Foundation

/// Encodes response bodies straight into JSON text, with the writer `JSONValue` uses: compact,
/// fields in the order the type encodes them, `Date` as an RFC 3339 `Timestamp`, `JSONValue`
/// as its own text (keys sorted) and `RawJSON` copied as it is, never parsed. A nil encoded
/// with `encode` is written as `null`; with `encodeIfPresent` the field is left out.
public struct JSONBodyEncoder {
    public init() {}

    /// `capacity`: the bytes to reserve, for answers whose size is known to be large.
    public func encode<T: Encodable>(_ value: T, capacity: Int = 512) throws -> [UInt8] {
        let sink = JSONSink(capacity: capacity)
        try sink.write(value, at: [])
        return sink.bytes
    }
}

/// The text being written and the containers still open in it.
final class JSONSink {
    var bytes: [UInt8] = []
    /// Open objects and arrays, innermost last: each one's closing byte and whether it has an
    /// entry yet (so the next needs a comma).
    private var stack: [(closer: UInt8, empty: Bool)] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

        func write<T: Encodable>(_ value: T, at path: [any CodingKey]) throws {
        if T.self == JSONValue.self {
            (value as! JSONValue).write(into: &bytes)
        } else if T.self == RawJSON.self {
            bytes.append(contentsOf: (value as! RawJSON).bytes)
        } else if T.self == Date.self {
            JSONValue.writeString(Timestamp.format(value as! Date), into: &bytes)
        } else {
            let level = stack.count
            let start = bytes.count
            try value.encode(to: BodyEncoder(sink: self, codingPath: path, level: level))
            close(downTo: level)
            // A value that wrote nothing at all is an empty object, as Foundation writes it.
            if bytes.count == start { bytes.append(contentsOf: "{}".utf8) }
        }
    }

    /// Opens an object or array at `level`, unless the encoder at that level already did.
    func open(_ opener: UInt8, _ closer: UInt8, level: Int) {
        close(downTo: level + 1)
        guard stack.count == level else { return }
        bytes.append(opener)
        stack.append((closer, true))
    }

    /// Before an entry of the container at `level`: closes what entries before it left open,
    /// and writes the comma.
    func entry(level: Int) {
        close(downTo: level + 1)
        if stack[level].empty {
            stack[level].empty = false
        } else {
            bytes.append(UInt8(ascii: ","))
        }
    }

    func key(_ key: some CodingKey, level: Int) {
        entry(level: level)
        JSONValue.writeString(key.stringValue, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    func close(downTo level: Int) {
        while stack.count > level { bytes.append(stack.removeLast().closer) }
    }

    func writeNull() { bytes.append(contentsOf: "null".utf8) }
    func write(_ value: Bool) { bytes.append(contentsOf: (value ? "true" : "false").utf8) }
    func write(_ value: String) { JSONValue.writeString(value, into: &bytes) }
    func write(_ value: Double) { JSONValue.double(value).write(into: &bytes) }
    func write(_ value: some BinaryInteger) { bytes.append(contentsOf: String(value).utf8) }
}

/// One value being encoded, at `level` of the sink's open containers.
struct BodyEncoder: Encoder {
    let sink: JSONSink
    let codingPath: [any CodingKey]
    let level: Int

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        sink.open(UInt8(ascii: "{"), UInt8(ascii: "}"), level: level)
        return KeyedEncodingContainer(ObjectWriter<Key>(sink: sink, codingPath: codingPath, level: level))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        sink.open(UInt8(ascii: "["), UInt8(ascii: "]"), level: level)
        return ArrayWriter(sink: sink, codingPath: codingPath, level: level)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { ValueWriter(sink: sink, codingPath: codingPath, level: level) }
}
