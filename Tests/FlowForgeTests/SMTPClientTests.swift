@testable import FlowForgeShared
import Foundation
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The SMTP client of email alerts against a real SMTP server (aiosmtpd, Tests/support/smtp_server.py)
/// with STARTTLS, implicit TLS and AUTH, and the message rendering on its own.
@Suite("SMTP client")
struct SMTPClientTests {
    static let logger = Logger(label: "flowforge-test-smtp")
    static let hasServer = TestSMTPServer.python != nil

    static func server(_ test: TestSMTPServer, host: String = "localhost", security: SMTPSecurity = .starttls,
                       password: String = TestSMTPServer.password, trusted: Bool = true) -> SMTPServer {
        SMTPServer(
            host: host, port: test.port, security: security, username: TestSMTPServer.username, password: password,
            trustedCertificatePEM: trusted ? test.certificatePEM : nil, timeout: .seconds(20))
    }

    static func message(to: [String] = ["oncall@example.com"], subject: String = "[FlowForge] nightly failed (run #3)") -> EmailMessage {
        EmailMessage(
            from: "flowforge@example.com", to: to, subject: subject, body: "Run #3 of nightly failed.\n",
            messageID: "<\(UUID().uuidString.lowercased())@flowforge>")
    }

    /// Runs `body`, which must fail with an SMTPError, and returns that error.
    static func failure(_ body: () async throws -> String) async -> SMTPError? {
        do {
            let reply = try await body()
            Issue.record("expected an SMTPError, but the server answered \(reply)")
            return nil
        } catch let error as SMTPError {
            return error
        } catch {
            Issue.record("expected an SMTPError, got \(type(of: error)): \(error)")
            return nil
        }
    }

    // MARK: against the real server

