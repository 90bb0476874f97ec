import Foundation
@_spi(Locking) import ParallelCore

// Files for shared arrays when a temp folder is asked for (`tempFolder:` or JOBLIB_TEMP_FOLDER).
// Each process makes one private folder (0700) per temp folder, named parallelkit-<pid>-<random>,
// and creates 0600 files in it that are unlinked the moment they are open: the data lives as long
// as a descriptor or mapping does, and no path survives any ending of the process. What a killed
// process can leave is its private folder with its lock file; the next process to use the temp
// folder removes folders whose lock nobody holds.
//
// Security: every operation goes through directory descriptors (openat with
// O_NOFOLLOW, fstat of the descriptor, unlinkat), never through a path that someone else could
// swap for a symlink between a check and a use. The temp folder itself must be one whose entries
// only we (or root) can rename: owned by us or root, and not writable by group or others unless
// the sticky bit is set (as /tmp and /dev/shm are). Anything else is refused with a
// `ParallelError` naming the folder.
//
// Liveness: a private folder is alive while its owner holds an exclusive `flock`
// on its `.lock` file. That works across PID namespaces (containers sharing a volume), where
// `kill(pid, 0)` answers for a different process; the kernel drops the lock when the owner dies.

/// The private folders of this process and the stale-folder sweep.
///
/// - Concurrency: thread-safe (a mutex guards the folder table).
final class TempFolder: Sendable {
    /// The process-wide instance.
    static let shared = TempFolder()

    static let prefix = "parallelkit-"
    /// The file whose `flock` says the folder's owner is alive.
    static let lockName = ".lock"
    /// A folder without a lock file (being created, or left by an older version) is swept only when
    /// it is at least this old and its pid is gone.
    static let unlockedGraceSeconds = 60

    /// One private folder. Its descriptors close when the last reference goes: the table's, or
    /// that of a thread creating a file in it. A folder dropped from the table (it was removed
    /// under us) is so never closed while another thread still uses its descriptor numbers,
    /// which by then could name another file.
    final class PrivateFolder: Sendable {
        let path: String
        let name: String
        let parentFD: Int32
        let directoryFD: Int32
        /// Holds the `flock` that marks the folder as alive.
        let lockFD: Int32

        init(path: String, name: String, parentFD: Int32, directoryFD: Int32, lockFD: Int32) {
            self.path = path
            self.name = name
            self.parentFD = parentFD
            self.directoryFD = directoryFD
            self.lockFD = lockFD
        }

        deinit {
            Glibc.close(lockFD)
            Glibc.close(directoryFD)
            Glibc.close(parentFD)
        }
    }

    private let folders = LockedValue<[String: PrivateFolder]>([:])

    private init() {
        atexit { TempFolder.shared.removeAll() }
    }

    /// The folder for shared arrays: `explicit`, else JOBLIB_TEMP_FOLDER, else nil (anonymous
    /// memory, which needs no folder and cannot be left behind).
    static func resolve(_ explicit: String?) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = ProcessInfo.processInfo.environment["JOBLIB_TEMP_FOLDER"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return nil
    }

    /// Checks `folder` (creating it when missing) and makes this process's private folder in it.
    /// Call when a call or a `SharedArray` starts, so a bad folder is reported before any work.
    /// - Throws: `ParallelError(.invalidArgument)` naming the folder and what to do.
    func validate(_ folder: String) throws {
        _ = try privateFolder(in: folder)
    }

