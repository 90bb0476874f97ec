// Decoders and containers hold raw pointers into the bytes they read. A Swift array's storage
// may not be pointed into beyond `withUnsafeBytes`, and a `Decodable` may legally keep its
// decoder after `init(from:)` returns, so the bytes live in a buffer that outlives every pointer.

/// An immutable byte buffer at a fixed address, freed when the last reference goes.
///
/// - Concurrency: `@unchecked Sendable` because the bytes are written only in `init` and never
///   mutated after, so sharing the pointer between threads is a read-only race-free access.
final class ByteStorage: @unchecked Sendable {
    /// Start of the bytes (never nil, even for an empty buffer).
    let base: UnsafeRawPointer
    /// Number of bytes.
    let count: Int

    /// Copies `bytes` into a new buffer. O(n).
    init(copying bytes: some Collection<UInt8>) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        // One memcpy for contiguous input; the generic path copies byte by byte.
        let copied: Void? = bytes.withContiguousStorageIfAvailable { source in
            if let start = source.baseAddress { buffer.baseAddress!.copyMemory(from: start, byteCount: source.count) }
        }
        if copied == nil { _ = buffer.initializeMemory(as: UInt8.self, from: bytes) }
        base = UnsafeRawPointer(buffer.baseAddress!)
        count = bytes.count
    }

    /// Takes ownership of memory allocated with `UnsafeMutableRawPointer.allocate`.
    init(adopting pointer: UnsafeMutableRawPointer, count: Int) {
        base = UnsafeRawPointer(pointer)
        self.count = count
    }

    deinit { UnsafeMutableRawPointer(mutating: base).deallocate() }

    /// The bytes as a buffer.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
