import Foundation

/// The number of CPUs this process may use: the affinity mask, reduced by a cgroup CPU quota
/// (v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`), like loky's `cpu_count`.
///
/// A quota of 1.5 CPUs counts as 2 (rounded up, as loky does), and the result is at least 1.
///
/// - Complexity: one `sched_getaffinity` system call (the calling thread's mask, read on every
///   call so a thread whose affinity changed sees it at once). The cgroup files are read at most
///   once a second and cached in between: reading them costs more than the rest of a small call
///   (Benchmarks/RESULTS.md, "Measurements behind design choices").
/// - Concurrency: safe from any thread; the cache is behind a lock.
public func cpuCount() -> Int {
    var count = Platform.affinityCPUCount() ?? ProcessInfo.processInfo.activeProcessorCount
    if let quota = CGroupCPUQuota.cached(), quota > 0 {
        count = min(count, Int(quota.rounded(.up)))
    }
    return max(count, 1)
}

/// Reads a cgroup CPU quota, in CPUs, from the files the kernel exposes.
package enum CGroupCPUQuota {
    /// How long a read quota is reused before the files are read again.
    package static let cacheLifetimeNanoseconds: UInt64 = 1_000_000_000

    private struct Cache {
        var quota: Double?
        var readAt: UInt64 = 0
    }

    private static let cache = LockedValue(Cache())

    /// ``current()``, read again only when the last read is more than a second old.
    package static func cached(now: UInt64 = MonotonicClock.now()) -> Double? {
        if let hit = cache.withLock({ cache -> Double?? in
            cache.readAt != 0 && now &- cache.readAt < cacheLifetimeNanoseconds ? .some(cache.quota) : nil
        }) {
            return hit
        }
        // Read outside the lock: two threads that miss at once both read, which is harmless.
        let quota = current()
        cache.withLock { $0 = Cache(quota: quota, readAt: now) }
        return quota
    }

    /// The quota that applies to this process, or `nil` when there is none (read now).
    package static func current() -> Double? {
        if let v2 = read(Platform.cgroupCPUMaxPath).flatMap(parseV2) { return v2 }
        if let quota = read(Platform.cgroupCPUQuotaV1Paths.quota),
            let period = read(Platform.cgroupCPUQuotaV1Paths.period)
        {
            return parseV1(quota: quota, period: period)
        }
        return nil
    }

    /// Parses cgroup v2 `cpu.max` ("max 100000" or "150000 100000").
    package static func parseV2(_ text: String) -> Double? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, fields[0] != "max",
            let quota = Double(fields[0]), let period = Double(fields[1]), period > 0
        else { return nil }
        return quota / period
    }

    /// Parses cgroup v1 quota and period files; a quota of -1 means none.
    package static func parseV1(quota: String, period: String) -> Double? {
        guard let q = Double(quota.trimmingCharacters(in: .whitespacesAndNewlines)),
            let p = Double(period.trimmingCharacters(in: .whitespacesAndNewlines)), q > 0, p > 0
        else { return nil }
        return q / p
    }

    private static func read(_ path: String) -> String? {
        try? String(contentsOfFile: path, encoding: .utf8)
    }
}
