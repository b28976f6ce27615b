import CCurl
import Foundation
import NIOPosix
import Synchronization

/// Where libcurl's blocking calls run: threads of their own, never a NIO event loop or the
/// Swift cooperative pool (a slow mail server would stall them). Four threads: one poller and
/// a few concurrent sends per process are plenty for mail volumes; started on first use and
/// kept for the life of the process, like NIO's own singleton pools.
enum CurlPool {
    static let shared: NIOThreadPool = {
        _ = sb_curl_global_init()
        let pool = NIOThreadPool(numberOfThreads: 4)
        pool.start()
        return pool
    }()

    /// Runs `body` on the pool. Cancelling the caller does not interrupt a transfer in flight;
    /// every transfer is bounded by its timeouts and aborts early through ``CurlTransfer/abort``.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await shared.runIfActive(body)
    }
}

/// A libcurl failure, with what the server said last.
struct CurlError: Error, Sendable, CustomStringConvertible {
    /// The `CURLcode`.
    var code: Int
    /// curl's words for it, plus its error buffer's detail.
    var message: String
    /// The last SMTP/IMAP reply code (`CURLINFO_RESPONSE_CODE`), 0 when none.
    var responseCode: Int
    /// The server's last reply line, e.g. `550 5.1.1 <ana@example.net>: user unknown`.
    var serverReply: String?
    /// The command the server's last reply answered (`RCPT TO:<…>`, `DATA`), without credentials.
    var lastCommand: String?

    static let couldNotConnect = 7
    static let writeError = 23
    static let operationTimedOut = 28
    static let abortedByCallback = 42
    static let useSSLFailed = 64
    static let loginDenied = 67
    static let remoteFileNotFound = 78
    static let peerFailedVerification = 60

    var description: String {
        var text = "\(message) (curl \(code))"
        if let serverReply { text += "; server said: \(serverReply)" }
        return text
    }
}

/// One libcurl easy handle and what its transfers collect. Not thread-safe, like the handle:
/// an owner uses it from one pool thread at a time.
final class CurlTransfer {
    private let handle: UnsafeMutableRawPointer
    private let context = Context()
    private var recipients: UnsafeMutablePointer<curl_slist>?
    /// libcurl writes into it during `perform`; allocated once so its address never moves.
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)

    /// Set from any thread: the next progress tick aborts the transfer (the channel stops).
    let abort = Atomic<Bool>(false)

    final class Context {
        var received: [UInt8] = []
        var limit = Int.max
        var exceeded = false
        var upload: [UInt8] = []
        var uploadOffset = 0
        var serverLines: [String] = []
        var lastCommand: String?
        /// After `QUIT` nothing the server says matters for the outcome.
        var quitting = false
        weak var owner: CurlTransfer?
    }

    init() throws {
        _ = CurlPool.shared
        guard let handle = curl_easy_init() else { throw CurlError(code: 2, message: "curl_easy_init failed", responseCode: 0) }
        self.handle = handle
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        context.owner = self
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
        if let recipients { curl_slist_free_all(recipients) }
    }

    /// Settings every transfer shares: no signals (threads), timeouts, callbacks into `context`.
    func prepare(url: String, username: String?, password: String?, useSSL: curl_usessl, connectTimeout: Int, timeout: Int) {
        curl_easy_reset(handle)
        context.received = []
        context.limit = .max
        context.exceeded = false
        context.upload = []
        context.uploadOffset = 0
        context.serverLines = []
        context.lastCommand = nil
        context.quitting = false
        errorBuffer[0] = 0
        if let recipients {
            curl_slist_free_all(recipients)
            self.recipients = nil
        }
        set(CURLOPT_URL, url)
        set(CURLOPT_NOSIGNAL, 1)
        set(CURLOPT_CONNECTTIMEOUT, connectTimeout)
        set(CURLOPT_TIMEOUT, timeout)
        set(CURLOPT_USE_SSL, Int(useSSL.rawValue))
        set(CURLOPT_PROTOCOLS_STR, "imap,imaps,smtp,smtps")
        if let username { set(CURLOPT_USERNAME, username) }
        if let password { set(CURLOPT_PASSWORD, password) }
        _ = sb_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer)
        let opaque = Unmanaged.passUnretained(context).toOpaque()
        _ = sb_curl_setopt_data_callback(handle, CURLOPT_WRITEFUNCTION, curlWrite)
        _ = sb_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, opaque)
        _ = sb_curl_setopt_debug_callback(handle, curlDebug)
        _ = sb_curl_setopt_pointer(handle, CURLOPT_DEBUGDATA, opaque)
        // The debug callback sees the protocol dialogue: the server's reply text for errors.
        set(CURLOPT_VERBOSE, 1)
        _ = sb_curl_setopt_progress_callback(handle, curlProgress)
        _ = sb_curl_setopt_pointer(handle, CURLOPT_XFERINFODATA, opaque)
        set(CURLOPT_NOPROGRESS, 0)
    }

    func set(_ option: CURLoption, _ value: Int) { _ = sb_curl_setopt_long(handle, option, value) }

    /// libcurl copies strings it is given (since 7.17), so a temporary C string is enough.
    func set(_ option: CURLoption, _ value: String) { _ = sb_curl_setopt_string(handle, option, value) }

    func setRecipients(_ addresses: [String]) {
        var list: UnsafeMutablePointer<curl_slist>?
        for address in addresses { list = curl_slist_append(list, "<\(address)>") }
        recipients = list
        _ = sb_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, list)
    }

    func setUpload(_ bytes: [UInt8]) {
        context.upload = bytes
        context.uploadOffset = 0
        _ = sb_curl_setopt_data_callback(handle, CURLOPT_READFUNCTION, curlRead)
        _ = sb_curl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(context).toOpaque())
        set(CURLOPT_UPLOAD, 1)
        set(CURLOPT_INFILESIZE_LARGE, bytes.count)
    }

    /// Stops reading a response beyond `bytes` (the transfer fails with `writeError`).
    func limitDownload(to bytes: Int) { context.limit = bytes }

    /// Runs the transfer; returns what the server sent as the body.
    func perform() throws(CurlError) -> [UInt8] {
        let code = curl_easy_perform(handle)
        guard code != CURLE_OK else { return context.received }
        var responseCode = 0
        _ = sb_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &responseCode)
        let reply = context.serverLines.last { $0.first?.isNumber == true } ?? context.serverLines.last
        // The reply's own code is the one that failed, whatever libcurl last recorded.
        if let reply, let code = Int(reply.prefix(3)), (200..<600).contains(code) { responseCode = code }
        let detail = String(cString: errorBuffer)
        let words = String(cString: curl_easy_strerror(code))
        throw CurlError(
            code: Int(code.rawValue), message: detail.isEmpty ? words : "\(words): \(detail)", responseCode: responseCode,
            serverReply: reply.map { String($0.prefix(500)) }, lastCommand: context.lastCommand)
    }

    var exceededLimit: Bool { context.exceeded }

    /// Untagged lines the server sent for the last command (`* OK [UIDVALIDITY 1]`), as seen by
    /// the debug callback.
    var serverLines: [String] { context.serverLines }
}

