import Foundation
import ParallelCore

// Short scheduler commands (squeue, scancel): run, wait, collect output. Used rarely — a
// start-up timeout, a killed worker, the end of the program — never per task.

enum Command {
    /// Runs `arguments` and returns its exit status and its stdout and stderr together.
    /// Blocks until it ends (these commands answer in milliseconds).
    static func run(_ arguments: [String]) -> (status: Int32, output: String) {
        var fds: [Int32] = [-1, -1]
        guard Platform.makePipe(&fds) == 0 else { return (-1, "pipe2 failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        _ = Platform.closeDescriptors(from: 3, in: &actions)
        var pid = pid_t()
        let result = withCStrings(arguments) { argv in posix_spawnp(&pid, arguments[0], &actions, nil, argv, environ) }
        close(fds[1])
        guard result == 0 else {
            close(fds[0])
            return (-1, "cannot run \(arguments[0]): \(String(cString: strerror(result)))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fds[0], &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        close(fds[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, String(decoding: output, as: UTF8.self))
    }

    /// `run` on a thread of its own, for async callers: the command's wait (spawn, read, waitpid)
    /// never holds a thread of Swift's cooperative pool, which has one thread per core and runs
    /// every other task of the process.
    static func runOffPool(_ arguments: [String]) async -> (status: Int32, output: String) {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: run(arguments)) }
            thread.name = "pk-cluster-cmd"
            thread.start()
        }
    }

    /// Runs `arguments` on a background thread, ignoring the result.
    static func runDetached(_ arguments: [String]) {
        let thread = Thread { _ = run(arguments) }
        thread.name = "pk-cluster-cmd"
        thread.start()
    }
}
