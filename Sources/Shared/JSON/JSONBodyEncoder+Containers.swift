/// An object's fields, written as they are encoded.
struct ObjectWriter<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let sink: JSONSink
    let codingPath: [any CodingKey]
    let level: Int

    mutating func encodeNil(forKey key: Key) throws {
        sink.key(key, level: level)
        sink.writeNull()
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        sink.key(key, level: level)
        try sink.write(value, at: codingPath + [key])
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: String, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: Double, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { sink.key(key, level: level); sink.write(Double(value)) }
    mutating func encode(_ value: Int, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { sink.key(key, level: level); sink.write(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        nested(key).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer { nested(key).unkeyedContainer() }

    mutating func superEncoder() -> any Encoder { nested(NameKey("super")) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { nested(key) }

    /// The encoder of the value of `key`, one level deeper; whatever it opens stays open until
    /// this object's next field.
    private func nested(_ key: some CodingKey) -> BodyEncoder {
        sink.key(key, level: level)
        return BodyEncoder(sink: sink, codingPath: codingPath + [key], level: level + 1)
    }
}

/// An array's items, written as they are encoded.
struct ArrayWriter: UnkeyedEncodingContainer {
    let sink: JSONSink
    let codingPath: [any CodingKey]
    let level: Int
    var count = 0

    private mutating func next() {
        sink.entry(level: level)
        count += 1
    }

    mutating func encodeNil() throws { next(); sink.writeNull() }

    mutating func encode<T: Encodable>(_ value: T) throws {
        next()
        try sink.write(value, at: codingPath + [IndexKey(count - 1)])
    }

    mutating func encode(_ value: Bool) throws { next(); sink.write(value) }
    mutating func encode(_ value: String) throws { next(); sink.write(value) }
    mutating func encode(_ value: Double) throws { next(); sink.write(value) }
    mutating func encode(_ value: Float) throws { next(); sink.write(Double(value)) }
    mutating func encode(_ value: Int) throws { next(); sink.write(value) }
    mutating func encode(_ value: Int8) throws { next(); sink.write(value) }
    mutating func encode(_ value: Int16) throws { next(); sink.write(value) }
    mutating func encode(_ value: Int32) throws { next(); sink.write(value) }
    mutating func encode(_ value: Int64) throws { next(); sink.write(value) }
    mutating func encode(_ value: UInt) throws { next(); sink.write(value) }
    mutating func encode(_ value: UInt8) throws { next(); sink.write(value) }
    mutating func encode(_ value: UInt16) throws { next(); sink.write(value) }
    mutating func encode(_ value: UInt32) throws { next(); sink.write(value) }
    mutating func encode(_ value: UInt64) throws { next(); sink.write(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        nested().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { nested().unkeyedContainer() }

    mutating func superEncoder() -> any Encoder { nested() }

    private mutating func nested() -> BodyEncoder {
        next()
        return BodyEncoder(sink: sink, codingPath: codingPath + [IndexKey(count - 1)], level: level + 1)
    }
}

/// One value, written in place.
struct ValueWriter: SingleValueEncodingContainer {
    let sink: JSONSink
    let codingPath: [any CodingKey]
    let level: Int

    mutating func encodeNil() throws { sink.writeNull() }
    mutating func encode<T: Encodable>(_ value: T) throws { try sink.write(value, at: codingPath) }
    mutating func encode(_ value: Bool) throws { sink.write(value) }
    mutating func encode(_ value: String) throws { sink.write(value) }
    mutating func encode(_ value: Double) throws { sink.write(value) }
    mutating func encode(_ value: Float) throws { sink.write(Double(value)) }
    mutating func encode(_ value: Int) throws { sink.write(value) }
    mutating func encode(_ value: Int8) throws { sink.write(value) }
    mutating func encode(_ value: Int16) throws { sink.write(value) }
    mutating func encode(_ value: Int32) throws { sink.write(value) }
    mutating func encode(_ value: Int64) throws { sink.write(value) }
    mutating func encode(_ value: UInt) throws { sink.write(value) }
    mutating func encode(_ value: UInt8) throws { sink.write(value) }
    mutating func encode(_ value: UInt16) throws { sink.write(value) }
    mutating func encode(_ value: UInt32) throws { sink.write(value) }
    mutating func encode(_ value: UInt64) throws { sink.write(value) }
}
