import CParallelSupport

// SHA-256 (FIPS 180-4), written here because the package takes no dependencies and Foundation on
// Linux offers no hash. Memory names cache entries with it; the cluster backends hash their
// executable (the build identity workers must share) and authenticate workers with HMAC over it.
// The block function is C (CParallelSupport/sha256.c): in Swift it ran at 3.5 MB/s in debug
// builds, and every remote worker hashes its executable, tens of megabytes, when it starts.

/// An incremental SHA-256 hasher.
///
/// ```swift
/// var hasher = SHA256()
/// hasher.update(Array("abc".utf8))
/// let digest = hasher.finalize()   // 32 bytes
/// ```
/// - Complexity: O(n) in the bytes fed (about 27 MB/s in a debug build on this machine).
/// - Concurrency: a value type; one instance is used by one thread at a time.
package struct SHA256: Sendable {
    /// The digest length in bytes.
    package static let digestSize = 32
    /// The block length in bytes (HMAC pads its key to this).
    package static let blockSize = 64

    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    /// A partial block waiting for more bytes (fewer than 64).
    private var pending: [UInt8] = []
    private var totalBytes: UInt64 = 0

    /// A hasher that has seen nothing.
    package init() { pending.reserveCapacity(Self.blockSize) }

    /// The digest of `bytes` in one step.
    package static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// Feeds more bytes.
    package mutating func update(_ bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    /// Feeds the bytes at `raw`.
    package mutating func update(_ raw: UnsafeRawBufferPointer) {
        totalBytes &+= UInt64(raw.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(Self.blockSize - pending.count, raw.count)
            pending.append(contentsOf: raw[0..<take])
            offset = take
            guard pending.count == Self.blockSize else { return }
            pending.withUnsafeBytes { compress($0.baseAddress!, blocks: 1) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = (raw.count - offset) / Self.blockSize
        if whole > 0 {
            compress(raw.baseAddress! + offset, blocks: whole)
            offset += whole * Self.blockSize
        }
        if offset < raw.count { pending.append(contentsOf: raw[offset...]) }
    }

    /// Feeds an integer as 8 little-endian bytes.
    package mutating func update(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { update($0) }
    }

    /// Feeds a string as its UTF-8 byte count (8 bytes) and bytes, so that consecutive strings
    /// cannot run into each other ("ab" + "c" ≠ "a" + "bc").
    package mutating func update(lengthPrefixed string: String) {
        var string = string
        string.withUTF8 { utf8 in
            update(UInt64(utf8.count))
            update(UnsafeRawBufferPointer(utf8))
        }
    }

    /// The 32-byte digest; the hasher is spent.
    package mutating func finalize() -> [UInt8] {
        let bitLength = totalBytes &* 8
        var tail = pending
        tail.append(0x80)
        while tail.count % Self.blockSize != 56 { tail.append(0) }
        withUnsafeBytes(of: bitLength.bigEndian) { tail.append(contentsOf: $0) }
        tail.withUnsafeBytes { compress($0.baseAddress!, blocks: $0.count / Self.blockSize) }
        pending.removeAll()
        var digest: [UInt8] = []
        digest.reserveCapacity(Self.digestSize)
        for word in [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7] {
            withUnsafeBytes(of: word.bigEndian) { digest.append(contentsOf: $0) }
        }
        return digest
    }

    /// Runs the block function over `blocks` whole blocks.
    private mutating func compress(_ data: UnsafeRawPointer, blocks: Int) {
        withUnsafeMutableBytes(of: &state) { words in
            pk_sha256_blocks(
                words.baseAddress!.assumingMemoryBound(to: UInt32.self), data.assumingMemoryBound(to: UInt8.self),
                blocks)
        }
    }
}

extension Sequence<UInt8> {
    /// Lowercase hexadecimal, two digits a byte.
    package var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var utf8: [UInt8] = []
        utf8.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            utf8.append(digits[Int(byte >> 4)])
            utf8.append(digits[Int(byte & 15)])
        }
        return String(decoding: utf8, as: UTF8.self)
    }
}
