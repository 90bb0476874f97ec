import ParallelKit
import Testing

/// Bad input gets a clear `ParallelError` and nothing runs: nJobs 0, a malformed
/// preDispatch, batchSize 0 or negative, an unknown backend, require/backend conflicts, negative
/// verbose, a non-positive timeout. No input is taken either.
@Suite("Bad input: a clear error before any input is taken")
struct BadInputTests {
    struct BadCase: Sendable, CustomTestStringConvertible {
        var label: String
        var parallel: Parallel
        var code: ParallelError.Code
        var mentions: String
        var testDescription: String { label }
    }

    static let cases: [BadCase] = [
        BadCase(label: "nJobs 0", parallel: Parallel(nJobs: 0), code: .invalidArgument, mentions: "nJobs"),
        BadCase(
            label: "nJobs 0 with a backend", parallel: Parallel(nJobs: 0, backend: "sequential"),
            code: .invalidArgument, mentions: "nJobs"),
        BadCase(
            label: "preDispatch 'abc'", parallel: Parallel(nJobs: 2, preDispatch: "abc"), code: .invalidArgument,
            mentions: "preDispatch"),
        BadCase(
            label: "preDispatch '3*x'", parallel: Parallel(nJobs: 2, preDispatch: "3*x"), code: .invalidArgument,
            mentions: "preDispatch"),
        BadCase(
            label: "preDispatch 0", parallel: Parallel(nJobs: 2, preDispatch: 0), code: .invalidArgument,
            mentions: "preDispatch"),
        BadCase(
            label: "preDispatch -4", parallel: Parallel(nJobs: 2, preDispatch: -4), code: .invalidArgument,
            mentions: "preDispatch"),
        BadCase(
            label: "preDispatch 'abc' with nJobs 1", parallel: Parallel(nJobs: 1, preDispatch: "abc"),
            code: .invalidArgument, mentions: "preDispatch"),
        BadCase(
            label: "batchSize 0", parallel: Parallel(nJobs: 2, batchSize: 0), code: .invalidArgument,
            mentions: "batchSize"),
        BadCase(
            label: "batchSize -1", parallel: Parallel(nJobs: 2, batchSize: -1), code: .invalidArgument,
            mentions: "batchSize"),
        BadCase(
            label: "batchSize 0 with nJobs 1", parallel: Parallel(nJobs: 1, batchSize: 0), code: .invalidArgument,
            mentions: "batchSize"),
        BadCase(
            label: "unknown backend", parallel: Parallel(nJobs: 2, backend: "nope"), code: .unknownBackend,
            mentions: "nope"),
        BadCase(
            label: "unknown backend with nJobs 1", parallel: Parallel(nJobs: 1, backend: "nope"), code: .unknownBackend,
            mentions: "nope"),
        BadCase(
            label: "process backend with require .sharedMemory",
            parallel: Parallel(nJobs: 2, backend: "process", require: .sharedMemory), code: .invalidArgument,
            mentions: "process"),
        BadCase(
            label: "multiprocessing with require .sharedMemory",
            parallel: Parallel(nJobs: 2, backend: "multiprocessing", require: .sharedMemory), code: .invalidArgument,
            mentions: "multiprocessing"),
        BadCase(
            label: "prefer .processes with require .sharedMemory",
            parallel: Parallel(nJobs: 2, prefer: .processes, require: .sharedMemory), code: .invalidArgument,
            mentions: "prefer"),
        BadCase(
            label: "verbose -1", parallel: Parallel(nJobs: 2, verbose: -1), code: .invalidArgument, mentions: "verbose"),
        BadCase(
            label: "timeout 0", parallel: Parallel(nJobs: 2, timeout: .zero), code: .invalidArgument,
            mentions: "timeout"),
        BadCase(
            label: "timeout -1 s", parallel: Parallel(nJobs: 2, timeout: .seconds(-1)), code: .invalidArgument,
            mentions: "timeout"),
        BadCase(
            label: "maxNbytes '12Q'", parallel: Parallel(nJobs: 2, maxNbytes: "12Q"), code: .invalidArgument,
            mentions: "maxNbytes"),
    ]

