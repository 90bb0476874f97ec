import CParallelSupport

// SHA-256 (FIPS 180-4), written here because the package takes no dependencies. Used for the
// executable's build identity and, through HMAC, for the workers' challenge-response.

/// An incremental SHA-256 hash.
///
/// ```swift
/// var hash = SHA256()
/// hash.update(Array("abc".utf8))
/// let digest = hash.finalize()   // 32 bytes
/// ```
/// - Complexity: O(n) in the bytes hashed; one 64-byte block at a time.
/// - Concurrency: a value type; each copy hashes on its own.
package struct SHA256: Sendable {
    /// The digest length in bytes.
    package static let digestSize = 32
    /// The block length in bytes (HMAC pads its key to this).
    package static let blockSize = 64

    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
        0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19
    )
    private var pending: [UInt8] = []
    private var totalLength: UInt64 = 0

    /// A hash of nothing yet.
    package init() { pending.reserveCapacity(Self.blockSize) }

    /// The digest of `bytes` in one step.
    package static func hash<Bytes: Sequence>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var hash = SHA256()
        hash.update(Array(bytes))
        return hash.finalize()
    }

    /// Adds `bytes` to the message.
    package mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// Adds the bytes at `buffer` to the message.
    package mutating func update(_ buffer: UnsafeRawBufferPointer) {
        totalLength &+= UInt64(buffer.count)
        var offset = 0
        if !pending.isEmpty {
            let take = min(Self.blockSize - pending.count, buffer.count)
            pending.append(contentsOf: buffer[0..<take])
            offset = take
            guard pending.count == Self.blockSize else { return }
            pending.withUnsafeBytes { compress($0.baseAddress!) }
            pending.removeAll(keepingCapacity: true)
        }
        let whole = (buffer.count - offset) / Self.blockSize
        if whole > 0 {
            compress(buffer.baseAddress! + offset, blocks: whole)
            offset += whole * Self.blockSize
        }
        if offset < buffer.count { pending.append(contentsOf: buffer[offset...]) }
    }

    /// Ends the message and returns its 32-byte digest.
    package mutating func finalize() -> [UInt8] {
        let bitLength = totalLength &* 8
        var tail = pending
        tail.append(0x80)
        while tail.count % Self.blockSize != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                compress(bytes.baseAddress! + offset)
                offset += Self.blockSize
            }
        }
        pending.removeAll()
        var digest: [UInt8] = []
        digest.reserveCapacity(Self.digestSize)
        for word in [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7] {
            digest += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8),
                       UInt8(truncatingIfNeeded: word)]
        }
        return digest
    }

    /// Hashes whole blocks with the C block function: in Swift it ran at 3.5 MB/s in debug
    /// builds, and a remote worker hashes its executable (tens of MB) at every start.
    private mutating func compress(_ block: UnsafeRawPointer, blocks: Int = 1) {
        withUnsafeMutableBytes(of: &state) { words in
            pk_sha256_blocks(
                words.baseAddress!.assumingMemoryBound(to: UInt32.self), block.assumingMemoryBound(to: UInt8.self), blocks)
        }
    }
}
