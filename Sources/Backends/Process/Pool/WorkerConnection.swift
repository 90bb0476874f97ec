import Foundation
import ParallelCore

// The parent's side of one worker: a state machine on the event loop thread.
//
//   launching ──bootstrap(deferred)──▶ deferred ──hello──▶ ready ⇄ busy ──▶ retiring ──▶ dead
//        └──────────────────hello───────────────────────────┘
//
// Any state can end in `dead` when the pidfd says the process is gone. Death is only acted on
// there (never on end of file alone), after draining the reply and stderr pipes: a result written
// just before exiting still counts, and a crash report gets the complete stderr tail.

/// What a connection tells its pool.
protocol WorkerConnectionDelegate: AnyObject {
    /// The worker loop answered; the worker can take a batch.
    func workerReady(_ worker: WorkerConnection)
    /// The running batch ended with `reply`; the worker is ready again.
    func worker(_ worker: WorkerConnection, finished batch: QueuedBatch, with reply: BatchReply)
    /// The process is gone. `crashed` is the batch it was running, if any, with the error that
    /// names the task, and whether the worker lost it before running any of its tasks (its request
    /// stream broke: the batch is innocent and may run elsewhere); `startFailure` is set when it
    /// never became ready.
    func workerDied(
        _ worker: WorkerConnection, crashed: (batch: QueuedBatch, error: ParallelError, neverStarted: Bool)?,
        startFailure: StartFailure?)
}

/// Why a worker never became ready.
struct StartFailure: Error {
    /// What to tell the user.
    let message: String
    /// A failure that will repeat for every worker (wrong executable, missing
    /// `enterIfNeeded()`), so retrying is pointless.
    let isPermanent: Bool
}

/// One worker process, seen from the parent.
///
/// - Concurrency: confined to the event loop thread.
final class WorkerConnection: EventHandler {
    enum Phase: Equatable { case launching, deferred, ready, busy, retiring, dead }

    /// How long a worker may take to show any sign of life (the bootstrap frame): loading a
    /// large executable on a loaded machine takes well under a second; ten is generous.
    static let bootstrapTimeout: UInt64 = 10_000_000_000
    /// How long, after a deferred bootstrap, `main` may take to reach `enterIfNeeded()`.
    static let deferredTimeout: UInt64 = 5_000_000_000
    /// How long a retiring worker gets to exit before SIGKILL.
    static let retireGrace: UInt64 = 2_000_000_000
    /// How often a busy worker of a verbose call is checked for being stopped (SIGSTOP, a debugger).
    static let stopCheckInterval: UInt64 = 2_000_000_000
    /// Crash-report bytes held back from our stderr at most (the tail keeps its own copy).
    static let heldStderrLimit = 256 * 1024

    private(set) var process: SpawnedProcess
    private weak var delegate: (any WorkerConnectionDelegate)?
    private let loop: EventLoop

    private(set) var phase: Phase = .launching
    private(set) var current: QueuedBatch? {
        didSet {
            // Every path that takes or lets go of a batch goes through here, so the call's table of
            // boards to read never names a batch this worker no longer runs.
            guard oldValue?.batchID != current?.batchID else { return }
            if let oldValue { oldValue.runningBoards?.stopped(batchID: oldValue.batchID) }
            if let current, let board = process.board { current.runningBoards?.started(current, on: board) }
        }
    }
    /// Monotonic time the worker last became idle.
    private(set) var idleSince: UInt64 = 0

