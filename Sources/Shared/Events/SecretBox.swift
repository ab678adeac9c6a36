import Crypto
import Foundation

/// Seals secrets with `FLOWFORGE_SECRET_KEY` (AES-256-GCM), so the database holds them only
/// sealed: webhook triggers' secrets (the API opens them) and alert channels' secrets (the
/// scheduler's notifier opens them to send). A webhook's HMAC needs the secret itself, which
/// rules out a hash.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    /// `text`: 32 bytes as 64 hex digits (`openssl rand -hex 32`) or as base64.
    public init(keyText: String) throws(ConfigError) {
        let trimmed = keyText.trimmingCharacters(in: .whitespacesAndNewlines)
        if let bytes = Self.hexBytes(trimmed), bytes.count == 32 {
            key = SymmetricKey(data: bytes)
        } else if let data = Data(base64Encoded: trimmed), data.count == 32 {
            key = SymmetricKey(data: data)
        } else {
            throw ConfigError("FLOWFORGE_SECRET_KEY must be 32 random bytes, as 64 hex digits (openssl rand -hex 32) or base64")
        }
    }

    /// A random key, for tests and `flowforge dev`.
    public static func random() -> SecretBox { SecretBox(key: SymmetricKey(size: .bits256)) }

    /// A fresh key as 64 hex digits.
    public static func newKeyText() -> String { hex(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }) }

    private init(key: SymmetricKey) { self.key = key }

    /// A new webhook secret: `whsec_` and 32 random bytes in hex. Returns it with its sealed form.
    public func newSecret() -> (secret: String, sealed: [UInt8]) {
        let secret = "whsec_" + Self.hex(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        return (secret, seal(secret))
    }

    public func seal(_ secret: String) -> [UInt8] {
        // A fresh random nonce each time; `combined` is nonce + ciphertext + tag.
        Array((try! AES.GCM.seal(Data(secret.utf8), using: key)).combined!)
    }

    /// nil when the box was sealed with another key (FLOWFORGE_SECRET_KEY changed) or damaged.
    public func open(_ sealed: [UInt8]) -> [UInt8]? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed), let plain = try? AES.GCM.open(box, using: key) else { return nil }
        return Array(plain)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }
}
