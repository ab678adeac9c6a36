import FlowForgeShared
import Foundation
import Hummingbird

/// `GET /api/schedule/preview`: the next runs of any expression, saved or not.
struct ScheduleController {
    let clock: @Sendable () -> Date

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get("preview") { request, _ in JSONBody(try Self.preview(request, now: clock())) }
    }

    /// Shared with the seed's `/api/workflows/:id/triggers/schedule/preview`.
    static func preview(_ request: Request, now: Date) throws -> SchedulePreviewBody {
        // A form-encoded space (+) never belongs to a cron expression, so read it as a space.
        guard let cron = try request.query("cron")?.replacingOccurrences(of: "+", with: " "),
            !cron.trimmingCharacters(in: .whitespaces).isEmpty
        else {
            throw APIError(.badRequest, "query parameter cron is required, for example cron=0%202%20*%20*%20*")
        }
        guard cron.count <= Limits.cronLength else {
            throw APIError(.badRequest, "query parameter cron must be at most \(Limits.cronLength) characters long")
        }
        let zoneName = try request.query("timezone") ?? "UTC"
        let count = Int(try request.queryInt("count", in: 1...100, default: 5)!)
        var after = now
        if let text = try request.query("after") {
            guard let date = Timestamp.parse(text) else {
                throw APIError(.badRequest, "query parameter after must be an RFC 3339 time such as 2026-03-08T00:00:00Z")
            }
            after = date
        }
        let expression: CronExpression
        do {
            expression = try CronExpression(cron)
        } catch {
            throw APIError(.badRequest, "cron: \(error.message)")
        }
        let zone: TimeZone
        do {
            zone = try CronTimeZone.named(zoneName)
        } catch {
            throw APIError(.badRequest, error.message)
        }
        let runs = CronSchedule(expression: expression, timeZone: zone).preview(after: after, count: count)
        return SchedulePreviewBody(
            cron: expression.source, description: expression.humanDescription, nextRuns: runs.map(SchedulePreviewBody.Run.init),
            timezone: zoneName)
    }
}
