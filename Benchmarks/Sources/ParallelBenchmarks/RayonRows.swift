// Section 5 (issue 9): ParallelKit beside Rust's Rayon on the same machine, in the same rounds. The
// Swift side is measured here; Rayon's side is Benchmarks/rayon (built by run.sh from Debian's
// packaged crates, offline), run as a child after the Swift side of each repetition, printing its
// samples as JSON; ratios are per repetition. Without cargo or librust-rayon-dev the Rayon rows say
// n/a and the Swift rows still print.

import Foundation
import ParallelKit

/// Where run.sh builds the Rayon program.
let rayonBinary = benchmarksDirectory.appendingPathComponent("rayon/target/release/rayon-bench").path

/// The Swift side of section 5, then Rayon's.
func runRayonSection(_ o: Options, iterations: Int) async -> Figures {
    var f = Figures()
    let n = o.trivialN
    let cpuN = o.cpuN
    let spawnN = o.spawnN
    let calls = o.fixedCalls
    f.info["r.n"] = String(n)
    f.info["r.cpu.n"] = String(cpuN)
    f.info["r.spawn.n"] = String(spawnN)
    f.info["r.calls"] = String(calls)
    if !o.only.contains("p") { f.errors["r.s16"] = "runs with the process rows (add p to --only)" }
    let parallel = Parallel(nJobs: 2)
    let oneByOne = Parallel(nJobs: 2, batchSize: 1)
    let expected = (0..<n).map(square)
    let delayedTasks = (0..<n).map { delayed(square)($0) }
    let spawnTasks = (0..<spawnN).map { delayed(square)($0) }
    let pair = [0, 1]
    let pairTasks = [delayed(square)(0), delayed(square)(1)]

    do {
        for rep in 0...o.reps {
            let timed = rep > 0
            log("beside Rayon rep \(rep)\(timed ? "" : " (warm-up)")")
            var t0 = nowNanos()
            let mapped = try await parallel.map(0..<n, square)
            let tMap = seconds(from: t0, to: nowNanos())
            guard mapped == expected else { throw BenchFailure("map returned wrong results") }

            t0 = nowNanos()
            var sequential = [UInt64]()
            sequential.reserveCapacity(cpuN)
            for i in 0..<cpuN { sequential.append(spin(i, iterations)) }
            let tCPUSeq = seconds(from: t0, to: nowNanos())
            t0 = nowNanos()
            let spun = try await parallel.map(0..<cpuN) { spin($0, iterations) }
            let tCPUMap = seconds(from: t0, to: nowNanos())
            guard spun == sequential else { throw BenchFailure("map returned wrong CPU results") }

            t0 = nowNanos()
            let oneEach = try await oneByOne(spawnTasks)
            let tSpawn = seconds(from: t0, to: nowNanos())
            guard oneEach.last == square(spawnN - 1) else { throw BenchFailure("batchSize 1 returned wrong results") }

            var check = 0
            t0 = nowNanos()
            for _ in 0..<calls { check &+= try await parallel.map(pair, square)[1] }
            let tFixedMap = seconds(from: t0, to: nowNanos()) / Double(calls)
            t0 = nowNanos()
            for _ in 0..<calls { check &+= try await parallel(pairTasks)[1] }
            let tFixedCall = seconds(from: t0, to: nowNanos()) / Double(calls)
            guard check == 2 * calls else { throw BenchFailure("2-task calls returned wrong results") }
            let tFixedCallMain = try await twoTaskCallsOnMainActor(parallel, pairTasks, calls: calls)

            t0 = nowNanos()
            let viaDelayed = try await parallel(delayedTasks)
            let tDelayed = seconds(from: t0, to: nowNanos())
            guard viaDelayed == expected else { throw BenchFailure("delayed call returned wrong results") }

            // Rayon in the same round: one timed repetition (after a warm-up in the first round).
            let rayon = await runRayonProgram(o, iterations: iterations, reps: 1, warmup: rep == 0 ? 1 : 0)
            f.errors.merge(rayon.errors) { old, _ in old }
            if timed {
                for (key, values) in rayon.samples { f.samples[key, default: []] += values }
                if let theirs = rayon.samples["r.rayon.map"]?.first {
                    f.samples["r.map.ratio", default: []].append(tMap / theirs)
                }
                if let seq = rayon.samples["r.rayon.cpu.seq"]?.first, let par = rayon.samples["r.rayon.cpu.par"]?.first
                {
                    f.samples["r.cpu.speedupRatio", default: []].append((tCPUSeq / tCPUMap) / (seq / par))
                }
                if let theirs = rayon.samples["r.rayon.fixed2"]?.first {
                    f.samples["r.fixed.map.ratio", default: []].append(tFixedMap / theirs)
                    f.samples["r.fixed.call.ratio", default: []].append(tFixedCall / theirs)
                    f.samples["r.fixed.callMain.ratio", default: []].append(tFixedCallMain / theirs)
                }
                f.samples["r.map", default: []].append(tMap)
                f.samples["r.cpu.seq", default: []].append(tCPUSeq)
                f.samples["r.cpu.map", default: []].append(tCPUMap)
                f.samples["r.cpu.speedup", default: []].append(tCPUSeq / tCPUMap)
                f.samples["r.spawn", default: []].append(tSpawn / Double(spawnN))
                f.samples["r.fixed.map", default: []].append(tFixedMap)
                f.samples["r.fixed.call", default: []].append(tFixedCall)
                f.samples["r.fixed.callMain", default: []].append(tFixedCallMain)
                f.samples["r.delayed", default: []].append(tDelayed)
            }
        }
    } catch {
        f.errors["r.swift"] = "\(error)"
    }
    return f
}

