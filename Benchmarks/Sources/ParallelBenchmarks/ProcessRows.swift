// Row 4: the process backends. These run in a child process of the benchmark (this
// executable re-run with `--child process`), so a backend that is missing, hangs or crashes costs
// only its rows ("n/a: <reason>") and never the table. Cold start runs in a fresh child per
// sample (`--child cold`), which is the honest analogue of a program's first call.

import Dispatch
import Foundation
import ParallelKit

#if canImport(Glibc)
import Glibc
#endif

/// Runs in the child: 100k trivial jobs, multiprocessing cold start, CPU-bound jobs, and the large
/// array summed through shared memory and through the pipe.
func runProcessSection(_ o: Options, iterations: Int) async -> Figures {
    var f = Figures()
    f.merge(await processTrivial(o))
    f.merge(await processCPU(o, iterations: iterations))
    f.merge(await multiprocessingColdStart(o))
    f.merge(await processSharedArray(o))
    if o.only.contains("r") { f.merge(await processSharedArraySixteenJobs(o)) }
    return f
}

/// 4a: `SquareJob` × N: a loop calling `run()` on the same jobs vs `"process"` nJobs 2 (a pool
/// reused across repetitions; the warm-up call starts it).
func processTrivial(_ o: Options) async -> Figures {
    var f = Figures()
    let n = o.procTrivialN
    f.info["p.t.n"] = String(n)
    let jobs = (0..<n).map { SquareJob(i: $0) }
    let pool = Parallel(nJobs: 2, backend: "process")
    var expected: [Int] = []
    var failed = false
    for rep in 0...o.reps {
        log("process trivial N=\(n) rep \(rep)\(rep == 0 ? " (warm-up)" : "")")
        var t0 = nowNanos()
        var r = [Int]()
        r.reserveCapacity(n)
        do {
            for j in jobs { r.append(try await j.run()) }
        } catch {
            f.errors["p.t"] = "loop failed: \(error)"
            return f
        }
        let tLoop = seconds(from: t0, to: nowNanos())
        if rep == 0 { expected = r }
        var tProc: Double?
        if !failed {
            do {
                t0 = nowNanos()
                let res = try await pool(jobs)
                tProc = seconds(from: t0, to: nowNanos())
                if res != expected { throw BenchFailure("wrong results") }
            } catch {
                f.errors["p.t.process"] = "\(error)"
                failed = true
                tProc = nil
            }
        }
        if rep == 0, let tProc {
            // The first call in this child starts the pool: the cold call.
            f.samples["p.t.process.first"] = [tProc]
        }
        if rep > 0 {
            f.samples["p.t.loop", default: []].append(tLoop)
            if let tProc {
                f.samples["p.t.process", default: []].append(tProc)
                f.samples["p.t.process.overhead", default: []].append((tProc - tLoop) / Double(n))
            }
        }
    }
    return f
}

