import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// `progress:` end to end: the same event sequence shape on every in-process path (nJobs 1,
/// sequential, threading), in every mode, also after an error or cancellation.
@Suite("Progress events from real calls")
struct ProgressEventsTests {
    /// Collects events; checks the handler is never entered twice at once.
    final class Recorder: Sendable {
        private let state = LockedValue<(events: [ProgressEvent], inside: Bool, overlapped: Bool)>(([], false, false))

        var progress: ParallelProgress {
            .handler { event in
                self.state.withLock {
                    if $0.inside { $0.overlapped = true }
                    $0.inside = true
                }
                self.state.withLock {
                    $0.events.append(event)
                    $0.inside = false
                }
            }
        }

        var events: [ProgressEvent] { state.withLock { $0.events } }
        var overlapped: Bool { state.withLock { $0.overlapped } }

        /// started first, finished last, once each; returns the final snapshot.
        func checkShape(sourceLocation: SourceLocation = #_sourceLocation) -> ProgressSnapshot? {
            let events = self.events
            #expect(!overlapped, sourceLocation: sourceLocation)
            guard case .started? = events.first else {
                Issue.record(
                    "first event is not started: \(events.first.map { "\($0)" } ?? "none")",
                    sourceLocation: sourceLocation)
                return nil
            }
            guard case .finished(let last)? = events.last else {
                Issue.record("last event is not finished", sourceLocation: sourceLocation)
                return nil
            }
            let starts = events.filter { if case .started = $0 { true } else { false } }.count
            let ends = events.filter { if case .finished = $0 { true } else { false } }.count
            #expect(starts == 1 && ends == 1, sourceLocation: sourceLocation)
            var previous = 0
            for event in events {
                if case .progressed(let snapshot) = event {
                    #expect(snapshot.completed >= previous, "counts never go back", sourceLocation: sourceLocation)
                    previous = snapshot.completed
                }
            }
            return last
        }
    }

    struct Boom: Error {}

    static let shapes: [(nJobs: Int, backend: String)] = [
        (1, "threading"), (2, "sequential"), (2, "threading"), (3, "threading"),
    ]

    @Test("list mode: started, progressed…, finished with every task counted", arguments: 0..<shapes.count)
    func listMode(shape: Int) async throws {
        let (nJobs, backend) = Self.shapes[shape]
        let recorder = Recorder()
        let values = try await Parallel(nJobs: nJobs, backend: .named(backend), progress: recorder.progress)(
            (0..<500).map { delayed { (i: Int) in i }($0) })
        #expect(values.count == 500)
        let last = recorder.checkShape()
        #expect(last?.completed == 500)
        #expect(last?.failed == 0)
        #expect(last?.total == 500)
    }

    @Test("results mode: failures are counted and reported as taskFailed", arguments: 0..<shapes.count)
    func resultsMode(shape: Int) async throws {
        let (nJobs, backend) = Self.shapes[shape]
        let recorder = Recorder()
        let tasks = (0..<50).map { i in
            Delayed { () throws -> Int in
                if i % 10 == 0 { throw Boom() }; return i
            }
        }
        _ = try await Parallel(nJobs: nJobs, backend: .named(backend), batchSize: 3, progress: recorder.progress)
            .results(tasks)
        let last = recorder.checkShape()
        #expect(last?.completed == 45)
        #expect(last?.failed == 5)
        let failedEvents = recorder.events.filter { if case .taskFailed(_, false) = $0 { true } else { false } }
        #expect(failedEvents.count == 5)
    }

    @Test("an error still ends with finished; retries are reported with willRetry", arguments: 0..<shapes.count)
    func errorAndRetries(shape: Int) async throws {
        let (nJobs, backend) = Self.shapes[shape]
        let recorder = Recorder()
        let tasks = (0..<20).map { i in
            Delayed { () throws -> Int in
                if i == 7 { throw Boom() }; return i
            }
        }
        await #expect(throws: Boom.self) {
            _ = try await Parallel(
                nJobs: nJobs, backend: .named(backend), retry: .attempts(2), progress: recorder.progress)(tasks)
        }
        _ = recorder.checkShape()
        let retries = recorder.events.filter { if case .taskFailed(_, true) = $0 { true } else { false } }
        #expect(retries.count == 1)
    }

    @Test("a generator's input of unknown length: total is nil until it ends")
    func unknownTotal() async throws {
        let recorder = Recorder()
        let lazy = AnySequence((0..<100).lazy.map { delayed { (i: Int) in i }($0) })
        var count = 0
        for try await _ in Parallel(nJobs: 2, progress: recorder.progress).generator(lazy) { count += 1 }
        #expect(count == 100)
        guard case .started(let first)? = recorder.events.first else {
            Issue.record("no started event")
            return
        }
        #expect(first.total == nil)
        #expect(recorder.checkShape()?.total == 100)
    }

    @Test("a scope's progress applies to calls inside it; nested calls draw no bar")
    func scopeProgress() async throws {
        let recorder = Recorder()
        try await withParallelConfig(progress: recorder.progress) {
            #expect(ParallelConfig.current.progress != nil)
            _ = try await Parallel(nJobs: 2)((0..<10).map { delayed { (i: Int) in i }($0) })
        }
        #expect(recorder.checkShape()?.completed == 10)
    }
}
