@testable import FlowForgeAPI
import FlowForgeShared
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Web UI files")
struct UITests {
    static let csp =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    @Test("/ serves index.html without a token, with the security headers")
    func index() async throws {
        try await withAPI { api in
            let response = try await api.client.execute(uri: "/", method: .get, headers: [:], body: nil)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            #expect(response.headers[.contentSecurityPolicy] == Self.csp)
            #expect(response.headers[.xContentTypeOptions] == "nosniff")
            #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer")
            #expect(response.headers[.cacheControl] == "no-cache")
            let html = String(buffer: response.body)
            #expect(html.contains("<script type=\"module\" src=\"/ui/js/app.js\"></script>"))
            #expect(!html.contains("<script>"), "no inline script: the CSP forbids it")
            #expect(!html.contains("style="), "no inline style: the CSP forbids it")
        }
    }

    @Test("modules, styles and icons are served with their types; an unchanged file answers 304")
    func assets() async throws {
        try await withAPI { api in
            for (path, type) in [
                ("/ui/js/app.js", "text/javascript; charset=utf-8"), ("/ui/css/app.css", "text/css; charset=utf-8"),
                ("/ui/icons/flowforge.svg", "image/svg+xml"),
            ] {
                let response = try await api.client.execute(uri: path, method: .get, headers: [:], body: nil)
                #expect(response.status == .ok, "\(path)")
                #expect(response.headers[.contentType] == type, "\(path)")
                #expect(response.headers[.contentSecurityPolicy] == Self.csp, "\(path)")
                let etag = try #require(response.headers[.eTag], "\(path)")
                let again = try await api.client.execute(uri: path, method: .get, headers: [.ifNoneMatch: etag], body: nil)
                #expect(again.status == .notModified, "\(path)")
                #expect(again.body.readableBytes == 0)
                let head = try await api.client.execute(uri: path, method: .head, headers: [:], body: nil)
                #expect(head.status == .ok, "HEAD \(path)")
                #expect(head.body.readableBytes == 0)
            }
        }
    }

    @Test("only the known files are served: traversal, unknown and encoded paths are 404")
    func noTraversal() async throws {
        try await withAPI { api in
            for path in [
                "/ui/../Package.swift", "/ui/../../Package.swift", "/ui/%2e%2e/Package.swift", "/ui/..%2fPackage.swift",
                "/ui/js/../../../../etc/passwd", "/ui/", "/ui/js", "/ui/js/missing.js", "/ui/index.html", "/index.html/",
                "/ui//js/app.js", "/ui/js/app.js/..", "/ui/../openapi.yaml",
            ] {
                let response = try await api.client.execute(uri: path, method: .get, headers: [:], body: nil)
                #expect(response.status == .notFound, "\(path) answered \(response.status.code)")
            }
        }
    }

    @Test("the UI needs no token but the API still does; only GET and HEAD reach the files")
    func apiStillLocked() async throws {
        try await withAPI { api in
            let (status, _) = try await api.call(.get, "/api/workflows", token: nil)
            #expect(status == .unauthorized)
            #expect(try await api.call(.get, "/api/workflows").status == .ok)
            for method in [HTTPRequest.Method.post, .put, .delete] {
                let response = try await api.client.execute(uri: "/ui/js/app.js", method: method, headers: [:], body: nil)
                #expect(response.status == .notFound, "\(method) answered \(response.status.code)")
                #expect(response.headers[.contentSecurityPolicy] == nil)
            }
        }
    }

    @Test("the file table holds the index at / and every module of the source tree's ui/js")
    func table() throws {
        let files = UIFile.bundled
        #expect(files["/index.html"] != nil)
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/API/Resources/ui/js").standardized.path
        let modules = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".js") }
        #expect(modules.count >= 16)
        for module in modules {
            #expect(files["/ui/js/\(module)"] != nil, "\(module)")
        }
        #expect(files.keys.allSatisfy { $0 == "/index.html" || ($0.hasPrefix("/ui/") && !$0.contains("..")) })
    }
}
