import FlowForgeAPI
import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import Testing

@Suite("OpenAPI document")
struct OpenAPIContractTests {
    /// "METHOD /path/{param}" for every operation in openapi.yaml, read line by line (paths sit
    /// at two spaces of indentation, their operations at four).
    static func documentedOperations() throws -> Set<String> {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/API/Resources/openapi.yaml").standardized
        let text = try String(contentsOf: url, encoding: .utf8)
        var operations: Set<String> = []
        var currentPath: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") {
                currentPath = String(line.dropFirst(2).dropLast())
            } else if let path = currentPath, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                let method = line.trimmingCharacters(in: .whitespaces).dropLast()
                if ["get", "post", "put", "patch", "delete"].contains(method) { operations.insert("\(method.uppercased()) \(path)") }
            } else if !line.hasPrefix(" ") && !line.isEmpty {
                currentPath = nil
            }
        }
        return operations
    }

    @Test("every route the API registers is documented, and nothing more")
    func routesMatchDocument() throws {
        let postgres = PostgresClient(configuration: try DatabaseURL("postgres://u@127.0.0.1/d").clientConfiguration(), backgroundLogger: TestDatabase.logger)
        let router = buildRouter(configuration: APIConfiguration(tokens: [testToken]), postgres: postgres, logger: TestDatabase.logger)
        let registered = Set(
            router.routes.map { route in
                let path = route.path.description.split(separator: "/").map { segment in
                    segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
                }
                return "\(route.method.rawValue) /\(path.joined(separator: "/"))"
            })
        let documented = try Self.documentedOperations()
        #expect(registered.count >= 25)
        #expect(registered.subtracting(documented).isEmpty, "not documented: \(registered.subtracting(documented).sorted())")
        #expect(documented.subtracting(registered).isEmpty, "documented but not served: \(documented.subtracting(registered).sorted())")
    }

    @Test("every answer type encodes what its schema documents: no undocumented key, no required one missing")
    func answersMatchSchemas() throws {
        let schemas = try OpenAPISchemas.load()
        for answer in try BodySamples.answers(schemas) {
            guard let schema = answer.schema else {
                Issue.record("\(answer.name): no such schema in openapi.yaml")
                continue
            }
            let problems = schemas.problems(try JSONValue.parse(answer.json), schema)
            #expect(problems.isEmpty, "\(answer.name): \(problems)")
        }
    }

    @Test("answers keep their field order: keys sorted, except a list entry's steps, which come last")
    func answersKeepFieldOrder() throws {
        for answer in try BodySamples.answers(try OpenAPISchemas.load()) {
            let value = try JSONValue.parse(answer.json)
            if answer.name == "ExecutionList" || answer.name == "TriggerHistory" {
                let text = String(decoding: answer.json, as: UTF8.self)
                #expect(text.contains(#""workflow_name":"load","steps":[{"name""#), "\(answer.name): \(text)")
            } else {
                #expect(value.encoded() == answer.json, "\(answer.name): \(String(decoding: answer.json, as: UTF8.self))")
            }
        }
    }

    @Test("every request body type reads exactly the fields its schema documents")
    func requestsMatchSchemas() throws {
        let schemas = try OpenAPISchemas.load()
        for request in BodySamples.requests(schemas) {
            guard let schema = request.schema else {
                Issue.record("\(request.name): no such schema in openapi.yaml")
                continue
            }
            let documented = schemas.documentedFields(schema)
            #expect(documented == Set(request.fields), "\(request.name): documented \(documented.sorted()), read \(request.fields.sorted())")
        }
    }

    @Test("the schema reader sees the document: a known schema's properties and required list")
    func schemaReaderReadsDocument() throws {
        let schemas = try OpenAPISchemas.load()
        let shapes = schemas.shapes(try #require(schemas.schema("WorkflowRef")))
        #expect(shapes.count == 1 && Set(shapes[0].properties.keys) == ["id", "name"] && shapes[0].required == ["id", "name"])
        #expect(!schemas.problems(["id": 1, "name": "a", "extra": true], try #require(schemas.schema("WorkflowRef"))).isEmpty)
        #expect(!schemas.problems(["id": 1], try #require(schemas.schema("WorkflowRef"))).isEmpty)
    }
}
