import Foundation

/// When to retry a chat-completions call and how long to wait, as protocols.md §5.3 and the
/// official `openai-python` client do it. Pure: headers and time in, decisions out.
struct RetryPolicy: Sendable, Hashable {
    /// The first fallback wait; doubles with every retry.
    var initialDelay: Duration = .milliseconds(500)
    /// The longest fallback wait.
    var maxDelay: Duration = .seconds(8)
    /// Header waits above this are not waited for inline (the scheduler may still use them).
    var maxHeaderDelay: Duration = .seconds(60)

    /// Whether a failed response is worth retrying.
    ///
    /// Quota errors and request errors (400/401/403/404) are final even if a proxy says otherwise:
    /// repeating them only burns the retry budget. Then `x-should-retry` decides when present,
    /// else 408, 409, 429 and 5xx are retried.
    func shouldRetry(status: Int, errorCode: String?, shouldRetryHeader: String?) -> Bool {
        if errorCode == "insufficient_quota" { return false }
        if [400, 401, 403, 404].contains(status) { return false }
        switch shouldRetryHeader?.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true": return true
        case "false": return false
        default: return status == 408 || status == 409 || status == 429 || status >= 500
        }
    }

    /// The wait the server asked for: `retry-after-ms`, else `Retry-After` in seconds or as an
    /// HTTP-date. Any non-negative value; `nil` when absent or unreadable.
    func requestedDelay(retryAfterMilliseconds: String?, retryAfter: String?, now: Date) -> Duration? {
        if let text = retryAfterMilliseconds?.trimmingCharacters(in: .whitespaces), let ms = Double(text), ms.isFinite, ms >= 0 {
            return .milliseconds(ms)
        }
        guard let text = retryAfter?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if let seconds = Double(text), seconds.isFinite {
            return seconds >= 0 ? .milliseconds(seconds * 1000) : nil
        }
        if let date = Self.httpDate(text) {
            let seconds = date.timeIntervalSince(now)
            return .milliseconds(max(0, seconds) * 1000)
        }
        return nil
    }

    /// How long to wait before retry number `retry` (0 for the first retry): the server's
    /// requested delay when it is within 0…60 s, else 0.5 s × 2^retry capped at 8 s, shortened
    /// by up to 25 % (`jitter` in 0..<1) so that many clients do not retry in step.
    func delay(beforeRetry retry: Int, requested: Duration?, jitter: Double) -> Duration {
        if let requested, requested >= .zero, requested <= maxHeaderDelay {
            return requested
        }
        let exponent = min(max(retry, 0), 30)
        let backoff = min(initialDelay * Double(1 << exponent), maxDelay)
        return backoff * (1 - 0.25 * min(max(jitter, 0), 1))
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        // RFC 9110 preferred format first, then the two obsolete ones it still requires us to accept.
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
