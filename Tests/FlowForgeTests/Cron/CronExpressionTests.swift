import Foundation
import Testing
@testable import FlowForgeShared

@Suite("Parsing and rejection")
struct CronExpressionTests {
    @Test func sourceIsTrimmed() throws {
        #expect(try CronExpression("  0 9 * * 1-5 \n").source == "0 9 * * 1-5")
        #expect(try CronExpression("0\t9  * *\t1-5").source == "0\t9  * *\t1-5")
        #expect(try CronExpression("0 9\n* * 1-5").humanDescription == "At 09:00, Monday through Friday")
        #expect(try CronExpression("@daily").source == "@daily")
    }

    @Test func hourRestriction() throws {
        #expect(try CronExpression("*/15 * * * *").isHourRestricted == false)
        #expect(try CronExpression("0 0-23 * * *").isHourRestricted == false)
        #expect(try CronExpression("0 ? * * *").isHourRestricted == false)
        #expect(try CronExpression("@hourly").isHourRestricted == false)
        #expect(try CronExpression("0 */2 * * *").isHourRestricted == true)
        #expect(try CronExpression("0 0-22 * * *").isHourRestricted == true)
        #expect(try CronExpression("@daily").isHourRestricted == true)
    }

    @Test func equivalentSpellingsParseToTheSameFields() throws {
        func fields(_ text: String) throws -> [UInt64] {
            let e = try CronExpression(text)
            return [e.minutes.raw, e.hours.raw, e.months.raw, e.days.weekdays.raw, e.days.monthDays.raw]
        }
        #expect(try fields("0 9 * * MON-FRI") == fields("0 9 * * 1-5"))
        #expect(try fields("0 9 * * mon,TUE,wEd,thu,fri") == fields("0 9 * * 1-5"))
        #expect(try fields("0 0 * * 7") == fields("0 0 * * 0"))
        #expect(try fields("0 0 1 jan *") == fields("@yearly"))
        #expect(try fields("0 0 * * *") == fields("@midnight"))
        #expect(try fields("0 0 ? * *") == fields("0 0 * * *"))
        #expect(try fields("0,15,30,45 * * * *") == fields("*/15 * * * *"))
        #expect(try fields("0-59/15 * * * *") == fields("0/15 * * * *"))
    }

