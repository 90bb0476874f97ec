import Foundation
import ParallelCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `cpuCount()` honours CPU affinity and cgroup quotas (loky's `cpu_count`); the cgroup files are
/// parsed by ``CGroupCPUQuota``.
@Suite("cpuCount: affinity and cgroup quotas")
struct CPUCountTests {
    // MARK: cgroup v2: cpu.max

    @Test(
        "cgroup v2 cpu.max: 'quota period' is quota / period CPUs; 'max' or malformed is no quota",
        arguments: [
            ("150000 100000", 1.5 as Double?), ("200000 100000\n", 2.0), ("50000 100000", 0.5),
            ("100000 100000\n", 1.0), ("max 100000", nil), ("max 100000\n", nil), ("", nil), ("150000", nil),
            ("abc def", nil), ("100000 0", nil), ("100000 -5", nil),
        ])
    func parseV2(text: String, expected: Double?) {
        #expect(CGroupCPUQuota.parseV2(text) == expected)
    }

    // MARK: cgroup v1: cpu.cfs_quota_us / cpu.cfs_period_us

    @Test(
        "cgroup v1: quota / period CPUs; a quota of -1 (or malformed) is no quota",
        arguments: [
            ("150000", "100000", 1.5 as Double?), ("150000\n", "100000\n", 1.5), ("400000", "100000", 4.0),
            ("-1", "100000", nil), ("-1\n", "100000\n", nil), ("0", "100000", nil), ("abc", "100000", nil),
            ("100000", "0", nil), ("100000", "", nil),
        ])
    func parseV1(quota: String, period: String, expected: Double?) {
        #expect(CGroupCPUQuota.parseV1(quota: quota, period: period) == expected)
    }

    // MARK: cpuCount()

    /// CPUs in this thread's affinity mask, read from /proc (independent of the library's shim).
    static func affinityFromProc() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed_list:") })
        else { return nil }
        var count = 0
        for range in line.dropFirst("Cpus_allowed_list:".count).split(separator: ",") {
            let bounds = range.trimmingCharacters(in: .whitespaces).split(separator: "-").compactMap { Int($0) }
            if bounds.count == 2 { count += bounds[1] - bounds[0] + 1 } else if bounds.count == 1 { count += 1 }
        }
        return count
    }

    @Test("cpuCount() is the affinity mask reduced by the cgroup quota (rounded up), at least 1")
    func matchesAffinityAndQuota() throws {
        let affinity = try #require(Self.affinityFromProc())
        var expected = affinity
        if let quota = CGroupCPUQuota.current(), quota > 0 { expected = min(expected, Int(quota.rounded(.up))) }
        #expect(cpuCount() == max(expected, 1))
        #expect(cpuCount() >= 1)
        #expect(cpuCount() <= ProcessInfo.processInfo.processorCount)
    }

    @Test("the cgroup quota is cached for a second, then read again")
    func quotaCache() {
        let now = MonotonicClock.now()
        let fresh = CGroupCPUQuota.current()
        #expect(CGroupCPUQuota.cached(now: now) == fresh)
        #expect(CGroupCPUQuota.cached(now: now + CGroupCPUQuota.cacheLifetimeNanoseconds / 2) == fresh)
        #expect(CGroupCPUQuota.cached(now: now + 2 * CGroupCPUQuota.cacheLifetimeNanoseconds) == fresh)
    }

    /// `sched_setaffinity`, looked up at run time (Glibc's module map does not export it).
    typealias SchedSetAffinity = @convention(c) (pid_t, Int, UnsafeRawPointer?) -> Int32

    @Test("a thread pinned to one CPU counts 1 CPU")
    func honoursAffinity() async throws {
        let symbol = try #require(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_setaffinity"))
        let setAffinity = unsafeBitCast(symbol, to: SchedSetAffinity.self)
        // A dedicated thread, so no thread of Swift's pools is pinned.
        let (status, count) = await withCheckedContinuation {
            (continuation: CheckedContinuation<(Int32, Int), Never>) in
            Thread {
                var mask = [UInt8](repeating: 0, count: 128)
                mask[0] = 1  // CPU 0 only
                let status = mask.withUnsafeBytes { setAffinity(0, 128, $0.baseAddress) }
                continuation.resume(returning: (status, cpuCount()))
            }.start()
        }
        try #require(status == 0, "sched_setaffinity failed")
        #expect(count == 1)
    }
}
