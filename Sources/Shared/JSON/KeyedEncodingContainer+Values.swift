import Foundation

/// Typed `encode`s for the values answers write most, so that they reach the container's own
/// string, number and null writers instead of going through `Optional`'s and `Date`'s
/// `encode(to:)` and a nested encoder each. The JSON is the same: a nil is `null`, a date its
/// `Timestamp`.
extension KeyedEncodingContainer {
    public mutating func encode(_ value: Date, forKey key: Key) throws {
        try encode(Timestamp.format(value), forKey: key)
    }

    public mutating func encode(_ value: Date?, forKey key: Key) throws {
        guard let value else { return try encodeNil(forKey: key) }
        try encode(Timestamp.format(value), forKey: key)
    }

    public mutating func encode(_ value: String?, forKey key: Key) throws {
        guard let value else { return try encodeNil(forKey: key) }
        try encode(value, forKey: key)
    }

    public mutating func encode(_ value: Int64?, forKey key: Key) throws {
        guard let value else { return try encodeNil(forKey: key) }
        try encode(value, forKey: key)
    }

    public mutating func encode(_ value: Int?, forKey key: Key) throws {
        guard let value else { return try encodeNil(forKey: key) }
        try encode(value, forKey: key)
    }
}
