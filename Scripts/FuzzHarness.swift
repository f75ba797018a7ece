// libFuzzer entry point for Scripts/fuzz. Compiled together with Sources/SoftLabel/**/*.swift into one module
// (-module-name SoftLabel -parse-as-library -sanitize=fuzzer,address), so it calls the readers' internal API.
// The target is chosen by the environment variable SOFTLABEL_FUZZ_TARGET (one binary for every target).
//
// Every target feeds the input to a reader and checks what it promises, so a silently wrong answer is a
// finding too, not only a trap:
//   - an error is a DataError whose description is one line without control characters;
//   - a dataset has only finite features, label rows that are distributions, as many ids as rows;
//   - no file descriptor stays open (counted in /proc/self/fd after every input).
// The readers take file paths, so each input is written to one scratch file in /dev/shm (tmpfs) first.

import Foundation

/// The targets by name. A new reader gets a line here and a seed folder in Scripts/fuzz.
// Globals are nonisolated(unsafe): libFuzzer calls the entry points from its one thread only.
nonisolated(unsafe) private let targets: [String: (UnsafeBufferPointer<UInt8>) -> Void] = [
    "csv": fuzzCSV,
    "npy": fuzzNPY,
    "names": fuzzNames,
    "model": fuzzModel,
    "votes": fuzzVotes,
]

nonisolated(unsafe) private var target: (UnsafeBufferPointer<UInt8>) -> Void = { _ in }
nonisolated(unsafe) private var scratch = ""   // a folder of our own in /dev/shm
nonisolated(unsafe) private var openFiles = 0  // descriptors open before the first input (the baseline)

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["SOFTLABEL_FUZZ_TARGET"] ?? ""
    guard let t = targets[name] else {
        FileHandle.standardError.write(Data("SOFTLABEL_FUZZ_TARGET must be one of \(targets.keys.sorted()), got '\(name)'\n".utf8))
        exit(2)
    }
    target = t
    scratch = "/dev/shm/softlabel-fuzz-\(getpid())"
    mkdir(scratch, 0o700)
    atexit { removeScratch() }
    // What the process opens once and keeps (the worker pool's threads, Foundation's pipes) is opened now,
    // before the baseline count of open descriptors.
    Parallel(threads: 2).run(tasks: 2) { _ in }
    _ = try? CSVReader.read(path: file("warm.csv", "a,label:x,label:y\n1,0.5,0.5\n"), threads: 2)
    openFiles = openDescriptors().count
    return 0
}

/// What the open file descriptors point to, pipes left out: the sanitizer runtime opens a pair to its
/// symbolizer process whenever it prints a stack or a new function (the readers never make pipes).
private func openDescriptors() -> [String] {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.map { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) ?? $0 }
        .filter { !$0.hasPrefix("pipe:") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    target(UnsafeBufferPointer(start: data, count: size))
    // Checked after every input, so the input that leaks is the one saved as the crash.
    let open = openDescriptors()
    if open.count > openFiles {
        fatalError("file descriptor leak: \(open.count) open after this input, \(openFiles) before the first: \(open)")
    }
    return 0
}

private func removeScratch() {
    if let names = try? FileManager.default.contentsOfDirectory(atPath: scratch) {
        for n in names { unlink(scratch + "/" + n) }
    }
    rmdir(scratch)
}

/// Writes `bytes` to the scratch file `name` (replacing it) and returns its path.
private func file(_ name: String, _ bytes: UnsafeBufferPointer<UInt8>) -> String {
    let path = scratch + "/" + name
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    precondition(fd >= 0, "cannot write \(path)")
    var done = 0
    while done < bytes.count {
        let w = write(fd, bytes.baseAddress! + done, bytes.count - done)
        precondition(w > 0, "cannot write \(path)")
        done += w
    }
    close(fd)
    return path
}

private func file(_ name: String, _ text: String) -> String {
    Array(text.utf8).withUnsafeBufferPointer { file(name, $0) }
}

/// The one-line promise of every error message.
private func checkError(_ error: Error) {
    guard let e = error as? DataError else { fatalError("not a DataError: \(error)") }
    let text = e.description
    if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
        fatalError("error message is not one clean line: \(text.debugDescription)")
    }
}

/// What every successfully read dataset promises; also runs `inspect`'s statistics on it.
private func checkLoaded(_ loaded: LoadedData, mode: LabelMode) {
    let d = loaded.dataset
    precondition(d.count > 0 && d.ids.count == d.count, "rows and ids disagree")
    precondition(d.featureCount > 0 && d.featureNames.count == d.featureCount && Set(d.featureNames).count == d.featureCount,
                 "feature names")
    precondition(d.features.values.allSatisfy(\.isFinite), "a non-finite feature was accepted")
    if mode == .required { precondition(d.classCount >= 1, "labels required but none read") }
    precondition(Set(d.classNames).count == d.classCount && d.classCount <= DataLimits.maxClasses, "class names")
    let k = d.classCount
    if let z = d.teacherLogits {
        precondition(z.rows == d.count && z.cols == k && z.values.allSatisfy { $0.isFinite }, "teacher logits")
    }
    if let h = d.hardLabels { precondition(h.count == d.count && h.allSatisfy { (0..<k).contains($0) }, "hard labels") }
    if k > 0 {
        d.targets.values.withUnsafeBufferPointer { t in
            for i in 0..<d.count {
                var s = 0.0
                for c in 0..<k {
                    let v = t[i * k + c]
                    precondition(v.isFinite && v >= 0, "target \(v) in row \(i)")
                    s += Double(v)
                }
                precondition(abs(s - 1) < 1e-3, "target row \(i) sums to \(s)")
            }
        }
    }
    _ = DataSummary(d, parallel: Parallel(threads: 1))
}

