import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// Ctrl-C, SIGTERM, checkpoints and unusable output paths, through the real binary.
@Suite(.serialized) struct InterruptTests {
    /// Starts `softlabel train ...`, waits until its first checkpoint exists (so it is training, not loading),
    /// sends `signal`, and returns the exit status and what it printed.
    private func interruptedRun(_ args: [String], checkpoint: String, signal: Int32) throws -> RunResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binaryPath())
        process.arguments = args
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning && Date() < deadline { usleep(10_000) }
        kill(process.processIdentifier, signal)
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return RunResult(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
    }

    /// SIGINT and SIGTERM: exit 130 / 143, a usable model marked as interrupted, the checkpoint, nothing else in
    /// the folder; resuming from the checkpoint ends with the uninterrupted run's bytes.
    @Test(arguments: [SIGINT, SIGTERM])
    func signalWritesTheModelAndResumeFinishesTheRun(_ signal: Int32) throws {
        let dir = scratchFolder()
        // Small batches and many epochs: long enough to be interrupted, short to finish once resumed.
        let common = ["train", packagePath("Data/catdog/train.csv"), "--hidden", "8", "--batch-size", "4", "--epochs", "60",
                      "--patience", "60", "--quiet", "--threads", "2"]
        let r = try interruptedRun(common + ["--model", dir + "/m.json", "--checkpoint", dir + "/c.bin"],
                                   checkpoint: dir + "/c.bin", signal: signal)
        #expect(r.status == 128 + signal, "\(r.stderr)")
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        #expect(r.stdout.hasPrefix("interrupted by \(name) in epoch "), "\(r.stdout)")
        let model = try ModelFile.load(path: dir + "/m.json")
        #expect(model.interrupted?.signal == name)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["c.bin", "m.json"])
        let resumed = runInProcess(common + ["--model", dir + "/m.json", "--resume", dir + "/c.bin"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(runInProcess(common + ["--model", dir + "/whole.json"]).status == 0)
        #expect(FileManager.default.contents(atPath: dir + "/m.json") == FileManager.default.contents(atPath: dir + "/whole.json"))
    }

    /// Every output path is checked before any data is read; a link to a device is refused, a link to a file is
    /// written through.
    @Test func outputPathsAreCheckedFirst() throws {
        let dir = scratchFolder()
        let data = packagePath("Data/catdog/train.csv")
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: dir + "/out", withDestinationPath: "/dev/null")
        let missing = dir + "/nowhere/x.csv"
        for (flag, path, expected) in [
            ("--plot", dir + "/sub", "\(dir)/sub: cannot write: it is a directory, expected a file name"),
            ("--log", missing, "\(missing): cannot write: folder '\(dir)/nowhere' does not exist"),
            ("--checkpoint", dir + "/out", "\(dir)/out: cannot write: it is not a regular file (a device, pipe or socket, through a link to '/dev/null'); give a file name"),
            ("--model", "", ": cannot write: the file name is empty"),
        ] {
            // The data file does not exist: only a check made before reading can give this message.
            let r = runInProcess(["train", dir + "/absent.csv", flag, path] + (flag == "--model" ? [] : ["--model", dir + "/m.json"]))
            #expect(r.status == 2)
            #expect(r.stderr.hasPrefix("softlabel train: " + expected), "\(r.stderr)")
        }
        write("old", to: dir + "/real.json")
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.json", withDestinationPath: dir + "/real.json")
        #expect(runInProcess(["train", data, "--model", dir + "/link.json", "--quiet"]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir + "/link.json") == dir + "/real.json")
        #expect(try ModelFile.load(path: dir + "/real.json").classes == ["cat", "dog"])
    }

    /// --init starts from a trained model: its network, features and standardisation.
    @Test func initFineTunesATrainedModel() throws {
        let dir = scratchFolder()
        let data = packagePath("Data/digits/train_votes.csv")
        #expect(runInProcess(["train", data, "--model", dir + "/a.json", "--hidden", "12", "--epochs", "3", "--quiet"]).status == 0)
        let r = runInProcess(["train", packagePath("Data/digits/test_votes.csv"), "--model", dir + "/b.json", "--init", dir + "/a.json",
                              "--epochs", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let a = try ModelFile.load(path: dir + "/a.json"), b = try ModelFile.load(path: dir + "/b.json")
        #expect(b.config.hidden == [12] && b.standardization == a.standardization && b.features == a.features)
        #expect(b.network != a.network)
        let clash = runInProcess(["train", data, "--model", dir + "/c.json", "--init", dir + "/a.json", "--hidden", "5"])
        #expect(clash.status == 2 && clash.stderr.contains("--hidden 5 differs from the --init model's (12)"))
    }
}
