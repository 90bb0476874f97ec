// ParallelBenchmarks: ParallelKit against plain loops, concurrentPerform and Python joblib, in one
// run, printed as one table of medians. See Benchmarks/README.md for what each row measures.

import Foundation
import ParallelKit

struct Options: Sendable {
    var quick = false
    var reps = 5
    var joblib = true
    var process = true
    var python: String?
    var trivialN = 1_000_000
    var joblibTrivialN = 100_000
    var cpuN = 200
    var cpuMillis = 5.0
    var genN = 10_000_000
    var genReps = 1
    var consumerNanos = 200.0
    var procTrivialN = 100_000
    var sharedMB = 200
    /// Section 5 (beside Rayon): tiny tasks with batchSize 1, and 2-task calls per repetition.
    var spawnN = 100_000
    var fixedCalls = 2_000
    /// Rows L (generator latency): milliseconds of task work per call, split into tasks.
    var latencyWorkMillis = 1000.0
    /// Sections to run: g (generator), t (trivial), c (CPU), p (process), j (joblib), m (Memory),
    /// r (beside Rayon), k (keeping going: results modes and a chaos run), l (generator latency).
    var only: Set<String> = ["g", "t", "c", "p", "j", "m", "r", "k", "l"]
    /// Where to write every raw sample as JSON (`--json FILE`).
    var json: String?
    var sectionTimeout = 900.0
    var joblibTimeout = 1200.0
    // Internal: child modes.
    var child: String?
    var out: String?
    var spinIterations: Int?

    static let usage = """
        usage: ParallelBenchmarks [--quick] [--no-joblib] [--no-process] [--reps N] [--python PATH]
                                  [--trivial-n N] [--joblib-trivial-n N] [--cpu-n N] [--cpu-ms MS]
                                  [--gen-n N] [--gen-reps N] [--consumer-ns NS]
                                  [--process-trivial-n N] [--shared-mb MB] [--only t,c,g,p,j,m,r,k,l]
                                  [--spawn-n N] [--fixed-calls N] [--latency-work-ms MS]
                                  [--json FILE]
          --quick        small sizes and 1 repetition (a smoke test, e.g. in CI)
          --no-joblib    skip the joblib side (its rows print "n/a")
          --no-process   skip the process-backend rows (they print "n/a")
          --only LIST    run only these sections: t trivial, c CPU, g generator, p process rows,
                         j joblib, m Memory, r beside Rayon, k keeping going, l generator
                         latency (the others print "n/a: not run")
          --json FILE    also write every raw sample (seconds) and reason as JSON
          --python PATH  the Python that runs joblib/bench_joblib.py (default: $PK_BENCH_PYTHON,
                         else Benchmarks/.venv-bench/bin/python, else python3)
        """

    static func parse(_ args: [String]) -> Options {
        var o = Options()
        // --quick first, so explicit sizes given with it still win.
        if args.contains("--quick") {
            o.quick = true
            o.reps = 1
            o.trivialN = 100_000
            o.joblibTrivialN = 10_000
            o.cpuN = 40
            o.genN = 1_000_000
            o.procTrivialN = 10_000
            o.sharedMB = 20
            o.spawnN = 10_000
            o.fixedCalls = 200
            o.latencyWorkMillis = 200
            o.sectionTimeout = 300
            o.joblibTimeout = 300
        }
        var i = 0
        func value() -> String {
            i += 1
            guard i < args.count else {
                FileHandle.standardError.write(Data("missing value for \(args[i - 1])\n\(usage)\n".utf8))
                exit(2)
            }
            return args[i]
        }
        func int() -> Int {
            let v = value()
            guard let n = Int(v.replacingOccurrences(of: "_", with: "")), n > 0 else {
                FileHandle.standardError.write(Data("bad number \(v) for \(args[i - 1])\n".utf8))
                exit(2)
            }
            return n
        }
        while i < args.count {
            switch args[i] {
            case "--quick": break
            case "--no-joblib": o.joblib = false
            case "--no-process": o.process = false
            case "--reps": o.reps = int()
            case "--python": o.python = value()
            case "--trivial-n": o.trivialN = int()
            case "--joblib-trivial-n": o.joblibTrivialN = int()
            case "--cpu-n": o.cpuN = int()
            case "--cpu-ms": o.cpuMillis = Double(value()) ?? o.cpuMillis
            case "--gen-n": o.genN = int()
            case "--gen-reps": o.genReps = int()
            case "--consumer-ns": o.consumerNanos = Double(value()) ?? o.consumerNanos
            case "--process-trivial-n": o.procTrivialN = int()
            case "--shared-mb": o.sharedMB = int()
            case "--spawn-n": o.spawnN = int()
            case "--fixed-calls": o.fixedCalls = int()
            case "--latency-work-ms": o.latencyWorkMillis = Double(int())
            case "--json": o.json = value()
            case "--only": o.only = Set(value().split(separator: ",").map(String.init))
            case "--child": o.child = value()
            case "--out": o.out = value()
            case "--spin-iterations": o.spinIterations = int()
            case "-h", "--help":
                print(usage)
                exit(0)
            default:
                FileHandle.standardError.write(Data("unknown argument \(args[i])\n\(usage)\n".utf8))
                exit(2)
            }
            i += 1
        }
        return o
    }

    /// The flags a child process needs to measure the same workloads.
    var childArguments: [String] {
        [
            "--reps", String(reps), "--cpu-n", String(cpuN), "--process-trivial-n", String(procTrivialN),
            "--shared-mb", String(sharedMB), "--only", only.sorted().joined(separator: ","),
        ]
    }
}

