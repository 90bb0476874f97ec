import CParallelSupport
import Foundation

/// The number of CPUs this process may use: the affinity mask, reduced by a cgroup CPU quota
/// (v2 `cpu.max`, v1 `cpu.cfs_quota_us`/`cpu.cfs_period_us`), like loky's `cpu_count`.
///
/// A quota of 1.5 CPUs counts as 2 (rounded up, as loky does), and the result is at least 1.
/// Computed on each call (a few small file reads) so that tests and containers that change the
/// affinity see it.
public func cpuCount() -> Int {
    var count = Int(pk_affinity_cpu_count())
    if count <= 0 { count = ProcessInfo.processInfo.activeProcessorCount }
    if let quota = CGroupCPUQuota.current(), quota > 0 {
        count = min(count, Int(quota.rounded(.up)))
    }
    return max(count, 1)
}

/// Reads a cgroup CPU quota, in CPUs, from the files the kernel exposes.
package enum CGroupCPUQuota {
    /// The quota that applies to this process, or `nil` when there is none.
    package static func current() -> Double? {
        if let v2 = read("/sys/fs/cgroup/cpu.max").flatMap(parseV2) { return v2 }
        if let quota = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
           let period = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") {
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