    private var reader = FrameReader(initialCapacity: 16 * 1024)
    private var tail = StderrTail()
    private var outbox: [UInt8] = []
    private var outboxOffset = 0
    private var requestOpen = true
    /// What the request descriptor named when it was handed over (device and inode), to notice a
    /// number that code elsewhere in the process closed and the kernel gave to another file.
    private var requestIdentity: FileIdentity?
    private var lastStartedOffset: Int?
    private var phaseTimer: Int?
    private var bootstrapMode: UInt8 = 0
    private var replyOpen = true
    private var stderrOpen = true
    private var ending = false
    private var protocolError: String?
    /// A remote worker that did not connect back in time (its launcher was then killed).
    private var startTimedOutAt = false
    private var killedByPool = false
    /// Set when the worker reported that its request stream broke (a fault outside any batch).
    private var requestStreamBroke = false
    /// From the first line of a crash report on, the worker's stderr is held here instead of
    /// being copied to ours: the report belongs in the error (``WorkerCrash``), and is copied only
    /// when the call is verbose or the worker turns out not to have crashed.
    private var heldStderr: [UInt8] = []
    private var holdingStderr = false
    /// The part of the current stderr line already seen (for finding where a crash report starts).
    private var stderrLine: [UInt8] = []
    /// Stderr not yet forwarded nor held: blank lines and the start of the current line. The
    /// backtracer writes its first line in pieces after a blank line (`\n*** `, `Signal 11`,
    /// `: Backtracing from 0x…`); forwarded as they came, those pieces reached the caller's stderr
    /// before the line could be recognised as a crash report. They wait here until a non-blank
    /// line ends, the worker sends a frame, or `undecidedStderrDelay` passes.
    private var undecidedStderr: [UInt8] = []
    private var undecidedStderrTimer: Int?
    /// How long bytes may stay undecided: the backtracer's pieces come microseconds apart; a
    /// progress line without a newline is shown this late at most.
    static let undecidedStderrDelay: UInt64 = 250_000_000
    /// Undecided bytes beyond this are forwarded (a very long line without a newline).
    static let undecidedStderrLimit = 64 * 1024
    private var stopCheckTimer: Int?
    private var reportedStop = false

    init(process: SpawnedProcess, delegate: any WorkerConnectionDelegate, loop: EventLoop) {
        self.process = process
        self.delegate = delegate
        self.loop = loop
        if process.requestFD >= 0 { requestIdentity = FileIdentity(of: process.requestFD) }
        // A remote worker's request and reply descriptors come later, with `attach`.
        if process.replyFD >= 0 { loop.register(process.replyFD, events: Int16(POLLIN), handler: self) }
        loop.register(process.stderrFD, events: Int16(POLLIN), handler: self)
        if process.requestFD >= 0 { loop.register(process.requestFD, events: 0, handler: self) }
        if process.pidFD >= 0 { loop.register(process.pidFD, events: Int16(POLLIN), handler: self) }
        let startLimit = process.remote?.startTimeout.nanoseconds ?? Self.bootstrapTimeout
        phaseTimer = loop.schedule(at: MonotonicClock.now() &+ startLimit) { [weak self] in
            self?.startTimedOut()
        }
    }

    var pid: pid_t { process.pid }
    var isAlive: Bool { phase != .dead }
    /// Counts towards the pool's size (not on its way out).
    var isActive: Bool { phase != .dead && phase != .retiring }

    /// What messages call this worker.
    private var name: String { process.remote?.name ?? "the worker process (pid \(process.pid))" }

    // MARK: Commands from the pool

    /// Gives a remote worker its authenticated connection: `socket` carries both directions
    /// (a duplicate is the request side, so each direction has its own registration). The pool
    /// owns `socket` from here on. False when the worker is no longer waiting for one.
    func attach(socket: Int32, peer: String) -> Bool {
        guard phase == .launching, process.remote != nil, process.replyFD < 0 else { return false }
        let requestSide = fcntl(socket, F_DUPFD_CLOEXEC, 0)
        guard requestSide >= 0 else { return false }
        FileDescriptorIO.setNonBlocking(socket)
        FileDescriptorIO.setNonBlocking(requestSide)
        process.replyFD = socket
        process.requestFD = requestSide
        requestIdentity = FileIdentity(of: requestSide)
        if !peer.isEmpty, var name = process.remote?.name {
            if name.hasSuffix(")") {
                name.removeLast()
                name += "; \(peer))"
            } else {
                name += " (\(peer))"
            }
            process.remote?.name = name
        }
        loop.register(process.replyFD, events: Int16(POLLIN), handler: self)
        loop.register(process.requestFD, events: 0, handler: self)
        return true
    }

    /// Matches a connection to this launch.
    var remoteToken: UInt64? { process.remote?.token }

    /// Sends `batch`; the worker must be ready.
    func assign(_ batch: QueuedBatch) {
        precondition(phase == .ready, "assign to a worker that is \(phase)")
        phase = .busy
        current = batch
        lastStartedOffset = nil
        tail.startBatch()
        if !batch.tracksEachTask { batch.progress.markBatchStarted() }
        send(batch.frame)
        reportedStop = false
        if batch.verbose > 0 { scheduleStopCheck() }
    }

