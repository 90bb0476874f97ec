import Glibc
import ParallelCore

// Secrets and nonces come from the kernel's generator.

/// Random bytes for secrets and challenges.
package enum SecureRandom {
    /// `count` bytes from the kernel's generator (`/dev/urandom`, which never blocks once the
    /// system has booted).
    /// - Throws: `ClusterFailure` when it cannot be read.
    package static func bytes(_ count: Int) throws -> [UInt8] {
        let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ClusterFailure("cannot open /dev/urandom (errno \(errno))") }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let got = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + filled, count - filled) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw ClusterFailure("cannot read /dev/urandom (errno \(errno))") }
            filled += got
        }
        return bytes
    }
}

/// A failure inside the cluster transport, in words; turned into a `ParallelError` where it
/// reaches the user.
package struct ClusterFailure: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// The text of a NUL-terminated C buffer.
func stringFromCBuffer(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

extension Array where Element == UInt8 {
    /// Bytes from hexadecimal text, or nil when it is not an even run of hex digits.
    package init?(hex: some StringProtocol) {
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self = bytes
    }
}
