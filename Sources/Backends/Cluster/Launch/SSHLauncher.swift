import Foundation
@_spi(Locking) import ParallelCore
import ParallelProcess

// `ssh host exec env PARALLELKIT_CONNECT=… exe`: the secret goes on ssh's standard input (one
// line, then end of file), never on the command line that `ps` on either machine shows.

/// Starts workers over ssh, spreading them over hosts by free slots.
final class SSHLauncher: RemoteWorkerLauncher {
    struct Host: Sendable {
        let name: String
        let slots: Int
    }

    let hosts: [Host]
    let executable: String
    let listenAddress: (host: String, port: UInt16, text: String)
    let secretHex: String
    let environment: [String]
    let remoteEnvironment: [String]
    let startTimeout: Duration
    /// Live workers per host (index into `hosts`), by launch token.
    private let placed = Placement()

    /// Which host each live launch went to (shared with the launches' end callbacks).
    final class Placement: Sendable {
        private let hostByToken = LockedValue<[UInt64: Int]>([:])
        func withLock<R: Sendable>(_ body: (inout sending [UInt64: Int]) throws -> sending R) rethrows -> R {
            try hostByToken.withLock(body)
        }
    }

    init(
        hosts: [Host], executable: String, listener: PoolListener, secret: [UInt8], remoteEnvironment: [String],
        startTimeout: Duration
    ) {
        self.hosts = hosts
        self.executable = executable
        self.listenAddress = (listener.host, listener.port, listener.address)
        self.secretHex = secret.hexString
        self.environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        self.remoteEnvironment = remoteEnvironment
        self.startTimeout = startTimeout
    }

    func launch(token: UInt64) throws -> SpawnedProcess {
        let index = try placed.withLock { placed -> Int in
            var load = [Int](repeating: 0, count: hosts.count)
            for host in placed.values { load[host] += 1 }
            let free = hosts.indices.filter { load[$0] < hosts[$0].slots }
            guard let best = free.min(by: { load[$0] * hosts[$1].slots < load[$1] * hosts[$0].slots }) else {
                throw ClusterFailure("all \(hosts.map(\.slots).reduce(0, +)) worker slots of the ssh hosts are in use")
            }
            placed[token] = best
            return best
        }
        let host = hosts[index].name
        let request = ConnectRequest(
            host: listenAddress.host, port: listenAddress.port, token: token, secret: .standardInput)
        let assignments = (["PARALLELKIT_CONNECT=\(request.value)"] + remoteEnvironment).map(SettingParser.shellQuote)
        let remoteCommand =
            "exec env " + assignments.joined(separator: " ") + " " + SettingParser.shellQuote(executable)
        let arguments = [
            "ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=\(max(1, Int(startTimeout.components.seconds)))",
            "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", host, remoteCommand,
        ]
        let launched: LauncherProcess
        do {
            launched = try LauncherProcess.start(
                arguments: arguments, environment: environment, input: Array((secretHex + "\n").utf8))
        } catch {
            _ = placed.withLock { $0.removeValue(forKey: token) }
            throw error
        }
        let address = listenAddress.text
        let timeout = startTimeout
        let remote = RemoteWorker(
            token: token, name: "the worker started with `ssh \(host)` (ssh pid \(launched.pid))",
            startTimeout: startTimeout,
            describeStartTimeout: {
                "the worker started with `ssh \(host)` did not connect back to \(address) within \(timeout): the host is "
                    + "unreachable or slow to answer, or it cannot reach \(address) (set \(ListenAddress.variable) to an "
                    + "address the hosts can reach)."
            },
            ended: { [placed] _ in _ = placed.withLock { $0.removeValue(forKey: token) } })
        return SpawnedProcess(
            launcherPID: launched.pid, pidFD: launched.pidFD, stderrFD: launched.stderrFD, remote: remote)
    }
}
