import Foundation

/// A throwaway Dovecot IMAP server for tests: its own config, passwd file and Maildir in a
/// temporary directory, listening on a loopback port without TLS (loopback may be plain).
/// As root, mail is owned by `nobody`. A watcher stops it when the test process exits, however
/// it exits. Without Dovecot the tests that need it are skipped — except under CI (`CI=true`),
/// where they run and fail.
public final class DovecotTestServer: @unchecked Sendable {
    // @unchecked: `process` is set once in `start` and only terminated in `stop`.
    public static let username = "support@example.com"
    public static let password = "imap-test-pass-0123"

    public let port: Int
    public let directory: String
    private let configPath: String
    private let process: Process

    /// Whether the IMAP tests can run here (or must, under CI).
    public static var isAvailable: Bool {
        binary != nil || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    static var binary: String? {
        ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `imap://127.0.0.1:<port>/INBOX`.
    public var url: String { "imap://127.0.0.1:\(port)/INBOX" }

    private init(port: Int, directory: String, configPath: String, process: Process) {
        self.port = port
        self.directory = directory
        self.configPath = configPath
        self.process = process
    }

    public static func start() throws -> DovecotTestServer {
        guard let dovecot = binary else {
            throw TestServerError("Dovecot not found: apt-get install dovecot-imapd")
        }
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("switchboard-dovecot-\(UUID().uuidString.prefix(8))").path
        for sub in ["run", "state", "home"] { try fm.createDirectory(atPath: "\(base)/\(sub)", withIntermediateDirectories: true) }
        try "\(username):{PLAIN}\(password)::::::\n".write(toFile: "\(base)/passwd", atomically: true, encoding: .utf8)
        // Dovecot refuses to run mail processes as root: as root, the mailbox belongs to nobody;
        // otherwise every service runs as the current user.
        let isRoot = getuid() == 0
        let user = isRoot ? "nobody" : (ProcessInfo.processInfo.environment["USER"] ?? NSUserName())
        let group = isRoot ? "nogroup" : String(getgid())
        if isRoot { try PostgresTestServer.runTool("/bin/chown", ["-R", "nobody:nogroup", "\(base)/home"]) }
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = Int.random(in: 20000..<60000)
            let config = """
                base_dir = \(base)/run
                state_dir = \(base)/state
                log_path = \(base)/dovecot.log
                info_log_path = \(base)/dovecot.log
                protocols = imap
                listen = 127.0.0.1
                ssl = no
                disable_plaintext_auth = no
                auth_mechanisms = plain login
                default_internal_user = \(user)
                default_internal_group = \(group)
                default_login_user = \(user)
                passdb {
                  driver = passwd-file
                  args = scheme=PLAIN username_format=%u \(base)/passwd
                }
                userdb {
                  driver = static
                  args = uid=\(isRoot ? "nobody" : String(getuid())) gid=\(group) home=\(base)/home/%u
                }
                mail_location = maildir:~/Maildir
                service imap-login {
                  inet_listener imap {
                    address = 127.0.0.1
                    port = \(port)
                  }
                  inet_listener imaps {
                    port = 0
                  }
                }

                """
            let configPath = "\(base)/dovecot.conf"
            try config.write(toFile: configPath, atomically: true, encoding: .utf8)
            // In the foreground (-F), as a child this object owns: a daemonizing Dovecot would keep
            // the socket Foundation watches its child through, and never look finished.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: dovecot)
            process.arguments = ["-F", "-c", configPath]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try withSignalsUnblocked { try process.run() }
            var ready = false
            for _ in 0..<200 {
                if canConnect(port: port) {
                    ready = true
                    break
                }
                if !process.isRunning { break }
                usleep(50_000)
            }
            guard ready else {
                let log = (try? String(contentsOfFile: "\(base)/dovecot.log", encoding: .utf8)) ?? ""
                lastError = TestServerError("Dovecot did not listen on \(port): \(log.suffix(1500))")
                if process.isRunning { process.terminate() }
                continue
            }
            // Stops this Dovecot and deletes its files once the test process is gone.
            let pid = process.processIdentifier
            let watcher = Process()
            watcher.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
            watcher.arguments = ["/bin/sh", "-c", "while kill -0 \(getpid()) 2>/dev/null && kill -0 \(pid) 2>/dev/null; do sleep 1; done; kill \(pid) 2>/dev/null; sleep 1; rm -rf '\(base)'"]
            watcher.standardOutput = FileHandle.nullDevice
            watcher.standardError = FileHandle.nullDevice
            try watcher.run()
            return DovecotTestServer(port: port, directory: base, configPath: configPath, process: process)
        }
        throw TestServerError("Dovecot did not start: \(lastError.map { "\($0)" } ?? "")")
    }

    /// Appends raw messages to INBOX over IMAP (`APPEND`, Python's imaplib), in order.
    public func append(_ messages: [[UInt8]]) throws {
        let folder = "\(directory)/append-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (index, message) in messages.enumerated() {
            let name = String(repeating: "0", count: max(0, 8 - String(index).count)) + String(index)
            try Data(message).write(to: URL(fileURLWithPath: "\(folder)/\(name).eml"))
        }
        let script = """
            import imaplib, os, sys
            folder, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
            m = imaplib.IMAP4('127.0.0.1', port)
            m.login(user, password)
            for name in sorted(os.listdir(folder)):
                with open(os.path.join(folder, name), 'rb') as f:
                    status, _ = m.append('INBOX', None, None, f.read())
                    if status != 'OK': raise SystemExit('APPEND failed: %s' % status)
            m.logout()
            """
        try PostgresTestServer.runTool("/usr/bin/env", ["python3", "-c", script, folder, String(port), Self.username, Self.password])
    }