@main
struct BenchmarkMain {
    static func main() async {
        let o = Options.parse(Array(CommandLine.arguments.dropFirst()))
        if let child = o.child {
            await runChildMode(child, o)
            return
        }
        let figures = await runAll(o)
        if let path = o.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do { try encoder.encode(figures).write(to: URL(fileURLWithPath: path)) } catch {
                log("cannot write \(path): \(error)")
            }
        }
        var t = TableBuilder(figures, o)
        t.build()
        printReport(t, figures, o)
    }

    static func runChildMode(_ child: String, _ o: Options) async {
        guard let out = o.out else {
            log("--child needs --out")
            exit(2)
        }
        switch child {
        case "process":
            let iterations = o.spinIterations ?? calibrateSpin(targetMillis: o.cpuMillis).iterations
            writeFigures(await runProcessSection(o, iterations: iterations), to: out)
        case "cold":
            writeFigures(await processColdStartOnce(), to: out)
        default:
            log("unknown child mode \(child)")
            exit(2)
        }
    }

    static func runAll(_ o: Options) async -> Figures {
        var f = Figures()
        f.info["load.start"] = loadAverage()
        log("calibrating the CPU-bound task (\(o.cpuMillis) ms)")
        let (iterations, millis) = calibrateSpin(targetMillis: o.cpuMillis)
        f.info["c.task_ms"] = String(format: "%.2f", millis)
        f.info["c.iterations"] = String(iterations)
        let nsPerIteration = millis * 1e6 / Double(iterations)
        let consumerIterations = max(1, Int((o.consumerNanos / nsPerIteration).rounded()))
        f.info["g.consumer_ns"] = String(format: "%.0f", Double(consumerIterations) * nsPerIteration)
        log("spin: \(iterations) iterations ≈ \(String(format: "%.2f", millis)) ms")

        // The generator first, while the heap is small, so freed pages of earlier rows cannot hide
        // its growth.
        await section("g", into: &f, o) { await runGenerator(o, consumerIterations: consumerIterations) }
        await section("t", into: &f, o) { await runTrivial(o) }
        await section("c", into: &f, o) { await runCPU(o, iterations: iterations) }
        await section("m", into: &f, o) { await runMemory(o) }
        await section("r", into: &f, o) { await runRayonSection(o, iterations: iterations) }
        await section("k", into: &f, o) { await runKeepGoing(o) }
        await section("l", into: &f, o) { await runGeneratorLatency(o) }

        if !o.only.contains("p") {
            f.errors["p"] = "not run (--only)"
        } else if o.process {
            log("process rows: in a child process")
            switch await runChild(
                ["--child", "process", "--spin-iterations", String(iterations)] + o.childArguments,
                timeout: o.sectionTimeout)
            {
            case .success(let pf): f.merge(pf)
            case .failure(let e): f.errors["p"] = e.description
            }
            var cold: [Double] = []
            for rep in 0...o.reps {
                log("process cold start: fresh program \(rep)\(rep == 0 ? " (warm-up)" : "")")
                switch await runChild(["--child", "cold"], timeout: 120) {
                case .success(let cf):
                    if let s = cf.samples["p.cold.process"]?.first {
                        if rep > 0 { cold.append(s) }
                    } else {
                        f.errors["p.cold.process"] = cf.reason(for: "p.cold.process") ?? "no figure"
                    }
                case .failure(let e):
                    f.errors["p.cold.process"] = e.description
                }
                if f.errors["p.cold.process"] != nil { break }
            }
            if !cold.isEmpty { f.samples["p.cold.process"] = cold }
        } else {
            f.errors["p"] = "skipped (--no-process)"
        }

        f.info["load.swiftEnd"] = loadAverage()
        if !o.only.contains("j") {
            f.errors["j"] = "not run (--only)"
        } else if o.joblib {
            f.merge(await runJoblib(o))
        } else {
            f.errors["j"] = "skipped (--no-joblib)"
        }
        f.info["load.end"] = loadAverage()
        return f
    }

    /// Runs one in-process section under a deadline; a section that throws or hangs leaves a reason.
    static func section(
        _ key: String, into f: inout Figures, _ o: Options,
        _ body: @escaping @Sendable () async -> Figures
    ) async {
        guard o.only.contains(key) else {
            f.errors[key] = "not run (--only)"
            return
        }
        do {
            f.merge(try await withDeadline(o.sectionTimeout, body))
        } catch {
            f.errors[key] = "\(error)"
        }
    }

    static func printReport(_ t: TableBuilder, _ f: Figures, _ o: Options) {
        let date = ISO8601DateFormatter().string(from: Date())
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var lines: [String] = []
        lines.append("ParallelKit benchmarks — \(date), \(cores) cores online, cpuCount() = \(cpuCount())")
        lines.append(
            "Medians of \(o.reps) timed repetition\(o.reps == 1 ? "" : "s") after one untimed warm-up"
                + " (ratios and speed-ups: the median of the per-repetition ratios, both sides timed"
                + " back to back)\(o.quick ? "; --quick sizes" : "").")
        lines.append(
            "Load average (1, 5, 15 min) from /proc/loadavg: \(f.info["load.start"] ?? "?") at the start,"
                + " \(f.info["load.swiftEnd"] ?? "?") after the Swift rows, \(f.info["load.end"] ?? "?") at the end"
                + " (the first is before this run; the others include this run's own threads, up to 2).")
        lines.append(
            "joblib: \(f.info["j.version"].map { "joblib \($0), Python \(f.info["j.python"] ?? "?")" } ?? (f.reason(for: "j") ?? "?"))."
        )
        lines.append("")
        lines.append(t.render())
        lines.append("")
        lines.append(
            "Per task = median / N; overhead = (median − baseline median) / N (for 1c and 4a2, the"
                + " median of per-repetition differences). Row 3 reports the largest peak-RSS growth over its runs.")
        print(lines.joined(separator: "\n"))
    }
}
