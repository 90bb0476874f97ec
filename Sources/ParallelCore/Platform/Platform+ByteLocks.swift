import Glibc

extension Platform {
    // MARK: Byte-range locks owned by an open file

    /// F_OFD_SETLK and F_OFD_SETLKW from <linux/fcntl.h> (the same on every Linux architecture);
    /// Glibc's Swift module does not export them.
    private static let setOpenFileLock: Int32 = 37
    private static let setOpenFileLockWaiting: Int32 = 38

    /// Takes a write lock on byte `offset` of the file open as `fd`: an open-file-description
    /// ("OFD") lock, owned by that open file rather than by the process, so two descriptors opened
    /// separately conflict even in one process, and the lock goes when the file is closed or the
    /// process dies. `Memory` uses one such byte per cache key. Returns 0, or -1 with `errno` set
    /// (`EAGAIN`/`EACCES`: held elsewhere, when not waiting; `EINTR`: interrupted while waiting).
    ///
    /// A port to a system without OFD locks (macOS) would use `flock` on one lock file per key.
    package static func lockByte(_ fd: Int32, offset: Int64, wait: Bool) -> Int32 {
        var request = flock()
        request.l_type = Int16(F_WRLCK)
        request.l_whence = Int16(SEEK_SET)
        request.l_start = __off_t(offset)
        request.l_len = 1
        return fcntl(fd, wait ? setOpenFileLockWaiting : setOpenFileLock, &request)
    }
}
