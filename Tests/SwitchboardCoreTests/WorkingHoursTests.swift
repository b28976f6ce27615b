import Foundation
import SwitchboardCore
import SwitchboardTesting
import Testing

// Every instant in this file is an explicit ISO 8601 literal; nothing reads the machine's time
// zone or clock. Expected values were computed by hand from the tz database (zdump) rules:
//   Europe/Berlin        2026-03-29 01:00Z 02:00 CET  -> 03:00 CEST;  2026-10-25 01:00Z 03:00 CEST -> 02:00 CET
//   America/New_York     2026-03-08 07:00Z 02:00 EST  -> 03:00 EDT;   2026-11-01 06:00Z 02:00 EDT  -> 01:00 EST
//   Australia/Lord_Howe  2026-04-04 15:00Z 02:00 +11  -> 01:30 +1030; 2026-10-03 15:30Z 02:00 +1030 -> 02:30 +11
//   America/Havana       2026-03-08 05:00Z 00:00 CST  -> 01:00 CDT (midnight does not exist that day)
//   Asia/Kolkata         +05:30 all year;  Europe/Moscow +03:00 all year.

// MARK: - Helpers

private func zone(_ id: String) -> TimeZone {
    guard let zone = TimeZone(identifier: id) else { preconditionFailure("unknown zone \(id)") }
    return zone
}

private func iv(_ text: String) -> WorkingInterval {
    guard let interval = WorkingInterval(text) else { preconditionFailure("bad interval literal \(text)") }
    return interval
}

private func day(_ text: String) -> LocalDate {
    guard let date = LocalDate(text) else { preconditionFailure("bad date literal \(text)") }
    return date
}

private func iso(_ text: String) -> Date { parseISO(text) }

private func calendar(_ zoneID: String, week: [Weekday: [String]], special: [String: [String]] = [:]) -> WorkingHours {
    WorkingHours(
        timeZone: zone(zoneID),
        week: week.mapValues { $0.map(iv) },
        specialDays: Dictionary(uniqueKeysWithValues: special.map { (day($0.key), $0.value.map(iv)) }))
}

private func everyDay(_ intervals: [String], in zoneID: String) -> WorkingHours {
    calendar(zoneID, week: Dictionary(uniqueKeysWithValues: Weekday.allCases.map { ($0, intervals) }))
}

private func weekdays(_ intervals: [String], in zoneID: String, special: [String: [String]] = [:]) -> WorkingHours {
    calendar(zoneID, week: [.mon: intervals, .tue: intervals, .wed: intervals, .thu: intervals, .fri: intervals], special: special)
}

/// Spans as `start/end` ISO strings, so a mismatch prints readably.
private func text(_ spans: [DateInterval]) -> [String] {
    spans.map { "\(formatISO($0.start))/\(formatISO($0.end))" }
}

private func text(_ date: Date?) -> String? { date.map(formatISO) }

/// The total working time in the spans, in seconds.
private func total(_ spans: [DateInterval]) -> TimeInterval { spans.reduce(0) { $0 + $1.duration } }

// MARK: - LocalTime

@Suite("LocalTime parsing")
struct LocalTimeTests {
    @Test(arguments: [
        ("00:00", 0), ("00:01", 1), ("09:00", 540), ("09:30", 570), ("13:45", 825), ("23:59", 1439), ("24:00", 1440),
    ])
    func parsesValidTimes(text: String, minutes: Int) throws {
        let time = try #require(LocalTime(text))
        #expect(time.minutes == minutes)
        #expect(time.description == text)
    }

    @Test(arguments: [
        "24:30", "24:01", "25:00", "99:00", "23:60", "12:99",
        "9:00", "09:5", "0900", "09:00:00", "09-00", "", ":", "09:", ":30", "ab:cd", "09:0a",
        "-1:00", "+9:00", "-0:00", "09:+5", "09:-0", " 9:00", "9 :00", "09: 5",
    ])
    func rejectsInvalidTimes(text: String) {
        #expect(LocalTime(text) == nil, "\"\(text)\" should not parse")
    }

    @Test func minutesAreBoundedToOneDay() {
        #expect(LocalTime(minutes: -1) == nil)
        #expect(LocalTime(minutes: 0)?.minutes == 0)
        #expect(LocalTime(minutes: 1440)?.minutes == 1440)
        #expect(LocalTime(minutes: 1441) == nil)
    }

    @Test func ordersByMinutes() throws {
        let nine = try #require(LocalTime("09:00"))
        let ten = try #require(LocalTime("10:00"))
        let end = try #require(LocalTime("24:00"))
        #expect(nine < ten)
        #expect(ten < end)
        #expect(!(ten < nine))
        #expect([end, nine, ten].sorted() == [nine, ten, end])
    }

    @Test func formatsWithLeadingZeros() {
        #expect(LocalTime(minutes: 5)?.description == "00:05")
        #expect(LocalTime(minutes: 545)?.description == "09:05")
        #expect(LocalTime(minutes: 1440)?.description == "24:00")
    }
}

// MARK: - WorkingInterval

@Suite("WorkingInterval parsing")
struct WorkingIntervalTests {
    @Test(arguments: [
        ("09:00-13:00", 540, 780), ("14:00-18:00", 840, 1080), ("00:00-24:00", 0, 1440), ("22:30-24:00", 1350, 1440),
        (" 09:00 - 13:00 ", 540, 780),
    ])
    func parsesValidIntervals(text: String, start: Int, end: Int) throws {
        let interval = try #require(WorkingInterval(text))
        #expect(interval.start.minutes == start)
        #expect(interval.end.minutes == end)
        #expect(!interval.isInverted)
    }

    @Test(arguments: [
        "09:00", "09:00-", "-13:00", "09:00-13:00-14:00", "09:00–13:00", "9-13", "09:00-24:30", "24:30-24:00", "",
        "09:00_13:00", "9:00-13:00",
    ])
    func rejectsInvalidIntervals(text: String) {
        #expect(WorkingInterval(text) == nil, "\"\(text)\" should not parse")
    }

    @Test(arguments: ["18:00-09:00", "09:00-09:00", "24:00-24:00", "13:00-12:59"])
    func invertedIntervalsParseButReportInversion(text: String) throws {
        let interval = try #require(WorkingInterval(text))
        #expect(interval.isInverted)
    }