    /// Opens a new, already unlinked, 0600 file in this process's private folder inside `folder`.
    /// - Throws: `ParallelError(.invalidArgument)` when the folder is unusable.
    func createUnlinkedFile(in folder: String) throws -> Int32 {
        var recreated = false
        while true {
            let directory = try privateFolder(in: folder)
            var lastError: Int32 = EEXIST
            for _ in 0..<8 {
                let name = "array-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
                let fd = openat(directory.directoryFD, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
                if fd >= 0 {
                    unlinkat(directory.directoryFD, name, 0)
                    return fd
                }
                lastError = errno
                if lastError != EEXIST { break }
            }
            // The folder was removed under us (by hand, or by an older version's sweep): make a
            // new one, once.
            if lastError == ENOENT && !recreated {
                recreated = true
                forget(directory, of: folder)
                continue
            }
            throw Self.unusable(folder, "creating a file in \(directory.path) failed: \(Self.text(lastError))")
        }
    }

    /// This process's private folder inside `folder`, created (after sweeping stale ones) on first
    /// use.
    func privateFolder(in folder: String) throws -> PrivateFolder {
        try folders.withLock { folders in
            if let existing = folders[folder] { return existing }
            let parentFD = try Self.openSafeParent(folder)
            Self.sweepStaleFolders(inDirectory: parentFD)
            do {
                let made = try Self.makePrivateFolder(in: parentFD, path: folder)
                folders[folder] = made
                return made
            } catch {
                Glibc.close(parentFD)
                throw error
            }
        }
    }

    /// Drops `stale` from the table, unless another thread has already replaced it with a new
    /// folder (which must not be dropped in turn). Its descriptors close with its last user.
    func forget(_ stale: PrivateFolder, of folder: String) {
        let dropped = folders.withLock { folders -> PrivateFolder? in
            guard folders[folder] === stale else { return nil }
            return folders.removeValue(forKey: folder)
        }
        // Released here, outside the lock (closing three descriptors).
        _ = dropped
    }

    /// Removes this process's private folders (at exit; they hold only their lock file by then).
    func removeAll() {
        let all = folders.withLock { folders in
            defer { folders.removeAll() }
            return Array(folders.values)
        }
        for folder in all {
            Self.removeContents(of: folder.directoryFD)
            Self.removeEntry(folder.name, in: folder.parentFD, expecting: folder.directoryFD)
        }
    }

    // MARK: Opening and checking the temp folder

    /// Opens `folder` as a directory (created when missing) that nobody else can rename entries in
    /// (`TempFolderCheck`, shared with the backends that do not use the folder).
    static func openSafeParent(_ folder: String) throws -> Int32 {
        try TempFolderCheck.openSafe(folder)
    }

    private static func makePrivateFolder(in parentFD: Int32, path folder: String) throws -> PrivateFolder {
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let name = "\(prefix)\(getpid())-\(suffix)"
            guard mkdirat(parentFD, name, 0o700) == 0 else {
                if errno == EEXIST { continue }
                throw unusable(folder, "creating a private folder in it failed: \(text(errno))")
            }
            let directoryFD = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            var info = stat()
            guard directoryFD >= 0, fstat(directoryFD, &info) == 0, info.st_uid == geteuid(),
                info.st_mode & 0o077 == 0
            else {
                let code = errno
                if directoryFD >= 0 { Glibc.close(directoryFD) }
                throw unusable(folder, "its new private folder \(name) could not be verified: \(text(code))")
            }
            // The lock file gets its name only once it is locked, so a sweep never finds it
            // unlocked while its owner is alive.
            let pending = lockName + "-new"
            let lockFD = openat(directoryFD, pending, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard lockFD >= 0, flock(lockFD, LOCK_EX | LOCK_NB) == 0,
                renameat(directoryFD, pending, directoryFD, lockName) == 0
            else {
                let code = errno
                if lockFD >= 0 { Glibc.close(lockFD) }
                Glibc.close(directoryFD)
                throw unusable(folder, "locking its private folder \(name) failed: \(text(code))")
            }
            return PrivateFolder(
                path: folder + "/" + name, name: name, parentFD: parentFD, directoryFD: directoryFD, lockFD: lockFD)
        }
        throw unusable(folder, "no free name for a private folder")
    }

    // MARK: The sweep

    /// Removes folders in `folder` left by processes that are no longer alive.
    static func sweepStaleFolders(in folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        sweepStaleFolders(inDirectory: fd)
    }

    /// Removes the stale private folders in the directory `parentFD`: ours (same user), whose lock
    /// nobody holds.
    static func sweepStaleFolders(inDirectory parentFD: Int32) {
        for name in entryNames(of: parentFD) where name.hasPrefix(prefix) {
            let directoryFD = openat(parentFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard directoryFD >= 0 else { continue }
            defer { Glibc.close(directoryFD) }
            var info = stat()
            guard fstat(directoryFD, &info) == 0, info.st_uid == geteuid() else { continue }
            guard isStale(directoryFD, name: name, info: info) else { continue }
            removeContents(of: directoryFD)
            removeEntry(name, in: parentFD, expecting: directoryFD)
        }
    }

    private static func isStale(_ directoryFD: Int32, name: String, info: stat) -> Bool {
        let lockFD = openat(directoryFD, lockName, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        if lockFD >= 0 {
            defer { Glibc.close(lockFD) }
            // Taking the lock means nobody holds it: the owner is gone (in any PID namespace).
            // It is dropped again with the descriptor; the folder is removed right after.
            return flock(lockFD, LOCK_EX | LOCK_NB) == 0
        }
        // No lock file: a folder being created right now, or one of an older version.
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid != getpid() else { return false }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        guard now.tv_sec - info.st_ctim.tv_sec >= unlockedGraceSeconds else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// Names in a directory, read through a duplicate of `fd` (closedir closes what it reads).
    private static func entryNames(of fd: Int32) -> [String] {
        let duplicate = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard duplicate >= 0 else { return [] }
        guard let stream = fdopendir(duplicate) else {
            Glibc.close(duplicate)
            return []
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Unlinks the files directly inside `directoryFD` (never following a link, never recursing).
    private static func removeContents(of directoryFD: Int32) {
        for name in entryNames(of: directoryFD) { unlinkat(directoryFD, name, 0) }
    }

    /// Removes the empty folder `name` from `parentFD` if it is still the one open as `expected`.
    private static func removeEntry(_ name: String, in parentFD: Int32, expecting expected: Int32) {
        var opened = stat()
        var named = stat()
        guard fstat(expected, &opened) == 0, fstatat(parentFD, name, &named, AT_SYMLINK_NOFOLLOW) == 0,
            opened.st_dev == named.st_dev, opened.st_ino == named.st_ino
        else { return }
        unlinkat(parentFD, name, AT_REMOVEDIR)
    }

    // MARK: Errors

    static func unusable(_ folder: String, _ reason: String) -> ParallelError {
        TempFolderCheck.unusable(folder, reason)
    }

    private static func text(_ code: Int32) -> String { TempFolderCheck.text(code) }
}
