import Glibc
import ParallelCore
import ParallelProcess

// Starting `ssh` or `srun` for one worker: stdin from a pipe (ssh: the secret) or /dev/null,
// stdout shared with the parent (a job's print reaches the terminal, as with local workers),
// stderr through a pipe the pool copies to the parent's stderr and keeps for its messages.

/// A launcher process started for one remote worker.
struct LauncherProcess {
    let pid: pid_t
    let pidFD: Int32
    let stderrFD: Int32

    /// Starts `arguments[0]` (looked up in PATH) with `environment`, writing `input` to its stdin
    /// and closing it (or giving it /dev/null when `input` is nil).
    static func start(arguments: [String], environment: [String], input: [UInt8]?) throws -> LauncherProcess {
        var opened: [Int32] = []
        func closeAll() { for fd in opened { close(fd) } }
        do {
            let errors = try pipe()
            opened += [errors.read, errors.write]
            var stdin: (read: Int32, write: Int32)?
            if input != nil {
                let pair = try pipe()
                opened += [pair.read, pair.write]
                stdin = pair
            }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            if let stdin {
                posix_spawn_file_actions_adddup2(&actions, stdin.read, 0)
            } else {
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            }
            posix_spawn_file_actions_adddup2(&actions, errors.write, 2)
            _ = Platform.closeDescriptors(from: 3, in: &actions)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var noSignals = sigset_t()
            sigemptyset(&noSignals)
            posix_spawnattr_setsigmask(&attributes, &noSignals)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
            let pid = try withCStrings(arguments) { argv in
                try withCStrings(environment) { envp in
                    var pid = pid_t()
                    let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
                    guard result == 0 else {
                        throw ClusterFailure("cannot run \(arguments[0]): \(String(cString: strerror(result)))")
                    }
                    return pid
                }
            }
            close(errors.write)
            if let stdin, let input {
                close(stdin.read)
                // A few dozen bytes into an empty pipe: never blocks.
                _ = input.withUnsafeBytes { write(stdin.write, $0.baseAddress, $0.count) }
                close(stdin.write)
            }
            let flags = fcntl(errors.read, F_GETFL)
            _ = fcntl(errors.read, F_SETFL, flags | O_NONBLOCK)
            return LauncherProcess(pid: pid, pidFD: Platform.openProcessHandle(pid), stderrFD: errors.read)
        } catch {
            closeAll()
            throw error
        }
    }

    private static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard Platform.makePipe(&fds) == 0 else { throw ClusterFailure("pipe2 failed (errno \(errno))") }
        return (fds[0], fds[1])
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`.
func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) throws -> R) rethrows -> R {
    let pointers = strings.map { strdup($0) }
    defer { for pointer in pointers { free(pointer) } }
    return try body(pointers + [nil])
}
