import Foundation
import Testing

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
    static func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = try executable()
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.environment = ProcessInfo.processInfo.environment.filter { key, _ in
            !key.hasPrefix("SWITCHBOARD_") && key != "OPENAI_API_KEY" && !key.hasPrefix("TELEGRAM_")
        }
        // Output goes to files rather than pipes: nothing to drain while the child runs.
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let stdoutPath = try folder.write("stdout", "")
        let stderrPath = try folder.write("stderr", "")
        let stdout = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        let stderr = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try stdout.close()
        try stderr.close()
        return Result(
            status: process.terminationStatus, stdout: try String(contentsOfFile: stdoutPath, encoding: .utf8),
            stderr: try String(contentsOfFile: stderrPath, encoding: .utf8))
    }
}

/// A fresh folder under the system's temporary directory, removed by `remove()`.
struct TemporaryFolder {
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
