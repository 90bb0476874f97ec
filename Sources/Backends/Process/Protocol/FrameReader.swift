import Glibc

// Incremental frame parsing for both the blocking worker loop and the parent's event loop:
// bytes arrive in arbitrary pieces, frames come out whole.

/// Splits a byte stream into frames.
///
/// - Complexity: each byte is copied twice at most (into the buffer, then into its frame's body).
/// - Concurrency: not thread-safe; one owner reads one stream.
struct FrameReader: ~Copyable {
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0

    init(initialCapacity: Int = 64 * 1024) {
        capacity = initialCapacity
        buffer = UnsafeMutableRawPointer.allocate(byteCount: initialCapacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Bytes received but not yet returned as a frame.
    var pendingCount: Int { end - start }

    /// Reads once from `fd` into the buffer. Returns the byte count (0 at end of file), or -1 with
    /// `errno` set (EAGAIN for a non-blocking fd with nothing to read).
    mutating func read(from fd: Int32) -> Int {
        reserve(64 * 1024)
        let count = Glibc.read(fd, buffer + end, capacity - end)
        if count > 0 { end += count }
        return count
    }

    /// Appends bytes (for tests and fuzzing).
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        reserve(bytes.count)
        if let base = bytes.baseAddress { (buffer + end).copyMemory(from: base, byteCount: bytes.count) }
        end += bytes.count
    }

    /// The next complete frame, or nil when more bytes are needed.
    /// - Throws: `FrameError.badLength` for a length of 0 or beyond the limit.
    mutating func next() throws -> Frame? {
        guard end - start >= 4 else { return nil }
        let length = Int(UInt32(littleEndian: (buffer + start).loadUnaligned(as: UInt32.self)))
        guard length >= 1, length <= FrameLimits.maxLength else { throw FrameError.badLength(length) }
        guard end - start - 4 >= length else {
            // Make room for the frame now (up to 16 MiB: a corrupt length must not commit memory
            // the sender never sends), so the next reads fill it without regrowing often.
            reserve(min(length + 4 - (end - start), 16 << 20))
            return nil
        }
        let kind = (buffer + start + 4).load(as: UInt8.self)
        let bodyCount = length - 1
        let body = UnsafeMutableRawPointer.allocate(byteCount: max(bodyCount, 1), alignment: 16)
        body.copyMemory(from: buffer + start + 5, byteCount: bodyCount)
        start += 4 + length
        if start == end {
            start = 0
            end = 0
        }
        return Frame(rawKind: kind, body: ByteStorage(adopting: body, count: bodyCount))
    }

    /// Returns a buffer that grew for one large frame to its initial size once it is empty, so a
    /// long-lived connection does not keep the memory of its largest message.
    mutating func shrinkIfIdle(to size: Int = 64 * 1024) {
        guard start == end, capacity > 4 * size else { return }
        buffer.deallocate()
        buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        capacity = size
        start = 0
        end = 0
    }

    /// Ensures room for `extra` more bytes after `end`, compacting first and growing if needed.
    private mutating func reserve(_ extra: Int) {
        if capacity - end >= extra { return }
        if start > 0 {
            (buffer).copyMemory(from: buffer + start, byteCount: end - start)
            end -= start
            start = 0
            if capacity - end >= extra { return }
        }
        var newCapacity = capacity
        while newCapacity - end < extra { newCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        grown.copyMemory(from: buffer, byteCount: end)
        buffer.deallocate()
        buffer = grown
        capacity = newCapacity
    }
}
