@testable import FlowForgeShared
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Issue 20: API tokens nobody can guess or read in an example, secrets given as files, and
/// the settings that keep steps away from the worker's credentials. No database needed.
@Suite("Settings hardening")
struct SettingsHardeningTests {
    static let goodToken = String(repeating: "a1", count: 16)  // 32 characters
    static let howToMakeOne = "make one with: openssl rand -hex 32"

    /// A folder of its own for one test's secret files, removed afterwards.
    final class SecretFolder {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("flowforge-settings-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(at: url) }

        func write(_ name: String, _ text: String, mode: Int = 0o400) throws -> String {
            let path = url.appendingPathComponent(name).path
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, mode_t(mode))
            return path
        }
    }

    // MARK: API tokens

    @Test("on loopback a token needs 16 characters; anywhere else 32, and the error says how to make one")
    func tokenLength() throws {
        let sixteen = "0123456789abcdef"
        for host in ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]", "::ffff:127.0.0.1"] {
            let settings = try Settings.load(environment: ["FLOWFORGE_HTTP_HOST": host, "FLOWFORGE_API_TOKEN": sixteen])
            #expect(settings.apiTokens == [sixteen], "host \(host)")
        }
        #expect(throws: ConfigError("FLOWFORGE_API_TOKEN: every token must be at least 16 characters long")) {
            try Settings.load(environment: ["FLOWFORGE_API_TOKEN": "fifteen-chars-x"])
        }
        for host in ["0.0.0.0", "::", "10.213.1.1", "128.0.0.1", "api.example.com", "::2"] {
            #expect(throws: ConfigError(
                "FLOWFORGE_API_TOKEN: every token must be at least 32 characters when the API listens on \(host); \(Self.howToMakeOne)"
            )) {
                try Settings.load(environment: ["FLOWFORGE_HTTP_HOST": host, "FLOWFORGE_API_TOKEN": "\(Self.goodToken),\(sixteen)"])
            }
        }
        // 31 characters fail, 32 pass; the flag's host counts, not the environment's.
        let thirtyOne = String(Self.goodToken.dropLast())
        #expect(throws: ConfigError(
            "FLOWFORGE_API_TOKEN: every token must be at least 32 characters when the API listens on 0.0.0.0; \(Self.howToMakeOne)"
        )) {
            try Settings.load(environment: ["FLOWFORGE_API_TOKEN": thirtyOne], overrides: ["FLOWFORGE_HTTP_HOST": "0.0.0.0"])
        }
        let open = try Settings.load(environment: ["FLOWFORGE_HTTP_HOST": "0.0.0.0", "FLOWFORGE_API_TOKEN": Self.goodToken])
        #expect(open.apiTokens == [Self.goodToken])
        // No token at all is the API's to refuse (it may run with --insecure-no-auth).
        #expect(try Settings.load(environment: ["FLOWFORGE_HTTP_HOST": "0.0.0.0"]).apiTokens == [])
    }

    @Test("a placeholder token is refused wherever the API listens, and the message does not repeat it")
    func placeholderTokens() throws {
        let message = "FLOWFORGE_API_TOKEN: a token is still the example's placeholder (REPLACE-ME…), which anyone can read; \(Self.howToMakeOne)"
        let placeholders = [
            "REPLACE-ME-with-at-least-16-characters", "REPLACE-ME-with-the-output-of-openssl-rand-hex-32",
            "replace-me-0123456789abcdef0123456789abcdef",
        ]
        for token in placeholders {
            for host in ["127.0.0.1", "0.0.0.0"] {
                #expect(throws: ConfigError(message)) {
                    try Settings.load(environment: ["FLOWFORGE_HTTP_HOST": host, "FLOWFORGE_API_TOKEN": "\(Self.goodToken), \(token)"])
                }
            }
        }
        #expect(APITokenRules.isPlaceholder("REPLACE-ME"))
        #expect(!APITokenRules.isPlaceholder(Self.goodToken))
        #expect(!APITokenRules.isPlaceholder("please-REPLACE-ME-0123456789abcdef"))
    }

    /// Every FLOWFORGE_API_TOKEN value written in deploy/ is one the API refuses, so an
    /// example applied unchanged never starts an API whose token is public.
    @Test("every token value shipped in deploy/ is refused")
    func shippedExamplesAreRefused() throws {
        let deploy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy")
        var found: [String] = []
        let files = try #require(FileManager.default.enumerator(atPath: deploy.path)).compactMap { $0 as? String }
        for file in files where file.hasSuffix(".yaml") || file.hasSuffix(".example") || file.hasSuffix(".env") {
            let text = try String(contentsOf: deploy.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") {
                // `FLOWFORGE_API_TOKEN: "…"` (YAML) or `FLOWFORGE_API_TOKEN=…` (.env), not commented out.
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                guard !trimmed.hasPrefix("#"), trimmed.hasPrefix("FLOWFORGE_API_TOKEN:") || trimmed.hasPrefix("FLOWFORGE_API_TOKEN=")
                else { continue }
                let value = trimmed.dropFirst("FLOWFORGE_API_TOKEN:".count).trimmingCharacters(in: CharacterSet(charactersIn: " \"'"))
                if !value.isEmpty, !value.hasPrefix("$") { found.append(value) }
            }
        }
        #expect(found.contains("REPLACE-ME-with-the-output-of-openssl-rand-hex-32"), "deploy/k8s/secret.example.yaml's placeholder")
        for token in found {
            #expect(APITokenRules.isPlaceholder(token), "\(token) is shipped in deploy/ but accepted as a token")
        }
    }

    @Test("loopback addresses, and what is not one")
    func loopback() {
        for host in ["127.0.0.1", "127.255.255.254", "localhost", "::1", "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.2"] {
            #expect(APITokenRules.isLoopback(host), "\(host)")
        }
        for host in ["0.0.0.0", "::", "", "128.0.0.1", "10.0.0.1", "::ffff:10.0.0.1", "localhost.example.com", "127.0.0.1.nip.io", "[::2]"] {
            #expect(!APITokenRules.isLoopback(host), "\(host)")
        }
    }

    // MARK: secrets as files

    @Test("DATABASE_URL_FILE, FLOWFORGE_API_TOKEN_FILE and FLOWFORGE_SECRET_KEY_FILE are read, without the trailing newline")
    func secretFiles() throws {
        let folder = try SecretFolder()
        let key = String(repeating: "0f", count: 32)
        let environment = [
            "DATABASE_URL_FILE": try folder.write("database_url", "postgres://flowforge:s3cret@db.internal:5432/flowforge?sslmode=require\n"),
            "FLOWFORGE_API_TOKEN_FILE": try folder.write("api_token", "\(Self.goodToken),\(Self.goodToken.uppercased())\r\n"),
            "FLOWFORGE_SECRET_KEY_FILE": try folder.write("secret_key", key + "\n\n"),
            "FLOWFORGE_HTTP_HOST": "0.0.0.0",
        ]
        let settings = try Settings.load(environment: environment)
        #expect(settings.databaseURL == DatabaseURL(
            host: "db.internal", port: 5432, username: "flowforge", password: "s3cret", database: "flowforge", tlsMode: .require))
        #expect(settings.apiTokens == [Self.goodToken, Self.goodToken.uppercased()])
        #expect(settings.secretBox != nil)
        // An empty file is an unset value, like an empty variable (Compose's optional secret key).
        let empty = try Settings.load(environment: ["FLOWFORGE_SECRET_KEY_FILE": try folder.write("empty", "\n")])
        #expect(empty.secretBox == nil)
        // The rules for a value apply to it from a file too.
        #expect(throws: ConfigError(
            "FLOWFORGE_API_TOKEN: every token must be at least 32 characters when the API listens on 0.0.0.0; \(Self.howToMakeOne)"
        )) {
            try Settings.load(environment: [
                "FLOWFORGE_HTTP_HOST": "0.0.0.0", "FLOWFORGE_API_TOKEN_FILE": try folder.write("short", "0123456789abcdef\n"),
            ])
        }
        #expect(throws: ConfigError("FLOWFORGE_SECRET_KEY must be 32 random bytes, as 64 hex digits (openssl rand -hex 32) or base64")) {
            try Settings.load(environment: ["FLOWFORGE_SECRET_KEY_FILE": try folder.write("bad_key", "REPLACE-ME-with-64-hex-digits\n")])
        }
    }

    @Test("a value and its file both set is an error naming both; a flag wins over the file")
    func bothSet() throws {
        let folder = try SecretFolder()
        let urlFile = try folder.write("database_url", "postgres://flowforge:fromfile@db:5432/flowforge\n")
        for (name, value) in [
            ("DATABASE_URL", "postgres://flowforge:fromenv@db:5432/flowforge"), ("FLOWFORGE_API_TOKEN", Self.goodToken),
            ("FLOWFORGE_SECRET_KEY", String(repeating: "ab", count: 32)),
        ] {
            #expect(throws: ConfigError("\(name) and \(name)_FILE are both set: give \(name) in only one of them")) {
                try Settings.load(environment: [name: value, "\(name)_FILE": urlFile])
            }
        }
        // --database-url overrides the environment, the file included.
        let flagged = try Settings.load(
            environment: ["DATABASE_URL_FILE": urlFile], overrides: ["DATABASE_URL": "postgres://flowforge:fromflag@db:5432/flowforge"])
        #expect(flagged.databaseURL?.password == "fromflag")
        // An empty variable does not count as set.
        let fromFile = try Settings.load(environment: ["DATABASE_URL": "", "DATABASE_URL_FILE": urlFile])
        #expect(fromFile.databaseURL?.password == "fromfile")
    }

    @Test("an unreadable file is an error naming the variable and the path")
    func unreadableFiles() throws {
        let folder = try SecretFolder()
        let missing = folder.url.appendingPathComponent("nothing-here").path
        #expect(throws: ConfigError("DATABASE_URL_FILE: cannot read \(missing): No such file or directory")) {
            try Settings.load(environment: ["DATABASE_URL_FILE": missing])
        }
        #expect(throws: ConfigError("FLOWFORGE_API_TOKEN_FILE: cannot read \(folder.url.path): Is a directory")) {
            try Settings.load(environment: ["FLOWFORGE_API_TOKEN_FILE": folder.url.path])
        }
        let large = try folder.write("large", String(repeating: "x", count: 70_000))
        #expect(throws: ConfigError("FLOWFORGE_SECRET_KEY_FILE: cannot read \(large): it is larger than 64 KiB, so it is not a secret of FlowForge's")) {
            try Settings.load(environment: ["FLOWFORGE_SECRET_KEY_FILE": large])
        }
        // Root reads any file, whatever its mode; the permission case means something only without it.
        if getuid() != 0 {
            let locked = try folder.write("locked", "postgres://u:p@h/d\n", mode: 0o000)
            #expect(throws: ConfigError("DATABASE_URL_FILE: cannot read \(locked): Permission denied")) {
                try Settings.load(environment: ["DATABASE_URL_FILE": locked])
            }
        }
    }

    // MARK: step settings

    @Test("FLOWFORGE_STEP_USER takes a user name or a uid, and nothing that could be a path or a list")
    func stepUser() throws {
        #expect(try Settings.load(environment: [:]).stepUser == nil)
        for user in ["flowforge-step", "10002", "svc_steps", "a", String(repeating: "u", count: 64)] {
            #expect(try Settings.load(environment: ["FLOWFORGE_STEP_USER": user]).stepUser == user)
        }
        #expect(try Settings.load(environment: [:], overrides: ["FLOWFORGE_STEP_USER": "10002"]).stepUser == "10002")
        for user in ["flowforge step", "10002:10002", "../root", "a\tb", String(repeating: "u", count: 65)] {
            #expect(throws: ConfigError(
                "FLOWFORGE_STEP_USER must be a user name or a numeric uid (at most 64 characters, no spaces, colons or slashes), not \"\(user)\""
            )) {
                try Settings.load(environment: ["FLOWFORGE_STEP_USER": user])
            }
        }
    }

    @Test("FLOWFORGE_STEP_ENV_PASSTHROUGH takes variable names, never the database's or FlowForge's")
    func stepEnvironmentPassthrough() throws {
        #expect(try Settings.load(environment: [:]).stepEnvironmentPassthrough == [])
        let settings = try Settings.load(environment: ["FLOWFORGE_STEP_ENV_PASSTHROUGH": " HTTPS_PROXY, no_proxy,LANG,_X1,,LANG "])
        #expect(settings.stepEnvironmentPassthrough == ["HTTPS_PROXY", "no_proxy", "LANG", "_X1"])
        let cases: [(String, String)] = [
            ("DATABASE_URL", "FLOWFORGE_STEP_ENV_PASSTHROUGH: DATABASE_URL cannot be passed to steps: it holds the database's password"),
            ("LANG,DATABASE_URL_FILE",
             "FLOWFORGE_STEP_ENV_PASSTHROUGH: DATABASE_URL_FILE cannot be passed to steps: it holds the database's password"),
            ("FLOWFORGE_API_TOKEN",
             "FLOWFORGE_STEP_ENV_PASSTHROUGH: FLOWFORGE_API_TOKEN cannot be passed to steps: FLOWFORGE_ variables are FlowForge's own settings and secrets, and steps get their own FLOWFORGE_ context"),
            ("PGPASSWORD",
             "FLOWFORGE_STEP_ENV_PASSTHROUGH: PGPASSWORD cannot be passed to steps: PG variables (PGPASSWORD, PGHOST, PGPASSFILE, …) would connect a step's libpq to the worker's database"),
            ("PGSERVICEFILE",
             "FLOWFORGE_STEP_ENV_PASSTHROUGH: PGSERVICEFILE cannot be passed to steps: PG variables (PGPASSWORD, PGHOST, PGPASSFILE, …) would connect a step's libpq to the worker's database"),
            ("1ABC", "FLOWFORGE_STEP_ENV_PASSTHROUGH: \"1ABC\" is not a variable name (letters, digits and _, not starting with a digit)"),
            ("MY-VAR", "FLOWFORGE_STEP_ENV_PASSTHROUGH: \"MY-VAR\" is not a variable name (letters, digits and _, not starting with a digit)"),
            ("HOME PATH", "FLOWFORGE_STEP_ENV_PASSTHROUGH: \"HOME PATH\" is not a variable name (letters, digits and _, not starting with a digit)"),
            ("CAFÉ", "FLOWFORGE_STEP_ENV_PASSTHROUGH: \"CAFÉ\" is not a variable name (letters, digits and _, not starting with a digit)"),
        ]
        for (value, message) in cases {
            #expect(throws: ConfigError(message)) { try Settings.load(environment: ["FLOWFORGE_STEP_ENV_PASSTHROUGH": value]) }
        }
    }
}
