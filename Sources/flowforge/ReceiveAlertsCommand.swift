import ArgumentParser
import FlowForgeShared
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// `flowforge receive-alerts`: a webhook receiver for trying an alert channel out. Prints each
/// alert as it arrives, one line, with whether its signature holds and whether it repeats one
/// already received.
struct ReceiveAlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive-alerts",
        abstract: "Receive webhook alerts on a local port and print each one (for trying an alert channel out).")

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 9099

    @Option(help: "The channel's secret (whsec_…), to check each alert's X-FlowForge-Signature. Also read from FLOWFORGE_ALERT_SECRET.")
    var secret: String?

    @Flag(help: "Print each alert's whole JSON body too.")
    var verbose = false

    func run() async throws {
        var logger = Logger(label: "flowforge-receive-alerts")
        logger.logLevel = .warning
        let secret = secret ?? ProcessInfo.processInfo.environment["FLOWFORGE_ALERT_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        let verbose = verbose
        let receiver = AlertReceiver(host: host, port: port, secret: secret, logger: logger) { request in
            say(Self.line(request, checked: secret != nil))
            if verbose, let json = request.json { say(String(decoding: json.encoded(), as: UTF8.self)) }
            return .ok
        }
        let service = receiver.service { port in
            say("Receiving alerts on http://\(host):\(port)/ (Ctrl-C to stop)")
        }
        let group = ServiceGroup(
            configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// "12:00:01  alert 7  etl failed (run #12)  signature ok".
    static func line(_ request: AlertReceiver.Request, checked: Bool) -> String {
        let time = Timestamp.format(request.receivedAt)
        let json = request.json
        let headline = json?["headline"]?.stringValue ?? "\(request.body.count) bytes, not a FlowForge alert"
        let id = json?["alert_id"]?.intValue.map { "alert \($0)" } ?? (json?["test"] == .bool(true) ? "test" : "-")
        var parts = [time, id, headline]
        if checked { parts.append(request.signatureValid == true ? "signature ok" : "BAD SIGNATURE (answered 401)") }
        if request.isRepeat { parts.append("repeat of an alert already received (same Idempotency-Key)") }
        return parts.joined(separator: "  ")
    }
}
