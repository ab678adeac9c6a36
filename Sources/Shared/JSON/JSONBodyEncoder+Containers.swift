/// An object's fields, written as they are encoded.
struct ObjectWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: JSONSink
    let level: Int

    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil(forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.writeNull() } }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        sink.output.field(key.stringValue, level: level) { _ in }
        try sink.encode(value)
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: String, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: Double, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: Float, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(Double(value)) } }
    mutating func encode(_ value: Int, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: Int8, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: Int16, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: Int32, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: Int64, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { sink.output.field(key.stringValue, level: level) { $0.write(value) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        nested(key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { nested(key).unkeyedContainer() }

    mutating func superEncoder() -> any Encoder { nested(NameKey("super")) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { nested(key) }

    /// The encoder of the value of `key`, one level deeper; whatever it opens stays open until
    /// this object's next field.
    private func nested(_ key: some CodingKey) -> BodyEncoder {
        sink.output.field(key.stringValue, level: level) { _ in }
        return BodyEncoder(sink: sink, level: level + 1)
    }
}

/// An array's items, written as they are encoded.
struct ArrayWriter: UnkeyedEncodingContainer {
    let sink: JSONSink
    let level: Int

    var codingPath: [any CodingKey] { [] }
    var count = 0

    private mutating func next() {
        count += 1
        sink.output.entry(level: level)
    }

    mutating func encodeNil() throws { count += 1; sink.output.item(level: level) { $0.writeNull() } }

    mutating func encode<T: Encodable>(_ value: T) throws {
        next()
        try sink.encode(value)
    }

    mutating func encode(_ value: Bool) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: String) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: Double) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: Float) throws { count += 1; sink.output.item(level: level) { $0.write(Double(value)) } }
    mutating func encode(_ value: Int) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: Int8) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: Int16) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: Int32) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: Int64) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt8) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt16) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt32) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }
    mutating func encode(_ value: UInt64) throws { count += 1; sink.output.item(level: level) { $0.write(value) } }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        nested().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { nested().unkeyedContainer() }

    mutating func superEncoder() -> any Encoder { nested() }

    private mutating func nested() -> BodyEncoder {
        next()
        return BodyEncoder(sink: sink, level: level + 1)
    }
}

/// One value, written in place.
struct ValueWriter: SingleValueEncodingContainer {
    let sink: JSONSink

    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { sink.output.bytes.writeNull() }
    mutating func encode<T: Encodable>(_ value: T) throws { try sink.encode(value) }
    mutating func encode(_ value: Bool) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: String) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: Double) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: Float) throws { sink.output.bytes.write(Double(value)) }
    mutating func encode(_ value: Int) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: Int8) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: Int16) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: Int32) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: Int64) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: UInt) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: UInt8) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: UInt16) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: UInt32) throws { sink.output.bytes.write(value) }
    mutating func encode(_ value: UInt64) throws { sink.output.bytes.write(value) }
}
