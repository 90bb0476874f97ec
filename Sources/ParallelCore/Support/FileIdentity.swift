#if canImport(Glibc)
import Glibc
#endif

/// A file's identity (device and inode), to notice a descriptor number that now names another
/// file: a number closed twice elsewhere in the program can be handed to a new file meanwhile.
///
/// Used by the process backends (each end of a worker's pipes is checked before it is written)
/// and by the tests' `OwnedDescriptor`.
package struct FileIdentity: Equatable, Sendable {
    package let device: UInt64
    package let inode: UInt64

    /// The identity of what `fd` names, or nil when it is not open.
    /// - Complexity: one `fstat`.
    package init?(of fd: Int32) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
    }
}
