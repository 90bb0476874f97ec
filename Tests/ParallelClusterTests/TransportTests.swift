import Foundation
@_spi(Locking) import ParallelCore
import Testing

@testable import ParallelCluster

/// The worker's side of the handshake, played by the test.
private func prove(
    to port: UInt16, secret: [UInt8], build: String, token: UInt64 = 7
) throws -> (verdict: UInt8, message: String, macValid: Bool) {
    let socket = try BlockingSocket.connect(host: "127.0.0.1", port: port, timeout: .seconds(10))
    let parentNonce = try Handshake.readChallenge(from: socket)
    let nonce = try SecureRandom.bytes(Handshake.nonceSize)
    let mac = Handshake.workerMAC(
        secret: secret, parentNonce: parentNonce, workerNonce: nonce, token: token, build: build, about: "test")
    try socket.write(Handshake.encode(.init(token: token, nonce: nonce, build: build, about: "test", mac: mac)))
    let reply = try Handshake.readVerdict(from: socket)
    let expected = Handshake.parentMAC(
        secret: secret, workerNonce: nonce, parentNonce: parentNonce, token: token, verdict: reply.verdict,
        message: reply.message)
    return (reply.verdict, reply.message, HMACSHA256.constantTimeEqual(expected, reply.mac))
}

/// A plain listening socket on loopback for a fake parent.
private final class FakeParent {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(fd, pointer, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw ClusterFailure("cannot listen")
        }
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit { close(fd) }

    /// Accepts one connection within 20 s.
    func accept() throws -> BlockingSocket {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 20_000) == 1 else { throw ClusterFailure("no worker connected") }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { throw ClusterFailure("accept failed") }
        return BlockingSocket(fd: client, deadline: MonotonicClock.now() &+ Duration.seconds(20).clusterNanoseconds)
    }
}

/// Plays the parent's side of one handshake with the worker `parent` started, on a thread of its
/// own: accepts it, sends a challenge, reads its proof and writes the verdict `answer` makes of it
/// (given the challenge's nonce and the proof). The worker allows the parent 10 s for the whole
/// exchange: done in one go here, it does not wait for the test's task to be scheduled again on a
/// busy cooperative pool between the proof and the verdict. Returns the open connection (keep it
/// until the worker has ended), the nonce and the proof.
private func playParent(
    _ parent: FakeParent,
    answer: @escaping @Sendable (_ parentNonce: [UInt8], _ proof: Handshake.WorkerProof) -> [UInt8]
) async throws -> (connection: Handoff<BlockingSocket>, parentNonce: [UInt8], proof: Handshake.WorkerProof) {
    let parent = Handoff(value: parent)
    return try await offPool {
        let socket = try parent.value.accept()
        let parentNonce = try SecureRandom.bytes(Handshake.nonceSize)
        try socket.write(Handshake.challenge(nonce: parentNonce))
        let proof = try Handshake.readProof(from: socket)
        try socket.write(answer(parentNonce, proof))
        return (Handoff(value: socket), parentNonce, proof)
    }
}

/// Waits off the cooperative pool for `worker` to end; returns its standard error.
private func waitForExit(_ worker: Process, errors: Pipe) async -> String {
    let handle = errors.fileHandleForReading
    return await offPool {
        // Foundation's Process and FileHandle synchronise internally; only this thread touches
        // them until the wait ends.
        worker.waitUntilExit()
        let data = handle.readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self)
    }
}

/// Starts this test executable as a remote worker of `port`, with `secret` on its stdin.
private func startWorker(port: UInt16, secret: [UInt8]) throws -> (Process, Pipe) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
    var environment = ProcessInfo.processInfo.environment
    environment["PARALLELKIT_CONNECT"] =
        ConnectRequest(host: "127.0.0.1", port: port, token: 9, secret: .standardInput).value
    process.environment = environment
    let input = Pipe()
    let errors = Pipe()
    process.standardInput = input
    process.standardError = errors
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    input.fileHandleForWriting.write(Data((secret.hexString + "\n").utf8))
    try input.fileHandleForWriting.close()
    return (process, errors)
}

