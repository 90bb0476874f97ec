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
        let starter: any ResultStarter<Element>
        var producer: (any ResultProducer<Element>)?
        var finished = false

        init(starter: any ResultStarter<Element>) {
            self.starter = starter
        }

        /// The next result, or `nil` at the end.
        public mutating func next() async throws -> Element? {
            try await next(isolation: nil)
        }

        /// The next result, or `nil` at the end, running the engine on `actor`.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(any Error) -> Element? {
            guard !finished else { return nil }
            do {
                if producer == nil { producer = try await starter.start(isolation: actor) }
                guard let value = try await producer!.next(isolation: actor) else {
                    finished = true
                    producer = nil
                    return nil
                }
                return value
            } catch {
                finished = true
                producer = nil
                throw error
            }
        }
    }
}