    /// Asks the worker to exit after its current batch (now, when idle), and kills it if it has
    /// not within `retireGrace`.
    func retire() {
        guard phase != .dead, phase != .retiring else { return }
        // A remote worker still on its way has nothing to finish: end its launcher now.
        if process.remote != nil && phase == .launching {
            kill()
            return
        }
        let wasBusy = phase == .busy
        phase = .retiring
        if !wasBusy { closeRequestPipe() }
        cancelPhaseTimer()
        phaseTimer = loop.schedule(at: MonotonicClock.now() &+ Self.retireGrace) { [weak self] in self?.kill() }
    }

    /// Kills the worker now (SIGKILL). Its death is reported through the pidfd as usual.
    func kill() {
        guard phase != .dead else { return }
        killedByPool = true
        _ = Glibc.kill(process.pid, SIGKILL)
    }

    /// Drops the current batch without reporting it (the call was aborted), and kills the worker.
    func abandonCurrentBatch() {
        current = nil
        kill()
    }

    // MARK: Events

    func handleEvents(_ events: Int16, on fd: Int32) {
        switch fd {
        case process.replyFD: readReplies(limit: 16)
        case process.stderrFD: readStderr(limit: 16)
        case process.requestFD: flushOutbox()
        case process.pidFD: processEnded()
        default: break
        }
    }

