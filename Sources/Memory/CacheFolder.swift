import Glibc
import Synchronization

// The folder behind one `Memory`:
//
//   <location>/ParallelKitMemory/
//     entries/<64 hex digits>   one file per stored result (EntryFile.swift)
//     tmp/<hex>.<pid>.<n>       entries being written; renamed into entries/ when complete
//     lock                      one byte per key for compute-once, byte 0 for eviction (KeyLock)
//
// A reader opens `entries/<key>` and gets either a complete old file or a complete new one:
// writers finish the file under tmp/ (same file system) and `rename` it over, which is atomic.
// Nothing is fsynced: an entry survives the writing process being killed (the kernel has it);
// after a power loss an entry may be empty or torn, which its length and checksum catch.

/// Reads, writes, evicts and clears the entries of one cache folder.
///
/// - Concurrency: a value holding paths only; every operation is safe from any thread and any
///   process at once (atomic renames, kernel locks).
struct CacheFolder: Sendable, Codable, Equatable {
    /// `<location>/ParallelKitMemory`, absolute.
    let root: String
    /// The most bytes `entries/` may hold after a store; nil for no limit.
    let bytesLimit: Int?

    var entriesPath: String { root + "/entries" }
    var temporaryPath: String { root + "/tmp" }
    var lockPath: String { root + "/lock" }

    func entryPath(_ key: CacheKey) -> String { entriesPath + "/" + key.fileName }