/// First byte: bits 0-1 label mode (required / optional / ignored / required with classes ["x", "y"]),
/// bit 2 two threads, bit 3 tiny parallel chunks (the seams between them), bits 4-5 the delimiter
/// (detected, ';', tab, '|'). The rest is the CSV file.
private func fuzzCSV(_ input: UnsafeBufferPointer<UInt8>) {
    guard let options = input.first else { return }
    let path = file("data.csv", UnsafeBufferPointer(rebasing: input.dropFirst()))
    let mode: LabelMode = [.required, .optional, .ignored, .required][Int(options & 3)]
    let classes: [String]? = options & 3 == 3 ? ["x", "y"] : nil
    let small = options & 8 != 0
    do {
        let delimiter: UInt8? = [nil, UInt8(ascii: ";"), 0x09, UInt8(ascii: "|")][Int(options >> 4 & 3)]
        let loaded = try CSVReader.read(path: path, classes: classes, labels: mode, threads: options & 4 != 0 ? 2 : 1,
                                        chunkBytes: small ? 64 : 1 << 19, chunkRows: small ? 3 : 4096, delimiter: delimiter)
        checkLoaded(loaded, mode: mode)
        if let classes, mode == .required { precondition(loaded.dataset.classNames == classes, "not the model's classes") }
    } catch {
        checkError(error)
    }
}

/// First byte: bits 0-1 what the rest of the input is: 0 the features file (no labels), 1 both the features
/// and the labels file, 2 the labels file for features of matching rows, 3 as 2 with a names file of three
/// classes; bit 2 read for a model with classes ["0", "1", "2"] (with 3: ["cat", "dog", "emu"]); bit 3 with
/// 2 or 3, the input is the teacher logits (--teacher-logits) instead of the labels.
private func fuzzNPY(_ input: UnsafeBufferPointer<UInt8>) {
    guard let options = input.first else { return }
    let path = file("a.npy", UnsafeBufferPointer(rebasing: input.dropFirst()))
    let model: [String]? = options & 4 != 0 ? (options & 3 == 3 ? ["cat", "dog", "emu"] : ["0", "1", "2"]) : nil
    var source = NPYSource(features: path)
    var mode = LabelMode.required
    switch options & 3 {
    case 0:
        mode = .optional
    case 1:
        source.labels = path
    default:
        // Features of as many rows as the labels claim (capped: a header may claim 2^40 rows of nothing).
        let rows = (try? NPYArray(path: path)).map { $0.shape.first ?? 1 } ?? 1
        let n = min(max(rows, 1), 1 << 16)
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(n), 1), }"
        while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
        bytes += Array(header.utf8) + [UInt8](repeating: 0, count: 4 * n)
        source.features = bytes.withUnsafeBufferPointer { file("x.npy", $0) }
        if options & 8 != 0 { source.teacherLogits = path } else { source.labels = path }
        if options & 3 == 3 { source.classesFile = file("classes.txt", "cat\ndog\nemu\n") }
    }
    do {
        let loaded = try NPYReader.read(source, classes: model, labels: mode)
        checkLoaded(loaded, mode: mode)
        if let model, loaded.dataset.classCount > 0 { precondition(loaded.dataset.classNames == model, "not the model's classes") }
    } catch {
        checkError(error)
    }
}

/// The input is a names file (--classes / --feature-names).
private func fuzzNames(_ input: UnsafeBufferPointer<UInt8>) {
    let path = file("names.txt", input)
    do {
        let names = try NameList.read(path, what: "class")
        precondition(!names.isEmpty && Set(names).count == names.count && !names.contains(""), "names \(names)")
        for n in names {
            precondition(!n.unicodeScalars.contains { $0.properties.generalCategory == .control }, "control character in a name")
        }
    } catch {
        checkError(error)
    }
}

/// The input is a model file; one that decodes also predicts a row of zeros when it is small.
private func fuzzModel(_ input: UnsafeBufferPointer<UInt8>) {
    do {
        let model = try ModelFile.decode(Data(buffer: input), file: "model.json")
        if model.features.count <= 1 << 12 {
            let x = Matrix(rows: 1, cols: model.features.count)
            _ = try? model.logits(x, parallel: Parallel(threads: 1))  // NonFinitePrediction is an answer too
        }
    } catch {
        checkError(error)
    }
}

/// The input is a crowd vote table (task, worker, label columns).
private func fuzzVotes(_ input: UnsafeBufferPointer<UInt8>) {
    let path = file("votes.csv", input)
    do {
        let v = try VoteTable.read(path: path)
        precondition(v.voteCount > 0 && v.worker.count == v.voteCount && v.task.count == v.voteCount, "vote arrays")
        precondition(v.classCount >= 2 && Set(v.classes).count == v.classCount, "classes \(v.classes)")
        precondition(v.taskStart.count == v.taskCount + 1 && v.taskStart.last == v.voteCount, "task starts")
        for i in 0..<v.taskCount { precondition(v.taskStart[i] < v.taskStart[i + 1], "a task without votes") }
        for n in 0..<v.voteCount {
            precondition((0..<Int32(v.taskCount)).contains(v.task[n]) && (0..<Int32(v.workerCount)).contains(v.worker[n])
                         && (0..<Int32(v.classCount)).contains(v.label[n]), "vote \(n) has a code out of range")
        }
    } catch {
        checkError(error)
    }
}
