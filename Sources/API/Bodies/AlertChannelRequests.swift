import FlowForgeShared
import Foundation

/// The fields an alert channel body may carry. Which ones apply depends on its kind.
enum AlertChannelField: String, CodingKey, CaseIterable {
    case name, kind
    /// webhook and slack.
    case url
    /// email.
    case host, port, security, username, password, from, to
    case caCertificate = "ca_certificate"

    /// The fields each kind takes besides name and kind.
    static func of(_ kind: AlertChannelKind) -> [AlertChannelField] {
        switch kind {
        case .webhook, .slack: [.url]
        case .email: [.host, .port, .security, .username, .password, .from, .to, .caCertificate]
        }
    }
}

extension CodingUserInfoKey {
    /// The `AlertChannel` an `AlertChannelUpdate` body changes.
    static let editedAlertChannel = CodingUserInfoKey(rawValue: "flowforge.editedAlertChannel")!
}

/// A channel as a body leaves it, before its secret is sealed: the secret in the clear (a
/// Slack URL, an email password) only between decoding and sealing.
struct AlertChannelInput {
    enum Secret: Equatable {
        /// Not given: an update keeps the stored one (a create has none).
        case keep
        /// `password: null`: none.
        case remove
        case set(String)
    }

    var name: String
    var kind: AlertChannelKind
    var settings: AlertChannelSettings
    var secret: Secret = .keep
    /// Whether the channel as stored has a secret (updates).
    var storedSecret = false

    init(kind: AlertChannelKind) {
        name = ""
        self.kind = kind
        settings = AlertChannelSettings()
    }

    init(_ channel: AlertChannel) {
        name = channel.name
        kind = channel.kind
        settings = channel.settings
        storedSecret = channel.hasSecret
    }
}

/// `POST /api/alert-channels` (`AlertChannelCreate`): `name` and `kind` are required, and what
/// the kind needs (a webhook's or Slack's `url`; an email server's `host`, `from` and `to`).
struct AlertChannelCreate: RequestBody {
    static var fieldNames: [String] { AlertChannelField.allCases.map(\.rawValue) }

    var input: AlertChannelInput

    init(from decoder: any Decoder) throws {
        let fields = try decoder.container(keyedBy: AlertChannelField.self)
        guard fields.contains(.name) else { throw FlowForgeError.invalid("name is required") }
        guard fields.contains(.kind) else {
            throw FlowForgeError.invalid("\(fields.fieldName(.kind)) is required (\(AlertChannelKind.choices))")
        }
        input = AlertChannelInput(kind: try fields.choice(.kind, AlertChannelKind.self)!)
        try AlertChannelChanges.apply(fields, to: &input, creating: true)
    }
}

/// `PUT /api/alert-channels/:id` (`AlertChannelUpdate`): only the fields given change; the kind
/// cannot. A secret left out (a Slack URL, an email password) is kept. Read against the channel
/// it edits, passed as `userInfo[.editedAlertChannel]`.
struct AlertChannelUpdate: RequestBody {
    static var fieldNames: [String] { AlertChannelField.allCases.map(\.rawValue) }

    var input: AlertChannelInput

    init(from decoder: any Decoder) throws {
        guard let current = decoder.userInfo[.editedAlertChannel] as? AlertChannel else {
            preconditionFailure("an AlertChannelUpdate is decoded with the channel it edits")
        }
        let fields = try decoder.container(keyedBy: AlertChannelField.self)
        if let kind = try fields.choice(.kind, AlertChannelKind.self), kind != current.kind {
            throw FlowForgeError.invalid(
                "kind cannot be changed from \(current.kind.rawValue) to \(kind.rawValue); create a new channel instead")
        }
        input = AlertChannelInput(current)
        try AlertChannelChanges.apply(fields, to: &input, creating: false)
    }
}

/// Applies a channel body's fields: fields of another kind first, then the name, then the
/// kind's own fields and what they need.
enum AlertChannelChanges {
    static func apply(_ fields: KeyedDecodingContainer<AlertChannelField>, to input: inout AlertChannelInput, creating: Bool) throws {
        let own = AlertChannelField.of(input.kind)
        if let foreign = AlertChannelField.allCases.first(where: { $0 != .name && $0 != .kind && !own.contains($0) && fields.contains($0) }) {
            let kinds = AlertChannelKind.allCases.filter { AlertChannelField.of($0).contains(foreign) }.map(\.rawValue)
            throw FlowForgeError.invalid(
                "\(fields.fieldName(foreign)) applies only to \(kinds.joined(separator: " and ")) channels, not \(input.kind.rawValue) ones")
        }
        if let name = try fields.string(.name, maxLength: Limits.nameLength) {
            try FieldRules.checkName(name, field: fields.fieldName(.name))
            input.name = name
        }
        switch input.kind {
        case .webhook, .slack: try url(fields, &input, creating: creating)
        case .email: try email(fields, &input, creating: creating)
        }
    }

