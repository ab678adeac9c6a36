import FlowForgeShared
import Foundation

/// The parts of openapi.yaml the contract tests read, parsed by indentation: block mappings and
/// `- ` lists; block scalars are skipped and flow values (`[a, b]`, `{…}`) kept as text. Enough
/// for the document's schemas, not a YAML parser.
final class YAMLNode {
    var scalar = ""
    var map: [String: YAMLNode] = [:]
    var list: [YAMLNode] = []

    subscript(_ key: String) -> YAMLNode? { map[key] }

    /// `[a, b]` read as its items.
    var flowItems: [String] {
        scalar.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "'\"")) }
    }

    static func parse(_ text: String) -> YAMLNode {
        var lines: [(indent: Int, text: String)] = text.split(separator: "\n").compactMap { raw in
            let line = String(raw)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { return nil }
            return (line.prefix { $0 == " " }.count, trimmed)
        }
        var index = 0
        return parse(&lines, &index, indent: 0)
    }

    private static func parse(_ lines: inout [(indent: Int, text: String)], _ index: inout Int, indent: Int) -> YAMLNode {
        let node = YAMLNode()
        while index < lines.count {
            let (lineIndent, text) = lines[index]
            if lineIndent < indent { break }
            if lineIndent > indent { index += 1; continue }
            if text == "-" || text.hasPrefix("- ") {
                let rest = String(text.dropFirst(2))
                if keyEnd(rest) == nil || rest.hasPrefix("{") {
                    let item = YAMLNode()
                    item.scalar = rest
                    node.list.append(item)
                    index += 1
                } else {
                    lines[index] = (lineIndent + 2, rest)
                    node.list.append(parse(&lines, &index, indent: lineIndent + 2))
                }
                continue
            }
            guard let end = keyEnd(text) else { index += 1; continue }
            let key = text[..<end].trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
            let value = text[text.index(after: end)...].trimmingCharacters(in: .whitespaces)
            index += 1
            let child: YAMLNode
            if value.isEmpty, index < lines.count, lines[index].indent > lineIndent {
                child = parse(&lines, &index, indent: lines[index].indent)
            } else {
                child = YAMLNode()
                if value == "|" || value == ">" {
                    while index < lines.count, lines[index].indent > lineIndent { index += 1 }
                } else {
                    child.scalar = value
                }
            }
            node.map[key] = child
        }
        return node
    }

    /// Where a `key:` ends: the first colon followed by a space or the end, outside quotes.
    private static func keyEnd(_ text: String) -> String.Index? {
        var quote: Character?
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == ":" {
                let next = text.index(after: index)
                if next == text.endIndex || text[next] == " " { return index }
            } else if index == text.startIndex, character == "{" || character == "[" {
                return nil
            }
            index = text.index(after: index)
        }
        return nil
    }
}

/// openapi.yaml's schemas, and checks of JSON against them: every key of an object must be a
/// documented property, every required property present, nested values checked the same way.
struct OpenAPISchemas {
    let root: YAMLNode

    static func load() throws -> OpenAPISchemas {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../Sources/API/Resources/openapi.yaml").standardized
        return OpenAPISchemas(root: YAMLNode.parse(try String(contentsOf: url, encoding: .utf8)))
    }

    func schema(_ name: String) -> YAMLNode? { root["components"]?["schemas"]?[name] }

    /// An answer's schema given inline in `paths`.
    func response(_ path: String, _ method: String, _ status: String) -> YAMLNode? {
        root["paths"]?[path]?[method]?["responses"]?[status]?["content"]?["application/json"]?["schema"]
    }

    func requestBody(_ path: String, _ method: String) -> YAMLNode? {
        root["paths"]?[path]?[method]?["requestBody"]?["content"]?["application/json"]?["schema"]
    }

    /// The object shapes a schema allows: one for a plain object or `allOf`, several for `oneOf`.
    func shapes(_ node: YAMLNode) -> [(properties: [String: YAMLNode], required: Set<String>)] {
        if let reference = node["$ref"]?.scalar {
            let name = reference.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")).split(separator: "/").last.map(String.init) ?? ""
            return schema(name).map(shapes) ?? []
        }
        if let parts = node["allOf"]?.list {
            var merged: (properties: [String: YAMLNode], required: Set<String>) = ([:], [])
            for part in parts {
                for shape in shapes(part).prefix(1) {
                    merged.properties.merge(shape.properties) { _, later in later }
                    merged.required.formUnion(shape.required)
                }
            }
            return [merged]
        }
        if let choices = (node["oneOf"] ?? node["anyOf"])?.list {
            // An object whose alternatives only say which of its own fields are required
            // (one upstream or several): one shape per alternative, each with all the fields.
            if let properties = node["properties"]?.map {
                let required = Set(node["required"]?.flowItems ?? [])
                return choices.map { (properties, required.union($0["required"]?.flowItems ?? [])) }
            }
            return choices.flatMap(shapes)
        }
        guard let properties = node["properties"]?.map else { return [] }
        return [(properties, Set(node["required"]?.flowItems ?? []))]
    }

    /// The schema of an array's items, following `$ref`.
    func items(_ node: YAMLNode) -> YAMLNode? {
        if let reference = node["$ref"]?.scalar {
            return schema(reference.trimmingCharacters(in: CharacterSet(charactersIn: "'\"")).split(separator: "/").last.map(String.init) ?? "").flatMap(items)
        }
        return node["items"]
    }

    /// What in `value` the schema does not allow, each as "path: problem"; empty when it fits.
    func problems(_ value: JSONValue, _ node: YAMLNode, at path: String = "$") -> [String] {
        switch value {
        case .object(let fields):
            let allowed = shapes(node)
            if allowed.isEmpty { return [] }  // a free-form object
            var first: [String]?
            for shape in allowed {
                var found: [String] = []
                for key in fields.keys.sorted() where shape.properties[key] == nil { found.append("\(path).\(key): not documented") }
                for key in shape.required.sorted() where fields[key] == nil { found.append("\(path).\(key): required, missing") }
                for (key, field) in fields.sorted(by: { $0.key < $1.key }) {
                    if let property = shape.properties[key] { found += problems(field, property, at: "\(path).\(key)") }
                }
                if found.isEmpty { return [] }
                first = first ?? found
            }
            return first ?? []
        case .array(let elements):
            guard let itemSchema = items(node) ?? (node["oneOf"]?.list.lazy.compactMap(items).first) else { return [] }
            return elements.enumerated().flatMap { problems($1, itemSchema, at: "\(path)[\($0)]") }
        default:
            return []
        }
    }

    /// Every property a request schema documents (for `oneOf`, those of any alternative).
    func documentedFields(_ node: YAMLNode) -> Set<String> {
        Set(shapes(node).flatMap(\.properties.keys))
    }
}