    private func readReplies(limit: Int) {
        guard replyOpen else { return }
        for _ in 0..<limit {
            let count = reader.read(from: process.replyFD)
            if count > 0 {
                handleFrames()
                if phase == .dead { return }
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && errno == EAGAIN { return }
            // End of file or error: the worker is exiting. The pidfd reports the end; without
            // one (old kernels) the end is detected here.
            replyOpen = false
            loop.unregister(process.replyFD)
            if process.pidFD < 0 && !ending { processEnded() }
            // A remote worker's launcher (ssh, srun) normally ends with it; one that outlives its
            // connection (a lost node, a hung ssh) must not keep the pool waiting.
            if process.remote != nil && !ending {
                loop.schedule(at: MonotonicClock.now() &+ Self.retireGrace) { [weak self] in self?.kill() }
            }
            return
        }
    }

    private func handleFrames() {
        do {
            while let frame = try reader.next() {
                try handle(frame)
                if phase == .dead { return }
            }
            reader.shrinkIfIdle(to: 16 * 1024)
        } catch {
            protocolViolation("\(error)")
        }
    }

    private func handle(_ frame: Frame) throws {
        // A worker that still talks did not crash: what looked like a crash report was not one.
        releaseHeldStderr()
        switch frame.kind {
        case .bootstrap:
            guard frame.body.count >= 1 else { throw FrameError.malformed("bootstrap") }
            bootstrapMode = frame.body.bytes[0]
            if bootstrapMode == 2 {
                phase = .deferred
                cancelPhaseTimer()
                phaseTimer = loop.schedule(at: MonotonicClock.now() &+ Self.deferredTimeout) { [weak self] in
                    self?.startTimedOut()
                }
            }
        case .hello:
            let hello = try BinaryDecoder().decode(WorkerHello.self, from: frame.body, range: 0..<frame.body.count)
            guard hello.protocolVersion == FrameLimits.protocolVersion else {
                throw FrameError.malformed("worker speaks protocol \(hello.protocolVersion)")
            }
            // A worker the pool has killed (its start took too long) may still have said hello
            // just before: it must not take a batch, whose loss would then be blamed on a task.
            guard phase == .launching || phase == .deferred, !killedByPool else { return }
            cancelPhaseTimer()
            phase = .ready
            idleSince = MonotonicClock.now()
            delegate?.workerReady(self)
        case .taskStarted:
            let notice = try TaskStartedNotice(reading: frame.body)
            guard let current, current.batchID == notice.batchID else { return }
            // Offset == count: every task ran; the results follow. The timeout stops here, so it
            // never counts the transfer of a large result.
            if Int(notice.offset) == current.count {
                current.progress.markTasksCompleted(current.count)
                current.progress.markFinished()
                return
            }
            // Values from the worker are untrusted: an offset outside the batch or a
            // start in the future is a protocol error or clamped, never arithmetic on garbage.
            guard Int(notice.offset) < current.count else {
                throw FrameError.malformed("task notice for offset \(notice.offset) of a batch of \(current.count)")
            }
            lastStartedOffset = Int(notice.offset)
            // Tasks of a batch run in order: the start of this one means those before it completed.
            // A remote worker has no board the parent can read, so these notices are its progress.
            current.progress.markTasksCompleted(Int(notice.offset))
            // Another machine's monotonic clock means nothing here: stamp the arrival instead. A
            // local worker's stamp is clamped to now (never trusted to lie in the future).
            let now = MonotonicClock.now()
            let startedAt = process.remote == nil ? min(notice.startedAt, now) : now
            current.progress.markTaskStarted(offset: Int(notice.offset), at: startedAt)
        case .batchResult:
            let header = try BatchResultHeader(reading: frame.body)
            finishCurrent(batchID: header.batchID, with: .finished(frame.body))
        case .batchFailure:
            let report = try BinaryDecoder().decode(
                BatchFailureReport.self, from: frame.body, range: 0..<frame.body.count)
            if let current, current.batchID == report.batchID, !(0..<current.count).contains(report.completedCount) {
                throw FrameError.malformed(
                    "failure after \(report.completedCount) tasks of a batch of \(current.count)")
            }
            finishCurrent(batchID: report.batchID, with: .failed(report))
        case .workerFault:
            let fault = try BinaryDecoder().decode(WorkerFault.self, from: frame.body, range: 0..<frame.body.count)
            guard fault.batchID != 0 else {
                // The worker's request stream broke: not a batch's fault, and not
                // a serialization problem. The worker exits; its end is reported as a crash of
                // the task it was running, or, if it never started the batch it was sent, the
                // batch runs on another worker.
                requestStreamBroke = true
                protocolError = "its request stream broke (\(fault.message))"
                return
            }
            finishCurrent(batchID: fault.batchID, with: .fault(fault.message))
        default:
            throw FrameError.unexpected(frame.rawKind)
        }
    }

    private func finishCurrent(batchID: UInt64, with reply: BatchReply) {
        guard let batch = current, batch.batchID == batchID else {
            // A reply for an abandoned batch (the call was aborted while the reply was in flight).
            return
        }
        current = nil
        cancelStopCheck()
        batch.progress.markFinished()
        if phase == .busy {
            phase = .ready
            idleSince = MonotonicClock.now()
        } else if phase == .retiring {
            closeRequestPipe()
        }
        delegate?.worker(self, finished: batch, with: reply)
    }

    private func readStderr(limit: Int) {
        guard stderrOpen else { return }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        for _ in 0..<limit {
            let count = chunk.withUnsafeMutableBytes { read(process.stderrFD, $0.baseAddress, $0.count) }
            if count > 0 {
                chunk.withUnsafeBytes { bytes in
                    let piece = UnsafeRawBufferPointer(rebasing: bytes[0..<count])
                    tail.append(piece)
                    forwardStderr(piece)
                }
                continue
            }
            if count < 0 && errno == EINTR { continue }
            if count < 0 && errno == EAGAIN { return }
            stderrOpen = false
            loop.unregister(process.stderrFD)
            return
        }
    }

    /// The worker's stderr is the user's; it goes on to the parent's stderr as is, through the
    /// relay so a slow stderr never blocks this loop, except a crash report, which is held from
    /// its first line on (see `heldStderr`).
    private func forwardStderr(_ piece: UnsafeRawBufferPointer) {
        var lineStart = 0
        for index in 0..<piece.count where piece[index] == UInt8(ascii: "\n") {
            forwardLine(UnsafeRawBufferPointer(rebasing: piece[lineStart...index]), complete: true)
            lineStart = index + 1
        }
        if lineStart < piece.count {
            forwardLine(UnsafeRawBufferPointer(rebasing: piece[lineStart...]), complete: false)
        }
    }

    private func forwardLine(_ bytes: UnsafeRawBufferPointer, complete: Bool) {
        defer { if complete { stderrLine.removeAll(keepingCapacity: true) } }
        if holdingStderr {
            hold(bytes)
            return
        }
        if stderrLine.count < 4096 { stderrLine.append(contentsOf: bytes.prefix(4096 - stderrLine.count)) }
        if StderrTail.startsCrashReport(String(decoding: stderrLine, as: UTF8.self)) {
            // The blank lines before the report and the start of its first line belong to it. (A
            // start forwarded already, after `undecidedStderrDelay`, stays forwarded.)
            holdingStderr = true
            undecidedStderr.withUnsafeBytes { hold($0) }
            dropUndecidedStderr()
            hold(bytes)
            return
        }
        undecidedStderr.append(contentsOf: bytes)
        let decided = complete && stderrLine.contains { !Self.isBlank($0) }
        if decided || undecidedStderr.count > Self.undecidedStderrLimit {
            forwardUndecidedStderr()
        } else if undecidedStderrTimer == nil {
            undecidedStderrTimer = loop.schedule(at: MonotonicClock.now() &+ Self.undecidedStderrDelay) {
                [weak self] in
                self?.undecidedStderrTimer = nil
                self?.forwardUndecidedStderr()
            }
        }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\n")
    }

    private func hold(_ bytes: UnsafeRawBufferPointer) {
        if heldStderr.count < Self.heldStderrLimit {
            heldStderr.append(contentsOf: bytes.prefix(Self.heldStderrLimit - heldStderr.count))
        }
    }

    /// Sends the undecided bytes on to our stderr.
    private func forwardUndecidedStderr() {
        if !undecidedStderr.isEmpty { undecidedStderr.withUnsafeBytes { StandardErrorRelay.shared.forward($0) } }
        dropUndecidedStderr()
    }

    private func dropUndecidedStderr() {
        undecidedStderr.removeAll(keepingCapacity: true)
        if let undecidedStderrTimer { loop.cancel(timer: undecidedStderrTimer) }
        undecidedStderrTimer = nil
    }

    /// Copies held-back and undecided stderr to ours and stops holding.
    private func releaseHeldStderr() {
        forwardUndecidedStderr()
        guard holdingStderr else { return }
        holdingStderr = false
        heldStderr.withUnsafeBytes { StandardErrorRelay.shared.forward($0) }
        heldStderr = []
    }

    // MARK: Stopped workers

    /// A worker stopped by SIGSTOP (or a debugger) makes a call without a timeout wait, as loky
    /// does; a verbose call says which worker it waits for.
    private func scheduleStopCheck() {
        cancelStopCheck()
        stopCheckTimer = loop.schedule(at: MonotonicClock.now() &+ Self.stopCheckInterval) { [weak self] in
            guard let self else { return }
            self.stopCheckTimer = nil
            guard self.phase == .busy || self.phase == .retiring, let batch = self.current else { return }
            let stopped = Self.isStopped(self.process.pid)
            if stopped && !self.reportedStop {
                let running =
                    self.runningOffset(of: batch).map { "task \(batch.firstIndex + $0)" }
                    ?? "tasks \(batch.firstIndex)..<\(batch.firstIndex + batch.count)"
                let text =
                    "[Parallel] worker process \(self.process.pid) running \(running) is stopped (SIGSTOP or a "
                    + "debugger); the call waits until it continues (kill -CONT \(self.process.pid)). Set a timeout "
                    + "to end stopped workers.\n"
                Array(text.utf8).withUnsafeBytes { StandardErrorRelay.shared.forward($0) }
            }
            self.reportedStop = stopped
            self.scheduleStopCheck()
        }
    }

    private func cancelStopCheck() {
        if let stopCheckTimer { loop.cancel(timer: stopCheckTimer) }
        stopCheckTimer = nil
    }

    /// Whether `pid` is stopped, from the state field of /proc/<pid>/stat (after the command
    /// name, which may itself contain spaces and parentheses).
    static func isStopped(_ pid: pid_t) -> Bool {
        guard let text = try? String(contentsOfFile: Platform.processStatusPath(process: pid), encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return false }
        let state = text[text.index(after: close)...].drop(while: { $0 == " " }).first
        return state == "T" || state == "t"
    }

    // MARK: Writing

    private func send(_ frame: [UInt8]) {
        guard requestOpen else { return }
        if outboxOffset == outbox.count {
            outbox = frame
            outboxOffset = 0
        } else {
            outbox.append(contentsOf: frame)
        }
        flushOutbox()
    }

    private func flushOutbox() {
        // One fstat per flush: if code elsewhere in this process closed the request pipe and its
        // number now names another file, a batch written there would land in that file.
        if outboxOffset < outbox.count && FileIdentity(of: process.requestFD) != requestIdentity {
            requestPipeLost()
            return
        }
        while outboxOffset < outbox.count {
            let written = outbox.withUnsafeBytes { bytes in
                write(process.requestFD, bytes.baseAddress! + outboxOffset, bytes.count - outboxOffset)
            }
            if written > 0 {
                outboxOffset += written
                continue
            }
            if written < 0 && errno == EINTR { continue }
            if written < 0 && errno == EAGAIN {
                loop.setEvents(process.requestFD, Int16(POLLOUT))
                return
            }
            // EPIPE: the worker is gone; its pidfd will say so. The SIGPIPE this raised is
            // blocked on the loop thread and discarded there.
            SignalMask.discardPendingSIGPIPE()
            outbox = []
            outboxOffset = 0
            loop.setEvents(process.requestFD, 0)
            return
        }
        outbox = []
        outboxOffset = 0
        loop.setEvents(process.requestFD, 0)
        if phase == .retiring && current == nil { closeRequestPipe() }
    }

    /// The request pipe's number no longer names the pipe: code elsewhere in this process closed
    /// it (a double close, or a close of a descriptor it did not own), and the kernel may have
    /// given the number to another file since. Nothing more is written through that number, nor
    /// is it closed (it is not ours any more). The worker saw end of file and is ended; the batch,
    /// never sent, runs on another worker, and our stderr says what happened.
    private func requestPipeLost() {
        let number = process.requestFD
        requestOpen = false
        outbox = []
        outboxOffset = 0
        loop.unregister(number, handler: self)
        let reason =
            "its request pipe (fd \(number)) was closed by other code in this process (a double close, or a close "
            + "of a descriptor it did not open)"
        requestStreamBroke = true
        protocolError = reason
        let warning = "ParallelKit: \(name): \(reason); the worker was replaced.\n"
        Array(warning.utf8).withUnsafeBytes { StandardErrorRelay.shared.forward($0) }
        kill()
    }

    /// End of file on fd 3 makes an idle worker exit with status 0.
    private func closeRequestPipe() {
        guard requestOpen else { return }
        // Frames still queued (none when idle) would be lost; a retiring worker has none.
        requestOpen = false
        guard process.requestFD >= 0 else { return }
        loop.unregister(process.requestFD)
        // A socket's other descriptor (the reply side) stays open: end the direction explicitly.
        if process.remote != nil { shutdown(process.requestFD, Int32(SHUT_WR)) }
        close(process.requestFD)
    }

    // MARK: The end

    private func startTimedOut() {
        phaseTimer = nil
        guard phase == .launching || phase == .deferred else { return }
        startTimedOutAt = true
        kill()
    }

    /// The worker sent something that is not the protocol: it cannot be trusted with more work.
    private func protocolViolation(_ message: String) {
        protocolError = message
        loop.unregister(process.replyFD)
        replyOpen = false
        kill()
    }

    private func processEnded() {
        guard phase != .dead, !ending else { return }
        ending = true
        let wasPhase = phase
        // Results and diagnostics written just before the end are still in the pipes.
        readReplies(limit: Int.max)
        readStderr(limit: Int.max)
        var raw: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(process.pid, &raw, WNOHANG) } while result < 0 && errno == EINTR
        if result == 0 {
            // Still running: without a pidfd the end is inferred from its reply pipe closing, and a
            // worker that closed it cannot work any more. End it rather than block the event loop,
            // the only I/O thread of every pool, waiting for an exit that may never come.
            _ = Glibc.kill(process.pid, SIGKILL)
            repeat { result = waitpid(process.pid, &raw, 0) } while result < 0 && errno == EINTR
        }
        let status = ExitStatus(raw: result == process.pid ? raw : nil)
        ProcessRegistry.shared.remove(process.pid)
        phase = .dead
        cancelPhaseTimer()
        cancelStopCheck()
        for fd in [process.replyFD, process.stderrFD, process.pidFD] where fd >= 0 {
            loop.unregister(fd)
            close(fd)
        }
        closeRequestPipe()
        let batch = current
        current = nil
        // A crash report stays in the error unless the call asked for verbose output; without a
        // batch there is no error to carry it, so it is copied.
        if batch == nil || (batch?.verbose ?? 0) > 0 {
            releaseHeldStderr()
        } else {
            // Blank lines and a partial line at a crash are part of its report (kept in the tail).
            dropUndecidedStderr()
        }

        var startFailure: StartFailure?
        if wasPhase == .launching || wasPhase == .deferred {
            startFailure = describeStartFailure(status: status, deferred: wasPhase == .deferred)
        }
        // A batch the parent abandoned (abort) was cleared before the kill, so any batch still
        // here is one whose caller waits: it is reported, whoever ended the worker.
        process.remote?.ended(killedByPool)
        delegate?.workerDied(
            self,
            crashed: batch.map { batch in
                let neverStarted = requestStreamBroke && runningOffset(of: batch) == nil
                return (batch, describeCrash(of: batch, status: status), neverStarted)
            },
            startFailure: startFailure)
    }

