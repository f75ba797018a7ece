import Foundation
import Testing
import TestSupport

/// Runs the binary with `input` on its standard input: a pipe fed with `data`, or an open file.
func runBinary(_ args: [String], stdin input: Any) throws -> RunResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binaryPath())
    process.arguments = args
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let pipe = Pipe()
    if let data = input as? Data {
        process.standardInput = pipe
        try process.run()
        // Feed the pipe from another thread so a large input cannot deadlock against the output pipes.
        let writer = Thread {
            pipe.fileHandleForWriting.write(data)
            try? pipe.fileHandleForWriting.close()
        }
        writer.start()
    } else {
        process.standardInput = input as! FileHandle
        try process.run()
    }
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return RunResult(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                     stderr: String(decoding: e, as: UTF8.self))
}

/// `-` reads the data from standard input (piped: spooled to an unlinked temporary file; redirected from a
/// file: read in place), for predict and eval; errors name "<stdin>" and print nothing on stdout.
@Suite struct StandardInputTests {
    let train = packagePath("Data/catdog/train.csv"), test = packagePath("Data/catdog/test.csv")

    @Test func predictAndEvalReadStandardInput() throws {
        let dir = scratchFolder()
        #expect(try runBinary(["train", train, "--model", dir + "/m.json", "--quiet"]).status == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: test))
        let fromFile = try runBinary(["predict", "--model", dir + "/m.json", test])
        let piped = try runBinary(["predict", "--model", dir + "/m.json", "-"], stdin: data)
        #expect(piped.status == 0 && piped.stdout == fromFile.stdout && piped.stderr.isEmpty, "\(piped.stderr)")

        let evalFile = try runBinary(["eval", "--json", "--model", dir + "/m.json", test])
        let evalPiped = try runBinary(["eval", "--json", "--model", dir + "/m.json", "-"], stdin: data)
        let evalRedirected = try runBinary(["eval", "--json", "--model", dir + "/m.json", "-"],
                                           stdin: try #require(FileHandle(forReadingAtPath: test)))
        #expect(evalPiped.stdout == evalFile.stdout && evalRedirected.stdout == evalFile.stdout)
        // Semicolons through a pipe, detected as from a file.
        let semi = Data(String(decoding: data, as: UTF8.self).replacingOccurrences(of: ",", with: ";").utf8)
        #expect(try runBinary(["eval", "--json", "--model", dir + "/m.json", "-"], stdin: semi).stdout == evalFile.stdout)
    }

    @Test func badStandardInputIsOneLineAndNoOutput() throws {
        let dir = scratchFolder()
        #expect(try runBinary(["train", train, "--model", dir + "/m.json", "--quiet"]).status == 0)
        var text = try String(contentsOfFile: test, encoding: .utf8)
        text += "img9999,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,oops,0.5,0.5\n"
        let r = try runBinary(["predict", "--model", dir + "/m.json", "-"], stdin: Data(text.utf8))
        #expect(r.status == 2 && r.stdout.isEmpty)
        #expect(r.stderr.hasPrefix("softlabel predict: <stdin>:122: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        let empty = try runBinary(["eval", "--model", dir + "/m.json", "-"], stdin: Data())
        #expect(empty.status == 2 && empty.stdout.isEmpty)
        #expect(empty.stderr == "softlabel eval: <stdin>: is empty, expected a header row and data rows\n")
    }
}
