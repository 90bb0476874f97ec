// The one table: every row, its median, its per-task figure, its ratio, its target and verdict.

import Foundation

func formatTime(_ s: Double) -> String {
    let a = abs(s)
    if a >= 1 { return String(format: "%.2f s", s) }
    if a >= 1e-3 { return String(format: "%.1f ms", s * 1e3) }
    if a >= 1e-6 { return String(format: "%.2f µs", s * 1e6) }
    return String(format: "%.2f ns", s * 1e9)
}

func formatSigned(_ s: Double) -> String { (s >= 0 ? "+" : "−") + formatTime(abs(s)) }

func formatRatio(_ r: Double) -> String {
    r >= 100 ? String(format: "%.0fx", r) : String(format: "%.2fx", r)
}

func formatMB(_ bytes: Double) -> String { String(format: "%.1f MB", bytes / 1_048_576) }

struct Row {
    var id: String
    var workload: String
    var variant: String
    var median: String = ""
    var perTask: String = ""
    var result: String = ""
    var target: String = ""
    var met: String = ""
}

/// Builds the rows from the figures. A row whose figure is missing says "n/a: <reason>".
struct TableBuilder {
    let f: Figures
    let o: Options
    var rows: [Row] = []

    init(_ f: Figures, _ o: Options) {
        self.f = f
        self.o = o
    }

    func na(_ key: String) -> String {
        "n/a: "
            + (f.reason(for: key) ?? "not measured").replacingOccurrences(of: "|", with: "/")
            .replacingOccurrences(of: "\n", with: " ")
    }

    func verdict(_ ok: Bool) -> String { ok ? "yes" : "**NO**" }

    /// A plain timed row: median and per-task time (median / n).
    mutating func timed(
        _ id: String, _ workload: String, _ variant: String, key: String, n: Int?,
        result: String = "", target: String = "", met: String = ""
    ) {
        guard let m = f.median(key) else {
            rows.append(Row(id: id, workload: workload, variant: variant, median: na(key)))
            return
        }
        rows.append(
            Row(
                id: id, workload: workload, variant: variant, median: formatTime(m),
                perTask: n.map { formatTime(m / Double($0)) } ?? "",
                result: result, target: target, met: met))
    }

    /// joblib's per-task overhead over its plain loop: (median − median plain) / n.
    func joblibOverhead(_ name: String) -> Double? {
        guard let m = f.median("j.t.\(name)"), let p = f.median("j.t.plain"),
            let n = f.info["j.t.n"].flatMap(Int.init)
        else { return nil }
        return (m - p) / Double(n)
    }

    /// "X / Y" of two per-task overheads; when ours is not above zero (within noise), the ratio uses
    /// our whole per-task time instead, which bounds the overhead from above, and is shown as "≥".
    func overheadRatio(theirs: Double, ours: Double, oursWallPerTask: Double) -> (String, Double) {
        if ours > 0 {
            let r = theirs / ours
            return (formatRatio(r), r)
        }
        let r = theirs / oursWallPerTask
        return ("≥ " + formatRatio(r) + " (ours ≤ 0)", r)
    }

