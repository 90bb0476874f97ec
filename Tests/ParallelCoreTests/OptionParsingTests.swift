import ParallelCore
import Testing

/// The option types' literals, validation and resolution: `preDispatch`, `batchSize`,
/// `maxNbytes`, `BackendChoice`.
@Suite("Options: preDispatch, batchSize, maxNbytes, backend choice")
struct OptionParsingTests {
    // MARK: preDispatch

    @Test(
        "preDispatch resolves \"all\", integers and \"K*n_jobs\" with K an integer or decimal",
        arguments: [
            (PreDispatch.all, 2, nil as Int?),
            ("all", 2, nil),
            (" all ", 2, nil),
            ("2*n_jobs", 2, 4),
            ("2 * n_jobs", 3, 6),
            ("1.5*n_jobs", 2, 3),
            ("n_jobs", 2, 2),
            ("n_jobs*3", 2, 6),
            ("0.5*n_jobs", 5, 2),
            (3, 2, 3),
            ("8", 2, 8),
            (PreDispatch.tasks(7), 2, 7),
        ] as [(PreDispatch, Int, Int?)])
    func preDispatchResolves(_ value: PreDispatch, nJobs: Int, expected: Int?) throws {
        #expect(try value.resolve(nJobs: nJobs) == expected)
    }

    @Test(
        "a malformed or non-positive preDispatch is .invalidArgument",
        arguments: [
            "", "abc", "2*", "*n_jobs", "2**n_jobs", "n_jobs*n_jobs", "2*n_job", "2+n_jobs", "-1*n_jobs",
            "1e3*n_jobs", "__import__('os')", "0", "-3", "0*n_jobs", "0.1*n_jobs", "2000000*n_jobs",
        ] as [PreDispatch])
    func preDispatchMalformed(_ value: PreDispatch) {
        let error = #expect(throws: ParallelError.self) { try value.resolve(nJobs: 2) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.description.contains("preDispatch") == true)
    }

    @Test("integer preDispatch values of 0 or less are .invalidArgument", arguments: [0, -1] as [PreDispatch])
    func preDispatchNonPositive(_ value: PreDispatch) {
        #expect(throws: ParallelError.self) { try value.resolve(nJobs: 2) }
    }

    @Test("preDispatch shows its value as written")
    func preDispatchDescription() {
        #expect(PreDispatch.all.description == "all")
        #expect(("1.5*n_jobs" as PreDispatch).description == "1.5*n_jobs")
        #expect((4 as PreDispatch).description == "4")
        #expect(("all" as PreDispatch) == PreDispatch.all)
    }

    // MARK: batchSize

    @Test("batchSize accepts .auto and positive integers", arguments: [.auto, 1, 3, 10_000] as [BatchSize])
    func batchSizeValid(_ value: BatchSize) throws {
        try value.validate()
    }

    @Test("batchSize 0 or negative is .invalidArgument", arguments: [0, -1, .fixed(Int.min)] as [BatchSize])
    func batchSizeInvalid(_ value: BatchSize) {
        let error = #expect(throws: ParallelError.self) { try value.validate() }
        #expect(error?.code == .invalidArgument)
        #expect(error?.description.contains("batchSize") == true)
    }

    @Test("batchSize literals and descriptions")
    func batchSizeLiteral() {
        #expect((3 as BatchSize) == .fixed(3))
        #expect(BatchSize.auto.description == "auto")
        #expect(BatchSize.fixed(5).description == "5")
    }

    // MARK: maxNbytes

    @Test(
        "maxNbytes takes bytes or K/M/G sizes in powers of 1024, or .disabled",
        arguments: [
            (MaxNbytes.standard, 1_048_576 as Int?), ("1M", 1_048_576), ("500K", 512_000), ("2G", 2_147_483_648),
            ("4096", 4096), (1, 1), (0, 0), ("1.5K", 1536), (.disabled, nil),
        ] as [(MaxNbytes, Int?)])
    func maxNbytesResolves(_ value: MaxNbytes, expected: Int?) throws {
        #expect(try value.resolve() == expected)
    }

    @Test(
        "a malformed or negative maxNbytes is .invalidArgument",
        arguments: ["", "M", "12Q", "-1K", "1 M B", "abc"] as [MaxNbytes])
    func maxNbytesMalformed(_ value: MaxNbytes) {
        let error = #expect(throws: ParallelError.self) { try value.resolve() }
        #expect(error?.code == .invalidArgument)
    }

    @Test("a negative byte count is .invalidArgument")
    func maxNbytesNegative() {
        #expect(throws: ParallelError.self) { try (-5 as MaxNbytes).resolve() }
    }

    // MARK: BackendChoice

    final class Dummy: ParallelBackend {
        func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
            throw ParallelError(.invalidArgument, "never started")
        }
    }

    @Test("a literal backend equals .named of the same string; instances compare by identity")
    func backendChoiceEquality() {
        #expect(("threading" as BackendChoice) == .named("threading"))
        #expect(("threading" as BackendChoice) != .named("process"))
        let a = Dummy()
        let b = Dummy()
        #expect(BackendChoice.instance(a) == .instance(a))
        #expect(BackendChoice.instance(a) != .instance(b))
        #expect(BackendChoice.instance(a) != .named("Dummy"))
        let set: Set<BackendChoice> = ["threading", .named("threading"), .instance(a), .instance(a), .instance(b)]
        #expect(set.count == 3)
    }

    @Test("a backend choice describes itself by name, or by the instance's display name")
    func backendChoiceDescription() {
        #expect(BackendChoice.named("loky").description == "loky")
        #expect(BackendChoice.instance(Dummy()).description == "Dummy")
    }

    // MARK: Hints

    @Test("the hint and mode types are the API's cases")
    func hintCases() {
        #expect(Set(Prefer.allCases) == [.processes, .threads])
        #expect(Require.allCases == [.sharedMemory])
        #expect(Set(MmapMode.allCases) == [.r, .rPlus, .wPlus, .c, .disabled])
    }

    // MARK: ParallelError

    @Test("ParallelError carries its code, task index and description")
    func errorShape() {
        let error = ParallelError(.timeout, taskIndex: 3, "task 3 ran too long")
        #expect(error.code == .timeout)
        #expect(error.taskIndex == 3)
        #expect(error.description == "task 3 ran too long")
        #expect("\(error)" == "task 3 ran too long")
        let codes: Set<ParallelError.Code> = [
            .invalidArgument, .unknownBackend, .notSerializable, .timeout, .workerCrashed, .remoteTaskFailed,
        ]
        #expect(codes.count == 6)
    }
}
