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
        PendingTemporary.set(tmp)
        defer { PendingTemporary.clear() }
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

/// The temporary file an `AtomicFile.write` has open, so a signal handler can remove it before the process
/// exits (`removeForSignal` only reads a fixed buffer and calls unlink: async-signal-safe).
public enum PendingTemporary {
    private static let capacity = 4096
    // A fixed buffer, written only by the thread doing the write, while `active` is false; read by the signal
    // handler only while `active` is true (published with release/acquire).
    nonisolated(unsafe) private static let buffer: UnsafeMutablePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: 4097)
        p.initialize(repeating: 0, count: 4097)
        return p
    }()
    private static let active = Atomic<Bool>(false)

    static func set(_ path: String) {
        active.store(false, ordering: .releasing)
        let bytes = Array(path.utf8.prefix(capacity))
        for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
        buffer[bytes.count] = 0
        active.store(bytes.count == path.utf8.count, ordering: .releasing)
    }

    static func clear() { active.store(false, ordering: .releasing) }

    /// Removes the temporary file being written, if any (from a signal handler, before _exit).
    public static func removeForSignal() {
        if active.load(ordering: .acquiring) { unlink(buffer) }
    }
}
