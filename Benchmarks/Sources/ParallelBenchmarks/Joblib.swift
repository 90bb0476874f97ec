// Row 5: joblib on the same machine in the same run. Runs Benchmarks/joblib/bench_joblib.py with
// the venv's Python through Foundation.Process and maps its JSON into the `j.` keys.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The Python to use: `--python`, else $PK_BENCH_PYTHON, else Benchmarks/.venv-bench/bin/python
/// (made by run.sh), else python3 from PATH.
func pythonCommand(_ o: Options) -> [String] {
    if let p = o.python { return [p] }
    if let p = ProcessInfo.processInfo.environment["PK_BENCH_PYTHON"], !p.isEmpty { return [p] }
    let venv = benchmarksDirectory.appendingPathComponent(".venv-bench/bin/python").path
    if FileManager.default.isExecutableFile(atPath: venv) { return [venv] }
    return ["/usr/bin/env", "python3"]
}

func runJoblib(_ o: Options) async -> Figures {
    var f = Figures()
    let script = benchmarksDirectory.appendingPathComponent("joblib/bench_joblib.py").path
    guard FileManager.default.fileExists(atPath: script) else {
        f.errors["j"] = "script not found at \(script)"
        return f
    }
    let out = FileManager.default.temporaryDirectory
        .appendingPathComponent("pk-bench-joblib-\(getpid()).json")
    defer { try? FileManager.default.removeItem(at: out) }
    guard FileManager.default.createFile(atPath: out.path, contents: nil),
        let outHandle = FileHandle(forWritingAtPath: out.path)
    else {
        f.errors["j"] = "cannot create \(out.path)"
        return f
    }
    let command = pythonCommand(o)
    let py = Process()
    py.executableURL = URL(fileURLWithPath: command[0])
    py.arguments =
        Array(command.dropFirst()) + [
            script,
            "--reps", String(o.reps),
            "--trivial-n", String(o.joblibTrivialN),
            "--cpu-n", String(o.cpuN),
            "--cpu-ms", String(o.cpuMillis),
        ]
    py.standardOutput = outHandle
    log("joblib: \(([command.joined(separator: " ")] + py.arguments!).joined(separator: " "))")
    do { try py.run() } catch {
        f.errors["j"] = "cannot run \(command.joined(separator: " ")): \(error)"
        return f
    }
    let deadline = nowNanos() + UInt64(o.joblibTimeout * 1e9)
    while py.isRunning && nowNanos() < deadline {
        try? await Task.sleep(nanoseconds: 50_000_000)
    }
    if py.isRunning {
        py.terminate()
        py.waitUntilExit()
        f.errors["j"] = "joblib script did not finish within \(Int(o.joblibTimeout)) s"
        return f
    }
    py.waitUntilExit()
    try? outHandle.close()
    guard py.terminationReason == .exit, py.terminationStatus == 0 else {
        f.errors["j"] = "joblib script failed (status \(py.terminationStatus))"
        return f
    }
    let parsed: JoblibOutput
    do {
        parsed = try JSONDecoder().decode(JoblibOutput.self, from: Data(contentsOf: out))
    } catch {
        f.errors["j"] = "joblib script wrote no usable JSON: \(error)"
        return f
    }
    if let e = parsed.error {
        f.errors["j"] = e
        return f
    }
    f.info["j.version"] = parsed.joblib_version
    f.info["j.python"] = parsed.python
    for (section, prefix) in [(parsed.trivial, "j.t."), (parsed.cpu, "j.c."), (parsed.cold, "j.cold.")] {
        guard let section else { continue }
        if let n = section.n { f.info[prefix + "n"] = String(n) }
        if let ms = section.task_ms { f.info[prefix + "task_ms"] = String(format: "%.2f", ms) }
        for (name, values) in section.samples ?? [:] { f.samples[prefix + name] = values }
        for (name, value) in section.first ?? [:] { f.samples[prefix + "first." + name] = [value] }
    }
    return f
}

/// The JSON that bench_joblib.py writes (snake_case as Python writes it).
struct JoblibOutput: Decodable {
    struct Section: Decodable {
        var n: Int?
        var task_ms: Double?
        var samples: [String: [Double]]?
        /// The warm-up call of each configuration (trivial only).
        var first: [String: Double]?
    }
    var error: String?
    var joblib_version: String?
    var python: String?
    var trivial: Section?
    var cpu: Section?
    var cold: Section?
}
