import ParallelCore
import Testing

/// joblib's dispatch arithmetic: how many inputs each dispatch takes and how the
/// take is split into batches, with the pre-dispatch window counted in tasks.
@Suite("DispatchPlanner: joblib's take-and-split arithmetic")
struct DispatchPlannerTests {
    /// Replays joblib's dispatch loop (`_start`, then one `dispatch_one_batch` per completed batch)
    /// over the planner and returns the size of every batch in submission order.
    ///
    /// It mirrors what the engine does with the planner: a take is split into equal batches that are
    /// queued and handed out one per dispatch before the next take.
    static func batchSizes(tasks: Int, nJobs: Int, batchSize: Int, preDispatch: Int?) -> [Int] {
        var planner = DispatchPlanner(nJobs: nJobs, preDispatch: preDispatch)
        var remaining = tasks
        var ready: [Int] = []
        var sizes: [Int] = []
        var drained = false
        func dispatchOne() -> Bool {
            if !ready.isEmpty {
                sizes.append(ready.removeFirst())
                return true
            }
            guard !drained else { return false }
            let asked = planner.takeCount(batchSize: batchSize)
            guard asked > 0 else { return false }
            let taken = min(asked, remaining)
            remaining -= taken
            if taken < asked { drained = true }
            guard taken > 0 else { return false }
            let size = planner.split(taken: taken, batchSize: batchSize, tailRule: preDispatch != nil)
            var left = taken
            while left > 0 {
                ready.append(min(size, left))
                left -= min(size, left)
            }
            sizes.append(ready.removeFirst())
            return true
        }
        while dispatchOne() {}
        planner.closeWindow()
        while dispatchOne() {}
        return sizes
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        var tasks: Int
        var nJobs: Int
        var batchSize: Int
        var preDispatch: Int?
        var expected: [Int]
        var testDescription: String {
            "N=\(tasks) nJobs=\(nJobs) batchSize=\(batchSize) preDispatch=\(preDispatch.map(String.init) ?? "all")"
        }
    }

    /// The sequences joblib 1.6 produces (recorded from joblib 1.6 by overriding `submit`).
    static let joblibSequences: [Scenario] = [
        Scenario(tasks: 20, nJobs: 2, batchSize: 3, preDispatch: 4, expected: [2, 2, 3, 3, 3, 3, 1, 1, 1, 1]),
        Scenario(tasks: 20, nJobs: 2, batchSize: 3, preDispatch: nil, expected: [3, 3, 3, 3, 3, 3, 1, 1]),
        Scenario(
            tasks: 103, nJobs: 2, batchSize: 5, preDispatch: 4,
            expected: [2, 2] + Array(repeating: 5, count: 18) + Array(repeating: 1, count: 9)),
    ]

    @Test("reproduces joblib's documented batch sequences", arguments: joblibSequences)
    func joblibBatchSequences(_ case_: Scenario) {
        let sizes = Self.batchSizes(
            tasks: case_.tasks, nJobs: case_.nJobs, batchSize: case_.batchSize, preDispatch: case_.preDispatch)
        #expect(sizes == case_.expected)
        #expect(sizes.reduce(0, +) == case_.tasks)
    }

    @Test("batch size 1 dispatches one task per batch, every task exactly once")
    func unitBatches() {
        let sizes = Self.batchSizes(tasks: 25, nJobs: 12, batchSize: 1, preDispatch: 24)
        #expect(sizes == Array(repeating: 1, count: 25))
    }

    @Test("an empty input dispatches nothing")
    func emptyInput() {
        #expect(Self.batchSizes(tasks: 0, nJobs: 2, batchSize: 3, preDispatch: 4).isEmpty)
        #expect(Self.batchSizes(tasks: 0, nJobs: 2, batchSize: 3, preDispatch: nil).isEmpty)
    }

    struct Take: Sendable {
        var nJobs: Int
        var preDispatch: Int?
        var batchSize: Int
        var expected: Int
    }

    @Test(
        "inside the window a take is capped by what is left of it; outside it is batchSize × nJobs",
        arguments: [
            Take(nJobs: 2, preDispatch: 4, batchSize: 3, expected: 4),
            Take(nJobs: 2, preDispatch: 3, batchSize: 1, expected: 2),
            Take(nJobs: 2, preDispatch: 100, batchSize: 3, expected: 6),
            Take(nJobs: 4, preDispatch: nil, batchSize: 5, expected: 20),
            Take(nJobs: 2, preDispatch: nil, batchSize: Int.max, expected: Int.max / 2),
        ])
    func takeCount(_ take: Take) {
        let planner = DispatchPlanner(nJobs: take.nJobs, preDispatch: take.preDispatch)
        #expect(planner.takeCount(batchSize: take.batchSize) == take.expected)
    }

    @Test("the window shrinks by what was taken, and a closed window takes full rounds")
    func windowAccounting() {
        var planner = DispatchPlanner(nJobs: 2, preDispatch: 3)
        #expect(planner.inWindow)
        #expect(planner.takeCount(batchSize: 1) == 2)
        #expect(planner.split(taken: 2, batchSize: 1, tailRule: true) == 1)
        #expect(planner.windowRemaining == 1)
        #expect(planner.takeCount(batchSize: 1) == 1)
        _ = planner.split(taken: 1, batchSize: 1, tailRule: true)
        #expect(planner.windowRemaining == 0)
        #expect(planner.takeCount(batchSize: 1) == 0)
        planner.closeWindow()
        #expect(!planner.inWindow)
        #expect(planner.takeCount(batchSize: 1) == 2)
    }

    @Test("a short take past the window is the tail: split into count / (10 × nJobs), at least 1")
    func tailRule() {
        var planner = DispatchPlanner(nJobs: 2, preDispatch: nil)
        // A full take splits evenly across the workers.
        #expect(planner.split(taken: 40, batchSize: 20, tailRule: true) == 20)
        // A short one is the tail.
        #expect(planner.split(taken: 39, batchSize: 20, tailRule: true) == 1)
        var big = DispatchPlanner(nJobs: 2, preDispatch: nil)
        #expect(big.split(taken: 3620, batchSize: 2048, tailRule: true) == 181)
        // With pre-dispatch "all" joblib never applies the tail rule.
        var all = DispatchPlanner(nJobs: 2, preDispatch: nil)
        #expect(all.split(taken: 39, batchSize: 20, tailRule: false) == 19)
    }

    @Test("a short take inside the window is not a tail: it is split evenly")
    func shortTakeInWindow() {
        var planner = DispatchPlanner(nJobs: 2, preDispatch: 4)
        #expect(planner.split(taken: 3, batchSize: 3, tailRule: true) == 1)
        var planner2 = DispatchPlanner(nJobs: 2, preDispatch: 8)
        #expect(planner2.split(taken: 8, batchSize: 4, tailRule: true) == 4)
    }
}
