import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// Writes a line to its standard error (a marker: once it arrives, earlier output has too).
struct StderrMarkerJob: ParallelJob {
    var text: String
    func run() async throws -> Int {
        let bytes = Array("\(text)\n".utf8)
        return write(2, bytes, bytes.count)
    }
}

/// In a worker (its fd 2 can be redirected without touching the test process): calls whose job
/// crashes (a segfault, a fatalError, an index out of range) without verbose, then a marker line;
/// returns what reached this process's stderr.
struct CrashStderrCaptureJob: ParallelJob {
    func run() async throws -> String {
        let path = WorkerHardeningTests.temporaryPath("crash-stderr")
        defer { unlink(path) }
        let file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        dup2(file, 2)
        var crashes = 0
        for kind in [CrashKind.segfault, .fatalError, .indexOutOfRange, .segfault] {
            let jobs = (0..<4).map { CrashingJob(index: $0, crashAt: 1, kind: kind) }
            do {
                _ = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()), batchSize: 1)(jobs)
            } catch let error as ParallelError where error.code == .workerCrashed {
                crashes += 1
            }
        }
        _ = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))(
            [StderrMarkerJob(text: "marker after \(crashes) crashes")])
        // The relay writes on its own thread; the marker comes after everything forwarded before it.
        var text = ""
        _ = await eventually(within: .seconds(20)) {
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.contains("marker")
        }
        return text
    }
}

@Suite("Crash output")
struct CrashStderrTests {
    @Test("a crashed worker's report leaves no stray blank line or fragment on the caller's stderr")
    func crashLeavesNothingOnStderr() async throws {
        let captured = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))(
            [CrashStderrCaptureJob()])[0]
        #expect(captured == "marker after 4 crashes\n", "stderr: \(captured.debugDescription)")
    }

    @Test("blank lines and lines written in pieces still reach stderr when no crash follows")
    func blankLinesWithoutACrashAreForwarded() async throws {
        let captured = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))(
            [PieceWriterCaptureJob()])[0]
        #expect(captured == "\n\nfirst, in pieces\n\nmarker\n", "stderr: \(captured.debugDescription)")
    }
}

/// Writes blank lines and a line in pieces, then a marker.
struct PieceWriterJob: ParallelJob {
    func run() async throws -> Int {
        for piece in ["\n", "\n", "first, ", "in pieces", "\n", "\n"] {
            _ = write(2, piece, piece.utf8.count)
        }
        return 0
    }
}

/// In a worker: what a job's blank lines and pieces look like on this process's stderr.
struct PieceWriterCaptureJob: ParallelJob {
    func run() async throws -> String {
        let path = WorkerHardeningTests.temporaryPath("pieces-stderr")
        defer { unlink(path) }
        let file = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        dup2(file, 2)
        // One worker serves both calls (one task each), so its output arrives in order.
        let backend = ProcessBackend()
        _ = try await Parallel(nJobs: 2, backend: .instance(backend))([PieceWriterJob()])
        _ = try await Parallel(nJobs: 2, backend: .instance(backend))([StderrMarkerJob(text: "marker")])
        var text = ""
        _ = await eventually(within: .seconds(20)) {
            text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.contains("marker")
        }
        return text
    }
}