    @Test func overlapIsHalfOpen() {
        #expect(!iv("09:00-13:00").overlaps(iv("13:00-18:00")))
        #expect(!iv("13:00-18:00").overlaps(iv("09:00-13:00")))
        #expect(iv("09:00-13:00").overlaps(iv("12:59-14:00")))
        #expect(iv("09:00-18:00").overlaps(iv("12:00-13:00")))
        #expect(iv("12:00-13:00").overlaps(iv("09:00-18:00")))
        #expect(iv("00:00-24:00").overlaps(iv("23:59-24:00")))
    }

    @Test func description() {
        #expect(iv("09:00-13:00").description == "09:00-13:00")
        #expect(iv(" 09:00 - 13:00 ").description == "09:00-13:00")
        #expect(iv("00:00-24:00").description == "00:00-24:00")
    }
}

// MARK: - LocalDate and Weekday

@Suite("LocalDate and Weekday")
struct LocalDateTests {
    @Test(arguments: [
        ("2026-11-23", 2026, 11, 23), ("2024-02-29", 2024, 2, 29), ("2000-02-29", 2000, 2, 29), ("1970-01-01", 1970, 1, 1),
        ("1969-12-31", 1969, 12, 31), ("2026-12-31", 2026, 12, 31), ("2026-04-30", 2026, 4, 30),
    ])
    func parsesValidDates(text: String, year: Int, month: Int, day: Int) throws {
        let date = try #require(LocalDate(text))
        #expect(date.components == (year, month, day))
        #expect(date.description == text)
        #expect(LocalDate(year: year, month: month, day: day) == date)
    }

    @Test(arguments: [
        "2026-02-29", "2025-02-29", "1900-02-29", "2026-04-31", "2026-06-31", "2026-13-01", "2026-00-10", "2026-01-00",
        "2026-01-32", "2026-1-05", "26-01-05", "2026/01/05", "2026-01-05T00:00", "", "2026-01", "20260105",
        "+026-01-05", "2026-+1-05", "2026-01-+5", "-026-01-05", "2026- 1-05",
    ])
    func rejectsInvalidDates(text: String) {
        #expect(LocalDate(text) == nil, "\"\(text)\" should not parse")
    }

    @Test func rejectsInvalidComponents() {
        #expect(LocalDate(year: 2026, month: 2, day: 29) == nil)
        #expect(LocalDate(year: 2026, month: 2, day: 28) != nil)
        #expect(LocalDate(year: 2028, month: 2, day: 29) != nil)
        #expect(LocalDate(year: 2026, month: 0, day: 1) == nil)
        #expect(LocalDate(year: 2026, month: 13, day: 1) == nil)
        #expect(LocalDate(year: 2026, month: 9, day: 31) == nil)
        #expect(LocalDate(year: 2026, month: 1, day: 0) == nil)
    }

    @Test func dayNumbersCountFromTheUnixEpoch() {
        #expect(day("1970-01-01").dayNumber == 0)
        #expect(day("1970-01-02").dayNumber == 1)
        #expect(day("1969-12-31").dayNumber == -1)
        #expect(day("2000-01-01").dayNumber == 10957)
        #expect(day("2026-11-23").dayNumber == 20780)
        #expect(LocalDate(dayNumber: 20780) == day("2026-11-23"))
    }

    @Test(arguments: [
        ("1970-01-01", Weekday.thu), ("1969-12-31", .wed), ("1969-12-25", .thu), ("2000-01-01", .sat), ("2024-02-29", .thu),
        ("2026-01-01", .thu), ("2026-03-08", .sun), ("2026-03-29", .sun), ("2026-10-25", .sun), ("2026-11-01", .sun),
        ("2026-11-23", .mon), ("2026-11-24", .tue), ("2026-11-25", .wed), ("2026-11-26", .thu), ("2026-11-27", .fri),
        ("2026-11-28", .sat), ("2026-11-29", .sun), ("1900-01-01", .mon), ("2100-12-31", .fri),
    ])
    func weekdayOfKnownDates(text: String, weekday: Weekday) {
        #expect(day(text).weekday == weekday)
    }

    @Test func addingDaysCrossesMonthYearAndLeapDay() {
        #expect(day("2024-02-28").adding(days: 1) == day("2024-02-29"))
        #expect(day("2024-02-29").adding(days: 1) == day("2024-03-01"))
        #expect(day("2026-02-28").adding(days: 1) == day("2026-03-01"))
        #expect(day("2026-12-31").adding(days: 1) == day("2027-01-01"))
        #expect(day("2027-01-01").adding(days: -1) == day("2026-12-31"))
        #expect(day("2026-11-23").adding(days: 7).weekday == .mon)
        #expect(day("2026-11-23").adding(days: 365) == day("2027-11-23"))
    }

    @Test func ordersChronologically() {
        #expect(day("2026-11-23") < day("2026-11-24"))
        #expect(day("2025-12-31") < day("2026-01-01"))
        #expect(!(day("2026-11-24") < day("2026-11-23")))
    }

    @Test func weekdaysNumberLikeCalendarAndUseYAMLKeys() {
        #expect(Weekday.sun.rawValue == 1)
        #expect(Weekday.mon.rawValue == 2)
        #expect(Weekday.sat.rawValue == 7)
        #expect(Weekday.allCases.map(\.key) == ["sun", "mon", "tue", "wed", "thu", "fri", "sat"])
        for weekday in Weekday.allCases { #expect(Weekday(key: weekday.key) == weekday) }
        #expect(Weekday(key: "Mon") == nil)
        #expect(Weekday(key: "monday") == nil)
        #expect(Weekday(key: "") == nil)
    }
}

// MARK: - Plain weeks: split days, days off, half-hour zones

@Suite("WorkingHours: weekly pattern")
struct WorkingHoursWeekTests {
    /// Mon–Fri 09:00–13:00 + 14:00–18:00 in Berlin; November is CET (+01:00).
    let split = weekdays(["09:00-13:00", "14:00-18:00"], in: "Europe/Berlin")

