import Foundation

/// Where alerts go: a signed webhook, a Slack incoming webhook, or an email server.
public enum AlertChannelKind: String, Sendable, Codable, CaseIterable {
    case webhook, slack, email
}

/// How an email channel talks to its server: STARTTLS on a plain connection (the default, and
/// required: a server that does not offer it is refused), TLS from the first byte (port 465),
/// or no encryption (a relay on the same host).
public enum EmailSecurity: String, Sendable, Codable, CaseIterable {
    case starttls, tls, none

    /// The port a server usually listens on for this kind of connection.
    public var defaultPort: Int {
        switch self {
        case .starttls: 587
        case .tls: 465
        case .none: 25
        }
    }
}

/// A stored alert channel. Its secret (a webhook's signing secret, a Slack URL, an email
/// password) is stored sealed and is never part of this value, except `newSecret` in the
/// answer that created or rotated a webhook's.
public struct AlertChannel: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var kind: AlertChannelKind
    public var settings: AlertChannelSettings
    /// Whether a secret is stored (an email channel's password is optional).
    public var hasSecret: Bool
    /// The rules that send to this channel.
    public var rules: [AlertRuleRef] = []
    public var createdAt: Date
    public var updatedAt: Date
    public var newSecret: String? = nil

    public init(
        id: Int64, name: String, kind: AlertChannelKind, settings: AlertChannelSettings, hasSecret: Bool,
        rules: [AlertRuleRef] = [], createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.name = name
        self.kind = kind
        self.settings = settings
        self.hasSecret = hasSecret
        self.rules = rules
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A rule named by id and name.
public struct AlertRuleRef: Sendable, Equatable, Codable {
    public var id: Int64
    public var name: String

    public init(id: Int64, name: String) {
        self.id = id
        self.name = name
    }
}

/// What of a channel is not secret, as stored in `alert_channels.settings` (snake_case JSON).
/// Fields that do not apply to the channel's kind are nil.
public struct AlertChannelSettings: Sendable, Equatable, Codable {
    /// A webhook's URL. (A Slack channel's URL is its secret; `slackURLHint` shows it.)
    public var url: String?
    /// A Slack URL's scheme and host, followed by "/…": enough to recognise it.
    public var slackURLHint: String?
    public var host: String?
    public var port: Int?
    public var security: EmailSecurity?
    public var username: String?
    public var from: String?
    public var to: [String]?
    /// A PEM certificate (a private CA's, or the server's own) trusted besides the system's.
    public var caCertificate: String?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case url, host, port, security, username, from, to
        case slackURLHint = "slack_url_hint"
        case caCertificate = "ca_certificate"
    }

    public static func webhook(url: String) -> AlertChannelSettings {
        var settings = AlertChannelSettings()
        settings.url = url
        return settings
    }

    public static func slack(url: String) -> AlertChannelSettings {
        var settings = AlertChannelSettings()
        settings.slackURLHint = slackHint(url)
        return settings
    }

    /// "https://hooks.slack.com/…" for "https://hooks.slack.com/services/T000/B000/XXXX".
    public static func slackHint(_ url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return "…" }
        return "\(scheme)://\(host)/…"
    }
}