@Suite("TCP transport: handshake and refusals")
struct TransportTests {
    @Test func connectRequestRoundTripsAndRejectsMalformedValues() throws {
        let request = ConnectRequest(host: "10.1.2.3", port: 4567, token: 42, secret: .file("/shared/a,b/secret"))
        #expect(try ConnectRequest(parsing: request.value) == request)
        let viaStdin = ConnectRequest(host: "node", port: 1, token: 0, secret: .standardInput)
        #expect(try ConnectRequest(parsing: viaStdin.value) == viaStdin)
        for bad in [
            "", "1,h,1,2", "2,h,1,2,stdin", "1,,1,2,stdin", "1,h,0,2,stdin", "1,h,70000,2,stdin", "1,h,1,x,stdin",
            "1,h,1,2,file:", "1,h,1,2,env",
        ] {
            #expect(throws: ClusterFailure.self, "\(bad)") { try ConnectRequest(parsing: bad) }
        }
    }

    @Test func theListenerAdmitsOnlyAWorkerThatProvesTheSecretAndRunsTheSameBuild() async throws {
        let secret = try SecureRandom.bytes(32)
        let admitted = LockedValue<[(UInt64, String)]>([])
        let closeOnExec = LockedValue<[Bool]>([])
        let listener = try PoolListener(host: "127.0.0.1", secret: secret, build: "build-A") { token, socket, about in
            closeOnExec.withLock { $0.append(fcntl(socket, F_GETFD) & FD_CLOEXEC != 0) }
            close(socket)
            admitted.withLock { $0.append((token, about)) }
        }
        defer { listener.stop() }

        // The right secret and build: accepted, and the parent proves the secret back.
        let good = try prove(to: listener.port, secret: secret, build: "build-A", token: 11)
        #expect(good.verdict == Handshake.Verdict.accepted.rawValue)
        #expect(good.macValid)

        // A wrong secret: the connection is closed without a verdict, and the refusal is logged.
        #expect(throws: ClusterFailure.self) {
            try prove(to: listener.port, secret: try SecureRandom.bytes(32), build: "build-A")
        }

        // Another build: told why (with a valid parent proof), and logged.
        let other = try prove(to: listener.port, secret: secret, build: "build-B")
        #expect(other.verdict == Handshake.Verdict.wrongBuild.rawValue)
        #expect(other.macValid)
        #expect(other.message.contains("another build"), "\(other.message)")

        // Not a worker at all.
        let stranger = try BlockingSocket.connect(host: "127.0.0.1", port: listener.port, timeout: .seconds(10))
        _ = try Handshake.readChallenge(from: stranger)
        try stranger.write(Array("GET / HTTP/1.0\r\n\r\n".utf8) + [UInt8](repeating: 0, count: 64))
        #expect(throws: ClusterFailure.self) { try stranger.read(exactly: 1) }

