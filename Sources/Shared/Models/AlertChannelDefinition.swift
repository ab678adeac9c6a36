import Foundation

/// The fields a user sets on an alert channel, validated, and what becomes of its sealed
/// secret; what create and update write.
public struct AlertChannelDefinition: Sendable, Equatable {
    /// What a write does with the channel's sealed secret (`alert_channels.sealed_secret`).
    public enum SecretChange: Sendable, Equatable {
        /// Leave it as it is (an update that does not give the secret).
        case keep
        /// Remove it (an email channel that no longer logs in).
        case remove
        /// Store this sealed secret in its place.
        case replace(sealed: [UInt8])
    }

    public var name: String
    public var kind: AlertChannelKind
    public var settings: AlertChannelSettings
    public var secret: SecretChange

    public init(name: String, kind: AlertChannelKind, settings: AlertChannelSettings, secret: SecretChange) {
        self.name = name
        self.kind = kind
        self.settings = settings
        self.secret = secret
    }
}
