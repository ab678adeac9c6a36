import Testing
@testable import FlowForgeShared

@Suite("Plain-English descriptions")
struct CronDescriptionTests {
    @Test(arguments: [
        // The examples the API and UI rely on.
        ("* * * * *", "Every minute"),
        ("*/15 * * * *", "Every 15 minutes"),
        ("0 * * * *", "Every hour"),
        ("0 2 * * *", "At 02:00"),
        ("0 9 * * 1-5", "At 09:00, Monday through Friday"),
        ("30 2 * * 1-5", "At 02:30, Monday through Friday"),
        ("0 0 L * *", "At 00:00 on the last day of the month"),
        ("0 10 * * 5#3", "At 10:00 on the third Friday of the month"),
        ("0 9 * * 1", "At 09:00, only on Monday"),
        // Macros read like their expansion.
        ("@yearly", "At 00:00 on January 1"),
        ("@annually", "At 00:00 on January 1"),
        ("@monthly", "At 00:00 on day 1 of the month"),
        ("@weekly", "At 00:00, only on Sunday"),
        ("@daily", "At 00:00"),
        ("@midnight", "At 00:00"),
        ("@hourly", "Every hour"),
        // Times.
        ("5 * * * *", "Every hour at minute 5"),
        ("0,30 * * * *", "Every 30 minutes"),
        ("5,20,35,50 * * * *", "Every 15 minutes from minute 5 through 50 of every hour"),
        ("*/7 * * * *", "Every 7 minutes from minute 0 through 56 of every hour"),
        ("0-29 * * * *", "Every hour at minutes 0 through 29"),
        ("0,10,30 * * * *", "Every hour at minutes 0, 10 and 30"),
        ("0 */2 * * *", "Every 2 hours"),
        ("30 */6 * * *", "At 00:30, 06:30, 12:30 and 18:30"),
        ("30 */2 * * *", "Every 2 hours at minute 30"),
        ("0 1/2 * * *", "Every 2 hours from 01:00 through 23:00"),
        ("0 9-17 * * *", "Every hour from 09:00 through 17:00"),
        ("0 9,17 * * *", "At 09:00 and 17:00"),
        ("0 9,12,17 * * *", "At 09:00, 12:00 and 17:00"),
        ("15,45 9,17 * * *", "At 09:15, 09:45, 17:15 and 17:45"),
        ("0 1,5,9,11,14,18,22 * * *", "At 01:00, 05:00, 09:00, 11:00, 14:00, 18:00 and 22:00"),
        ("*/15 9-17 * * 1-5", "Every 15 minutes, between 09:00 and 17:59, Monday through Friday"),
        ("* 9 * * *", "Every minute, between 09:00 and 09:59"),
        ("*/15 */2 * * *", "Every 15 minutes, during every 2nd hour"),
        ("*/10 1,5,9 * * *", "Every 10 minutes, during the 01:00, 05:00 and 09:00 hours"),
        // Days of the month.
        ("0 0 1 * *", "At 00:00 on day 1 of the month"),
        ("0 0 1,15 * *", "At 00:00 on days 1 and 15 of the month"),
        ("0 0 1-7 * *", "At 00:00 on days 1 through 7 of the month"),
        ("0 0 */2 * *", "At 00:00 on every 2nd day starting on day 1 of the month"),
        ("0 0 1,L * *", "At 00:00 on day 1 and the last day of the month"),
        ("0 0 15W * *", "At 00:00 on the weekday nearest day 15 of the month"),
        ("0 0 LW * *", "At 00:00 on the last weekday of the month"),
        ("0 0 29 2 *", "At 00:00 on February 29"),
        // Days of the week.
        ("0 0 * * 5L", "At 00:00 on the last Friday of the month"),
        ("0 0 * * 1#1,5L", "At 00:00 on the first Monday and the last Friday of the month"),
        ("0 0 * * 0,6", "At 00:00, only on Saturday and Sunday"),
        ("0 0 * * SAT-SUN", "At 00:00, only on Saturday and Sunday"),
        ("0 0 * * 1,3,5", "At 00:00, only on Monday, Wednesday and Friday"),
        ("0 0 * * 1-3,5", "At 00:00, only on Monday through Wednesday and Friday"),
        ("0 0 * * 7", "At 00:00, only on Sunday"),
        ("0 12 ? * MON", "At 12:00, only on Monday"),
        ("0 0 * * MON-SUN", "At 00:00"),
        // Both day fields.
        ("0 0 13 * 5", "At 00:00 on day 13 of the month or on Friday"),
        ("0 0 1 * 5#3", "At 00:00 on day 1 of the month or on the third Friday of the month"),
        ("0 0 */2 * 5", "At 00:00 on every 2nd day starting on day 1 of the month, if it falls on Friday"),
        ("0 0 1 * MON-SUN", "At 00:00"),
        // Months.
        ("0 0 * 3-6 *", "At 00:00, March through June"),
        ("0 0 * 1,4,7,10 *", "At 00:00, only in January, April, July and October"),
        ("0 0 1 */3 *", "At 00:00 on day 1 of the month, only in January, April, July and October"),
        ("0 9 * JAN-MAR,DEC 1-5", "At 09:00, Monday through Friday, only in January through March and December"),
        ("0 0 * 2 1#5", "At 00:00 on the fifth Monday of the month, only in February"),
    ])
    func describes(_ text: String, _ description: String) throws {
        #expect(try CronExpression(text).humanDescription == description)
    }
}