/// 5d4: the mean time of `calls` 2-task calls made from the main actor, as a command-line tool's
/// top-level code makes them. Every hop the engine made off the caller's actor and back would cost
/// a thread wake-up here (on Linux the main queue is drained by a dispatch thread).
@MainActor
func twoTaskCallsOnMainActor(_ parallel: Parallel, _ tasks: [Delayed<Int>], calls: Int) async throws -> Double {
    var check = 0
    let t0 = nowNanos()
    for _ in 0..<calls { check &+= try await parallel(tasks)[1] }
    let t = seconds(from: t0, to: nowNanos()) / Double(calls)
    guard check == calls else { throw BenchFailure("2-task calls from the main actor returned wrong results") }
    return t
}

/// Runs the Rayon program for `reps` timed repetitions after `warmup` untimed ones, and maps its
/// samples into `r.rayon.` keys.
func runRayonProgram(_ o: Options, iterations: Int, reps: Int, warmup: Int) async -> Figures {
    var f = Figures()
    guard FileManager.default.isExecutableFile(atPath: rayonBinary) else {
        f.errors["r.rayon"] =
            "Rayon program not built (needs cargo and `apt-get install librust-rayon-dev`; run.sh builds it)"
        return f
    }
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("pk-bench-rayon-\(getpid()).json")
    defer { try? FileManager.default.removeItem(at: out) }
    guard FileManager.default.createFile(atPath: out.path, contents: nil),
        let handle = FileHandle(forWritingAtPath: out.path)
    else {
        f.errors["r.rayon"] = "cannot create \(out.path)"
        return f
    }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: rayonBinary)
    child.arguments = [
        "--reps", String(reps), "--warmup", String(warmup), "--trivial-n", String(o.trivialN), "--cpu-n",
        String(o.cpuN),
        "--spin-iterations", String(iterations), "--spawn-n", String(o.spawnN),
        "--calls", String(o.fixedCalls),
    ]
    child.standardOutput = handle
    do { try child.run() } catch {
        f.errors["r.rayon"] = "cannot run the Rayon program: \(error)"
        return f
    }
    let deadline = nowNanos() + UInt64(o.sectionTimeout * 1e9)
    while child.isRunning && nowNanos() < deadline { try? await Task.sleep(nanoseconds: 20_000_000) }
    if child.isRunning {
        child.terminate()
        child.waitUntilExit()
        f.errors["r.rayon"] = "the Rayon program did not finish within \(Int(o.sectionTimeout)) s"
        return f
    }
    try? handle.close()
    guard child.terminationReason == .exit, child.terminationStatus == 0,
        let object = try? JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any]
    else {
        f.errors["r.rayon"] = "the Rayon program failed (status \(child.terminationStatus))"
        return f
    }
    for (name, value) in object {
        if let samples = value as? [Double] { f.samples["r.rayon." + name] = samples }
    }
    if let seq = f.samples["r.rayon.cpu.seq"], let par = f.samples["r.rayon.cpu.par"] {
        f.samples["r.rayon.cpu.speedup"] = zip(seq, par).map { $0 / $1 }
    }
    return f
}

