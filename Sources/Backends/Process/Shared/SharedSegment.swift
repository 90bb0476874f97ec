import Glibc
import ParallelCore
import Synchronization

// A region of shared memory: a memfd, or a file in a private temp folder that is unlinked as soon
// as it is open, so nothing can be left behind on disk whatever way the process ends. Workers map
// it through /proc/<owner>/fd/<n> (allowed for the same user; tried on the kernels we support), so no
// descriptor passing is needed.

/// An owned memory mapping of a shared file.
///
/// - Concurrency: `@unchecked Sendable` because its fields never change after init; the bytes are
///   shared memory whose synchronisation is the users' (as with any shared buffer).
final class SharedSegment: @unchecked Sendable {
    /// Start of the mapping (nil for an empty segment, which maps nothing, and for one made by
    /// ``create(copying:in:)``, which holds the file without mapping it).
    let base: UnsafeMutableRawPointer?
    /// Mapped length in bytes (0 when nothing is mapped).
    let byteCount: Int
    /// Whether the mapping may be written.
    let isWritable: Bool
    /// How other processes find it; nil for private memory.
    let reference: SegmentReference?
    /// The owner's descriptor (kept open so workers can reach the file); -1 in other processes.
    private let fd: Int32

    private init(
        base: UnsafeMutableRawPointer?, byteCount: Int, isWritable: Bool, reference: SegmentReference?, fd: Int32
    ) {
        self.base = base
        self.byteCount = byteCount
        self.isWritable = isWritable
        self.reference = reference
        self.fd = fd
    }

    deinit {
        if let base { munmap(base, byteCount) }
        if fd >= 0 { close(fd) }
    }

    /// The file behind a new segment: an unlinked file in `folder`, or anonymous memory (memfd).
    private static func openBackingFile(in folder: String?) throws -> Int32 {
        if let folder { return try TempFolder.shared.createUnlinkedFile(in: folder) }
        let fd = Platform.makeAnonymousSharedMemory(name: "parallelkit-array")
        guard fd >= 0 else { throw SystemError("memfd_create", errno) }
        return fd
    }

