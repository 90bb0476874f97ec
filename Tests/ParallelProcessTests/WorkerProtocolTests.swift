import Foundation
@_spi(Locking) import ParallelCore
import ParallelTestSupport
import Testing

@testable import ParallelProcess

/// Jobs the worker tests run; internal, so a worker finds them by name.
struct AddJob: ParallelJob {
    var a: Int
    var b: Int
    func run() async throws -> Int { a + b }
}

struct PrintingJob: ParallelJob {
    var text: String
    func run() async throws -> String {
        print("stdout from a job: \(text)")
        return text.uppercased()
    }
}

struct MainActorJob: ParallelJob {
    func run() async throws -> Bool {
        await MainActor.run { Thread.isMainThread }
    }
}

struct CodableFailure: Error, Codable, Equatable {
    var code: Int
}

struct FailingJob: ParallelJob {
    var failAt: Int
    var index: Int
    func run() async throws -> Int {
        if index == failAt { throw CodableFailure(code: index) }
        return index
    }
}

/// Talks to one worker with blocking I/O: the protocol without the event loop.
///
/// Its descriptors are `OwnedDescriptor`s: each is closed once, and a number closed behind the
/// client's back (a double close elsewhere in this process, whose tests run in parallel) is
/// reported as such rather than showing up as a worker that ends for no reason.
final class BlockingWorkerClient {
    let process: SpawnedProcess
    var reader = FrameReader()
    private let request: OwnedDescriptor
    private let reply: OwnedDescriptor
    private let errors: OwnedDescriptor
    private let processHandle: OwnedDescriptor?
    /// The worker's wait status, once reaped (by `waitForExit` or deinit; never twice).
    private var exitStatus: Int32?

    init() throws {
        // Spawned from the event loop's thread, as the pools do: the worker's parent-death signal
        // fires when the spawning *thread* exits, and a test's thread may be a pool thread that
        // ends when the machine is busy (this test failed that way under load).
        let spawned = LockedValue<Result<SpawnedProcess, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        EventLoop.shared.execute {
            let result = Result {
                try SpawnedProcess.spawn(
                    executable: "/proc/self/exe", argument0: CommandLine.arguments.first ?? "worker",
                    environment: WorkerEnvironment.entries(parent: ProcessInfo.processInfo.environment, overrides: [:]))
            }
            spawned.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        process = try spawned.withLock { $0! }.get()
        request = OwnedDescriptor(process.requestFD, role: "worker \(process.pid)'s request pipe")
        reply = OwnedDescriptor(process.replyFD, role: "worker \(process.pid)'s reply pipe")
        errors = OwnedDescriptor(process.stderrFD, role: "worker \(process.pid)'s stderr pipe")
        processHandle = process.pidFD >= 0 ? OwnedDescriptor(process.pidFD, role: "worker \(process.pid)'s pidfd") : nil
        FileDescriptorIO.setNonBlocking(process.requestFD, false)
        FileDescriptorIO.setNonBlocking(process.replyFD, false)
    }

    deinit {
        // End of file on its request pipe ends the worker.
        request.close()
        waitForExit()
        reply.close()
        errors.close()
        processHandle?.close()
    }

    /// Closes the request pipe (once): the worker exits at its end of file.
    func closeRequest() { request.close() }

    /// Waits for the worker to end and reaps it, once; its wait status (nil if it could not be
    /// reaped, recorded as an issue).
    @discardableResult
    func waitForExit() -> Int32? {
        if let exitStatus { return exitStatus }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(process.pid, &status, 0) } while result < 0 && errno == EINTR
        guard result == process.pid else {
            Issue.record("waitpid(\(process.pid)) failed (errno \(errno))")
            return nil
        }
        exitStatus = status
        return status
    }

    func nextFrame() throws -> Frame? {
        while true {
            if let frame = try reader.next() { return frame }
            guard reply.expectIntact("before a read") else { return nil }
            let count = reader.read(from: reply.number)
            if count == 0 {
                // The worker ended. Had its request pipe been closed behind this client's back,
                // that end of file is why: say so.
                request.expectIntact("when the worker's reply pipe reached its end")
                return nil
            }
            if count < 0 && errno != EINTR { throw SystemError("read", errno) }
        }
    }

    func send(_ bytes: [UInt8]) {
        // Never write into a number that now names another test's file.
        guard request.expectIntact("before a request was written") else { return }
        FileDescriptorIO.writeAll(request.number, bytes)
    }

    func sendBatch<J: ParallelJob>(_ jobs: [J], batchID: UInt64 = 1, reportTaskStarts: Bool = false) throws {
        var frame = FrameBuilder(.runBatch)
        let header = BatchRequestHeader(
            batchID: batchID, firstIndex: 0, count: jobs.count, jobType: _mangledTypeName(J.self)!,
            scope: ScopeValues(), reportTaskStarts: reportTaskStarts, mmapMode: "r")
        try frame.appendSized(encoding: header)
        try frame.append(encoding: jobs)
        send(try frame.finish())
    }

