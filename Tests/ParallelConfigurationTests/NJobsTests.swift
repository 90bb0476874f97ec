import ParallelConfiguration
import ParallelCore
import ParallelKit
import Testing

/// NJobs exactly as joblib. nil is 1 unless a scope sets it; -1 all CPUs; -2 all but one;
/// below -1 `cpuCount() + 1 + nJobs` (at least 1); 0 is an error; above the core count
/// oversubscribes.
@Suite("nJobs: joblib's rules")
struct NJobsTests {
    @Test(
        "NJobsRule maps nJobs to workers as joblib's effective_n_jobs, here for 4 CPUs",
        arguments: [
            (1, 1), (2, 2), (4, 4), (5, 5), (64, 64), (-1, 4), (-2, 3), (-3, 2), (-4, 1), (-5, 1), (-100, 1),
        ])
    func rule(nJobs: Int, expected: Int) throws {
        #expect(try NJobsRule.effective(nJobs, cpus: 4) == expected)
    }

    @Test(
        "on 2 CPUs: -1 → 2, -2 → 1, -100 → 1, 5 → 5 (joblib, verified)",
        arguments: [(-1, 2), (-2, 1), (-100, 1), (5, 5)])
    func twoCPUs(nJobs: Int, expected: Int) throws {
        #expect(try NJobsRule.effective(nJobs, cpus: 2) == expected)
    }

    @Test("nJobs 0 has no meaning: .invalidArgument")
    func zero() {
        let error = #expect(throws: ParallelError.self) { try NJobsRule.effective(0, cpus: 4) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.description.contains("nJobs") == true)
        #expect(throws: ParallelError.self) { try effectiveNJobs(0) }
    }

    @Test("effectiveNJobs uses cpuCount(): -1 is every CPU, -2 all but one")
    func publicHelper() throws {
        #expect(try effectiveNJobs(-1) == cpuCount())
        #expect(try effectiveNJobs(-2) == max(cpuCount() - 1, 1))
        #expect(try effectiveNJobs(3) == 3)
        #expect(try effectiveNJobs(cpuCount() + 3) == cpuCount() + 3)
    }

    @Test("test_effective_n_jobs_None: nil is 1 outside any scope, the scope's value inside")
    func nilFollowsScope() async throws {
        #expect(try effectiveNJobs(nil) == 1)
        let inScope = try await withParallelConfig(backend: "threading", nJobs: 3) { () async throws -> (Int, Int) in
            (try effectiveNJobs(nil), try effectiveNJobs(2))
        }
        #expect(inScope == (3, 2))
        let allCPUs = try await withParallelConfig(backend: "threading", nJobs: -1) { () async throws -> Int in
            try effectiveNJobs(nil)
        }
        #expect(allCPUs == cpuCount())
        #expect(try effectiveNJobs(nil) == 1)
    }

    @Test("test_parallel_n_jobs_none: Parallel(nJobs: nil) inside a scope with nJobs 2 runs 2 workers")
    func parallelNilInScope() async throws {
        let recorder = ContextRecorder()
        try await withParallelConfig(nJobs: 2) {
            _ = try await Parallel(backend: .instance(recorder))((0..<6).map { i in delayed { i }() })
        }
        #expect(recorder.contexts.map(\.nJobs) == [2])
    }

    @Test("a scope's backend instance and nJobs apply to Parallel(); its tasks see the nested threading scope")
    func scopeInstance() async throws {
        let recorder = ContextRecorder()
        let seen = try await withParallelConfig(backend: .instance(recorder), nJobs: 3) {
            try await Parallel()((0..<6).map { _ in Delayed { ParallelConfig.current.backend } })
        }
        #expect(recorder.contexts.map(\.nJobs) == [3])
        #expect(seen.allSatisfy { $0 == "threading" })
    }

    @Test("an explicit nJobs beats the scope's (test_parallel_config_params_explicit_set)")
    func explicitBeatsScope() async throws {
        let recorder = ContextRecorder()
        try await withParallelConfig(nJobs: 3) {
            _ = try await Parallel(nJobs: 2, backend: .instance(recorder))((0..<6).map { i in delayed { i }() })
        }
        #expect(recorder.contexts.map(\.nJobs) == [2])
    }

    @Test("nil outside any scope runs one worker: the backend is never started")
    func nilIsOne() async throws {
        let recorder = ContextRecorder()
        let results = try await Parallel(backend: .instance(recorder))((0..<6).map { i in delayed { i }() })
        #expect(results == Array(0..<6))
        #expect(recorder.contexts.isEmpty)
    }

    @Test("-1 starts cpuCount() workers; above the core count oversubscribes", arguments: [-1, 5, 16])
    func resolvedWorkerCount(nJobs: Int) async throws {
        let recorder = ContextRecorder()
        _ = try await Parallel(nJobs: nJobs, backend: .instance(recorder))((0..<40).map { i in delayed { i }() })
        let expected = try effectiveNJobs(nJobs)
        if expected == 1 {
            #expect(recorder.contexts.isEmpty)
        } else {
            #expect(recorder.contexts.map(\.nJobs) == [expected])
        }
    }

    @Test("a backend's effectiveNJobs caps the workers; capped to 1 the call runs in the caller")
    func backendCaps() throws {
        let registry = stubRegistry()
        let plan = try CallResolution.plan(
            CallArguments(nJobs: 8, backend: "sequential"), scope: ScopeValues(), tasksArePortable: false,
            registry: registry)
        #expect(plan.nJobs == 1)
        #expect(plan.isSequential)
        #expect(plan.nJobsLabel == 8)
    }

    @Test("the verbose label keeps nJobs as written: -1 stays -1")
    func label() throws {
        let plan = try CallResolution.plan(
            CallArguments(nJobs: -1, backend: "threading"), scope: ScopeValues(), tasksArePortable: false,
            registry: stubRegistry())
        #expect(plan.nJobsLabel == -1)
        #expect(plan.nJobs == cpuCount())
    }
}
