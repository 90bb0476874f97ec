import Foundation
import Glibc
import ParallelKit
import Testing

/// "A run": a worker process that squares 0..<count one after the other through a cached
/// function, logging each computation. Computation `stallAt` waits (two minutes) to be killed
/// half-way: the kill never races the run's end, however late a loaded machine lets the test see
/// the log (a run of timed computations once finished before the test got to kill it).
struct SlowRunJob: ParallelJob {
    var cacheLocation: String
    var log: ComputationLog
    var pidFile: String
    var count: Int
    var stallAt: Int

    static func square(
        _ memory: Memory, log: ComputationLog, stallAt: Int? = nil
    ) -> @Sendable (Int) async throws -> Int {
        memory.cache("slow square", version: 1) { (x: Int) in
            log.record("\(x)")
            try await Task.sleep(for: x == stallAt ? .seconds(120) : .milliseconds(1))
            return x * x
        }
    }

    func run() async throws -> Int {
        try "\(getpid())".write(toFile: pidFile, atomically: true, encoding: .utf8)
        let square = SlowRunJob.square(try Memory(location: cacheLocation), log: log, stallAt: stallAt)
        var total = 0
        for x in 0..<count { total += try await square(x) }
        return total
    }
}

@Suite("Memory: a killed run resumes from what was stored")
struct ResumeTests {
    @Test(arguments: [SIGKILL, SIGINT])
    func killedRunResumes(_ signal: Int32) async throws {
        let scratch = ScratchFolder("resume-\(signal)")
        defer { scratch.remove() }
        let log = ComputationLog(path: scratch.path + "/first-run")
        let pidFile = scratch.path + "/pid"
        let count = 30
        let stallAt = 6
        let run = SlowRunJob(cacheLocation: scratch.path, log: log, pidFile: pidFile, count: count, stallAt: stallAt)
        let backend = MultiprocessingBackend()
        let call = Task { try await Parallel(nJobs: 2, backend: .instance(backend))([run]) }
        // Computation `stallAt` has begun: the worker is stalled there, with 0..<stallAt stored.
        #expect(await eventually(within: .seconds(60)) { log.lines.count > stallAt })
        let pid = try #require(Int32(try String(contentsOfFile: pidFile, encoding: .utf8)))
        kill(pid, signal)
        do {
            _ = try await call.value
            Issue.record("the run finished instead of being killed")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed, "\(error)")
        }
        let firstRun = log.lines
        let stored = scratch.entryNames.count
        #expect(stored == stallAt, "\(stored) entries after \(firstRun.count) computations")
        #expect(firstRun.count == stallAt + 1)

        // Run again (here, in this process): only what was not stored is computed.
        let secondLog = ComputationLog(path: scratch.path + "/second-run")
        let square = SlowRunJob.square(try Memory(location: scratch.path), log: secondLog)
        var results: [Int] = []
        for x in 0..<count { results.append(try await square(x)) }
        #expect(results == (0..<count).map { $0 * $0 })
        #expect(secondLog.lines.count == count - stored)
        #expect(secondLog.lines.first == "\(stored)")
        #expect(scratch.entryNames.count == count)
    }
}
