import Foundation
import Synchronization
import Testing

/// The real SMTP server of Tests/support/smtp_server.py (aiosmtpd), started by one test and
/// stopped after it. scripts/test.sh makes the Python environment it needs and names its
/// interpreter in FLOWFORGE_TEST_SMTP_PYTHON.
struct TestSMTPServer {
    static let python = ProcessInfo.processInfo.environment["FLOWFORGE_TEST_SMTP_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
    static let skipReason: Comment = "FLOWFORGE_TEST_SMTP_PYTHON is not set: run the tests with scripts/test.sh, which installs aiosmtpd"
    static let username = "alerts"
    static let password = "correct horse battery"

    let port: Int
    /// The server's self-signed certificate, for `trustedCertificatePEM`.
    let certificatePEM: String
    let directory: URL

    /// Starts a server (security "starttls", "tls" or "none"; a certificate for localhost and
    /// 127.0.0.1, or for `certificateName` alone; AUTH PLAIN and LOGIN, or LOGIN alone), runs
    /// `body`, stops the server.
    static func with<T>(
        security: String = "starttls", certificateName: String? = nil, loginOnly: Bool = false, _ body: (TestSMTPServer) async throws -> T
    ) async throws -> T {
        guard let python else { throw TestSMTPServerError("FLOWFORGE_TEST_SMTP_PYTHON is not set") }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("support/smtp_server.py")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowforge-smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            script.path, "--dir", directory.path, "--user", username, "--password", password,
            "--security", security,
        ] + (certificateName.map { ["--cert-dns-name", $0] } ?? []) + (loginOnly ? ["--login-only"] : [])
        let input = Pipe()
        let output = Pipe()
        let log = directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        // Closing its standard input stops the server; so does SIGTERM, in case it hangs.
        defer {
            try? input.fileHandleForWriting.close()
            process.terminate()
            process.waitUntilExit()
        }

        let line = await readLine(output.fileHandleForReading, orStop: process)
        guard let line, let ready = try? JSONDecoder().decode(ReadyLine.self, from: Data(line.utf8)) else {
            let errors = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw TestSMTPServerError("the test SMTP server did not start: \(line ?? "no output") \(errors)")
        }
        let server = TestSMTPServer(
            port: ready.port, certificatePEM: try String(contentsOfFile: ready.cert, encoding: .utf8), directory: directory)
        return try await body(server)
    }

    /// The first line the server prints, read on a Dispatch thread (the read blocks); the server
    /// is stopped if it has said nothing after 30 seconds, which ends the read.
    private static func readLine(_ handle: FileHandle, orStop process: Process) async -> String? {
        let answered = ReadFlag()
        return await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + 30) {
                if !answered.value.withLock({ $0 }) && process.isRunning { process.terminate() }
            }
            DispatchQueue.global().async {
                var bytes = Data()
                while !bytes.contains(UInt8(ascii: "\n")) {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    bytes.append(chunk)
                }
                answered.value.withLock { $0 = true }
                let text = String(decoding: bytes, as: UTF8.self)
                continuation.resume(returning: text.isEmpty ? nil : text.split(separator: "\n").first.map(String.init))
            }
        }
    }

    /// The messages the server accepted so far, in order.
    func messages() throws -> [StoredEmail] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("message-") && $0.hasSuffix(".json") }
            .sorted { Int($0.dropFirst(8).dropLast(5)) ?? 0 < Int($1.dropFirst(8).dropLast(5)) ?? 0 }
        return try names.map { try JSONDecoder().decode(StoredEmail.self, from: Data(contentsOf: directory.appendingPathComponent($0))) }
    }
}

/// What the server prints when it listens.
private struct ReadyLine: Decodable {
    var port: Int
    var cert: String
}

/// One message as the test server stored it: the envelope, and the content both raw and as
/// Python's email package reads it (headers decoded from RFC 2047, body from quoted-printable).
struct StoredEmail: Decodable {
    var mailFrom: String
    var rcptTos: [String]
    var tls: Bool
    var login: String?
    var rawBase64: String
    var headers: [[String]]
    var body: String?

    enum CodingKeys: String, CodingKey {
        case mailFrom = "mail_from", rcptTos = "rcpt_tos", tls, login, rawBase64 = "raw_base64", headers, body
    }

    var raw: String { String(decoding: Data(base64Encoded: rawBase64) ?? Data(), as: UTF8.self) }

    /// The decoded values of every header called `name` (case-insensitive).
    func header(_ name: String) -> [String] {
        headers.filter { $0.first?.lowercased() == name.lowercased() }.compactMap { $0.last }
    }
}

private final class ReadFlag: Sendable {
    let value = Mutex(false)
}

struct TestSMTPServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
