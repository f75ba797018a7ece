import Foundation
import Synchronization

/// A data file mapped read-only into memory, for training that reads its rows where they lie in the page
/// cache (no copy into a buffer of our own first).
///
/// A mapped file that another process truncates would normally kill us: touching a page past the new end
/// raises SIGBUS. `MappingGuard` turns that into an error instead: its handler, for a fault inside one of our
/// mappings, maps a page of zeros over the faulting page (so the load that faulted completes, reading 0) and
/// marks the mapping `faulted`. Readers check `checkUnchanged()` after every batch they gather, before the
/// batch is used, so those zeros never reach training: the run stops with "changed while being read". A
/// SIGBUS anywhere else gets the default action, as if no handler were installed.
final class MappedFile: @unchecked Sendable {
    // @unchecked Sendable: immutable after init; the mapping is read-only.
    let input: InputFile
    let base: UnsafeRawPointer
    let size: Int
    private let slot: Int?
    var guardSlot: Int? { slot }

    init(_ input: InputFile) throws {
        self.input = input
        size = input.size
        MappingGuard.install()
        guard size > 0, let p = MappedFile.mapAligned(input.descriptor, size: size) else {
            if size == 0 { throw DataError(file: input.path, "is empty") }
            throw DataError(file: input.path, "cannot be mapped into memory: \(String(cString: strerror(errno)))")
        }
        base = UnsafeRawPointer(p)
        slot = MappingGuard.register(UInt(bitPattern: p), UInt(bitPattern: p) + UInt(size))
        if slot == nil {
            munmap(p, size)
            throw DataError(file: input.path, "cannot be mapped: too many files mapped at once (at most \(MappingGuard.slots))")
        }
    }

    /// Maps the file at a 2 MiB-aligned address and asks for huge pages there (`MADV_HUGEPAGE`): the page cache
    /// then reads it in 2 MiB folios, each mapped by one page-table entry. With 4 KiB pages, a window of
    /// 128 MiB took 8 ms to map and 3 ms to release, every window of every epoch, against 0.1 ms; and each
    /// shuffled row read was a TLB miss. (Pages already cached in smaller folios stay as they are.)
    private static func mapAligned(_ descriptor: Int32, size: Int) -> UnsafeMutableRawPointer? {
        let huge = 2 << 20
        guard let reserved = mmap(nil, size + huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              reserved != MAP_FAILED else { return nil }
        let start = UInt(bitPattern: reserved), aligned = (start + UInt(huge) - 1) & ~UInt(huge - 1)
        guard let p = mmap(UnsafeMutableRawPointer(bitPattern: aligned), size, PROT_READ, MAP_SHARED | MAP_FIXED, descriptor, 0),
              p != MAP_FAILED else {
            munmap(reserved, size + huge)
            return nil
        }
        // The reservation's slack before and after the mapping given back.
        if aligned > start { munmap(reserved, Int(aligned - start)) }
        let end = aligned + UInt(size), reservedEnd = start + UInt(size + huge)
        if reservedEnd > end { munmap(UnsafeMutableRawPointer(bitPattern: end), Int(reservedEnd - end)) }
        madvise(p, size, MADV_HUGEPAGE)
        return p
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), size)
        MappingGuard.unregister(slot)
    }

    /// Throws when the file changed since it was opened (`InputFile.checkUnchanged`) or a read of the
    /// mapping faulted (the file was cut short under it).
    func checkUnchanged() throws {
        if MappingGuard.faulted(slot) { throw DataError(file: input.path, "changed while being read (it is shorter now)") }
        try input.checkUnchanged()
    }

    /// Asks the kernel to read bytes `range` ahead (asynchronously), or to drop them from our page tables.
    func advise(_ range: Range<Int>, willNeed: Bool) {
        _ = advisePages(range, willNeed ? MADV_WILLNEED : MADV_DONTNEED)
    }

    /// Maps the pages of bytes `range` into this process, reading them as needed, in one call
    /// (`MADV_POPULATE_READ`, Linux 5.14): a page table filled in one pass instead of a fault every 16 pages.
    /// False when the kernel cannot (older kernels) or a page is missing (a file cut short): touch the pages
    /// instead, where the SIGBUS guard sees a missing one.
    func populate(_ range: Range<Int>) -> Bool {
        advisePages(range, populateRead)
    }

    /// `advice` for the pages holding bytes `range` (from the page its first byte is on, up to the end of the
    /// file); true when the kernel took it (or there was nothing to advise).
    private func advisePages(_ range: Range<Int>, _ advice: Int32) -> Bool {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = range.lowerBound / page * page, hi = min(size, range.upperBound)
        guard hi > lo else { return true }
        return madvise(UnsafeMutableRawPointer(mutating: base + lo), hi - lo, advice) == 0
    }
}

