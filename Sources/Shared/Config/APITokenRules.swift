import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a bearer token for `/api` must be before `flowforge-api` will serve with it.
///
/// A token anyone can read is no token: the examples in `deploy/` are public, and an API that
/// other hosts can reach is open to guessing, so it needs a longer token than one only this
/// host can reach.
public enum APITokenRules {
    /// Every token that starts with this (in any case) is a placeholder: the examples in
    /// `deploy/` all do, so an example applied unchanged never starts an open API.
    public static let placeholderPrefix = "REPLACE-ME"

    /// Placeholder tokens shipped in `deploy/`, now or before, refused whatever their form.
    public static let shippedPlaceholders: Set<String> = [
        "REPLACE-ME-with-at-least-16-characters",
        "REPLACE-ME-with-the-output-of-openssl-rand-hex-32",
    ]

    /// Tokens of an API that listens on loopback only.
    public static let minimumLengthOnLoopback = 16
    /// Tokens of an API that other hosts can reach: 32 characters, as many as
    /// `openssl rand -hex 16` gives, the least that makes guessing hopeless.
    public static let minimumLength = 32

    public static let howToMakeOne = "make one with: openssl rand -hex 32"

    public static func isPlaceholder(_ token: String) -> Bool {
        shippedPlaceholders.contains(token) || token.uppercased().hasPrefix(placeholderPrefix)
    }

    /// Refuses placeholders, and tokens too short for where the API listens. The message never
    /// repeats a token.
    public static func check(_ tokens: [String], host: String) throws(ConfigError) {
        if tokens.contains(where: isPlaceholder) {
            throw ConfigError(
                "FLOWFORGE_API_TOKEN: a token is still the example's placeholder (\(placeholderPrefix)…), which anyone can read; \(howToMakeOne)")
        }
        if isLoopback(host) {
            if tokens.contains(where: { $0.count < minimumLengthOnLoopback }) {
                throw ConfigError("FLOWFORGE_API_TOKEN: every token must be at least \(minimumLengthOnLoopback) characters long")
            }
        } else if tokens.contains(where: { $0.count < minimumLength }) {
            throw ConfigError(
                "FLOWFORGE_API_TOKEN: every token must be at least \(minimumLength) characters when the API listens on \(host); \(howToMakeOne)")
        }
    }

    /// Whether an address to listen on is reachable from this host only: `localhost`, any
    /// address in 127.0.0.0/8, `::1` (with or without brackets), or 127.0.0.0/8 mapped into IPv6.
    public static func isLoopback(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name == "localhost" || name == "localhost." { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { $0[0] == 127 }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, name, &v6) == 1 {
            let bytes = withUnsafeBytes(of: &v6) { Array($0) }
            if bytes[0..<15].allSatisfy({ $0 == 0 }) && bytes[15] == 1 { return true }
            let mapped = bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff
            return mapped && bytes[12] == 127
        }
        return false
    }
}