    @Test("the list call throws the right code, says what was wrong, takes no input and runs nothing", arguments: cases)
    func listCall(_ bad: BadCase) async throws {
        let ran = EventCounter()
        let input = CountingSequence(count: 50) { i in
            Delayed { () -> Int in
                ran.increment(); return i
            }
        }
        let error = await #expect(throws: ParallelError.self) { try await bad.parallel(input) }
        #expect(error?.code == bad.code)
        #expect(error?.description.contains(bad.mentions) == true, "\(error?.description ?? "")")
        #expect(input.pulls.value == 0)
        #expect(ran.value == 0)
    }

    @Test("the generators throw the same error at the first next(), with nothing taken", arguments: cases)
    func generators(_ bad: BadCase) async throws {
        for unordered in [false, true] {
            let ran = EventCounter()
            let input = CountingSequence(count: 50) { i in
                Delayed { () -> Int in
                    ran.increment(); return i
                }
            }
            let results = unordered ? bad.parallel.generatorUnordered(input) : bad.parallel.generator(input)
            let error = await #expect(throws: ParallelError.self) {
                for try await _ in results {}
            }
            #expect(error?.code == bad.code)
            #expect(input.pulls.value == 0)
            #expect(ran.value == 0)
        }
    }

    @Test("ParallelJob inputs are refused the same way", arguments: cases)
    func jobs(_ bad: BadCase) async throws {
        let input = CountingSequence(count: 50) { SquareJob(x: $0) }
        let error = await #expect(throws: ParallelError.self) { try await bad.parallel(input) }
        #expect(error?.code == bad.code)
        #expect(input.pulls.value == 0)
    }

    @Test("a huge unknown backend name is quoted shortened, with its length, not echoed whole")
    func hugeBackendNameIsShortened() async throws {
        let name = String(repeating: "x", count: 100_000)
        let error = await #expect(throws: ParallelError.self) {
            try await Parallel(nJobs: 2, backend: .named(name))([1, 2].map { i in delayed { i }() })
        }
        let message = error?.description ?? ""
        #expect(error?.code == .unknownBackend)
        #expect(message.count < 1_000, "\(message.prefix(300))… (\(message.count) characters)")
        #expect(message.contains(String(repeating: "x", count: 80) + "… (100000 characters)"), "\(message.prefix(300))")
    }

    @Test("a scope's require .sharedMemory with an explicit process backend is refused before anything runs")
    func scopeRequireWithExplicitProcess() async throws {
        let input = CountingSequence(count: 10) { i in delayed { i }() }
        let error = await #expect(throws: ParallelError.self) {
            try await withParallelConfig(require: .sharedMemory) {
                try await Parallel(nJobs: 2, backend: "process")(input)
            }
        }
        #expect(error?.code == .invalidArgument)
        #expect(input.pulls.value == 0)
    }

    @Test(
        "a Delayed on a process backend with nJobs above 1 is .notSerializable before anything runs",
        arguments: ["process", "loky", "multiprocessing"])
    func delayedOnProcessBackend(backend: String) async throws {
        let ran = EventCounter()
        let input = CountingSequence(count: 10) { i in
            Delayed { () -> Int in
                ran.increment(); return i
            }
        }
        let error = await #expect(throws: ParallelError.self) {
            try await Parallel(nJobs: 2, backend: .named(backend))(input)
        }
        #expect(error?.code == .notSerializable)
        #expect(error?.description.contains("ParallelJob") == true)
        #expect(error?.description.contains("sharedMemory") == true)
        #expect(input.pulls.value == 0)
        #expect(ran.value == 0)
    }

    @Test("Parallel.init never throws: a bad value only fails when called")
    func initDoesNotThrow() {
        let p = Parallel(nJobs: 0, backend: "nope", verbose: -3, timeout: .zero, preDispatch: "x", batchSize: -5)
        #expect(p.nJobs == 0)
    }
}
