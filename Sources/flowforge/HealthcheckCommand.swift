import ArgumentParser
import FlowForgeShared
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `flowforge healthcheck`: the container image's HEALTHCHECK, so the image needs no curl.
/// Asks this host's FlowForge process for `/healthz`: on `FLOWFORGE_METRICS_PORT` when set (a
/// scheduler or worker), otherwise on `FLOWFORGE_HTTP_PORT` (the API, default 8080).
struct HealthcheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Exit 0 when this host's FlowForge process answers /healthz with 200, 1 otherwise.")

    @Option(help: "The address to ask instead (default http://127.0.0.1:<FLOWFORGE_METRICS_PORT or FLOWFORGE_HTTP_PORT>/healthz).")
    var url: String?

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 5

    func run() async throws {
        let target: URL
        if let url {
            guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
                throw ValidationError("--url must be an http:// or https:// address, not \"\(url)\"")
            }
            target = parsed
        } else {
            let settings: Settings
            do {
                settings = try Settings.load()
            } catch {
                ProcessBootstrap.fail(program: "flowforge healthcheck", error.message)
            }
            target = URL(string: "http://127.0.0.1:\(settings.metricsPort ?? settings.httpPort)/healthz")!
        }
        var request = URLRequest(url: target)
        request.timeoutInterval = timeout
        do {
            let (_, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            guard status == 200 else {
                FileHandle.standardError.write(Data("flowforge healthcheck: \(target) answered \(status)\n".utf8))
                throw ExitCode(1)
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("flowforge healthcheck: \(target) did not answer: \(error.localizedDescription)\n".utf8))
            throw ExitCode(1)
        }
    }
}
