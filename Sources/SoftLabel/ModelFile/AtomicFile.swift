import Foundation
import Synchronization

/// Whole-file writes that never leave a partial file behind: the bytes go to a hidden temporary file in the
/// target's folder, which is then renamed over the target. A symbolic link to a regular file is written
/// through (its target is replaced, the link stays); a directory, device, pipe or socket is refused, as is a
/// link to one (renaming over /dev/stdout would turn it into a regular file).
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let target = try checkWritable(path)
        let url = URL(fileURLWithPath: target)
        let tmp = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        let slot = PendingTemporary.register(tmp)
        defer { PendingTemporary.unregister(slot) }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw DataError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
        var failure: Int32 = 0
        data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                done += n
            }
        }
        if close(fd) != 0 && failure == 0 { failure = errno }
        if failure == 0 && rename(tmp, target) != 0 { failure = errno }
        if failure != 0 {
            unlink(tmp)
            throw DataError(file: path, "cannot write: \(String(cString: strerror(failure)))")
        }
    }

    /// Checks, before any work is done, that `path` can be written as an output file: its folder exists and
    /// takes new files, and it is not a directory, a device or a pipe (nor a link to one). Returns the path
    /// to write (a link's target). The error names the file and what is wrong.
    @discardableResult
    public static func checkWritable(_ path: String) throws -> String {
        if path.isEmpty { throw DataError(file: path, "cannot write: the file name is empty") }
        var target = path
        var st = stat()
        if lstat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFLNK {
                guard let resolved = realpath(path, nil) else {
                    throw DataError(file: path, "cannot write: it is a symbolic link to a missing or unreachable file")
                }
                target = String(cString: resolved)
                free(resolved)
                guard stat(target, &st) == 0 else {
                    throw DataError(file: path, "cannot write: its link target '\(target)' cannot be read")
                }
            }
            switch st.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw DataError(file: path, "cannot write: it is a directory, expected a file name")
            default:
                throw DataError(file: path, "cannot write: it is not a regular file (a device, pipe or socket" +
                                (target != path ? ", through a link to '\(target)'" : "") + "); give a file name")
            }
        }
        let dir = URL(fileURLWithPath: target).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw DataError(file: path, "cannot write: folder '\(dir)' does not exist")
        }
        // Creating a file is the only sure test (permissions, read-only file systems, quotas).
        let probe = dir + "/.softlabel-probe-\(getpid())"
        let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if fd < 0 {
            let reason = String(cString: strerror(errno))
            throw DataError(file: path, "cannot write into folder '\(dir)': \(reason)")
        }
        close(fd)
        unlink(probe)
        return target
    }
}

/// The temporary files being written (by `AtomicFile.write` and `AtomicFileWriter`), so a signal handler can
/// remove them before the process exits (`removeForSignal` only reads fixed buffers and calls unlink:
/// async-signal-safe).
public enum PendingTemporary {
    private static let capacity = 4096
    private static let slots = 16
    // Fixed buffers, one per slot. A slot is claimed (a bit of `claimed`) by the thread that registers a file,
    // which writes its path and then publishes it (a bit of `active`, release); the handler reads only active
    // slots (acquire). A slot's path is rewritten only after its `active` bit was cleared.
    nonisolated(unsafe) private static let buffer: UnsafeMutablePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: slots * (capacity + 1))
        p.initialize(repeating: 0, count: slots * (capacity + 1))
        return p
    }()
    private static let claimed = Atomic<UInt32>(0)
    private static let active = Atomic<UInt32>(0)

    /// Registers `path` for removal on a signal; returns its slot (nil when every slot is taken or the path is
    /// too long: the file is then simply not removed on a signal).
    static func register(_ path: String) -> Int? {
        let bytes = Array(path.utf8)
        guard bytes.count <= capacity else { return nil }
        while true {
            let mask = claimed.load(ordering: .acquiring)
            guard let slot = (0..<slots).first(where: { mask & (1 << UInt32($0)) == 0 }) else { return nil }
            let bit = UInt32(1) << UInt32(slot)
            if claimed.compareExchange(expected: mask, desired: mask | bit, ordering: .acquiringAndReleasing).exchanged {
                let base = buffer + slot * (capacity + 1)
                for (i, b) in bytes.enumerated() { base[i] = CChar(bitPattern: b) }
                base[bytes.count] = 0
                active.bitwiseOr(bit, ordering: .releasing)
                return slot
            }
        }
    }

    /// The file of `slot` is finished (renamed) or removed: no longer removed on a signal.
    static func unregister(_ slot: Int?) {
        guard let slot else { return }
        let bit = UInt32(1) << UInt32(slot)
        active.bitwiseAnd(~bit, ordering: .releasing)
        claimed.bitwiseAnd(~bit, ordering: .releasing)
    }

    /// Removes every temporary file being written (from a signal handler, before _exit).
    public static func removeForSignal() {
        let mask = active.load(ordering: .acquiring)
        for slot in 0..<slots where mask & (1 << UInt32(slot)) != 0 { unlink(buffer + slot * (capacity + 1)) }
    }
}