    /// The offset of the task the worker is running in `batch`, from its status page or its last
    /// notice, range-checked: the page is memory the worker (and a wild write in it) can change.
    private func runningOffset(of batch: QueuedBatch) -> Int? {
        process.board?.runningTask(batchID: batch.batchID, count: batch.count) ?? lastStartedOffset
    }

    private func describeCrash(of batch: QueuedBatch, status: ExitStatus) -> ParallelError {
        let offset = runningOffset(of: batch)
        let index = batch.firstIndex + (offset ?? 0)
        let which =
            offset == nil
            ? "the batch of tasks \(batch.firstIndex)..<\(batch.firstIndex + batch.count) (task \(index) is its first; the running one is unknown)"
            : "task \(index)"
        let how = process.remote == nil ? "\(status)" : "ended: its launcher \(status)"
        var text = "\(name) running \(which) \(how)"
        if let message = tail.crashMessage { text += " with \"\(message)\"" }
        if let protocolError { text += " after a protocol error: \(protocolError)" }
        text += ". The worker was replaced; other calls are not affected."
        let lines = tail.lastLines
        if !lines.isEmpty { text += " Its last lines on stderr:\n" + lines }
        let crash = WorkerCrash(
            pid: process.pid, signal: status.signal, exitStatus: status.exitCode, standardErrorTail: lines)
        // No task index when the running task is unknown: the engine then bisects the batch
        // rather than blame its first task.
        return ParallelError(.workerCrashed, taskIndex: offset == nil ? nil : index, text, crash: crash)
    }

