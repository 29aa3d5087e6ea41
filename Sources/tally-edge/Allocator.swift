import CJemalloc

/// tally-edge allocates with jemalloc: linked before the C library, its `malloc` and `free` are the
/// process's. The request path allocates and frees on two event loops and the buffer's writer, where
/// jemalloc's per-thread caches took about a tenth off the edge's CPU per request (docs/performance.md).
enum Allocator {
    /// "jemalloc 5.3.0", or why the allocator is not jemalloc.
    static var description: String {
        var version: UnsafePointer<CChar>?
        var size = MemoryLayout<UnsafePointer<CChar>?>.size
        guard mallctl("version", &version, &size, nil, 0) == 0, let version else {
            return "the C library's (jemalloc's control interface did not answer)"
        }
        // jemalloc counts what this thread allocated through it: an allocation by the Swift runtime (an
        // array's storage, which the runtime gets from malloc) must move the count.
        let before = allocatedByThread()
        let block = [UInt8](repeating: 1, count: 4096)
        let after = allocatedByThread()
        withExtendedLifetime(block) {}
        guard let before, let after, after > before else {
            return "the C library's (jemalloc \(String(cString: version)) is loaded but does not serve malloc)"
        }
        return "jemalloc \(String(cString: version))"
    }

    /// Hands the pages that start-up freed back to the system now. Reading the detection databases
    /// parses megabytes of YAML and JSON and frees most of it again; jemalloc would keep those pages for
    /// up to ten seconds of allocator activity, and an idle edge has next to none, so it would hold them
    /// until traffic came. Returns whether jemalloc did it.
    @discardableResult
    static func returnFreedPages() -> Bool {
        // This thread's cache first (it did the loading), then every arena (MALLCTL_ARENAS_ALL).
        mallctl("thread.tcache.flush", nil, nil, nil, 0) == 0
            && mallctl("arena.\(MALLCTL_ARENAS_ALL).purge", nil, nil, nil, 0) == 0
    }

    private static func allocatedByThread() -> UInt64? {
        var bytes: UInt64 = 0
        var size = MemoryLayout<UInt64>.size
        return mallctl("thread.allocated", &bytes, &size, nil, 0) == 0 ? bytes : nil
    }
}