    @Test("STARTTLS and AUTH: the server stores the envelope, the headers (a non-ASCII subject too) and the body as sent",
          .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func deliversOverStartTLS() async throws {
        try await TestSMTPServer.with { test in
            let key = UUID().uuidString.lowercased()
            let subject = "[FlowForge] Größenbericht failed (run #12) – 日本語のワークフロー, with a tail long enough for several encoded words"
            let body = """
                Run #12 of Größenbericht failed after 3 attempts.
                .this line starts with a dot
                .
                ..two dots
                Ünïcödé line: 日本語, and an emoji 🚨
                A long line: \(String(repeating: "0123456789 ", count: 20))end
                trailing spaces\u{20}\u{20}\u{20}
                = signs = and =?utf-8?q?x?= stay as they are
                Link: http://127.0.0.1:8080/#/executions/12
                """
            let message = EmailMessage(
                from: "flowforge@example.com", to: ["oncall@example.com", "second@example.org"], subject: subject, body: body,
                messageID: "<\(key)@flowforge>",
                extraHeaders: [("X-FlowForge-Idempotency-Key", key), ("X-Note", "line one\r\nBcc: evil@example.com")],
                date: Date(timeIntervalSince1970: 1_768_471_200))

            let reply = try await SMTPClient.send(message, to: Self.server(test), logger: Self.logger)

            #expect(reply == "250 2.0.0 OK: queued as test-1")
            let stored = try test.messages()
            try #require(stored.count == 1)
            let email = stored[0]
            #expect(email.mailFrom == "flowforge@example.com")
            #expect(email.rcptTos == ["oncall@example.com", "second@example.org"])
            #expect(email.tls)
            #expect(email.login == TestSMTPServer.username)

            #expect(email.header("From") == ["flowforge@example.com"])
            #expect(email.header("To") == ["oncall@example.com, second@example.org"])
            #expect(email.header("Subject") == [subject])
            #expect(email.header("Message-ID") == ["<\(key)@flowforge>"])
            #expect(email.header("Date") == ["Thu, 15 Jan 2026 10:00:00 +0000"])
            #expect(email.header("X-FlowForge-Idempotency-Key") == [key])
            #expect(email.header("MIME-Version") == ["1.0"])
            #expect(email.header("Content-Type") == ["text/plain; charset=\"utf-8\""])
            // The line break in a header value became spaces: no Bcc header was smuggled in.
            #expect(email.header("X-Note") == ["line one  Bcc: evil@example.com"])
            #expect(email.header("Bcc").isEmpty)
            #expect(email.body?.replacingOccurrences(of: "\r\n", with: "\n") == body + "\n")

            let raw = email.raw
            #expect(raw.utf8.allSatisfy { $0 < 0x80 }, "quoted-printable and encoded-words keep the message 7-bit")
            #expect(!raw.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "every line ends in CRLF")
            #expect(!raw.replacingOccurrences(of: "\r\n", with: "").contains("\r"), "every line ends in CRLF")
            #expect(raw.contains("\r\nSubject: =?UTF-8?B?"))
            #expect(raw.contains("\r\nContent-Transfer-Encoding: quoted-printable\r\n"))
            #expect(raw.contains("\r\n.this line starts with a dot\r\n.\r\n..two dots\r\n"), "the server removed the dot-stuffing again")
            let bodyLines = raw.components(separatedBy: "\r\n\r\n").dropFirst().joined().components(separatedBy: "\r\n")
            #expect(bodyLines.allSatisfy { $0.utf8.count <= 76 }, "quoted-printable lines are at most 76 characters")
        }
    }

    @Test("a wrong password: the 535 reply, permanent, nothing delivered", .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func wrongPassword() async throws {
        try await TestSMTPServer.with { test in
            let error = await Self.failure {
                try await SMTPClient.send(Self.message(), to: Self.server(test, password: "wrong"), logger: Self.logger)
            }
            #expect(error?.message == "the SMTP server localhost:\(test.port) refused the username or password: 535 5.7.8 Authentication credentials invalid")
            #expect(error?.replyCode == 535)
            #expect(error?.permanent == true)
            let stored = try test.messages()
            #expect(stored.isEmpty)
        }
    }

    @Test("a server offering only AUTH LOGIN: the client logs in with LOGIN; a wrong password there is the 535 too",
          .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func authLogin() async throws {
        try await TestSMTPServer.with(loginOnly: true) { test in
            let reply = try await SMTPClient.send(Self.message(), to: Self.server(test), logger: Self.logger)
            #expect(reply == "250 2.0.0 OK: queued as test-1")
            let stored = try test.messages()
            #expect(stored.first?.login == TestSMTPServer.username)

            let error = await Self.failure {
                try await SMTPClient.send(Self.message(), to: Self.server(test, password: "wrong"), logger: Self.logger)
            }
            #expect(error?.replyCode == 535)
            #expect(error?.permanent == true)
        }
    }

    @Test("a self-signed certificate not given as trusted is refused, and nothing is delivered",
          .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func untrustedCertificate() async throws {
        try await TestSMTPServer.with { test in
            let error = await Self.failure {
                try await SMTPClient.send(Self.message(), to: Self.server(test, trusted: false), logger: Self.logger)
            }
            #expect(error?.message.hasPrefix("the TLS certificate of the SMTP server localhost:\(test.port) is not trusted;") == true, "\(String(describing: error))")
            #expect(error?.permanent == true)
            let stored = try test.messages()
            #expect(stored.isEmpty)
        }
    }

    @Test("a trusted certificate issued for another name is refused", .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func certificateForAnotherName() async throws {
        try await TestSMTPServer.with(certificateName: "mail.example.test") { test in
            let error = await Self.failure {
                try await SMTPClient.send(Self.message(), to: Self.server(test), logger: Self.logger)
            }
            #expect(error?.message.hasPrefix("the TLS certificate of the SMTP server localhost:\(test.port) is not issued for that name") == true,
                    "\(String(describing: error))")
            #expect(error?.permanent == true)
            let stored = try test.messages()
            #expect(stored.isEmpty)
        }
    }

    @Test("a server without STARTTLS is refused under \"starttls\", and used under \"none\"", .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func serverWithoutStartTLS() async throws {
        try await TestSMTPServer.with(security: "none") { test in
            let error = await Self.failure {
                try await SMTPClient.send(Self.message(), to: Self.server(test), logger: Self.logger)
            }
            #expect(error?.message == "the SMTP server localhost:\(test.port) does not offer STARTTLS; set security to \"none\" to send without encryption, or \"tls\" if it expects TLS from the start")
            #expect(error?.permanent == true)
            #expect(error?.replyCode == nil)
            let refused = try test.messages()
            #expect(refused.isEmpty)

            let reply = try await SMTPClient.send(Self.message(), to: Self.server(test, security: .none), logger: Self.logger)
            #expect(reply == "250 2.0.0 OK: queued as test-1")
            let stored = try test.messages()
            #expect(stored.count == 1)
            #expect(stored.first?.tls == false)
            #expect(stored.first?.login == TestSMTPServer.username)
        }
    }

    @Test("implicit TLS (port 465 style) to an IP address: the certificate is checked against the address",
          .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func implicitTLS() async throws {
        try await TestSMTPServer.with(security: "tls") { test in
            let reply = try await SMTPClient.send(
                Self.message(subject: "implicit"), to: Self.server(test, host: "127.0.0.1", security: .tls), logger: Self.logger)
            #expect(reply == "250 2.0.0 OK: queued as test-1")
            let stored = try test.messages()
            #expect(stored.count == 1)
            #expect(stored.first?.tls == true)
            #expect(stored.first?.header("Subject") == ["implicit"])

            // The same server is not trusted without its certificate.
            let error = await Self.failure {
                try await SMTPClient.send(Self.message(), to: Self.server(test, host: "127.0.0.1", security: .tls, trusted: false), logger: Self.logger)
            }
            #expect(error?.message.contains("is not trusted") == true, "\(String(describing: error))")
        }
    }

    @Test("a refused recipient: an error naming the address and the 550 reply, nothing delivered",
          .enabled(if: SMTPClientTests.hasServer, TestSMTPServer.skipReason))
    func refusedRecipient() async throws {
        try await TestSMTPServer.with { test in
            let error = await Self.failure {
                try await SMTPClient.send(
                    Self.message(to: ["oncall@example.com", "refused-7@example.com"]), to: Self.server(test), logger: Self.logger)
            }
            #expect(error?.message == "the SMTP server localhost:\(test.port) refused the recipient refused-7@example.com: "
                + "550 5.1.1 <refused-7@example.com>: Recipient address rejected: no such mailbox")
            #expect(error?.replyCode == 550)
            #expect(error?.permanent == true)
            let stored = try test.messages()
            #expect(stored.isEmpty)
        }
    }

    // MARK: without a server

    @Test("a server that accepts the connection and never speaks: a timeout error within the timeout, not a hang")
    func silentServer() async throws {
        let listener = try SilentListener()
        defer { listener.close() }
        let clock = ContinuousClock()
        let started = clock.now
        let error = await Self.failure {
            try await SMTPClient.send(
                Self.message(), to: SMTPServer(host: "127.0.0.1", port: listener.port, timeout: .milliseconds(500)), logger: Self.logger)
        }
        #expect(error?.message == "the SMTP server 127.0.0.1:\(listener.port) did not send the greeting within the 500-millisecond timeout")
        #expect(error?.permanent == false)
        #expect(clock.now - started < .seconds(5))
    }

    @Test("nothing listening: a connection error, worth retrying")
    func connectionRefused() async throws {
        let port = try SilentListener().closedPort()
        let error = await Self.failure {
            try await SMTPClient.send(Self.message(), to: SMTPServer(host: "127.0.0.1", port: port), logger: Self.logger)
        }
        #expect(error?.message == "the connection to the SMTP server 127.0.0.1:\(port) failed: Connection refused")
        #expect(error?.permanent == false)
    }

    @Test("a plain-text reply sent along with the 220 to STARTTLS is refused, not read as if it came through TLS")
    func startTLSInjection() async throws {
        let server = try ScriptedSMTPServer(replies: [
            "220 fake ESMTP\r\n", "250-fake\r\n250 STARTTLS\r\n", "220 go ahead\r\n250 injected before TLS\r\n",
        ])
        defer { server.listener.close() }
        let error = await Self.failure {
            try await SMTPClient.send(Self.message(), to: SMTPServer(host: "127.0.0.1", port: server.port, timeout: .seconds(10)), logger: Self.logger)
        }
        #expect(error?.message == "the SMTP server 127.0.0.1:\(server.port) sent more after agreeing to STARTTLS, which is not allowed")
    }

    @Test("credentials for a server that offers no AUTH: refused in a sentence, permanent")
    func noAuthOffered() async throws {
        let server = try ScriptedSMTPServer(replies: ["220 fake ESMTP\r\n", "250-fake\r\n250 8BITMIME\r\n"])
        defer { server.listener.close() }
        let settings = SMTPServer(host: "127.0.0.1", port: server.port, security: .none, username: "u", password: "p", timeout: .seconds(10))
        let error = await Self.failure { try await SMTPClient.send(Self.message(), to: settings, logger: Self.logger) }
        #expect(error?.message == "the SMTP server 127.0.0.1:\(server.port) does not offer AUTH, so the username and password cannot be used; "
            + "remove them to send without logging in")
        #expect(error?.permanent == true)
    }

    @Test("bad messages and settings are refused before connecting, as permanent errors")
    func refusedBeforeConnecting() async throws {
        let nowhere = SMTPServer(host: "127.0.0.1", port: 1)
        var message = Self.message(to: ["a@example.com", "not an address"])
        #expect(await Self.failure { try await SMTPClient.send(message, to: nowhere, logger: Self.logger) }?.message
            == "the recipient \"not an address\" is not a valid email address")
        message = Self.message()
        message.extraHeaders = [("Bcc", "x@example.com"), ("To", "evil@example.com")]
        #expect(await Self.failure { try await SMTPClient.send(message, to: nowhere, logger: Self.logger) }?.message
            == "the email header To is written by the SMTP client and cannot be given again")
        message.extraHeaders = [("X-Bad Name", "v")]
        #expect(await Self.failure { try await SMTPClient.send(message, to: nowhere, logger: Self.logger) }?.message
            == "\"X-Bad Name\" is not a valid email header name")
        let halfCredentials = SMTPServer(host: "127.0.0.1", port: 1, username: "u")
        #expect(await Self.failure { try await SMTPClient.send(Self.message(), to: halfCredentials, logger: Self.logger) }?.permanent == true)
        let badPEM = SMTPServer(host: "127.0.0.1", port: 1, trustedCertificatePEM: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
        #expect(await Self.failure { try await SMTPClient.send(Self.message(), to: badPEM, logger: Self.logger) }?.message
            == "the trusted certificate (ca_certificate) is not a PEM certificate")
    }

    @Test("EmailAddress.isValid: the practical check of the API and the envelope")
    func addresses() {
        for good in ["a@b", "oncall@example.com", "first.last+alerts@mail.example.co.uk", "x_y-z@sub-domain.example"] {
            #expect(EmailAddress.isValid(good), "\(good)")
        }
        let tooLong = String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 190)
        for bad in ["", "@example.com", "a@", "a@@b", "a@b@c", "a b@c", "a@b c", "a\r\n@b", "<a@b>", "a@b\nRCPT TO:<x@y>",
                    "ünï@example.com", "a@.b", "a@b.", "a@b..c", "a,b@c", "\"a\"@b", tooLong, String(repeating: "a", count: 65) + "@b"] {
            #expect(!EmailAddress.isValid(bad), "\(bad)")
        }
        #expect(EmailAddress.isValid(String(repeating: "a", count: 64) + "@" + String(repeating: "b", count: 189)))
    }

