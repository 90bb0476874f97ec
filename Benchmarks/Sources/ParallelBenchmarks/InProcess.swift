// Rows 1–3: the in-process workloads (threading backend), measured in this process.
//
// Every function here is nonisolated and async: the loop baselines call the tasks' async bodies
// from the generic executor, as the library does, and never hop to the main actor per item.

import Dispatch
import ParallelKit

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A buffer that `concurrentPerform` iterations write at disjoint indices.
struct DisjointBuffer<T>: @unchecked Sendable {
    let base: UnsafeMutableBufferPointer<T>
    init(count: Int, initial: T) {
        base = .allocate(capacity: count)
        base.initialize(repeating: initial)
    }
    func free() { base.deallocate() }
}

/// Row 1: 1,000,000 trivial tasks. Within each repetition, in this order: a plain loop over the
/// same `Delayed` values (`try await d.run()`, the baseline), a plain loop calling `square` directly, `Parallel` threading
/// nJobs 2 with auto batching over the same `Delayed` values, and `concurrentPerform` with one
/// iteration per item. One untimed warm-up repetition comes first. Ratios are per repetition.
func runTrivial(_ o: Options) async -> Figures {
    var f = Figures()
    let n = o.trivialN
    f.info["t.n"] = String(n)
    let tasks = (0..<n).map { i in delayed(square)(i) }
    let parallel = Parallel(nJobs: 2, backend: "threading")
    let cp = DisjointBuffer(count: n, initial: 0)
    defer { cp.free() }
    var expected: [Int] = []
    var parallelFailed = false

    for rep in 0...o.reps {
        let timed = rep > 0
        log("trivial N=\(n) rep \(rep)\(timed ? "" : " (warm-up)")")

        // Plain loop over the same closures the Parallel call runs.
        var r: [Int]
        let tLoop: Double
        do {
            (r, tLoop) = try await timedLoop(tasks)
        } catch {
            f.errors["t"] = "loop failed: \(error)"
            return f
        }
        if rep == 0 { expected = r }
        blackHole(r)
        r = []
        var t0: UInt64

        // Plain loop, direct calls (no closure, no async): the floor.
        t0 = nowNanos()
        var d = [Int]()
        d.reserveCapacity(n)
        for i in 0..<n { d.append(square(i)) }
        let tDirect = seconds(from: t0, to: nowNanos())
        blackHole(d)
        d = []

        // Parallel, threading, nJobs 2, auto batching.
        var tPar: Double?
        if !parallelFailed {
            do {
                t0 = nowNanos()
                let res = try await parallel(tasks)
                tPar = seconds(from: t0, to: nowNanos())
                if res != expected { throw BenchFailure("Parallel returned wrong results") }
            } catch {
                f.errors["t.parallel"] = "\(error)"
                parallelFailed = true
                tPar = nil
            }
        }

        // concurrentPerform, one iteration per item, over the same function.
        t0 = nowNanos()
        DispatchQueue.concurrentPerform(iterations: n) { i in cp.base[i] = square(i) }
        let tCP = seconds(from: t0, to: nowNanos())

        if timed {
            f.samples["t.loop", default: []].append(tLoop)
            f.samples["t.direct", default: []].append(tDirect)
            f.samples["t.cp", default: []].append(tCP)
            f.samples["t.cp.ratio", default: []].append(tCP / tLoop)
            if let tPar {
                f.samples["t.parallel", default: []].append(tPar)
                f.samples["t.parallel.ratio", default: []].append(tPar / tLoop)
                f.samples["t.parallel.overhead", default: []].append((tPar - tLoop) / Double(n))
            }
        }
    }
    return f
}

