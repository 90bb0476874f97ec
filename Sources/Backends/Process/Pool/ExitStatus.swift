import Glibc

// How a worker ended, in words for crash reports.

/// A reaped process's wait status.
struct ExitStatus: Equatable, CustomStringConvertible {
    /// The raw status from waitpid, or nil when it could not be collected (SIGCHLD ignored).
    let raw: Int32?

    /// The terminating signal, if the process was killed by one.
    var signal: Int32? {
        guard let raw, raw & 0x7f != 0, raw & 0x7f != 0x7f else { return nil }
        return raw & 0x7f
    }

    /// The exit code, if the process exited.
    var exitCode: Int32? {
        guard let raw, raw & 0x7f == 0 else { return nil }
        return (raw >> 8) & 0xff
    }

    var description: String {
        if let signal {
            let name = Self.signalNames[signal].map { "\($0), " } ?? ""
            return "was killed by signal \(signal) (\(name)\(String(cString: strsignal(signal))))"
        }
        if let exitCode { return "exited with status \(exitCode)" }
        return "ended (its exit status could not be collected)"
    }

    private static let signalNames: [Int32: String] = [
        SIGHUP: "SIGHUP", SIGINT: "SIGINT", SIGQUIT: "SIGQUIT", SIGILL: "SIGILL", SIGTRAP: "SIGTRAP",
        SIGABRT: "SIGABRT", SIGBUS: "SIGBUS", SIGFPE: "SIGFPE", SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV",
        SIGPIPE: "SIGPIPE", SIGALRM: "SIGALRM", SIGTERM: "SIGTERM", SIGUSR1: "SIGUSR1", SIGUSR2: "SIGUSR2",
    ]
}
