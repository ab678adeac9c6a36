import Foundation

/// The checks on one JSON field's value, and their error sentences, shared by everything that
/// reads input: request bodies (through `JSONBodyDecoder`) and stored documents (`FieldReader`).
/// `name` is the field as the sentence names it ("steps[2].command").
public enum FieldRules {
    public static func string(
        _ value: JSONValue, name: String, maxLength: Int, allowEmpty: Bool = false
    ) throws(FlowForgeError) -> String {
        guard case .string(let text) = value else { throw .invalid("\(name) must be a string, not \(value.typeName)") }
        if !allowEmpty && text.trimmingCharacters(in: .whitespaces).isEmpty {
            throw .invalid("\(name) must not be empty")
        }
        if text.count > maxLength { throw .invalid("\(name) must be at most \(maxLength) characters long") }
        if text.unicodeScalars.contains(where: { $0.value == 0 }) {
            throw .invalid("\(name) must not contain NUL characters")
        }
        return text
    }

    public static func int(_ value: JSONValue, name: String, in range: ClosedRange<Int64>) throws(FlowForgeError) -> Int64 {
        guard let number = value.intValue else {
            if case .double(let number) = value {
                if number.rounded() == number {
                    throw .invalid("\(name) must be between \(range.lowerBound) and \(range.upperBound)")
                }
                throw .invalid("\(name) must be a whole number")
            }
            throw .invalid("\(name) must be a number, not \(value.typeName)")
        }
        guard range.contains(number) else {
            throw .invalid("\(name) must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
        }
        return number
    }

    public static func int(_ value: JSONValue, name: String, in range: ClosedRange<Int>) throws(FlowForgeError) -> Int {
        Int(try int(value, name: name, in: Int64(range.lowerBound)...Int64(range.upperBound)))
    }

    public static func bool(_ value: JSONValue, name: String) throws(FlowForgeError) -> Bool {
        guard case .bool(let flag) = value else { throw .invalid("\(name) must be true or false, not \(value.typeName)") }
        return flag
    }

    public static func choice<T: CaseIterable & RawRepresentable>(
        _ value: JSONValue, name: String, _: T.Type
    ) throws(FlowForgeError) -> T where T.RawValue == String {
        guard case .string(let text) = value, let choice = T(rawValue: text) else {
            throw .invalid("\(name) must be one of \(T.choices)")
        }
        return choice
    }

    public static func stringMap(
        _ value: JSONValue, name: String, maxEntries: Int, maxLength: Int
    ) throws(FlowForgeError) -> [String: String] {
        guard case .object(let entries) = value else { throw .invalid("\(name) must be an object of strings, not \(value.typeName)") }
        guard entries.count <= maxEntries else { throw .invalid("\(name) must have at most \(maxEntries) entries") }
        var result: [String: String] = [:]
        for (entryKey, entryValue) in entries {
            guard case .string(let text) = entryValue else {
                throw .invalid("\(name).\(entryKey) must be a string, not \(entryValue.typeName)")
            }
            guard !entryKey.contains("\0"), !text.contains("\0") else {
                throw .invalid("\(name) must not contain NUL characters")
            }
            guard entryKey.count <= 256, text.count <= maxLength else {
                throw .invalid("\(name).\(entryKey.prefix(40)) is too long (at most \(maxLength) characters)")
            }
            result[entryKey] = text
        }
        return result
    }

    /// A name (of a workflow, step or trigger) as people read it: no surrounding spaces, no
    /// control characters.
    public static func checkName(_ name: String, field: String) throws(FlowForgeError) {
        if name != name.trimmingCharacters(in: .whitespacesAndNewlines) {
            throw .invalid("\(field) must not start or end with spaces")
        }
        if name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) {
            throw .invalid("\(field) must not contain control characters")
        }
    }

    /// A name every shell takes for an environment variable: ASCII letters, digits and
    /// underscores, not starting with a digit (a step's `env` keys, a run's parameter names).
    public static func isEnvironmentName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { return false }
        return bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_")
        }
    }

    /// An object that is not one: `what` names it when it is the whole document.
    public static func notAnObject(_ value: JSONValue, name: String) -> FlowForgeError {
        .invalid("\(name) must be a JSON object, not \(value.typeName)")
    }

    /// The first field nobody asked for, refused: a typo must not be silently ignored.
    public static func refuseUnknown(_ keys: some Collection<String>, read: Set<String>, name: (String) -> String) throws(FlowForgeError) {
        guard let first = keys.filter({ !read.contains($0) }).min() else { return }
        let shown = first.count > 60 ? String(first.prefix(60)) + "…" : first
        throw .invalid("\(name(shown)) is not a known field")
    }
}