/// Row 2: CPU-bound tasks of about 5 ms (`spin`, calibrated at start-up). Per repetition: the loop
/// over the `Delayed` values (`run()`), `Parallel` threading nJobs 2, and `concurrentPerform` (the ceiling
/// two threads reach on this machine at that moment). Speed-ups are per repetition.
func runCPU(_ o: Options, iterations: Int) async -> Figures {
    var f = Figures()
    let n = o.cpuN
    f.info["c.n"] = String(n)
    let tasks = (0..<n).map { i in delayed(spin)(i, iterations) }
    let parallel = Parallel(nJobs: 2, backend: "threading")
    let cp = DisjointBuffer<UInt64>(count: n, initial: 0)
    defer { cp.free() }
    var expected: [UInt64] = []
    var parallelFailed = false

    for rep in 0...o.reps {
        let timed = rep > 0
        log("cpu N=\(n) rep \(rep)\(timed ? "" : " (warm-up)")")

        let r: [UInt64]
        let tLoop: Double
        do {
            (r, tLoop) = try await timedLoop(tasks)
        } catch {
            f.errors["c"] = "loop failed: \(error)"
            return f
        }
        if rep == 0 { expected = r }
        blackHole(r)
        var t0: UInt64

        var tPar: Double?
        if !parallelFailed {
            do {
                t0 = nowNanos()
                let res = try await parallel(tasks)
                tPar = seconds(from: t0, to: nowNanos())
                if res != expected { throw BenchFailure("Parallel returned wrong results") }
            } catch {
                f.errors["c.parallel"] = "\(error)"
                parallelFailed = true
                tPar = nil
            }
        }

        t0 = nowNanos()
        DispatchQueue.concurrentPerform(iterations: n) { i in cp.base[i] = spin(i, iterations) }
        let tCP = seconds(from: t0, to: nowNanos())

        if timed {
            f.samples["c.loop", default: []].append(tLoop)
            f.samples["c.cp", default: []].append(tCP)
            f.samples["c.cp.speedup", default: []].append(tLoop / tCP)
            if let tPar {
                f.samples["c.parallel", default: []].append(tPar)
                f.samples["c.parallel.speedup", default: []].append(tLoop / tPar)
            }
        }
    }
    return f
}

/// Row 3: `generator` over `genN` lazily made inputs with a consumer that spins about
/// `consumerNanos` per item, so the workers outrun it. Peak RSS growth is VmHWM (reset just
/// before the call through /proc/self/clear_refs) minus VmRSS before the call; VmRSS is also
/// sampled every 65,536 items as a cross-check. One run per repetition; the table shows the
/// largest growth seen and the median time.
func runGenerator(_ o: Options, consumerIterations: Int) async -> Figures {
    var f = Figures()
    let n = o.genN
    f.info["g.n"] = String(n)
    let parallel = Parallel(nJobs: 2, backend: "threading")

    for rep in 0..<o.genReps {
        log("generator N=\(n) run \(rep + 1)/\(o.genReps)")
        let inputs = (0..<n).lazy.map { i in delayed(square)(i) }
        trimHeap()
        let base = procStatus("VmRSS") ?? 0
        let reset = resetPeakRSS()
        var sampledMax = base
        var count = 0
        var inOrder = true
        var acc: UInt64 = 0
        let t0 = nowNanos()
        do {
            for try await v in parallel.generator(inputs) {
                if v != count &* count { inOrder = false }
                acc &+= spin(v, consumerIterations)
                count += 1
                if count & 0xFFFF == 0, let rss = procStatus("VmRSS") { sampledMax = max(sampledMax, rss) }
            }
        } catch {
            f.errors["g"] = "\(error)"
            return f
        }
        let t = seconds(from: t0, to: nowNanos())
        blackHole(acc)
        if let rss = procStatus("VmRSS") { sampledMax = max(sampledMax, rss) }
        let hwm = reset ? (procStatus("VmHWM") ?? sampledMax) : sampledMax
        if count != n || !inOrder {
            f.errors["g"] = "generator yielded \(count) of \(n) results\(inOrder ? "" : ", out of order")"
            return f
        }
        f.samples["g.seconds", default: []].append(t)
        f.samples["g.growth", default: []].append(Double(hwm - base))
        f.samples["g.sampledGrowth", default: []].append(Double(sampledMax - base))
        f.info["g.method"] = reset ? "VmHWM after reset via clear_refs" : "sampled VmRSS (clear_refs unavailable)"
    }
    return f
}

/// The baseline: a plain loop over the same `Delayed`s a `Parallel` call runs, and its time in
/// seconds.
func timedLoop<R: Sendable>(_ tasks: [Delayed<R>]) async throws -> ([R], Double) {
    let t0 = nowNanos()
    var results = [R]()
    results.reserveCapacity(tasks.count)
    for d in tasks { results.append(try await d.run()) }
    return (results, seconds(from: t0, to: nowNanos()))
}
