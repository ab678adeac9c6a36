@testable import FlowForgeShared
import Foundation
import Testing

/// What an edit of a trigger decides, without a database: the rules `TriggerStore` writes.
@Suite("Trigger changes")
struct TriggerChangeTests {
    static let now = Date(timeIntervalSince1970: 1_768_471_200)  // 2026-01-15T10:00:00Z
    static let kept = Date(timeIntervalSince1970: 1_768_500_000)

    static func daily(enabled: Bool = true) -> Trigger {
        Trigger(
            id: 1, workflowId: 1, type: .scheduled, enabled: enabled, name: "At 02:00", nameIsGenerated: true, cronExpression: "0 2 * * *",
            timezone: "UTC", nextRunAt: enabled ? kept : nil, lastRunAt: nil, misfirePolicy: .runOnce, dependsOnWorkflowId: nil,
            dependsOnWorkflowName: nil, dependencyCondition: nil, delayMinutes: 0, eventType: nil, eventConfig: nil, createdAt: now,
            updatedAt: now)
    }

    @Test("an edit that leaves the schedule alone keeps the next run and the runs created early")
    func unchangedSchedule() {
        var definition = TriggerDefinition(Self.daily())
        definition.name = nil
        definition.misfirePolicy = .skip
        let change = TriggerChange(editing: Self.daily(), into: definition, upstreamNames: [], now: Self.now)
        #expect(change.nextRunAt == Self.kept)
        #expect(!change.withdrawsUpcomingRuns)
        #expect(change.name == "At 02:00" && change.nameIsGenerated)
    }

    @Test("a new expression or zone computes the next run from now and withdraws the early runs; so does turning it on")
    func changedSchedule() {
        var definition = TriggerDefinition(Self.daily())
        definition.name = nil
        definition.cronExpression = "30 3 * * *"
        let edited = TriggerChange(editing: Self.daily(), into: definition, upstreamNames: [], now: Self.now)
        #expect(edited.nextRunAt == Date(timeIntervalSince1970: 1_768_534_200))  // 2026-01-16T03:30:00Z
        #expect(edited.withdrawsUpcomingRuns)
        #expect(edited.name == "At 03:30")

        definition = TriggerDefinition(Self.daily())
        definition.timezone = "Europe/Berlin"
        #expect(TriggerChange(editing: Self.daily(), into: definition, upstreamNames: [], now: Self.now).nextRunAt
            == Date(timeIntervalSince1970: 1_768_525_200))  // 02:00 in Berlin is 01:00Z

        let on = TriggerChange(enabling: Self.daily(enabled: false), true, now: Self.now)
        #expect(on.nextRunAt == Date(timeIntervalSince1970: 1_768_528_800))  // 2026-01-16T02:00:00Z, not a backfill
        let off = TriggerChange(enabling: Self.daily(), false, now: Self.now)
        #expect(off.nextRunAt == nil && off.withdrawsUpcomingRuns)
    }

    @Test("a file trigger takes files from now on when created, given a new folder, or turned back on")
    func filesFromNow() {
        var file = Self.daily()
        file.type = .event
        file.cronExpression = nil
        file.eventType = .fileArrival
        file.eventConfig = ["path": "/data/in"]
        var definition = TriggerDefinition(file)
        #expect(TriggerChange(creating: definition, id: 1, upstreamNames: [], now: Self.now).takesFilesFromNow)
        #expect(!TriggerChange(editing: file, into: definition, upstreamNames: [], now: Self.now).takesFilesFromNow)
        definition.eventConfig = ["path": "/data/other"]
        #expect(TriggerChange(editing: file, into: definition, upstreamNames: [], now: Self.now).takesFilesFromNow)
        file.enabled = false
        #expect(TriggerChange(enabling: file, true, now: Self.now).takesFilesFromNow)
        definition.name = nil
        #expect(TriggerChange(creating: definition, id: 1, upstreamNames: [], now: Self.now).name == "File arrival")
    }
}
