import NIOCore

/// Turns the bytes an SMTP server sends into replies and hands each to whoever awaits it.
/// It lives on the channel's event loop; `SMTPConnection` reaches it only there, through
/// `NIOLoopBound`. Once the connection fails (closed, TLS error, timeout, garbage) every
/// later wait fails with the first reason, so a conversation always ends with the real cause.
final class SMTPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// RFC 5321 allows 512 characters per reply line; real servers stay well below this.
    private static let maximumLineLength = 4096
    /// An EHLO answer has a line per extension: a few dozen at most.
    private static let maximumLinesPerReply = 200
    /// The conversation sends one command at a time, so more than one waiting reply is the
    /// server's mistake; a few are kept so the mistake shows as a wrong reply, not as this.
    private static let maximumUnaskedReplies = 8

    private let serverName: String
    private var pending = ByteBuffer()          // bytes not yet a whole line
    private var lines: [String] = []            // lines of the reply under way
    private var code = 0                        // and its code
    private var ready: [SMTPReply] = []         // whole replies nobody has asked for yet
    private var waiter: EventLoopPromise<SMTPReply>?
    private var awaiting = "the greeting"       // what the conversation waits for, for a timeout's message
    private var failure: SMTPError?

    init(serverName: String) {
        self.serverName = serverName
    }

    /// Whether the server sent anything not yet read: after its 220 to STARTTLS it must not.
    var hasUnreadInput: Bool { pending.readableBytes > 0 || !lines.isEmpty || !ready.isEmpty }

    /// The next reply; `what` names it for the timeout's message ("the reply to EHLO").
    func nextReply(awaiting what: String, on eventLoop: any EventLoop) -> EventLoopFuture<SMTPReply> {
        if !ready.isEmpty { return eventLoop.makeSucceededFuture(ready.removeFirst()) }
        if let failure { return eventLoop.makeFailedFuture(failure) }
        precondition(waiter == nil, "one SMTP reply awaited at a time")
        awaiting = what
        let promise = eventLoop.makePromise(of: SMTPReply.self)
        waiter = promise
        return promise.futureResult
    }

    /// The conversation's deadline passed.
    func timedOut(after timeout: String) {
        fail(SMTPError("the SMTP server \(serverName) did not send \(awaiting) within the \(timeout) timeout", permanent: false))
    }

    func fail(_ error: SMTPError) {
        if failure == nil { failure = error }
        waiter?.fail(failure ?? error)
        waiter = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        pending.writeBuffer(&bytes)
        while failure == nil, let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            var line = pending.readBytes(length: newline - pending.readerIndex) ?? []
            pending.moveReaderIndex(forwardBy: 1)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            take(String(decoding: line, as: UTF8.self))
        }
        if failure == nil && pending.readableBytes > Self.maximumLineLength {
            fail(SMTPError("the SMTP server \(serverName) sent a line longer than \(Self.maximumLineLength) bytes", permanent: false))
        }
        pending.discardReadBytes()
        if failure != nil { context.close(promise: nil) }
    }

    private func take(_ line: String) {
        // Every line of a multi-line reply carries the same code.
        guard let parsed = SMTPReply.parseLine(line), lines.isEmpty || parsed.code == code else {
            fail(SMTPError("the SMTP server \(serverName) sent something that is not an SMTP reply: \"\(line.prefix(200))\"", permanent: false))
            return
        }
        code = parsed.code
        lines.append(parsed.text)
        guard parsed.isLast else {
            if lines.count > Self.maximumLinesPerReply {
                fail(SMTPError("the SMTP server \(serverName) sent a reply of more than \(Self.maximumLinesPerReply) lines", permanent: false))
            }
            return
        }
        let reply = SMTPReply(code: parsed.code, lines: lines)
        lines = []
        if let waiter {
            self.waiter = nil
            waiter.succeed(reply)
        } else if ready.count < Self.maximumUnaskedReplies {
            ready.append(reply)
        } else {
            fail(SMTPError("the SMTP server \(serverName) sent replies to commands FlowForge did not send", permanent: false))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(SMTPError(connectionFailure: error, server: serverName))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPError("the SMTP server \(serverName) closed the connection while FlowForge waited for \(awaiting)", permanent: false))
        context.fireChannelInactive()
    }
}
