import Foundation
@_spi(Locking) import ParallelCore

// SLURM's workers read the pool's secret from a file on a file system every node shares — the
// trust model of HyperQueue's server folder and dask-jobqueue's shared_temp_directory: whoever
// can read it can join the pool, so it is the user's alone (0600 in a 0700 folder).

enum SecretFile {
    /// This host's short name, part of every file name so that hosts sharing the folder never
    /// mistake each other's pids.
    static let host: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "host" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return String(name.split(separator: ".").first ?? "host").replacingOccurrences(of: "-", with: "_")
    }()

    /// Writes `secret` as hex to a new 0600 file `secret-<host>-<pid>-<pool>` in `directory`
    /// (created 0700 if missing) and returns its path. Refuses a folder other users can write to
    /// or read. Files that processes of this host left behind when they were killed (an exit
    /// removes its own) are removed first.
    static func write(_ secret: [UInt8], in directory: String, pool: Int) throws -> String {
        let name = "secret-\(host)-\(getpid())-\(pool)"
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw ClusterFailure(
                "cannot create the shared folder \(directory) for the pool's secret (errno \(errno)); set PARALLELKIT_SLURM_SHARED_DIR to a folder on a file system the nodes share"
            )
        }
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid(),
            info.st_mode & 0o077 == 0
        else {
            throw ClusterFailure(
                "\(directory) must be a folder of yours that no one else can read or write (chmod 700) to hold the pool's secret"
            )
        }
        removeLeftovers(in: directory)
        let path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ClusterFailure("cannot create the secret file \(path) (errno \(errno))") }
        defer { close(fd) }
        let text = Array((secret.hexString + "\n").utf8)
        guard Glibc.write(fd, text, text.count) == text.count, fsync(fd) == 0 else {
            unlink(path)
            throw ClusterFailure("cannot write the secret file \(path) (errno \(errno))")
        }
        SecretFileRegistry.remember(path)
        return path
    }
}

extension SecretFile {
    /// Unlinks `secret-<this host>-<pid>-*` files whose process is gone. Only this host's: a pid
    /// says nothing about another machine's processes.
    static func removeLeftovers(in directory: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let prefix = "secret-\(host)-"
        for name in names where name.hasPrefix(prefix) {
            let fields = name.dropFirst(prefix.count).split(separator: "-")
            guard fields.count == 2, let pid = Int32(fields[0]), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(directory + "/" + name) }
        }
    }
}

/// Secret files still on disk, removed at exit if their pool was not shut down.
enum SecretFileRegistry {
    private static let paths = LockedValue<Set<String>>([])
    private static let handler: Void = { atexit { SecretFileRegistry.removeAll() } }()

    static func remember(_ path: String) {
        _ = handler
        _ = paths.withLock { $0.insert(path) }
    }

    static func removeAll() {
        for path in paths.withLock({ $0 }) { unlink(path) }
    }
}
