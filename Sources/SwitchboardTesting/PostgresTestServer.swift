import Foundation

/// A PostgreSQL server for tests: the one `SWITCHBOARD_TEST_POSTGRES_URL` names, or else a
/// throwaway cluster this test process starts itself — `initdb` into a temporary directory,
/// `postgres` on a loopback port with `fsync=off` — and that a watcher stops and deletes when
/// the process exits (however it exits). As root, the cluster runs as `nobody`: `initdb`
/// refuses to run as root. Each test takes a database of its own (`createDatabase()`).
public struct PostgresTestServer: Sendable {
    public let host: String
    public let port: Int
    public let user: String
    public let password: String?
    /// Where `psql` is, for creating databases.
    let psql: String

    /// Whether the PostgreSQL tests can run here. Without PostgreSQL they are skipped — except
    /// under CI (`CI=true`), where they run and fail, so a missing install cannot pass unseen.
    public static var isAvailable: Bool {
        ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_URL"] != nil || binDirectory() != nil
            || ProcessInfo.processInfo.environment["CI"] == "true"
    }

    /// The server every test of this process shares, started on first use.
    /// Like every call here that runs a PostgreSQL tool, it waits on a thread of its own: a test
    /// blocking the cooperative pool (two threads on two cores) would stall every other test.
    public static func shared() async throws -> PostgresTestServer { try await onOwnThread { try sharedServer.get() } }

    private static let sharedServer = Result<PostgresTestServer, any Error> {
        if let url = ProcessInfo.processInfo.environment["SWITCHBOARD_TEST_POSTGRES_URL"] { return try fromURL(url) }
        return try startCluster()
    }

    /// A new empty database, named uniquely.
    public func createDatabase() async throws -> String {
        try await onOwnThread { try self.createDatabaseNow() }
    }

    private func createDatabaseNow() throws -> String {
        let name = "switchboard_test_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))"
        // Never a prompt (-w, no stdin): a test must fail, not wait for a password nobody types.
        var environment = ProcessInfo.processInfo.environment
        environment["PGCONNECT_TIMEOUT"] = "10"
        if let password { environment["PGPASSWORD"] = password }
        try Self.run(
            psql, ["-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", "\(port)", "-U", user, "-d", "postgres", "-c", "CREATE DATABASE \(name)"],
            environment: environment)
        return name
    }

    /// A `postgres://` URL of one database, as `storage.postgres` takes it.
    public func url(database: String) -> String {
        let credentials = password.map { "\(user):\($0)" } ?? user
        return "postgres://\(credentials)@\(host):\(port)/\(database)?sslmode=disable"
    }

    // MARK: - Starting

    private static func fromURL(_ text: String) throws -> PostgresTestServer {
        guard let url = URLComponents(string: text), let host = url.host else {
            throw TestServerError("SWITCHBOARD_TEST_POSTGRES_URL is not a postgres:// URL: use postgres://user:pass@127.0.0.1:5432/postgres")
        }
        let psql = binDirectory().map { $0 + "/psql" } ?? "psql"
        return PostgresTestServer(
            host: host, port: url.port ?? 5432, user: url.user?.removingPercentEncoding ?? "postgres", password: url.password?.removingPercentEncoding,
            psql: psql, cluster: nil)
    }

    /// Debian keeps the server binaries out of PATH, per major version: take the newest.
    static func binDirectory() -> String? {
        let fm = FileManager.default
        let root = "/usr/lib/postgresql"
        let versions = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for version in versions where fm.isExecutableFile(atPath: "\(root)/\(version)/bin/pg_ctl") { return "\(root)/\(version)/bin" }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        where ["initdb", "pg_ctl", "postgres", "psql"].allSatisfy({ fm.isExecutableFile(atPath: "\(directory)/\($0)") }) {
            return directory
        }
        return nil
    }

    /// A cluster this process started, which a test may stop and start again.
    struct Cluster: Sendable {
        let bin: String
        let base: String
        /// `runuser -u nobody --` as root (initdb and postgres refuse root), else nothing.
        let asUser: [String]
        var data: String { base + "/data" }
        var log: String { base + "/postgres.log" }
    }

    /// Set when this process started the server (not for `SWITCHBOARD_TEST_POSTGRES_URL`).
    let cluster: Cluster?

    /// A cluster of its own, for a test that stops and restarts its server (`stop()`, `start()`)
    /// without disturbing the other tests' shared one. Needs the PostgreSQL binaries.
    public static func dedicated() async throws -> PostgresTestServer { try await onOwnThread { try startCluster() } }

    /// Stops the server as an administrator restarting it would (`pg_ctl stop -m fast`): open
    /// connections are told so and closed, new ones are refused until `start()`.
    public func stop() async throws {
        try await onOwnThread { try self.stopNow() }
    }

    private func stopNow() throws {
        guard let cluster else { throw TestServerError("only a cluster this process started can be stopped: use PostgresTestServer.dedicated()") }
        let command = cluster.asUser + ["\(cluster.bin)/pg_ctl", "-D", cluster.data, "-m", "fast", "-w", "stop"]
        try Self.run(command[0], Array(command.dropFirst()), directory: cluster.base)
    }

