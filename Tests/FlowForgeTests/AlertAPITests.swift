import FlowForgeShared
import Foundation
import Hummingbird
import PostgresNIO
import ServiceLifecycle
import Synchronization
import Testing

@Suite("Alert API")
struct AlertAPITests {
    static let slackURL = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    static let email: JSONValue = [
        "name": "oncall", "kind": "email", "host": "smtp.example.com", "username": "u", "password": "hunter2-secret",
        "from": "flowforge@example.com", "to": ["a@example.com", "b@example.com"],
    ]

    // MARK: - Channels

    @Test("a webhook channel shows its secret once, at create and at rotation, and never again")
    func webhookChannel() async throws {
        try await withAPI { api in
            let created = try await api.expect(
                .created, .post, "/api/alert-channels", json: ["name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9099/alerts"])
            let id = try #require(created["id"]?.intValue)
            let secret = try #require(created["secret"]?.stringValue)
            // As a webhook trigger's: "whsec_" and 32 random bytes in hex.
            #expect(secret.hasPrefix("whsec_") && secret.count == 70 && secret.dropFirst(6).allSatisfy(\.isHexDigit))
            #expect(created["kind"] == "webhook")
            #expect(created["url"] == "http://127.0.0.1:9099/alerts")
            #expect(created["rules"] == [])
            #expect(created["host"] == nil && created["password_set"] == nil)

            let fetched = try await api.expect(.ok, .get, "/api/alert-channels/\(id)")
            #expect(fetched["secret"] == nil)
            #expect(fetched["name"] == "ops")
            let list = try await api.expect(.ok, .get, "/api/alert-channels")
            #expect(list.list("alert_channels").count == 1)
            #expect(list.list("alert_channels")[0]["secret"] == nil)
            // Stored sealed: the bytes are not the secret's.
            let sealed = try #require(try await api.scalar("SELECT sealed_secret FROM flowforge.alert_channels WHERE id = \(id)", as: ByteBuffer.self))
            #expect(!String(decoding: sealed.readableBytesView, as: UTF8.self).contains(secret))

            let rotated = try await api.expect(.ok, .post, "/api/alert-channels/\(id)/rotate-secret")
            let newSecret = try #require(rotated["secret"]?.stringValue)
            #expect(newSecret.hasPrefix("whsec_") && newSecret.count == 70 && newSecret != secret)
            #expect(try await api.expect(.ok, .get, "/api/alert-channels/\(id)")["secret"] == nil)

            // Editing the URL keeps the secret.
            let edited = try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["url": "https://example.com/hook"])
            #expect(edited["url"] == "https://example.com/hook")
            #expect(edited["secret"] == nil)
            let after = try await api.scalar("SELECT sealed_secret FROM flowforge.alert_channels WHERE id = \(id)", as: ByteBuffer.self)
            #expect(after != sealed)  // rotated above
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_channels WHERE sealed_secret IS NOT NULL") == 1)
        }
    }

    @Test("a Slack channel's URL is sealed and answered only as its scheme and host")
    func slackChannel() async throws {
        try await withAPI { api in
            let (status, created) = try await api.call(.post, "/api/alert-channels", json: ["name": "team", "kind": "slack", "url": .string(Self.slackURL)])
            #expect(status == .created)
            let id = try #require(created["id"]?.intValue)
            #expect(created["url"] == "https://hooks.slack.com/…")
            #expect(created["secret"] == nil)
            #expect(!String(decoding: created.encoded(), as: UTF8.self).contains("XXXXSECRET"))
            let sealed = try await api.scalar("SELECT sealed_secret FROM flowforge.alert_channels WHERE id = \(id)", as: ByteBuffer.self)
            #expect(sealed != nil)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_channels WHERE settings::text LIKE '%XXXXSECRET%'") == 0)

            // A rename keeps the sealed URL as it is.
            let renamed = try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["name": "team-alerts"])
            #expect(renamed["name"] == "team-alerts" && renamed["url"] == "https://hooks.slack.com/…")
            #expect(try await api.scalar("SELECT sealed_secret FROM flowforge.alert_channels WHERE id = \(id)", as: ByteBuffer.self) == sealed)

            let moved = try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["url": "https://example.slack.test/services/x"])
            #expect(moved["url"] == "https://example.slack.test/…")
            #expect(try await api.scalar("SELECT sealed_secret FROM flowforge.alert_channels WHERE id = \(id)", as: ByteBuffer.self) != sealed)

            let list = try await api.expect(.ok, .get, "/api/alert-channels")
            #expect(!String(decoding: list.encoded(), as: UTF8.self).contains("services"))
        }
    }

    @Test("an email channel never answers its password, keeps it when a change leaves it out, and takes the usual ports")
    func emailChannel() async throws {
        try await withAPI { api in
            let created = try await api.expect(.created, .post, "/api/alert-channels", json: Self.email)
            let id = try #require(created["id"]?.intValue)
            #expect(created["password_set"] == true)
            #expect(created["password"] == nil)
            #expect(created["username"] == "u")
            #expect(created["port"] == 587)
            #expect(created["security"] == "starttls")
            #expect(created["to"] == ["a@example.com", "b@example.com"])
            #expect(created["ca_certificate"] == .null)
            #expect(created["url"] == nil)
            #expect(!String(decoding: created.encoded(), as: UTF8.self).contains("hunter2"))
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_channels WHERE settings::text LIKE '%hunter2%'") == 0)
            let sealed = try await api.scalar("SELECT sealed_secret FROM flowforge.alert_channels WHERE id = \(id)", as: ByteBuffer.self)

            // Omitted password: kept. Security tls: the port follows to 465 (it was the usual 587).
            let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"
            let edited = try await api.expect(
                .ok, .put, "/api/alert-channels/\(id)", json: ["security": "tls", "to": ["c@example.com"], "ca_certificate": .string(pem)])
            #expect(edited["password_set"] == true)
            #expect(edited["port"] == 465)
            #expect(edited["security"] == "tls")
            #expect(edited["to"] == ["c@example.com"])
            #expect(edited["ca_certificate"] == .string(pem))
            #expect(edited["host"] == "smtp.example.com")
            #expect(try await api.scalar("SELECT sealed_secret FROM flowforge.alert_channels WHERE id = \(id)", as: ByteBuffer.self) == sealed)

            // A port of its own stays when security changes.
            #expect(try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["port": 2525])["port"] == 2525)
            #expect(try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["security": "none"])["port"] == 2525)

            // No login: username and password go together.
            let anonymous = try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["username": nil, "password": nil])
            #expect(anonymous["password_set"] == false)
            #expect(anonymous["username"] == .null)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_channels WHERE sealed_secret IS NULL") == 1)

            // The kind cannot change.
            let (status, body) = try await api.call(.put, "/api/alert-channels/\(id)", json: ["kind": "webhook", "url": "http://x.test/"])
            #expect(status == .badRequest)
            #expect(body["error"] == "kind cannot be changed from email to webhook; create a new channel instead")

            // Defaults: no login, port 465 for tls, 25 for none.
            let relay = try await api.expect(
                .created, .post, "/api/alert-channels",
                json: ["name": "relay", "kind": "email", "host": "127.0.0.1", "security": "none", "from": "ff@localhost", "to": ["ops@localhost"]])
            #expect(relay["port"] == 25 && relay["password_set"] == false && relay["username"] == .null)
            let tls = try await api.expect(
                .created, .post, "/api/alert-channels",
                json: ["name": "tls", "kind": "email", "host": "smtp.example.com", "security": "tls", "from": "ff@example.com", "to": ["o@example.com"]])
            #expect(tls["port"] == 465)
        }
    }

    static let invalidChannels: [(JSONValue, String)] = [
        ([:], "name is required"),
        (["name": "x"], "kind is required (webhook, slack or email)"),
        (["name": "", "kind": "webhook", "url": "http://x.test/"], "name must not be empty"),
        (["name": .string(String(repeating: "n", count: 201)), "kind": "webhook", "url": "http://x.test/"], "name must be at most 200 characters long"),
        (["name": " x", "kind": "webhook", "url": "http://x.test/"], "name must not start or end with spaces"),
        (["name": "x", "kind": "sms"], "kind must be one of webhook, slack or email"),
        (["name": "x", "kind": "webhook"], "url is required for a webhook channel"),
        (["name": "x", "kind": "webhook", "url": "ftp://x.test/a"], "url must be an absolute http:// or https:// URL"),
        (["name": "x", "kind": "webhook", "url": "http://"], "url must be an absolute http:// or https:// URL"),
        (["name": "x", "kind": "webhook", "url": "http://x.test/", "secret": "s"], "secret is not a known field"),
        (["name": "x", "kind": "webhook", "url": "http://x.test/", "host": "h"], "host applies only to email channels, not webhook ones"),
        (["name": "x", "kind": "slack"], "url is required for a slack channel"),
        (["name": "x", "kind": "slack", "url": "http://hooks.slack.com/services/x"], "url must be an https URL (Slack incoming webhooks are https)"),
        (["name": "x", "kind": "email", "url": "http://x.test/"], "url applies only to webhook and slack channels, not email ones"),
        (["name": "x", "kind": "email", "from": "a@b.test", "to": ["c@d.test"]], "host is required for an email channel"),
        (["name": "x", "kind": "email", "host": "", "from": "a@b.test", "to": ["c@d.test"]], "host must not be empty"),
        (["name": "x", "kind": "email", "host": "smtp://h", "from": "a@b.test", "to": ["c@d.test"]], "host must be a host name or IP address"),
        (["name": "x", "kind": "email", "host": "h", "port": 0, "from": "a@b.test", "to": ["c@d.test"]], "port must be a whole number from 1 to 65535"),
        (["name": "x", "kind": "email", "host": "h", "port": 65536, "from": "a@b.test", "to": ["c@d.test"]], "port must be a whole number from 1 to 65535"),
        (["name": "x", "kind": "email", "host": "h", "port": "25", "from": "a@b.test", "to": ["c@d.test"]], "port must be a whole number from 1 to 65535"),
        (["name": "x", "kind": "email", "host": "h", "security": "ssl", "from": "a@b.test", "to": ["c@d.test"]], "security must be one of starttls, tls or none"),
        (["name": "x", "kind": "email", "host": "h", "username": "u", "from": "a@b.test", "to": ["c@d.test"]], "password is required with username: give both, or neither"),
        (["name": "x", "kind": "email", "host": "h", "password": "p", "from": "a@b.test", "to": ["c@d.test"]], "username is required with password: give both, or neither"),
        (["name": "x", "kind": "email", "host": "h", "to": ["c@d.test"]], "from is required for an email channel"),
        (["name": "x", "kind": "email", "host": "h", "from": "nobody", "to": ["c@d.test"]], "from: \"nobody\" is not an email address such as ops@example.com"),
        (["name": "x", "kind": "email", "host": "h", "from": "Ops <ops@b.test>", "to": ["c@d.test"]], "from: \"Ops <ops@b.test>\" is not an email address"),
        (["name": "x", "kind": "email", "host": "h", "from": "a@b.test"], "to must list at least one recipient"),
        (["name": "x", "kind": "email", "host": "h", "from": "a@b.test", "to": []], "to must list at least one recipient"),
        (["name": "x", "kind": "email", "host": "h", "from": "a@b.test", "to": "c@d.test"], "to must be an array of email addresses, not a string"),
        (
            ["name": "x", "kind": "email", "host": "h", "from": "a@b.test", "to": .array((0...50).map { .string("r\($0)@d.test") })],
            "to must list at most 50 recipients, not 51"
        ),
        (["name": "x", "kind": "email", "host": "h", "from": "a@b.test", "to": ["c@d.test", "bad"]], "to[1]: \"bad\" is not an email address"),
        (["name": "x", "kind": "email", "host": "h", "from": "a@b.test", "to": ["c@d.test", "x@y.test\r\nBcc: z@w.test"]], "to[1]: "),
        (
            ["name": "x", "kind": "email", "host": "h", "from": "a@b.test", "to": ["c@d.test"], "ca_certificate": "hello"],
            "ca_certificate must be a PEM certificate, starting with -----BEGIN CERTIFICATE-----"
        ),
        (
            ["name": "x", "kind": "email", "host": "h", "from": "a@b.test", "to": ["c@d.test"], "ca_certificate": .string(String(repeating: "A", count: 70_000))],
            "ca_certificate must be at most 65536"
        ),
    ]

    @Test("bad channel bodies answer 400 naming the field, and store nothing", arguments: invalidChannels)
    func rejectsInvalidChannel(body: JSONValue, message: String) async throws {
        try await withAPI { api in
            let (status, answer) = try await api.call(.post, "/api/alert-channels", json: body)
            #expect(status == .badRequest)
            let error = try #require(answer["error"]?.stringValue)
            #expect(error.hasPrefix(message), "got: \(error)")
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_channels") == 0)
        }
    }

    @Test("bad channel changes answer 400 naming the field and change nothing")
    func rejectsInvalidChannelUpdate() async throws {
        try await withAPI { api in
            let id = try #require(try await api.expect(.created, .post, "/api/alert-channels", json: Self.email)["id"]?.intValue)
            let cases: [(JSONValue, String)] = [
                (["password": nil], "password is required with username: give both, or neither"),
                (["username": nil], "username is required with password: give both, or neither (password: null removes a stored one)"),
                (["to": []], "to must list at least one recipient"),
                (["url": "http://x.test/"], "url applies only to webhook and slack channels, not email ones"),
                (["kind": "slack"], "kind cannot be changed from email to slack; create a new channel instead"),
                (["port": 0], "port must be a whole number from 1 to 65535"),
                (["secret": "x"], "secret is not a known field"),
            ]
            for (body, message) in cases {
                let (status, answer) = try await api.call(.put, "/api/alert-channels/\(id)", json: body)
                #expect(status == .badRequest)
                let error = answer["error"]?.stringValue ?? ""
                #expect(error.hasPrefix(message), "\(body): got \(error)")
            }
            let (status, _) = try await api.call(.put, "/api/alert-channels/999", json: ["name": "x"])
            #expect(status == .notFound)
            let channel = try await api.expect(.ok, .get, "/api/alert-channels/\(id)")
            #expect(channel["password_set"] == true && channel["to"] == ["a@example.com", "b@example.com"] && channel["port"] == 587)
        }
    }

    @Test("without FLOWFORGE_SECRET_KEY a channel with a secret is refused as a webhook trigger is (409)")
    func noSecretKey() async throws {
        try await withAPI(secretBox: nil) { api in
            let webhook = try await api.call(.post, "/api/alert-channels", json: ["name": "ops", "kind": "webhook", "url": "http://x.test/"])
            #expect(webhook.status == .conflict)
            #expect(
                webhook.body["error"]
                    == "webhook alert channels need FLOWFORGE_SECRET_KEY on the API (32 random bytes: openssl rand -hex 32), and it is not set")
            let slack = try await api.call(.post, "/api/alert-channels", json: ["name": "team", "kind": "slack", "url": .string(Self.slackURL)])
            #expect(slack.status == .conflict)
            #expect(slack.body["error"]?.stringValue?.hasPrefix("Slack alert channels need FLOWFORGE_SECRET_KEY on the API") == true)
            let email = try await api.call(.post, "/api/alert-channels", json: Self.email)
            #expect(email.status == .conflict)
            #expect(email.body["error"]?.stringValue?.hasPrefix("an email alert channel with a password needs FLOWFORGE_SECRET_KEY") == true)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_channels") == 0)
            // An email channel without a login needs no key.
            try await api.expect(
                .created, .post, "/api/alert-channels", json: ["name": "relay", "kind": "email", "host": "h", "from": "a@b.test", "to": ["c@d.test"]])
            // A webhook trigger is refused with the same status.
            let workflow = try await api.workflow("w")
            let trigger = try await api.call(.post, "/api/workflows/\(workflow)/triggers", json: ["trigger_type": "event", "event_type": "webhook"])
            #expect(trigger.status == webhook.status)
        }
    }

    @Test("names are unique among channels and among rules (409 naming the name)")
    func nameConflicts() async throws {
        try await withAPI { api in
            let first = try await api.expect(.created, .post, "/api/alert-channels", json: ["name": "ops", "kind": "webhook", "url": "http://x.test/"])
            let (status, body) = try await api.call(.post, "/api/alert-channels", json: ["name": "ops", "kind": "webhook", "url": "http://y.test/"])
            #expect(status == .conflict)
            #expect(body["error"] == "an alert channel named \"ops\" already exists")
            try await api.expect(.created, .post, "/api/alert-channels", json: ["name": "ops2", "kind": "webhook", "url": "http://y.test/"])
            let renamed = try await api.call(.put, "/api/alert-channels/\(first["id"]!.intValue!)", json: ["name": "ops2"])
            #expect(renamed.status == .conflict && renamed.body["error"] == "an alert channel named \"ops2\" already exists")

            let workflow = try await api.workflow("w")
            let rule: JSONValue = ["name": "r", "workflow_ids": [.int(workflow)], "events": ["failed"], "channel_ids": [first["id"]!]]
            try await api.expect(.created, .post, "/api/alert-rules", json: rule)
            let again = try await api.call(.post, "/api/alert-rules", json: rule)
            #expect(again.status == .conflict && again.body["error"] == "an alert rule named \"r\" already exists")
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rules") == 1)
        }
    }

    @Test("a channel that rules use cannot be deleted (409 naming them) until they are gone")
    func channelInUse() async throws {
        try await withAPI { api in
            let channel = try #require(
                try await api.expect(.created, .post, "/api/alert-channels", json: ["name": "ops", "kind": "webhook", "url": "http://x.test/"])["id"]?.intValue)
            let rule: (String) async throws -> Int64 = { name in
                try #require(
                    try await api.expect(
                        .created, .post, "/api/alert-rules",
                        json: ["name": .string(name), "all_workflows": true, "events": ["failed"], "channel_ids": [.int(channel)]])["id"]?.intValue)
            }
            let a = try await rule("a")
            let b = try await rule("b")
            let listed = try await api.expect(.ok, .get, "/api/alert-channels/\(channel)")
            #expect(listed["rules"] == [["id": .int(a), "name": "a"], ["id": .int(b), "name": "b"]])

            let (status, body) = try await api.call(.delete, "/api/alert-channels/\(channel)")
            #expect(status == .conflict)
            #expect(body["error"] == .string("alert channel \(channel) (ops) is used by alert rules \"a\" (\(a)), \"b\" (\(b)); remove it from them first"))
            try await api.expect(.noContent, .delete, "/api/alert-rules/\(a)")
            let one = try await api.call(.delete, "/api/alert-channels/\(channel)")
            #expect(one.status == .conflict)
            #expect(one.body["error"] == .string("alert channel \(channel) (ops) is used by alert rule \"b\" (\(b)); remove it from it first"))
            try await api.expect(.noContent, .delete, "/api/alert-rules/\(b)")
            try await api.expect(.noContent, .delete, "/api/alert-channels/\(channel)")
            let gone = try await api.call(.get, "/api/alert-channels/\(channel)")
            #expect(gone.status == .notFound && gone.body["error"] == .string("alert channel \(channel) does not exist"))
            #expect(try await api.call(.delete, "/api/alert-channels/\(channel)").status == .notFound)
        }
    }

    @Test("only a webhook channel has a secret to rotate")
    func rotateOnlyWebhooks() async throws {
        try await withAPI { api in
            let id = try #require(try await api.expect(.created, .post, "/api/alert-channels", json: Self.email)["id"]?.intValue)
            let (status, body) = try await api.call(.post, "/api/alert-channels/\(id)/rotate-secret")
            #expect(status == .badRequest)
            #expect(body["error"] == .string("alert channel \(id) is an email channel: only webhook channels have a signing secret to rotate"))
            #expect(try await api.call(.post, "/api/alert-channels/77/rotate-secret").status == .notFound)
            #expect(try await api.call(.get, "/api/alert-channels/abc").body["error"] == "alert channel id must be a positive whole number, not \"abc\"")
        }
    }

    // MARK: - Test messages

    /// What a receiver got.
    final class Received: Sendable {
        let requests = Mutex<[AlertReceiver.Request]>([])
        var all: [AlertReceiver.Request] { requests.withLock { $0 } }
    }

    /// Runs `body` with a webhook receiver on a free loopback port that checks signatures with
    /// `secret` and answers `status`; `body` gets its URL.
    static func withReceiver(
        secret: String, status: HTTPResponse.Status = .ok, _ body: @Sendable (_ url: String, _ received: Received) async throws -> Void
    ) async throws {
        let received = Received()
        let ready = AsyncStream<Int>.makeStream()
        let service = AlertReceiver(port: 0, secret: secret, logger: TestDatabase.logger) { request in
            received.requests.withLock { $0.append(request) }
            return status
        }.service { port in ready.continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [service], logger: TestDatabase.logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var ports = ready.stream.makeAsyncIterator()
            let port = try #require(await ports.next())
            do {
                try await body("http://127.0.0.1:\(port)/alerts", received)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("a test message goes to the channel now, signed, and the answer says what the receiver said; nothing is recorded")
    func testMessage() async throws {
        try await withAPI { api in
            // The receiver needs the secret, which the channel gets when created: create it
            // first, then point it at the receiver.
            let created = try await api.expect(.created, .post, "/api/alert-channels", json: ["name": "ops", "kind": "webhook", "url": "http://127.0.0.1:9/x"])
            let id = try #require(created["id"]?.intValue)
            let secret = try #require(created["secret"]?.stringValue)
            try await Self.withReceiver(secret: secret) { url, received in
                try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["url": .string(url)])
                let answer = try await api.expect(.ok, .post, "/api/alert-channels/\(id)/test")
                #expect(answer["delivered"] == true)
                #expect(answer["status_code"] == 200)
                #expect(answer["response"] == #"{"received":true}"#)
                #expect(answer["error"] == .null)
                #expect((answer["duration_ms"]?.intValue ?? -1) >= 0)
                let request = try #require(received.all.first)
                #expect(received.all.count == 1)
                #expect(request.signatureValid == true)
                #expect(request.path == "/alerts")
                #expect(request.json?["test"] == true)
                #expect(request.json?["event"] == "test")
                #expect(request.idempotencyKey != nil)
            }
            try await Self.withReceiver(secret: secret, status: .serviceUnavailable) { url, _ in
                try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["url": .string(url)])
                let answer = try await api.expect(.ok, .post, "/api/alert-channels/\(id)/test")
                #expect(answer["delivered"] == false)
                #expect(answer["status_code"] == 503)
                #expect(answer["error"] == "the receiver answered 503 Service Unavailable")
            }
            // Nobody listens on port 9 of the loopback.
            try await api.expect(.ok, .put, "/api/alert-channels/\(id)", json: ["url": "http://127.0.0.1:9/alerts"])
            let refused = try await api.expect(.ok, .post, "/api/alert-channels/\(id)/test")
            #expect(refused["delivered"] == false && refused["status_code"] == .null)
            #expect(refused["error"]?.stringValue?.hasSuffix("refused the connection (is the receiver running?)") == true, "\(refused)")
            #expect(try await api.count("SELECT count(*) FROM flowforge.alerts") == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_deliveries") == 0)

            // A secret sealed with another key cannot be opened: not sent, and why.
            let other = ByteBuffer(bytes: SecretBox.random().seal("whsec_other"))
            let foreign = try #require(
                try await api.scalar(
                    """
                    INSERT INTO flowforge.alert_channels (name, kind, settings, sealed_secret)
                    VALUES ('foreign', 'webhook', '{"url": "http://127.0.0.1:9/x"}', \(other)) RETURNING id
                    """, as: Int64.self))
            let sealedElsewhere = try await api.expect(.ok, .post, "/api/alert-channels/\(foreign)/test")
            #expect(sealedElsewhere["delivered"] == false && sealedElsewhere["duration_ms"] == 0)
            #expect(
                sealedElsewhere["error"]
                    == "this channel's secret was sealed with another FLOWFORGE_SECRET_KEY than the API's; rotate its secret")
            let missing = try await api.call(.post, "/api/alert-channels/999/test")
            #expect(missing.status == .notFound && missing.body["error"] == "alert channel 999 does not exist")
        }
    }

    // MARK: - Rules

    /// A workflow and a webhook channel to point rules at.
    static func setUp(_ api: APIHarness) async throws -> (workflow: Int64, channel: Int64) {
        let workflow = try await api.workflow("etl")
        let channel = try #require(
            try await api.expect(.created, .post, "/api/alert-channels", json: ["name": "ops", "kind": "webhook", "url": "http://x.test/"])["id"]?.intValue)
        return (workflow, channel)
    }

    @Test("a rule is created, listed, read, changed, disabled, enabled and deleted")
    func ruleLifecycle() async throws {
        try await withAPI { api in
            let (workflow, channel) = try await Self.setUp(api)
            let other = try await api.workflow("load")
            let created = try await api.expect(
                .created, .post, "/api/alert-rules",
                json: [
                    "name": "etl failures", "workflow_ids": [.int(other), .int(workflow)],
                    "events": ["skipped", ["type": "long_running", "seconds": 3600], "failed", ["type": "consecutive_failures", "count": 3],
                               ["type": "late", "seconds": 300], "recovered", ["type": "succeeded"]],
                    "channel_ids": [.int(channel)],
                ])
            let id = try #require(created["id"]?.intValue)
            #expect(created["name"] == "etl failures")
            #expect(created["all_workflows"] == false)
            #expect(created["workflow_ids"] == [.int(workflow), .int(other)])
            #expect(
                created["events"] == [
                    ["type": "failed"], ["type": "succeeded"], ["type": "recovered"], ["type": "consecutive_failures", "count": 3],
                    ["type": "late", "seconds": 300], ["type": "long_running", "seconds": 3600], ["type": "skipped"],
                ])
            #expect(created["channel_ids"] == [.int(channel)])
            #expect(created["channels"] == [["id": .int(channel), "kind": "webhook", "name": "ops"]])
            #expect(created["throttle_minutes"] == 0)
            #expect(created["enabled"] == true)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rules WHERE on_failed AND on_succeeded AND on_recovered AND on_skipped AND consecutive_failures = 3 AND late_seconds = 300 AND long_running_seconds = 3600") == 1)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rule_workflows WHERE rule_id = \(id)") == 2)

            #expect(try await api.expect(.ok, .get, "/api/alert-rules/\(id)") == created)
            #expect(try await api.expect(.ok, .get, "/api/alert-rules")["alert_rules"] == [created])
            #expect(try await api.expect(.ok, .get, "/api/alert-channels/\(channel)")["rules"] == [["id": .int(id), "name": "etl failures"]])

            // Only the fields given change.
            let edited = try await api.expect(
                .ok, .put, "/api/alert-rules/\(id)", json: ["events": ["failed"], "throttle_minutes": 30, "all_workflows": true])
            #expect(edited["events"] == [["type": "failed"]])
            #expect(edited["throttle_minutes"] == 30)
            #expect(edited["all_workflows"] == true && edited["workflow_ids"] == [])
            #expect(edited["name"] == "etl failures" && edited["channel_ids"] == [.int(channel)])
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rule_workflows WHERE rule_id = \(id)") == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rules WHERE late_seconds IS NULL AND NOT on_skipped") == 1)
            let narrowed = try await api.expect(.ok, .put, "/api/alert-rules/\(id)", json: ["workflow_ids": [.int(other)], "name": "load failures"])
            #expect(narrowed["all_workflows"] == false && narrowed["workflow_ids"] == [.int(other)] && narrowed["name"] == "load failures")
            let emptied = try await api.call(.put, "/api/alert-rules/\(id)", json: ["all_workflows": false])
            #expect(emptied.status == .ok)  // it already names its workflows

            let disabled = try await api.expect(.ok, .patch, "/api/alert-rules/\(id)/disable")
            #expect(disabled["enabled"] == false)
            #expect(try await api.expect(.ok, .patch, "/api/alert-rules/\(id)/enable")["enabled"] == true)

            try await api.expect(.noContent, .delete, "/api/alert-rules/\(id)")
            let gone = try await api.call(.get, "/api/alert-rules/\(id)")
            #expect(gone.status == .notFound && gone.body["error"] == .string("alert rule \(id) does not exist"))
            #expect(try await api.call(.delete, "/api/alert-rules/\(id)").status == .notFound)
            #expect(try await api.call(.patch, "/api/alert-rules/\(id)/enable").status == .notFound)
            #expect(try await api.call(.put, "/api/alert-rules/\(id)", json: ["name": "x"]).status == .notFound)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rule_channels") == 0)
            #expect(try await api.expect(.ok, .get, "/api/alert-channels/\(channel)")["rules"] == [])
        }
    }

    @Test("?workflow_id= lists the rules covering it, all-workflow ones included; deleting a workflow takes it out of rules")
    func rulesOfWorkflow() async throws {
        try await withAPI { api in
            let (extract, channel) = try await Self.setUp(api)
            let load = try await api.workflow("load")
            func rule(_ name: String, _ scope: [String: JSONValue], enabled: Bool = true) async throws -> Int64 {
                var fields: [String: JSONValue] = ["name": .string(name), "events": ["failed"], "channel_ids": [.int(channel)], "enabled": .bool(enabled)]
                fields.merge(scope) { _, new in new }
                return try #require(try await api.expect(.created, .post, "/api/alert-rules", json: .object(fields))["id"]?.intValue)
            }
            let onExtract = try await rule("extract", ["workflow_ids": [.int(extract)]])
            let everything = try await rule("everything", ["all_workflows": true], enabled: false)
            let onBoth = try await rule("both", ["workflow_ids": [.int(extract), .int(load)]])
            let onLoad = try await rule("load", ["workflow_ids": [.int(load)]])

            func ids(_ query: String) async throws -> [Int64] {
                try await api.expect(.ok, .get, "/api/alert-rules\(query)").list("alert_rules").compactMap { $0["id"]?.intValue }
            }
            #expect(try await ids("") == [onExtract, everything, onBoth, onLoad])
            #expect(try await ids("?workflow_id=\(extract)") == [onExtract, everything, onBoth])
            #expect(try await ids("?workflow_id=\(load)") == [everything, onBoth, onLoad])
            let missing = try await api.call(.get, "/api/alert-rules?workflow_id=999")
            #expect(missing.status == .notFound && missing.body["error"] == "workflow 999 does not exist")
            #expect(try await api.call(.get, "/api/alert-rules?workflow_id=x").status == .badRequest)

            try await api.expect(.noContent, .delete, "/api/workflows/\(extract)")
            #expect(try await api.expect(.ok, .get, "/api/alert-rules/\(onBoth)")["workflow_ids"] == [.int(load)])
            #expect(try await api.expect(.ok, .get, "/api/alert-rules/\(onExtract)")["workflow_ids"] == [])
            #expect(try await ids("?workflow_id=\(load)") == [everything, onBoth, onLoad])
        }
    }

    static let invalidRules: [(JSONValue, String)] = [
        (["workflow_ids": [1], "events": ["failed"], "channel_ids": [1]], "name is required"),
        (["name": "", "workflow_ids": [1], "events": ["failed"], "channel_ids": [1]], "name must not be empty"),
        (["name": "r", "events": ["failed"], "channel_ids": [1]], "workflow_ids or all_workflows: true is required"),
        (["name": "r", "all_workflows": false, "events": ["failed"], "channel_ids": [1]], "workflow_ids or all_workflows: true is required"),
        (["name": "r", "workflow_ids": [1], "all_workflows": true, "events": ["failed"], "channel_ids": [1]], "give either workflow_ids or all_workflows: true, not both"),
        (["name": "r", "workflow_ids": [], "events": ["failed"], "channel_ids": [1]], "workflow_ids must list at least one workflow, or give all_workflows: true"),
        (["name": "r", "workflow_ids": [99], "events": ["failed"], "channel_ids": [1]], "workflow_ids: workflow 99 does not exist"),
        (["name": "r", "workflow_ids": [1, 1], "events": ["failed"], "channel_ids": [1]], "workflow_ids[1]: workflow 1 is listed twice"),
        (["name": "r", "workflow_ids": [0], "events": ["failed"], "channel_ids": [1]], "workflow_ids[0] must be between 1 and"),
        (["name": "r", "workflow_ids": "1", "events": ["failed"], "channel_ids": [1]], "workflow_ids must be an array of workflow ids, not a string"),
        (["name": "r", "workflow_ids": [1], "channel_ids": [1]], "events is required: list at least one, such as [\"failed\"]"),
        (["name": "r", "workflow_ids": [1], "events": [], "channel_ids": [1]], "events must list at least one event, such as [\"failed\"]"),
        (
            ["name": "r", "workflow_ids": [1], "events": ["failed", "recovered", "exploded"], "channel_ids": [1]],
            "events[2]: \"exploded\" is not an event; use failed, succeeded, recovered, consecutive_failures, late, long_running or skipped"
        ),
        (["name": "r", "workflow_ids": [1], "events": ["failed", ["type": "failed"]], "channel_ids": [1]], "events[1]: failed is listed twice"),
        (
            ["name": "r", "workflow_ids": [1], "events": ["consecutive_failures"], "channel_ids": [1]],
            "events[0]: consecutive_failures needs a count, as {\"type\": \"consecutive_failures\", \"count\": 3}"
        ),
        (["name": "r", "workflow_ids": [1], "events": ["late"], "channel_ids": [1]], "events[0]: late needs seconds, as {\"type\": \"late\", \"seconds\": 300}"),
        (
            ["name": "r", "workflow_ids": [1], "events": [["type": "consecutive_failures", "count": 0]], "channel_ids": [1]],
            "events[0].count must be between 1 and 10000, not 0"
        ),
        (
            ["name": "r", "workflow_ids": [1], "events": [["type": "consecutive_failures", "count": 10001]], "channel_ids": [1]],
            "events[0].count must be between 1 and 10000, not 10001"
        ),
        (
            ["name": "r", "workflow_ids": [1], "events": ["failed", ["type": "late", "seconds": 604801]], "channel_ids": [1]],
            "events[1].seconds must be between 1 and 604800, not 604801"
        ),
        (
            ["name": "r", "workflow_ids": [1], "events": [["type": "long_running", "seconds": 0]], "channel_ids": [1]],
            "events[0].seconds must be between 1 and 604800, not 0"
        ),
        (["name": "r", "workflow_ids": [1], "events": [["type": "late"]], "channel_ids": [1]], "events[0].seconds is required for late (1 to 604800)"),
        (["name": "r", "workflow_ids": [1], "events": [["type": "failed", "count": 2]], "channel_ids": [1]], "events[0].count applies only to consecutive_failures, not failed"),
        (["name": "r", "workflow_ids": [1], "events": [["type": "late", "seconds": 5, "extra": 1]], "channel_ids": [1]], "events[0].extra is not a known field"),
        (["name": "r", "workflow_ids": [1], "events": [["seconds": 5]], "channel_ids": [1]], "events[0].type is required"),
        (["name": "r", "workflow_ids": [1], "events": [["type": "boom"]], "channel_ids": [1]], "events[0].type: \"boom\" is not an event; use failed"),
        (["name": "r", "workflow_ids": [1], "events": [3], "channel_ids": [1]], "events[0] must be an event name or an object"),
        (["name": "r", "workflow_ids": [1], "events": "failed", "channel_ids": [1]], "events must be an array of events"),
        (["name": "r", "workflow_ids": [1], "events": ["failed"]], "channel_ids is required: list the alert channels to send to"),
        (["name": "r", "workflow_ids": [1], "events": ["failed"], "channel_ids": []], "channel_ids must list at least one alert channel"),
        (
            ["name": "r", "workflow_ids": [1], "events": ["failed"], "channel_ids": .array((1...21).map { .int($0) })],
            "channel_ids must list at most 20 alert channels, not 21"
        ),
        (["name": "r", "workflow_ids": [1], "events": ["failed"], "channel_ids": [42]], "channel_ids: alert channel 42 does not exist"),
        (["name": "r", "workflow_ids": [1], "events": ["failed"], "channel_ids": [1, 1]], "channel_ids[1]: alert channel 1 is listed twice"),
        (["name": "r", "workflow_ids": [1], "events": ["failed"], "channel_ids": [1], "throttle_minutes": 10081], "throttle_minutes must be between 0 and 10080, not 10081"),
        (["name": "r", "workflow_ids": [1], "events": ["failed"], "channel_ids": [1], "throttle_minutes": -1], "throttle_minutes must be between 0 and 10080, not -1"),
        (["name": "r", "workflow_ids": [1], "events": ["failed"], "channel_ids": [1], "enabled": "yes"], "enabled must be true or false, not a string"),
        (["name": "r", "workflows": [1], "events": ["failed"], "channel_ids": [1], "all_workflows": true], "workflows is not a known field"),
    ]

    @Test("bad rule bodies answer 400 naming the field, and store nothing", arguments: invalidRules)
    func rejectsInvalidRule(body: JSONValue, message: String) async throws {
        try await withAPI { api in
            let (workflow, channel) = try await Self.setUp(api)
            #expect(workflow == 1 && channel == 1)
            let (status, answer) = try await api.call(.post, "/api/alert-rules", json: body)
            #expect(status == .badRequest)
            let error = try #require(answer["error"]?.stringValue)
            #expect(error.hasPrefix(message), "got: \(error)")
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rules") == 0)
            #expect(try await api.count("SELECT count(*) FROM flowforge.alert_rule_channels") == 0)
        }
    }

    @Test("a bad rule change answers 400 and changes nothing")
    func rejectsInvalidRuleUpdate() async throws {
        try await withAPI { api in
            let (workflow, channel) = try await Self.setUp(api)
            let id = try #require(
                try await api.expect(
                    .created, .post, "/api/alert-rules",
                    json: ["name": "r", "all_workflows": true, "events": ["failed"], "channel_ids": [.int(channel)]])["id"]?.intValue)
            let cases: [(JSONValue, String)] = [
                (["all_workflows": false], "workflow_ids or all_workflows: true is required"),
                (["workflow_ids": [.int(workflow), 77]], "workflow_ids: workflow 77 does not exist"),
                (["channel_ids": [.int(channel), 9]], "channel_ids: alert channel 9 does not exist"),
                (["events": []], "events must list at least one event"),
                (["name": nil], "name must be a string, not null"),
            ]
            for (body, message) in cases {
                let (status, answer) = try await api.call(.put, "/api/alert-rules/\(id)", json: body)
                #expect(status == .badRequest)
                let error = answer["error"]?.stringValue ?? ""
                #expect(error.hasPrefix(message), "\(body): got \(error)")
            }
            let rule = try await api.expect(.ok, .get, "/api/alert-rules/\(id)")
            #expect(rule["all_workflows"] == true && rule["channel_ids"] == [.int(channel)] && rule["events"] == [["type": "failed"]])
        }
    }

    // MARK: - History

    @Test("history filters by rule, workflow, channel and outcome, pages with before_id, and shows one alert's attempts")
    func history() async throws {
        try await withAPI { api in
            let (extract, ops) = try await Self.setUp(api)
            let load = try await api.workflow("load")
            let mail = try #require(
                try await api.expect(
                    .created, .post, "/api/alert-channels", json: ["name": "mail", "kind": "email", "host": "h", "from": "a@b.test", "to": ["c@d.test"]]
                )["id"]?.intValue)
            let r1 = try #require(
                try await api.expect(
                    .created, .post, "/api/alert-rules",
                    json: ["name": "r1", "workflow_ids": [.int(extract)], "events": ["failed"], "channel_ids": [.int(ops), .int(mail)]])["id"]?.intValue)
            let r2 = try #require(
                try await api.expect(
                    .created, .post, "/api/alert-rules", json: ["name": "r2", "all_workflows": true, "events": ["failed"], "channel_ids": [.int(ops)]]
                )["id"]?.intValue)

            func alert(_ rule: Int64, _ ruleName: String, _ workflow: Int64, _ workflowName: String, _ event: String, detail: Int? = nil) async throws -> Int64 {
                try #require(
                    try await api.scalar(
                        """
                        INSERT INTO flowforge.alerts (rule_id, rule_name, workflow_id, workflow_name, execution_id, event, event_detail, message)
                        VALUES (\(rule), \(ruleName), \(workflow), \(workflowName), NULL, \(event), \(detail), '{"status": "failed"}')
                        RETURNING id
                        """, as: Int64.self))
            }
            func delivery(_ alert: Int64, _ channel: Int64, _ name: String, _ kind: String, _ status: String, attempts: Int = 0, code: Int? = nil) async throws -> Int64 {
                try #require(
                    try await api.scalar(
                        """
                        INSERT INTO flowforge.alert_deliveries (alert_id, channel_id, channel_name, channel_kind, status, attempts, last_status_code,
                            delivered_at, next_attempt_at)
                        VALUES (\(alert), \(channel), \(name), \(kind), \(status), \(attempts), \(code),
                            CASE WHEN \(status) = 'delivered' THEN '2026-01-15T10:00:02Z'::timestamptz END, '2026-01-15T10:05:00Z')
                        RETURNING id
                        """, as: Int64.self))
            }
            let a1 = try await alert(r1, "r1", extract, "etl", "failed")
            let d1 = try await delivery(a1, ops, "ops", "webhook", "delivered", attempts: 2, code: 200)
            let d2 = try await delivery(a1, mail, "mail", "email", "failed", attempts: 1, code: 550)
            try await api.postgres.query(
                """
                INSERT INTO flowforge.alert_attempts (delivery_id, attempt, started_at, duration_ms, outcome, status_code, response, error) VALUES
                    (\(d1), 1, '2026-01-15T10:00:00Z', 12, 'failed', 503, 'busy', 'the receiver answered 503 Service Unavailable'),
                    (\(d1), 2, '2026-01-15T10:00:02Z', 9, 'delivered', 200, '{"ok":true}', NULL),
                    (\(d2), 1, '2026-01-15T10:00:00Z', 40, 'failed', 550, '550 mailbox unavailable', 'the server refused the message')
                """)
            let a2 = try await alert(r2, "r2", load, "load", "late", detail: 300)
            _ = try await delivery(a2, ops, "ops", "webhook", "pending")
            let a3 = try await alert(r1, "r1", extract, "etl", "consecutive_failures", detail: 3)
            _ = try await delivery(a3, mail, "mail", "email", "sending", attempts: 1)
            let a4 = try await alert(r2, "r2", extract, "etl", "succeeded")
            _ = try await delivery(a4, ops, "ops", "webhook", "delivered", attempts: 1, code: 204)
            let a5 = try await alert(r2, "r2", load, "load", "skipped")
            _ = try await delivery(a5, ops, "ops", "webhook", "failed", attempts: 5, code: 500)

            func page(_ query: String) async throws -> (ids: [Int64], next: JSONValue) {
                let body = try await api.expect(.ok, .get, "/api/alerts\(query)")
                return (body.list("alerts").compactMap { $0["id"]?.intValue }, body["next_before_id"] ?? "absent")
            }
            #expect(try await page("") == ([a5, a4, a3, a2, a1], .null))
            #expect(try await page("?rule_id=\(r1)").ids == [a3, a1])
            #expect(try await page("?workflow_id=\(load)").ids == [a5, a2])
            #expect(try await page("?channel_id=\(mail)").ids == [a3, a1])
            #expect(try await page("?outcome=pending").ids == [a3, a2])
            #expect(try await page("?outcome=delivered").ids == [a4, a1])
            #expect(try await page("?outcome=failed").ids == [a5, a1])
            #expect(try await page("?rule_id=\(r2)&outcome=failed").ids == [a5])
            #expect(try await page("?workflow_id=\(extract)&channel_id=\(ops)").ids == [a4, a1])
            #expect(try await page("?limit=2") == ([a5, a4], .int(a4)))
            #expect(try await page("?limit=2&before_id=\(a4)") == ([a3, a2], .int(a2)))
            #expect(try await page("?limit=2&before_id=\(a2)") == ([a1], .null))

            let list = try await api.expect(.ok, .get, "/api/alerts?rule_id=\(r1)")
            let first = list.list("alerts")[1]
            #expect(first["rule_name"] == "r1" && first["workflow_name"] == "etl" && first["event"] == "failed" && first["held_back"] == 0)
            #expect(first["message"] == ["status": "failed"])
            #expect(first.list("deliveries").count == 2)
            #expect(first.list("deliveries")[0]["attempt_history"] == nil)
            #expect(list.list("alerts")[0]["event_detail"] == 3)

            let one = try await api.expect(.ok, .get, "/api/alerts/\(a1)")
            let deliveries = one.list("deliveries")
            #expect(deliveries.count == 2)
            #expect(deliveries[0]["channel_name"] == "ops" && deliveries[0]["status"] == "delivered" && deliveries[0]["attempts"] == 2)
            #expect(deliveries[0]["delivered_at"] == "2026-01-15T10:00:02Z" && deliveries[0]["next_attempt_at"] == .null)
            #expect(deliveries[0]["last_status_code"] == 200 && deliveries[0]["channel_id"] == .int(ops))
            #expect(deliveries[0]["idempotency_key"]?.stringValue.flatMap(UUID.init(uuidString:)) != nil)
            #expect(
                deliveries[0]["attempt_history"] == [
                    [
                        "attempt": 1, "duration_ms": 12, "error": "the receiver answered 503 Service Unavailable", "outcome": "failed",
                        "response": "busy", "started_at": "2026-01-15T10:00:00Z", "status_code": 503,
                    ],
                    [
                        "attempt": 2, "duration_ms": 9, "error": nil, "outcome": "delivered", "response": "{\"ok\":true}",
                        "started_at": "2026-01-15T10:00:02Z", "status_code": 200,
                    ],
                ])
            #expect(deliveries[1]["channel_kind"] == "email" && deliveries[1]["last_status_code"] == 550)
            #expect(deliveries[1].list("attempt_history").count == 1)
            let pending = try await api.expect(.ok, .get, "/api/alerts/\(a2)")
            #expect(pending.list("deliveries")[0]["next_attempt_at"] == "2026-01-15T10:05:00Z")
            #expect(pending.list("deliveries")[0]["attempt_history"] == [])

            let missing = try await api.call(.get, "/api/alerts/999")
            #expect(missing.status == .notFound && missing.body["error"] == "alert 999 does not exist")
            let bad = try await api.call(.get, "/api/alerts?outcome=sending")
            #expect(bad.status == .badRequest && bad.body["error"] == "query parameter outcome must be one of pending, delivered or failed")
            #expect(try await api.call(.get, "/api/alerts?limit=201").status == .badRequest)

            // History outlives its rule and channel: their names stay.
            try await api.expect(.noContent, .delete, "/api/alert-rules/\(r1)")
            try await api.expect(.noContent, .delete, "/api/alert-channels/\(mail)")
            let kept = try await api.expect(.ok, .get, "/api/alerts/\(a1)")
            #expect(kept["rule_id"] == .null && kept["rule_name"] == "r1")
            #expect(kept.list("deliveries")[1]["channel_id"] == .null && kept.list("deliveries")[1]["channel_name"] == "mail")
        }
    }
}
