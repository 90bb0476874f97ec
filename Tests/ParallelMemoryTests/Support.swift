// Test support for ParallelMemoryTests: scratch folders, a computation log that every process
// can append to, and jobs that count their computations.
import Foundation
import Glibc
import ParallelKit

/// A fresh folder under the temporary directory, removed by `remove()`.
struct ScratchFolder {
    let path: String

    init(_ label: String = #function) {
        let name = label.filter { $0.isLetter || $0.isNumber }
        path = NSTemporaryDirectory() + "parallelkit-memory-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// The entry files of a `Memory(location: path)`.
    var entryNames: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: path + "/ParallelKitMemory/entries")) ?? []
    }

    func entryPath(_ name: String) -> String { path + "/ParallelKitMemory/entries/" + name }
}

/// A file that computations append one line to, with O_APPEND, so lines from several threads
/// and processes never mix: the number of lines is the number of computations.
struct ComputationLog: Codable, Sendable {
    let path: String

    func record(_ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        precondition(fd >= 0, "cannot open \(path)")
        let line = Array((text + "\n").utf8)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        close(fd)
    }

    var lines: [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map(String.init)
    }
}

/// Waits until `condition` holds or `timeout` passes, checking every 10 ms; returns whether it
/// held. For conditions another process brings about (nothing here can be told when).
func eventually(within timeout: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A computation that logs itself and returns `x * x + offset`.
struct SquareJob: ParallelJob {
    var x: Int
    var offset = 0
    var log: ComputationLog

    func run() async throws -> Int {
        log.record("\(x)")
        return x * x + offset
    }
}

/// The same key asked for by many tasks at once. Each task first logs its start (pid) in
/// `starts`; the one computation then waits until `expectedStarters` distinct processes (or, on
/// threads, `expectedStarters` tasks) have started, so it provably overlaps with the others'
/// attempts, logs itself in `computations` and returns.
struct ContendedJob: ParallelJob {
    var memoryLocation: String
    var starts: ComputationLog
    var computations: ComputationLog
    var expectedStarters: Int
    var countDistinctProcesses: Bool

    func run() async throws -> Int {
        starts.record("\(getpid())")
        let memory = try Memory(location: memoryLocation)
        return try await memory.cached(
            SlowComputation(
                starts: starts, computations: computations, expectedStarters: expectedStarters,
                countDistinctProcesses: countDistinctProcesses)
        ).run()
    }
}

/// The computation `ContendedJob` caches (see there).
struct SlowComputation: ParallelJob {
    var starts: ComputationLog
    var computations: ComputationLog
    var expectedStarters: Int
    var countDistinctProcesses: Bool

    func run() async throws -> Int {
        _ = await eventually {
            let lines = starts.lines
            return (countDistinctProcesses ? Set(lines).count : lines.count) >= expectedStarters
        }
        computations.record("\(getpid())")
        return 4242
    }
}