/// An output file written piece by piece (a streamed prediction, a converted data set) that appears under
/// its name only when complete: the bytes go to a hidden temporary file beside it, renamed over it by
/// `commit`; `abort` (or dropping the writer uncommitted, or a signal) removes the temporary file.
public final class AtomicFileWriter {
    public let path: String
    private let target: String
    private let tmp: String
    private var fd: Int32
    private let slot: Int?
    private var buffer: [UInt8] = []
    private var done = false
    /// Bytes written so far.
    public private(set) var bytesWritten = 0

    public init(path: String) throws {
        self.path = path
        target = try AtomicFile.checkWritable(path)
        let url = URL(fileURLWithPath: target)
        tmp = url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        slot = PendingTemporary.register(tmp)
        fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)  // read back by `rewrite`
        if fd < 0 {
            let e = errno
            PendingTemporary.unregister(slot)
            throw DataError(file: path, "cannot write: \(String(cString: strerror(e)))")
        }
        buffer.reserveCapacity(1 << 20)
    }

    deinit { abort() }

    public func write(_ raw: UnsafeRawBufferPointer) throws {
        if buffer.count + raw.count > 1 << 20 { try flush() }
        if raw.count >= 1 << 20 {
            try put(raw)
        } else {
            buffer.append(contentsOf: raw)
        }
        bytesWritten += raw.count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ text: String) throws {
        var t = text
        try t.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    private func flush() throws {
        try buffer.withUnsafeBytes { try put($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func put(_ raw: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < raw.count {
            let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw DataError(file: path, "cannot write: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Positioned write of bytes already counted (an NPY header fixed up at the end).
    func overwrite(_ bytes: [UInt8], at offset: Int) throws {
        try flush()
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(offset)) }
        if n != bytes.count { throw DataError(file: path, "cannot write: \(String(cString: strerror(errno)))") }
    }

    /// Rewrites bytes `from..<bytesWritten` in place, a block at a time, through `transform` (blocks are
    /// whole multiples of `unit` bytes).
    func rewrite(from start: Int, unit: Int, _ transform: (UnsafeMutableRawBufferPointer) -> Void) throws {
        try flush()
        let block = max(unit, (1 << 20) / unit * unit)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 16)
        defer { buffer.deallocate() }
        var at = start
        while at < bytesWritten {
            let n = min(block, bytesWritten - at)
            guard pread(fd, buffer, n, off_t(at)) == n else {
                throw DataError(file: path, "cannot read back: \(String(cString: strerror(errno)))")
            }
            transform(UnsafeMutableRawBufferPointer(start: buffer, count: n))
            guard pwrite(fd, buffer, n, off_t(at)) == n else {
                throw DataError(file: path, "cannot write: \(String(cString: strerror(errno)))")
            }
            at += n
        }
    }

    /// Puts the file in place under its name.
    public func commit() throws {
        guard !done else { return }
        try flush()
        done = true
        var failure: Int32 = 0
        if close(fd) != 0 { failure = errno }
        if failure == 0 && rename(tmp, target) != 0 { failure = errno }
        PendingTemporary.unregister(slot)
        if failure != 0 {
            unlink(tmp)
            throw DataError(file: path, "cannot write: \(String(cString: strerror(failure)))")
        }
    }

    /// Removes the temporary file (nothing of the output remains).
    public func abort() {
        guard !done else { return }
        done = true
        close(fd)
        unlink(tmp)
        PendingTemporary.unregister(slot)
    }
}
