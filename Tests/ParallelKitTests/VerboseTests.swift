import Foundation
import ParallelKit
import Testing

/// `verbose` prints joblib's lines, to standard error below 50 and to standard output
/// from 50; with verbose > 0 a failing task's index and description are printed (item 9). The
/// exact formats and the frequency rule are unit-tested in ParallelCoreTests; these tests check
/// what a real call prints. They capture a file descriptor, so they run one at a time, and they
/// use nJobs labels no other test uses.
@Suite("Verbose: what a call prints, and where", .serialized)
struct VerboseTests {
    /// Replaces the elapsed and remaining times, which vary, with a placeholder.
    static func normalised(_ line: String) -> String {
        line.replacingOccurrences(
            of: #"(elapsed|remaining):\s+[0-9.]+(s|min)"#, with: "$1: T", options: .regularExpression)
    }

    static let progressPattern =
        #"^\[Parallel\(n_jobs=-?\d+\)\]: Done +\d+ (tasks +|out of +\d+ )\| elapsed: +[0-9.]+(s|min)( remaining: +[0-9.]+(s|min)| finished)?$"#

    @Test("nJobs 1, verbose 10, 12 tasks from a generator: joblib's sequential lines")
    func sequentialLines() async throws {
        let input = CountingSequence(count: 12) { i in delayed { i }() }
        let stderr = try await captureOutput(of: 2) {
            // The sequential backend resolves any nJobs to 1; 7 labels these lines as ours.
            _ = try await Parallel(nJobs: 7, backend: "sequential", verbose: 10)(input)
        }
        let lines = parallelLines(stderr).filter { $0.hasPrefix("[Parallel(n_jobs=7)]") }.map(Self.normalised)
        #expect(
            lines == [
                "[Parallel(n_jobs=7)]: Done   1 tasks      | elapsed: T",
                "[Parallel(n_jobs=7)]: Done   4 tasks      | elapsed: T",
                "[Parallel(n_jobs=7)]: Done   7 tasks      | elapsed: T",
                "[Parallel(n_jobs=7)]: Done  12 tasks      | elapsed: T",
                "[Parallel(n_jobs=7)]: Done  12 out of  12 | elapsed: T finished",
            ])
    }

