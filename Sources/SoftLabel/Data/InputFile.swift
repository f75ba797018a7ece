import Foundation

/// A data file opened for positioned reads (`pread`): several threads can read their own regions at once,
/// and nothing holds the whole file in memory.
final class InputFile: @unchecked Sendable {
    // @unchecked Sendable: every stored property is a `let` set in init, and `pread` on one descriptor from
    // several threads is safe (it takes its own offset; nothing shares a file position).
    let path: String
    let size: Int
    private let fd: Int32
    /// The modification time when opened (seconds, nanoseconds), to tell a file rewritten in place.
    private let modified: (Int, Int)

    /// Opens `path`, turning the usual mistakes (missing, a directory, unreadable) into located errors.
    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = errno
            if e == ENOENT || e == ENOTDIR { throw DataError(file: path, "no such file") }
            if e == EACCES { throw DataError(file: path, "cannot be read (permission denied)") }
            throw DataError(file: path, "cannot be opened: \(String(cString: strerror(e)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw DataError(file: path, "cannot be read: \(String(cString: strerror(errno)))")
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw DataError(file: path, "is a directory, expected a data file")
        }
        if (st.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw DataError(file: path, "is not a regular file (pipes and devices cannot be read; save the data to a file)")
        }
        self.fd = fd
        self.size = Int(st.st_size)
        self.modified = (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec))
    }

    /// Throws when the file is no longer as it was when opened: another size (truncated, appended to) or
    /// another modification time (written in place). Streaming reads call it after every block, so a data
    /// file that changes during a long run is an error naming it, not a silently mixed data set.
    func checkUnchanged() throws {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DataError(file: path, "cannot be read: \(String(cString: strerror(errno)))") }
        if Int(st.st_size) < size { throw DataError(file: path, "changed while being read (it is shorter now)") }
        if Int(st.st_size) != size || (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)) != modified {
            throw DataError(file: path, "changed while being read (it was modified after it was opened)")
        }
    }

    /// A file already open as `fd` (owned from now on), named `path` in messages.
    private init(fd: Int32, path: String, size: Int) {
        self.fd = fd
        self.path = path
        self.size = size
        var st = stat()
        modified = fstat(fd, &st) == 0 ? (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec)) : (0, 0)
    }

    /// Standard input, named "<stdin>": used in place when it is a regular file (`< data.csv`); otherwise
    /// (a pipe) copied to a temporary file that is unlinked at once, so the readers can make their positioned,
    /// parallel passes and nothing is left behind however the process ends.
    static func standardInput() throws -> InputFile {
        let name = "<stdin>"
        var st = stat()
        guard fstat(0, &st) == 0 else { throw DataError(file: name, "cannot be read: \(String(cString: strerror(errno)))") }
        if (st.st_mode & S_IFMT) == S_IFREG {
            // A file read from its start is used in place; one already partly read is copied from where it is.
            if lseek(0, 0, SEEK_CUR) == 0 {
                let fd = dup(0)
                guard fd >= 0 else { throw DataError(file: name, "cannot be read: \(String(cString: strerror(errno)))") }
                return InputFile(fd: fd, path: name, size: Int(st.st_size))
            }
        }
        return try spool(from: 0, name: name)
    }

    /// Copies everything readable from `source` into an unlinked temporary file.
    private static func spool(from source: Int32, name: String) throws -> InputFile {
        let dir = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((dir + "/softlabel-stdin-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw DataError(file: name, "cannot be spooled to a temporary file in \(dir): \(String(cString: strerror(errno)))")
        }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let r = systemRead(source, buffer, chunk)
            if r < 0 {
                if errno == EINTR { continue }
                let message = String(cString: strerror(errno))
                close(fd)
                throw DataError(file: name, "read failed: \(message)")
            }
            if r == 0 { break }
            var written = 0
            while written < r {
                let w = write(fd, buffer + written, r - written)
                if w < 0 {
                    if errno == EINTR { continue }
                    let message = String(cString: strerror(errno))
                    close(fd)
                    throw DataError(file: name, "cannot be spooled to a temporary file in \(dir): \(message)")
                }
                written += w
            }
            total += r
        }
        return InputFile(fd: fd, path: name, size: total)
    }

    deinit { close(fd) }

    /// The open file descriptor (for mapping the file).
    var descriptor: Int32 { fd }

    /// Reads up to `count` bytes at `offset` into `buffer`; fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawPointer, count: Int, at offset: Int) throws -> Int {
        var done = 0
        while done < count {
            let r = pread(fd, buffer + done, count - done, off_t(offset + done))
            if r < 0 {
                if errno == EINTR { continue }
                throw DataError(file: path, "read failed: \(String(cString: strerror(errno)))")
            }
            if r == 0 { break }
            done += r
        }
        return done
    }

    /// The first `count` bytes (or the whole file when shorter).
    func prefix(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: min(count, size))
        let n = try bytes.withUnsafeMutableBytes { try read(into: $0.baseAddress!, count: $0.count, at: 0) }
        return Array(bytes[..<n])
    }
}

