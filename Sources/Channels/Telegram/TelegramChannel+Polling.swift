import Foundation
import Logging
import SwitchboardCore

extension TelegramChannel {
    /// The cursor holding the next `getUpdates` offset: the last stored `update_id` + 1.
    var offsetCursorName: String { "telegram:\(id):offset" }

    /// The shared lease that makes one process of several on a store the one polling this bot.
    var pollerLeaseName: String { "telegram:\(id):poller" }

    /// Long-polls `getUpdates` until cancelled. Where processes share a store, only the one
    /// holding the bot's polling lease polls; the others stand by and take over when it lapses
    /// (the holder stopped or died), starting from the offset the holder stored.
    func poll() async throws {
        guard let shared = environment.shared else {
            try await pollWhileHolding(nil)
            return
        }
        let lease = PollerLease(shared: shared, name: pollerLeaseName, duration: .seconds(configuration.pollTimeout + 60))
        do {
            try await pollWhenLeased(lease)
        } catch {
            await lease.releaseShielded()
            throw error
        }
        // Let a standby process (or this channel's replacement after a reload) take over now
        // rather than when the lease lapses.
        await lease.releaseShielded()
    }

    /// Polls while `lease` is this process's; stands by while another process holds it.
    private func pollWhenLeased(_ lease: PollerLease) async throws {
        var standingBy = false
        var backoff = Backoff()
        while !Task.isCancelled {
            do {
                if try await lease.renew() {
                    if standingBy { logger.notice("Took over polling this bot") }
                    standingBy = false
                    backoff.reset()
                    try await pollWhileHolding(lease)
                    continue
                }
                if !standingBy { logger.info("Another gateway process polls this bot; standing by") }
                standingBy = true
                guard await pause(.seconds(3)) else { break }
            } catch let error as TelegramError {
                throw error
            } catch {
                if Task.isCancelled { break }
                logger.warning("Could not check the polling lease", metadata: ["error": "\(error)"])
                guard await pause(backoff.next(after: nil)) else { break }
            }
        }
    }

    /// The offset advances only after the intake has durably stored a batch, and is persisted
    /// before the next request confirms the batch to Telegram. A crash in between at worst
    /// repeats a batch, which the intake deduplicates by update id; no update is lost. Returns
    /// when `lease` (if any) is lost.
    private func pollWhileHolding(_ lease: PollerLease?) async throws {
        var backoff = Backoff()
        // Telegram refuses getUpdates while a webhook is set.
        guard try await deleteWebhook(backoff: &backoff) else { return }
        guard var offset = try await loadOffset(backoff: &backoff) else { return }
        logger.info("Polling Telegram for updates", metadata: ["telegram.offset": "\(offset.map(String.init) ?? "none")"])

        var conflicts = 0
        while !Task.isCancelled {
            if let lease {
                // Renewed before every request, so it never lapses while a request is out.
                do {
                    guard try await lease.renew() else {
                        logger.warning("Lost the polling lease to another gateway process; standing by")
                        return
                    }
                } catch {
                    if Task.isCancelled { return }
                    logger.warning("Could not renew the polling lease; not polling until it is", metadata: ["error": "\(error)"])
                    guard await pause(backoff.next(after: nil)) else { return }
                    continue
                }
            }
            let batch: [PolledUpdate]
            do {
                batch = try await api.call(
                    "getUpdates",
                    GetUpdatesParameters(offset: offset, limit: 100, timeout: configuration.pollTimeout, allowedUpdates: subscribedUpdateTypes),
                    // The server holds the request up to `poll_timeout`; allow for the answer to travel.
                    timeout: .seconds(configuration.pollTimeout + 15))
            } catch let error as TelegramError {
                if error.isTokenRejected { throw error }
                if error.status == 409 {
                    if error.providerDescription?.contains("webhook") == true {
                        // Someone set a webhook after we started: take polling back.
                        guard try await deleteWebhook(backoff: &backoff) else { return }
                        continue
                    }
                    // Another instance polls the same bot. A restart overlaps briefly, so only a
                    // conflict that persists stops this one.
                    conflicts += 1
                    if conflicts >= 3 {
                        logger.error("Another process is polling this bot; stopping", metadata: ["error": "\(error)"])
                        throw error
                    }
                }
                logger.warning("getUpdates failed", metadata: ["error.label": "\(error.label)", "error": "\(error)"])
                guard await pause(backoff.next(after: error)) else { return }
                continue
            } catch {
                // Cancellation, or nothing the API client classifies.
                if Task.isCancelled { return }
                logger.warning("getUpdates failed", metadata: ["error": "\(api.redacted(String(describing: error)))"])
                guard await pause(backoff.next(after: nil)) else { return }
                continue
            }
            conflicts = 0
            backoff.reset()
            guard let last = batch.map(\.updateId).max() else { continue }

            let now = environment.clock.now()
            var messages: [InboundMessage] = []
            for polled in batch {
                guard let update = polled.update else {
                    logger.warning("Skipping an update the adapter cannot read", metadata: ["telegram.update_id": "\(polled.updateId)"])
                    continue
                }
                if let message = normalizer.normalize(update, receivedAt: now) { messages.append(message) }
            }
            if !messages.isEmpty {
                do {
                    try await environment.intake.receive(messages)
                } catch {
                    if Task.isCancelled { return }
                    // Not stored, so not confirmed: the same offset fetches the batch again.
                    logger.error("Could not store polled updates; will fetch them again", metadata: ["error": "\(error)"])
                    guard await pause(backoff.next(after: nil)) else { return }
                    continue
                }
            }
            offset = last + 1
            do {
                try await environment.cursors.setCursor(offsetCursorName, to: String(last + 1))
            } catch {
                // The next request confirms the batch to Telegram anyway, so it cannot come back
                // after a restart; the intake deduplicates if it somehow does.
                logger.warning("Could not persist the polling offset", metadata: ["error": "\(error)"])
            }
            logger.debug("Polled updates", metadata: ["telegram.updates": "\(batch.count)", "telegram.offset": "\(last + 1)"])
            await answerCallbacks(in: batch)
        }
    }

