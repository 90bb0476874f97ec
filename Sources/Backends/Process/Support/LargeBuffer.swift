import Glibc

/// Advice to the kernel about large buffers this process is about to fill.
enum LargeBuffer {
    /// Below this, huge pages are not worth a system call.
    static let hugePageThreshold = 8 << 20

    /// Asks for transparent huge pages (2 MiB) for the whole pages inside `buffer`, which this
    /// process owns and is about to write from start to end.
    ///
    /// Filling 200 MB of fresh memory takes a page fault per 4 KiB page (51,200 of them); with
    /// huge pages it takes about a hundred. Measured on this project's machines (THP in
    /// `madvise` mode, the common default): reading 200 MB out of shared memory into a fresh
    /// array fell from 130–300 ms to 70–80 ms. A hint only: where THP is off or unavailable the
    /// call fails or does nothing and the copy runs as before, so its result is ignored.
    static func preferHugePages(_ buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count >= hugePageThreshold, let base = buffer.baseAddress else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard pageSize > 0 else { return }
        let start = (UInt(bitPattern: base) + UInt(pageSize - 1)) & ~UInt(pageSize - 1)
        let end = (UInt(bitPattern: base) + UInt(buffer.count)) & ~UInt(pageSize - 1)
        guard end > start, let aligned = UnsafeMutableRawPointer(bitPattern: start) else { return }
        _ = madvise(aligned, Int(end - start), MADV_HUGEPAGE)
    }
}