    @Test("rendering: date, plain ASCII subject, header injection defused, quoted-printable, dot-stuffing")
    func rendering() {
        var message = EmailMessage(
            from: "flowforge@example.com", to: (1...12).map { "recipient\($0)@example.com" }, subject: "done\r\nBcc: evil@example.com",
            body: "a=b\r\nline with trailing tab\t\n.dot\n" + String(repeating: "x", count: 200), messageID: "id-1@flowforge",
            extraHeaders: [("X-FlowForge-Idempotency-Key", "k-1"), ("Subject", "dropped: given twice")],
            date: Date(timeIntervalSince1970: 1_800_000_000))
        let rendered = message.rendered
        let lines = rendered.components(separatedBy: "\r\n")
        #expect(lines.first == "Date: Fri, 15 Jan 2027 08:00:00 +0000")
        #expect(lines.contains("Subject: done  Bcc: evil@example.com"))
        #expect(!lines.contains { $0.hasPrefix("Bcc:") })
        #expect(lines.filter { $0.hasPrefix("Subject:") }.count == 1)
        #expect(lines.contains("Message-ID: <id-1@flowforge>"))
        #expect(lines.contains("X-FlowForge-Idempotency-Key: k-1"))
        #expect(lines.allSatisfy { $0.utf8.count <= 78 }, "the To list is folded")
        #expect(lines.contains(" recipient10@example.com, recipient11@example.com, recipient12@example.com"))
        #expect(lines.contains("a=3Db"))
        #expect(lines.contains("line with trailing tab=09"))
        #expect(lines.contains(".dot"))
        #expect(lines.contains(String(repeating: "x", count: 75) + "="))
        #expect(rendered.hasSuffix(String(repeating: "x", count: 50) + "\r\n"))
        #expect(SMTPClient.dotStuffed(rendered).contains("\r\n..dot\r\n"))
        #expect(SMTPClient.dotStuffed("a\r\n.\r\n") == "a\r\n..\r\n")

        message.subject = "Bericht für Ärzte"
        #expect(message.rendered.contains("\r\nSubject: =?UTF-8?B?\(Data("Bericht für Ärzte".utf8).base64EncodedString())?=\r\n"))
    }