    /// `true` once the webhook is gone; `false` when cancelled first. A refused token is thrown:
    /// retrying cannot help.
    private func deleteWebhook(backoff: inout Backoff) async throws -> Bool {
        while !Task.isCancelled {
            do {
                let _: Bool = try await api.call("deleteWebhook", DeleteWebhookParameters(dropPendingUpdates: false), timeout: requestTimeout)
                return true
            } catch let error as TelegramError {
                if error.isTokenRejected { throw error }
                logger.warning("deleteWebhook failed", metadata: ["error.label": "\(error.label)", "error": "\(error)"])
                guard await pause(backoff.next(after: error)) else { return false }
            } catch {
                if Task.isCancelled { return false }
                guard await pause(backoff.next(after: nil)) else { return false }
            }
        }
        return false
    }

    /// The stored offset (`.some(nil)` when there is none yet); `nil` when cancelled first.
    private func loadOffset(backoff: inout Backoff) async throws -> Int64?? {
        while !Task.isCancelled {
            do {
                guard let text = try await environment.cursors.cursor(offsetCursorName) else { return .some(nil) }
                guard let offset = Int64(text) else {
                    logger.warning("Ignoring an unreadable polling offset", metadata: ["telegram.offset": "\(text)"])
                    return .some(nil)
                }
                return .some(offset)
            } catch {
                if Task.isCancelled { return nil }
                logger.warning("Could not read the polling offset", metadata: ["error": "\(error)"])
                guard await pause(backoff.next(after: nil)) else { return nil }
            }
        }
        return nil
    }

    /// Stops the spinner on pressed buttons. Best effort: the press is already stored, and
    /// Telegram forgets unanswered queries on its own.
    private func answerCallbacks(in batch: [PolledUpdate]) async {
        for query in batch.compactMap({ $0.update?.callbackQuery }) {
            do {
                let _: Bool = try await api.call(
                    "answerCallbackQuery", AnswerCallbackQueryParameters(callbackQueryId: query.id), timeout: requestTimeout)
            } catch {
                logger.debug("answerCallbackQuery failed", metadata: ["error": "\(api.redacted(String(describing: error)))"])
            }
        }
    }

    /// Waits a real-world duration on the gateway's clock; `false` when cancelled.
    private func pause(_ duration: Duration) async -> Bool {
        let clock = environment.clock
        do {
            try await clock.sleep(until: clock.now(plusReal: duration))
            return !Task.isCancelled
        } catch {
            return false
        }
    }
}

/// The lease on polling one bot, held in the store's shared state by one process at a time.
struct PollerLease: Sendable {
    let shared: any SharedStateStore
    let name: String
    /// Longer than one `getUpdates` request, which the lease must outlast.
    let duration: Duration
    let owner = "poller-\(UUID().uuidString.prefix(12))"

    /// Takes or extends the lease; `false` while another process holds it. Real time: leases
    /// are about processes, not the gateway's (possibly scaled) clock.
    func renew() async throws -> Bool {
        let now = Date()
        return try await shared.acquireLease(name, owner: owner, now: now, until: now.addingTimeInterval(duration.seconds))
    }

    /// Gives the lease up, even from a cancelled task (a stopping channel). Bounded: a stopping
    /// gateway does not wait on an unreachable database; the lease then lapses on its own.
    func releaseShielded() async {
        let release = Task { [shared, name, owner] in try? await shared.releaseLease(name, owner: owner, now: Date()) }
        let deadline = Task {
            try? await Task.sleep(for: .seconds(2))
            release.cancel()
        }
        _ = await release.value
        deadline.cancel()
    }
}

/// Exponential backoff for the polling loop: 1 s doubling to 60 s, or exactly what Telegram
/// asks for with `retry_after`, since retrying earlier prolongs a flood-control ban.
struct Backoff {
    private var failures = 0

    mutating func next(after error: TelegramError?) -> Duration {
        failures += 1
        if let retryAfter = error?.retryAfter { return max(retryAfter, .seconds(1)) }
        return .seconds(min(60, 1 << min(failures - 1, 6)))
    }

    mutating func reset() { failures = 0 }
}
