/// A view of a ``Delayed`` task's storage, read in place from a batch's buffer, whose payloads
/// cannot be copied: calling a task through it borrows the task's closure.
///
/// Why it exists: Swift copies a closure it reads from an array element before calling it (a
/// retain of the closure's context, and a release after), because an opaque call could overwrite
/// the element. For a trivial task that pair of atomic operations on a context another core
/// allocated is most of the task's cost (perf: 53–67 % of the workers' samples for 1M
/// `delayed(square)(i)` tasks). A noncopyable value cannot be copied, so reading one through a
/// pointer is a borrow, and a closure stored in a borrowed noncopyable struct is called at +0.
///
/// Layout: a struct with one stored property is laid out as that property, and a multi-payload
/// enum's layout is a function of its payloads' layouts and the order of its cases, so this enum
/// has ``Delayed/Work``'s layout. The engine still checks that before using the view
/// (``borrowedDelayedWorkMatchesLayout(_:)``) and runs tasks by copying them when it does not hold.
@usableFromInline
enum BorrowedDelayedWork<Output: Sendable>: ~Copyable {
    case synchronous(BorrowedSynchronousBody<Output>)
    case asynchronous(BorrowedAsynchronousBody<Output>)
}

/// A synchronous task's closure, seen through ``BorrowedDelayedWork``.
@usableFromInline
struct BorrowedSynchronousBody<Output: Sendable>: ~Copyable {
    @usableFromInline let body: @Sendable () throws -> Output

    /// Calls the closure without copying it: `self` is borrowed, so its field is too.
    @inlinable
    @inline(__always)
    borrowing func callAsFunction() throws -> Output { try body() }
}

/// An asynchronous task's closure, seen through ``BorrowedDelayedWork``; the engine never calls
/// it through the view (an `await` cannot happen inside a buffer's scope), it only needs its place.
@usableFromInline
struct BorrowedAsynchronousBody<Output: Sendable>: ~Copyable {
    @usableFromInline let body: @Sendable () async throws -> Output
}

/// Whether ``BorrowedDelayedWork`` reads a `Delayed<Output>`'s storage correctly on this
/// compiler: the sizes, strides and alignments agree, and a synchronous and an asynchronous probe
/// task are read back as their own cases, and the first one's closure returns its value (``borrowedDelayedCasesMatch``, evaluated once).
///
/// - Complexity: O(1); the layout comparison folds to a constant once specialised.
@inlinable
func borrowedDelayedWorkMatchesLayout<Output: Sendable>(_: Output.Type) -> Bool {
    MemoryLayout<Delayed<Output>>.size == MemoryLayout<BorrowedDelayedWork<Output>>.size
        && MemoryLayout<Delayed<Output>>.stride == MemoryLayout<BorrowedDelayedWork<Output>>.stride
        && MemoryLayout<Delayed<Output>>.alignment == MemoryLayout<BorrowedDelayedWork<Output>>.alignment
        && borrowedDelayedCasesMatch
}

/// Whether a synchronous and an asynchronous task, viewed through ``BorrowedDelayedWork``, show
/// their own cases. The cases' layout does not depend on `Output` (every payload is one closure,
/// two words), so one probe type answers for all.
@usableFromInline
let borrowedDelayedCasesMatch: Bool = {
    let probes = [Delayed<Int> { 1 }, Delayed<Int> { () async in 2 }]
    return probes.withUnsafeBufferPointer { tasks in
        tasks.withMemoryRebound(to: BorrowedDelayedWork<Int>.self) { views in
            let firstIsSynchronous: Bool
            switch views[0] {
            case .synchronous(let body): firstIsSynchronous = (try? body()) == 1
            case .asynchronous: firstIsSynchronous = false
            }
            let secondIsAsynchronous: Bool
            switch views[1] {
            case .synchronous: secondIsAsynchronous = false
            case .asynchronous: secondIsAsynchronous = true
            }
            return firstIsSynchronous && secondIsAsynchronous
        }
    }
}()
