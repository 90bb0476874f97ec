import ParallelConfiguration
import ParallelCore
import ParallelThreading

/// How a call hands its results over.
enum CallMode: Sendable {
    /// All results at the end; the first failure is thrown.
    case list
    /// A generator in submission order; the first failure is thrown.
    case ordered
    /// A generator in completion order; the first failure is thrown.
    case unordered
    /// Every task's fate, in submission order, as a generator.
    case fates(maxFailures: Int?)
    /// Every task's fate, in submission order, all at the end (`results`): delivered like a list,
    /// so running batches are not looked into and no generator's backpressure applies.
    case fatesAtEnd(maxFailures: Int?)
    /// Every task's fate with its index, in completion order.
    case indexedFates(maxFailures: Int?)

    var delivery: CallStateMachine<Never>.Delivery {
        switch self {
        case .list, .fatesAtEnd: return .list
        case .ordered, .fates: return .ordered
        case .unordered, .indexedFates: return .unordered
        }
    }

    var keepsGoing: Bool {
        switch self {
        case .list, .ordered, .unordered: return false
        case .fates, .fatesAtEnd, .indexedFates: return true
        }
    }

    var maxFailures: Int? {
        switch self {
        case .fates(let limit), .fatesAtEnd(let limit), .indexedFates(let limit): return limit
        default: return nil
        }
    }
}

/// A started call: the driver that runs it, seen as what the entry point needs.
struct StartedCall<Output: Sendable> {
    /// The throwing modes' view: runs of outputs.
    var producer: any ResultProducer<Output>
    /// The results modes' view: settled runs.
    var runs: any SettledRunSource<Output>
}

/// Resolves a call and starts it: in the calling task when nJobs resolves to 1, else on the
/// backend's workers. Runs before any input is taken, so bad arguments throw first.
func beginCall<Element: Sendable, Output: Sendable>(
    _ arguments: CallArguments, _ source: TaskSource<Element>, _ kernel: TaskKernel<Element, Output>,
    mode: CallMode, isolation: isolated (any Actor)? = #isolation
) async throws -> StartedCall<Output> {
    BuiltinBackends.ensureRegistered()
    if let limit = mode.maxFailures, limit < 1 {
        throw ParallelError.invalid(
            "maxFailures", "\(limit) would stop the call before any task fails",
            fix: "Pass 1 or more (the number of final failures after which no task starts), or nil for no limit.")
    }
    let plan = try CallResolution.plan(
        arguments, scope: ScopeStorage.current, tasksArePortable: kernel.portable != nil, jobType: kernel.jobType)
    if plan.isSequential {
        let call = SequentialCall(
            plan: plan, source: source, kernel: kernel, keepsGoing: mode.keepsGoing, maxFailures: mode.maxFailures)
        return StartedCall(producer: call, runs: call)
    }
    let backendCall = try await plan.backend.startCall(plan.context)
    let delivery: CallStateMachine<Output>.Delivery
    switch mode.delivery {
    case .list: delivery = .list
    case .ordered: delivery = .ordered
    case .unordered: delivery = .unordered
    }
    let call = ParallelCall(
        plan: plan, call: backendCall, source: source, kernel: kernel, delivery: delivery,
        keepsGoing: mode.keepsGoing, maxFailures: mode.maxFailures,
        // The threading backend runs each submission as its own job on its workers, so the copies
        // of a shared batch run at once.
        backendSharesBatches: plan.backend is ThreadingBackend)
    return StartedCall(producer: call, runs: call)
}

/// What a ``ParallelResults`` needs to start its call on the first `next()`.
///
/// The call is resolved against the configuration scope where the results were made, not where
/// they are first iterated: `withParallelConfig(nJobs: 4) { parallel.generator(tasks) }` runs
/// with 4 workers (and the scope's backend, retry policy, progress display…) even when its
/// results are iterated after the scope's body has returned, as joblib applies the settings
/// around `Parallel(...)(...)`. Otherwise those settings would be silently dropped.
final class CallStarter<Output: Sendable>: ResultStarter {
    private let arguments: CallArguments
    private let mode: CallMode
    /// The scope the results were made in.
    private let scope: ScopeValues
    private let begin: (CallArguments, CallMode) async throws -> any ResultProducer<Output>

    init(
        arguments: CallArguments, mode: CallMode,
        begin: @escaping (CallArguments, CallMode) async throws -> any ResultProducer<Output>
    ) {
        self.arguments = arguments
        self.mode = mode
        self.scope = ScopeStorage.current
        self.begin = begin
    }

    func start(isolation: isolated (any Actor)?) async throws -> any ResultProducer<Output> {
        try await ScopeStorage.$current.withValue(scope) { try await begin(arguments, mode) }
    }
}

/// Starts the call behind a ``ParallelResults``.
@usableFromInline
protocol ResultStarter<Output>: AnyObject {
    associatedtype Output
    func start(isolation: isolated (any Actor)?) async throws -> any ResultProducer<Output>
}
