public import Foundation

/// A time of day as minutes after local midnight; `24:00` (1440) is a valid interval end.
public struct LocalTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let minutes: Int

    public init?(minutes: Int) {
        guard (0...1440).contains(minutes) else { return nil }
        self.minutes = minutes
    }

    /// Parses `HH:MM` (00:00 … 24:00).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            let h = Int(parts[0]), let m = Int(parts[1]), (0...24).contains(h), (0..<60).contains(m)
        else { return nil }
        self.init(minutes: h * 60 + m)
    }

    public static func < (lhs: LocalTime, rhs: LocalTime) -> Bool { lhs.minutes < rhs.minutes }
    public var description: String { String(format: "%02d:%02d", minutes / 60, minutes % 60) }
}

/// One working interval on a local day, `[start, end)`.
public struct WorkingInterval: Sendable, Hashable, CustomStringConvertible {
    public let start: LocalTime
    public let end: LocalTime

    public init(start: LocalTime, end: LocalTime) {
        self.start = start
        self.end = end
    }

    /// Parses `HH:MM-HH:MM`; the result may be inverted — validation reports that, not parsing.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2,
            let s = LocalTime(parts[0].trimmingCharacters(in: .whitespaces)),
            let e = LocalTime(parts[1].trimmingCharacters(in: .whitespaces))
        else { return nil }
        self.init(start: s, end: e)
    }

    public var isInverted: Bool { end <= start }
    public func overlaps(_ other: WorkingInterval) -> Bool { start < other.end && other.start < end }
    public var description: String { "\(start)-\(end)" }
}

/// Days of the week, numbered as `Calendar` numbers them (Sunday = 1).
public enum Weekday: Int, Sendable, CaseIterable, Hashable {
    case sun = 1, mon, tue, wed, thu, fri, sat

    /// The YAML key: `mon` … `sun`.
    public var key: String { String(describing: self) }
    public init?(key: String) {
        guard let day = Weekday.allCases.first(where: { $0.key == key }) else { return nil }
        self = day
    }
}

