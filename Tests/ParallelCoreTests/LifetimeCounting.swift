import Synchronization

/// Counts values alive: a ``CountedOutput``'s `init` adds one and its `deinit` takes one away, so
/// a test can see every output the engine made destroyed exactly once, whatever stopped it.
final class AliveCount: Sendable {
    private let count = Atomic<Int>(0)
    var now: Int { count.load(ordering: .sequentiallyConsistent) }
    func born() { count.add(1, ordering: .sequentiallyConsistent) }
    func died() { count.subtract(1, ordering: .sequentiallyConsistent) }
}

/// A task output that registers its life with an ``AliveCount``.
final class CountedOutput: Sendable {
    let value: Int
    let alive: AliveCount
    init(_ value: Int, _ alive: AliveCount) {
        self.value = value
        self.alive = alive
        alive.born()
    }
    deinit { alive.died() }
}