/// 5f: the same `sharedMB` MB `[Double]` carried by 16 jobs on the process backend (2 workers),
/// through an explicit `SharedArray` and as a plain array above `maxNbytes` (shared automatically).
/// Runs in the process child, with the other process rows.
func processSharedArraySixteenJobs(_ o: Options) async -> Figures {
    var f = Figures()
    let count = o.sharedMB * 1024 * 1024 / MemoryLayout<Double>.stride
    let jobsCount = 16
    let array = (0..<count).map { Double($0 & 1023) }
    let expected = array.withUnsafeBufferPointer { sum4($0) }
    let bounds = (0...jobsCount).map { $0 * count / jobsCount }
    let shared: SharedArray<Double>
    do { shared = try SharedArray(array) } catch {
        f.errors["r.s16"] = "SharedArray: \(error)"
        return f
    }
    let pool = Parallel(nJobs: 2, backend: "process")
    let sharedJobs = (0..<jobsCount).map { SharedSumJob(data: shared, lower: bounds[$0], upper: bounds[$0 + 1]) }
    let arrayJobs = (0..<jobsCount).map { ArraySumJob(data: array, lower: bounds[$0], upper: bounds[$0 + 1]) }
    func run<J: ParallelJob>(_ jobs: [J]) async throws -> Double where J.Output == Double {
        let t0 = nowNanos()
        let parts = try await pool(jobs)
        let t = seconds(from: t0, to: nowNanos())
        guard parts.reduce(0, +) == expected else { throw BenchFailure("wrong sum \(parts.reduce(0, +))") }
        return t
    }
    do {
        for rep in 0...o.reps {
            log("16 jobs carrying \(o.sharedMB) MB, rep \(rep)\(rep == 0 ? " (warm-up)" : "")")
            let tShared = try await run(sharedJobs)
            let tAuto = try await run(arrayJobs)
            // A user who builds the SharedArray for this call: the copy into shared memory counted.
            let t0 = nowNanos()
            let built = try SharedArray(array)
            let builtJobs = (0..<jobsCount).map { SharedSumJob(data: built, lower: bounds[$0], upper: bounds[$0 + 1]) }
            _ = try await run(builtJobs)
            let tBuilt = seconds(from: t0, to: nowNanos())
            if rep > 0 {
                f.samples["r.s16.shared", default: []].append(tShared)
                f.samples["r.s16.built", default: []].append(tBuilt)
                f.samples["r.s16.auto", default: []].append(tAuto)
                f.samples["r.s16.ratio", default: []].append(tAuto / tShared)
                f.samples["r.s16.builtRatio", default: []].append(tAuto / tBuilt)
            }
        }
    } catch {
        f.errors["r.s16"] = "\(error)"
    }
    return f
}

