import ParallelCore
import Testing

/// joblib's verbose output as ``ProgressReporter``: counters and a time in, the
/// exact line out.
@Suite("ProgressReporter: joblib's verbose lines and frequency")
struct ProgressReporterTests {
    static let start: UInt64 = 1_000_000_000

    static func reporter(verbose: Int, nJobs: Int = 2, total: Int? = nil, preDispatch: Int = 4) -> ProgressReporter {
        ProgressReporter(
            verbose: verbose, nJobsLabel: nJobs, totalTasks: total, preDispatchAmount: preDispatch, startTime: start)
    }

    /// `seconds` after the reporter's start.
    static func at(_ seconds: Double) -> UInt64 { start + UInt64(seconds * 1e9) }

    // MARK: - _verbosity_filter

    /// The batch indices below 200 that print, per verbose level (joblib 1.6, verified).
    static let printedIndices: [(Int, [Int])] = [
        (1, [0, 49, 199]),
        (2, [0, 40, 161]),
        (5, [0, 17, 71, 161]),
        (8, [0, 4, 17, 40, 71, 112, 161]),
        (10, [0, 1, 4, 7, 12, 17, 24, 31, 40, 49, 60, 71, 84, 97, 112, 127, 144, 161, 180, 199]),
    ]

    @Test("isFiltered prints at joblib's quadratically spaced batch indices", arguments: printedIndices)
    func verbosityFilter(verbose: Int, expected: [Int]) {
        let printed = (0..<200).filter { !ProgressReporter.isFiltered(batchIndex: $0, verbose: verbose) }
        #expect(printed == expected)
    }

    @Test("above verbose 10 nothing is filtered; at 0 everything is", arguments: [11, 50, 100, 10_000])
    func verbosityExtremes(verbose: Int) {
        #expect((0..<500).allSatisfy { !ProgressReporter.isFiltered(batchIndex: $0, verbose: verbose) })
        #expect((0..<500).allSatisfy { ProgressReporter.isFiltered(batchIndex: $0, verbose: 0) })
    }

    // MARK: - short_format_time

    @Test(
        "shortTime is joblib's short_format_time",
        arguments: [
            (0.0, "   0.0s"), (0.6, "   0.6s"), (0.04, "   0.0s"), (59.96, "  60.0s"), (60.0, "  60.0s"),
            (61.0, " 1.0min"), (125.0, " 2.1min"), (6000.0, "100.0min"),
        ])
    func shortTime(seconds: Double, expected: String) {
        #expect(ProgressReporter.shortTime(seconds) == expected)
    }

    // MARK: - Lines

    @Test("the prefix is [Parallel(n_jobs=…)] with nJobs as the caller wrote it")
    func prefix() {
        #expect(Self.reporter(verbose: 1, nJobs: 2).format("x") == "[Parallel(n_jobs=2)]: x")
        #expect(Self.reporter(verbose: 1, nJobs: -1).format("x") == "[Parallel(n_jobs=-1)]: x")
    }

    @Test("while the input is taken, an unknown length gives 'Done   1 tasks      | elapsed:    0.6s'")
    func iteratingUnknownLength() {
        let reporter = Self.reporter(verbose: 10)
        let counters = ProgressReporter.Counters(
            completedTasks: 1, dispatchedTasks: 4, dispatchedBatches: 4, iterating: true)
        let line = reporter.progressLine(counters, now: Self.at(0.6))
        #expect(line == "Done   1 tasks      | elapsed:    0.6s")
        #expect(line.map(reporter.format) == "[Parallel(n_jobs=2)]: Done   1 tasks      | elapsed:    0.6s")
    }

    @Test("while the input is taken, a known length gives 'Done  14 out of 100 | elapsed:    0.1s'")
    func iteratingKnownLength() {
        let reporter = Self.reporter(verbose: 5, total: 100)
        let counters = ProgressReporter.Counters(
            completedTasks: 14, dispatchedTasks: 17, dispatchedBatches: 17, iterating: true)
        #expect(reporter.progressLine(counters, now: Self.at(0.1)) == "Done  14 out of 100 | elapsed:    0.1s")
    }

    @Test("while the input is taken, lines are throttled by the dispatched batch count")
    func iteratingThrottle() {
        let reporter = Self.reporter(verbose: 5, total: 100)
        for batches in 1..<200 {
            let counters = ProgressReporter.Counters(
                completedTasks: 1, dispatchedTasks: batches, dispatchedBatches: batches, iterating: true)
            let printed = reporter.progressLine(counters, now: Self.at(0.1)) != nil
            #expect(printed == [17, 71, 161].contains(batches), "batch index \(batches)")
        }
    }

    @Test("the finished line: 'Done  10 out of  10 | elapsed:    1.4s finished'")
    func finishedLine() {
        let reporter = Self.reporter(verbose: 10)
        let counters = ProgressReporter.Counters(
            completedTasks: 10, dispatchedTasks: 10, dispatchedBatches: 10, iterating: false)
        #expect(reporter.progressLine(counters, now: Self.at(1.4)) == "Done  10 out of  10 | elapsed:    1.4s finished")
    }