    @Test(arguments: [
        ("2026-11-23T07:59:59Z", false),  // Mon 08:59:59
        ("2026-11-23T08:00:00Z", true),  // Mon 09:00 — start is inclusive
        ("2026-11-23T11:59:59Z", true),  // 12:59:59
        ("2026-11-23T12:00:00Z", false),  // 13:00 — end is exclusive
        ("2026-11-23T12:30:00Z", false),  // lunch
        ("2026-11-23T13:00:00Z", true),  // 14:00
        ("2026-11-23T16:59:59Z", true),  // 17:59:59
        ("2026-11-23T17:00:00Z", false),  // 18:00
        ("2026-11-27T10:00:00Z", true),  // Fri 11:00
        ("2026-11-28T10:00:00Z", false),  // Sat — no entry in the week: day off
        ("2026-11-29T10:00:00Z", false),  // Sun
    ])
    func splitDayIsWorking(instant: String, working: Bool) {
        #expect(split.isWorking(at: iso(instant)) == working)
    }

    @Test(arguments: [
        ("2026-11-23T05:00:00Z", "2026-11-23T08:00:00Z"),  // before work → 09:00
        ("2026-11-23T08:00:00Z", "2026-11-23T08:00:00Z"),  // at the start → itself
        ("2026-11-23T09:17:23Z", "2026-11-23T09:17:23Z"),  // inside → itself
        ("2026-11-23T12:00:00Z", "2026-11-23T13:00:00Z"),  // 13:00 → after lunch
        ("2026-11-23T12:30:00Z", "2026-11-23T13:00:00Z"),
        ("2026-11-23T17:00:00Z", "2026-11-24T08:00:00Z"),  // 18:00 → tomorrow 09:00
        ("2026-11-23T23:30:00Z", "2026-11-24T08:00:00Z"),  // Tue 00:30 local
        ("2026-11-27T17:30:00Z", "2026-11-30T08:00:00Z"),  // Fri evening → Mon
        ("2026-11-28T12:00:00Z", "2026-11-30T08:00:00Z"),  // Sat → Mon
        ("2026-11-29T22:59:59Z", "2026-11-30T08:00:00Z"),  // Sun 23:59:59 → Mon
    ])
    func splitDayNextWorkingMoment(instant: String, expected: String) {
        #expect(text(split.nextWorkingMoment(atOrAfter: iso(instant))) == expected)
    }

    @Test func splitDaySpans() {
        #expect(
            text(split.workingSpans(from: iso("2026-11-23T00:00:00Z"), to: iso("2026-11-25T00:00:00Z"))) == [
                "2026-11-23T08:00:00Z/2026-11-23T12:00:00Z", "2026-11-23T13:00:00Z/2026-11-23T17:00:00Z",
                "2026-11-24T08:00:00Z/2026-11-24T12:00:00Z", "2026-11-24T13:00:00Z/2026-11-24T17:00:00Z",
            ])
        // Clipped to the window.
        #expect(
            text(split.workingSpans(from: iso("2026-11-23T10:00:00Z"), to: iso("2026-11-23T14:00:00Z"))) == [
                "2026-11-23T10:00:00Z/2026-11-23T12:00:00Z", "2026-11-23T13:00:00Z/2026-11-23T14:00:00Z",
            ])
        // A window entirely at lunch or at the weekend has none.
        #expect(split.workingSpans(from: iso("2026-11-23T12:00:00Z"), to: iso("2026-11-23T13:00:00Z")).isEmpty)
        #expect(split.workingSpans(from: iso("2026-11-27T17:00:00Z"), to: iso("2026-11-30T08:00:00Z")).isEmpty)
        // An empty or reversed window has none.
        #expect(split.workingSpans(from: iso("2026-11-23T10:00:00Z"), to: iso("2026-11-23T10:00:00Z")).isEmpty)
        #expect(split.workingSpans(from: iso("2026-11-23T11:00:00Z"), to: iso("2026-11-23T10:00:00Z")).isEmpty)
        // A full week: 5 days × 8 hours.
        #expect(total(split.workingSpans(from: iso("2026-11-22T00:00:00Z"), to: iso("2026-11-30T00:00:00Z"))) == 5 * 8 * 3600)
    }

    @Test func intervalsAreSortedWhateverTheConfigOrder() {
        let hours = calendar("Europe/Berlin", week: [.mon: ["14:00-18:00", "09:00-13:00"]])
        #expect(hours.intervals(on: day("2026-11-23")) == [iv("09:00-13:00"), iv("14:00-18:00")])
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T05:00:00Z"))) == "2026-11-23T08:00:00Z")
    }

    @Test func explicitEmptyWeekdayIsADayOff() {
        let hours = calendar("Europe/Berlin", week: [.mon: ["09:00-18:00"], .tue: [], .wed: ["09:00-18:00"]])
        #expect(hours.intervals(on: day("2026-11-24")).isEmpty)
        #expect(!hours.isWorking(at: iso("2026-11-24T10:00:00Z")))
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T17:00:00Z"))) == "2026-11-25T08:00:00Z")
        // Thu–Sun are absent: after Wednesday the next working moment is next Monday.
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-25T17:00:00Z"))) == "2026-11-30T08:00:00Z")
    }

    /// Asia/Kolkata is UTC+05:30: 09:00–18:00 IST is 03:30–12:30Z, and the local date turns at 18:30Z.
    @Test func halfHourOffsetZone() {
        let hours = weekdays(["09:00-18:00"], in: "Asia/Kolkata")
        #expect(!hours.isWorking(at: iso("2026-11-23T03:29:59Z")))
        #expect(hours.isWorking(at: iso("2026-11-23T03:30:00Z")))
        #expect(hours.isWorking(at: iso("2026-11-23T12:29:59Z")))
        #expect(!hours.isWorking(at: iso("2026-11-23T12:30:00Z")))
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T00:00:00Z"))) == "2026-11-23T03:30:00Z")
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T12:30:00Z"))) == "2026-11-24T03:30:00Z")
        // Fri 18:00 IST → Mon 09:00 IST.
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-27T12:30:00Z"))) == "2026-11-30T03:30:00Z")
        #expect(hours.localDate(of: iso("2026-11-23T18:29:59Z")) == day("2026-11-23"))
        #expect(hours.localDate(of: iso("2026-11-23T18:30:00Z")) == day("2026-11-24"))
        #expect(text(hours.startOfDay(containing: iso("2026-11-23T12:00:00Z"))) == "2026-11-22T18:30:00Z")
        #expect(
            text(hours.workingSpans(from: iso("2026-11-23T00:00:00Z"), to: iso("2026-11-24T00:00:00Z")))
                == ["2026-11-23T03:30:00Z/2026-11-23T12:30:00Z"])
    }

    /// The weekday is the local one, not UTC's: Monday 00:30 IST is still Sunday in UTC, and
    /// Friday 20:00 in New York is already Saturday in UTC.
    @Test func weekdayIsTakenInTheLocalZone() {
        let kolkata = calendar("Asia/Kolkata", week: [.mon: ["00:00-01:00"]])
        #expect(kolkata.isWorking(at: iso("2026-11-22T19:00:00Z")))  // Sun 19:00Z = Mon 00:30 IST
        #expect(!kolkata.isWorking(at: iso("2026-11-23T19:00:00Z")))  // Tue 00:30 IST
        let newYork = weekdays(["09:00-21:00"], in: "America/New_York")
        #expect(newYork.isWorking(at: iso("2026-11-28T01:00:00Z")))  // Sat 01:00Z = Fri 20:00 EST
        #expect(!newYork.isWorking(at: iso("2026-11-28T02:00:00Z")))  // Fri 21:00 EST
        #expect(text(newYork.nextWorkingMoment(atOrAfter: iso("2026-11-28T02:00:00Z"))) == "2026-11-30T14:00:00Z")
    }

    @Test func localDateAndStartOfDayInBerlin() {
        #expect(split.localDate(of: iso("2026-11-22T22:59:59Z")) == day("2026-11-22"))
        #expect(split.localDate(of: iso("2026-11-22T23:00:00Z")) == day("2026-11-23"))
        #expect(text(split.startOfDay(containing: iso("2026-11-23T12:00:00Z"))) == "2026-11-22T23:00:00Z")
        #expect(text(split.startOfDay(containing: iso("2026-11-22T23:00:00Z"))) == "2026-11-22T23:00:00Z")
        #expect(text(split.startOfDay(containing: iso("2026-11-23T22:59:59Z"))) == "2026-11-22T23:00:00Z")
    }
}

