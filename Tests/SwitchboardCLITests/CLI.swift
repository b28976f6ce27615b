import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `switchboard` executable, run as a user runs it: a subprocess with arguments, an exit
/// status, standard output and standard error.
enum CLI {
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String

        var description: String { "exit \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `SWITCHBOARD_BINARY` if set, else the `switchboard` beside the test bundle in the build
    /// products folder (`swift build --build-tests` and `swift test` build both).
    static func executable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["SWITCHBOARD_BINARY"] { return URL(fileURLWithPath: path) }
        var folders = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0])]
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" { folders.append(bundle.bundleURL) }
        for start in folders {
            var folder = start
            for _ in 0..<5 {
                let candidate = folder.appendingPathComponent("switchboard")
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    FileManager.default.isExecutableFile(atPath: candidate.path)
                {
                    return candidate
                }
                folder = folder.deletingLastPathComponent()
            }
        }
        throw NotBuilt(searched: folders.map(\.path))
    }

    struct NotBuilt: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "no switchboard executable near \(searched.joined(separator: ", ")): run `swift build` first, or set SWITCHBOARD_BINARY"
        }
    }

    /// Runs `switchboard arguments…` to the end. The environment is the test's, minus the
    /// variables the shipped config reads, so its documented defaults apply.
    ///
    /// Spawned with `posix_spawn` and reaped with `waitpid` on a thread of its own: Foundation's
    /// `Process.waitUntilExit()` spins a run loop on the calling thread, which here would be one
    /// of the few threads Swift concurrency runs every test on.
    static func run(_ arguments: [String]) async throws -> Result {
        let executable = try executable().path
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let stdoutPath = folder.url.appendingPathComponent("stdout").path
        let stderrPath = folder.url.appendingPathComponent("stderr").path
        let environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("SWITCHBOARD_") && key != "OPENAI_API_KEY" && !key.hasPrefix("TELEGRAM_")
        }
        let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
            Thread.detachNewThread {
                continuation.resume(
                    with: Swift.Result<Int32, any Error> {
                        try spawnAndWait(executable, arguments, environment: environment, stdout: stdoutPath, stderr: stderrPath)
                    })
            }
        }
        return Result(
            status: status, stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "")
    }

    struct SpawnFailed: Error, CustomStringConvertible {
        var code: Int32
        var description: String { "could not start switchboard: \(String(cString: strerror(code)))" }
    }

    /// The child's standard streams, and nothing else of this process: NIO opens its sockets
    /// without `CLOEXEC`, so a child would otherwise hold a copy of every connection the other
    /// tests have open, and a connection the server closes would not end (no FIN) until the
    /// child exits. Destroy the result with `posix_spawn_file_actions_destroy`.
    static func fileActions(stdout: String, stderr: String) -> posix_spawn_file_actions_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // glibc 2.34+ (Debian 12 and later); an older glibc leaves the descriptors inherited.
        if let closeFrom { _ = closeFrom(&actions, 3) }
        return actions
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not export.
    private static let closeFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Exit status, or 128 + the signal that ended the child.
    private static func spawnAndWait(_ path: String, _ arguments: [String], environment: [String: String], stdout: String, stderr: String) throws
        -> Int32
    {
        var actions = fileActions(stdout: stdout, stderr: stderr)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw SpawnFailed(code: spawned) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw SpawnFailed(code: errno) }
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

extension CLI {
    /// A `switchboard` started in the background (`serve`), for tests that signal it.
    final class Running: Sendable {
        let pid: pid_t
        let folder: TemporaryFolder

        init(pid: pid_t, folder: TemporaryFolder) {
            self.pid = pid
            self.folder = folder
        }

        /// Standard output and standard error so far.
        var output: String {
            ["stdout", "stderr"].map { (try? String(contentsOfFile: folder.url.appendingPathComponent($0).path, encoding: .utf8)) ?? "" }
                .joined(separator: "\n")
        }

        func send(_ signal: Int32) { _ = kill(pid, signal) }

        /// Waits for the process to end: its exit status, or 128 + the signal that ended it.
        func wait() async -> Int32 {
            await withCheckedContinuation { continuation in
                Thread.detachNewThread { [pid, folder] in
                    var status: Int32 = 0
                    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                    folder.remove()
                    let signal = status & 0x7f
                    continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
                }
            }
        }
    }

    /// Starts `switchboard arguments…` and returns at once; the environment as in `run`.
    static func start(_ arguments: [String]) throws -> Running {
        let executable = try executable().path
        let folder = try TemporaryFolder()
        var actions = fileActions(stdout: folder.url.appendingPathComponent("stdout").path, stderr: folder.url.appendingPathComponent("stderr").path)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("SWITCHBOARD_") && key != "OPENAI_API_KEY" && !key.hasPrefix("TELEGRAM_")
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            folder.remove()
            throw SpawnFailed(code: spawned)
        }
        return Running(pid: pid, folder: folder)
    }
}

/// A fresh folder under the system's temporary directory, removed by `remove()`.
struct TemporaryFolder: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sb-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `text` to `name` inside the folder (creating subfolders) and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func remove() { try? FileManager.default.removeItem(at: url) }
}