    mutating func build() {
        let tn = f.info["t.n"].flatMap(Int.init) ?? o.trivialN
        let jtn = f.info["j.t.n"].flatMap(Int.init)
        let jver = f.info["j.version"].map { "joblib \($0)" } ?? "joblib"

        // 1. Trivial tasks, threading.
        let w1 = "1. trivial `i &* i` ×\(tn.formatted())"
        timed(
            "1a", w1, "loop `try await d.run()` over the same `Delayed`s (baseline)", key: "t.loop", n: tn,
            result: "1.00x")
        timed(
            "1b", w1, "loop calling `square` directly (floor)", key: "t.direct", n: tn,
            result: f.median("t.direct").flatMap { d in f.median("t.loop").map { formatRatio(d / $0) } } ?? "")
        if let ratio = f.median("t.parallel.ratio"), let m = f.median("t.parallel"),
            let oh = f.median("t.parallel.overhead")
        {
            rows.append(
                Row(
                    id: "1c", workload: w1, variant: "Parallel threading nJobs 2, batchSize .auto",
                    median: formatTime(m), perTask: formatSigned(oh) + " overhead",
                    result: formatRatio(ratio) + " of loop", target: "≤ 1.30x", met: verdict(ratio <= 1.3)))
        } else {
            rows.append(
                Row(
                    id: "1c", workload: w1, variant: "Parallel threading nJobs 2, batchSize .auto",
                    median: na("t.parallel"), target: "≤ 1.30x", met: "—"))
        }
        if let ratio = f.median("t.cp.ratio"), let m = f.median("t.cp"), let l = f.median("t.loop") {
            rows.append(
                Row(
                    id: "1d", workload: w1, variant: "DispatchQueue.concurrentPerform, 1 item per iteration",
                    median: formatTime(m), perTask: formatSigned((m - l) / Double(tn)) + " overhead",
                    result: formatRatio(ratio) + " of loop"))
        }
        let wj1 = "1. trivial `i * i` ×\(jtn?.formatted() ?? "?") (\(jver))"
        timed("1e", wj1, "Python list comprehension (baseline)", key: "j.t.plain", n: jtn)
        for (id, name, label) in [
            ("1f", "n_jobs_1", "Parallel(n_jobs=1)"),
            ("1g", "threading", "Parallel(n_jobs=2, backend=\"threading\")"),
        ] {
            guard let m = f.median("j.t.\(name)"), let oh = joblibOverhead(name) else {
                rows.append(Row(id: id, workload: wj1, variant: label, median: na("j.t.\(name)")))
                continue
            }
            var row = Row(
                id: id, workload: wj1, variant: label, median: formatTime(m),
                perTask: formatSigned(oh) + " overhead")
            if name == "threading" {
                if let ours = f.median("t.parallel.overhead"), let m1 = f.median("t.parallel") {
                    let (text, r) = overheadRatio(theirs: oh, ours: ours, oursWallPerTask: m1 / Double(tn))
                    row.result = "joblib / ParallelKit (1c) overhead: " + text
                    row.target = "≥ 400x"
                    row.met = verdict(r >= 400)
                } else {
                    row.result = "ratio " + na("t.parallel")
                    row.target = "≥ 400x"
                    row.met = "—"
                }
            }
            rows.append(row)
        }

        // 2. CPU-bound tasks, threading.
        let cn = f.info["c.n"].flatMap(Int.init) ?? o.cpuN
        let ms = f.info["c.task_ms"] ?? "?"
        let w2 = "2. CPU-bound ×\(cn) (calibrated: \(ms) ms each)"
        timed(
            "2a", w2, "loop `try await d.run()` over the same `Delayed`s (baseline)", key: "c.loop", n: cn,
            result: "1.00x")
        if let s = f.median("c.parallel.speedup") {
            timed(
                "2b", w2, "Parallel threading nJobs 2", key: "c.parallel", n: cn,
                result: formatRatio(s) + " speed-up", target: "≥ 1.85x", met: verdict(s >= 1.85))
        } else {
            rows.append(
                Row(
                    id: "2b", workload: w2, variant: "Parallel threading nJobs 2",
                    median: na("c.parallel"), target: "≥ 1.85x", met: "—"))
        }
        if let s = f.median("c.cp.speedup") {
            timed(
                "2c", w2, "concurrentPerform (this run's 2-core ceiling)", key: "c.cp", n: cn,
                result: formatRatio(s) + " speed-up")
        }
        let jcn = f.info["j.c.n"] ?? "?"
        let jms = f.info["j.c.task_ms"] ?? "?"
        let wj2 = "2. CPU-bound ×\(jcn) (calibrated: \(jms) ms each, \(jver))"
        let jplain = f.median("j.c.plain")
        timed("2d", wj2, "Python loop (baseline)", key: "j.c.plain", n: Int(jcn), result: jplain == nil ? "" : "1.00x")
        for (id, name, label) in [
            ("2e", "n_jobs_1", "Parallel(n_jobs=1)"),
            ("2f", "threading", "threading, n_jobs=2"),
            ("2g", "loky", "loky, n_jobs=2"),
            ("2h", "multiprocessing", "multiprocessing, n_jobs=2"),
        ] {
            let s = f.median("j.c.\(name)").flatMap { m in jplain.map { $0 / m } }
            timed(
                id, wj2, label, key: "j.c.\(name)", n: Int(jcn),
                result: s.map { formatRatio($0) + " speed-up" } ?? "")
        }

        // 3. Generator memory.
        let gn = f.info["g.n"].flatMap(Int.init) ?? o.genN
        let w3 = "3. generator ×\(gn.formatted()), slow consumer (~\(f.info["g.consumer_ns"] ?? "?") ns/item)"
        if let g = f.samples["g.growth"]?.max(), let m = f.median("g.seconds") {
            let sampled = f.samples["g.sampledGrowth"]?.max().map { ", sampled VmRSS +" + formatMB($0) } ?? ""
            rows.append(
                Row(
                    id: "3a", workload: w3, variant: "Parallel threading nJobs 2 `.generator`",
                    median: formatTime(m), perTask: formatTime(m / Double(gn)) + " per item",
                    result: "peak RSS +" + formatMB(g) + sampled,
                    target: "< 50 MB", met: verdict(g < 50 * 1_048_576)))
        } else {
            rows.append(
                Row(
                    id: "3a", workload: w3, variant: "Parallel threading nJobs 2 `.generator`",
                    median: na("g"), target: "< 50 MB", met: "—"))
        }

        // 4. Process backends.
        let pn = f.info["p.t.n"].flatMap(Int.init) ?? o.procTrivialN
        let w4a = "4a. trivial `ParallelJob` ×\(pn.formatted())"
        timed("4a1", w4a, "loop calling `run()` on the same jobs (baseline)", key: "p.t.loop", n: pn, result: "1.00x")
        if let m = f.median("p.t.process"), let oh = f.median("p.t.process.overhead") {
            var row = Row(
                id: "4a2", workload: w4a, variant: "Parallel \"process\" nJobs 2 (warm pool)",
                median: formatTime(m), perTask: formatSigned(oh) + " overhead")
            if let loky = joblibOverhead("loky") {
                let (text, r) = overheadRatio(theirs: loky, ours: oh, oursWallPerTask: m / Double(pn))
                row.result = "loky (4a3) / ParallelKit overhead: " + text
                row.met = verdict(r >= 20)
            } else {
                row.result = "loky ratio " + na("j.t.loky")
                row.met = "—"
            }
            row.target = "≥ 20x"
            rows.append(row)
        } else {
            rows.append(
                Row(
                    id: "4a2", workload: w4a, variant: "Parallel \"process\" nJobs 2 (warm pool)",
                    median: na("p.t.process"), target: "≥ 20x vs loky", met: "—"))
        }
        for (id, name, label) in [
            ("4a3", "loky", "joblib loky, n_jobs=2, N=\(jtn?.formatted() ?? "?")"),
            ("4a4", "multiprocessing", "joblib multiprocessing, n_jobs=2, N=\(jtn?.formatted() ?? "?")"),
        ] {
            if let m = f.median("j.t.\(name)"), let oh = joblibOverhead(name) {
                rows.append(
                    Row(
                        id: id, workload: w4a, variant: label, median: formatTime(m),
                        perTask: formatSigned(oh) + " overhead"))
            } else {
                rows.append(Row(id: id, workload: w4a, variant: label, median: na("j.t.\(name)")))
            }
        }

        let w4b = "4b. cold start to first result, 2 workers"
        let pk = f.median("p.cold.process")
        if let pk {
            rows.append(
                Row(
                    id: "4b1", workload: w4b, variant: "ParallelKit \"process\", first call of a fresh program",
                    median: formatTime(pk)))
        } else {
            rows.append(
                Row(
                    id: "4b1", workload: w4b, variant: "ParallelKit \"process\", first call of a fresh program",
                    median: na("p.cold.process")))
        }
        timed("4b2", w4b, "ParallelKit \"multiprocessing\" (new workers every call)", key: "p.cold.mp", n: nil)
        if let loky = f.median("j.cold.loky") {
            var row = Row(
                id: "4b3", workload: w4b, variant: "joblib loky, first call of a fresh interpreter",
                median: formatTime(loky), target: "≥ 30x")
            if let pk {
                row.result = "loky / ParallelKit (4b1): " + formatRatio(loky / pk)
                row.met = verdict(loky / pk >= 30)
            } else {
                row.result = "ratio " + na("p.cold.process")
                row.met = "—"
            }
            rows.append(row)
        } else {
            rows.append(
                Row(
                    id: "4b3", workload: w4b, variant: "joblib loky, first call of a fresh interpreter",
                    median: na("j.cold.loky"), target: "≥ 30x", met: "—"))
        }
        timed(
            "4b4", w4b, "joblib loky, executor shut down and restarted in one interpreter",
            key: "j.cold.loky_reused_interpreter", n: nil,
            result: f.median("j.cold.loky_reused_interpreter").flatMap { l in pk.map { "/ 4b1: " + formatRatio(l / $0) }
            } ?? "")
        timed(
            "4b5", w4b, "joblib multiprocessing", key: "j.cold.multiprocessing", n: nil,
            result: f.median("j.cold.multiprocessing").flatMap { j in
                f.median("p.cold.mp").map { "/ 4b2: " + formatRatio(j / $0) }
            } ?? "")

        // The way joblib's cold start was measured for comparison: the first call of the trivial workload (which starts the workers)
        // minus the warm median, on both sides.
        let pkFirst = f.median("p.t.process.first").flatMap { first in f.median("p.t.process").map { first - $0 } }
        let lokyFirst = f.median("j.t.first.loky").flatMap { first in f.median("j.t.loky").map { first - $0 } }
        rows.append(
            Row(
                id: "4b6", workload: w4b,
                variant: "ParallelKit \"process\": first \(pn.formatted())-job call − warm median (4a2)",
                median: pkFirst.map(formatTime) ?? na("p.t.process")))
        var lokyRow = Row(
            id: "4b7", workload: w4b,
            variant: "joblib loky: first \(jtn?.formatted() ?? "?")-task call − warm median (4a3)",
            median: lokyFirst.map(formatTime) ?? na("j.t.loky"))
        if let lokyFirst, let pkFirst, pkFirst > 0 {
            lokyRow.result = "/ 4b6: " + formatRatio(lokyFirst / pkFirst)
        }
        rows.append(lokyRow)

        let pcn = f.info["p.c.n"].flatMap(Int.init) ?? o.cpuN
        let w4c = "4c. CPU-bound `ParallelJob` ×\(pcn) (calibrated: \(ms) ms each)"
        timed("4c1", w4c, "loop calling `run()` (baseline)", key: "p.c.loop", n: pcn, result: "1.00x")
        if let s = f.median("p.c.process.speedup") {
            timed(
                "4c2", w4c, "Parallel \"process\" nJobs 2", key: "p.c.process", n: pcn,
                result: formatRatio(s) + " speed-up", target: "≥ 1.80x", met: verdict(s >= 1.8))
        } else {
            rows.append(
                Row(
                    id: "4c2", workload: w4c, variant: "Parallel \"process\" nJobs 2",
                    median: na("p.c.process"), target: "≥ 1.80x", met: "—"))
        }

        if let s = f.median("p.c.cp.speedup") {
            timed(
                "4c3", w4c, "concurrentPerform, same repetitions (the ceiling of the moment)", key: "p.c.cp",
                n: pcn, result: formatRatio(s) + " speed-up")
        }

        let mb = f.info["p.s.mb"] ?? String(o.sharedMB)
        let w4d = "4d. \(mb) MB `[Double]` summed by 2 workers (each job carries the whole array)"
        timed("4d1", w4d, "`SharedArray<Double>` (built beforehand, see 4d4)", key: "p.s.shared", n: nil)
        timed(
            "4d2", w4d, "`[Double]`, maxNbytes default (automatic shared memory)", key: "p.s.auto", n: nil,
            result: f.median("p.s.auto.ratio").map { "pipe / this: " + formatRatio($0) } ?? "")
        if let r = f.median("p.s.pipe.ratio") {
            timed(
                "4d3", w4d, "`[Double]`, maxNbytes .disabled (through the pipe)", key: "p.s.pipe", n: nil,
                result: "pipe / SharedArray (4d1): " + formatRatio(r), target: "≥ 5x", met: verdict(r >= 5))
        } else {
            var row = Row(
                id: "4d3", workload: w4d, variant: "`[Double]`, maxNbytes .disabled (through the pipe)",
                target: "≥ 5x", met: "—")
            row.median = f.median("p.s.pipe").map(formatTime) ?? na("p.s.pipe")
            if f.median("p.s.pipe") != nil { row.result = "ratio " + na("p.s.shared") }
            rows.append(row)
        }
        timed(
            "4d4", w4d, "building the SharedArray: copy into shared memory (once, not in 4d1)", key: "p.s.build", n: nil
        )
        memoryRows()
        keepGoingRows()
        latencyRows()

        buildRayonRows()
    }

    func render() -> String {
        let header = ["#", "workload", "variant", "median", "per task", "ratio / result", "target", "met"]
        var lines = [
            "| " + header.joined(separator: " | ") + " |",
            "|" + header.map { _ in " --- " }.joined(separator: "|") + "|",
        ]
        var lastWorkload = ""
        for r in rows {
            let w = r.workload == lastWorkload ? "〃" : r.workload
            lastWorkload = r.workload
            lines.append(
                "| "
                    + [r.id, w, r.variant, r.median, r.perTask, r.result, r.target, r.met]
                    .joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}