// MARK: - Special days

@Suite("WorkingHours: special days")
struct WorkingHoursSpecialDayTests {
    /// Mon–Fri 09:00–18:00 Berlin (CET, +01:00) with a working Saturday, a holiday Tuesday and a
    /// short Wednesday.
    let hours = weekdays(
        ["09:00-18:00"], in: "Europe/Berlin",
        special: ["2026-11-28": ["10:00-14:00"], "2026-11-24": [], "2026-11-25": ["12:00-15:00"]])

    @Test func specialWorkingDayOnAWeekend() {
        #expect(hours.intervals(on: day("2026-11-28")) == [iv("10:00-14:00")])
        #expect(!hours.isWorking(at: iso("2026-11-28T08:59:59Z")))
        #expect(hours.isWorking(at: iso("2026-11-28T09:00:00Z")))  // Sat 10:00
        #expect(hours.isWorking(at: iso("2026-11-28T12:59:59Z")))
        #expect(!hours.isWorking(at: iso("2026-11-28T13:00:00Z")))  // Sat 14:00
        // Friday evening → the special Saturday, not Monday.
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-27T17:00:00Z"))) == "2026-11-28T09:00:00Z")
        // After it ends: Sunday is still off (the special day covers only its own date).
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-28T13:00:00Z"))) == "2026-11-30T08:00:00Z")
        #expect(!hours.isWorking(at: iso("2026-11-29T10:00:00Z")))
        // The same Saturday a week later is an ordinary day off.
        #expect(!hours.isWorking(at: iso("2026-12-05T10:00:00Z")))
    }

    @Test func specialDayOffOnAWeekday() {
        #expect(hours.intervals(on: day("2026-11-24")).isEmpty)
        #expect(!hours.isWorking(at: iso("2026-11-24T10:00:00Z")))
        // Monday evening → skips the holiday Tuesday → Wednesday's special 12:00.
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T17:00:00Z"))) == "2026-11-25T11:00:00Z")
        #expect(hours.workingSpans(from: iso("2026-11-23T23:00:00Z"), to: iso("2026-11-24T23:00:00Z")).isEmpty)
        // The next Tuesday is an ordinary working day.
        #expect(hours.isWorking(at: iso("2026-12-01T10:00:00Z")))
    }

    @Test func specialHoursReplaceTheWeekPatternOnTheirDate() {
        // Wednesday 09:00–18:00 is replaced by 12:00–15:00, not added to.
        #expect(!hours.isWorking(at: iso("2026-11-25T08:30:00Z")))  // 09:30
        #expect(hours.isWorking(at: iso("2026-11-25T11:00:00Z")))  // 12:00
        #expect(!hours.isWorking(at: iso("2026-11-25T14:30:00Z")))  // 15:30
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-25T14:00:00Z"))) == "2026-11-26T08:00:00Z")
        #expect(
            text(hours.workingSpans(from: iso("2026-11-24T23:00:00Z"), to: iso("2026-11-25T23:00:00Z")))
                == ["2026-11-25T11:00:00Z/2026-11-25T14:00:00Z"])
    }

    @Test func specialDayInALongHolidayStretch() {
        // Nine days off in a row: a weekend followed by a whole week of holidays.
        var special: [String: [String]] = [:]
        for offset in 0..<7 { special[day("2026-11-30").adding(days: offset).description] = [] }
        let holiday = weekdays(["09:00-18:00"], in: "Europe/Berlin", special: special)
        #expect(text(holiday.nextWorkingMoment(atOrAfter: iso("2026-11-27T17:00:00Z"))) == "2026-12-07T08:00:00Z")
    }
}

// MARK: - Whole days and midnight