    @Test("the field width follows the known length: 1 digit for 5 tasks, 4 for 1000, 3 when unknown")
    func widths() {
        let done = ProgressReporter.Counters(
            completedTasks: 5, dispatchedTasks: 5, dispatchedBatches: 5, iterating: false)
        #expect(
            Self.reporter(verbose: 10, total: 5).progressLine(done, now: Self.at(0))
                == "Done 5 out of 5 | elapsed:    0.0s finished")
        let big = ProgressReporter.Counters(
            completedTasks: 1000, dispatchedTasks: 1000, dispatchedBatches: 9, iterating: false)
        #expect(
            Self.reporter(verbose: 10, total: 1000).progressLine(big, now: Self.at(0))
                == "Done 1000 out of 1000 | elapsed:    0.0s finished")
        #expect(
            Self.reporter(verbose: 10, total: nil).progressLine(done, now: Self.at(0))
                == "Done   5 out of   5 | elapsed:    0.0s finished")
    }

    @Test("while draining, a line carries the 'remaining' estimate elapsed / done × (dispatched − done)")
    func drainingLine() {
        // verbose 50, 20 tasks, threading.
        let reporter = Self.reporter(verbose: 50)
        let counters = ProgressReporter.Counters(
            completedTasks: 18, dispatchedTasks: 20, dispatchedBatches: 20, iterating: false)
        #expect(
            reporter.progressLine(counters, now: Self.at(0.1))
                == "Done  18 out of  20 | elapsed:    0.1s remaining:    0.0s")
        let slow = ProgressReporter.Counters(
            completedTasks: 10, dispatchedTasks: 20, dispatchedBatches: 20, iterating: false)
        #expect(
            reporter.progressLine(slow, now: Self.at(3.0))
                == "Done  10 out of  20 | elapsed:    3.0s remaining:    3.0s")
    }

    @Test("while draining, the next-to-last completion never prints; done = 0 always prints")
    func drainingEdges() {
        let reporter = Self.reporter(verbose: 100)
        let nextToLast = ProgressReporter.Counters(
            completedTasks: 19, dispatchedTasks: 20, dispatchedBatches: 20, iterating: false)
        #expect(reporter.progressLine(nextToLast, now: Self.at(1)) == nil)
        let quiet = Self.reporter(verbose: 1)
        let none = ProgressReporter.Counters(
            completedTasks: 0, dispatchedTasks: 20, dispatchedBatches: 20, iterating: false)
        #expect(quiet.progressLine(none, now: Self.at(1)) != nil)
    }

    @Test("while draining, lines follow joblib's cursor % frequency rule (verbose 5, 100 tasks, window 4)")
    func drainingFrequency() {
        let reporter = Self.reporter(verbose: 5, total: 100, preDispatch: 4)
        let printed = (1..<100).filter { done in
            let counters = ProgressReporter.Counters(
                completedTasks: done, dispatchedTasks: 100, dispatchedBatches: 100, iterating: false)
            return reporter.progressLine(counters, now: Self.at(1)) != nil
        }
        #expect(printed == [13, 34, 55, 76, 97])
    }

    @Test("with verbose above the task count every draining completion prints except the next-to-last")
    func drainingEverything() {
        let reporter = Self.reporter(verbose: 50, total: 20, preDispatch: 4)
        let printed = (1..<20).filter { done in
            let counters = ProgressReporter.Counters(
                completedTasks: done, dispatchedTasks: 20, dispatchedBatches: 20, iterating: false)
            return reporter.progressLine(counters, now: Self.at(1)) != nil
        }
        #expect(printed == Array(1...18))
    }

    @Test("an aborting call never prints 'finished'")
    func abortingIsNotFinished() {
        let reporter = Self.reporter(verbose: 100)
        let counters = ProgressReporter.Counters(
            completedTasks: 4, dispatchedTasks: 4, dispatchedBatches: 4, iterating: false, aborting: true)
        let line = reporter.progressLine(counters, now: Self.at(1))
        #expect(line?.hasSuffix("finished") != true)
    }

    @Test("verbose 0 prints nothing")
    func silent() {
        let reporter = Self.reporter(verbose: 0)
        #expect(!reporter.isEnabled)
        let counters = ProgressReporter.Counters(
            completedTasks: 4, dispatchedTasks: 4, dispatchedBatches: 4, iterating: false)
        #expect(reporter.progressLine(counters, now: Self.at(1)) == nil)
    }

    @Test("at verbose 10000 every 'Done x out of y |' fragment has the same width (test_parallel_pretty_print)")
    func prettyPrint() {
        let reporter = Self.reporter(verbose: 10_000, total: 250)
        var widths = Set<Int>()
        for done in 0...250 {
            let counters = ProgressReporter.Counters(
                completedTasks: done, dispatchedTasks: 250, dispatchedBatches: 250, iterating: done < 125)
            guard let line = reporter.progressLine(counters, now: Self.at(1)), let bar = line.firstIndex(of: "|") else {
                continue
            }
            widths.insert(line.distance(from: line.startIndex, to: bar))
        }
        #expect(widths.count == 1)
    }
}
