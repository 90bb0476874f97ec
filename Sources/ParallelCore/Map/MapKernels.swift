/// Kernels that run one function over inputs through the general engine: the path of `map` and
/// `forEach` when a call has a timeout, progress output, or a backend other than the built-in
/// threads. The tasks are the inputs themselves, so the engine's batching, ordering, progress,
/// timeouts and error positions apply per input.

/// The kernel that runs a synchronous `transform` on each input (a plain call per input).
@inlinable
package func makeMapKernel<Element: Sendable, Output: Sendable>(
    _ transform: @escaping @Sendable (Element) throws -> Output
) -> TaskKernel<Element, Output> {
    TaskKernel(
        run: { slice, progress, track in
            runEachSynchronously(slice, progress: progress, tracksEachTask: track, transform)
        },
        runOne: { try transform($0) },
        portable: nil)
}

/// The kernel that runs an `async` `transform` on each input.
@inlinable
package func makeAsyncMapKernel<Element: Sendable, Output: Sendable>(
    _ transform: @escaping @Sendable (Element) async throws -> Output
) -> TaskKernel<Element, Output> {
    TaskKernel(
        run: { slice, progress, track in
            await runEach(slice, progress: progress, tracksEachTask: track) { try await transform($0) }
        },
        runOne: { try await transform($0) },
        portable: nil)
}

/// ``runEach(_:progress:tracksEachTask:_:)`` for a synchronous body: a plain call per input rather
/// than an `async` closure call, which costs several times a trivial item.
@inlinable
package func runEachSynchronously<Element, Output: Sendable>(
    _ slice: ArraySlice<Element>, progress: BatchProgress, tracksEachTask: Bool,
    _ body: (Element) throws -> Output
) -> BatchOutcome {
    var results = [Output]()
    results.reserveCapacity(slice.count)
    if !tracksEachTask { progress.markBatchStarted() }
    var offset = 0
    for element in slice {
        if progress.isAbortRequested {
            return BatchOutcome(values: results, failure: CancellationError())
        }
        if tracksEachTask { progress.markTaskStarted(offset: offset) }
        do {
            results.append(try body(element))
        } catch {
            return BatchOutcome(values: results, failure: error)
        }
        offset &+= 1
    }
    return BatchOutcome(values: results, failure: nil)
}