@Suite("WorkingHours: 00:00-24:00 and midnight")
struct WorkingHoursMidnightTests {
    @Test func allDayIntervalRunsIntoTheNextDaysMidnightInterval() {
        // A night shift: all Monday, then Tuesday until 06:00 (Berlin, CET).
        let hours = calendar("Europe/Berlin", week: [.mon: ["00:00-24:00"], .tue: ["00:00-06:00"]])
        #expect(!hours.isWorking(at: iso("2026-11-22T22:59:59Z")))  // Sun 23:59:59
        #expect(hours.isWorking(at: iso("2026-11-22T23:00:00Z")))  // Mon 00:00
        #expect(hours.isWorking(at: iso("2026-11-23T22:59:59Z")))  // Mon 23:59:59
        #expect(hours.isWorking(at: iso("2026-11-23T23:00:00Z")))  // Tue 00:00 — no gap at midnight
        #expect(hours.isWorking(at: iso("2026-11-24T04:59:59Z")))
        #expect(!hours.isWorking(at: iso("2026-11-24T05:00:00Z")))  // Tue 06:00
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-22T22:30:00Z"))) == "2026-11-22T23:00:00Z")
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T23:00:00Z"))) == "2026-11-23T23:00:00Z")
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-24T05:00:00Z"))) == "2026-11-29T23:00:00Z")
        // Working time across midnight is one continuous span.
        #expect(
            text(hours.workingSpans(from: iso("2026-11-23T11:00:00Z"), to: iso("2026-11-24T11:00:00Z")))
                == ["2026-11-23T11:00:00Z/2026-11-24T05:00:00Z"])
    }

    @Test func alwaysWorks() {
        let always = WorkingHours.always
        #expect(always.hasAnyWorkingTime)
        for instant in ["2026-11-23T00:00:00Z", "2026-11-23T23:59:59Z", "2026-11-24T00:00:00Z", "2026-11-28T12:34:56Z", "2024-02-29T00:00:00Z"] {
            #expect(always.isWorking(at: iso(instant)), "\(instant)")
            #expect(text(always.nextWorkingMoment(atOrAfter: iso(instant))) == instant)
        }
        #expect(
            text(always.workingSpans(from: iso("2026-11-23T10:00:00Z"), to: iso("2026-11-26T10:00:00Z")))
                == ["2026-11-23T10:00:00Z/2026-11-26T10:00:00Z"])
        #expect(text(always.startOfDay(containing: iso("2026-11-23T10:00:00Z"))) == "2026-11-23T00:00:00Z")
    }

    @Test func intervalEndingAtMidnightBeforeADayOff() {
        let hours = calendar("Europe/Moscow", week: [.fri: ["18:00-24:00"], .mon: ["00:00-02:00"]])
        #expect(hours.isWorking(at: iso("2026-11-27T20:59:59Z")))  // Fri 23:59:59 MSK
        #expect(!hours.isWorking(at: iso("2026-11-27T21:00:00Z")))  // Sat 00:00 MSK
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-27T21:00:00Z"))) == "2026-11-29T21:00:00Z")
    }
}

// MARK: - hasAnyWorkingTime and calendars with no time

@Suite("WorkingHours: hasAnyWorkingTime")
struct WorkingHoursAnyTimeTests {
    @Test func emptyWeekHasNoWorkingTime() {
        let hours = calendar("Europe/Berlin", week: [:])
        #expect(!hours.hasAnyWorkingTime)
        #expect(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T10:00:00Z")) == nil)
        #expect(!hours.isWorking(at: iso("2026-11-23T10:00:00Z")))
        #expect(hours.workingSpans(from: iso("2026-11-23T00:00:00Z"), to: iso("2026-12-23T00:00:00Z")).isEmpty)
    }

    @Test func weekOfEmptyDaysHasNoWorkingTime() {
        let hours = calendar("Europe/Berlin", week: Dictionary(uniqueKeysWithValues: Weekday.allCases.map { ($0, []) }))
        #expect(!hours.hasAnyWorkingTime)
        #expect(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T10:00:00Z")) == nil)
    }

    @Test func specialDaysOffAloneHaveNoWorkingTime() {
        let hours = calendar("Europe/Berlin", week: [:], special: ["2026-11-24": [], "2026-12-25": []])
        #expect(!hours.hasAnyWorkingTime)
    }

    @Test func oneWorkingWeekdayIsEnough() {
        #expect(calendar("Europe/Berlin", week: [.sat: ["10:00-11:00"]]).hasAnyWorkingTime)
        #expect(calendar("Europe/Berlin", week: [.mon: [], .sat: ["10:00-11:00"]]).hasAnyWorkingTime)
    }

    @Test func oneSpecialWorkingDayIsEnough() {
        let hours = calendar("Europe/Berlin", week: [:], special: ["2026-12-05": ["10:00-12:00"]])
        #expect(hours.hasAnyWorkingTime)
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-11-23T10:00:00Z"))) == "2026-12-05T09:00:00Z")
        // After the only special day there is nothing left.
        #expect(hours.nextWorkingMoment(atOrAfter: iso("2026-12-05T11:00:00Z")) == nil)
    }
}

// MARK: - DST

@Suite("WorkingHours: daylight saving time")
struct WorkingHoursDSTTests {
    // Europe/Berlin, spring forward: Sun 2026-03-29, 02:00 CET → 03:00 CEST at 01:00Z.

    @Test func berlinSpringForwardDayIs23Hours() {
        let hours = everyDay(["00:00-24:00"], in: "Europe/Berlin")
        let spans = hours.workingSpans(from: iso("2026-03-28T23:00:00Z"), to: iso("2026-03-29T22:00:00Z"))
        #expect(total(spans) == 23 * 3600)
        #expect(text(hours.startOfDay(containing: iso("2026-03-29T12:00:00Z"))) == "2026-03-28T23:00:00Z")
        #expect(text(hours.startOfDay(containing: iso("2026-03-30T12:00:00Z"))) == "2026-03-29T22:00:00Z")
        #expect(hours.localDate(of: iso("2026-03-29T21:59:59Z")) == day("2026-03-29"))
        #expect(hours.localDate(of: iso("2026-03-29T22:00:00Z")) == day("2026-03-30"))
    }