/// 4c: `SpinJob` × N (about 5 ms each): loop vs `"process"` nJobs 2, and `concurrentPerform` in
/// the same repetition as the ceiling of the moment.
func processCPU(_ o: Options, iterations: Int) async -> Figures {
    var f = Figures()
    let n = o.cpuN
    f.info["p.c.n"] = String(n)
    let jobs = (0..<n).map { SpinJob(seed: $0, iterations: iterations) }
    let pool = Parallel(nJobs: 2, backend: "process")
    let cp = DisjointBuffer<UInt64>(count: n, initial: 0)
    defer { cp.free() }
    var expected: [UInt64] = []
    var failed = false
    for rep in 0...o.reps {
        log("process cpu N=\(n) rep \(rep)\(rep == 0 ? " (warm-up)" : "")")
        var t0 = nowNanos()
        var r = [UInt64]()
        do {
            for j in jobs { r.append(try await j.run()) }
        } catch {
            f.errors["p.c"] = "loop failed: \(error)"
            return f
        }
        let tLoop = seconds(from: t0, to: nowNanos())
        if rep == 0 { expected = r }
        var tProc: Double?
        if !failed {
            do {
                t0 = nowNanos()
                let res = try await pool(jobs)
                tProc = seconds(from: t0, to: nowNanos())
                if res != expected { throw BenchFailure("wrong results") }
            } catch {
                f.errors["p.c.process"] = "\(error)"
                failed = true
                tProc = nil
            }
        }
        // The ceiling two threads reach right now (the host's load varies from one second to the
        // next), over the same function.
        t0 = nowNanos()
        DispatchQueue.concurrentPerform(iterations: n) { i in cp.base[i] = spin(i, iterations) }
        let tCP = seconds(from: t0, to: nowNanos())

        if rep > 0 {
            f.samples["p.c.cp", default: []].append(tCP)
            f.samples["p.c.cp.speedup", default: []].append(tLoop / tCP)
            f.samples["p.c.loop", default: []].append(tLoop)
            if let tProc {
                f.samples["p.c.process", default: []].append(tProc)
                f.samples["p.c.process.speedup", default: []].append(tLoop / tProc)
            }
        }
    }
    return f
}

/// Seconds from the call to the first result of 2 jobs on 2 workers (all results are consumed).
func firstResult(_ parallel: Parallel) async throws -> Double {
    let t0 = nowNanos()
    var first: Double?
    var got: [Int] = []
    for try await v in parallel.generator([SquareJob(i: 2), SquareJob(i: 3)]) {
        if first == nil { first = seconds(from: t0, to: nowNanos()) }
        got.append(v)
    }
    guard got == [4, 9], let first else { throw BenchFailure("wrong results \(got)") }
    return first
}

/// 4b, in the child: `"multiprocessing"` starts its workers for every call, so every call is a
/// cold start.
func multiprocessingColdStart(_ o: Options) async -> Figures {
    var f = Figures()
    let mp = Parallel(nJobs: 2, backend: "multiprocessing")
    for rep in 0...o.reps {
        log("multiprocessing cold start rep \(rep)\(rep == 0 ? " (warm-up)" : "")")
        do {
            let t = try await firstResult(mp)
            if rep > 0 { f.samples["p.cold.mp", default: []].append(t) }
        } catch {
            f.errors["p.cold.mp"] = "\(error)"
            return f
        }
    }
    return f
}

/// 4b, in a fresh child per sample: the first call on `"process"` in a program.
func processColdStartOnce() async -> Figures {
    var f = Figures()
    do {
        f.samples["p.cold.process"] = [try await firstResult(Parallel(nJobs: 2, backend: "process"))]
    } catch {
        f.errors["p.cold.process"] = "\(error)"
    }
    return f
}

