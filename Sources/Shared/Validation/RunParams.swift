/// A run's parameters: a JSON object a run carries (given to Run now or a rerun, or a trigger's
/// defaults), which its steps read from the file named by `FLOWFORGE_PARAMS_FILE` and, for each
/// top-level string or number, from `FLOWFORGE_PARAM_<NAME>`.
///
/// The names become parts of environment variable names, so they are held to what every shell
/// accepts there: letters, digits and underscores, not starting with a digit, and no two may
/// differ only in case (they would be the same variable). The prefix keeps every parameter apart
/// from the variables FlowForge sets (`FLOWFORGE_PARAMS_FILE` has an `S` where a parameter's
/// variable has its `_`) and from `PATH`, `HOME` and the rest of a step's environment.
public enum RunParams {
    /// At most this many bytes as JSON text.
    public static let maxBytes = 65_536
    public static let maxNameLength = 64
    public static let environmentPrefix = "FLOWFORGE_PARAM_"
    public static let fileVariable = "FLOWFORGE_PARAMS_FILE"

    /// Checks a `params` field (`name` is its path in sentences, "params" or
    /// "triggers[0].params"): an object, or null, within the size limit, with valid names and
    /// no NUL character. Returns the object to store, nil for none (`null` or `{}`).
    public static func check(_ value: JSONValue, name: String) throws(FlowForgeError) -> JSONValue? {
        let fields: [String: JSONValue]
        switch value {
        case .null: return nil
        case .object(let object): fields = object
        default: throw .invalid("\(name) must be an object of parameters, such as {\"date\": \"2024-01-01\"}, not \(value.typeName)")
        }
        var seen: [String: String] = [:]
        for key in fields.keys.sorted() {
            guard isValidName(key) else {
                throw .invalid(
                    "\(name).\(key.prefix(80)) is not a valid parameter name: use letters, digits and underscores, not starting with a digit, at most \(maxNameLength) characters")
            }
            if let other = seen[key.uppercased()] {
                throw .invalid("\(name).\(key) differs from \(name).\(other) only in case: both would be \(environmentPrefix)\(key.uppercased())")
            }
            seen[key.uppercased()] = key
        }
        guard !value.containsNUL else { throw .invalid("\(name) must not contain NUL characters") }
        let size = value.encoded().count
        guard size <= maxBytes else {
            throw .invalid("\(name) must be at most \(maxBytes) bytes (64 KiB) as JSON, not \(size)")
        }
        // Not `fields.isEmpty ? nil : value`: that nil would be JSONValue's own (a JSON null).
        if fields.isEmpty { return nil }
        return value
    }

    /// An environment variable's name (`FieldRules.isEnvironmentName`) of at most 64 characters.
    public static func isValidName(_ name: String) -> Bool {
        name.utf8.count <= maxNameLength && FieldRules.isEnvironmentName(name)
    }

    /// `FLOWFORGE_PARAM_<NAME>` for each top-level string or number (a number as its JSON text);
    /// other values are only in the file. Names the API did not check (a row written by hand)
    /// are left out rather than passed on.
    public static func environment(_ params: JSONValue?) -> [String: String] {
        guard case .object(let fields)? = params else { return [:] }
        var environment: [String: String] = [:]
        for (key, value) in fields where isValidName(key) {
            let text: String
            switch value {
            case .string(let string) where !string.contains("\0"): text = string
            case .int, .double: text = String(decoding: value.encoded(), as: UTF8.self)
            default: continue
            }
            environment[environmentPrefix + key.uppercased()] = text
        }
        return environment
    }
}
