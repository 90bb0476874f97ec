import Foundation
import ParallelKit
import ParallelTestSupport
import Synchronization
import Testing

@testable import ParallelProcess

// Red-team findings about what a worker (or the code a job runs) can do to the parent: F4, F5,
// F6/F8, F9, F12, F13, F14, F15, F16 and the structured crash report. Each job misbehaves in one
// task only; the others return their index.

/// Descriptors as a job sees them: number, target, close-on-exec.
struct DescriptorInfo: Codable, Sendable, Equatable {
    var fd: Int32
    var target: String
    var closeOnExec: Bool
}

enum WorkerProbe {
    /// This worker's open descriptors.
    static func descriptors() -> [DescriptorInfo] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return names.compactMap { Int32($0) }.sorted().compactMap { fd in
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0 else { return nil }
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) ?? "?"
            return DescriptorInfo(fd: fd, target: target, closeOnExec: flags & FD_CLOEXEC != 0)
        }
    }

    /// The worker's protocol pipes (above 9, pipes): the request pipe is the read end.
    static func protocolPipe(readEnd: Bool) -> Int32? {
        descriptors().first { info in
            info.fd > 9 && info.target.hasPrefix("pipe:")
                && (fcntl(info.fd, F_GETFL) & O_ACCMODE == O_RDONLY) == readEnd
        }?.fd
    }

    /// Address of this worker's status page, from /proc/self/maps.
    static func statusPage() -> UnsafeMutablePointer<UInt64>? {
        guard let maps = try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8) else { return nil }
        for line in maps.split(separator: "\n") where line.contains("parallelkit-board") {
            guard let start = UInt(line.split(separator: "-")[0], radix: 16) else { continue }
            return UnsafeMutablePointer<UInt64>(bitPattern: start)
        }
        return nil
    }
}

/// One task of a call misbehaves as `mode` says.
struct MisbehaveJob: ParallelJob {
    var mode: String
    var index: Int
    var culprit: Int
    var path = ""

    func run() async throws -> Int {
        guard index == culprit else { return index }
        switch mode {
        case "low-fds":
            // What a library that reuses "its" descriptor numbers does (F6).
            _ = write(4, "hello\n", 6)
            close(3)
            close(4)
            _ = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let null = open("/dev/null", O_WRONLY)
            dup2(null, 5)
        case "close-all":
            for fd in 3..<Int32(4096) { close(fd) }
        case "dup2-reply":
            if let reply = WorkerProbe.protocolPipe(readEnd: false) { dup2(open("/dev/null", O_WRONLY), reply) }
        case "close-request":
            if let request = WorkerProbe.protocolPipe(readEnd: true) { close(request) }
        case "board-max", "board-intmax":
            // A wild write that lands on the status page, then a crash (F5).
            if let page = WorkerProbe.statusPage() {
                page[1] = mode == "board-max" ? UInt64.max : UInt64(Int.max)
            }
            abort()
        case "fatal":
            fatalError("deliberate: \(path)")
        case "cancel":
            throw CancellationError()
        case "stop":
            // Stopped until `path` exists. Stopped again if continued early: the kernel continues
            // the stopped members of a process group that becomes orphaned (a daemon's group, when
            // another worker exits), which would otherwise make this test depend on its session.
            while access(path, F_OK) != 0 { kill(getpid(), SIGSTOP) }
        default:
            break
        }
        return index
    }

    static func calls(_ mode: String, culprit: Int, count: Int = 4, path: String = "") -> [MisbehaveJob] {
        (0..<count).map { MisbehaveJob(mode: mode, index: $0, culprit: culprit, path: path) }
    }
}

/// Reports this worker's descriptors.
struct DescriptorsJob: ParallelJob {
    func run() async throws -> [DescriptorInfo] { WorkerProbe.descriptors() }
}

/// Returns a `SharedArray` made in the worker (F9).
struct MakeSharedJob: ParallelJob {
    var count: Int
    func run() async throws -> SharedArray<Double> { try SharedArray(repeating: 1.5, count: count) }
}

