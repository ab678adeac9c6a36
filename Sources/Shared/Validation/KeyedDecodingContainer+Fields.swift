/// How request bodies read their fields: each accessor answers nil for an absent field, and for
/// a given one (null included) checks type and bounds with `FieldRules`, naming the field by its
/// path. Reading a field marks it as asked for, so `JSONBodyDecoder` does not refuse it.
extension KeyedDecodingContainer {
    /// The field as error sentences name it: "steps[2].command".
    public func fieldName(_ key: Key) -> String { FieldPath.name(codingPath + [key]) }

    /// The field decoded as `type` when it was sent, even as null; nil when absent.
    public func given<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T? {
        contains(key) ? try decode(type, forKey: key) : nil
    }

    /// The field's JSON as sent; nil when absent.
    public func json(_ key: Key) throws -> JSONValue? { try given(JSONValue.self, key) }

    public func string(_ key: Key, maxLength: Int, allowEmpty: Bool = false) throws -> String? {
        guard let value = try json(key) else { return nil }
        return try FieldRules.string(value, name: fieldName(key), maxLength: maxLength, allowEmpty: allowEmpty)
    }

    /// A string that may also be given as `null` (read as "clear it"): `.some(nil)` then.
    public func nullableString(_ key: Key, maxLength: Int) throws -> String?? {
        guard let value = try json(key) else { return .none }
        if value == .null { return .some(nil) }
        return .some(try FieldRules.string(value, name: fieldName(key), maxLength: maxLength, allowEmpty: true))
    }

    public func int(_ key: Key, in range: ClosedRange<Int64>) throws -> Int64? {
        guard let value = try json(key) else { return nil }
        return try FieldRules.int(value, name: fieldName(key), in: range)
    }

    public func int(_ key: Key, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = try json(key) else { return nil }
        return try FieldRules.int(value, name: fieldName(key), in: range)
    }

    public func bool(_ key: Key) throws -> Bool? {
        guard let value = try json(key) else { return nil }
        return try FieldRules.bool(value, name: fieldName(key))
    }

    public func choice<T: CaseIterable & RawRepresentable>(_ key: Key, _: T.Type) throws -> T? where T.RawValue == String {
        guard let value = try json(key) else { return nil }
        return try FieldRules.choice(value, name: fieldName(key), T.self)
    }

    public func stringMap(_ key: Key, maxEntries: Int, maxLength: Int) throws -> [String: String]? {
        guard let value = try json(key) else { return nil }
        return try FieldRules.stringMap(value, name: fieldName(key), maxEntries: maxEntries, maxLength: maxLength)
    }
}
