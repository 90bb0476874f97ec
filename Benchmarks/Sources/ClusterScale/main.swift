// Row C: how far one parent can drive workers over the cluster backends' TCP transport.
//
// It starts N workers with `SSHBackend(hosts: ["localhost:N"])` — the public API, the real
// listener, handshake (HMAC challenge-response and executable hash) and frames over loopback TCP —
// but with `ssh` replaced, through PATH, by a 4-line script that runs the remote command here: a
// real sshd would cap concurrent logins (MaxStartups) and measure sshd, not ParallelKit. Workers
// are this executable in worker mode. Then, for N = 50 and 200 (or the counts given):
//
// * start-up: seconds until all N workers have connected and proved the secret;
// * dispatch capacity: tiny jobs with batchSize 1 (every task one round trip to a worker), tasks
//   per second of wall time, and the parent's CPU time per task — 1 / that is the rate one
//   parent core can sustain, the figure that scales to a cluster whose workers have cores of
//   their own (here the N workers share the same 2 cores with the parent);
// * memory: the parent's RSS growth per connected worker, and each worker's own RSS.
//
// usage: ClusterScale [--workers 50,200] [--tasks 20000]

import Foundation
import ParallelKit

struct TinyJob: ParallelJob {
    var x: Int
    func run() async throws -> Int { x &* 3 }
}

/// Sleeps `milliseconds` (holds every worker busy, so the pool grows to N).
struct HoldJob: ParallelJob {
    var milliseconds: Int
    func run() async throws -> Int32 {
        usleep(UInt32(milliseconds) * 1000)
        return getpid()
    }
}

func rssKiB(_ pid: pid_t) -> Int {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// A stand-in for ssh: skips the options and the host, runs the remote command here.
func installLocalSSH() throws -> String {
    let folder = NSTemporaryDirectory() + "pk-cluster-scale-\(getpid())"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let script = """
        #!/bin/sh
        while [ $# -gt 0 ]; do case "$1" in -T) shift ;; -o) shift 2 ;; *) break ;; esac; done
        shift
        exec /bin/sh -c "$1"

        """
    try script.write(toFile: folder + "/ssh", atomically: true, encoding: .utf8)
    chmod(folder + "/ssh", 0o755)
    setenv("PATH", folder + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"), 1)
    return folder
}

@main
struct ClusterScale {
    static func main() async throws {
        var counts = [50, 200]
        var tasks = 20_000
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            switch argument {
            case "--workers": counts = (arguments.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--tasks": tasks = Int(arguments.next() ?? "") ?? tasks
            default:
                print("usage: ClusterScale [--workers 50,200] [--tasks 20000]")
                return
            }
        }
        let folder = try installLocalSSH()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        print("Row C: TCP transport, workers started by SSHBackend through a local stand-in for ssh, loopback")
        print(
            "workers | start-up s | tasks/s (batchSize 1) | parent CPU µs/task | → 1 core tasks/s | parent RSS KiB/worker | worker RSS MiB"
        )
        for count in counts {
            let rssBefore = rssKiB(getpid())
            let backend = SSHBackend(hosts: ["localhost:\(count)"])
            let parallel = Parallel(nJobs: count, backend: .instance(backend), batchSize: 1)
            // Start-up: hold every worker busy until all N have joined.
            let startBegin = now()
            let pids = try await parallel((0..<count * 2).map { _ in HoldJob(milliseconds: 300) })
            let workers = Set(pids)
            let startup = now() - startBegin - 0.6
            let rssAfter = rssKiB(getpid())
            let workerRSS = workers.map(rssKiB).filter { $0 > 0 }
            let meanWorkerMiB = workerRSS.isEmpty ? 0 : Double(workerRSS.reduce(0, +)) / Double(workerRSS.count) / 1024

            var rates: [Double] = []
            var cpuPerTask: [Double] = []
            for _ in 0..<3 {
                let jobs = (0..<tasks).map { TinyJob(x: $0) }
                let cpu0 = cpuSeconds()
                let t0 = now()
                let out = try await parallel(jobs)
                let elapsed = now() - t0
                let cpu = cpuSeconds() - cpu0
                precondition(out.count == tasks && out[tasks - 1] == (tasks - 1) * 3)
                rates.append(Double(tasks) / elapsed)
                cpuPerTask.append(cpu / Double(tasks))
            }
            let rate = rates.sorted()[1]
            let cpu = cpuPerTask.sorted()[1]
            print(
                String(
                    format: "%7d | %10.2f | %21.0f | %18.1f | %16.0f | %21.0f | %14.1f  (%d workers answered)",
                    count, max(0, startup), rate, cpu * 1e6, 1 / cpu, Double(rssAfter - rssBefore) / Double(count),
                    meanWorkerMiB,
                    workers.count))
        }
    }
}
