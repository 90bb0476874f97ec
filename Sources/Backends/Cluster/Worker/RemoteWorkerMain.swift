import CParallelWorkerHook
import Foundation
import ParallelCore
import ParallelProcess

// A worker started by ssh or srun: read the pool's secret, connect back to the parent, prove the
// secret and check the parent's proof, then serve the process backends' frame protocol over the
// socket, exactly as a local worker serves it over its pipes.

/// Exit statuses of a remote worker that could not start (shown by the parent with its stderr).
enum RemoteWorkerExit {
    static let badRequest: Int32 = 3
    static let cannotConnect: Int32 = 4
    static let refused: Int32 = 5
    static let wrongBuild: Int32 = 6
}

enum RemoteWorkerMain {
    /// How long a worker tries to reach its parent before it gives up.
    static let connectTimeout: Duration = .seconds(20)
    /// How long it waits for a secret file that the shared file system has not shown yet.
    static let secretFileWait: Duration = .seconds(30)

    static func start() -> Never {
        let node = ProcessInfo.processInfo.hostName
        let pid = getpid()
        func fail(_ status: Int32, _ message: String) -> Never {
            FileHandle.standardError.write(Data("ParallelKit worker on \(node) (pid \(pid)): \(message)\n".utf8))
            WorkerLoop.exitWorker(status)
        }
        guard let raw = pk_worker_connect_value() else { fail(RemoteWorkerExit.badRequest, "no connect request") }
        let request: ConnectRequest
        do { request = try ConnectRequest(parsing: String(cString: raw)) } catch {
            fail(RemoteWorkerExit.badRequest, "\(error)")
        }
        let secret: [UInt8]
        do { secret = try readSecret(request.secret) } catch { fail(RemoteWorkerExit.badRequest, "\(error)") }

        // The executable's digest, before connecting: one pass over the whole file (seconds for a
        // large debug build on a loaded node) must not eat into the handshake's 10 s, which the
        // parent and this worker allow for the exchange itself (a sanitizer build ran out of it).
        let build = BuildIdentity.current
        let target =
            request.host.contains(":") ? "[\(request.host)]:\(request.port)" : "\(request.host):\(request.port)"
        let socket: BlockingSocket
        do {
            socket = try BlockingSocket.connect(host: request.host, port: request.port, timeout: connectTimeout)
        } catch {
            fail(
                RemoteWorkerExit.cannotConnect,
                "cannot connect to the parent at \(target): \(error). Make sure this node "
                    + "can reach that address, or set \(ListenAddress.variable) in the parent to an address the nodes can reach"
            )
        }
        socket.deadline = MonotonicClock.now() &+ Duration.seconds(10).clusterNanoseconds
        var about = "node \(node), pid \(pid)"
        if let job = ProcessInfo.processInfo.environment["SLURM_JOB_ID"] { about += ", SLURM job \(job)" }
        do {
            let parentNonce = try Handshake.readChallenge(from: socket)
            let nonce = try SecureRandom.bytes(Handshake.nonceSize)
            let mac = Handshake.workerMAC(
                secret: secret, parentNonce: parentNonce, workerNonce: nonce, token: request.token, build: build,
                about: about)
            try socket.write(
                Handshake.encode(.init(token: request.token, nonce: nonce, build: build, about: about, mac: mac)))
            let reply: (verdict: UInt8, message: String, mac: [UInt8])
            do { reply = try Handshake.readVerdict(from: socket) } catch {
                fail(
                    RemoteWorkerExit.refused,
                    "the parent at \(target) refused this worker: it did not accept its proof of "
                        + "the pool's secret (\(error))")
            }
            let expected = Handshake.parentMAC(
                secret: secret, workerNonce: nonce, parentNonce: parentNonce, token: request.token,
                verdict: reply.verdict, message: reply.message)
            guard HMACSHA256.constantTimeEqual(expected, reply.mac) else {
                fail(
                    RemoteWorkerExit.refused,
                    "the process at \(target) did not prove the pool's secret; not running its jobs")
            }
            guard reply.verdict == Handshake.Verdict.accepted.rawValue else {
                fail(RemoteWorkerExit.wrongBuild, reply.message)
            }
        } catch {
            fail(RemoteWorkerExit.cannotConnect, "the handshake with the parent at \(target) failed: \(error)")
        }
        let fd = socket.release()
        BlockingSocket.tune(fd)
        // A status board nobody reads: the parent learns the running task from task-start notices.
        guard let (board, boardFD) = try? StatusBoard.create() else {
            fail(RemoteWorkerExit.badRequest, "no memory for a status board")
        }
        close(boardFD)
        WorkerEntry.serve(WorkerLoop(requestFD: fd, replyFD: fd, board: board))
    }

    /// The secret, as 64 hex digits on one line.
    static func readSecret(_ source: SecretSource) throws -> [UInt8] {
        var text = ""
        switch source {
        case .standardInput:
            var bytes: [UInt8] = []
            var byte: UInt8 = 0
            while bytes.count < 256 {
                let got = read(0, &byte, 1)
                if got < 0 && errno == EINTR { continue }
                if got <= 0 || byte == UInt8(ascii: "\n") { break }
                bytes.append(byte)
            }
            text = String(decoding: bytes, as: UTF8.self)
            // Standard input served its purpose; a job must not read the rest of it.
            let null = open("/dev/null", O_RDONLY)
            if null >= 0 {
                dup2(null, 0)
                close(null)
            }
        case .file(let path):
            text = try readSecretFile(path)
        }
        guard let secret = [UInt8](hex: text.trimmingCharacters(in: .whitespacesAndNewlines)), secret.count >= 16 else {
            throw ClusterFailure("the pool's secret is missing or malformed")
        }
        return secret
    }

    /// Reads a secret file, waiting for a shared file system to show it, and refuses one that
    /// others could read.
    static func readSecretFile(_ path: String) throws -> String {
        let deadline = MonotonicClock.now() &+ secretFileWait.clusterNanoseconds
        while true {
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0 {
                defer { close(fd) }
                var info = stat()
                guard fstat(fd, &info) == 0 else { throw ClusterFailure("cannot stat the secret file \(path)") }
                guard info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
                    throw ClusterFailure(
                        "the secret file \(path) is readable by others or owned by another user; refusing it")
                }
                var bytes = [UInt8](repeating: 0, count: 256)
                let count = read(fd, &bytes, bytes.count)
                guard count > 0 else { throw ClusterFailure("the secret file \(path) is empty") }
                return String(decoding: bytes[0..<count], as: UTF8.self)
            }
            guard errno == ENOENT, MonotonicClock.now() < deadline else {
                throw ClusterFailure(
                    "cannot read the secret file \(path): \(String(cString: strerror(errno))). It must be on "
                        + "a file system this node shares with the parent (set PARALLELKIT_SLURM_SHARED_DIR)")
            }
            usleep(200_000)
        }
    }
}

/// The symbol the C constructor calls for a remote worker (see worker_hook.c).
@_cdecl("parallelkit_remote_worker_main")
func parallelKitRemoteWorkerMain() {
    RemoteWorkerMain.start()
}
