import ParallelCore

// HMAC-SHA256 (RFC 2104) and a comparison whose time does not depend on where two MACs differ.

/// HMAC with SHA-256.
/// - Complexity: O(key + message).
package enum HMACSHA256 {
    /// The 32-byte authentication code of `message` under `key`.
    package static func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        var block = key.count > SHA256.blockSize ? SHA256.hash(key) : key
        block += [UInt8](repeating: 0, count: SHA256.blockSize - block.count)
        var inner = SHA256()
        inner.update(block.map { $0 ^ 0x36 })
        inner.update(message)
        let innerDigest = inner.finalize()
        var outer = SHA256()
        outer.update(block.map { $0 ^ 0x5c })
        outer.update(innerDigest)
        return outer.finalize()
    }

    /// Whether `a` equals `b`, looking at every byte whatever the first difference, so a peer
    /// cannot learn a valid MAC byte by byte from response times.
    package static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in 0..<a.count { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
