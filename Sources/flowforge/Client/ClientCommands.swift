import ArgumentParser
import FlowForgeShared
import Foundation

/// The client commands' common ending: a `ClientFailure` is its sentence on stderr and exit 1.
func clientCommand(_ program: String, _ body: (APIClient) async throws -> Int32) async throws {
    let code: Int32
    do {
        code = try await APIClient.with(body)
    } catch let failure as ClientFailure {
        FileHandle.standardError.write(Data("flowforge \(program): \(failure.message)\n".utf8))
        throw ExitCode(1)
    }
    if code != 0 { throw ExitCode(code) }
}

/// `flowforge workflows`: every workflow in a table.
struct WorkflowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflows",
        abstract: "List the workflows: id, name, paused, triggers, next run, last status.",
        discussion: "Asks the API at FLOWFORGE_URL (default \(APIClient.defaultURL)) with FLOWFORGE_TOKEN (default the token in \(APIClient.tokenFile)).")

    func run() async throws {
        try await clientCommand("workflows") { client in
            let rows = try await client.workflows().map { workflow in
                [
                    workflow.text("id"), workflow.text("name"), workflow["paused_at"] == .null ? "no" : "yes",
                    workflow.text("trigger_count"), workflow.text("next_run_at"), workflow["last_execution"]?.text("status") ?? "-",
                ]
            }
            say(table(["ID", "NAME", "PAUSED", "TRIGGERS", "NEXT RUN", "LAST STATUS"], rows))
            return 0
        }
    }
}

/// `flowforge run NAME [--param k=v …] [--params JSON] [--wait]`: Run now.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a workflow now, with parameters; with --wait, follow it and exit 0 only if it completed.")

    @Argument(help: "The workflow's name or id.")
    var workflow: String

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter, as name=value (a string); repeat for more.", valueName: "name=value"))
    var params: [String] = []

    @Option(name: .customLong("params"), help: ArgumentHelp("Parameters as a JSON object; --param entries are added to it.", valueName: "json"))
    var paramsJSON: String?

    @Flag(help: "Follow the run until it ends; exit 0 only if it completed.")
    var wait = false

    func validate() throws {
        _ = try parameters()
    }

    /// The parameters the options give; nil for none.
    func parameters() throws -> JSONValue? {
        var fields: [String: JSONValue] = [:]
        if let paramsJSON {
            guard let value = try? JSONValue.parse(Array(paramsJSON.utf8)), case .object(let object) = value else {
                throw ValidationError("--params must be a JSON object, such as '{\"date\": \"2024-01-01\"}'")
            }
            fields = object
        }
        var given: Set<String> = []
        for param in params {
            guard let equals = param.firstIndex(of: "="), equals != param.startIndex else {
                throw ValidationError("--param must be name=value, not \"\(param)\"")
            }
            let name = String(param[..<equals])
            guard given.insert(name).inserted else { throw ValidationError("--param \(name) is given more than once") }
            fields[name] = .string(String(param[param.index(after: equals)...]))
        }
        if paramsJSON == nil && params.isEmpty { return nil }
        return .object(fields)
    }

    func run() async throws {
        let params = try parameters()
        try await clientCommand("run") { client in
            let workflow = try await client.workflow(self.workflow)
            let id = workflow["id"]?.intValue ?? 0
            let execution = try await client.post("/api/workflows/\(id)/run", body: params.map { ["params": $0] })
            let executionId = execution["id"]?.intValue ?? 0
            say("execution \(executionId) of \(workflow.text("name")) started (\(execution.text("status")))")
            guard wait else { return 0 }
            let final = try await RunFollower(client: client, showOutput: false).follow(executionId)
            return final["status"] == "completed" ? 0 : 1
        }
    }
}

