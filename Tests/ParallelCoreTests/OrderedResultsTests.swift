import ParallelCore
import Testing

/// ``OrderedResults`` puts batches that complete in any order back into submission order.
@Suite("OrderedResults: submission order from completion order")
struct OrderedResultsTests {
    @Test("batches completing in reverse order are released only once every earlier one is in")
    func reverseCompletion() {
        var results = OrderedResults<Int>()
        results.insert(firstIndex: 6, values: [6, 7, 8])
        #expect(results.popReady() == nil)
        results.insert(firstIndex: 3, values: [3, 4, 5])
        #expect(results.popReady() == nil)
        #expect(results.parkedCount == 6)
        results.insert(firstIndex: 0, values: [0, 1, 2])
        var released: [Int] = []
        while let ready = results.popReady() { released += ready }
        #expect(released == Array(0...8))
        #expect(results.nextIndex == 9)
        #expect(results.parkedCount == 0)
    }

    @Test(
        "any completion order of variable-sized batches releases every value once, in order",
        arguments: [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]])
    func permutations(order: [Int]) {
        let batches: [(first: Int, values: [Int])] = [(0, [0]), (1, [1, 2, 3]), (4, [4, 5]), (6, [6, 7, 8, 9])]
        var results = OrderedResults<Int>()
        var released: [Int] = []
        for i in order {
            results.insert(firstIndex: batches[i].first, values: batches[i].values)
            while let ready = results.popReady() { released += ready }
        }
        #expect(released == Array(0...9))
    }

    @Test("an empty batch is ignored")
    func emptyBatch() {
        var results = OrderedResults<String>()
        results.insert(firstIndex: 0, values: [])
        #expect(results.popReady() == nil)
        #expect(results.nextIndex == 0)
    }
}
