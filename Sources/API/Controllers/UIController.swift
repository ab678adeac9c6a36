import Foundation
import HTTPTypes
import Hummingbird

/// The web UI: `/` answers `index.html`, `/ui/…` the CSS, JavaScript modules and icons next to
/// it. No token is needed (the page asks for one and speaks only to `/api`).
///
/// Files are read once, when the router is built, into a table keyed by their URL path, and a
/// request is answered only by an exact match in that table: a request path is never joined onto
/// the file system, so `..`, encoded slashes or symlinks cannot reach anything else.
///
/// Like Hummingbird's own `FileMiddleware` it is a middleware in front of the router rather than
/// routes: static files are not part of the API, whose routes `openapi.yaml` lists one by one.
/// Anything it does not know goes on to the router (and so to its 404).
struct UIController<Context: RequestContext>: RouterMiddleware {
    let files: [String: UIFile]

    init(files: [String: UIFile] = UIFile.bundled) {
        self.files = files
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .get || request.method == .head else { return try await next(request, context) }
        let path = request.uri.path
        guard let file = files[path == "/" ? "/index.html" : path], path != "/index.html" else {
            return try await next(request, context)
        }
        return serve(file, request)
    }

    private func serve(_ file: UIFile, _ request: Request) -> Response {
        var headers = UIHeaders.security
        headers[.eTag] = file.etag
        // No fingerprinted names without a build step, so every use revalidates; the ETag makes
        // that a 304 with no body.
        headers[.cacheControl] = "no-cache"
        if let presented = request.headers[.ifNoneMatch], presented.split(separator: ",").contains(where: {
            $0.trimmingCharacters(in: .whitespaces) == file.etag
        }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = file.contentType
        if request.method == .head {
            headers[.contentLength] = String(file.bytes.count)
            return Response(status: .ok, headers: headers)
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: file.bytes)))
    }
}

/// The headers on every UI answer: no inline script or style, nothing from another origin,
/// never framed, no sniffing, no referrer.
enum UIHeaders {
    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    static let security: HTTPFields = [
        .contentSecurityPolicy: contentSecurityPolicy,
        .xContentTypeOptions: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
    ]
}

/// One static file of the UI, held in memory.
struct UIFile: Sendable {
    let bytes: [UInt8]
    let contentType: String
    let etag: String

    init(bytes: [UInt8], contentType: String) {
        self.bytes = bytes
        self.contentType = contentType
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a: enough to tell versions apart
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        etag = "\"\(String(hash, radix: 16))\""
    }

    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "js": "text/javascript; charset=utf-8",
        "svg": "image/svg+xml",
        "ico": "image/x-icon",
        "png": "image/png",
    ]

    /// The files under the module's `ui` resource folder: `index.html` at `/index.html`,
    /// everything else at `/ui/<relative path>`. Files of unknown kinds are left out.
    static let bundled: [String: UIFile] = {
        guard let root = Bundle.module.url(forResource: "ui", withExtension: nil) else { return [:] }
        return load(from: root)
    }()

    static func load(from root: URL) -> [String: UIFile] {
        var table: [String: UIFile] = [:]
        let rootPath = root.standardizedFileURL.resolvingSymlinksInPath().path
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey]) else { return [:] }
        for case let url as URL in walker {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                let type = contentTypes[url.pathExtension.lowercased()],
                let data = try? Data(contentsOf: url)
            else { continue }
            let path = url.standardizedFileURL.resolvingSymlinksInPath().path
            guard path.hasPrefix(rootPath + "/") else { continue }
            let relative = String(path.dropFirst(rootPath.count + 1))
            let key = relative == "index.html" ? "/index.html" : "/ui/" + relative
            table[key] = UIFile(bytes: Array(data), contentType: type)
        }
        return table
    }
}
