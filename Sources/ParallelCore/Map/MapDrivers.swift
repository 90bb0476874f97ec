/// The generic halves of `Parallel.map` and `Parallel.forEach`: built `@inlinable`, so each is
/// specialised in the caller's module for its input and result types. A batch's inner loop is
/// then a direct call of the transform and a plain store into the result slot; the claiming,
/// waiting and scope binding around it stay unspecialised in ``BatchedLoop`` and ``LoopWorkers``.

// MARK: - On worker threads

/// `inputs.map(transform)` on `workers`, results written once into the returned array's storage.
///
/// - Parameter callerJoins: the calling thread takes part and the array is filled in place
///   (a nonisolated caller); otherwise the caller suspends while the workers fill a buffer that is
///   then moved into the array (an actor must not be blocked).
/// - Throws: the first error a transform threw, as itself; `CancellationError` when the calling
///   task is cancelled. Results already written are destroyed exactly once.
@inlinable
package func mapOnWorkers<C: RandomAccessCollection & Sendable, R: Sendable>(
    _ inputs: C, on workers: LoopWorkers, callerJoins: Bool, isolation: isolated (any Actor)? = #isolation,
    _ transform: @escaping @Sendable (C.Element) throws -> R
) async throws -> [R] where C.Element: Sendable {
    let count = inputs.count
    guard count > 0 else { return [] }
    let loop = workers.makeLoop(count: count, recordsCompletedBatches: true)
    return try await withTaskCancellationHandler {
        _ = isolation  // keeps the closure on the caller's actor: entering a nonisolated one is a hop
        if callerJoins {
            return try Array(unsafeUninitializedCapacity: count) { buffer, initialized in
                let slots = ResultSlots(buffer.baseAddress!)
                workers.runJoined(loop, count: count, mapBatch(inputs, into: slots, loop, transform))
                try finishMap(loop, slots)
                initialized = count
            }
        }
        let storage = UnsafeMutablePointer<R>.allocate(capacity: count)
        defer { storage.deallocate() }
        let slots = ResultSlots(storage)
        await workers.runAwaiting(loop, count: count, mapBatch(inputs, into: slots, loop, transform))
        try finishMap(loop, slots)
        return Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.baseAddress!.moveInitialize(from: storage, count: count)
            initialized = count
        }
    } onCancel: {
        loop.stop(CancellationError())
    }
}

/// `body` for every element of `inputs` on `workers`; see ``mapOnWorkers(_:on:callerJoins:isolation:_:)``.
@inlinable
package func forEachOnWorkers<C: RandomAccessCollection & Sendable>(
    _ inputs: C, on workers: LoopWorkers, callerJoins: Bool, isolation: isolated (any Actor)? = #isolation,
    _ body: @escaping @Sendable (C.Element) throws -> Void
) async throws where C.Element: Sendable {
    let count = inputs.count
    guard count > 0 else { return }
    let loop = workers.makeLoop(count: count, recordsCompletedBatches: false)
    try await withTaskCancellationHandler {
        _ = isolation  // keeps the closure on the caller's actor: entering a nonisolated one is a hop
        let batchBody = forEachBatch(inputs, loop, body)
        if callerJoins {
            workers.runJoined(loop, count: count, batchBody)
        } else {
            await workers.runAwaiting(loop, count: count, batchBody)
        }
        if let failure = loop.failure { throw failure }
    } onCancel: {
        loop.stop(CancellationError())
    }
}

/// One batch of a map: each result written into its slot; on an error or a stop, the batch's
/// results written so far are destroyed again, so a batch is all or nothing.
@inlinable
package func mapBatch<C: RandomAccessCollection & Sendable, R>(
    _ inputs: C, into slots: ResultSlots<R>, _ loop: BatchedLoop,
    _ transform: @escaping @Sendable (C.Element) throws -> R
) -> @Sendable (Range<Int>) -> BatchEnd where C.Element: Sendable {
    { range in
        var position = inputs.index(inputs.startIndex, offsetBy: range.lowerBound)
        var index = range.lowerBound
        do {
            while index < range.upperBound {
                if loop.isStopped { break }
                slots.initialize(index, to: try transform(inputs[position]))
                inputs.formIndex(after: &position)
                index += 1
            }
        } catch {
            slots.deinitialize(range.lowerBound..<index)
            return .failed(error)
        }
        if index < range.upperBound {
            slots.deinitialize(range.lowerBound..<index)
            return .stopped
        }
        return .completed
    }
}

/// One batch of a forEach.
@inlinable
package func forEachBatch<C: RandomAccessCollection & Sendable>(
    _ inputs: C, _ loop: BatchedLoop, _ body: @escaping @Sendable (C.Element) throws -> Void
) -> @Sendable (Range<Int>) -> BatchEnd where C.Element: Sendable {
    { range in
        var position = inputs.index(inputs.startIndex, offsetBy: range.lowerBound)
        var index = range.lowerBound
        do {
            while index < range.upperBound {
                if loop.isStopped { return .stopped }
                try body(inputs[position])
                inputs.formIndex(after: &position)
                index += 1
            }
        } catch {
            return .failed(error)
        }
        return .completed
    }
}

/// After the loop: on failure, destroys the completed batches' results and throws the error.
@inlinable
package func finishMap<R>(_ loop: BatchedLoop, _ slots: ResultSlots<R>) throws {
    if let failure = loop.failure {
        slots.deinitialize(loop.completedBatches)
        throw failure
    }
}

// MARK: - In the calling task (nJobs resolved to 1)

/// `inputs.map(transform)` here, in order, written once into the returned array; stops before the
/// next item once `stop` is raised (cancellation) and throws `CancellationError`.
@inlinable
package func mapInCallingTask<C: Collection, R>(
    _ inputs: C, stop: StopFlag, _ transform: (C.Element) throws -> R
) throws -> [R] {
    let count = inputs.count
    // `Array(unsafeUninitializedCapacity: 0)` stores its count into the standard library's one
    // shared empty-array storage: two threads doing it at once is a data race (a benign one, but
    // ThreadSanitizer rightly reports it), so an empty input returns the empty array literal.
    guard count > 0 else { return [] }
    return try Array(unsafeUninitializedCapacity: count) { buffer, initialized in
        var written = 0
        defer { initialized = written }
        for element in inputs {
            if stop.isRaised { throw CancellationError() }
            guard written < count else { break }
            (buffer.baseAddress! + written).initialize(to: try transform(element))
            written += 1
        }
    }
}

/// `body` for each element here, in order; see ``mapInCallingTask(_:stop:_:)``.
@inlinable
package func forEachInCallingTask<C: Collection>(
    _ inputs: C, stop: StopFlag, _ body: (C.Element) throws -> Void
) throws {
    for element in inputs {
        if stop.isRaised { throw CancellationError() }
        try body(element)
    }
}
