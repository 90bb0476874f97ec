import Foundation
import Glibc
import ParallelKit
import Testing

/// "A run": a worker process that squares 0..<count one after the other through a cached
/// function, logging each computation, slowly enough to be killed half-way.
struct SlowRunJob: ParallelJob {
    var cacheLocation: String
    var log: ComputationLog
    var pidFile: String
    var count: Int

    static func square(_ memory: Memory, log: ComputationLog) -> @Sendable (Int) async throws -> Int {
        memory.cache("slow square", version: 1) { (x: Int) in
            log.record("\(x)")
            try await Task.sleep(for: .milliseconds(40))
            return x * x
        }
    }

    func run() async throws -> Int {
        try "\(getpid())".write(toFile: pidFile, atomically: true, encoding: .utf8)
        let square = SlowRunJob.square(try Memory(location: cacheLocation), log: log)
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
        let run = SlowRunJob(cacheLocation: scratch.path, log: log, pidFile: pidFile, count: count)
        let backend = MultiprocessingBackend()
        let call = Task { try await Parallel(nJobs: 2, backend: .instance(backend))([run]) }
        #expect(await eventually { log.lines.count >= 6 })
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
        #expect(stored >= 5 && stored < count, "\(stored) entries after \(firstRun.count) computations")
        #expect(stored >= firstRun.count - 1 && stored <= firstRun.count)

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