    private static func url(_ fields: KeyedDecodingContainer<AlertChannelField>, _ input: inout AlertChannelInput, creating: Bool) throws {
        let name = fields.fieldName(.url)
        guard let url = try fields.string(.url, maxLength: Limits.urlLength) else {
            if creating { throw FlowForgeError.invalid("\(name) is required for a \(input.kind.rawValue) channel") }
            return
        }
        if input.kind == .slack {
            guard AlertChannelRules.isWebURL(url, httpsOnly: true) else {
                throw FlowForgeError.invalid("\(name) must be an https URL (Slack incoming webhooks are https)")
            }
            input.settings = .slack(url: url)
            input.secret = .set(url)
        } else {
            guard AlertChannelRules.isWebURL(url) else {
                throw FlowForgeError.invalid("\(name) must be an absolute http:// or https:// URL")
            }
            input.settings = .webhook(url: url)
        }
    }

    private static func email(_ fields: KeyedDecodingContainer<AlertChannelField>, _ input: inout AlertChannelInput, creating: Bool) throws {
        var settings = input.settings
        if let host = try fields.string(.host, maxLength: 253) {
            try AlertChannelRules.checkHost(host, name: fields.fieldName(.host))
            settings.host = host
        } else if creating {
            throw FlowForgeError.invalid("\(fields.fieldName(.host)) is required for an email channel")
        }
        let oldSecurity = settings.security ?? .starttls
        let security = try fields.choice(.security, EmailSecurity.self) ?? oldSecurity
        settings.security = security
        if let value = try fields.json(.port) {
            guard let port = value.intValue, (1...65_535).contains(port) else {
                throw FlowForgeError.invalid("\(fields.fieldName(.port)) must be a whole number from 1 to 65535")
            }
            settings.port = Int(port)
        } else if creating || settings.port == nil || settings.port == oldSecurity.defaultPort {
            // A port left at its security's usual one follows a change of security.
            settings.port = security.defaultPort
        }
        if let username = try fields.nullableString(.username, maxLength: Limits.nameLength) {
            if let username {
                guard !username.isEmpty, !username.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
                    throw FlowForgeError.invalid("\(fields.fieldName(.username)) must not be empty or hold control characters (null for none)")
                }
            }
            settings.username = username
        }
        if let password = try fields.nullableString(.password, maxLength: 1_000) {
            if let password {
                guard !password.isEmpty else {
                    throw FlowForgeError.invalid("\(fields.fieldName(.password)) must not be empty (null for none)")
                }
                input.secret = .set(password)
            } else {
                input.secret = .remove
            }
        }
        let hasPassword: Bool
        switch input.secret {
        case .set: hasPassword = true
        case .remove: hasPassword = false
        case .keep: hasPassword = !creating && input.storedSecret
        }
        if settings.username != nil && !hasPassword {
            throw FlowForgeError.invalid("\(fields.fieldName(.password)) is required with username: give both, or neither")
        }
        if settings.username == nil && hasPassword {
            throw FlowForgeError.invalid(
                "\(fields.fieldName(.username)) is required with password: give both, or neither (password: null removes a stored one)")
        }
        if let from = try fields.string(.from, maxLength: 254) {
            try AlertChannelRules.checkEmailAddress(from, name: fields.fieldName(.from))
            settings.from = from
        } else if creating {
            throw FlowForgeError.invalid("\(fields.fieldName(.from)) is required for an email channel")
        }
        let toName = fields.fieldName(.to)
        if let value = try fields.json(.to) {
            guard case .array(let items) = value else {
                throw FlowForgeError.invalid("\(toName) must be an array of email addresses, not \(value.typeName)")
            }
            guard !items.isEmpty else { throw FlowForgeError.invalid("\(toName) must list at least one recipient") }
            guard items.count <= AlertChannelRules.maxRecipients else {
                throw FlowForgeError.invalid("\(toName) must list at most \(AlertChannelRules.maxRecipients) recipients, not \(items.count)")
            }
            var addresses: [String] = []
            for (index, item) in items.enumerated() {
                let address = try FieldRules.string(item, name: "\(toName)[\(index)]", maxLength: 254)
                try AlertChannelRules.checkEmailAddress(address, name: "\(toName)[\(index)]")
                addresses.append(address)
            }
            settings.to = addresses
        } else if creating {
            throw FlowForgeError.invalid("\(toName) must list at least one recipient")
        }
        if let certificate = try fields.nullableString(.caCertificate, maxLength: AlertChannelRules.maxCertificateBytes) {
            if let certificate { try AlertChannelRules.checkCertificate(certificate, name: fields.fieldName(.caCertificate)) }
            settings.caCertificate = certificate
        }
        input.settings = settings
    }
}
