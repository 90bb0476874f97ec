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
        run: { slice, progress, track, results in
            runEachSynchronously(slice, progress: progress, tracksEachTask: track, into: results, transform)
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
        run: { slice, progress, track, results in
            await runEach(slice, progress: progress, tracksEachTask: track, into: results) { try await transform($0) }
        },
        runOne: { try await transform($0) },
        portable: nil)
}

/// ``runEach(_:progress:tracksEachTask:into:_:)`` for a synchronous body: a plain call per input rather
/// than an `async` closure call, which costs several times a trivial item.
@inlinable
package func runEachSynchronously<Element, Output: Sendable>(
    _ slice: ArraySlice<Element>, progress: BatchProgress, tracksEachTask: Bool, into results: LiveResults<Output>,
    _ body: (Element) throws -> Output
) -> BatchOutcome {
    if !tracksEachTask { progress.markBatchStarted() }
    var offset = 0
    for element in slice {
        if progress.isAbortRequested {
            return BatchOutcome(publishedCount: offset, failure: CancellationError())
        }
        if tracksEachTask { progress.markTaskStarted(offset: offset) }
        do {
            results.publish(try body(element), at: offset)
        } catch {
            return BatchOutcome(publishedCount: offset, failure: error)
        }
        offset &+= 1
    }
    return BatchOutcome(publishedCount: offset, failure: nil)
}