    @Test func berlinIntervalStartingInTheGapStartsWhenTheClocksJump() {
        let hours = calendar("Europe/Berlin", week: [.sun: ["02:30-06:00"]])
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-03-28T12:00:00Z"))) == "2026-03-29T01:00:00Z")
        #expect(!hours.isWorking(at: iso("2026-03-29T00:59:59Z")))  // 01:59:59 CET
        #expect(hours.isWorking(at: iso("2026-03-29T01:00:00Z")))  // 03:00 CEST
        #expect(hours.isWorking(at: iso("2026-03-29T03:59:59Z")))  // 05:59:59 CEST
        #expect(!hours.isWorking(at: iso("2026-03-29T04:00:00Z")))  // 06:00 CEST
        #expect(
            text(hours.workingSpans(from: iso("2026-03-28T00:00:00Z"), to: iso("2026-03-30T00:00:00Z")))
                == ["2026-03-29T01:00:00Z/2026-03-29T04:00:00Z"])
    }

    @Test func berlinIntervalAcrossTheGapLosesAnHour() {
        let hours = calendar("Europe/Berlin", week: [.sun: ["01:00-05:00"]])
        // 01:00 CET = 00:00Z, 05:00 CEST = 03:00Z: three hours of work.
        #expect(
            text(hours.workingSpans(from: iso("2026-03-28T00:00:00Z"), to: iso("2026-03-30T00:00:00Z")))
                == ["2026-03-29T00:00:00Z/2026-03-29T03:00:00Z"])
    }

    @Test func berlinIntervalEntirelyInsideTheGapHasNoWorkingTime() {
        // 02:00–03:00 does not exist on 2026-03-29; the next working moment is Monday 09:00 CEST.
        let hours = calendar("Europe/Berlin", week: [.sun: ["02:00-03:00"], .mon: ["09:00-10:00"]])
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-03-28T12:00:00Z"))) == "2026-03-30T07:00:00Z")
        #expect(!hours.isWorking(at: iso("2026-03-29T01:00:00Z")))
        #expect(hours.workingSpans(from: iso("2026-03-28T12:00:00Z"), to: iso("2026-03-30T00:00:00Z")).isEmpty)
        // A week later the interval exists again (02:00 CEST = 00:00Z).
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-03-30T08:00:00Z"))) == "2026-04-05T00:00:00Z")
    }

    @Test func berlinOrdinaryDaysAroundSpringForward() {
        let hours = everyDay(["09:00-18:00"], in: "Europe/Berlin")
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-03-28T00:00:00Z"))) == "2026-03-28T08:00:00Z")  // CET
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-03-28T17:00:00Z"))) == "2026-03-29T07:00:00Z")  // CEST
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-03-29T16:00:00Z"))) == "2026-03-30T07:00:00Z")
        #expect(!hours.isWorking(at: iso("2026-03-29T16:00:00Z")))  // 18:00 CEST
        #expect(hours.isWorking(at: iso("2026-03-28T16:59:59Z")))  // 17:59:59 CET
    }

    // Europe/Berlin, fall back: Sun 2026-10-25, 03:00 CEST → 02:00 CET at 01:00Z.

    @Test func berlinFallBackDayIs25Hours() {
        let hours = everyDay(["00:00-24:00"], in: "Europe/Berlin")
        let spans = hours.workingSpans(from: iso("2026-10-24T22:00:00Z"), to: iso("2026-10-25T23:00:00Z"))
        #expect(total(spans) == 25 * 3600)
        #expect(text(hours.startOfDay(containing: iso("2026-10-25T12:00:00Z"))) == "2026-10-24T22:00:00Z")
        #expect(text(hours.startOfDay(containing: iso("2026-10-26T12:00:00Z"))) == "2026-10-25T23:00:00Z")
        #expect(hours.localDate(of: iso("2026-10-25T22:59:59Z")) == day("2026-10-25"))
        #expect(hours.localDate(of: iso("2026-10-25T23:00:00Z")) == day("2026-10-26"))
    }

    @Test func berlinRepeatedHourIsWorkedTwice() {
        let hours = calendar("Europe/Berlin", week: [.sun: ["02:00-03:00"]])
        #expect(
            text(hours.workingSpans(from: iso("2026-10-24T00:00:00Z"), to: iso("2026-10-26T00:00:00Z")))
                == ["2026-10-25T00:00:00Z/2026-10-25T02:00:00Z"])
        #expect(hours.isWorking(at: iso("2026-10-25T00:30:00Z")))  // 02:30 CEST
        #expect(hours.isWorking(at: iso("2026-10-25T01:30:00Z")))  // 02:30 CET
        #expect(!hours.isWorking(at: iso("2026-10-25T02:00:00Z")))  // 03:00 CET
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-10-24T12:00:00Z"))) == "2026-10-25T00:00:00Z")
    }

    @Test func berlinOrdinaryDaysAroundFallBack() {
        let hours = everyDay(["09:00-18:00"], in: "Europe/Berlin")
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-10-24T00:00:00Z"))) == "2026-10-24T07:00:00Z")  // CEST
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-10-24T16:00:00Z"))) == "2026-10-25T08:00:00Z")  // CET
        #expect(hours.isWorking(at: iso("2026-10-25T16:59:59Z")))  // 17:59:59 CET
        #expect(!hours.isWorking(at: iso("2026-10-25T17:00:00Z")))
    }

    // America/New_York, spring forward: Sun 2026-03-08, 02:00 EST → 03:00 EDT at 07:00Z.

    @Test func newYorkSpringForward() {
        let allDay = everyDay(["00:00-24:00"], in: "America/New_York")
        #expect(total(allDay.workingSpans(from: iso("2026-03-08T05:00:00Z"), to: iso("2026-03-09T04:00:00Z"))) == 23 * 3600)
        #expect(text(allDay.startOfDay(containing: iso("2026-03-09T12:00:00Z"))) == "2026-03-09T04:00:00Z")
        #expect(text(allDay.startOfDay(containing: iso("2026-03-08T12:00:00Z"))) == "2026-03-08T05:00:00Z")

        let gapStart = calendar("America/New_York", week: [.sun: ["02:15-04:00"]])
        #expect(text(gapStart.nextWorkingMoment(atOrAfter: iso("2026-03-07T12:00:00Z"))) == "2026-03-08T07:00:00Z")
        #expect(
            text(gapStart.workingSpans(from: iso("2026-03-07T00:00:00Z"), to: iso("2026-03-09T00:00:00Z")))
                == ["2026-03-08T07:00:00Z/2026-03-08T08:00:00Z"])

        let office = everyDay(["09:00-17:00"], in: "America/New_York")
        #expect(text(office.nextWorkingMoment(atOrAfter: iso("2026-03-07T22:00:00Z"))) == "2026-03-08T13:00:00Z")
        #expect(office.isWorking(at: iso("2026-03-07T21:59:59Z")))  // Sat 16:59:59 EST
        #expect(!office.isWorking(at: iso("2026-03-08T21:00:00Z")))  // Sun 17:00 EDT
    }

    @Test func newYorkIntervalEntirelyInsideTheGapHasNoWorkingTime() {
        let hours = calendar("America/New_York", week: [.sun: ["02:00-03:00"], .mon: ["09:00-17:00"]])
        #expect(text(hours.nextWorkingMoment(atOrAfter: iso("2026-03-08T06:00:00Z"))) == "2026-03-09T13:00:00Z")
        #expect(!hours.isWorking(at: iso("2026-03-08T07:00:00Z")))
    }

    // America/New_York, fall back: Sun 2026-11-01, 02:00 EDT → 01:00 EST at 06:00Z.

    @Test func newYorkFallBack() {
        let allDay = everyDay(["00:00-24:00"], in: "America/New_York")
        #expect(total(allDay.workingSpans(from: iso("2026-11-01T04:00:00Z"), to: iso("2026-11-02T05:00:00Z"))) == 25 * 3600)
        #expect(text(allDay.startOfDay(containing: iso("2026-11-01T12:00:00Z"))) == "2026-11-01T04:00:00Z")
        #expect(text(allDay.startOfDay(containing: iso("2026-11-02T12:00:00Z"))) == "2026-11-02T05:00:00Z")

        // 01:00–02:00 happens twice: 05:00–06:00Z (EDT) and 06:00–07:00Z (EST).
        let repeated = calendar("America/New_York", week: [.sun: ["01:00-02:00"]])
        #expect(
            text(repeated.workingSpans(from: iso("2026-10-31T00:00:00Z"), to: iso("2026-11-02T00:00:00Z")))
                == ["2026-11-01T05:00:00Z/2026-11-01T07:00:00Z"])
        #expect(repeated.isWorking(at: iso("2026-11-01T05:30:00Z")))
        #expect(repeated.isWorking(at: iso("2026-11-01T06:30:00Z")))
        #expect(!repeated.isWorking(at: iso("2026-11-01T07:00:00Z")))

        let office = everyDay(["09:00-17:00"], in: "America/New_York")
        #expect(text(office.nextWorkingMoment(atOrAfter: iso("2026-10-31T21:00:00Z"))) == "2026-11-01T14:00:00Z")  // EST
        #expect(office.isWorking(at: iso("2026-10-31T20:59:59Z")))  // Sat 16:59:59 EDT
        #expect(!office.isWorking(at: iso("2026-10-31T21:00:00Z")))
    }

    // Australia/Lord_Howe shifts by 30 minutes: +11 → +10:30 on 2026-04-05, +10:30 → +11 on 2026-10-04.

    @Test func lordHoweFallBackRepeatsHalfAnHour() {
        let allDay = everyDay(["00:00-24:00"], in: "Australia/Lord_Howe")
        // Sun 2026-04-05 00:00 +11 = Apr 4 13:00Z; Mon 00:00 +10:30 = Apr 5 13:30Z: 24.5 hours.
        #expect(text(allDay.startOfDay(containing: iso("2026-04-05T00:00:00Z"))) == "2026-04-04T13:00:00Z")
        #expect(text(allDay.startOfDay(containing: iso("2026-04-05T14:00:00Z"))) == "2026-04-05T13:30:00Z")
        #expect(total(allDay.workingSpans(from: iso("2026-04-04T13:00:00Z"), to: iso("2026-04-05T13:30:00Z"))) == 24.5 * 3600)

        // 01:30–02:00 happens twice: 14:30–15:00Z (+11) and 15:00–15:30Z (+10:30).
        let repeated = calendar("Australia/Lord_Howe", week: [.sun: ["01:30-02:00"]])
        #expect(
            text(repeated.workingSpans(from: iso("2026-04-03T00:00:00Z"), to: iso("2026-04-06T00:00:00Z")))
                == ["2026-04-04T14:30:00Z/2026-04-04T15:30:00Z"])
    }

    @Test func lordHoweSpringForwardSkipsHalfAnHour() {
        let allDay = everyDay(["00:00-24:00"], in: "Australia/Lord_Howe")
        // Sun 2026-10-04 00:00 +10:30 = Oct 3 13:30Z; Mon 00:00 +11 = Oct 4 13:00Z: 23.5 hours.
        #expect(total(allDay.workingSpans(from: iso("2026-10-03T13:30:00Z"), to: iso("2026-10-04T13:00:00Z"))) == 23.5 * 3600)

        // 02:10 does not exist; the interval starts at the jump (02:30 +11 = 15:30Z) and ends 03:00 +11.
        let gapStart = calendar("Australia/Lord_Howe", week: [.sun: ["02:10-03:00"]])
        #expect(text(gapStart.nextWorkingMoment(atOrAfter: iso("2026-10-03T12:00:00Z"))) == "2026-10-03T15:30:00Z")
        #expect(
            text(gapStart.workingSpans(from: iso("2026-10-03T00:00:00Z"), to: iso("2026-10-05T00:00:00Z")))
                == ["2026-10-03T15:30:00Z/2026-10-03T16:00:00Z"])

        let office = everyDay(["09:00-17:00"], in: "Australia/Lord_Howe")
        #expect(text(office.nextWorkingMoment(atOrAfter: iso("2026-10-03T07:00:00Z"))) == "2026-10-03T22:00:00Z")  // Sun 09:00 +11
        #expect(text(office.nextWorkingMoment(atOrAfter: iso("2026-10-02T07:00:00Z"))) == "2026-10-02T22:30:00Z")  // Sat 09:00 +10:30
    }

    /// In Havana the clocks jump from 00:00 to 01:00, so 2026-03-08 has no midnight.
    @Test func havanaDayWithoutMidnight() {
        let allDay = everyDay(["00:00-24:00"], in: "America/Havana")
        #expect(text(allDay.startOfDay(containing: iso("2026-03-08T12:00:00Z"))) == "2026-03-08T05:00:00Z")
        #expect(allDay.isWorking(at: iso("2026-03-08T04:59:59Z")))  // Sat 23:59:59 CST
        #expect(allDay.isWorking(at: iso("2026-03-08T05:00:00Z")))  // Sun 01:00 CDT
        let sundayMidnight = calendar("America/Havana", week: [.sun: ["00:00-01:00"], .mon: ["00:00-01:00"]])
        #expect(text(sundayMidnight.nextWorkingMoment(atOrAfter: iso("2026-03-07T12:00:00Z"))) == "2026-03-09T04:00:00Z")
    }

    /// `instant(on:minutes:)` resolves a wall time in a gap to the jump and an ambiguous one to its first occurrence.
    @Test(arguments: [
        ("Europe/Berlin", "2026-03-29", 150, "2026-03-29T01:00:00Z"),  // 02:30 in the gap
        ("Europe/Berlin", "2026-03-29", 180, "2026-03-29T01:00:00Z"),  // 03:00 CEST
        ("Europe/Berlin", "2026-03-29", 119, "2026-03-29T00:59:00Z"),  // 01:59 CET
        ("Europe/Berlin", "2026-10-25", 150, "2026-10-25T00:30:00Z"),  // 02:30, first (CEST) occurrence
        ("Europe/Berlin", "2026-10-25", 180, "2026-10-25T02:00:00Z"),  // 03:00 CET
        ("America/New_York", "2026-03-08", 150, "2026-03-08T07:00:00Z"),
        ("America/New_York", "2026-11-01", 90, "2026-11-01T05:30:00Z"),  // 01:30 EDT, not EST
        ("America/New_York", "2026-11-01", 1440, "2026-11-02T05:00:00Z"),  // 24:00 = next midnight
        ("Australia/Lord_Howe", "2026-10-04", 135, "2026-10-03T15:30:00Z"),  // 02:15 in the gap
        ("Australia/Lord_Howe", "2026-04-05", 105, "2026-04-04T14:45:00Z"),  // 01:45 +11
        ("Asia/Kolkata", "2026-11-23", 540, "2026-11-23T03:30:00Z"),
        ("America/Havana", "2026-03-08", 0, "2026-03-08T05:00:00Z"),
    ])
    func wallTimeToInstant(zoneID: String, date: String, minutes: Int, expected: String) {
        let hours = calendar(zoneID, week: [:])
        #expect(formatISO(hours.instant(on: day(date), minutes: minutes)) == expected)
    }
}

