import Glibc
import ParallelCore

// TCP with deadlines for the handshake: blocking semantics, but every wait is a poll(2) bounded
// by the deadline, so a silent peer costs at most the time allowed and never a hung thread.

/// A TCP connection used with blocking reads and writes that give up at a deadline.
///
/// - Concurrency: owned by one thread at a time; `release()` hands the descriptor on.
package final class BlockingSocket {
    private(set) var fd: Int32
    /// Monotonic nanoseconds after which reads and writes fail.
    package var deadline: UInt64

    package init(fd: Int32, deadline: UInt64) {
        self.fd = fd
        self.deadline = deadline
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Gives up ownership of the descriptor (it stays open).
    package func release() -> Int32 {
        let owned = fd
        fd = -1
        return owned
    }

    /// Opens a connection to `host:port` (a name or a numeric address), trying each address the
    /// name resolves to, all within `timeout`.
    package static func connect(host: String, port: UInt16, timeout: Duration) throws -> BlockingSocket {
        let deadline = MonotonicClock.now() &+ timeout.clusterNanoseconds
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ClusterFailure("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(first) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            entry = current.pointee.ai_next
            let fd = socket(current.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                lastError = "socket: errno \(errno)"
                continue
            }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            var result = Glibc.connect(fd, current.pointee.ai_addr, current.pointee.ai_addrlen)
            if result < 0 && errno == EINPROGRESS {
                var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let remaining = deadline > MonotonicClock.now() ? deadline - MonotonicClock.now() : 0
                let ready = poll(&poller, 1, Int32(clamping: remaining / 1_000_000))
                if ready == 1 {
                    var code: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                    result = code == 0 ? 0 : -1
                    errno = code
                } else {
                    result = -1
                    errno = ETIMEDOUT
                }
            }
            if result == 0 {
                _ = fcntl(fd, F_SETFL, flags)
                return BlockingSocket(fd: fd, deadline: deadline)
            }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw ClusterFailure(lastError)
    }

    /// Reads exactly `count` bytes before the deadline.
    package func read(exactly count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            try wait(for: Int16(POLLIN))
            let got = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, count - filled, 0) }
            if got < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw ClusterFailure("the connection failed: \(String(cString: strerror(errno)))")
            }
            if got == 0 { throw ClusterFailure("the peer closed the connection") }
            filled += got
        }
        return bytes
    }

    /// Writes all of `bytes` before the deadline.
    package func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            try wait(for: Int16(POLLOUT))
            let count = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw ClusterFailure("the connection failed: \(String(cString: strerror(errno)))")
            }
            sent += count
        }
    }

    private func wait(for events: Int16) throws {
        while true {
            let now = MonotonicClock.now()
            guard now < deadline else { throw ClusterFailure("the peer did not answer in time") }
            var poller = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&poller, 1, Int32(clamping: (deadline - now + 999_999) / 1_000_000))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR { throw ClusterFailure("poll failed (errno \(errno))") }
        }
    }

    /// Low latency for small frames, and keep-alive probes so a peer whose machine vanished is
    /// noticed within about 25 s even when nothing is being sent.
    package static func tune(_ fd: Int32) {
        var on: Int32 = 1
        let size = socklen_t(MemoryLayout<Int32>.size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, size)
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, size)
        var idle: Int32 = 10
        var interval: Int32 = 5
        var probes: Int32 = 3
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &probes, size)
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    package var clusterNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole &+ UInt64(attoseconds / 1_000_000_000)
    }
}
