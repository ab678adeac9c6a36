import ArgumentParser
import FlowForgeAPI
import Hummingbird
import FlowForgeShared
import PostgresNIO

@main
struct FlowForgeAPICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowforge-api", abstract: "FlowForge's HTTP API and web UI.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var http: HTTPOptions
    @Option(name: .customLong("api-token"), help: "Comma-separated bearer tokens (FLOWFORGE_API_TOKEN).") var apiToken: String?
    @Flag(name: .customLong("insecure-no-auth"), help: "Serve /api without a token. Never on a shared network.")
    var insecureNoAuth = false

    func run() async throws {
        var overrides = http.adding(to: common.overrides)
        overrides["FLOWFORGE_API_TOKEN"] = apiToken
        let settings = ProcessBootstrap.settings(program: "flowforge-api", overrides: overrides)
        let configuration = APIConfiguration(
            host: settings.httpHost, port: settings.httpPort, tokens: settings.apiTokens, insecureNoAuth: insecureNoAuth,
            secretBox: settings.secretBox)
        do {
            try configuration.validate()
        } catch {
            ProcessBootstrap.fail(program: "flowforge-api", error.message)
        }
        let databaseURL = ProcessBootstrap.databaseURL(settings, program: "flowforge-api")
        let logger = settings.makeLogger(label: "flowforge-api")
        let postgres = PostgresClient(configuration: databaseURL.clientConfiguration(applicationName: "flowforge-api"), backgroundLogger: logger)
        let app = buildApplication(configuration: configuration, postgres: postgres, logger: logger)
        try await app.runService()
    }
}