/// `flowforge executions [--workflow NAME] [--limit N] [--follow ID]`: recent runs, or one
/// followed until it ends.
struct ExecutionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "executions",
        abstract: "List recent executions, or follow one with --follow until it ends (exit 0 only if it completed).")

    @Option(help: "Only this workflow's executions (its name or id).")
    var workflow: String?

    @Option(help: "How many (1-200).")
    var limit = 20

    @Option(help: ArgumentHelp("Follow this execution: its status changes and its steps' output, until it ends.", valueName: "id"))
    var follow: Int64?

    func validate() throws {
        guard (1...200).contains(limit) else { throw ValidationError("--limit must be from 1 to 200") }
        if let follow, follow < 1 { throw ValidationError("--follow must be an execution id (a positive number)") }
    }

    func run() async throws {
        try await clientCommand("executions") { client in
            if let follow {
                let final = try await RunFollower(client: client, showOutput: true).follow(follow)
                return final["status"] == "completed" ? 0 : 1
            }
            var path = "/api/executions?limit=\(limit)"
            if let workflow {
                path += "&workflow_id=\(try await client.workflow(workflow)["id"]?.intValue ?? 0)"
            }
            let rows = try await client.get(path).list("executions").map { execution in
                [
                    execution.text("id"), execution.text("workflow_name"), execution.text("trigger_type"), execution.text("trigger_name"),
                    execution.text("status"), execution.text("queued_at"),
                    execution["duration_ms"]?.intValue.map(RunFollower.seconds) ?? "-",
                ]
            }
            say(table(["ID", "WORKFLOW", "TRIGGER", "TRIGGER NAME", "STATUS", "QUEUED", "DURATION"], rows))
            return 0
        }
    }
}

/// `flowforge backfill NAME --from … --to … [--trigger ID] [--dry-run]`.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Create the runs a workflow's schedule would have created in [from, to).",
        discussion: "Uses the workflow's only scheduled trigger, or the one --trigger names. Times are RFC 3339 (2024-01-01T00:00:00Z) or dates (2024-01-01, midnight UTC).")

    @Argument(help: "The workflow's name or id.")
    var workflow: String

    @Option(help: "The first time of the range (included).")
    var from: String

    @Option(help: "The end of the range (excluded).")
    var to: String

    @Option(help: "The scheduled trigger, when the workflow has several.")
    var trigger: Int64?

    @Flag(help: "Only count the times and those that already have a run; create nothing.")
    var dryRun = false

    /// A date alone means its midnight, UTC.
    static func time(_ text: String) -> String {
        text.count == 10 && text.filter({ $0 == "-" }).count == 2 ? text + "T00:00:00Z" : text
    }

    func run() async throws {
        try await clientCommand("backfill") { client in
            let workflow = try await client.workflow(self.workflow)
            let name = workflow.text("name"), id = workflow["id"]?.intValue ?? 0
            let scheduled = workflow.list("triggers").filter { $0["trigger_type"] == "scheduled" }
            let chosen: JSONValue
            if let trigger {
                guard let found = scheduled.first(where: { $0["id"]?.intValue == trigger }) else {
                    throw ClientFailure("workflow \(name) has no scheduled trigger \(trigger)\(Self.choices(scheduled))")
                }
                chosen = found
            } else {
                guard let only = scheduled.first else { throw ClientFailure("workflow \(name) has no scheduled trigger to backfill") }
                guard scheduled.count == 1 else {
                    throw ClientFailure("workflow \(name) has \(scheduled.count) scheduled triggers; choose one with --trigger\(Self.choices(scheduled))")
                }
                chosen = only
            }
            let triggerId = chosen["id"]?.intValue ?? 0
            let answer = try await client.post(
                "/api/workflows/\(id)/triggers/\(triggerId)/backfill\(dryRun ? "?dry_run=true" : "")",
                body: ["from": .string(Self.time(from)), "to": .string(Self.time(to))])
            let count = answer.text("count"), existing = answer.text("existing")
            let label = "trigger \(triggerId) (\(chosen.text("trigger_name")), \(chosen.text("cron_expression")) \(chosen.text("timezone")))"
            if dryRun {
                say("dry run of \(label): \(count) times in the range, \(existing) of them already have a run; nothing was created")
                let times = answer.list("times").compactMap(\.stringValue)
                if !times.isEmpty { say("first times: " + times.prefix(10).joined(separator: ", ") + (times.count > 10 ? ", …" : "")) }
            } else {
                say("backfill of \(label): created \(answer.text("created")) runs; \(existing) of the range's \(count) times already had one")
            }
            return 0
        }
    }

    static func choices(_ triggers: [JSONValue]) -> String {
        guard !triggers.isEmpty else { return "" }
        return ": " + triggers.map { "\($0.text("id")) (\($0.text("trigger_name")), \($0.text("cron_expression")) \($0.text("timezone")))" }
            .joined(separator: ", ")
    }
}