    func expectHandshake() throws {
        let bootstrap = try #require(try nextFrame())
        #expect(bootstrap.kind == .bootstrap)
        #expect(bootstrap.body.count == 5)
        #expect(bootstrap.body.bytes[0] == 1)
        let hello = try #require(try nextFrame())
        #expect(hello.kind == .hello)
        let decoded = try BinaryDecoder().decode(WorkerHello.self, from: hello.body, range: 0..<hello.body.count)
        #expect(decoded.pid == process.pid)
        #expect(decoded.protocolVersion == FrameLimits.protocolVersion)
    }

    func results<Output: Decodable>(_ type: Output.Type) throws -> [Output] {
        let frame = try #require(try nextFrame())
        guard frame.kind == .batchResult else {
            Issue.record("expected a result, got kind \(frame.rawKind)")
            return []
        }
        _ = try BatchResultHeader(reading: frame.body)
        return try BinaryDecoder().decode(
            [Output].self, from: frame.body, range: BatchResultHeader.size..<frame.body.count)
    }
}

// Blocking reads from a worker that is still starting (seconds on a loaded machine): off the
// cooperative pool.
@Suite("Worker protocol", .offCooperativePool)
struct WorkerProtocolTests {
    @Test func workerRunsBatchesAndExitsAtEndOfFile() throws {
        let client = try BlockingWorkerClient()
        try client.expectHandshake()
        try client.sendBatch((0..<100).map { AddJob(a: $0, b: 1) })
        #expect(try client.results(Int.self) == Array(1...100))
        try client.sendBatch([AddJob(a: 2, b: 3)], batchID: 2)
        #expect(try client.results(Int.self) == [5])
        // Through the client, which then neither closes the number again nor reaps the pid twice:
        // a second close here once ended another test's worker, whose request pipe had been given
        // this number meanwhile (it read end of file right after its handshake).
        client.closeRequest()
        #expect(try client.nextFrame() == nil)
        #expect(client.waitForExit() == 0)
    }

    @Test func printingDoesNotCorruptTheProtocol() throws {
        let client = try BlockingWorkerClient()
        try client.expectHandshake()
        try client.sendBatch([PrintingJob(text: "one"), PrintingJob(text: "two")])
        #expect(try client.results(String.self) == ["ONE", "TWO"])
    }

    @Test func jobsCanHopToTheMainActor() throws {
        let client = try BlockingWorkerClient()
        try client.expectHandshake()
        try client.sendBatch([MainActorJob()])
        #expect(try client.results(Bool.self) == [true])
    }

    @Test func taskErrorsComeBackAsEnvelopes() throws {
        let client = try BlockingWorkerClient()
        try client.expectHandshake()
        try client.sendBatch((0..<5).map { FailingJob(failAt: 3, index: $0) }, batchID: 9)
        let frame = try #require(try client.nextFrame())
        #expect(frame.kind == .batchFailure)
        let report = try BinaryDecoder().decode(BatchFailureReport.self, from: frame.body, range: 0..<frame.body.count)
        #expect(report.batchID == 9)
        #expect(report.completedCount == 3)
        #expect(try BinaryDecoder().decode([Int].self, from: report.completedOutputs) == [0, 1, 2])
        let rebuilt = report.error.rebuild(taskIndex: 3)
        #expect(rebuilt as? CodableFailure == CodableFailure(code: 3))
    }

    @Test func taskStartsAreReportedWhenAsked() throws {
        let client = try BlockingWorkerClient()
        try client.expectHandshake()
        try client.sendBatch([AddJob(a: 1, b: 1), AddJob(a: 2, b: 2)], batchID: 4, reportTaskStarts: true)
        // Offsets 0 and 1, then 2 (== count): every task ran, the results follow (red-team F13).
        for offset in 0...2 {
            let frame = try #require(try client.nextFrame())
            #expect(frame.kind == .taskStarted)
            let notice = try TaskStartedNotice(reading: frame.body)
            #expect(notice.batchID == 4)
            #expect(notice.offset == UInt32(offset))
        }
        #expect(try client.results(Int.self) == [2, 4])
    }

    @Test func unknownTypeIsAFaultNotACrash() throws {
        let client = try BlockingWorkerClient()
        try client.expectHandshake()
        var frame = FrameBuilder(.runBatch)
        let header = BatchRequestHeader(
            batchID: 3, firstIndex: 0, count: 1, jobType: "NoSuchType", scope: ScopeValues(),
            reportTaskStarts: false, mmapMode: "r")
        try frame.appendSized(encoding: header)
        try frame.append(encoding: [Int]())
        client.send(try frame.finish())
        let reply = try #require(try client.nextFrame())
        #expect(reply.kind == .workerFault)
        let fault = try BinaryDecoder().decode(WorkerFault.self, from: reply.body, range: 0..<reply.body.count)
        #expect(fault.batchID == 3)
        #expect(fault.message.contains("NoSuchType"))
    }
}
