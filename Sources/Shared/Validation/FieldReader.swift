import Foundation

/// Reads the fields of one JSON object strictly: each accessor checks type and bounds and names
/// the field in its error; `finish()` refuses any field nobody asked for.
public struct FieldReader {
    private let fields: [String: JSONValue]
    private let path: String
    private var read: Set<String> = []

    /// `path` prefixes field names in errors ("steps[2]." gives "steps[2].command …").
    public init(_ value: JSONValue, path: String = "", what: String = "request body") throws(FlowForgeError) {
        guard case .object(let fields) = value else {
            throw .invalid("\(path.isEmpty ? what : String(path.dropLast())) must be a JSON object, not \(value.typeName)")
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
        guard case .string(let text) = value else { throw .invalid("\(name(key)) must be a string, not \(value.typeName)") }
        if !allowEmpty && text.trimmingCharacters(in: .whitespaces).isEmpty {
            throw .invalid("\(name(key)) must not be empty")
        }
        if text.count > maxLength { throw .invalid("\(name(key)) must be at most \(maxLength) characters long") }
        if text.unicodeScalars.contains(where: { $0.value == 0 }) {
            throw .invalid("\(name(key)) must not contain NUL characters")
        }
        return text
    }

    /// A string that may also be given as `null` (read as "clear it").
    public mutating func nullableString(_ key: String, maxLength: Int) throws(FlowForgeError) -> String?? {
        guard let value = fields[key] else { read.insert(key); return .none }
        if case .null = value { read.insert(key); return .some(nil) }
        return .some(try string(key, maxLength: maxLength, allowEmpty: true))
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int64>) throws(FlowForgeError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard let number = value.intValue else {
            if case .double(let number) = value {
                if number.rounded() == number {
                    throw .invalid("\(name(key)) must be between \(range.lowerBound) and \(range.upperBound)")
                }
                throw .invalid("\(name(key)) must be a whole number")
            }
            throw .invalid("\(name(key)) must be a number, not \(value.typeName)")
        }
        guard range.contains(number) else {
            throw .invalid("\(name(key)) must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
        }
        return number
    }

    public mutating func int(_ key: String, in range: ClosedRange<Int>) throws(FlowForgeError) -> Int? {
        try int(key, in: Int64(range.lowerBound)...Int64(range.upperBound)).map { Int($0) }
    }

    public mutating func bool(_ key: String) throws(FlowForgeError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value else { throw .invalid("\(name(key)) must be true or false, not \(value.typeName)") }
        return flag
    }

    public mutating func choice<T: CaseIterable & RawRepresentable>(
        _ key: String, _: T.Type
    ) throws(FlowForgeError) -> T? where T.RawValue == String {
        guard let value = value(key) else { return nil }
        guard case .string(let text) = value, let choice = T(rawValue: text) else {
            throw .invalid("\(name(key)) must be one of \(T.choices)")
        }
        return choice
    }

    public mutating func stringMap(
        _ key: String, maxEntries: Int, maxLength: Int
    ) throws(FlowForgeError) -> [String: String]? {
        guard let value = value(key) else { return nil }
        guard case .object(let entries) = value else { throw .invalid("\(name(key)) must be an object of strings, not \(value.typeName)") }
        guard entries.count <= maxEntries else { throw .invalid("\(name(key)) must have at most \(maxEntries) entries") }
        var result: [String: String] = [:]
        for (entryKey, entryValue) in entries {
            guard case .string(let text) = entryValue else {
                throw .invalid("\(name(key)).\(entryKey) must be a string, not \(entryValue.typeName)")
            }
            guard !entryKey.contains("\0"), !text.contains("\0") else {
                throw .invalid("\(name(key)) must not contain NUL characters")
            }
            guard entryKey.count <= 256, text.count <= maxLength else {
                throw .invalid("\(name(key)).\(entryKey.prefix(40)) is too long (at most \(maxLength) characters)")
            }
            result[entryKey] = text
        }
        return result
    }

    /// Refuses fields that no accessor read: a typo must not be silently ignored.
    public func finish() throws(FlowForgeError) {
        let unknown = Set(fields.keys).subtracting(read).sorted()
        guard let first = unknown.first else { return }
        let shown = first.count > 60 ? String(first.prefix(60)) + "…" : first
        throw .invalid("\(name(shown)) is not a known field")
    }
}