/// A calendar date without a time zone (a "local day").
public struct LocalDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01 in the proleptic Gregorian calendar.
    public let dayNumber: Int

    public init(dayNumber: Int) { self.dayNumber = dayNumber }

    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        let n = LocalDate.daysFromCivil(year, month, day)
        guard LocalDate.civilFromDays(n) == (year, month, day) else { return nil }
        dayNumber = n
    }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let p = text.split(separator: "-", omittingEmptySubsequences: false)
        guard p.count == 3, p[0].count == 4, p[1].count == 2, p[2].count == 2, p.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            let y = Int(p[0]), let m = Int(p[1]), let d = Int(p[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public var components: (year: Int, month: Int, day: Int) { LocalDate.civilFromDays(dayNumber) }
    public var weekday: Weekday {
        // 1970-01-01 was a Thursday.
        Weekday(rawValue: ((dayNumber % 7 + 7 + 4) % 7) + 1)!
    }
    public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }
    public static func < (l: LocalDate, r: LocalDate) -> Bool { l.dayNumber < r.dayNumber }
    public var description: String {
        let c = components
        return String(format: "%04d-%02d-%02d", c.year, c.month, c.day)
    }

    // Howard Hinnant's civil-date algorithms: exact, branch-light, no Calendar needed.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

/// When an employee works: a weekly pattern in one IANA time zone, with special days that
/// replace the pattern on their date.
///
/// An interval is the set of instants whose local wall-clock time on that date lies in
/// `[start, end)`. That one definition settles DST: an interval starting inside a
/// spring-forward gap starts when the clocks jump; a fall-back hour that repeats is worked twice.
public struct WorkingHours: Sendable, Hashable {
    public let timeZone: TimeZone
    public let week: [Weekday: [WorkingInterval]]
    /// A date listed here with an empty array is a day off.
    public let specialDays: [LocalDate: [WorkingInterval]]

    public init(timeZone: TimeZone, week: [Weekday: [WorkingInterval]], specialDays: [LocalDate: [WorkingInterval]] = [:]) {
        self.timeZone = timeZone
        self.week = week.mapValues { $0.sorted { $0.start < $1.start } }
        self.specialDays = specialDays.mapValues { $0.sorted { $0.start < $1.start } }
    }

    /// Every day, all day, in UTC — the calendar of an employee with no `working_hours`.
    public static let always = WorkingHours(
        timeZone: TimeZone(identifier: "UTC")!,
        week: Dictionary(uniqueKeysWithValues: Weekday.allCases.map { ($0, [WorkingInterval(start: LocalTime(minutes: 0)!, end: LocalTime(minutes: 1440)!)]) }))

    /// How far ahead `nextWorkingMoment` looks before concluding there is no working time.
    static let horizonDays = 800

    /// True when some date — a weekday or a special day — has working time.
    public var hasAnyWorkingTime: Bool {
        week.values.contains { !$0.isEmpty } || specialDays.values.contains { !$0.isEmpty }
    }

    public func intervals(on date: LocalDate) -> [WorkingInterval] {
        specialDays[date] ?? week[date.weekday] ?? []
    }

    public func isWorking(at instant: Date) -> Bool {
        nextWorkingMoment(atOrAfter: instant) == instant
    }

    /// The first instant at or after `instant` at which the employee works, or `nil` when the
    /// calendar has no working time within about two years.
    public func nextWorkingMoment(atOrAfter instant: Date) -> Date? {
        let today = localDate(of: instant)
        for offset in -1...WorkingHours.horizonDays {
            let date = today.adding(days: offset)
            for interval in intervals(on: date) {
                let span = instants(of: interval, on: date)
                // `span.end <= span.start`: the interval lies entirely in a DST gap and has no instants.
                if span.end <= instant || span.end <= span.start { continue }
                return max(span.start, instant)
            }
        }
        return nil
    }

    /// The working spans that overlap `[from, to)`, clipped to it, in order; spans that touch
    /// (an interval ending at 24:00 and the next day's starting at 00:00) are merged into one.
    public func workingSpans(from: Date, to: Date) -> [DateInterval] {
        guard from < to else { return [] }
        var result: [DateInterval] = []
        var date = localDate(of: from).adding(days: -1)
        let last = localDate(of: to).adding(days: 1)
        while date <= last {
            for interval in intervals(on: date) {
                let span = instants(of: interval, on: date)
                let s = max(span.start, from)
                let e = min(span.end, to)
                guard s < e else { continue }
                if let last = result.last, last.end >= s {
                    result[result.count - 1] = DateInterval(start: last.start, end: max(last.end, e))
                } else {
                    result.append(DateInterval(start: s, end: e))
                }
            }
            date = date.adding(days: 1)
        }
        return result
    }

    /// The local date of an instant in this calendar's time zone.
    public func localDate(of instant: Date) -> LocalDate {
        let local = instant.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: instant))
        return LocalDate(dayNumber: Int((local / 86400).rounded(.down)))
    }

    /// The instants an interval covers on a date; a start inside a DST gap becomes the moment
    /// the clocks jump, an ambiguous time resolves to its first occurrence.
    func instants(of interval: WorkingInterval, on date: LocalDate) -> DateInterval {
        let start = instant(on: date, minutes: interval.start.minutes)
        let end = instant(on: date, minutes: interval.end.minutes)
        return DateInterval(start: start, end: max(start, end))
    }

    /// The first instant of a local date.
    public func startOfDay(containing instant: Date) -> Date {
        self.instant(on: localDate(of: instant), minutes: 0)
    }

    /// The first instant whose local wall-clock time is at or after `minutes` on `date`.
    public func instant(on date: LocalDate, minutes: Int) -> Date {
        let wall = Double(date.dayNumber) * 86400 + Double(minutes) * 60
        let before = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: wall - 86400))
        let after = timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: wall + 86400))
        var candidates: [Double] = []
        for offset in Set([before, after]) {
            let t = wall - Double(offset)
            if timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: t)) == offset { candidates.append(t) }
        }
        if let first = candidates.min() { return Date(timeIntervalSince1970: first) }
        // The wall time falls in a gap: find the transition between the two readings.
        var lo = wall - Double(max(before, after))
        var hi = wall - Double(min(before, after))
        while hi - lo > 1 {
            let mid = ((lo + hi) / 2).rounded(.down)
            if timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: mid)) == before { lo = mid } else { hi = mid }
        }
        return Date(timeIntervalSince1970: hi)
    }
}
