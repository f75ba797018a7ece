import Foundation
import SoftLabelCLI

/// The built `softlabel` binary: it sits next to the test bundle in the build folder.
func binaryPath() -> String {
    let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
                  ?? CommandLine.arguments[0])
    var dir = exe.deletingLastPathComponent()
    // On Linux the tests run from <build>/<name>PackageTests.xctest; on macOS from inside a bundle.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("softlabel").path) && dir.path != "/" {
        dir.deleteLastPathComponent()
    }
    return dir.appendingPathComponent("softlabel").path
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the real binary with `args` and captures everything it prints.
func runBinary(_ args: [String]) throws -> RunResult { try launch(args) }

/// Starts the real binary with `args` (`prepare` may set up the process first, e.g. its standard input),
/// lets `started` act on it while it runs (feed its input, signal it), then collects what it printed and its
/// exit status.
func launch(_ args: [String], prepare: (Process) -> Void = { _ in }, started: (Process) -> Void = { _ in }) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binaryPath())
    process.arguments = args
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    prepare(process)
    try process.run()
    started(process)
    // Read before waiting so a large output cannot fill the pipe and block the child.
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                     stderr: String(decoding: e, as: UTF8.self))
}

/// Runs a command line in-process and captures what it prints.
func runInProcess(_ args: [String]) -> RunResult {
    var out = "", err = ""
    let status = SoftLabelCLI.run(args, console: Console(out: { out += $0 }, err: { err += $0 }))
    return RunResult(status: status, stdout: out, stderr: err)
}


/// A new empty folder for a test's output files.
func scratchFolder() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("softlabel-cli-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.path
}

func write(_ text: String, to path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
}
