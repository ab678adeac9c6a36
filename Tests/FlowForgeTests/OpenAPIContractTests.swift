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
}
