import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#endif

/// One connection to an SMTP server: writes command lines, awaits replies, upgrades to TLS.
/// A plain `Sendable` value (the reply handler is only touched on its event loop), so the
/// conversation in `SMTPClient` reads top to bottom as async code.
struct SMTPConnection: Sendable {
    let channel: any Channel
    /// "host:port", as every error names the server.
    let serverName: String
    private let replies: NIOLoopBound<SMTPReplyHandler>

    /// Connects, with TLS from the first byte when `implicitTLS` is given. At `deadline` the
    /// connection is closed whatever it is doing, and the awaited reply fails with a timeout.
    static func connect(
        to server: SMTPServer, implicitTLS: NIOSSLContext?, deadline: NIODeadline, timeoutText: String
    ) async throws -> SMTPConnection {
        let serverName = "\(server.host):\(server.port)"
        let hostname = Self.verifiedHostname(server.host)
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(max(deadline - NIODeadline.now(), .milliseconds(1)))
                .connect(host: server.host, port: server.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let pipeline = channel.pipeline.syncOperations
                        if let implicitTLS {
                            try pipeline.addHandler(NIOSSLClientHandler(context: implicitTLS, serverHostname: hostname))
                        }
                        let handler = SMTPReplyHandler(serverName: serverName)
                        try pipeline.addHandler(handler)
                        let replies = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                        let timeout = channel.eventLoop.scheduleTask(deadline: deadline) {
                            replies.value.timedOut(after: timeoutText)
                            channel.close(promise: nil)
                        }
                        channel.closeFuture.whenComplete { _ in timeout.cancel() }
                        return SMTPConnection(channel: channel, serverName: serverName, replies: replies)
                    }
                }
        } catch ChannelError.connectTimeout {
            throw SMTPError("could not connect to the SMTP server \(serverName) within the \(timeoutText) timeout", permanent: false)
        } catch {
            throw SMTPError(connectionFailure: error, server: serverName)
        }
    }

    /// The name to check the certificate against, and to send as SNI. Nil for an IP address
    /// (SNI cannot carry one): NIOSSL then checks the certificate against the address it
    /// connected to, so `127.0.0.1` still needs a certificate for 127.0.0.1.
    static func verifiedHostname(_ host: String) -> String? {
        (try? SocketAddress(ipAddress: host, port: 0)) == nil ? host : nil
    }

    /// The next reply; `what` names it in a timeout's message ("the reply to MAIL FROM").
    func reply(to what: String) async throws -> SMTPReply {
        try await channel.eventLoop.flatSubmit { [replies, channel] in
            replies.value.nextReply(awaiting: what, on: channel.eventLoop)
        }.get()
    }

    /// Sends one command line and returns the server's reply to it.
    /// - name: how the command is named in messages, e.g. "AUTH" (never the credentials).
    func command(_ line: String, name: String? = nil) async throws -> SMTPReply {
        channel.writeAndFlush(ByteBuffer(string: line + "\r\n"), promise: nil)
        return try await reply(to: "the reply to " + (name ?? line))
    }

    /// Sends raw text (the message after DATA) without awaiting anything.
    func write(_ text: String) {
        channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
    }

    /// Puts TLS under the conversation after the server's 220 to STARTTLS. The handshake runs
    /// before the next command goes out; its failure fails the next reply.
    func startTLS(_ context: NIOSSLContext, serverHostname: String?) async throws {
        let serverName = serverName
        try await channel.eventLoop.flatSubmit { [replies, channel] () -> EventLoopFuture<Void> in
            // Whatever came after the 220 was sent before TLS: taken as an answer after the
            // handshake, it would let anyone on the path speak for the server (RFC 3207 6).
            if replies.value.hasUnreadInput {
                let error = SMTPError("the SMTP server \(serverName) sent more after agreeing to STARTTLS, which is not allowed", permanent: false)
                replies.value.fail(error)
                return channel.eventLoop.makeFailedFuture(error)
            }
            return channel.eventLoop.makeCompletedFuture {
                let tls = try NIOSSLClientHandler(context: context, serverHostname: serverHostname)
                try channel.pipeline.syncOperations.addHandler(tls, position: .first)
            }
        }.get()
    }

    /// The name to greet with (EHLO): this host's name when it is a full domain name, else the
    /// address literal of our end of the connection, as RFC 5321 4.1.4 asks.
    func greetingName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        if gethostname(&buffer, buffer.count - 1) == 0 {
            let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let labels = name.split(separator: ".", omittingEmptySubsequences: false)
            let isDomain = labels.count > 1 && labels.allSatisfy { label in
                !label.isEmpty && label.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "-" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
            }
            if isDomain { return name }
        }
        switch channel.localAddress {
        case .v4(let address)?: return "[\(address.host)]"
        case .v6(let address)?: return "[IPv6:\(address.host)]"
        default: return "[127.0.0.1]"
        }
    }

    /// Ends the conversation now (the sending task was cancelled): the awaited reply fails.
    func cancel() {
        channel.eventLoop.execute { [replies, channel] in
            replies.value.fail(SMTPError("sending the email was cancelled", permanent: false))
            channel.close(promise: nil)
        }
    }

    func close() async {
        try? await channel.close()
    }
}