        // The refusals were logged, each once (a refusal after a verdict is logged just after
        // the verdict is sent, hence the wait).
        #expect(await eventually { listener.refusals.count == 3 }, "\(listener.refusals)")
        let refusals = listener.refusals
        #expect(refusals.contains { $0.contains("did not prove the pool's secret") })
        #expect(refusals.contains { $0.contains("another build") })
        #expect(refusals.contains { $0.contains("handshake failed") || $0.contains("did not prove") })
        // Only the worker that proved the secret reached the pool side (handed over just after
        // its verdict was sent).
        #expect(await eventually { admitted.withLock { $0.map(\.0) } == [11] })
        #expect(admitted.withLock { $0.map(\.1) } == ["test"])
        // Close-on-exec from accept on (accept4), never inheritable by a process spawned meanwhile.
        #expect(closeOnExec.withLock { $0 } == [true])
    }

    @Test("an accept loop that ended by itself leaves the socket to stop(), which never shuts down a reused number")
    func stopAfterTheAcceptLoopEndedByItself() async throws {
        let listener = try PoolListener(host: "127.0.0.1", secret: try SecureRandom.bytes(32), build: "build-A") {
            _, socket, _ in close(socket)
        }
        let fd = listener.descriptorForTesting
        var info = stat()
        try #require(fstat(fd, &info) == 0)
        let inode = info.st_ino
        // What an accept error the loop does not retry does: the loop ends without stop().
        shutdown(fd, Int32(SHUT_RDWR))
        #expect(await eventually { !listener.isAccepting })
        #expect(listener.refusals.contains { $0.contains("every later one: accepting failed") }, "\(listener.refusals)")
        // The socket is still open and still this listener's: had the loop closed it, the number
        // could name another test's file by now, and stop() would shut that down.
        #expect(fstat(fd, &info) == 0 && info.st_ino == inode)
        listener.stop()
        listener.stop()  // idempotent
    }

    @Test func aWorkerRefusesAParentThatCannotProveTheSecret() async throws {
        let secret = try SecureRandom.bytes(32)
        let parent = try FakeParent()
        let (worker, errors) = try startWorker(port: parent.port, secret: secret)
        // A verdict signed with another key: the worker must not believe it.
        let (connection, parentNonce, proof) = try await playParent(parent) { _, _ in
            Handshake.encodeVerdict(0, message: "", mac: [UInt8](repeating: 0, count: 32))
        }
        // The worker proves the secret it was given on stdin, and says where it runs.
        let expected = Handshake.workerMAC(
            secret: secret, parentNonce: parentNonce, workerNonce: proof.nonce, token: 9, build: proof.build,
            about: proof.about)
        #expect(proof.token == 9)
        #expect(HMACSHA256.constantTimeEqual(expected, proof.mac))
        #expect(proof.build == BuildIdentity.current)
        #expect(proof.about.contains("pid \(worker.processIdentifier)"))
        let stderr = await waitForExit(worker, errors: errors)
        withExtendedLifetime(connection) {}
        #expect(worker.terminationStatus == RemoteWorkerExit.refused)
        #expect(stderr.contains("did not prove the pool's secret"), "\(stderr)")
    }

    @Test func aWorkerOfAnotherBuildStopsWithTheParentsReason() async throws {
        let secret = try SecureRandom.bytes(32)
        let parent = try FakeParent()
        let (worker, errors) = try startWorker(port: parent.port, secret: secret)
        let message = "refused: this worker runs another build"
        let (connection, _, _) = try await playParent(parent) { parentNonce, proof in
            let mac = Handshake.parentMAC(
                secret: secret, workerNonce: proof.nonce, parentNonce: parentNonce, token: proof.token,
                verdict: Handshake.Verdict.wrongBuild.rawValue, message: message)
            return Handshake.encodeVerdict(Handshake.Verdict.wrongBuild.rawValue, message: message, mac: mac)
        }
        let stderr = await waitForExit(worker, errors: errors)
        withExtendedLifetime(connection) {}
        #expect(worker.terminationStatus == RemoteWorkerExit.wrongBuild)
        #expect(stderr.contains(message), "\(stderr)")
    }

    @Test func aWorkerThatCannotReachItsParentSaysWhereItTried() async throws {
        // A port nobody listens on (bound, then closed).
        let port = try FakeParent().port
        let (worker, errors) = try startWorker(port: port, secret: try SecureRandom.bytes(32))
        let stderr = await waitForExit(worker, errors: errors)
        #expect(worker.terminationStatus == RemoteWorkerExit.cannotConnect)
        #expect(stderr.contains("cannot connect to the parent at 127.0.0.1:\(port)"), "\(stderr)")
        #expect(stderr.contains("PARALLELKIT_LISTEN_ADDRESS"), "\(stderr)")
    }
}
