// What a remote worker is told in PARALLELKIT_CONNECT: where to connect, which launch it is and
// where its secret is. Never the secret itself: the environment and the command line are visible
// to other users of a node (`ps e`, /proc/<pid>/environ of one's own processes, scheduler logs).

/// Where a worker reads the pool's secret from.
package enum SecretSource: Equatable, Sendable {
    /// One line of hex on standard input (ssh: written by the parent, then end of file).
    case standardInput
    /// A 0600 file on a file system the nodes share (SLURM).
    case file(String)
}

/// The value of `PARALLELKIT_CONNECT`: `1,<host>,<port>,<token>,stdin` or `…,file:<path>`.
package struct ConnectRequest: Equatable, Sendable {
    /// The format's version.
    package static let version = 1
    /// The parent's address as the worker should dial it.
    package var host: String
    package var port: UInt16
    /// Which launch of the pool this worker is (see `RemoteWorker.token`).
    package var token: UInt64
    package var secret: SecretSource

    package init(host: String, port: UInt16, token: UInt64, secret: SecretSource) {
        self.host = host
        self.port = port
        self.token = token
        self.secret = secret
    }

    /// The environment value.
    package var value: String {
        let source: String
        switch secret {
        case .standardInput: source = "stdin"
        case .file(let path): source = "file:" + path
        }
        return "\(Self.version),\(host),\(port),\(token),\(source)"
    }

    /// Parses an environment value (the path, last, may contain commas).
    package init(parsing value: String) throws {
        let fields = value.split(separator: ",", maxSplits: 4, omittingEmptySubsequences: false)
        guard fields.count == 5 else {
            throw ClusterFailure("PARALLELKIT_CONNECT has \(fields.count) fields, not 5: \(value)")
        }
        guard fields[0] == "\(Self.version)" else {
            throw ClusterFailure("PARALLELKIT_CONNECT is version \(fields[0]); this build speaks \(Self.version)")
        }
        guard !fields[1].isEmpty, let port = UInt16(fields[2]), port != 0, let token = UInt64(fields[3]) else {
            throw ClusterFailure("PARALLELKIT_CONNECT is malformed: \(value)")
        }
        let source: SecretSource
        if fields[4] == "stdin" {
            source = .standardInput
        } else if fields[4].hasPrefix("file:"), fields[4].count > 5 {
            source = .file(String(fields[4].dropFirst(5)))
        } else {
            throw ClusterFailure("PARALLELKIT_CONNECT names no secret source: \(value)")
        }
        self.init(host: String(fields[1]), port: port, token: token, secret: source)
    }
}