    /// Starts a stopped cluster again on the same port, with the same data.
    public func start() async throws {
        try await onOwnThread { try self.startNow() }
    }

    private func startNow() throws {
        guard let cluster else { throw TestServerError("only a cluster this process started can be started: use PostgresTestServer.dedicated()") }
        try Self.launch(cluster, port: port)
    }

    private static func startCluster() throws -> PostgresTestServer {
        guard let bin = binDirectory() else {
            throw TestServerError("PostgreSQL binaries (initdb, pg_ctl, postgres) not found: apt-get install postgresql, or set SWITCHBOARD_TEST_POSTGRES_URL")
        }
        let fm = FileManager.default
        let base = fm.temporaryDirectory.appendingPathComponent("switchboard-pg-\(UUID().uuidString.prefix(8))").path
        try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
        // initdb and postgres refuse to run as root: as root, the cluster belongs to nobody.
        var asUser: [String] = []
        if getuid() == 0 {
            try run("/bin/chown", ["nobody", base])
            asUser = ["/usr/sbin/runuser", "-u", "nobody", "--"]
        }
        let cluster = Cluster(bin: bin, base: base, asUser: asUser)
        let initdb = asUser + ["\(bin)/initdb", "-D", cluster.data, "-U", "switchboard", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]
        try run(initdb[0], Array(initdb.dropFirst()), directory: base)
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = Int.random(in: 20000..<60000)
            do {
                try launch(cluster, port: port)
            } catch {
                lastError = error
                continue
            }
            // Stops the cluster and deletes it once this process is gone, even after a crash.
            let stop = (asUser + ["\(bin)/pg_ctl", "-D", cluster.data, "-m", "immediate", "stop"]).joined(separator: " ")
            let watcher = Process()
            watcher.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
            watcher.arguments = [
                "/bin/sh", "-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stop) >/dev/null 2>&1; rm -rf '\(base)'",
            ]
            watcher.standardOutput = FileHandle.nullDevice
            watcher.standardError = FileHandle.nullDevice
            try watcher.run()
            return PostgresTestServer(host: "127.0.0.1", port: port, user: "switchboard", password: nil, psql: "\(bin)/psql", cluster: cluster)
        }
        throw TestServerError("the test cluster did not start: \(lastError.map { "\($0)" } ?? "")")
    }

    /// Starts `cluster` on `port` and returns once its own pid file says it is ready.
    private static func launch(_ cluster: Cluster, port: Int) throws {
        let options = "-p \(port) -k \(cluster.base) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400"
        // Only what this start logs counts: a restarted cluster's log holds the last run's lines.
        let logStart = ((try? FileManager.default.attributesOfItem(atPath: cluster.log)[.size]) as? Int) ?? 0
        func log() -> String {
            guard let data = FileManager.default.contents(atPath: cluster.log), data.count >= logStart else { return "" }
            return String(decoding: data[logStart...], as: UTF8.self)
        }
        // Not waited for: Foundation learns that a child exited when every copy of a socket
        // it gave the child is closed, and the server that pg_ctl leaves running keeps one.
        // The server's own pid file says when it is ready — unlike a probe of the port, which
        // another engineer's server on the same port would answer too.
        let command = cluster.asUser + ["\(cluster.bin)/pg_ctl", "-D", cluster.data, "-l", cluster.log, "-o", options, "start"]
        let start = Process()
        start.executableURL = URL(fileURLWithPath: command[0])
        start.arguments = Array(command.dropFirst())
        start.currentDirectoryURL = URL(fileURLWithPath: cluster.base)
        start.standardOutput = FileHandle.nullDevice
        start.standardError = FileHandle.nullDevice
        try start.run()
        for _ in 0..<300 {
            let pidFile = (try? String(contentsOfFile: cluster.data + "/postmaster.pid", encoding: .utf8)) ?? ""
            let lines = pidFile.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            if lines.count > 7, lines[3] == "\(port)", lines[7] == "ready" { return }
            if log().contains("FATAL") { break }
            usleep(100_000)
        }
        let failure = TestServerError("not ready on port \(port): \(log().suffix(1500))")
        let stop = cluster.asUser + ["\(cluster.bin)/pg_ctl", "-D", cluster.data, "-m", "immediate", "stop"]
        _ = try? run(stop[0], Array(stop.dropFirst()), directory: cluster.base)
        throw failure
    }

    /// Runs a tool to its end; throws with its output when it fails. For the other test servers.
    static func runTool(_ executable: String, _ arguments: [String]) throws { try run(executable, arguments) }

    private static func run(_ executable: String, _ arguments: [String], directory: String? = nil, environment: [String: String]? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        if let environment { process.environment = environment }
        // A file, not a pipe: `pg_ctl start` leaves the server holding its output open, and a
        // pipe would never reach its end.
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-pg-\(UUID().uuidString).out").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        try? output.close()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw TestServerError("\(([executable] + arguments).joined(separator: " ")) exited \(process.terminationStatus): \(text.suffix(2000))")
        }
    }
}

struct TestServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
