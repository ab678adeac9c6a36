import Crypto
import Foundation

/// `X-FlowForge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`.
/// Several `v1` entries may be given (a sender signing with both secrets during a rotation).
public struct WebhookSignature: Sendable, Equatable {
    public static let header = "X-FlowForge-Signature"
    /// How far `t` may be from the receiver's clock, either way.
    public static let tolerance: TimeInterval = 300

    public var timestamp: Int64
    /// Each `v1` value, as 32 bytes.
    public var signatures: [[UInt8]]

    /// Parses the header; nil names what is wrong with it.
    public static func parse(_ header: String?) -> Result<WebhookSignature, WebhookRejection> {
        guard let header, !header.isEmpty else { return .failure(.missingSignature) }
        guard header.utf8.count <= 1_024 else { return .failure(.malformedSignature) }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { return .failure(.malformedSignature) }
            switch pair[0] {
            case "t":
                guard timestamp == nil, let value = Int64(pair[1]), value >= 0 else { return .failure(.malformedSignature) }
                timestamp = value
            case "v1":
                guard let bytes = SecretBox.hexBytes(String(pair[1])), bytes.count == 32, signatures.count < 8 else {
                    return .failure(.malformedSignature)
                }
                signatures.append(bytes)
            default:
                continue  // other schemes, for later versions
            }
        }
        guard let timestamp, !signatures.isEmpty else { return .failure(.malformedSignature) }
        return .success(WebhookSignature(timestamp: timestamp, signatures: signatures))
    }

    /// The `v1` value for `body` at `timestamp` under `secret`, as hex: what a sender computes.
    public static func sign(body: some Collection<UInt8>, timestamp: Int64, secret: some Collection<UInt8>) -> String {
        SecretBox.hex(mac(body: body, timestamp: timestamp, secret: secret))
    }

    static func mac(body: some Collection<UInt8>, timestamp: Int64, secret: some Collection<UInt8>) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Array(secret)))
        hmac.update(data: Array("\(timestamp).".utf8))
        hmac.update(data: Array(body))
        return Array(hmac.finalize())
    }

    /// Whether `t` is within the tolerance of `now`.
    public func isFresh(now: Date) -> Bool {
        abs(Double(timestamp) - now.timeIntervalSince1970) <= Self.tolerance
    }

    /// Whether any `v1` matches any of `secrets`. Every pair is compared, in constant time, so
    /// the time taken does not depend on which secret or how many bytes match.
    public func matches(body: some Collection<UInt8>, secrets: [[UInt8]]) -> Bool {
        var matched = false
        for secret in secrets {
            let expected = Self.mac(body: body, timestamp: timestamp, secret: secret)
            for candidate in signatures {
                matched = Self.constantTimeEqual(expected, candidate) || matched
            }
        }
        return matched
    }

    /// The replay key of a delivery: SHA-256 of the signed message, "<t>.<body>". A replay
    /// carrying only some of the original `v1` values is still the same delivery.
    public func replayKey(body: some Collection<UInt8>) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: Array("\(timestamp).".utf8))
        hash.update(data: Array(body))
        return Array(hash.finalize())
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// Why a delivery is refused. Each is one sentence for the sender; none reveals a secret.
public enum WebhookRejection: Error, Sendable, Equatable {
    case missingSignature, malformedSignature, stale, badSignature, replayed

    public var message: String {
        switch self {
        case .missingSignature: "the X-FlowForge-Signature header is missing"
        case .malformedSignature: "the X-FlowForge-Signature header must look like t=<unix seconds>,v1=<64 hex digits>"
        case .stale: "the X-FlowForge-Signature timestamp is more than 5 minutes away from the server's clock"
        case .badSignature: "the X-FlowForge-Signature does not match the body under any of the trigger's secrets"
        case .replayed: "this X-FlowForge-Signature was already accepted: a delivery is taken once"
        }
    }
}
