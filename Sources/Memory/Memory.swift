import Glibc
import ParallelCore

/// joblib's `Memory`: results of functions and jobs cached on disk, so that a run interrupted by
/// a crash, a SIGKILL or Ctrl-C, or simply run again, finds what was already computed.
///
/// ```swift
/// let memory = try Memory(location: ".cache")
/// let simulate = memory.cache("simulate", version: 1) { (p: Parameters) in try await expensive(p) }
/// let results = try await Parallel(nJobs: 4)(inputs.map { p in Delayed { try await simulate(p) } })
/// // ParallelJobs, also on process backends:
/// let out = try await Parallel(nJobs: 4, backend: "process")(jobs.map { memory.cached($0, version: 1) })
/// ```
///
/// **Keys.** An entry is named by SHA-256 over the function's name (a job's: its type), the
/// explicit `version`, the argument and result types and the argument's bytes in ParallelKit's
/// canonical binary encoding: the same value gives the same bytes in every process and on every
/// run; dictionaries and sets are encoded in sorted order; floating-point numbers by their bit
/// pattern (so `-0.0` and `0.0` are different keys, and NaNs differ by payload). The function's
/// code is not part of the key: change `version` when its meaning changes (editing a comment
/// does not throw away the cache, and a changed helper is not missed silently because nothing is
/// guessed).
///
/// **Guarantees.** An entry is one file, written under a temporary name and renamed, so it is
/// never read half-written. Callers of the same key at once — threads, or worker processes —
/// compute it once: the others wait for it and read the stored result. A damaged or truncated
/// entry is recomputed and replaced, never an error. With `bytesLimit`, least recently used
/// entries are deleted after every store until the folder's entries fit. Errors thrown by the
/// function are not cached.
///
/// - Concurrency: a `Sendable` value; use one `Memory` (or several for the same location) from
///   any number of threads and processes.
public struct Memory: Sendable {
    /// The cache folder; nil caches nothing.
    let folder: CacheFolder?

    /// A cache in `location` (created if missing), or none.
    ///
    /// - Parameters:
    ///   - location: a folder; entries go in its `ParallelKitMemory` subfolder. A relative path
    ///     is resolved against the current directory now. nil: no caching, every call computes
    ///     (joblib's `Memory(None)`).
    ///   - bytesLimit: the most bytes of entries to keep; checked after every store, evicting
    ///     least recently used entries (one scan of the folder per store). An entry larger than
    ///     the limit on its own is not stored. nil: no limit.
    /// - Throws: `ParallelError(.invalidArgument)` for an empty location, a location that is a
    ///   file, a folder that cannot be created, or a `bytesLimit` below 1.
    public init(location: String?, bytesLimit: Int? = nil) throws {
        if let bytesLimit, bytesLimit <= 0 {
            throw ParallelError.invalid(
                "Memory bytesLimit", "\(bytesLimit) is not a positive number of bytes",
                fix: "Pass a limit such as 1 << 30 (1 GiB), or nil for no limit")
        }
        guard let location else {
            folder = nil
            return
        }
        guard !location.isEmpty else {
            throw ParallelError.invalid(
                "Memory location", "the path is empty",
                fix: "Pass a folder such as \".cache\", or nil to cache nothing")
        }
        let absolute = location.hasPrefix("/") ? location : Memory.currentDirectory() + "/" + location
        var status = stat()
        if stat(absolute, &status) == 0 && (status.st_mode & S_IFMT) != S_IFDIR {
            throw ParallelError.invalid(
                "Memory location", "\(absolute) exists and is not a folder",
                fix: "Pass a folder path (it is created if missing), or nil to cache nothing")
        }
        let folder = CacheFolder(root: absolute + "/ParallelKitMemory", bytesLimit: bytesLimit)
        do {
            try folder.createFolders()
        } catch {
            throw ParallelError.invalid(
                "Memory location", "\(error)", fix: "Pass a folder you can write, or nil to cache nothing")
        }
        self.folder = folder
    }

    /// `function`, with its results stored under `name` and `version`.
    ///
    /// Each call computes the key from `name`, `version` and the encoded argument; a stored
    /// result is decoded and returned without calling `function` (tens of microseconds for a small
    /// value: Benchmarks/RESULTS.md, rows M); otherwise `function` runs once per key even when many threads or processes ask at
    /// once, and its result is stored.
    /// - Parameters:
    ///   - name: names the function in every key; two functions must not share a name.
    ///   - version: change it when the function's results change meaning; old entries are then
    ///     never found (and age out under `bytesLimit`, or go with `clear()`).
    /// - Returns: a function that throws `ParallelError(.invalidArgument)` if `name` is empty,
    ///   `ParallelError(.notSerializable)` if the argument cannot be encoded, and whatever
    ///   `function` throws.
    public func cache<A: Codable & Sendable, R: Codable & Sendable>(
        _ name: String, version: Int = 0, _ function: @escaping @Sendable (A) async throws -> R
    ) -> @Sendable (A) async throws -> R {
        let folder = self.folder
        return { argument in
            guard !name.isEmpty else {
                throw ParallelError.invalid(
                    "Memory.cache name", "it is empty",
                    fix: "Name the function, e.g. memory.cache(\"simulate\") { … }: the name is part of every key")
            }
            guard let folder else { return try await function(argument) }
            let key = try CacheKey(name: "function " + name, version: version, argument: argument, resultType: R.self)
            return try await folder.value(for: key) { try await function(argument) }
        }
    }

    /// `job`, with its output stored under its type, `version` and encoded value. The result is a
    /// `ParallelJob` itself, so it runs on every backend, worker processes included (they use the
    /// same folder).
    /// - Complexity: O(1); nothing is read or computed until the job runs.
    public func cached<J: ParallelJob>(_ job: J, version: Int = 0) -> CachedJob<J> {
        CachedJob(job: job, version: version, folder: folder)
    }

    /// Deletes every stored result (and temporary files left by killed writers). Safe while other
    /// threads or processes use the cache: their next lookups miss and recompute.
    /// - Throws: `ParallelError(.invalidArgument)` naming the file that could not be deleted.
    public func clear() throws {
        guard let folder else { return }
        do {
            try folder.clear()
        } catch {
            throw ParallelError.invalid("Memory location", "\(error)", fix: "Check the folder's permissions")
        }
    }

    private static func currentDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
