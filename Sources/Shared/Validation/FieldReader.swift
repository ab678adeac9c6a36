import Foundation

/// Reads the fields of one stored JSON object strictly (an event trigger's `event_config`):
/// each accessor checks type and bounds and names the field in its error; `finish()` refuses
/// any field nobody asked for. Request bodies are read by `JSONBodyDecoder` with the same rules.
public struct FieldReader {
    private let fields: [String: JSONValue]
    private let path: String
    private var read: Set<String> = []

    /// `path` prefixes field names in errors ("steps[2]." gives "steps[2].command …").
    public init(_ value: JSONValue, path: String = "", what: String = "request body") throws(FlowForgeError) {
        guard case .object(let fields) = value else {
            throw FieldRules.notAnObject(value, name: path.isEmpty ? what : String(path.dropLast()))
        }
        self.fields = fields
        self.path = path
    }

    public func has(_ key: String) -> Bool { fields[key] != nil }

    public func name(_ key: String) -> String { path + key }

    /// The raw value, marked as read; nil when absent.
    public mutating func value(_ key: String) -> JSONValue? {
        read.insert(key)
        return fields[key]
    }

    public mutating func string(
        _ key: String, maxLength: Int, allowEmpty: Bool = false
    ) throws(FlowForgeError) -> String? {
        guard let value = value(key) else { return nil }
        return try FieldRules.string(value, name: name(key), maxLength: maxLength, allowEmpty: allowEmpty)
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int64>) throws(FlowForgeError) -> Int64? {
        guard let value = value(key) else { return nil }
        return try FieldRules.int(value, name: name(key), in: range)
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int>) throws(FlowForgeError) -> Int? {
        guard let value = value(key) else { return nil }
        return try FieldRules.int(value, name: name(key), in: range)
    }

    public mutating func bool(_ key: String) throws(FlowForgeError) -> Bool? {
        guard let value = value(key) else { return nil }
        return try FieldRules.bool(value, name: name(key))
    }

    public mutating func choice<T: CaseIterable & RawRepresentable>(
        _ key: String, _: T.Type
    ) throws(FlowForgeError) -> T? where T.RawValue == String {
        guard let value = value(key) else { return nil }
        return try FieldRules.choice(value, name: name(key), T.self)
    }

    public mutating func stringMap(
        _ key: String, maxEntries: Int, maxLength: Int
    ) throws(FlowForgeError) -> [String: String]? {
        guard let value = value(key) else { return nil }
        return try FieldRules.stringMap(value, name: name(key), maxEntries: maxEntries, maxLength: maxLength)
    }

    /// Refuses fields that no accessor read: a typo must not be silently ignored.
    public func finish() throws(FlowForgeError) {
        try FieldRules.refuseUnknown(fields.keys, read: read, name: name)
    }
}
