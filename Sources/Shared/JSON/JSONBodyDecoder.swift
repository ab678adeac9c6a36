import Foundation

/// Decodes request bodies, already parsed into `JSONValue`, into `Decodable` types with the API's
/// rules. Every error is one `FlowForgeError.invalid` sentence naming the field by its path
/// ("steps[2].command must be …"). Each object refuses, once its type's `init(from:)` has
/// returned, the first field that the type did not ask for ("steps[2].comand is not a known
/// field"), because `Codable` alone would silently drop a typo. A `null` is a value like any other:
/// `decode` of a field sent as null fails unless the type accepts null (`JSONValue`, `Optional`),
/// and `decodeIfPresent` reads it as absent, as `Codable` does.
public struct JSONBodyDecoder {
    /// Handed to every `init(from:)` of the document, for bodies whose meaning depends on what
    /// they change (a trigger's update is read against the trigger).
    public var userInfo: [CodingUserInfoKey: Any]

    public init(userInfo: [CodingUserInfoKey: Any] = [:]) {
        self.userInfo = userInfo
    }

    /// `what` names the whole document in sentences about it ("request body must be a JSON
    /// object, not an array"); `path` is where the document sits, when it is part of a larger one.
    public func decode<T: Decodable>(
        _ type: T.Type, from value: JSONValue, what: String = "request body", at path: [any CodingKey] = []
    ) throws(FlowForgeError) -> T {
        let document = BodyDocument(userInfo: userInfo, what: what)
        do {
            return try document.decode(type, from: value, at: path)
        } catch let error as FlowForgeError {
            throw error
        } catch {
            // Only a type's own code throws anything else; say which field it was reading.
            throw .invalid("\(document.name(path)) is not valid: \(error)")
        }
    }
}

/// A type whose JSON objects may write an absent optional field as `null`: such fields are
/// dropped before the type decodes, as if they had not been sent (a step read back from the API,
/// which writes absent options as null, can be sent again).
public protocol NullMeansAbsent {}

/// A field name as error sentences write it: "steps[2].command", "triggers[0].event_config".
public enum FieldPath {
    public static func name(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key as? IndexKey {
                text += "[\(index.index)]"
            } else {
                if !text.isEmpty { text += "." }
                text += key.stringValue
            }
        }
        return text
    }
}

/// A position in an array, as a coding key.
public struct IndexKey: CodingKey, Sendable {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public init?(intValue: Int) { index = intValue }
    public init?(stringValue: String) { nil }
    public var intValue: Int? { index }
    public var stringValue: String { "\(index)" }
}

/// An object's key known only by its text (a field name in a sentence, a document's root name).
public struct NameKey: CodingKey, Sendable {
    public let stringValue: String
    public init(_ name: String) { stringValue = name }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
    public var intValue: Int? { nil }
}

/// The fields one object had and those its type asked for.
final class FieldUse {
    let fields: [String: JSONValue]
    let path: [any CodingKey]
    var read: Set<String> = []

    init(fields: [String: JSONValue], path: [any CodingKey]) {
        self.fields = fields
        self.path = path
    }
}

/// The objects one `init(from:)` opened, checked for unknown fields when it returns.
final class FieldUses {
    var list: [FieldUse] = []
}

/// What every decoder of one document shares.
struct BodyDocument {
    let userInfo: [CodingUserInfoKey: Any]
    let what: String

    func name(_ path: [any CodingKey]) -> String { path.isEmpty ? what : FieldPath.name(path) }

    func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, at path: [any CodingKey]) throws -> T {
        if T.self == JSONValue.self { return value as! T }
        if let primitive = try primitive(type, value, at: path) { return primitive }
        let uses = FieldUses()
        let shown = T.self is any NullMeansAbsent.Type ? value.strippingNulls : value
        let result = try T(from: BodyDecoder(value: shown, codingPath: path, document: self, uses: uses))
        for use in uses.list {
            try FieldRules.refuseUnknown(use.fields.keys, read: use.read) { FieldPath.name(use.path + [NameKey($0)]) }
        }
        return result
    }

    /// Strings, booleans and numbers, checked as `FieldRules` checks them; nil for other types.
    func primitive<T>(_: T.Type, _ value: JSONValue, at path: [any CodingKey]) throws -> T? {
        switch T.self {
        case is String.Type:
            guard case .string(let text) = value else { throw FlowForgeError.invalid("\(name(path)) must be a string, not \(value.typeName)") }
            return text as? T
        case is Bool.Type:
            return try FieldRules.bool(value, name: name(path)) as? T
        case is Double.Type, is Float.Type:
            let number: Double
            switch value {
            case .int(let whole): number = Double(whole)
            case .double(let real): number = real
            default: throw FlowForgeError.invalid("\(name(path)) must be a number, not \(value.typeName)")
            }
            return T.self == Float.self ? Float(number) as? T : number as? T
        default:
            guard let integer = T.self as? any FixedWidthInteger.Type else { return nil }
            return try self.integer(integer, value, at: path) as? T
        }
    }

    private func integer<I: FixedWidthInteger>(_: I.Type, _ value: JSONValue, at path: [any CodingKey]) throws -> I {
        let lowest = Int64(clamping: I.min), highest = Int64(clamping: I.max)
        return I(try FieldRules.int(value, name: name(path), in: lowest...highest))
    }

    func object(_ value: JSONValue, at path: [any CodingKey], uses: FieldUses) throws -> FieldUse {
        guard case .object(let fields) = value else { throw FieldRules.notAnObject(value, name: name(path)) }
        let use = FieldUse(fields: fields, path: path)
        uses.list.append(use)
        return use
    }

    func array(_ value: JSONValue, at path: [any CodingKey]) throws -> [JSONValue] {
        guard case .array(let items) = value else { throw FlowForgeError.invalid("\(name(path)) must be an array, not \(value.typeName)") }
        return items
    }
}

/// One value of the document, as `Decodable` types see it.
struct BodyDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    let document: BodyDocument
    let uses: FieldUses

    var userInfo: [CodingUserInfoKey: Any] { document.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        // A second request for the same object shares what the first has read.
        let here = FieldPath.name(codingPath)
        if let use = uses.list.first(where: { $0.path.count == codingPath.count && FieldPath.name($0.path) == here }) {
            return KeyedDecodingContainer(ObjectContainer(use: use, decoder: self))
        }
        let use = try document.object(value, at: codingPath, uses: uses)
        return KeyedDecodingContainer(ObjectContainer<Key>(use: use, decoder: self))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        ArrayContainer(items: try document.array(value, at: codingPath), decoder: self)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { ValueContainer(decoder: self) }

    /// The decoder of a value inside this one, sharing its list of opened objects.
    func child(_ value: JSONValue, _ key: any CodingKey) -> BodyDecoder {
        BodyDecoder(value: value, codingPath: codingPath + [key], document: document, uses: uses)
    }
}