/// An instant job with a large result (F13): many references to one 64 KiB buffer, so making it
/// touches 64 KiB, while sending it moves `megabytes` MiB.
struct QuickBigResultJob: ParallelJob {
    var megabytes: Int
    func run() async throws -> [[UInt8]] {
        [[UInt8]](repeating: [UInt8](repeating: 1, count: 1 << 16), count: megabytes * 16)
    }
}

@Suite("Worker hardening")
struct WorkerHardeningTests {
    static func temporaryPath(_ label: String) -> String {
        NSTemporaryDirectory() + "parallelkit-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    }

    static func crash(
        _ jobs: [MisbehaveJob], backend: any ParallelBackend = MultiprocessingBackend(), verbose: Int = 0
    )
        async -> ParallelError?
    {
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), verbose: verbose, batchSize: 1)(jobs)
            return nil
        } catch {
            return error as? ParallelError
        }
    }

    @Test("F6: writing to, closing and reopening fds 3-5 reaches neither the protocol nor a user file")
    func lowDescriptorsAreNotTheProtocol() async throws {
        let victim = Self.temporaryPath("victim")
        defer { unlink(victim) }
        // The timeout only bounds a regression (it hung for ever before).
        let results = try await Parallel(
            nJobs: 2, backend: .instance(MultiprocessingBackend()), timeout: .seconds(60), batchSize: 1)(
                MisbehaveJob.calls("low-fds", culprit: 0, path: victim))
        #expect(results == [0, 1, 2, 3])
        let attributes = try FileManager.default.attributesOfItem(atPath: victim)
        #expect((attributes[.size] as? Int) == 0, "no reply frame was written into the user's file")
    }

    @Test("F6: the protocol is on high close-on-exec fds; 3, 4 and 5 are /dev/null")
    func protocolDescriptorsAreHighAndCloseOnExec() async throws {
        let descriptors = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))([DescriptorsJob()]
        )[0]
        for fd: Int32 in 3...5 {
            #expect(descriptors.first { $0.fd == fd }?.target == "/dev/null", "\(descriptors)")
        }
        let pipes = descriptors.filter { $0.fd > 2 && $0.target.hasPrefix("pipe:") }
        #expect(pipes.count >= 2, "\(descriptors)")
        #expect(
            pipes.allSatisfy { $0.closeOnExec && $0.fd > 9 }, "programs a job starts inherit no protocol pipe: \(pipes)"
        )
    }

    @Test(
        "F6: a job that closes every descriptor, or dup2s over the reply pipe, crashes its own task with a reason",
        arguments: ["close-all", "dup2-reply"])
    func brokenReplyPipeIsACrashOfTheRunningTask(_ mode: String) async throws {
        let error = await Self.crash(MisbehaveJob.calls(mode, culprit: 1))
        #expect(error?.code == .workerCrashed, "\(String(describing: error))")
        #expect(error?.taskIndex == 1)
        // Closing everything also takes the runtime's own descriptors (Dispatch's epoll), which
        // may end the worker first; either way its own task is blamed. A dup2 over the reply pipe
        // is always caught by the worker's check.
        if mode == "dup2-reply" {
            #expect(error?.crash?.exitStatus == 3)
            #expect(error?.crash?.standardErrorTail.contains("reply pipe") == true, "\(String(describing: error))")
        }
    }

    @Test("F8: a job that breaks the request pipe does not get the next, innocent task blamed")
    func brokenRequestPipeBlamesNoInnocentTask() async throws {
        let results = try await Parallel(
            nJobs: 2, backend: .instance(MultiprocessingBackend()), timeout: .seconds(60), batchSize: 1)(
                MisbehaveJob.calls("close-request", culprit: 0, count: 6))
        #expect(results == Array(0..<6))
    }

    @Test("F5: a wild write on the status page never crashes the parent", arguments: ["board-max", "board-intmax"])
    func corruptStatusPageIsRangeChecked(_ mode: String) async throws {
        let error = await Self.crash(MisbehaveJob.calls(mode, culprit: 3, count: 5))
        #expect(error?.code == .workerCrashed, "\(String(describing: error))")
        #expect(error?.taskIndex == 3, "the running task is unknown: the batch's first, never a wild index")
        #expect(error?.crash?.signal == SIGABRT)
    }

    @Test("F5: the status page is read only within the batch")
    func statusPageValuesOutsideTheBatchReadAsUnknown() throws {
        let (board, fd) = try StatusBoard.create()
        defer { close(fd) }
        board.overwrite(batchID: 7, offsetPlusOne: UInt64.max)
        #expect(board.runningTask(batchID: 7, count: 10) == nil)
        board.overwrite(batchID: 7, offsetPlusOne: UInt64(Int.max))
        #expect(board.runningTask(batchID: 7, count: 10) == nil)
        board.overwrite(batchID: 7, offsetPlusOne: 11)
        #expect(board.runningTask(batchID: 7, count: 10) == nil)
        board.overwrite(batchID: 7, offsetPlusOne: 10)
        #expect(board.runningTask(batchID: 7, count: 10) == 9)
        #expect(board.runningTask(batchID: 8, count: 10) == nil)
    }

    @Test("F14 and item 14: the headline quotes Fatal error; WorkerCrash has pid, signal and the stderr tail")
    func crashIsStructured() async throws {
        let error = await Self.crash(
            MisbehaveJob.calls("fatal", culprit: 2, path: "headline-check"), backend: ProcessBackend())
        let crash = try #require(error?.crash, "\(String(describing: error))")
        #expect(error?.code == .workerCrashed)
        #expect(error?.taskIndex == 2)
        #expect(crash.pid > 0 && crash.signal != nil && crash.exitStatus == nil)
        #expect(crash.standardErrorTail.contains("Fatal error: deliberate: headline-check"))
        #expect(error?.description.contains("with \"") == true)
        let headline = error?.description.components(separatedBy: "with \"").dropFirst().first ?? ""
        #expect(headline.contains("Fatal error: deliberate: headline-check"), "headline: \(headline)")
        #expect(error?.localizedDescription == error?.description)
    }

    @Test("F14: a register dump or the backtracer's headline never displaces the Fatal error line")
    func headlineIgnoresDumps() {
        var tail = StderrTail()
        func append(_ text: String) { Array(text.utf8).withUnsafeBytes { tail.append($0) } }
        append("main.swift:40: Fatal error: deliberate\n")
        append("*** Program crashed: Illegal instruction at 0x00007fe7554f9361 ***\n")
        append("r14 0x00007f8ebc002cc0  46 61 74 61 6c 20 65 72 72 6f 72 3a 20 66 61 69  Fatal error: fai\n")
        #expect(tail.crashMessage == "main.swift:40: Fatal error: deliberate")
        tail.startBatch()
        append("r14 0x00007f8ebc002cc0  46 61 74 61 6c 20 65 72 72 6f 72 3a 20 66 61 69  Fatal error: fai\n")
        append("*** Program crashed: Bad pointer dereference at 0x0 ***\n")
        #expect(tail.crashMessage == "*** Program crashed: Bad pointer dereference at 0x0 ***")
        #expect(StderrTail.isRegisterDump("rax 0x0000000000000000  rdx 0x0000000000000001"))
        #expect(!StderrTail.isRegisterDump("main.swift:40: Fatal error: x"))
    }

    @Test("item 14: a crash report stays off the caller's stderr unless verbose asks for it")
    func crashReportIsNotDumpedUnlessVerbose() async throws {
        let captured = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))([StderrCaptureJob()])[
            0]
        #expect(captured.contains("deliberate: loud-report"), "verbose copies the report: \(captured)")
        #expect(!captured.contains("deliberate: quiet-report"), "without verbose it is only in the error: \(captured)")
    }

    @Test("F12: a stopped worker is pointed out by verbose output; continued, the call completes")
    func stoppedWorkerIsReported() async throws {
        let report = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))([StopWatchJob()])[0]
        #expect(report.sawMessage, "stderr: \(report.stderr)")
        #expect(report.results == [0, 1])
    }

    @Test("F12 held up: with a timeout, a stopped worker is killed and the call ends with .timeout")
    func stoppedWorkerWithTimeoutTimesOut() async throws {
        await #expect {
            _ = try await Parallel(
                nJobs: 2, backend: .instance(MultiprocessingBackend()), timeout: .seconds(2), batchSize: 1)(
                    MisbehaveJob.calls("stop", culprit: 0, count: 2, path: "/nonexistent-parallelkit-marker"))
        } throws: { error in
            (error as? ParallelError)?.code == .timeout && (error as? ParallelError)?.taskIndex == 0
        }
    }

    @Test("F9: a SharedArray made in a worker and returned reaches the caller intact")
    func sharedArrayResult() async throws {
        let arrays = try await Parallel(nJobs: 2, backend: .instance(ProcessBackend()), batchSize: 1)(
            [MakeSharedJob(count: 10), MakeSharedJob(count: 200_000)])
        #expect(arrays.map(\.count) == [10, 200_000])
        #expect(arrays.allSatisfy { $0.allSatisfy { $0 == 1.5 } })
    }

    @Test("F13: a big result of an instant job is not a timeout")
    func timeoutDoesNotCountTheResultTransfer() async throws {
        let results = try await Parallel(nJobs: 2, backend: .instance(ProcessBackend()), timeout: .milliseconds(500))(
            [QuickBigResultJob(megabytes: 256)])
        #expect(results[0].count == 256 * 16 && results[0].allSatisfy { $0.count == 1 << 16 })
    }

    @Test("F16: a job's CancellationError comes back as CancellationError on process backends")
    func cancellationErrorCrossesAsItself() async throws {
        for backend: any ParallelBackend in [ProcessBackend(), MultiprocessingBackend()] {
            await #expect(throws: CancellationError.self) {
                _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
                    MisbehaveJob.calls("cancel", culprit: 1))
            }
        }
    }

    @Test("F4: a call starts no more workers than it has tasks to run at once")
    func workersOnlyForTasks() async throws {
        let backend = ProcessBackend()
        let results = try await Parallel(nJobs: 64, backend: .instance(backend), batchSize: 1)(
            MisbehaveJob.calls("none", culprit: -1, count: 3))
        #expect(results == [0, 1, 2])
        let workers = await backend.liveWorkerPIDs()
        #expect(!workers.isEmpty && workers.count <= 3, "workers started for 3 tasks with nJobs 64: \(workers.count)")
    }

    @Test("F4: at the descriptor limit a call fails with the limit named, blames no task and leaves no worker")
    func descriptorLimitIsAClearError() async throws {
        let report = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))([DescriptorLimitJob()])[
            0]
        #expect(report.error.contains("RLIMIT_NOFILE"), "\(report.error)")
        // A worker that could not start is the call's failure, not a task's: no task index.
        #expect(report.taskIndexWasNil)
        #expect(report.workersLeft == 0)
        #expect(report.laterResults == [0, 1])
    }

    // Reads the program's output until it ends: off the cooperative pool.
    @Test(
        "F15: a stray PARALLELKIT_WORKER with fds 3-5 open does not turn a program into a silent no-op",
        .offCooperativePool)
    func strayWorkerVariableIsIgnored() throws {
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        // This test binary, run as an ordinary program (`--list-tests` makes its main return).
        shell.arguments = [
            "-c", "exec \"$0\" --list-tests 3</dev/null 4>/dev/null 5</dev/null", "/proc/\(getpid())/exe",
        ]
        shell.environment = ["PARALLELKIT_WORKER": "1:\(getpid()):3:4:5:12345:12346", "PATH": "/usr/bin:/bin"]
        let output = Pipe()
        shell.standardOutput = output
        shell.standardError = output
        try shell.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        shell.waitUntilExit()
        #expect(shell.terminationStatus == 0, "\(text)")
        #expect(text.contains("ignoring PARALLELKIT_WORKER"), "it says why: \(text)")
        #expect(text.contains("Listing"), "main ran: \(text)")
    }
}

