import Foundation
import Synchronization

// Files for shared arrays when a temp folder is asked for (`tempFolder:` or JOBLIB_TEMP_FOLDER).
// Each process makes one private folder (0700) per temp folder, named parallelkit-<pid>-<random>,
// and creates 0600 files in it that are unlinked the moment they are open: the data lives as long
// as a descriptor or mapping does, and no path survives any ending of the process. What a killed
// process can leave is its empty private folder; the next process to use the temp folder removes
// folders whose owner is no longer alive.

/// The private folders of this process and the stale-folder sweep.
///
/// - Concurrency: thread-safe (a mutex guards the folder table).
final class TempFolder: Sendable {
    /// The process-wide instance.
    static let shared = TempFolder()

    static let prefix = "parallelkit-"

    private let folders = Mutex<[String: String]>([:])

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

    /// Opens a new, already unlinked, 0600 file in this process's private folder inside `folder`.
    func createUnlinkedFile(in folder: String) throws -> Int32 {
        let directory = try privateFolder(in: folder)
        for _ in 0..<8 {
            let path = directory + "/array-" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                unlink(path)
                return fd
            }
            if errno != EEXIST { throw SystemError("creating a shared array file in \(directory)", errno) }
        }
        throw SystemError("creating a shared array file in \(directory)", EEXIST)
    }

    /// This process's private folder inside `folder`, created (after sweeping stale ones) on
    /// first use.
    func privateFolder(in folder: String) throws -> String {
        try folders.withLock { folders in
            if let existing = folders[folder] { return existing }
            Self.sweepStaleFolders(in: folder)
            var template = Array("\(folder)/\(Self.prefix)\(getpid())-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else {
                throw SystemError("creating a private folder in \(folder)", errno)
            }
            let path = String(cString: made)
            folders[folder] = path
            return path
        }
    }

    /// Removes this process's private folders (at exit; they hold no files by then).
    func removeAll() {
        let paths = folders.withLock { folders in
            defer { folders.removeAll() }
            return Array(folders.values)
        }
        for path in paths { Self.removeTree(path) }
    }

    /// Removes folders left by processes of this user that are no longer alive.
    static func sweepStaleFolders(in folder: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let dash = rest.firstIndex(of: "-"), let pid = Int32(rest[..<dash]), pid != getpid() else { continue }
            guard kill(pid, 0) != 0 && errno == ESRCH else { continue }
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, info.st_uid == getuid(), (info.st_mode & S_IFMT) == S_IFDIR else { continue }
            removeTree(path)
        }
    }

    private static func removeTree(_ path: String) {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
            for name in names { unlink(path + "/" + name) }
        }
        rmdir(path)
    }
}