/// read(2), named apart from `InputFile.read`.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    return Glibc.read(fd, buffer, count)
    #else
    return Darwin.read(fd, buffer, count)
    #endif
}

/// A growable byte buffer with 16 spare bytes after its capacity: room for a 0 sentinel after the data (number
/// scans stop there) and for the 8-byte loads of the digit scanner.
struct ByteBuffer {
    private(set) var storage: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity + 16)
        (storage + capacity).initialize(repeating: 0, count: 16)
    }

    /// Grows to at least `needed` bytes, keeping the first `keep` bytes.
    mutating func reserve(_ needed: Int, keep: Int) {
        guard needed > capacity else { return }
        let newCapacity = max(needed, capacity * 2)
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity + 16)
        (bigger + newCapacity).initialize(repeating: 0, count: 16)
        bigger.update(from: storage, count: keep)
        storage.deallocate()
        storage = bigger
        capacity = newCapacity
    }

    func free() { storage.deallocate() }
}

/// What the first bytes of a file say about it, when they say it is not UTF-8 CSV text.
/// `whole` says whether `head` is the whole file.
func sniffNonCSV(_ head: [UInt8], whole: Bool, file: String) -> DataError? {
    func starts(_ magic: [UInt8]) -> Bool { head.starts(with: magic) }
    if head.isEmpty || (whole && head.allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
        return DataError(file: file, "is empty, expected a header row and data rows")
    }
    if starts([0xFF, 0xFE, 0, 0]) || starts([0, 0, 0xFE, 0xFF]) {
        return DataError(file: file, line: 1, "is UTF-32 text, expected UTF-8 CSV")
    }
    if starts([0xFF, 0xFE]) || starts([0xFE, 0xFF]) {
        return DataError(file: file, line: 1, "is UTF-16 text, expected UTF-8 CSV")
    }
    if starts([0x93] + Array("NUMPY".utf8)) {
        return DataError(file: file, "is an NPY array, expected CSV text (pass NPY files with --features/--labels)")
    }
    if starts([0x1F, 0x8B]) { return DataError(file: file, "is gzip-compressed, expected CSV text (decompress it first)") }
    if starts(Array("PK\u{03}\u{04}".utf8)) {
        return DataError(file: file, "is a ZIP archive (an Excel .xlsx file?), expected CSV text (export it as CSV)")
    }
    if starts(Array("PAR1".utf8)) { return DataError(file: file, "is a Parquet file, expected CSV text") }
    // UTF-16 without a byte-order mark: ASCII text with every other byte 0.
    let pairs = head.prefix(64).count / 2
    if pairs >= 2 {
        let zerosOdd = (0..<pairs).filter { head[2 * $0 + 1] == 0 && head[2 * $0] != 0 }.count
        let zerosEven = (0..<pairs).filter { head[2 * $0] == 0 && head[2 * $0 + 1] != 0 }.count
        if zerosOdd == pairs || zerosEven == pairs {
            return DataError(file: file, line: 1, "is UTF-16 text (no byte-order mark), expected UTF-8 CSV")
        }
    }
    if let z = head.firstIndex(of: 0) {
        return DataError(file: file, "contains a NUL byte at offset \(z): binary data, expected UTF-8 CSV text")
    }
    return nil
}

/// Text for a message: the cell's first 40 characters, with invalid UTF-8 shown as U+FFFD.
func shown(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    let s = String(decoding: bytes, as: UTF8.self)
    return s.count > 40 ? String(s.prefix(40)) + "..." : s
}

/// Text for a message: its first 40 characters.
func shown(_ text: String) -> String {
    text.count > 40 ? String(text.prefix(40)) + "..." : text
}

/// The problem with bytes that should be UTF-8 text, if any: a NUL (binary data) or invalid UTF-8.
func textProblem(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    if let z = bytes.firstIndex(of: 0) {
        return "contains a NUL byte (at cell offset \(z)): binary data, expected UTF-8 CSV text"
    }
    if String(validating: bytes, as: UTF8.self) == nil {
        let bad = bytes.first { $0 >= 0x80 }.map { String(format: "0x%02X", $0) } ?? "?"
        return "is not valid UTF-8 text (byte \(bad)); expected UTF-8 (re-save the file as UTF-8)"
    }
    return nil
}
