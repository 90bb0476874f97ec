import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

@testable import ParallelProcess

/// A job that takes its worker down at the poisoned indices and returns `index * 3` elsewhere.
struct PoisonJob: ParallelJob {
    var index: Int
    var poison: [Int]
    var kind: CrashKind

    func run() async throws -> Int {
        guard poison.contains(index) else { return index * 3 }
        return try await CrashingJob(index: index, crashAt: index, kind: kind).run()
    }
}

/// Crashes its worker on its first start only: a marker file in `folder` remembers the start.
struct CrashOnceJob: ParallelJob {
    var index: Int
    var crashes: Bool
    var folder: String

    func run() async throws -> Int {
        if crashes {
            let marker = "\(folder)/started-\(index)"
            if !FileManager.default.fileExists(atPath: marker) {
                _ = FileManager.default.createFile(atPath: marker, contents: nil)
                kill(getpid(), SIGKILL)
            }
        }
        return index
    }
}

/// The results modes on worker processes: a crash or a hang fails only its task, its batch-mates
/// run again on a fresh worker, and every other task's result is kept.
@Suite("Keeping going on worker processes", .serialized)
struct KeepGoingProcessTests {
    static let process = ProcessBackend()

    @Test(
        "poison items: exactly those are .workerCrashed, all others correct",
        arguments: ["process", "multiprocessing"], [BatchSize.fixed(1), 10, .auto])
    func poisonItems(backend: String, batchSize: BatchSize) async throws {
        let poison = [3, 27, 28]
        let jobs = (0..<60).map { PoisonJob(index: $0, poison: poison, kind: $0 == 27 ? .segfault : .sigkill) }
        let choice: BackendChoice = backend == "process" ? .instance(Self.process) : .named(backend)
        let fates = try await Parallel(nJobs: 2, backend: choice, batchSize: batchSize).results(jobs)
        #expect(fates.count == 60)
        for (index, fate) in fates.enumerated() {
            switch fate {
            case .success(let value):
                #expect(!poison.contains(index) && value == index * 3, "task \(index)")
            case .failure(let failure):
                #expect(poison.contains(index), "task \(index) was blamed: \(failure)")
                #expect(failure.taskIndex == index)
                let error = failure.error as? ParallelError
                #expect(error?.code == .workerCrashed)
                #expect(error?.taskIndex == index)
            }
        }
    }

    @Test("the throwing mode blames the task that crashed, never a bystander", arguments: [BatchSize.fixed(10), .auto])
    func throwingModeBlamesTheCrash(batchSize: BatchSize) async throws {
        let jobs = (0..<40).map { PoisonJob(index: $0, poison: [17], kind: .sigkill) }
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(Self.process), batchSize: batchSize)(jobs)
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.taskIndex == 17)
        }
    }

    @Test("a stuck worker past the timeout fails only its task; the worker is replaced")
    func stuckWorker() async throws {
        let jobs = (0..<12).map { SleepingJob(milliseconds: $0 == 4 ? 60_000 : 1) }
        let fates = try await Parallel(nJobs: 2, backend: .instance(Self.process), timeout: .seconds(1), batchSize: 3)
            .results(jobs)
        for (index, fate) in fates.enumerated() where index != 4 { #expect(try fate.get() == 1, "task \(index)") }
        guard case .failure(let failure) = fates[4] else {
            Issue.record("task 4 should have timed out")
            return
        }
        #expect((failure.error as? ParallelError)?.code == .timeout)
        // The pool serves the next call with live workers.
        let squares = try await Parallel(nJobs: 2, backend: .instance(Self.process))((0..<8).map { SquareJob(x: $0) })
        #expect(squares == (0..<8).map { $0 * $0 })
    }

    @Test(
        "retry after a crash runs the task again on a fresh worker and succeeds",
        arguments: ["process", "multiprocessing"])
    func retryAfterCrash(backend: String) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pk-crash-once-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let jobs = (0..<20).map { CrashOnceJob(index: $0, crashes: $0 % 7 == 3, folder: folder) }
        let choice: BackendChoice = backend == "process" ? .instance(Self.process) : .named(backend)
        let values = try await Parallel(nJobs: 2, backend: choice, batchSize: 4, retry: .attempts(2))(jobs)
        #expect(values == Array(0..<20))
    }

    @Test("maxFailures on worker processes: the rest are .notRun")
    func maxFailuresOnProcesses() async throws {
        let jobs = (0..<200).map { PoisonJob(index: $0, poison: [0, 1], kind: .sigkill) }
        let fates = try await Parallel(nJobs: 2, backend: .instance(Self.process), preDispatch: 2, batchSize: 1)
            .results(jobs, maxFailures: 2)
        #expect(fates.count == 200)
        let notRun = fates.filter {
            if case .failure(let f) = $0 { return (f.error as? ParallelError)?.code == .notRun }
            return false
        }
        #expect(notRun.count > 150)
    }

    @Test("resultGeneratorUnordered on processes: every index once")
    func unorderedFates() async throws {
        let jobs = (0..<30).map { PoisonJob(index: $0, poison: [5, 6], kind: .sigkill) }
        var seen = Set<Int>()
        var crashed = Set<Int>()
        for try await item in Parallel(nJobs: 2, backend: .instance(Self.process), batchSize: 4)
            .resultGeneratorUnordered(jobs)
        {
            #expect(seen.insert(item.index).inserted)
            if case .failure = item.result { crashed.insert(item.index) }
        }
        #expect(seen == Set(0..<30))
        #expect(crashed == [5, 6])
    }
}

/// Progress events on worker processes: the same shape as in process.
@Suite("Progress events on worker processes")
struct ProgressOnProcessesTests {
    @Test(
        "started first, finished last, every job counted, crashes as taskFailed",
        arguments: ["process", "multiprocessing"])
    func events(backend: String) async throws {
        let events = LockedValue<[ProgressEvent]>([])
        let progress = ParallelProgress.handler { event in events.withLock { $0.append(event) } }
        let jobs = (0..<40).map { PoisonJob(index: $0, poison: [9], kind: .sigkill) }
        _ = try await Parallel(nJobs: 2, backend: .named(backend), batchSize: 4, progress: progress).results(jobs)
        let seen = events.withLock { $0 }
        guard case .started? = seen.first, case .finished(let last)? = seen.last else {
            Issue.record("events: \(seen)")
            return
        }
        #expect(last.completed == 39)
        #expect(last.failed == 1)
        #expect(last.total == 40)
        #expect(last.backend.isEmpty == false)
    }
}