    @Test("replies: multi-line EHLO answers and their extensions")
    func replies() {
        func parsed(_ line: String) -> String? { SMTPReply.parseLine(line).map { "\($0.code)|\($0.text)|\($0.isLast)" } }
        #expect(parsed("250-mail.example.com") == "250|mail.example.com|false")
        #expect(parsed("250 OK") == "250|OK|true")
        #expect(parsed("221") == "221||true")
        #expect(SMTPReply.parseLine("25O OK") == nil)
        #expect(SMTPReply.parseLine("250_OK") == nil)
        #expect(SMTPReply.parseLine("hello") == nil)
        let ehlo = SMTPReply(code: 250, lines: ["mail.example.com", "SIZE 1000", "STARTTLS", "AUTH=LOGIN", "auth plain login", "8BITMIME"])
        #expect(ehlo.extensions["STARTTLS"] == [])
        #expect(ehlo.extensions["AUTH"] == ["LOGIN", "PLAIN", "LOGIN"])
        #expect(ehlo.extensions["MAIL.EXAMPLE.COM"] == nil)
        #expect(ehlo.description == "250 mail.example.com SIZE 1000 STARTTLS AUTH=LOGIN auth plain login 8BITMIME")
    }
}

/// A TCP port on 127.0.0.1 that takes connections (the kernel completes them for its backlog)
/// and never says a word: an SMTP server that hangs.
private struct SilentListener {
    let socket: Int32
    let port: Int

    init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socket, pointer, length) == 0 && listen(socket, 8) == 0 && getsockname(socket, pointer, &length) == 0
            }
        }
        guard bound else { throw TestSMTPServerError("cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))") }
        self.socket = socket
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(socket) }

    /// Closes the socket and returns its port, where nothing listens now.
    func closedPort() -> Int {
        close()
        return port
    }
}

/// A server for one connection that plays a script: `replies[0]` as soon as the client
/// connects, then each next one after a line from the client; for what no real server does.
private struct ScriptedSMTPServer {
    let listener: SilentListener
    var port: Int { listener.port }

    init(replies: [String]) throws {
        listener = try SilentListener()
        let socket = listener.socket
        Thread.detachNewThread {
            let client = accept(socket, nil, nil)
            guard client >= 0 else { return }
            defer { _ = Glibc.close(client) }
            var byte: UInt8 = 0
            for (index, reply) in replies.enumerated() {
                if index > 0 {
                    while recv(client, &byte, 1, 0) == 1 && byte != UInt8(ascii: "\n") {}
                }
                // One send: the reply lines reach the client together, as an attacker would send them.
                _ = reply.withCString { send(client, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            }
            while recv(client, &byte, 1, 0) == 1 {}   // until the client hangs up
        }
    }
}