/// In a worker (its fd 2 can be redirected without touching the test process): a crash without
/// verbose, then one with verbose; returns what reached this process's stderr.
struct StderrCaptureJob: ParallelJob {
    func run() async throws -> String {
        let path = WorkerHardeningTests.temporaryPath("stderr")
        defer { unlink(path) }
        let file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        dup2(file, 2)
        _ = await WorkerHardeningTests.crash(MisbehaveJob.calls("fatal", culprit: 0, count: 1, path: "quiet-report"))
        _ = await WorkerHardeningTests.crash(
            MisbehaveJob.calls("fatal", culprit: 0, count: 1, path: "loud-report"), verbose: 1)
        // The relay writes on its own thread; the verbose report arrives in order after the other.
        let deadline = ContinuousClock.now + .seconds(20)
        var text = ""
        while ContinuousClock.now < deadline {
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if text.contains("deliberate: loud-report") { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return text
    }
}

/// In a worker: a nested call whose job stops itself; waits for the verbose notice naming the
/// stopped worker, continues it, and returns what happened.
struct StopWatchJob: ParallelJob {
    struct Report: Codable, Sendable {
        var sawMessage: Bool
        var results: [Int]
        var stderr: String
    }

    func run() async throws -> Report {
        let path = WorkerHardeningTests.temporaryPath("stopped")
        defer { unlink(path) }
        let file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        dup2(file, 2)
        let release = path + "-continue"
        defer { unlink(release) }
        let call = Task {
            try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()), verbose: 1, batchSize: 1)(
                MisbehaveJob.calls("stop", culprit: 0, count: 2, path: release))
        }
        let deadline = ContinuousClock.now + .seconds(30)
        var text = ""
        var stoppedPID: Int32?
        while ContinuousClock.now < deadline, stoppedPID == nil {
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if let range = text.range(of: "worker process "), text.contains("is stopped") {
                stoppedPID = Int32(text[range.upperBound...].prefix { $0.isNumber })
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        _ = FileManager.default.createFile(atPath: release, contents: Data())
        if let stoppedPID {
            // Continued until the call ends: a SIGCONT that lands between the job's check of the
            // file and its SIGSTOP would otherwise be lost.
            let continuer = Task {
                for _ in 0..<300 where !Task.isCancelled {
                    kill(stoppedPID, SIGCONT)
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            defer { continuer.cancel() }
            let results = (try? await call.value) ?? []
            return Report(sawMessage: true, results: results, stderr: text)
        }
        call.cancel()
        let results = (try? await call.value) ?? []
        return Report(sawMessage: stoppedPID != nil, results: results, stderr: text)
    }
}

/// In a worker: lowers RLIMIT_NOFILE so that the next worker cannot get its pipes, runs a call,
/// then restores the limit and runs another.
struct DescriptorLimitJob: ParallelJob {
    struct Report: Codable, Sendable {
        var error: String
        var taskIndexWasNil: Bool
        var workersLeft: Int
        var laterResults: [Int]
    }

    func run() async throws -> Report {
        let backend = ProcessBackend()
        // Starts the event loop and the stderr relay while descriptors are plentiful.
        _ = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))(
            MisbehaveJob.calls("none", culprit: -1, count: 1))
        var saved = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved)
        let lowest = open("/dev/null", O_RDONLY)
        close(lowest)
        var lowered = saved
        lowered.rlim_cur = rlim_t(lowest + 2)
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &lowered)
        var report = Report(error: "no error", taskIndexWasNil: false, workersLeft: -1, laterResults: [])
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
                MisbehaveJob.calls("none", culprit: -1, count: 2))
        } catch let error as ParallelError {
            report.error = error.description
            report.taskIndexWasNil = error.taskIndex == nil
        }
        report.workersLeft = await backend.liveWorkerPIDs().count
        setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &saved)
        report.laterResults = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
            MisbehaveJob.calls("none", culprit: -1, count: 2))
        return report
    }
}