    private func describeStartFailure(status: ExitStatus, deferred: Bool) -> StartFailure {
        let lines = tail.lastLines
        let stderrText = lines.isEmpty ? "" : " Its last lines on stderr:\n" + lines
        if let remote = process.remote {
            // Unreachable hosts, impossible partitions, refused secrets and other builds all
            // repeat for the next worker: say why once instead of retrying.
            if startTimedOutAt {
                return StartFailure(message: remote.describeStartTimeout() + stderrText, isPermanent: true)
            }
            return StartFailure(
                message: "\(remote.name) \(status) before connecting back." + stderrText, isPermanent: true)
        }
        if deferred {
            return StartFailure(
                message: "a worker process (pid \(process.pid)) of this statically linked executable \(status) "
                    + "before starting worker mode. Call ParallelWorker.enterIfNeeded() as the first statement of "
                    + "main: with --static-swift-stdlib the worker cannot start before main runs." + stderrText,
                isPermanent: true)
        }
        if bootstrapMode == 0 {
            return StartFailure(
                message: "a worker process (pid \(process.pid)) \(status) without starting worker mode; "
                    + "the worker executable must be this program or another that links ParallelKit." + stderrText,
                isPermanent: status.exitCode != nil)
        }
        let exitCode = status.exitCode
        return StartFailure(
            message: "a worker process (pid \(process.pid)) \(status) while starting." + stderrText,
            isPermanent: exitCode == 121)
    }

    private func cancelPhaseTimer() {
        if let phaseTimer { loop.cancel(timer: phaseTimer) }
        phaseTimer = nil
    }
}
