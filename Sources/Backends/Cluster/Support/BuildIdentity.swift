import Foundation
import Glibc
import ParallelCore

// A worker running another build of the program would decode jobs by type name into different
// types, or not find them: the parent and every worker compare the SHA-256 of their executable's
// bytes before any job crosses.

/// The SHA-256 of this process's executable file, computed once per process.
package enum BuildIdentity {
    /// Hex digest of `/proc/self/exe`, or a description of why it could not be read (such a
    /// value never matches a real digest, so the worker is refused with that reason).
    /// - Complexity: one pass over the executable the first time, then O(1).
    package static let current: String = {
        do { return try digest(ofFile: Platform.currentExecutablePath) } catch {
            return "unreadable executable: \(error)"
        }
    }()

    /// `current`, computed on a thread of its own the first time: async callers (a backend's
    /// `startCall`) must not hold a thread of Swift's cooperative pool for that pass (seconds for
    /// a large debug build), nor park a second one in the one-time initialiser behind it; the
    /// pool has one thread per core and runs every other task of the process.
    package static func currentOffPool() async -> String {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: current) }
            thread.name = "pk-build-identity"
            thread.start()
        }
    }

    /// The SHA-256 of a file's bytes, hex.
    package static func digest(ofFile path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ClusterFailure("cannot open \(path) (errno \(errno))") }
        defer { close(fd) }
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ClusterFailure("cannot read \(path) (errno \(errno))")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return hash.finalize().hexString
    }
}
