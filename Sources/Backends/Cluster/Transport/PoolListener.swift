import CParallelSupport
import Foundation
@_spi(Locking) import ParallelCore
import Synchronization

// The parent's end of the TCP transport: one listening socket per pool. A thread accepts; each
// connection is authenticated on a short-lived thread of its own (the handshake blocks, with a
// deadline), and only a connection that proved the pool's secret and runs the same build is
// handed to the pool (`accepted`). Everything else is closed and logged.

/// A listening socket that admits only workers of one pool.
///
/// - Concurrency: thread-safe. The accept thread and the handshake threads share only the
///   immutable configuration, `refusals`, which is behind a `LockedValue`, and atomics (the
///   stop flag, the listening descriptor's users).
package final class PoolListener: Sendable {
    /// The address and port workers are told to connect to.
    package let host: String
    package let port: UInt16
    private let fd: Int32
    private let secret: [UInt8]
    private let build: String
    private let handshakeTimeout: Duration
    private let accepted: @Sendable (_ token: UInt64, _ socket: Int32, _ about: String) -> Void
    private let refusalLog = LockedValue<[String]>([])
    private let stopped = Atomic<Bool>(false)
    /// The listening descriptor has two users: ``stop()``, which shuts it down to wake the accept
    /// thread, and that thread. The last of them to be done with it closes it, so neither ever
    /// touches the number after it was closed (and perhaps handed to another file meanwhile).
    private let socketUsers = Atomic<Int>(2)
    private let acceptEnded = Atomic<Bool>(false)
    /// Handshakes in progress. Each holds a thread for at most `handshakeTimeout`; beyond
    /// `maxHandshakes` at once a connection is closed at once, so a flood of connections cannot
    /// make the parent start thousands of threads.
    private let handshakes = Atomic<Int>(0)
    package static let maxHandshakes = 256

    /// Binds `host` (port 0: the kernel picks) and starts accepting.
    /// - Parameters:
    ///   - secret: the pool's secret (32 random bytes).
    ///   - build: `BuildIdentity.current`; a worker with another is refused.
    ///   - accepted: receives each authenticated connection (blocking mode, close-on-exec).
    package init(
        host: String, secret: [UInt8], build: String, handshakeTimeout: Duration = .seconds(10),
        accepted: @escaping @Sendable (_ token: UInt64, _ socket: Int32, _ about: String) -> Void
    ) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, "0", &hints, &list)
        guard status == 0, let first = list else {
            throw ClusterFailure(
                "cannot listen on \(host): \(String(cString: gai_strerror(status))); set \(ListenAddress.variable) to an address of this machine"
            )
        }
        defer { freeaddrinfo(first) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClusterFailure("socket failed (errno \(errno))") }
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0, listen(fd, 1024) == 0 else {
            let code = errno
            close(fd)
            throw ClusterFailure(
                "cannot listen on \(host): \(String(cString: strerror(code))); set \(ListenAddress.variable) to an address of this machine"
            )
        }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let family = address.ss_family
        let port = withUnsafePointer(to: &address) { pointer -> UInt16 in
            if family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    UInt16(bigEndian: $0.pointee.sin6_port)
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                UInt16(bigEndian: $0.pointee.sin_port)
            }
        }
        self.host = host
        self.port = port
        self.fd = fd
        self.secret = secret
        self.build = build
        self.handshakeTimeout = handshakeTimeout
        self.accepted = accepted
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "pk-cluster-accept"
        thread.start()
    }

    /// `host:port`, as messages show it.
    package var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Connections refused so far, newest last (also written to standard error as they happen).
    package var refusals: [String] { refusalLog.withLock { $0 } }

    /// Stops accepting and closes the socket. Idempotent. The accept thread holds the listener
    /// until then, so an owner must call this.
    package func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        // shutdown wakes a thread blocked in accept (EINVAL). The descriptor is still open here,
        // even when the accept thread has already ended: it closes it only after this release.
        shutdown(fd, Int32(SHUT_RDWR))
        releaseSocket()
    }

    /// Whether the accept thread still runs (for tests).
    package var isAccepting: Bool { !acceptEnded.load(ordering: .acquiring) }

    /// The listening descriptor (for tests).
    package var descriptorForTesting: Int32 { fd }

    /// One user is done with the listening descriptor; the last closes it.
    private func releaseSocket() {
        if socketUsers.wrappingSubtract(1, ordering: .acquiringAndReleasing).newValue == 0 { close(fd) }
    }

    private func acceptLoop() {
        while true {
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let client = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pk_accept_cloexec(fd, $0, &length) }
            }
            if stopped.load(ordering: .acquiring) {
                if client >= 0 { close(client) }
                break
            }
            if client < 0 {
                let code = errno
                if code == EINTR || code == ECONNABORTED { continue }
                // A network error pending on the new connection is reported by accept itself
                // (accept(2)): that connection is lost, the listener is fine.
                if Self.connectionErrors.contains(code) { continue }
                if code == EMFILE || code == ENFILE || code == ENOBUFS || code == ENOMEM {
                    usleep(50_000)
                    continue
                }
                // Workers can no longer connect: say why, or the pool's start timeouts are all
                // anyone sees.
                refuse("and every later one: accepting failed (\(String(cString: strerror(code))))")
                break
            }
            let peer = Self.describe(address)
            guard handshakes.wrappingAdd(1, ordering: .relaxed).newValue <= Self.maxHandshakes else {
                handshakes.wrappingSubtract(1, ordering: .relaxed)
                close(client)
                refuse("from \(peer): \(Self.maxHandshakes) handshakes are already in progress")
                continue
            }
            let thread = Thread { [self] in
                authenticate(client, peer: peer)
                handshakes.wrappingSubtract(1, ordering: .relaxed)
            }
            thread.name = "pk-cluster-auth"
            thread.start()
        }
        acceptEnded.store(true, ordering: .releasing)
        releaseSocket()
    }

    /// The errors accept(2) returns for one incoming TCP connection that failed, which Linux
    /// asks callers to treat like EAGAIN.
    private static let connectionErrors: Set<Int32> = [
        ENETDOWN, EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP, ENETUNREACH,
    ]

    private func authenticate(_ client: Int32, peer: String) {
        let socket = BlockingSocket(fd: client, deadline: MonotonicClock.now() &+ handshakeTimeout.clusterNanoseconds)
        do {
            let parentNonce = try SecureRandom.bytes(Handshake.nonceSize)
            try socket.write(Handshake.challenge(nonce: parentNonce))
            let proof = try Handshake.readProof(from: socket)
            let expected = Handshake.workerMAC(
                secret: secret, parentNonce: parentNonce, workerNonce: proof.nonce, token: proof.token,
                build: proof.build, about: proof.about)
            guard proof.nonce.count == Handshake.nonceSize, HMACSHA256.constantTimeEqual(expected, proof.mac) else {
                refuse(
                    "from \(peer): it did not prove the pool's secret (a worker of another pool, a stale secret, or not a worker)"
                )
                return
            }
            let sameBuild = proof.build == build
            let verdict: Handshake.Verdict = sameBuild ? .accepted : .wrongBuild
            let message =
                sameBuild
                ? ""
                : "refused: this worker runs another build of the program (executable SHA-256 "
                    + "\(proof.build.prefix(16))…) than the parent (\(build.prefix(16))…); install the same executable on every "
                    + "node, at the path the backend starts"
            let mac = Handshake.parentMAC(
                secret: secret, workerNonce: proof.nonce, parentNonce: parentNonce, token: proof.token,
                verdict: verdict.rawValue, message: message)
            try socket.write(Handshake.encodeVerdict(verdict.rawValue, message: message, mac: mac))
            guard sameBuild else {
                refuse("from \(peer) (\(proof.about)): \(message)")
                return
            }
            let fd = socket.release()
            BlockingSocket.tune(fd)
            accepted(proof.token, fd, proof.about)
        } catch {
            refuse("from \(peer): the handshake failed: \(error)")
        }
    }

    private func refuse(_ reason: String) {
        let line = "ParallelKit: refused a worker connection to \(address) \(reason)"
        refusalLog.withLock { $0.append(line) }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private static func describe(_ address: sockaddr_storage) -> String {
        var copy = address
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        return withUnsafePointer(to: &copy) { pointer -> String in
            if address.ss_family == sa_family_t(AF_INET6) {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { inet in
                    var raw = inet.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &raw, &text, socklen_t(text.count))
                    return "[\(stringFromCBuffer(text))]:\(UInt16(bigEndian: inet.pointee.sin6_port))"
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { inet in
                var raw = inet.pointee.sin_addr
                _ = inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
                return "\(stringFromCBuffer(text)):\(UInt16(bigEndian: inet.pointee.sin_port))"
            }
        }
    }
}