/// 4d: a `sharedMB` MB `[Double]` summed by 2 workers (each job sums one half and carries the whole
/// array, as a joblib task gets the whole array as its argument): through a `SharedArray` built
/// beforehand, as a plain `[Double]` with the default `maxNbytes` (automatic shared memory), and as a
/// plain `[Double]` with `maxNbytes: .disabled` (through the pipe, one copy per job).
func processSharedArray(_ o: Options) async -> Figures {
    var f = Figures()
    let count = o.sharedMB * 1024 * 1024 / MemoryLayout<Double>.stride
    f.info["p.s.mb"] = String(o.sharedMB)
    log("large array: \(o.sharedMB) MB, \(count) Doubles")
    // Small integers: every partial sum is exact, so all variants must agree to the bit.
    let array = (0..<count).map { Double($0 & 1023) }
    let expected = array.withUnsafeBufferPointer { sum4($0) }
    let half = count / 2

    var shared: SharedArray<Double>?
    do {
        trimHeap()
        let t0 = nowNanos()
        shared = try SharedArray(array)
        f.samples["p.s.build"] = [seconds(from: t0, to: nowNanos())]
    } catch {
        f.errors["p.s.shared"] = "SharedArray: \(error)"
    }
    let pool = Parallel(nJobs: 2, backend: "process")
    let pipe = Parallel(nJobs: 2, backend: "process", maxNbytes: .disabled)
    let arrayJobs = [
        ArraySumJob(data: array, lower: 0, upper: half),
        ArraySumJob(data: array, lower: half, upper: count),
    ]

    func run<J: ParallelJob>(_ p: Parallel, _ jobs: [J]) async throws -> Double where J.Output == Double {
        let t0 = nowNanos()
        let parts = try await p(jobs)
        let t = seconds(from: t0, to: nowNanos())
        guard parts.reduce(0, +) == expected else {
            throw BenchFailure("wrong sum \(parts.reduce(0, +)), expected \(expected)")
        }
        return t
    }

    var failed: Set<String> = []
    for rep in 0...o.reps {
        log("large array rep \(rep)\(rep == 0 ? " (warm-up)" : "")")
        var times: [String: Double] = [:]
        if let shared, !failed.contains("p.s.shared") {
            let jobs = [
                SharedSumJob(data: shared, lower: 0, upper: half),
                SharedSumJob(data: shared, lower: half, upper: count),
            ]
            do { times["p.s.shared"] = try await run(pool, jobs) } catch {
                f.errors["p.s.shared"] = "\(error)"
                failed.insert("p.s.shared")
            }
        }
        for (key, p) in [("p.s.auto", pool), ("p.s.pipe", pipe)] where !failed.contains(key) {
            do { times[key] = try await run(p, arrayJobs) } catch {
                f.errors[key] = "\(error)"
                failed.insert(key)
            }
        }
        if rep > 0 {
            for (k, t) in times { f.samples[k, default: []].append(t) }
            if let s = times["p.s.shared"], let p = times["p.s.pipe"] {
                f.samples["p.s.pipe.ratio", default: []].append(p / s)
            }
            if let a = times["p.s.auto"], let p = times["p.s.pipe"] {
                f.samples["p.s.auto.ratio", default: []].append(p / a)
            }
        }
    }
    return f
}

// MARK: - Parent side

/// Runs this executable with `arguments` plus `--out FILE`, waits at most `timeout` seconds, and
/// returns the figures it wrote. Any failure comes back as a reason string.
func runChild(_ arguments: [String], timeout: Double) async -> Result<Figures, BenchFailure> {
    let out = FileManager.default.temporaryDirectory
        .appendingPathComponent("pk-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).json")
    defer { try? FileManager.default.removeItem(at: out) }
    let child = Process()
    child.executableURL = URL(fileURLWithPath: executablePath())
    child.arguments = arguments + ["--out", out.path]
    do { try child.run() } catch {
        return .failure(BenchFailure("cannot start child: \(error)"))
    }
    let deadline = nowNanos() + UInt64(timeout * 1e9)
    while child.isRunning && nowNanos() < deadline {
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    if child.isRunning {
        child.terminate()
        try? await Task.sleep(nanoseconds: 2_000_000_000)
        if child.isRunning { kill(child.processIdentifier, SIGKILL) }
        child.waitUntilExit()
        return .failure(BenchFailure("child did not finish within \(Int(timeout)) s"))
    }
    child.waitUntilExit()
    if child.terminationReason == .uncaughtSignal {
        return .failure(BenchFailure("child killed by signal \(child.terminationStatus)"))
    }
    if child.terminationStatus != 0 {
        return .failure(BenchFailure("child exited with status \(child.terminationStatus)"))
    }
    do {
        return .success(try JSONDecoder().decode(Figures.self, from: Data(contentsOf: out)))
    } catch {
        return .failure(BenchFailure("child wrote no figures: \(error)"))
    }
}

/// Writes figures for the parent (child side).
func writeFigures(_ f: Figures, to path: String) {
    do {
        try JSONEncoder().encode(f).write(to: URL(fileURLWithPath: path))
    } catch {
        log("cannot write \(path): \(error)")
        exit(3)
    }
}
