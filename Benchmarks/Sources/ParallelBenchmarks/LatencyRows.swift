// Rows L (issue 8 item 6): generator latency, the time from a task's end to the consumer of
// `Parallel(nJobs: 2).generator(...)` (and `generatorUnordered`) receiving its result, with auto
// batching, for busy-wait tasks of about 1 µs, 100 µs and 10 ms.
//
// Each task spins on the monotonic clock for its duration and returns the clock reading at its
// end; the consumer reads the same clock as each result arrives. The difference is the latency:
// batching, the engine's release of finished work, and, for the ordered generator, waiting for
// the tasks before it (what a consumer of `generator` sees). Threads of one process share the
// clock, so the difference needs no correction.

import Foundation
import ParallelKit

/// Spins for `nanos` nanoseconds and returns the monotonic time at its end.
@inline(never)
@Sendable
func busyWait(_ nanos: UInt64) -> UInt64 {
    let start = nowNanos()
    var now = start
    while now &- start < nanos { now = nowNanos() }
    return now
}

/// The task durations of rows L, with a short name for the figure keys.
let latencyTaskSizes: [(key: String, label: String, nanos: UInt64)] = [
    ("1us", "~1 µs", 1_000),
    ("100us", "~100 µs", 100_000),
    ("10ms", "~10 ms", 10_000_000),
]

/// The `q`-quantile (0...1) of `xs` by the nearest-rank method; nil when empty.
func quantile(_ xs: [Double], _ q: Double) -> Double? {
    guard !xs.isEmpty else { return nil }
    let sorted = xs.sorted()
    let rank = Int((q * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}

/// Section l: for each mode and task size, `--reps` timed calls after one untimed one. Each call
/// gives a median and a 90th percentile of its tasks' latencies (seconds), recorded under
/// `l.<mode>.<size>.p50` / `.p90`; the table shows the median over calls of each.
func runGeneratorLatency(_ o: Options) async -> Figures {
    var f = Figures()
    let parallel = Parallel(nJobs: 2)
    f.info["l.work_ms"] = String(format: "%.0f", o.latencyWorkMillis)
    for (mode, ordered) in [("gen", true), ("unordered", false)] {
        for size in latencyTaskSizes {
            // The same amount of work for every size: a fixed budget split into tasks.
            let n = max(20, Int(o.latencyWorkMillis * 1e6 / Double(size.nanos)))
            let key = "l.\(mode).\(size.key)"
            f.info["\(key).n"] = String(n)
            for rep in 0...o.reps {
                log("generator latency \(mode) \(size.label) ×\(n) rep \(rep)\(rep == 0 ? " (warm-up)" : "")")
                let tasks = (0..<n).lazy.map { _ in delayed(busyWait)(size.nanos) }
                var latencies: [Double] = []
                latencies.reserveCapacity(n)
                do {
                    let results = ordered ? parallel.generator(tasks) : parallel.generatorUnordered(tasks)
                    for try await end in results {
                        let received = nowNanos()
                        // A reading before the task's end would be a clock fault: keep it visible
                        // as a negative latency rather than wrap around.
                        latencies.append(Double(Int64(bitPattern: received &- end)) / 1e9)
                    }
                } catch {
                    f.errors[key] = "\(error)"
                    break
                }
                guard latencies.count == n else {
                    f.errors[key] = "\(latencies.count) results for \(n) tasks"
                    break
                }
                guard rep > 0, let p50 = quantile(latencies, 0.5), let p90 = quantile(latencies, 0.9) else {
                    continue
                }
                f.samples["\(key).p50", default: []].append(p50)
                f.samples["\(key).p90", default: []].append(p90)
            }
        }
    }
    return f
}

extension TableBuilder {
    mutating func latencyRows() {
        let work = f.info["l.work_ms"] ?? "?"
        for (number, mode, call) in [
            (1, "gen", "`Parallel(nJobs: 2).generator(tasks)`"),
            (2, "unordered", "`Parallel(nJobs: 2).generatorUnordered(tasks)`"),
        ] {
            let workload = "L\(number). generator latency: task end → consumer receives it, \(call), batchSize .auto"
            for (letter, size) in zip(["a", "b", "c"], latencyTaskSizes) {
                let key = "l.\(mode).\(size.key)"
                let n = f.info["\(key).n"].flatMap(Int.init) ?? 0
                let variant = "busy-wait tasks of \(size.label) ×\(n.formatted()) (\(work) ms of work)"
                guard let p50 = f.median("\(key).p50"), let p90 = f.median("\(key).p90") else {
                    rows.append(
                        Row(
                            id: "L\(number)\(letter)", workload: workload, variant: variant, median: na(key),
                            target: "≤ 5 ms", met: "—"))
                    continue
                }
                rows.append(
                    Row(
                        id: "L\(number)\(letter)", workload: workload, variant: variant,
                        median: formatTime(p50) + " latency", result: "p90 " + formatTime(p90),
                        target: "≤ 5 ms (median)", met: verdict(p50 <= 0.005)))
            }
        }
    }
}