    /// Creates a segment of `byteCount` bytes, zero-filled, mapped read-write.
    /// - Parameter folder: a temp folder to hold it, or nil for anonymous memory (memfd).
    /// - Throws: `SystemError` when memory or space is short (the caller may fall back to
    ///   copying), or the folder is unusable.
    static func create(byteCount: Int, in folder: String?) throws -> SharedSegment {
        let fd = try openBackingFile(in: folder)
        do {
            try AvailableSpace.check(byteCount: byteCount, fd: fd, isAnonymous: folder == nil)
            return try mapOwned(fd: fd, byteCount: byteCount)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Creates a segment holding a copy of `bytes`, written into the file with `pwrite` and not
    /// mapped here (`base` is nil): for arrays this process only hands to workers (automatic
    /// sharing above `maxNbytes`).
    ///
    /// Writing through the file costs one copy by the kernel. Mapping it and copying would first
    /// zero every page (the `posix_fallocate` reservation), then take a page fault per 4 KiB
    /// page of the mapping: measured on 200 MB, 140–160 ms against 190–330 ms. No reservation is
    /// needed: a full file system is an `ENOSPC` from `pwrite` here, never a SIGBUS later.
    /// - Throws: `SystemError` when memory or space is short (the caller may fall back to
    ///   copying through the pipe), or the folder is unusable.
    static func create(copying bytes: UnsafeRawBufferPointer, in folder: String?) throws -> SharedSegment {
        let fd = try openBackingFile(in: folder)
        do {
            try AvailableSpace.check(byteCount: bytes.count, fd: fd, isAnonymous: folder == nil)
            var written = 0
            while written < bytes.count {
                let result = pwrite(fd, bytes.baseAddress! + written, bytes.count - written, off_t(written))
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else {
                    throw SystemError("writing \(bytes.count) bytes of shared memory", result < 0 ? errno : ENOSPC)
                }
                written += result
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw SystemError("fstat", errno) }
            let reference = SegmentReference(
                ownerPID: getpid(), fd: fd, offset: 0, byteCount: UInt64(bytes.count),
                device: UInt64(info.st_dev), inode: UInt64(info.st_ino), serial: nextSerial())
            return SharedSegment(base: nil, byteCount: 0, isWritable: false, reference: reference, fd: fd)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Segments this process has created, for ``SegmentReference/serial``.
    private static let createdSegments = Atomic<UInt64>(0)

    /// A serial no other segment of this process has.
    private static func nextSerial() -> UInt64 {
        createdSegments.add(1, ordering: .relaxed).newValue
    }

    private static func mapOwned(fd: Int32, byteCount: Int) throws -> SharedSegment {
        if byteCount > 0 {
            // Reserve the space now: a full tmpfs would otherwise surface as SIGBUS on first
            // write, long after the choice to use shared memory was made.
            let result = posix_fallocate(fd, 0, off_t(byteCount))
            guard result == 0 else { throw SystemError("reserving \(byteCount) bytes of shared memory", result) }
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError("fstat", errno) }
        let base = try map(fd: fd, byteCount: byteCount, protection: PROT_READ | PROT_WRITE, flags: MAP_SHARED)
        let reference = SegmentReference(
            ownerPID: getpid(), fd: fd, offset: 0, byteCount: UInt64(byteCount),
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), serial: nextSerial())
        return SharedSegment(base: base, byteCount: byteCount, isWritable: true, reference: reference, fd: fd)
    }

    /// How a worker maps a segment it did not create.
    enum Access {
        /// Read-only, shared: writes are impossible (`.r`).
        case readOnly
        /// Read-write, shared: writes reach the owner (`.rPlus`, `.wPlus`).
        case readWrite
        /// Read-write, private: writes stay in this process (`.c`).
        case copyOnWrite
    }

    /// Maps a segment created by another process (or by this one, through /proc/self).
    /// - Throws: `SystemError` when the owner is gone or the descriptor now names another file.
    static func open(_ reference: SegmentReference, access: Access) throws -> SharedSegment {
        guard reference.byteCount <= UInt64(Int.max), reference.offset == 0 else {
            throw SystemError("shared array reference out of range", EINVAL)
        }
        let byteCount = Int(reference.byteCount)
        let fd = try openChecked(reference, flags: access == .readWrite ? O_RDWR : O_RDONLY)
        defer { close(fd) }
        let base: UnsafeMutableRawPointer?
        switch access {
        case .readOnly: base = try map(fd: fd, byteCount: byteCount, protection: PROT_READ, flags: MAP_SHARED)
        case .readWrite:
            base = try map(fd: fd, byteCount: byteCount, protection: PROT_READ | PROT_WRITE, flags: MAP_SHARED)
        case .copyOnWrite:
            base = try map(fd: fd, byteCount: byteCount, protection: PROT_READ | PROT_WRITE, flags: MAP_PRIVATE)
        }
        // A shared mapping keeps the owner's reference, so it can be passed on (to a nested
        // pool); a private one has diverged from it.
        return SharedSegment(
            base: base, byteCount: byteCount, isWritable: access != .readOnly,
            reference: access == .copyOnWrite ? nil : reference, fd: -1)
    }

    /// Copies the bytes of a segment created by another process into `destination` (exactly
    /// `reference.byteCount` bytes) with `pread`, without mapping it: one copy by the kernel, and
    /// no page fault or TLB cost for a mapping that would be read once and dropped.
    /// - Throws: `SystemError` when the owner is gone, the descriptor now names another file, or
    ///   the file is shorter than the reference says.
    static func read(_ reference: SegmentReference, into destination: UnsafeMutableRawBufferPointer) throws {
        guard reference.byteCount == UInt64(destination.count), reference.offset <= UInt64(Int.max) else {
            throw SystemError("shared array reference out of range", EINVAL)
        }
        guard destination.count > 0 else { return }
        let fd = try openChecked(reference, flags: O_RDONLY)
        defer { close(fd) }
        let offset = Int(reference.offset)
        var done = 0
        while done < destination.count {
            let result = pread(fd, destination.baseAddress! + done, destination.count - done, off_t(offset + done))
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else {
                throw SystemError("reading a shared array of \(destination.count) bytes", result < 0 ? errno : ESTALE)
            }
            done += result
        }
    }

    /// Opens the file a reference names, through the owner's descriptor, and checks that it is
    /// still that file (same device and inode) and long enough. Returns the new descriptor.
    private static func openChecked(_ reference: SegmentReference, flags: Int32) throws -> Int32 {
        let path = Platform.descriptorPath(process: reference.ownerPID, fd: reference.fd)
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        guard fd >= 0 else {
            // Reaching another process's descriptors needs the same user and ptrace read access;
            // a hardened kernel (Yama ptrace_scope 2 or 3) refuses it.
            throw SystemError(
                "opening shared array \(path) (if this is refused, pass mmapMode: .disabled and maxNbytes: .disabled "
                    + "to copy arrays instead)", errno)
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let code = errno
            close(fd)
            throw SystemError("fstat \(path)", code)
        }
        let (end, overflow) = reference.offset.addingReportingOverflow(reference.byteCount)
        guard UInt64(info.st_dev) == reference.device, UInt64(info.st_ino) == reference.inode, !overflow,
            info.st_size >= 0, UInt64(info.st_size) >= end
        else {
            close(fd)
            throw SystemError("shared array \(path) is no longer the array that was sent", ESTALE)
        }
        return fd
    }

    /// A private, writable, anonymous copy of `bytes` (a `SharedArray` sent with mmap disabled).
    static func privateCopy(of bytes: UnsafeRawBufferPointer) throws -> SharedSegment {
        guard bytes.count > 0 else {
            return SharedSegment(base: nil, byteCount: 0, isWritable: true, reference: nil, fd: -1)
        }
        guard let base = mmap(nil, bytes.count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
            base != MAP_FAILED
        else { throw SystemError("mmap", errno) }
        base.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        return SharedSegment(base: base, byteCount: bytes.count, isWritable: true, reference: nil, fd: -1)
    }

    private static func map(
        fd: Int32, byteCount: Int, protection: Int32, flags: Int32
    ) throws -> UnsafeMutableRawPointer? {
        // mmap rejects a length of 0; an empty array needs no memory.
        guard byteCount > 0 else { return nil }
        guard let base = mmap(nil, byteCount, protection, flags, fd, 0), base != MAP_FAILED else {
            throw SystemError("mmap of \(byteCount) bytes", errno)
        }
        return base
    }

    /// The bytes, read-only.
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: base == nil ? 0 : byteCount) }
}
