import Foundation

/// An alert in Slack's Block Kit layout, for an incoming webhook: a header, the facts as
/// fields, the error in a code block, and a button to the run. `text` is the fallback that
/// notifications show.
struct SlackMessage {
    let message: AlertMessage

    init(_ message: AlertMessage) { self.message = message }

    /// Slack's limits: a header's text 150 characters, a field 2,000, a section's text 3,000,
    /// at most 10 fields.
    func json() -> JSONValue {
        let facts = message.facts()
        let fields = facts.filter { $0.label != "Error" && $0.label != "Run" }.prefix(10).map { fact -> JSONValue in
            ["type": "mrkdwn", "text": .string(String("*\(Self.escape(fact.label))*\n\(Self.escape(fact.value))".prefix(2000)))]
        }
        var blocks: [JSONValue] = [
            ["type": "header", "text": ["type": "plain_text", "text": .string(String(message.headline.prefix(150))), "emoji": false]],
            ["type": "section", "fields": .array(Array(fields))],
        ]
        if let error = message.run?.error, !error.isEmpty {
            let shown = String(error.prefix(2_800)).replacingOccurrences(of: "```", with: "'''")
            blocks.append(["type": "section", "text": ["type": "mrkdwn", "text": .string("*Error*\n```\(Self.escape(shown))```")]])
        }
        if let url = message.url, let run = message.run {
            blocks.append([
                "type": "actions",
                "elements": [["type": "button", "text": ["type": "plain_text", "text": .string("Open run #\(run.id)")], "url": .string(url)]],
            ])
        }
        return ["text": .string(message.headline), "blocks": .array(blocks)]
    }

    /// Slack's mrkdwn reads &, < and > as markup.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