    @Test(arguments: [
        ("", "expression is empty; expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        ("   ", "expression is empty; expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        ("0 0 * * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily; got 6 fields"),
        ("0 0 0 * * * 2024", "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily; got 7 fields"),
        ("0 0 *", "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily; got 3 fields"),
        ("@reboot", "@reboot is not supported: FlowForge starts workflows by the clock; expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        ("@every 5m", "@every is not supported; use a step such as */15 in the minute field; expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        ("@fortnightly", "unknown macro \"@fortnightly\"; the macros are @yearly, @annually, @monthly, @weekly, @daily, @midnight and @hourly"),
        ("@daily 5", "@daily takes nothing after it; expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily"),
        ("61 * * * *", "minute: 61 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("* * 0 * *", "day-of-month: 0 is outside 1-31"),
        ("* * 32 * *", "day-of-month: 32 is outside 1-31"),
        ("* * * 13 *", "month: 13 is outside 1-12"),
        ("* * * 0 *", "month: 0 is outside 1-12"),
        ("* * * * 8", "day-of-week: 8 is outside 0-7"),
        ("99999999999999999999 * * * *", "minute: 99999999999999999999 is outside 0-59"),
        ("* 5-2 * * *", "hour: range 5-2 is reversed"),
        ("50-10 * * * *", "minute: range 50-10 is reversed"),
        ("* * * DEC-JAN *", "month: range DEC-JAN is reversed"),
        ("* * * * 7-1", "day-of-week: range 7-1 is reversed"),
        ("*/0 * * * *", "minute: step 0 is not allowed"),
        ("* * * 1-12/0 *", "month: step 0 is not allowed"),
        ("*/61 * * * *", "minute: step 61 is too large; the field has 60 values"),
        ("abc * * * *", "minute: \"abc\" is not a number"),
        ("* MON * * *", "hour: \"MON\" is not a number"),
        ("1.5 * * * *", "minute: \"1.5\" is not a number"),
        ("* * * FOO *", "month: \"FOO\" is not a month (1-12 or JAN-DEC)"),
        ("* * * * FOO", "day-of-week: \"FOO\" is not a weekday (0-7 or SUN-SAT)"),
        ("1,,2 * * * *", "minute: empty item in the list \"1,,2\""),
        ("1-2-3 * * * *", "minute: \"1-2-3\" is not a valid range (write it as a-b)"),
        ("-5 * * * *", "minute: \"-5\" is not a valid range (write it as a-b)"),
        ("1/2/3 * * * *", "minute: \"1/2/3\" has more than one /"),
        ("*/ * * * *", "minute: \"*/\" needs a step after /"),
        ("/5 * * * *", "minute: \"/5\" needs a value or * before /"),
        ("* * * * 5#6", "day-of-week: #6 — a month has at most 5 of any weekday"),
        ("* * * * MON#6", "day-of-week: #6 — a month has at most 5 of any weekday"),
        ("* * * * 1#0", "day-of-week: #0 — the occurrence counts from 1 (first) to 5 (fifth)"),
        ("* * * * 1#", "day-of-week: \"1#\" needs 1-5 after #, as in 5#3 for the third Friday"),
        ("* * * * 1-5#2", "day-of-week: # follows a single weekday, as in 5#3 for the third Friday; got \"1-5#2\""),
        ("* * * * L", "day-of-week: L needs a weekday before it, as in 5L for the last Friday of the month"),
        ("* * * * 1-5L", "day-of-week: L follows a single weekday, as in 5L for the last Friday; got \"1-5L\""),
        ("* * 1-5W * *", "day-of-month: W cannot be used with a range, list or step (\"1-5W\"); write a single day such as 15W"),
        ("* * 1,15W * *", "day-of-month: W cannot be used with a range, list or step (\"1,15W\"); write a single day such as 15W"),
        ("* * W * *", "day-of-month: \"W\" is not valid; W follows a single day, as in 15W"),
        ("* * 32W * *", "day-of-month: 32 is outside 1-31"),
        ("* * 15L * *", "day-of-month: \"15L\" is not a number"),
        ("0 0 30 2 *", "never fires: February has no day 30"),
        ("0 0 31 2 *", "never fires: February has no day 31"),
        ("0 0 31 4 *", "never fires: April has no day 31"),
        ("0 0 31 4,6,9,11 *", "never fires: April, June, September and November have no day 31"),
        ("0 0 30,31 FEB *", "never fires: February has no day 30 or 31"),
        ("0 0 30W 2 *", "never fires: February has no day 30"),
        ("0 0 */31 * 5#5", "never fires: no day matches both day-of-month \"*/31\" and day-of-week \"5#5\""),
    ])
    func rejects(_ text: String, _ message: String) {
        #expect(cronRejection(text) == message)
    }

    @Test func extremelyLongInputIsRejectedQuickly() {
        let long = String(repeating: "1,", count: 500_000) + "1 * * * *"
        #expect(cronRejection(long) == "expression is too long (1000009 characters; at most 1024)")
        let spaces = String(repeating: " ", count: 100_000)
        #expect(cronRejection(spaces + "0 0 * * *" + spaces) == nil)
    }

    @Test func longButReasonableListsParse() throws {
        let everyMinute = (0...59).map(String.init).joined(separator: ",")
        let everyHour = (0...23).map(String.init).joined(separator: ",")
        let expression = try CronExpression("\(everyMinute) \(everyHour) * * *")
        #expect(expression.humanDescription == "Every minute")
        #expect(expression.isHourRestricted == false)
    }

    @Test func unusualButValidForms() throws {
        for text in ["0 0 29 2 *", "0 0 * 2 1#5", "0 0 31 * *", "0 0 L 2 *", "0 0 LW * *", "0 0 1W * *", "0 0 31W * *",
                     "0 0 30 2 1", "0 0 ? * ?", "0 0 * * SAT-SUN", "0 0 * * MON-SUN", "59 23 31 12 *", "0 0 1,L * *",
                     "0 0 * * 0-7", "*/60 * * * *", "0 0 * * */7", "@ANNUALLY"] {
            #expect(cronRejection(text) == nil, "\(text) should parse")
        }
    }
}
