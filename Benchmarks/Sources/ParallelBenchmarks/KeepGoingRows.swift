// Rows K1–K3: the results modes ("keeping going") against the throwing list mode, and a chaos run
// (crashes, hangs, errors with retries) against the same run with no faults.

import Foundation
import ParallelKit
import Synchronization

/// A job that fails as the seed says: a crash, a hang past the timeout, or an error.
struct ChaosBenchJob: ParallelJob {
    var index: Int
    var faults: Bool

    func run() async throws -> Int {
        guard faults else { return index &* 7 }
        switch index % 100 {
        case 0, 1: kill(getpid(), SIGKILL); return -1
        case 2: usleep(5_000_000); return -1
        case 3, 4, 5: throw ChaosBenchError()
        default: return index &* 7
        }
    }
}

struct ChaosBenchError: Error, Codable {}

/// The keep-going section's figures: k.list / k.results (1M trivial Delayed tasks on threads),
/// k.p.list / k.p.results (process jobs), k.chaos / k.calm (the chaos run and its fault-free twin).
func runKeepGoing(_ o: Options) async -> Figures {
    var f = Figures()
    let n = o.trivialN
    let processN = o.procTrivialN
    let chaosN = o.quick ? 200 : 1_000
    f.info["k.n"] = String(n)
    f.info["k.p.n"] = String(processN)
    f.info["k.chaos.n"] = String(chaosN)
    let parallel = Parallel(nJobs: 2, backend: "threading")
    let tasks = (0..<n).map { delayed(square)($0) }
    do {
        try await timePair(
            into: &f, reps: o.reps, keys: ("k.list", "k.results", "k.ratio"),
            baseline: { try await parallel(tasks).count }, variant: { try await parallel.results(tasks).count })
        // Progress: the same call with a handler that counts events, against no progress.
        let events = Mutex(0)
        let counted = Parallel(nJobs: 2, backend: "threading", progress: .handler { _ in events.withLock { $0 += 1 } })
        try await timePair(
            into: &f, reps: o.reps, keys: (nil, "k.progress", "k.progress.ratio"),
            baseline: { try await parallel(tasks).count }, variant: { try await counted(tasks).count })
        f.info["k.progress.events"] = String(events.withLock { $0 } / (o.reps + 1))
        guard o.process else {
            f.errors["k.p"] = "skipped (--no-process)"
            return f
        }
        let process = Parallel(nJobs: 2, backend: "process")
        let jobs = (0..<processN).map { SquareJob(i: $0) }
        try await timePair(
            into: &f, reps: o.reps, keys: ("k.p.list", "k.p.results", "k.p.ratio"),
            baseline: { try await process(jobs).count }, variant: { try await process.results(jobs).count })
        let chaos = Parallel(nJobs: 2, backend: "process", timeout: .milliseconds(200), retry: .attempts(2))
        let failed = Mutex(0)
        try await timePair(
            into: &f, reps: min(o.reps, 3), keys: ("k.calm", "k.chaos", nil),
            baseline: { try await chaos.results((0..<chaosN).map { ChaosBenchJob(index: $0, faults: false) }).count },
            variant: {
                let stormy = try await chaos.results((0..<chaosN).map { ChaosBenchJob(index: $0, faults: true) })
                failed.withLock { $0 = stormy.filter { if case .failure = $0 { true } else { false } }.count }
                return stormy.count
            })
        f.info["k.chaos.failed"] = String(failed.withLock { $0 })
    } catch {
        f.errors["k"] = "\(error)"
    }
    return f
}

/// Times `baseline` then `variant` back to back in each repetition (the first one untimed) and
/// records their times and the ratio variant / baseline under `keys` (a `nil` key is not recorded).
func timePair(
    into f: inout Figures, reps: Int, keys: (baseline: String?, variant: String, ratio: String?),
    baseline: () async throws -> Int, variant: () async throws -> Int
) async throws {
    for rep in 0...reps {
        var start = nowNanos()
        let baselineCount = try await baseline()
        let baselineTime = seconds(from: start, to: nowNanos())
        start = nowNanos()
        let variantCount = try await variant()
        let variantTime = seconds(from: start, to: nowNanos())
        blackHole(baselineCount &+ variantCount)
        guard rep > 0 else { continue }
        if let key = keys.baseline { f.samples[key, default: []].append(baselineTime) }
        f.samples[keys.variant, default: []].append(variantTime)
        if let key = keys.ratio { f.samples[key, default: []].append(variantTime / baselineTime) }
    }
}

extension TableBuilder {
    mutating func keepGoingRows() {
        let n = f.info["k.n"].flatMap(Int.init) ?? 0
        let w1 = "K1. \(n.formatted()) trivial `delayed(square)` tasks, threading, nJobs 2"
        timed("K1a", w1, "`parallel(tasks)` (list mode, throws on failure)", key: "k.list", n: n)
        if let ratio = f.median("k.ratio") {
            timed(
                "K1b", w1, "`parallel.results(tasks)` (every fate as a value)", key: "k.results", n: n,
                result: formatRatio(ratio) + " of K1a", target: "≤ 1.1×", met: verdict(ratio <= 1.1))
        } else {
            rows.append(Row(id: "K1b", workload: w1, variant: "`parallel.results(tasks)`", median: na("k.results")))
        }
        if let ratio = f.median("k.progress.ratio") {
            timed(
                "K1c", w1,
                "the same with `progress: .handler { … }` counting events "
                    + "(\(f.info["k.progress.events"] ?? "?") events per call)",
                key: "k.progress", n: n, result: formatRatio(ratio) + " of no progress", target: "≤ 1.05×",
                met: verdict(ratio <= 1.05))
        } else {
            rows.append(Row(id: "K1c", workload: w1, variant: "with a progress handler", median: na("k.progress")))
        }
        let pn = f.info["k.p.n"].flatMap(Int.init) ?? 0
        let w2 = "K2. \(pn.formatted()) trivial jobs, \"process\", nJobs 2, warm pool"
        timed("K2a", w2, "list mode", key: "k.p.list", n: pn)
        if let ratio = f.median("k.p.ratio") {
            timed(
                "K2b", w2, "results mode", key: "k.p.results", n: pn,
                result: formatRatio(ratio) + " of K2a", target: "≤ 1.1×", met: verdict(ratio <= 1.1))
        } else {
            rows.append(Row(id: "K2b", workload: w2, variant: "results mode", median: na("k.p.results")))
        }
        let cn = f.info["k.chaos.n"].flatMap(Int.init) ?? 0
        let w3 = "K3. \(cn.formatted()) jobs, \"process\", timeout 0.2 s, retry .attempts(2)"
        timed("K3a", w3, "no faults", key: "k.calm", n: nil)
        if let chaos = f.median("k.chaos"), let calm = f.median("k.calm") {
            timed(
                "K3b", w3, "2% crash, 1% hang, 3% throw (\(f.info["k.chaos.failed"] ?? "?") final failures)",
                key: "k.chaos", n: nil, result: formatRatio(chaos / calm) + " of K3a")
        } else {
            rows.append(Row(id: "K3b", workload: w3, variant: "with faults", median: na("k.chaos")))
        }
    }
}