    @Test("nJobs 2, verbose 10: the backend line first, joblib-shaped progress, the finished line last, on stderr")
    func parallelLinesOnStderr() async throws {
        var stderr = ""
        let stdout = try await captureOutput(of: 1) {
            stderr = try await captureOutput(of: 2) {
                _ = try await Parallel(nJobs: 5, verbose: 10, batchSize: 1)((0..<10).map { i in delayed { i }() })
            }
        }
        let lines = parallelLines(stderr).filter { $0.hasPrefix("[Parallel(n_jobs=5)]") }
        #expect(lines.first == "[Parallel(n_jobs=5)]: Using backend ThreadingBackend with 5 concurrent workers.")
        #expect(lines.last.map(Self.normalised) == "[Parallel(n_jobs=5)]: Done 10 out of 10 | elapsed: T finished")
        for line in lines.dropFirst() {
            #expect(
                line.range(of: Self.progressPattern, options: .regularExpression) != nil, "unexpected line: \(line)")
        }
        #expect(lines.filter { $0.hasSuffix("finished") }.count == 1)
        #expect(parallelLines(stdout).filter { $0.hasPrefix("[Parallel(n_jobs=5)]") }.isEmpty)
    }

    @Test("verbose 50 and above prints to stdout, not stderr")
    func stdoutFromFifty() async throws {
        var stderr = ""
        let stdout = try await captureOutput(of: 1) {
            stderr = try await captureOutput(of: 2) {
                _ = try await Parallel(nJobs: 6, verbose: 50)((0..<20).map { i in delayed { i }() })
            }
        }
        let out = parallelLines(stdout).filter { $0.hasPrefix("[Parallel(n_jobs=6)]") }
        #expect(out.first == "[Parallel(n_jobs=6)]: Using backend ThreadingBackend with 6 concurrent workers.")
        #expect(out.last.map(Self.normalised) == "[Parallel(n_jobs=6)]: Done 20 out of 20 | elapsed: T finished")
        #expect(parallelLines(stderr).filter { $0.hasPrefix("[Parallel(n_jobs=6)]") }.isEmpty)
    }

    @Test("verbose 100: completed counts only grow, and every 'Done x out of y |' has the same width")
    func everyCompletionAndPrettyPrint() async throws {
        let stdout = try await captureOutput(of: 1) {
            _ = try await Parallel(nJobs: 4, verbose: 100, batchSize: 1)((0..<120).map { i in delayed { i }() })
        }
        let lines = parallelLines(stdout).filter { $0.hasPrefix("[Parallel(n_jobs=4)]") && $0.contains("Done") }
        let counts = lines.compactMap { line -> Int? in
            guard let range = line.range(of: #"Done +\d+"#, options: .regularExpression) else { return nil }
            return Int(line[range].dropFirst(4).trimmingCharacters(in: .whitespaces))
        }
        #expect(counts == counts.sorted())
        #expect(counts.last == 120)
        let widths = Set(
            lines.filter { $0.contains(" out of ") }.compactMap { line in
                line.firstIndex(of: "|").map { line.distance(from: line.startIndex, to: $0) }
            })
        #expect(widths.count == 1)
    }

    @Test("the prefix shows nJobs as written: -1 stays -1")
    func negativeLabel() async throws {
        let stderr = try await captureOutput(of: 2) {
            _ = try await Parallel(nJobs: -1, verbose: 1)((0..<4).map { i in delayed { i }() })
        }
        #expect(parallelLines(stderr).contains { $0.hasPrefix("[Parallel(n_jobs=-1)]: ") })
    }

    @Test("verbose 0 prints nothing")
    func silent() async throws {
        var stderr = ""
        let stdout = try await captureOutput(of: 1) {
            stderr = try await captureOutput(of: 2) {
                _ = try await Parallel(nJobs: 9, verbose: 0)((0..<50).map { i in delayed { i }() })
                _ = try await Parallel(nJobs: 9)((0..<50).map { i in delayed { i }() })
            }
        }
        #expect(!(stdout + stderr).contains("[Parallel(n_jobs=9)]"))
    }

    @Test("a scope's verbose applies to calls that do not set one")
    func scopeVerbose() async throws {
        let stderr = try await captureOutput(of: 2) {
            try await withParallelConfig(verbose: 10) {
                _ = try await Parallel(nJobs: 11)((0..<4).map { i in delayed { i }() })
            }
        }
        #expect(
            parallelLines(stderr).contains(
                "[Parallel(n_jobs=11)]: Using backend ThreadingBackend with 11 concurrent workers."))
    }

    @Test(
        "with verbose > 0 the failing task's index and description are printed",
        arguments: [(13, BatchSize.fixed(1)), (14, .fixed(4)), (1, .auto)])
    func failingTaskPrinted(nJobs: Int, batchSize: BatchSize) async throws {
        // The error's description does not contain the failing index, so the index must be printed
        // on its own. With batches of 4, task 5 is the second of its batch.
        let failure = TestError(index: 99)
        let tasks = (0..<20).map { i in
            Delayed { () throws -> Int in
                if i == 5 { throw failure }
                return i
            }
        }
        let backend: BackendChoice = nJobs == 1 ? "sequential" : "threading"
        let label = nJobs == 1 ? 3 : nJobs
        let stderr = try await captureOutput(of: 2) {
            await #expect(throws: failure) {
                try await Parallel(nJobs: label, backend: backend, verbose: 1, batchSize: batchSize)(tasks)
            }
        }
        let lines = parallelLines(stderr).filter { $0.hasPrefix("[Parallel(n_jobs=\(label))]: ") }
        let description = String(describing: failure)
        let failureLines = lines.filter { $0.contains(description) }
        #expect(failureLines.count == 1, "\(lines)")
        let rest =
            failureLines.first?
            .replacingOccurrences(of: "[Parallel(n_jobs=\(label))]: ", with: "")
            .replacingOccurrences(of: description, with: "") ?? ""
        #expect(rest.range(of: #"\b5\b"#, options: .regularExpression) != nil, "the index 5 is not in: \(failureLines)")
        #expect(!lines.contains { $0.hasSuffix("finished") })
    }

    @Test("map and forEach print joblib's lines on every path: threads, one worker, and a scope's verbose")
    func mapAndForEachPrint() async throws {
        let inputs = Array(0..<30)
        let stderr = try await captureOutput(of: 2) {
            _ = try await Parallel(nJobs: 17, backend: "threading", verbose: 10).map(inputs) { $0 }
            try await Parallel(nJobs: 18, backend: "threading", verbose: 10).forEach(inputs) { _ in }
            // The sequential backend resolves any nJobs to 1: the one-worker path, labelled.
            _ = try await Parallel(nJobs: 19, backend: "sequential", verbose: 10).map(inputs) { $0 }
            try await Parallel(nJobs: 20, backend: "sequential", verbose: 10).forEach(inputs) { _ in }
            try await withParallelConfig(verbose: 10) {
                _ = try await Parallel(nJobs: 21, backend: "threading").map(inputs) { $0 }
                _ = try await Parallel(nJobs: 22, backend: "sequential").map(inputs) { $0 }
            }
        }
        for label in 17...22 {
            let lines = parallelLines(stderr).filter { $0.hasPrefix("[Parallel(n_jobs=\(label))]") }.map(
                Self.normalised)
            #expect(
                lines.last == "[Parallel(n_jobs=\(label))]: Done 30 out of 30 | elapsed: T finished",
                "nJobs \(label): \(lines)")
        }
    }

    @Test("jobs on worker processes print the same lines: the backend line first, the finished line last")
    func processLines() async throws {
        let stderr = try await captureOutput(of: 2) {
            _ = try await Parallel(nJobs: 3, backend: "process", verbose: 10)((0..<30).map { SquareJob(x: $0) })
        }
        let lines = parallelLines(stderr).filter { $0.hasPrefix("[Parallel(n_jobs=3)]") }
        #expect(lines.first == "[Parallel(n_jobs=3)]: Using backend ProcessBackend with 3 concurrent workers.")
        #expect(lines.last.map(Self.normalised) == "[Parallel(n_jobs=3)]: Done 30 out of 30 | elapsed: T finished")
    }

    @Test("timeout with nJobs 1 is not applied, and a warning says so also at verbose 0 (README, DocC)")
    func timeoutWithOneJobWarns() async throws {
        let tasks = [Delayed { 7 }]
        let stderr = try await captureOutput(of: 2) {
            _ = try await Parallel(nJobs: 24, backend: "sequential", timeout: .seconds(5))(tasks)
            _ = try await Parallel(nJobs: 25, backend: "sequential", timeout: .seconds(5)).map([1, 2]) { $0 }
        }
        for label in [24, 25] {
            let warnings = stderr.split(separator: "\n").filter {
                $0.hasPrefix("[Parallel(n_jobs=\(label))]: warning: timeout is not applied")
            }
            #expect(warnings.count == 1, "nJobs \(label): \(stderr)")
        }
    }
}
