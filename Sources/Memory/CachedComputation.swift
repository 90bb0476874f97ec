import Glibc
@_spi(Locking) import ParallelCore
import ParallelProcess

// The path every cached call takes: look up; on a miss take the key's lock, look again (another
// thread or process may have stored it meanwhile), compute, store, release.

extension CacheFolder {
    /// The stored result for `key`, or `compute()`'s, stored for next time.
    ///
    /// A damaged entry counts as missing. An error from `compute` is rethrown and nothing is
    /// stored. A failure to store (a full disk, a read-only folder) does not fail the call: the
    /// result is returned and a warning goes to standard error once per process.
    func value<R: Codable>(for key: CacheKey, _ compute: () async throws -> R) async throws -> R {
        if let hit = decode(R.self, load(key)) { return hit }
        var lock: KeyLock?
        do {
            if access(root, F_OK) != 0 { try createFolders() }
            lock = try await KeyLock.acquire(path: lockPath, offset: key.lockOffset)
        } catch {
            MemoryWarnings.once("cannot take the lock for \(key.fileName) (\(error)); computing without compute-once")
        }
        defer { lock?.release() }
        if lock != nil, let hit = decode(R.self, load(key)) { return hit }
        let value = try await compute()
        do {
            let payload = try BinaryEncoder.selfContained().encode(value)
            try await store(key, payload: payload)
        } catch {
            MemoryWarnings.once("could not store a result in \(root) (\(error)); it was returned but not cached")
        }
        return value
    }

    private func decode<R: Decodable>(_ type: R.Type, _ payload: [UInt8]?) -> R? {
        guard let payload else { return nil }
        return try? BinaryDecoder().decode(R.self, from: payload)
    }
}

/// Warnings about the cache that must not fail a call, each printed once per process.
enum MemoryWarnings {
    private static let printed = LockedValue<Set<String>>([])

    static func once(_ message: String) {
        let kind = String(message.prefix(24))
        guard printed.withLock({ $0.insert(kind).inserted }) else { return }
        let line = "[ParallelKit Memory] warning: \(message)\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress!, $0.count) }
    }
}