// MARK: - Against the definition

/// Checks the calendar against its definition — "the set of instants whose local wall-clock time
/// on that date lies in [start, end)" — using Foundation's `Calendar` as the reference for local
/// wall-clock time, on a 15-minute grid across a DST transition (every boundary in these zones
/// lies on that grid, so the grid is exact).
@Suite("WorkingHours: against the wall-clock definition")
struct WorkingHoursDefinitionTests {
    /// A pattern that differs per weekday and puts interval edges at and inside DST transitions.
    static let pattern: [Weekday: [String]] = [
        .sun: ["00:00-01:00", "02:00-03:00", "03:00-04:30", "22:00-24:00"],
        .mon: ["00:00-24:00"],
        .tue: ["09:00-13:00", "14:00-18:00"],
        .wed: [],
        .thu: ["01:30-02:00", "06:00-07:00"],
        .fri: ["00:00-00:30", "23:30-24:00"],
        .sat: ["02:15-02:45", "12:00-24:00"],
    ]

    @Test(arguments: [
        ("Europe/Berlin", "2026-03-27T00:00:00Z"), ("Europe/Berlin", "2026-10-23T00:00:00Z"),
        ("America/New_York", "2026-03-06T00:00:00Z"), ("America/New_York", "2026-10-30T00:00:00Z"),
        ("Australia/Lord_Howe", "2026-04-02T00:00:00Z"), ("Australia/Lord_Howe", "2026-10-01T00:00:00Z"),
        ("America/Havana", "2026-03-06T00:00:00Z"), ("Asia/Kolkata", "2026-11-20T00:00:00Z"),
        ("Europe/Moscow", "2026-11-20T00:00:00Z"),
    ])
    func matchesTheDefinition(zoneID: String, from: String) throws {
        let tz = zone(zoneID)
        let hours = calendar(zoneID, week: Self.pattern)
        var reference = Calendar(identifier: .gregorian)
        reference.timeZone = tz
        let week = Self.pattern.mapValues { $0.map(iv) }

        let start = iso(from)
        let step: TimeInterval = 900
        let grid = (0..<(4 * 96)).map { start.addingTimeInterval(Double($0) * step) }
        func referenceWorking(_ t: Date) -> Bool {
            let c = reference.dateComponents([.weekday, .hour, .minute], from: t)
            let minutes = c.hour! * 60 + c.minute!
            return (week[Weekday(rawValue: c.weekday!)!] ?? []).contains { $0.start.minutes <= minutes && minutes < $0.end.minutes }
        }
        let expected = grid.map(referenceWorking)

        for (index, t) in grid.enumerated() {
            #expect(hours.isWorking(at: t) == expected[index], "isWorking at \(formatISO(t))")
            let c = reference.dateComponents([.year, .month, .day], from: t)
            #expect(hours.localDate(of: t) == LocalDate(year: c.year!, month: c.month!, day: c.day!), "localDate of \(formatISO(t))")
            #expect(hours.startOfDay(containing: t) == reference.startOfDay(for: t), "startOfDay of \(formatISO(t))")
            if let next = expected[index...].firstIndex(of: true) {
                #expect(text(hours.nextWorkingMoment(atOrAfter: t)) == formatISO(grid[next]), "nextWorkingMoment from \(formatISO(t))")
            }
        }

        let end = start.addingTimeInterval(Double(grid.count) * step)
        let spans = hours.workingSpans(from: start, to: end)
        #expect(total(spans) == Double(expected.filter { $0 }.count) * step)
        for (index, t) in grid.enumerated() {
            #expect(spans.contains { $0.start <= t && t < $0.end } == expected[index], "span coverage at \(formatISO(t))")
        }
        for (a, b) in zip(spans, spans.dropFirst()) {
            #expect(a.end < b.start, "spans must be ordered, disjoint and maximal: \(text([a, b]))")
        }
        #expect(spans.allSatisfy { $0.duration > 0 })
    }
}