extension TableBuilder {
    /// Section 5's rows: each Swift row beside Rayon's, with issue 9's targets.
    mutating func buildRayonRows() {
        let n = f.info["r.n"].flatMap(Int.init) ?? o.trivialN
        let w5a = "5a. \(n.formatted()) trivial items → array, 2 threads"
        timed("5a1", w5a, "Rayon `par_iter().map(square).collect()`", key: "r.rayon.map", n: n)
        ratioRow(
            "5a2", w5a, "`Parallel(nJobs: 2).map(0..<n, square)`", key: "r.map", over: "r.rayon.map",
            n: n, target: 1.2)
        let cpuN = f.info["r.cpu.n"] ?? "?"
        let w5b = "5b. CPU-bound ×\(cpuN) (\(f.info["c.task_ms"] ?? "?") ms each), speed-up over a plain loop"
        let rayonSpeedup = f.median("r.rayon.cpu.speedup")
        timed(
            "5b1", w5b, "Rayon `par_iter` on 2 threads", key: "r.rayon.cpu.par", n: Int(cpuN),
            result: rayonSpeedup.map { formatRatio($0) + " speed-up" } ?? "")
        if let ours = f.median("r.cpu.speedup") {
            var row = Row(
                id: "5b2", workload: w5b, variant: "`Parallel(nJobs: 2).map`",
                median: f.median("r.cpu.map").map(formatTime) ?? "", result: formatRatio(ours) + " speed-up",
                target: "≥ 0.98x of Rayon's")
            if let ratio = f.median("r.cpu.speedupRatio") {
                row.result += " = " + formatRatio(ratio) + " of Rayon's"
                row.met = verdict(ratio >= 0.98)
            } else {
                row.met = "—"
            }
            rows.append(row)
        } else {
            rows.append(
                Row(
                    id: "5b2", workload: w5b, variant: "`Parallel(nJobs: 2).map`", median: na("r.swift"),
                    target: "≥ 0.98x of Rayon's", met: "—"))
        }
        let spawnN = f.info["r.spawn.n"].flatMap(Int.init) ?? o.spawnN
        let w5c = "5c. \(spawnN.formatted()) tiny tasks, one per batch (per task)"
        perTaskRow("5c1", w5c, "Rayon `scope` + `spawn` per task", key: "r.rayon.spawn")
        perTaskRow(
            "5c2", w5c, "`Parallel(nJobs: 2, batchSize: 1)` over `delayed(square)(i)`", key: "r.spawn",
            target: 2e-6)
        let w5d = "5d. fixed cost of a 2-task call (mean over \(f.info["r.calls"] ?? "?") calls)"
        perTaskRow("5d1", w5d, "Rayon `install` + `par_iter` of 2 items", key: "r.rayon.fixed2")
        ratioRow(
            "5d2", w5d, "`Parallel(nJobs: 2).map([0, 1], square)`", key: "r.fixed.map",
            over: "r.rayon.fixed2", n: nil, target: 2)
        ratioRow(
            "5d3", w5d, "`Parallel(nJobs: 2)([delayed(square)(0), delayed(square)(1)])`", key: "r.fixed.call",
            over: "r.rayon.fixed2", n: nil, target: 2)
        ratioRow(
            "5d4", w5d, "the same `callAsFunction`, called from the main actor", key: "r.fixed.callMain",
            over: "r.rayon.fixed2", n: nil, target: nil)
        let w5e = "5e. \(n.formatted()) `delayed(square)(i)` tasks, the call alone"
        if let m = f.median("r.delayed") {
            rows.append(
                Row(
                    id: "5e", workload: w5e, variant: "`Parallel(nJobs: 2)(tasks)`", median: formatTime(m),
                    perTask: formatTime(m / Double(n)), target: "≤ 8 ms", met: verdict(m <= 0.008)))
        } else {
            rows.append(
                Row(
                    id: "5e", workload: w5e, variant: "`Parallel(nJobs: 2)(tasks)`", median: na("r.swift"),
                    target: "≤ 8 ms", met: "—"))
        }
        let w5f = "5f. \(f.info["p.s.mb"] ?? String(o.sharedMB)) MB `[Double]` carried by 16 process jobs, 2 workers"
        timed("5f1", w5f, "explicit `SharedArray<Double>` (built beforehand)", key: "r.s16.shared", n: nil)
        timed(
            "5f2", w5f, "explicit `SharedArray<Double>`, built for the call (copy counted)", key: "r.s16.built", n: nil)
        if let r = f.median("r.s16.ratio") {
            let built = f.median("r.s16.builtRatio").map { ", " + formatRatio($0) + " of 5f2" } ?? ""
            timed(
                "5f3", w5f, "plain `[Double]` above maxNbytes (shared automatically)", key: "r.s16.auto", n: nil,
                result: formatRatio(r) + " of 5f1" + built, target: "≤ 2x 5f1", met: verdict(r <= 2))
        } else {
            rows.append(
                Row(
                    id: "5f3", workload: w5f, variant: "plain `[Double]` above maxNbytes (shared automatically)",
                    median: na("r.s16"), target: "≤ 2x 5f1", met: "—"))
        }
    }

    /// A row whose result is its median over another row's median, against an upper bound.
    private mutating func ratioRow(
        _ id: String, _ workload: String, _ variant: String, key: String, over: String,
        n: Int?, target: Double?
    ) {
        let targetText = target.map { "≤ " + formatRatio($0) + " Rayon" } ?? ""
        guard let m = f.median(key) else {
            rows.append(
                Row(
                    id: id, workload: workload, variant: variant, median: na(key),
                    target: targetText, met: target == nil ? "" : "—"))
            return
        }
        var row = Row(
            id: id, workload: workload, variant: variant, median: formatTime(m),
            perTask: n.map { formatTime(m / Double($0)) } ?? "", target: targetText)
        if let ratio = f.median(key + ".ratio") {
            row.result = formatRatio(ratio) + " of Rayon"
            row.met = target.map { verdict(ratio <= $0) } ?? ""
        } else {
            row.result = "Rayon " + na(over)
            row.met = target == nil ? "" : "—"
        }
        rows.append(row)
    }

    /// A row whose samples are already per task (or per call).
    private mutating func perTaskRow(
        _ id: String, _ workload: String, _ variant: String, key: String,
        target: Double? = nil
    ) {
        guard let m = f.median(key) else {
            rows.append(
                Row(
                    id: id, workload: workload, variant: variant, median: na(key),
                    target: target.map { "≤ " + formatTime($0) } ?? "", met: target == nil ? "" : "—"))
            return
        }
        rows.append(
            Row(
                id: id, workload: workload, variant: variant, median: "", perTask: formatTime(m),
                target: target.map { "≤ " + formatTime($0) } ?? "",
                met: target.map { verdict(m <= $0) } ?? ""))
    }
}
