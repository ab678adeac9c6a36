import Foundation

/// A webhook trigger's `event_config`: an optional filter, a list of JSON-pointer equalities
/// that an event's JSON body must all satisfy to start a run.
public struct WebhookConfig: Sendable, Equatable {
    public struct Condition: Sendable, Equatable {
        public var pointer: String
        public var equals: JSONValue
    }

    public var filter: [Condition] = []
    public static let maxConditions = 20

    public init() {}

    /// Reads `event_config` (already an object or nil); errors name the field under `path`.
    public init(_ config: JSONValue?, path: String) throws(FlowForgeError) {
        guard let config else { return }
        var reader = try FieldReader(config, path: path)
        if let value = reader.value("filter") {
            guard case .array(let items) = value else { throw .invalid("\(reader.name("filter")) must be an array, not \(value.typeName)") }
            guard items.count <= Self.maxConditions else {
                throw .invalid("\(reader.name("filter")) may hold at most \(Self.maxConditions) conditions")
            }
            for (index, item) in items.enumerated() {
                var entry = try FieldReader(item, path: "\(reader.name("filter"))[\(index)].")
                guard let pointer = try entry.string("pointer", maxLength: 1_000, allowEmpty: true) else {
                    throw .invalid("\(entry.name("pointer")) is required: a JSON pointer such as /action")
                }
                guard JSONPointer.isValid(pointer) else {
                    throw .invalid("\(entry.name("pointer")) must be a JSON pointer: empty, or /-separated keys such as /repository/name")
                }
                guard let equals = entry.value("equals") else { throw .invalid("\(entry.name("equals")) is required: the value to compare with") }
                try entry.finish()
                filter.append(Condition(pointer: pointer, equals: equals))
            }
        }
        try reader.finish()
    }

    /// Whether an event passes the filter. Without a filter every event does; with one, the
    /// body must be JSON and each pointer must lead to a value equal to its `equals`.
    public func matches(_ event: JSONValue?) -> Bool {
        guard !filter.isEmpty else { return true }
        guard let event else { return false }
        return filter.allSatisfy { condition in
            guard let found = JSONPointer.resolve(condition.pointer, in: event) else { return false }
            return JSONPointer.equal(found, condition.equals)
        }
    }
}

/// A file-arrival trigger's `event_config`.
public struct FileArrivalConfig: Sendable, Equatable {
    /// An absolute path, on the scheduler's hosts.
    public var directory: String
    /// A glob for file names in the directory (`*`, `?`, `[…]`); not for subfolders.
    public var pattern = "*"
    /// A file is taken once it has not been modified for this long, so a file still being
    /// written is not. The default, 2 s, keeps a file that a scan catches between its creation
    /// and its first write (empty, then written) from counting as two files; 0 takes files at
    /// once.
    public var minQuietSeconds = 2
    /// Also take files that were there before the trigger was created or enabled.
    public var includeExisting = false

    public init(_ config: JSONValue?, path: String) throws(FlowForgeError) {
        guard let config else { throw .invalid("\(path.dropLast()) is required for a file_arrival trigger: {\"directory\": \"/data/incoming\", \"pattern\": \"*.csv\"}") }
        var reader = try FieldReader(config, path: path)
        guard let directory = try reader.string("directory", maxLength: 1_024) else {
            throw .invalid("\(reader.name("directory")) is required: the absolute path of the folder to watch")
        }
        guard directory.hasPrefix("/") else { throw .invalid("\(reader.name("directory")) must be an absolute path (starting with /)") }
        self.directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        if let pattern = try reader.string("pattern", maxLength: 200) {
            guard !pattern.contains("/") else { throw .invalid("\(reader.name("pattern")) matches file names only and must not contain /") }
            self.pattern = pattern
        }
        if let quiet = try reader.int("min_quiet_seconds", in: 0...86_400) { minQuietSeconds = quiet }
        if let include = try reader.bool("include_existing") { includeExisting = include }
        try reader.finish()
    }
}

/// RFC 6901 JSON pointers over `JSONValue`.
public enum JSONPointer {
    public static func isValid(_ pointer: String) -> Bool {
        guard !pointer.isEmpty else { return true }
        guard pointer.hasPrefix("/") else { return false }
        // "~" must be followed by 0 or 1.
        var scalars = pointer.unicodeScalars.makeIterator()
        while let scalar = scalars.next() {
            if scalar == "~" {
                guard let next = scalars.next(), next == "0" || next == "1" else { return false }
            }
        }
        return true
    }

    public static func resolve(_ pointer: String, in value: JSONValue) -> JSONValue? {
        guard !pointer.isEmpty else { return value }
        var current = value
        for raw in pointer.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            let token = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            switch current {
            case .object(let fields):
                guard let next = fields[token] else { return nil }
                current = next
            case .array(let items):
                guard let index = Int(token), index >= 0, index < items.count, token == String(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// JSON equality: numbers by value (1 equals 1.0), objects regardless of key order.
    public static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.int(let x), .double(let y)), (.double(let y), .int(let x)): Double(x) == y
        case (.double(let x), .double(let y)): x == y
        case (.array(let x), .array(let y)): x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.object(let x), .object(let y)):
            x.count == y.count && x.allSatisfy { key, value in y[key].map { equal(value, $0) } ?? false }
        default: false
        }
    }
}
