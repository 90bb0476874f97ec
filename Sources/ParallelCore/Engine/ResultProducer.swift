/// Something that yields a call's results in runs: what `ParallelResults` iterates and what the
/// list entry points collect.
@usableFromInline
package protocol ResultProducer<Output>: AnyObject {
    associatedtype Output
    /// The next run of results (never empty), `nil` at the end.
    /// - Throws: the first task error, a `ParallelError`, or `CancellationError`.
    func nextResults(isolation: isolated (any Actor)?) async throws -> [Output]?
    /// Runs the call to the end and returns every result in submission order.
    func collect(isolation: isolated (any Actor)?) async throws -> [Output]
}

extension ParallelCall: ResultProducer {
    /// The next run of outputs (the throwing modes: every settled run is a success).
    package func nextResults(isolation: isolated (any Actor)?) async throws -> [Output]? {
        while let next = try await nextRun(isolation: isolation) {
            if case .succeeded(let values) = next.run, !values.isEmpty { return values }
        }
        return nil
    }

    package func collect(isolation: isolated (any Actor)?) async throws -> [Output] {
        try await collectValues(isolation: isolation)
    }
}

/// The results modes in submission order: each task's fate as `Result<Output, TaskFailure>`.
package final class FateResults<Output: Sendable>: ResultProducer {
    private let source: any SettledRunSource<Output>

    package init(_ source: any SettledRunSource<Output>) { self.source = source }

    package func nextResults(isolation: isolated (any Actor)?) async throws -> [Result<Output, TaskFailure>]? {
        guard let next = try await source.nextRun(isolation: isolation) else { return nil }
        return Self.fates(next.run)
    }

    package func collect(isolation: isolated (any Actor)?) async throws -> [Result<Output, TaskFailure>] {
        var all: [Result<Output, TaskFailure>] = []
        while let next = try await source.nextRun(isolation: isolation) {
            switch next.run {
            case .succeeded(let values): for value in values { all.append(.success(value)) }
            case .failed(let failure): all.append(.failure(failure))
            }
        }
        return all
    }

    static func fates(_ run: SettledRun<Output>) -> [Result<Output, TaskFailure>] {
        switch run {
        case .succeeded(let values): return values.map { .success($0) }
        case .failed(let failure): return [.failure(failure)]
        }
    }
}

/// The results mode in completion order: each task's fate with its index.
package final class IndexedFateResults<Output: Sendable>: ResultProducer {
    private let source: any SettledRunSource<Output>

    package init(_ source: any SettledRunSource<Output>) { self.source = source }

    package func nextResults(isolation: isolated (any Actor)?) async throws -> [IndexedResult<Output>]? {
        guard let next = try await source.nextRun(isolation: isolation) else { return nil }
        switch next.run {
        case .succeeded(let values):
            return values.enumerated().map {
                IndexedResult(index: next.firstIndex + $0.offset, result: .success($0.element))
            }
        case .failed(let failure):
            return [IndexedResult(index: next.firstIndex, result: .failure(failure))]
        }
    }

    package func collect(isolation: isolated (any Actor)?) async throws -> [IndexedResult<Output>] {
        var all: [IndexedResult<Output>] = []
        while let batch = try await nextResults(isolation: isolation) { all.append(contentsOf: batch) }
        return all
    }
}