    /// Creates the folder (with its parents) and its parts where missing, also after someone
    /// deleted them.
    func createFolders() throws {
        var prefix = ""
        for component in root.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw MemoryIOError(operation: "create the folder", path: prefix, errno: errno)
            }
        }
        for path in [entriesPath, temporaryPath] where mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw MemoryIOError(operation: "create the folder", path: path, errno: errno)
        }
    }

    // MARK: Reading

    /// The payload stored for `key`, or nil when there is none or it is damaged. A found entry's
    /// modification time is set to now: it is the "last used" time eviction orders by.
    func load(_ key: CacheKey) -> [UInt8]? {
        let path = entryPath(key)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_size >= EntryFile.headerSize, status.st_size < Int.max / 2 else {
            return nil
        }
        guard let file = readAll(fd, expected: Int(status.st_size)),
            let payload = EntryFile.payload(of: file, key: key)
        else { return nil }
        CacheFolder.markUsed(fd)
        return Array(payload)
    }

    /// Sets a file's access and modification times to now, read from the fine-grained clock: the
    /// kernel's own "now" for file times advances once per scheduler tick, so several entries used
    /// within a few milliseconds would tie and eviction could not tell which was used last.
    static func markUsed(_ fd: Int32) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var times = (now, now)
        _ = withUnsafePointer(to: &times) { pair in
            pair.withMemoryRebound(to: timespec.self, capacity: 2) { futimens(fd, $0) }
        }
    }

    private func readAll(_ fd: Int32, expected: Int) -> [UInt8]? {
        // `[UInt8](unsafeUninitializedCapacity: 0)` would store into the standard library's shared
        // empty-array storage, a data race when two threads read empty entries at once.
        guard expected > 0 else { return [] }
        var failed = false
        let bytes = [UInt8](unsafeUninitializedCapacity: expected) { buffer, count in
            count = 0
            while count < expected {
                let n = read(fd, buffer.baseAddress! + count, expected - count)
                if n > 0 {
                    count += n
                } else if n < 0 && errno == EINTR {
                    continue
                } else {
                    failed = n < 0
                    break
                }
            }
        }
        return failed || bytes.count != expected ? nil : bytes
    }

    // MARK: Writing

    private static let temporaryCounter = Atomic<Int>(0)

    /// Stores `payload` under `key`: written to tmp/, then renamed into entries/. An entry larger
    /// than `bytesLimit` on its own is not stored. With a limit, evicts after storing.
    func store(_ key: CacheKey, payload: [UInt8]) async throws {
        let contents = EntryFile.contents(key: key, payload: payload)
        if let bytesLimit, contents.count > bytesLimit { return }
        let serial = CacheFolder.temporaryCounter.add(1, ordering: .relaxed).newValue
        let temporary = "\(temporaryPath)/\(key.fileName).\(getpid()).\(serial)"
        var fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            // The folder was deleted while in use (by hand, or by a test): make it again.
            try createFolders()
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw MemoryIOError(operation: "create", path: temporary, errno: errno) }
        let written = contents.withUnsafeBytes { writeAll(fd, $0) }
        CacheFolder.markUsed(fd)
        close(fd)
        if let failure = written {
            unlink(temporary)
            throw MemoryIOError(operation: "write", path: temporary, errno: failure)
        }
        guard rename(temporary, entryPath(key)) == 0 else {
            let failure = errno
            unlink(temporary)
            throw MemoryIOError(operation: "rename into place", path: temporary, errno: failure)
        }
        if let bytesLimit { try await evict(toFit: bytesLimit) }
    }

    /// Writes all of `raw`; returns the errno of a failure, or nil.
    private func writeAll(_ fd: Int32, _ raw: UnsafeRawBufferPointer) -> Int32? {
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return n < 0 ? errno : ENOSPC
            }
        }
        return nil
    }

    // MARK: Eviction

    /// Deletes least recently used entries until entries/ holds at most `limit` bytes, under the
    /// eviction lock so two processes do not both delete. One directory scan: O(entries).
    func evict(toFit limit: Int) async throws {
        let lock = try await KeyLock.acquire(path: lockPath, offset: 0)
        defer { lock?.release() }
        var entries = try listEntries()
        var total = entries.reduce(0) { $0 + $1.size }
        guard total > limit else { return }
        entries.sort { ($0.lastUsed.tv_sec, $0.lastUsed.tv_nsec) < ($1.lastUsed.tv_sec, $1.lastUsed.tv_nsec) }
        for entry in entries where total > limit {
            if unlink(entriesPath + "/" + entry.name) == 0 || errno == ENOENT { total -= entry.size }
        }
        removeAbandonedTemporaries()
    }

    struct EntryInfo {
        var name: String
        var size: Int
        var lastUsed: timespec
    }

    /// The entries' names, sizes and last-used times.
    func listEntries() throws -> [EntryInfo] {
        var entries: [EntryInfo] = []
        try forEachName(in: entriesPath) { dirfd, name in
            var status = stat()
            guard name.utf8.count == 64, fstatat(dirfd, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return }
            entries.append(EntryInfo(name: name, size: Int(status.st_size), lastUsed: status.st_mtim))
        }
        return entries
    }

    /// Calls `body` with each name in the folder at `path` (not "." or "..").
    private func forEachName(in path: String, _ body: (Int32, String) throws -> Void) throws {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return }
            throw MemoryIOError(operation: "list", path: path, errno: errno)
        }
        defer { closedir(directory) }
        let dirfd = Glibc.dirfd(directory)
        while let item = readdir(directory) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name == "." || name == ".." { continue }
            try body(dirfd, name)
        }
    }

    /// Deletes files in tmp/ whose writing process has ended (killed while writing).
    func removeAbandonedTemporaries() {
        try? forEachName(in: temporaryPath) { dirfd, name in
            let parts = name.split(separator: ".")
            guard parts.count == 3, let pid = Int32(parts[1]) else { return }
            if kill(pid, 0) != 0 && errno == ESRCH { unlinkat(dirfd, name, 0) }
        }
    }

    // MARK: Clearing

    /// Deletes every entry, and abandoned temporary files.
    func clear() throws {
        var failure: MemoryIOError?
        try forEachName(in: entriesPath) { dirfd, name in
            if unlinkat(dirfd, name, 0) != 0 && errno != ENOENT && failure == nil {
                failure = MemoryIOError(operation: "delete", path: entriesPath + "/" + name, errno: errno)
            }
        }
        removeAbandonedTemporaries()
        if let failure { throw failure }
    }
}
