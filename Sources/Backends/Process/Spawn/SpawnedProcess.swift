import Foundation
import ParallelCore

// Starting a worker: posix_spawn of the executable (never fork: a forked copy of a threaded Swift
// process is unsafe to run Swift in), with the protocol pipes on fds 3 and 4, the status board on
// fd 5 (the worker's constructor moves all three to high close-on-exec numbers at once), stdin from /dev/null, stdout shared with the parent, and stderr through a pipe the parent
// copies to its own stderr while keeping the last lines for crash reports.

/// A started worker process and the parent's ends of its pipes (all close-on-exec).
///
/// For a worker on another machine (``remote`` is set) `pid`, `pidFD` and `stderrFD` belong to
/// the local process that started it (`ssh`, `srun`), whose life mirrors the worker's, and the
/// request and reply descriptors are -1 until the worker connects back (`WorkerPool.attach`).
package struct SpawnedProcess: Sendable {
    package let pid: pid_t
    /// Readable when the process has ended (pidfd); -1 on kernels without pidfd_open.
    package let pidFD: Int32
    /// Parent → worker requests (non-blocking).
    package internal(set) var requestFD: Int32
    /// Worker → parent replies (non-blocking).
    package internal(set) var replyFD: Int32
    /// The worker's stderr (non-blocking).
    package let stderrFD: Int32
    /// The task the worker runs, readable after its death (nil for a remote worker: no shared
    /// memory across machines, so it sends a notice per task instead).
    let board: StatusBoard?
    /// How a worker started on another machine is named and started.
    package internal(set) var remote: RemoteWorker?

    /// A launcher process (`ssh`, `srun`) for a remote worker that has not connected yet.
    package init(launcherPID: pid_t, pidFD: Int32, stderrFD: Int32, remote: RemoteWorker) {
        self.pid = launcherPID
        self.pidFD = pidFD
        self.requestFD = -1
        self.replyFD = -1
        self.stderrFD = stderrFD
        self.board = nil
        self.remote = remote
    }

    init(pid: pid_t, pidFD: Int32, requestFD: Int32, replyFD: Int32, stderrFD: Int32, board: StatusBoard) {
        self.pid = pid
        self.pidFD = pidFD
        self.requestFD = requestFD
        self.replyFD = replyFD
        self.stderrFD = stderrFD
        self.board = board
        self.remote = nil
    }

    /// Starts `executable` as a worker.
    /// - Parameters:
    ///   - executable: the program; normally /proc/self/exe.
    ///   - argument0: argv[0] for the worker (the parent's, so `ps` shows the same program).
    ///   - environment: `KEY=value` strings, without the worker request (added here).
    /// - Throws: `SystemError` when a pipe, the board or posix_spawn fails.
    static func spawn(executable: String, argument0: String, environment: [String]) throws -> SpawnedProcess {
        var opened: [Int32] = []
        func closeAll() { for fd in opened { close(fd) } }
        do {
            let request = try pipe()
            opened += [request.read, request.write]
            let reply = try pipe()
            opened += [reply.read, reply.write]
            let errors = try pipe()
            opened += [errors.read, errors.write]
            let (board, boardFD) = try StatusBoard.create()
            opened.append(boardFD)
            // The child's ends are moved above the fds they will become (2–5), so that no dup2 in
            // the sequence below overwrites a source that a later one still needs.
            let childRequest = try raise(request.read)
            opened.append(childRequest)
            let childReply = try raise(reply.write)
            opened.append(childReply)
            let childErrors = try raise(errors.write)
            opened.append(childErrors)
            let childBoard = try raise(boardFD)
            opened.append(childBoard)

            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, childErrors, 2)
            posix_spawn_file_actions_adddup2(&actions, childRequest, 3)
            posix_spawn_file_actions_adddup2(&actions, childReply, 4)
            posix_spawn_file_actions_adddup2(&actions, childBoard, 5)
            // Everything else the parent has open stays behind, O_CLOEXEC or not (on glibc 2.34
            // and later; before that only our own descriptors, which are all O_CLOEXEC).
            _ = Platform.closeDescriptors(from: 6, in: &actions)

            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            // The caller's thread may block signals (a dedicated signal-handling thread, for one);
            // a worker must start with none blocked, so SIGTERM and SIGINT end it.
            var noSignals = sigset_t()
            sigemptyset(&noSignals)
            posix_spawnattr_setsigmask(&attributes, &noSignals)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))

            // The pipes' inode numbers are the handshake that tells the worker's constructor a
            // ParallelKit parent made them (a stray variable cannot match them).
            let requestValue =
                "PARALLELKIT_WORKER=\(FrameLimits.protocolVersion):\(getpid()):3:4:5:"
                + "\(try pipeInode(request.read)):\(try pipeInode(reply.write))"
            let pid = try withCStrings([argument0]) { argv in
                try withCStrings(environment + [requestValue]) { envp in
                    var pid = pid_t()
                    let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
                    guard result == 0 else { throw SystemError("posix_spawn \(executable)", result) }
                    return pid
                }
            }
            for fd in [
                request.read, reply.write, errors.write, boardFD, childRequest, childReply, childErrors, childBoard,
            ] {
                close(fd)
            }
            let pidFD = Platform.openProcessHandle(pid)
            for fd in [request.write, reply.read, errors.read] { FileDescriptorIO.setNonBlocking(fd) }
            // Bigger pipes move batches in fewer wake-ups (1 MiB is the unprivileged maximum
            // here); a refusal only costs speed.
            Platform.setPipeCapacity(request.write, bytes: 1 << 20)
            Platform.setPipeCapacity(reply.read, bytes: 1 << 20)
            return SpawnedProcess(
                pid: pid, pidFD: pidFD, requestFD: request.write, replyFD: reply.read, stderrFD: errors.read,
                board: board)
        } catch {
            closeAll()
            throw error
        }
    }

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard Platform.makePipe(&fds) == 0 else { throw SystemError("pipe2", errno) }
        return (fds[0], fds[1])
    }

    /// The inode number of a pipe, masked to 31 bits as the worker's constructor reads it.
    static func pipeInode(_ fd: Int32) throws -> UInt64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError("fstat of a pipe", errno) }
        return UInt64(info.st_ino) & 0x7fff_ffff
    }

    /// A close-on-exec duplicate of `fd` numbered 10 or above.
    private static func raise(_ fd: Int32) throws -> Int32 {
        let raised = fcntl(fd, F_DUPFD_CLOEXEC, 10)
        guard raised >= 0 else { throw SystemError("fcntl(F_DUPFD_CLOEXEC)", errno) }
        return raised
    }

    /// Calls `body` with a NULL-terminated C array of `strings`.
    private static func withCStrings<R>(
        _ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) throws -> R
    ) rethrows -> R {
        let pointers = strings.map { strdup($0) }
        defer { for pointer in pointers { free(pointer) } }
        return try body(pointers + [nil])
    }
}
