import FlowForgeShared
import Foundation
import Hummingbird

/// `GET /api/schedule/preview`: the next runs of any expression, saved or not.
struct ScheduleController {
    let clock: @Sendable () -> Date

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get("preview") { request, _ in JSONBody(try Self.preview(request, now: clock())) }
    }

    /// Shared with the seed's `/api/workflows/:id/triggers/schedule/preview`, which passes the
    /// trigger named by `trigger_id` as `stored`: its settings stand in for the parameters not
    /// given. Here `trigger_id` only says whose jitter to apply.
    static func preview(_ request: Request, now: Date, stored: Trigger? = nil) throws -> SchedulePreviewBody {
        // A form-encoded space (+) never belongs to a cron expression, so read it as a space.
        guard let cron = try request.query("cron")?.replacingOccurrences(of: "+", with: " ") ?? stored?.cronExpression,
            !cron.trimmingCharacters(in: .whitespaces).isEmpty
        else {
            throw APIError(.badRequest, "query parameter cron is required, for example cron=0%202%20*%20*%20*")
        }
        guard cron.count <= Limits.cronLength else {
            throw APIError(.badRequest, "query parameter cron must be at most \(Limits.cronLength) characters long")
        }
        let zoneName = try request.query("timezone") ?? stored?.timezone ?? "UTC"
        let count = Int(try request.queryInt("count", in: 1...100, default: 5)!)
        var after = now
        if let date = try request.queryTime("after", optional: false) ?? nil { after = date }
        let triggerId = try stored?.id ?? request.queryInt("trigger_id", in: 1...Int64.max)
        let options = try scheduleOptions(request, stored: stored?.scheduleOptions ?? ScheduleOptions())
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
        let schedule = TriggerSchedule(expression: expression, timeZone: zone, options: options, triggerId: triggerId)
        return SchedulePreviewBody(
            cron: expression.source, description: expression.humanDescription,
            nextRuns: schedule.preview(after: after, count: count).map(SchedulePreviewBody.Run.init), options: options,
            timezone: zoneName, triggerId: triggerId)
    }

    /// `jitter_seconds`, `active_from`, `active_until`, `dst_gap` and `dst_overlap`, each
    /// standing in for its part of `stored`; an empty `active_…` or `dst_…` means none.
    static func scheduleOptions(_ request: Request, stored: ScheduleOptions) throws -> ScheduleOptions {
        var options = stored
        if let jitter = try request.queryInt("jitter_seconds", in: 0...Int64(ScheduleOptions.maxJitterSeconds)) {
            options.jitterSeconds = Int(jitter)
        }
        if let from = try request.queryTime("active_from", optional: true) { options.activeFrom = from }
        if let until = try request.queryTime("active_until", optional: true) { options.activeUntil = until }
        if let from = options.activeFrom, let until = options.activeUntil, from >= until {
            throw APIError(
                .badRequest,
                "query parameter active_until (\(Timestamp.format(until))) must be later than active_from (\(Timestamp.format(from)))")
        }
        var policy = stored.dstPolicy ?? DSTPolicy()
        // An empty value asks for the default rule; `queryChoice` refuses it, so it is read apart.
        if try request.query("dst_gap") == "" {
            policy.gap = nil
        } else if let gap = try request.queryChoice("dst_gap", DSTPolicy.Gap.self) {
            policy.gap = gap
        }
        if try request.query("dst_overlap") == "" {
            policy.overlap = nil
        } else if let overlap = try request.queryChoice("dst_overlap", DSTPolicy.Overlap.self) {
            policy.overlap = overlap
        }
        options.dstPolicy = policy.isEmpty ? nil : policy
        return options
    }
}

extension Request {
    /// An RFC 3339 query parameter: nil when absent; `.some(nil)` when empty and `optional`.
    func queryTime(_ name: String, optional: Bool) throws -> Date?? {
        guard let text = try query(name) else { return .none }
        if optional, text.isEmpty { return .some(nil) }
        guard let date = Timestamp.parse(text) else {
            throw APIError(.badRequest, "query parameter \(name) must be an RFC 3339 time such as 2026-03-08T00:00:00Z")
        }
        return .some(date)
    }
}
