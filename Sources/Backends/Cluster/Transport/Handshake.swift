import ParallelCore

// The mutual challenge-response that opens every worker connection. The secret never crosses the
// wire: each side proves it by an HMAC over both sides' fresh nonces, so a recorded exchange is
// useless later and neither side can be fed a replay.
//
//   parent → worker   "PKCP" v1 | parent nonce (32)
//   worker → parent   "PKCW" v1 | token u64 | worker nonce (32) | build (u16 + bytes)
//                     | about (u16 + bytes) | MAC_w (32)
//   parent → worker   verdict u8 | message (u16 + bytes) | MAC_p (32)
//
//   MAC_w = HMAC(secret, "parallelkit-worker" | parent nonce | worker nonce | token | build | about)
//   MAC_p = HMAC(secret, "parallelkit-parent" | worker nonce | parent nonce | token | verdict | message)
//
// The parent checks MAC_w first (constant time) and closes without a word when it is wrong (no
// oracle for a guesser); only a worker that proved the secret learns the verdict, and it checks
// MAC_p before believing it, so a process that is not its parent cannot hand it jobs.

/// Messages and MACs of the handshake, shared by both sides.
package enum Handshake {
    package static let nonceSize = 32
    package static let parentMagic = Array("PKCP".utf8)
    package static let workerMagic = Array("PKCW".utf8)
    package static let version: UInt8 = 1
    /// Strings in the handshake are short; anything longer is a protocol error.
    package static let maxString = 4096

    /// The parent's verdict on a worker that proved the secret.
    package enum Verdict: UInt8, Sendable {
        case accepted = 0
        /// The worker runs another build of the executable.
        case wrongBuild = 1
    }

    /// What the worker says about itself after the parent's challenge.
    package struct WorkerProof: Equatable, Sendable {
        package var token: UInt64
        package var nonce: [UInt8]
        /// `BuildIdentity.current` of the worker.
        package var build: String
        /// Where it runs, for messages: "node n12, pid 812, SLURM job 4411".
        package var about: String
        package var mac: [UInt8]

        package init(token: UInt64, nonce: [UInt8], build: String, about: String, mac: [UInt8]) {
            self.token = token
            self.nonce = nonce
            self.build = build
            self.about = about
            self.mac = mac
        }
    }

    package static func workerMAC(
        secret: [UInt8], parentNonce: [UInt8], workerNonce: [UInt8], token: UInt64, build: String, about: String
    ) -> [UInt8] {
        var message = Array("parallelkit-worker".utf8) + parentNonce + workerNonce
        appendU64(token, to: &message)
        appendString(build, to: &message)
        appendString(about, to: &message)
        return HMACSHA256.authenticate(message, key: secret)
    }

    package static func parentMAC(
        secret: [UInt8], workerNonce: [UInt8], parentNonce: [UInt8], token: UInt64, verdict: UInt8, message text: String
    ) -> [UInt8] {
        var message = Array("parallelkit-parent".utf8) + workerNonce + parentNonce
        appendU64(token, to: &message)
        message.append(verdict)
        appendString(text, to: &message)
        return HMACSHA256.authenticate(message, key: secret)
    }

    package static func challenge(nonce: [UInt8]) -> [UInt8] { parentMagic + [version] + nonce }

    package static func encode(_ proof: WorkerProof) -> [UInt8] {
        var bytes = workerMagic + [version]
        appendU64(proof.token, to: &bytes)
        bytes += proof.nonce
        appendString(proof.build, to: &bytes)
        appendString(proof.about, to: &bytes)
        return bytes + proof.mac
    }

    package static func encodeVerdict(_ verdict: UInt8, message: String, mac: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [verdict]
        appendString(message, to: &bytes)
        return bytes + mac
    }

    static func appendU64(_ value: UInt64, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    static func appendString(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = Array(text.utf8.prefix(maxString))
        bytes.append(UInt8(utf8.count & 0xff))
        bytes.append(UInt8(utf8.count >> 8))
        bytes += utf8
    }

    // MARK: Reading (from a connection with a deadline)

    package static func readChallenge(from socket: BlockingSocket) throws -> [UInt8] {
        let head = try socket.read(exactly: 5)
        guard Array(head[0..<4]) == parentMagic, head[4] == version else {
            throw ClusterFailure("the peer did not answer as a ParallelKit parent (protocol \(head[4]))")
        }
        return try socket.read(exactly: nonceSize)
    }

    package static func readProof(from socket: BlockingSocket) throws -> WorkerProof {
        let head = try socket.read(exactly: 5)
        guard Array(head[0..<4]) == workerMagic, head[4] == version else {
            throw ClusterFailure("the peer did not speak the ParallelKit worker handshake")
        }
        let token = try readU64(socket)
        let nonce = try socket.read(exactly: nonceSize)
        let build = try readString(socket)
        let about = try readString(socket)
        let mac = try socket.read(exactly: SHA256.digestSize)
        return WorkerProof(token: token, nonce: nonce, build: build, about: about, mac: mac)
    }

    package static func readVerdict(
        from socket: BlockingSocket
    ) throws -> (verdict: UInt8, message: String, mac: [UInt8]) {
        let verdict = try socket.read(exactly: 1)[0]
        let message = try readString(socket)
        let mac = try socket.read(exactly: SHA256.digestSize)
        return (verdict, message, mac)
    }

    static func readU64(_ socket: BlockingSocket) throws -> UInt64 {
        let bytes = try socket.read(exactly: 8)
        var value: UInt64 = 0
        for (index, byte) in bytes.enumerated() { value |= UInt64(byte) << UInt64(8 * index) }
        return value
    }

    static func readString(_ socket: BlockingSocket) throws -> String {
        let length = try socket.read(exactly: 2)
        let count = Int(length[0]) | Int(length[1]) << 8
        guard count <= maxString else { throw ClusterFailure("a handshake string of \(count) bytes") }
        let bytes = try socket.read(exactly: count)
        return String(decoding: bytes, as: UTF8.self)
    }
}