    public func append(_ message: String) throws { try append([Array(message.utf8)]) }

    /// Gives INBOX a new UIDVALIDITY, as a server does after a restore or migration.
    public func changeUIDValidity(to value: UInt32) throws {
        try PostgresTestServer.runTool("/usr/bin/doveadm", ["-c", configPath, "mailbox", "update", "-u", Self.username, "--uid-validity", String(value), "INBOX"])
    }

    public func stop() {
        // Not waited for: its worker processes may hold what Foundation watches the child by.
        if process.isRunning { process.terminate() }
    }

    /// A child starts with its parent thread's blocked signals, and the threads of a Swift test
    /// process block most of them. Dovecot never unblocks them: with SIGTERM and SIGCHLD blocked
    /// it ignores `stop()` and never reaps its workers, and outlives the test run. So it is
    /// started from this thread with nothing blocked.
    static func withSignalsUnblocked<T>(_ body: () throws -> T) rethrows -> T {
        var none = sigset_t()
        var previous = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try body()
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}

/// An SMTP server for tests (Python `aiosmtpd`, the script `smtp_recorder.py`): records every
/// message it accepts; recipients named `tempfail…`, `unknown…` and `rejectdata…` get 451, 550
/// and 554. It exits when this object stops it or the test process dies (its stdin closes).
public final class SMTPTestServer: @unchecked Sendable {
    // @unchecked: the process and pipe are set once in `start` and only closed in `stop`.
    public static let username = "smtp-user"
    public static let password = "smtp-test-pass-0123"

    public let port: Int
    public let directory: String
    private let process: Process
    private let stdin: Pipe

    /// Whether the SMTP tests can run here (or must, under CI).
    public static var isAvailable: Bool { hasAiosmtpd || ProcessInfo.processInfo.environment["CI"] == "true" }

    private static let hasAiosmtpd: Bool = (try? PostgresTestServer.runTool("/usr/bin/env", ["python3", "-c", "import aiosmtpd"])) != nil

    /// `smtp://127.0.0.1:<port>`.
    public var url: String { "smtp://127.0.0.1:\(port)" }

    private init(port: Int, directory: String, process: Process, stdin: Pipe) {
        self.port = port
        self.directory = directory
        self.process = process
        self.stdin = stdin
    }

    /// - Parameter requireAuth: the server demands `username`/`password` (over plain text: loopback only).
    public static func start(requireAuth: Bool = true) throws -> SMTPTestServer {
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("switchboard-smtp-\(UUID().uuidString.prefix(8))").path
        try fm.createDirectory(atPath: base + "/mail", withIntermediateDirectories: true)
        let script = base + "/smtp_recorder.py"
        try Data(PackageResources.smtp_recorder_py).write(to: URL(fileURLWithPath: script))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-W", "ignore", script, "--dir", base + "/mail"] + (requireAuth ? ["--user", username, "--password", password] : [])
        let stdin = Pipe()
        process.standardInput = stdin
        process.standardOutput = FileHandle.nullDevice
        let log = FileHandle(forWritingAtPath: base + "/server.log") ?? {
            _ = fm.createFile(atPath: base + "/server.log", contents: nil)
            return FileHandle(forWritingAtPath: base + "/server.log")
        }()
        process.standardError = log ?? FileHandle.nullDevice
        try process.run()
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: base + "/mail/port", encoding: .utf8), let port = Int(text) {
                return SMTPTestServer(port: port, directory: base, process: process, stdin: stdin)
            }
            if !process.isRunning { break }
            usleep(50_000)
        }
        let output = (try? String(contentsOfFile: base + "/server.log", encoding: .utf8)) ?? ""
        process.terminate()
        throw TestServerError("the aiosmtpd test server did not start (python3 -m pip install aiosmtpd): \(output.suffix(1500))")
    }

    /// A message the server accepted: the raw bytes and the envelope.
    public struct Received: Sendable {
        public var raw: [UInt8]
        public var mailFrom: String
        public var recipients: [String]
        public var text: String { String(decoding: raw, as: UTF8.self) }
    }

    /// Everything accepted so far, in order.
    public var received: [Received] {
        let folder = directory + "/mail"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".eml") }.sorted()
        return names.compactMap { name in
            let base = folder + "/" + name.dropLast(4)
            guard let raw = FileManager.default.contents(atPath: folder + "/" + name),
                let envelope = FileManager.default.contents(atPath: base + ".json"),
                let json = try? JSONSerialization.jsonObject(with: envelope) as? [String: Any]
            else { return nil }
            return Received(raw: Array(raw), mailFrom: json["mail_from"] as? String ?? "", recipients: json["rcpt_tos"] as? [String] ?? [])
        }
    }

    public func stop() {
        try? stdin.fileHandleForWriting.close()
        for _ in 0..<100 where process.isRunning { usleep(20_000) }
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
