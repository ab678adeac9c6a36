/// A channel with its secret opened: everything a sender needs. Built in the process that
/// sends (the scheduler's notifier, or the API for a test message) from the stored channel
/// and its sealed secret, and never stored, logged or shown.
public enum AlertTarget: Sendable {
    case webhook(url: String, secret: [UInt8])
    case slack(url: String)
    case email(EmailTarget)

    /// An email channel's server, account and addresses.
    public struct EmailTarget: Sendable {
        public var host: String
        public var port: Int
        public var security: EmailSecurity
        public var username: String?
        public var password: String?
        public var from: String
        public var to: [String]
        public var caCertificate: String?
    }

    /// The target of `channel` with its sealed secret (nil when it has none) opened by
    /// `secretBox`, the key of `process` ("API", "scheduler"), which names it in the error.
    /// Without a key the error is `retryable`: a replica that has it, or this process
    /// restarted with it, can still send.
    public init(channel: AlertChannel, sealedSecret: [UInt8]?, secretBox: SecretBox?, process: String) throws(AlertTargetError) {
        var secret: [UInt8]?
        if let sealedSecret {
            guard let secretBox else {
                throw AlertTargetError("the \(process) has no FLOWFORGE_SECRET_KEY to open this channel's secret", retryable: true)
            }
            guard let opened = secretBox.open(sealedSecret) else {
                let remedy =
                    switch channel.kind {
                    case .webhook: "rotate its secret"
                    case .slack: "save its URL again"
                    case .email: "save its password again"
                    }
                throw AlertTargetError("this channel's secret was sealed with another FLOWFORGE_SECRET_KEY than the \(process)'s; \(remedy)")
            }
            secret = opened
        }
        try self.init(channel: channel, secret: secret)
    }

    /// The target of `channel`, whose sealed secret `open` opened (nil when it has none).
    /// Throws a sentence when the stored channel lacks what its kind needs.
    public init(channel: AlertChannel, secret: [UInt8]?) throws(AlertTargetError) {
        let settings = channel.settings
        switch channel.kind {
        case .webhook:
            guard let url = settings.url, let secret else { throw AlertTargetError("webhook channel \(channel.id) has no URL or no secret") }
            self = .webhook(url: url, secret: secret)
        case .slack:
            guard let secret, let url = String(validating: secret, as: UTF8.self) else {
                throw AlertTargetError("Slack channel \(channel.id) has no URL")
            }
            self = .slack(url: url)
        case .email:
            guard let host = settings.host, let from = settings.from, let to = settings.to, !to.isEmpty else {
                throw AlertTargetError("email channel \(channel.id) has no server, sender or recipients")
            }
            let security = settings.security ?? .starttls
            self = .email(
                EmailTarget(
                    host: host, port: settings.port ?? security.defaultPort, security: security, username: settings.username,
                    password: secret.flatMap { String(validating: $0, as: UTF8.self) }, from: from, to: to,
                    caCertificate: settings.caCertificate))
        }
    }
}

/// Why a channel cannot be sent to, one sentence, and whether trying later may succeed.
public struct AlertTargetError: Error, CustomStringConvertible {
    public var description: String
    public var retryable: Bool

    public init(_ description: String, retryable: Bool = false) {
        self.description = description
        self.retryable = retryable
    }

    /// The attempt that was not made, as its result.
    public var result: AlertDeliveryResult {
        var result = AlertDeliveryResult.notSent(description)
        result.retryable = retryable
        return result
    }
}
