import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// The small pieces: stderr tails, exit statuses, and bad inputs to the backends' initialisers.
@Suite("Support")
struct SupportTests {
    @Test func stderrTailKeepsTheLastLinesAndTheCrashMessage() {
        var tail = StderrTail(capacity: 256, maxLines: 3)
        func append(_ text: String) { Array(text.utf8).withUnsafeBytes { tail.append($0) } }
        append("starting\nFatal error: Index out")
        append(" of range\n")
        for index in 0..<100 { append("backtrace frame \(index)\n") }
        #expect(tail.crashMessage == "Fatal error: Index out of range")
        #expect(tail.lastLines == "backtrace frame 97\nbacktrace frame 98\nbacktrace frame 99")
        append(String(repeating: "x", count: 10_000))
        #expect(tail.lastLines.utf8.count <= 256)
    }

    @Test("the lines that start a crash report, and ordinary lines that do not")
    func crashReportStarts() {
        #expect(StderrTail.startsCrashReport("*** Signal 11: Backtracing from 0x7f00..."))
        #expect(StderrTail.startsCrashReport("Fatal error: Index out of range"))
        // The runtime writes this before the backtrace when a thread will not stop; a fresh-clone
        // CI run saw it reach the caller's stderr.
        #expect(
            StderrTail.startsCrashReport(
                "swift-runtime: failed to suspend thread 5314 while processing a crash; backtraces will be missing information"
            ))
        #expect(!StderrTail.startsCrashReport("processing 12 items"))
        #expect(!StderrTail.startsCrashReport("rax 0x0000000000000000  Fatal error: fai"))
    }

    @Test func exitStatusesReadAsWords() {
        #expect(ExitStatus(raw: 11).description.contains("signal 11 (SIGSEGV"))
        #expect(ExitStatus(raw: 3 << 8).description == "exited with status 3")
        #expect(ExitStatus(raw: nil).description.contains("could not be collected"))
        #expect(ExitStatus(raw: 9).signal == SIGKILL)
        #expect(ExitStatus(raw: 0).exitCode == 0)
    }

    @Test func theCallerIsNotAWorker() {
        #expect(!ParallelWorker.isWorkerProcess)
        #expect(!ParallelWorker.isUnclaimedWorker)
        ParallelWorker.enterIfNeeded()  // returns at once outside a worker
    }

    @Test func privateJobTypesFailBeforeAnythingIsSent() async throws {
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend))([PrivateJob()])
            Issue.record("a private job type must be refused")
        } catch let error as ParallelError {
            #expect(error.code == .notSerializable)
            #expect(error.description.contains("PrivateJob"))
            #expect(!error.description.contains("unknown context"))
        }
    }

    @Test func zeroIdleTimeoutStillServesCalls() async throws {
        let backend = ProcessBackend(idleWorkerTimeout: .zero)
        for round in 0..<3 {
            #expect(try await Parallel(nJobs: 2, backend: .instance(backend))([SquareJob(x: round)]) == [round * round])
        }
        let negative = ProcessBackend(idleWorkerTimeout: .seconds(-5))
        #expect(try await Parallel(nJobs: 2, backend: .instance(negative))([SquareJob(x: 4)]) == [16])
    }

    @Test func workersThatFailToStartAreReplaced() async throws {
        let folder = NSTemporaryDirectory() + "parallelkit-flaky-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        // The first two workers die by a signal before starting (a passing failure, retried);
        // later ones become this test binary. mkdir is atomic, so exactly two die, and with
        // nJobs 2 that can be both first workers: the call must still start.
        let script = folder + "/worker.sh"
        let text =
            [
                "#!/bin/sh",
                "mkdir '\(folder)/first' 2>/dev/null && kill -9 $$",
                "mkdir '\(folder)/second' 2>/dev/null && kill -9 $$",
                "exec /proc/$PPID/exe \"$@\"",
            ].joined(separator: "\n") + "\n"
        try text.write(toFile: script, atomically: true, encoding: .utf8)
        #expect(chmod(script, 0o755) == 0)
        let backend = ProcessBackend(workerExecutable: script)
        #expect(
            try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { SquareJob(x: $0) }) == [0, 1, 4, 9])
    }

    @Test func workersInheritOnlyTheirOwnDescriptors() async throws {
        let path = NSTemporaryDirectory() + "parallelkit-leak-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        // Opened without O_CLOEXEC, as plenty of code does: a worker must not keep it.
        let fd = open(path, O_CREAT | O_RDWR, 0o600)
        #expect(fd >= 0)
        defer {
            close(fd)
            unlink(path)
        }
        let backend = MultiprocessingBackend()
        let seen = try await Parallel(nJobs: 2, backend: .instance(backend))([OpenFilesJob()])
        #expect(seen.count == 1)
        #expect(seen.first?.contains(path) == false, "\(seen)")
        #expect(seen.first?.isEmpty == false)
    }

    @Test func namesAndCapabilities() {
        let process = ProcessBackend()
        #expect(process.displayName == "ProcessBackend")
        #expect(process.capabilities.runsOutOfProcess && process.capabilities.supportsInnerMaxNumThreads)
        #expect(!process.capabilities.usesThreads && !process.capabilities.supportsSharedMemory)
        let multiprocessing = MultiprocessingBackend()
        #expect(multiprocessing.displayName == "MultiprocessingBackend")
        #expect(
            multiprocessing.capabilities.runsOutOfProcess && !multiprocessing.capabilities.supportsInnerMaxNumThreads)
        #expect(process.autoBatching == .workerProcesses)
    }
}

/// The targets of a worker's open descriptors.
struct OpenFilesJob: ParallelJob {
    func run() async throws -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") }
    }
}

private struct PrivateJob: ParallelJob {
    func run() async throws -> Int { 0 }
}

/// A call dropped without `finish()` or `abort()` still ends its per-call workers.
@Suite("Dropped calls")
struct DroppedCallTests {
    @Test func aDroppedMultiprocessingCallEndsItsWorkers() async throws {
        let backend = MultiprocessingBackend()
        var call: (any BackendCall)? = try await backend.startCall(BackendCallContext(nJobs: 2))
        // Workers start for batches, not for the call (red-team F4): a call that submits
        // nothing starts none. Start one by hand, as a batch would.
        let pids = await EventLoop.shared.submit { [call] () -> [pid_t] in
            guard let pool = (call as? ProcessCall)?.pool else { return [] }
            #expect(pool.liveWorkerPIDs.isEmpty, "no batch, no worker")
            pool.spawnForTesting()
            return pool.liveWorkerPIDs
        }
        #expect(!pids.isEmpty)
        call = nil
        _ = call
        let ended = await eventually(within: .seconds(20)) { pids.allSatisfy(ProcResources.hasEnded) }
        #expect(ended, "workers of a dropped call: \(pids)")
    }
}