/// MADV_POPULATE_READ (Linux 5.14; not in every C library's headers).
private let populateRead: Int32 = 22

/// The SIGBUS handler of `MappedFile` and its table of mapped ranges.
enum MappingGuard {
    static let slots = 4096
    // The table: (start, end, faulted) words per slot, in memory allocated once and never freed. A slot is
    // claimed under `lock` and its start/end written before `used` is raised; the handler reads only words
    // of slots whose range holds the faulting address; a slot is released (`used` lowered, end set to 0) only
    // after its mapping is gone, so no access to it can be in flight. Every word is an atomic (lock-free, so
    // safe in a signal handler): two threads may fault at once, and the training threads read the flags.
    nonisolated(unsafe) private static let table: UnsafeMutablePointer<Atomic<UInt>> = {
        let count = 3 * slots + 1  // + the word "any slot faulted"
        let p = UnsafeMutablePointer<Atomic<UInt>>.allocate(capacity: count)
        for i in 0..<count { (p + i).initialize(to: Atomic(0)) }
        return p
    }()

    @inline(__always) private static func word(_ i: Int) -> UInt { table[i].load(ordering: .acquiring) }
    @inline(__always) private static func set(_ i: Int, _ v: UInt) { table[i].store(v, ordering: .releasing) }
    nonisolated(unsafe) private static var used = [Bool](repeating: false, count: slots)
    private static let lock = Mutex<Void>(())
    private static let installed = Atomic<Bool>(false)

    /// Installs the handler (once per process).
    static func install() {
        guard installed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        let handler: @convention(c) (Int32, UnsafeMutablePointer<siginfo_t>?, UnsafeMutableRawPointer?) -> Void = { _, info, _ in
            let address = info.map { UInt(bitPattern: $0.pointee._sifields._sigfault.si_addr) } ?? 0
            for s in 0..<MappingGuard.slots {
                let start = MappingGuard.word(3 * s), end = MappingGuard.word(3 * s + 1)
                if address >= start && address < end {
                    let page = address & ~UInt(sysconf(Int32(_SC_PAGESIZE)) - 1)
                    _ = mmap(UnsafeMutableRawPointer(bitPattern: page), Int(sysconf(Int32(_SC_PAGESIZE))), PROT_READ,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
                    MappingGuard.set(3 * s + 2, 1)
                    MappingGuard.set(3 * MappingGuard.slots, 1)
                    return
                }
            }
            // Not ours: the default action, when the faulting access runs again.
            signal(SIGBUS, SIG_DFL)
        }
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = handler
        sigemptyset(&action.sa_mask)
        action.sa_flags = SA_SIGINFO
        sigaction(SIGBUS, &action, nil)
    }

    static func register(_ start: UInt, _ end: UInt) -> Int? {
        lock.withLock { _ in
            guard let s = used.firstIndex(of: false) else { return nil }
            used[s] = true
            set(3 * s + 2, 0)
            set(3 * s, start)
            set(3 * s + 1, end)
            return s
        }
    }

    static func unregister(_ slot: Int?) {
        guard let slot else { return }
        lock.withLock { _ in
            set(3 * slot + 1, 0)
            set(3 * slot, 0)
            used[slot] = false
        }
    }

    static func faulted(_ slot: Int?) -> Bool { slot.map { word(3 * $0 + 2) != 0 } ?? false }

    static func faulted(_ file: MappedFile) -> Bool { faulted(file.guardSlot) }

    /// Whether any mapping has faulted since the process started (one word to read per batch).
    static var anyFault: Bool { word(3 * slots) != 0 }
}