private let curlWrite: sb_curl_data_callback = { buffer, size, count, opaque in
    guard let buffer, let opaque else { return 0 }
    let context = Unmanaged<CurlTransfer.Context>.fromOpaque(opaque).takeUnretainedValue()
    let length = size * count
    if context.received.count + length > context.limit {
        context.exceeded = true
        return 0
    }
    buffer.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        context.received.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
    }
    return length
}

private let curlRead: sb_curl_data_callback = { buffer, size, count, opaque in
    guard let buffer, let opaque else { return 0 }
    let context = Unmanaged<CurlTransfer.Context>.fromOpaque(opaque).takeUnretainedValue()
    let length = min(size * count, context.upload.count - context.uploadOffset)
    guard length > 0 else { return 0 }
    context.upload.withUnsafeBufferPointer { source in
        buffer.withMemoryRebound(to: UInt8.self, capacity: length) { target in
            target.update(from: source.baseAddress! + context.uploadOffset, count: length)
        }
    }
    context.uploadOffset += length
    return length
}

private let curlDebug: sb_curl_debug_callback = { _, type, data, size, opaque in
    guard let data, let opaque else { return 0 }
    let context = Unmanaged<CurlTransfer.Context>.fromOpaque(opaque).takeUnretainedValue()
    guard type == CURLINFO_HEADER_IN || type == CURLINFO_HEADER_OUT else { return 0 }
    // Only the protocol lines, which are short; a fetched message body arrives as DATA_IN.
    let text = data.withMemoryRebound(to: UInt8.self, capacity: size) { String(decoding: UnsafeBufferPointer(start: $0, count: min(size, 2048)), as: UTF8.self) }
    for line in text.split(whereSeparator: \.isNewline) where !context.quitting {
        if type == CURLINFO_HEADER_IN {
            if context.serverLines.count > 200 { context.serverLines.removeFirst(100) }
            context.serverLines.append(String(line))
        } else {
            // Never keep what carries credentials (AUTH, LOGIN and their continuation lines).
            let upper = line.uppercased()
            if upper.hasPrefix("QUIT") {
                context.quitting = true
                continue
            }
            if upper.hasPrefix("MAIL") || upper.hasPrefix("RCPT") || upper.hasPrefix("DATA") || upper.hasPrefix("EHLO") || upper.hasPrefix("HELO")
                || upper.hasPrefix("RSET") || upper.hasPrefix("STARTTLS")
            {
                context.lastCommand = String(line)
                context.serverLines = []
            } else if upper.hasPrefix("AUTH") {
                context.lastCommand = "AUTH"
                context.serverLines = []
            } else {
                context.lastCommand = nil
            }
        }
    }
    return 0
}

private let curlProgress: sb_curl_progress_callback = { opaque, _, _, _, _ in
    guard let opaque else { return 0 }
    let context = Unmanaged<CurlTransfer.Context>.fromOpaque(opaque).takeUnretainedValue()
    return context.owner?.abort.load(ordering: .relaxed) == true ? 1 : 0
}
