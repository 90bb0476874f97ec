import ParallelKit

/// What joblib's `nlargest(2, n)` gets: its example passes a range, a string and a number.
enum Items: Sendable, CustomStringConvertible {
    case range(Range<Int>)
    case text(String)
    case number(Int)

    var description: String {
        switch self {
        case .range(let r): "\(r)"
        case .text(let s): "\"\(s)\""
        case .number(let n): "\(n)"
        }
    }
}

/// The error `nlargest` throws for a number: Python's `TypeError: 'int' object is not iterable`.
struct NotIterableError: Error, CustomStringConvertible {
    var value: Int
    var description: String { "nlargest needs something to iterate, and \(value) is a number" }
}

/// Python's `heapq.nlargest`, for the three kinds of input of joblib's example.
@Sendable func nlargest(_ n: Int, _ items: Items) throws -> [String] {
    switch items {
    case .range(let range): range.sorted(by: >).prefix(n).map(String.init)
    case .text(let text): text.sorted(by: >).prefix(n).map(String.init)
    case .number(let value): throw NotIterableError(value: value)
    }
}

/// The traceback example, told for Swift:
///
/// ```python
/// >>> Parallel(n_jobs=2)(delayed(nlargest)(2, n) for n in (range(4), 'abcde', 3))
/// TypeError: ... must support iteration
/// ```
///
/// A task's error comes back as itself — the same type and value, so `catch let e as MyError`
/// works — and stops the dispatch of the remaining tasks. There is no traceback to print (Swift
/// errors carry none); with `verbose` above 0 the failing task's index is printed. ParallelKit's
/// own failures are a ``ParallelError`` whose `code` says what happened and whose `taskIndex`
/// names the task involved, if any.
func errorExample() async throws {
    // 1. A task's own error, rethrown as itself.
    let inputs: [Items] = [.range(0..<4), .text("abcde"), .number(3)]
    do {
        _ = try await Parallel(nJobs: 2, verbose: 1)(inputs.map { n in delayed(nlargest)(2, n) })
    } catch let error as NotIterableError {
        print("caught \(type(of: error)): \(error)")
    }
    flushOutput()

    // 2. A task that runs past `timeout`: ParallelError(.timeout) names it with `taskIndex`.
    let durations = [0.05, 0.05, 30, 0.05]
    do {
        _ = try await Parallel(nJobs: 2, timeout: .milliseconds(300))(durations.map { s in delayed(nap)(s) })
    } catch let error as ParallelError {
        print("caught ParallelError(.\(error.code)), taskIndex \(error.taskIndex.map(String.init) ?? "nil"):")
        print("  \(error)")
    }

    // 3. A bad argument: ParallelError(.invalidArgument) before any input is taken; no task involved.
    do {
        _ = try await Parallel(nJobs: 0)(inputs.map { n in delayed(nlargest)(2, n) })
    } catch let error as ParallelError {
        print("caught ParallelError(.\(error.code)), taskIndex \(error.taskIndex.map(String.init) ?? "nil"):")
        print("  \(error)")
    }
}
