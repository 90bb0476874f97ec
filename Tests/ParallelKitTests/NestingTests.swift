import ParallelKit
import Synchronization
import Testing

/// Nested `Parallel` calls do not oversubscribe. One level down a nested
/// call gets threading with nJobs defaulting to 1 unless it names one; two levels down and deeper,
/// sequential; the nesting level travels with the scope. Unbounded recursion ends in an error.
@Suite("Nesting: joblib's rule against oversubscription")
struct NestingTests {
    /// What one level saw: the backend its scope names (nil: the default), its nesting level, and
    /// whether its call's tasks ran in the calling task (sequentially).
    struct Level: Equatable, Sendable, CustomStringConvertible {
        var backend: String?
        var nestingLevel: Int
        var ranInCallingTask: Bool
        var description: String {
            "(\(backend ?? "default"), \(nestingLevel), \(ranInCallingTask ? "in caller" : "on workers"))"
        }
    }

    /// joblib's test_nested_parallelism_limit: `Parallel(n_jobs=2)` at each of 4 levels.
    static func nest(depth: Int, maxDepth: Int) async throws -> [Level] {
        let config = ParallelConfig.current
        let caller = currentTaskID()
        let inner = try await Parallel(nJobs: 2)(
            (0..<2).map { _ in
                Delayed { () async throws -> (Bool, [Level]) in
                    let inCaller = currentTaskID() == caller
                    let below = depth + 1 < maxDepth ? try await nest(depth: depth + 1, maxDepth: maxDepth) : []
                    return (inCaller, below)
                }
            })
        let here = Level(
            backend: config.backend?.description, nestingLevel: config.nestingLevel,
            ranInCallingTask: inner.allSatisfy(\.0))
        #expect(inner[0].1 == inner[1].1, "both tasks of a level see the same levels below")
        return [here] + inner[0].1
    }

    @Test("four levels of Parallel(nJobs: 2): threading at the top, threading at level 1, then sequential")
    func fourLevels() async throws {
        let levels = try await Self.nest(depth: 0, maxDepth: 4)
        #expect(
            levels == [
                Level(backend: nil, nestingLevel: 0, ranInCallingTask: false),
                Level(backend: "threading", nestingLevel: 1, ranInCallingTask: false),
                Level(backend: "sequential", nestingLevel: 2, ranInCallingTask: true),
                Level(backend: "sequential", nestingLevel: 2, ranInCallingTask: true),
            ])
    }

    @Test("one level down, Parallel() with no nJobs runs sequentially (nJobs defaults to 1)")
    func levelOneDefaultsToOneJob() async throws {
        let observed = try await Parallel(nJobs: 2)(
            (0..<2).map { _ in
                Delayed { () async throws -> (Int, Int?, Bool) in
                    let caller = currentTaskID()
                    let ids = try await Parallel()((0..<3).map { _ in Delayed { currentTaskID() } })
                    return (try effectiveNJobs(nil), ParallelConfig.current.nJobs, ids.allSatisfy { $0 == caller })
                }
            })
        for (effective, scopeNJobs, sequential) in observed {
            #expect(effective == 1)
            #expect(scopeNJobs == nil)
            #expect(sequential)
        }
    }

    @Test(
        "test_nested_backend_context_manager: under a scope's backend, nested calls see threading and 1 job",
        arguments: ["threading", "sequential"])
    func nestedUnderScope(backend: String) async throws {
        let observed = try await withParallelConfig(backend: .named(backend), nJobs: 2) {
            try await Parallel()(
                (0..<2).map { _ in
                    Delayed { () throws -> (String?, Int) in
                        (ParallelConfig.current.backend?.description, try effectiveNJobs(nil))
                    }
                })
        }
        if backend == "threading" {
            // A parallel top level: tasks see joblib's nested backend.
            #expect(observed.allSatisfy { $0.0 == "threading" && $0.1 == 1 })
        } else {
            // test_nested_backend_in_sequential: a sequential top level changes nothing below it.
            #expect(observed.allSatisfy { $0.0 == "sequential" && $0.1 == 2 })
        }
    }

    @Test("test_backend_nesting_level: level 0 at the top, 1 inside a parallel call's tasks")
    func nestingLevelInScope() async throws {
        #expect(ParallelConfig.current.nestingLevel == 0)
        let top = try await withParallelConfig(backend: "threading") { () async -> Int in
            ParallelConfig.current.nestingLevel
        }
        #expect(top == 0)
        let levels = try await Parallel(nJobs: 2)(
            (0..<2).map { _ in
                Delayed { () async throws -> Int in
                    try await withParallelConfig(backend: "threading") { () async -> Int in
                        ParallelConfig.current.nestingLevel
                    }
                }
            })
        #expect(levels == [1, 1])
    }

    @Test("a top-level nJobs 1 call does not change what inner calls see")
    func sequentialTopLevel() async throws {
        let observed = try await Parallel(nJobs: 1)(
            (0..<2).map { _ in
                Delayed { (ParallelConfig.current.nestingLevel, ParallelConfig.current.backend) }
            })
        #expect(observed.allSatisfy { $0.0 == 0 && $0.1 == nil })
    }

    @Test("a nested Parallel(nJobs: 2) one level down really gets 2 workers")
    func levelOneNamedNJobs() async throws {
        let observed = try await Parallel(nJobs: 2)(
            (0..<2).map { _ in
                Delayed { () async throws -> Bool in
                    let caller = currentTaskID()
                    let ids = try await Parallel(nJobs: 2, batchSize: 1)(
                        (0..<4).map { _ in Delayed { currentTaskID() } })
                    return ids.allSatisfy { $0 != caller }
                }
            })
        #expect(observed == [true, true])
    }

    /// joblib's test_thread_bomb_mitigation.
    static func recurse(_ started: EventCounter) async throws -> Int {
        started.increment()
        let results = try await Parallel(nJobs: 2)([
            Delayed { () async throws -> Int in try await recurse(started) + 1 }
        ])
        return results[0]
    }

    @Test("unbounded recursion of Parallel ends in ParallelError(.invalidArgument), not a crash or a thread bomb")
    func unboundedRecursion() async throws {
        let started = EventCounter()
        let (error, seconds) = await elapsedSeconds {
            await #expect(throws: ParallelError.self) { try await Self.recurse(started) }
        }
        #expect(error?.code == .invalidArgument)
        #expect(started.value <= 1_000)
        // A bound against a runaway, not a timing target: 1,000 levels took 20.2 s once on a
        // machine loaded far beyond CI's one busy core.
        #expect(seconds < 120)
    }

    @Test("unbounded recursion inside a scope with nJobs -1 also ends in .invalidArgument")
    func unboundedRecursionInScope() async throws {
        let started = EventCounter()
        await #expect(throws: ParallelError.self) {
            try await withParallelConfig(backend: "threading", nJobs: -1) { try await Self.recurse(started) }
        }
    }
}
