import ParallelCore

/// The results of a call, as an `AsyncSequence`: joblib's `return_as="generator"` (submission
/// order) or `"generator_unordered"` (completion order).
///
/// Iterating drives the dispatch: nothing starts before the first `next()`, inputs are taken as
/// results are consumed, and a consumer that stops early — `break`, cancellation, or dropping the
/// sequence — stops the work and frees the workers. Memory stays bounded when the consumer is
/// slower than the workers: dispatch pauses once about two rounds of results wait.
///
/// ```swift
/// for try await total in Parallel(nJobs: 2).generator(tasks) { print(total) }
/// ```
///
/// Iteration throws the first task error (as itself), a ``ParallelError``, or
/// `CancellationError`; after that the sequence ends. Not `Sendable`: it holds the caller's input
/// and is meant to be iterated where it was made, once.
///
/// - Complexity: results arrive a batch at a time and the iterator walks each batch itself, so a
///   `next()` that has a result at hand is an array read in the caller's module.
public struct ParallelResults<Element: Sendable>: AsyncSequence {
    /// Iteration throws the first task error.
    public typealias Failure = any Error

    let starter: any ResultStarter<Element>

    init(starter: any ResultStarter<Element>) {
        self.starter = starter
    }

    /// Makes the iterator. Iterate the sequence once: a second iterator starts a second call over
    /// whatever is left of the input.
    public func makeAsyncIterator() -> Iterator {
        Iterator(starter: starter)
    }

    /// Yields the results; see ``ParallelResults``.
    public struct Iterator: AsyncIteratorProtocol {
        @usableFromInline let starter: any ResultStarter<Element>
        @usableFromInline var producer: (any ResultProducer<Element>)?
        /// The batch being walked, and the position of the next result in it.
        @usableFromInline var batch: [Element] = []
        @usableFromInline var position = 0
        @usableFromInline var finished = false

        init(starter: any ResultStarter<Element>) {
            self.starter = starter
        }

        /// The next result, or `nil` at the end.
        @inlinable
        public mutating func next() async throws -> Element? {
            try await next(isolation: nil)
        }

        /// The next result, or `nil` at the end, running the engine on `actor`.
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> Element? {
            if position < batch.count {
                defer { position &+= 1 }
                return batch[position]
            }
            return try await refill(isolation: actor)
        }

        /// Fetches the next batch from the engine (starting the call on the first use) and
        /// returns its first result.
        @usableFromInline
        mutating func refill(isolation actor: isolated (any Actor)?) async throws -> Element? {
            guard !finished else { return nil }
            do {
                if producer == nil { producer = try await starter.start(isolation: actor) }
                guard let next = try await producer!.nextResults(isolation: actor), !next.isEmpty else {
                    finish()
                    return nil
                }
                batch = next
                position = 1
                return next[0]
            } catch {
                finish()
                throw error
            }
        }

        private mutating func finish() {
            finished = true
            producer = nil
            batch = []
            position = 0
        }
    }
}
